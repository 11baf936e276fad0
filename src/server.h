/* server — `icegate serve`: builds the process from its parts (store, token table, sessions, catalog, the
 * route table, the HTTP transport), runs the housekeeping loop, and stops cleanly on SIGTERM. */
#ifndef IG_SERVER_H
#define IG_SERVER_H

#include "core/config.h"

/* Runs `icegate serve`: opens the store, bootstraps the admin user, loads tokens, serves until SIGTERM or
 * SIGINT, then stops accepting, lets in-flight requests finish, flushes, and returns the exit code. */
int ig_server_run(const ig_config_t *cfg);

#endif
