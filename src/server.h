/* server — the running process's state, shared by every module that serves requests. */
#ifndef IG_SERVER_H
#define IG_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/config.h"
#include "store/store.h"
#include "access/tokenstore.h"

struct MHD_Daemon;
typedef struct ig_sessions ig_sessions_t;
typedef struct ig_catalog ig_catalog_t;

struct ig_server {
    ig_config_t cfg;
    ig_store_t *store;
    ig_tokenstore_t *tokens;
    ig_sessions_t *sessions;
    ig_catalog_t *catalog;
    struct MHD_Daemon *daemon;
    int bound_port;
    _Atomic bool stopping;
    _Atomic int64_t store_ok_ms; /* wall time of the last successful poll of the store (for /readyz) */
};

/* Runs `icegate serve`: opens the store, bootstraps the admin user, loads tokens, serves until SIGTERM or
 * SIGINT, then stops accepting, lets in-flight requests finish, flushes, and returns the exit code. */
int ig_server_run(const ig_config_t *cfg);

#endif
