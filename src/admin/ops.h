/* ops — the operations endpoints: /healthz (the process answers), /readyz (it should get traffic: not
 * stopping, and the store answered recently) and /metrics (Prometheus text; the router demands a token). */
#ifndef IG_OPS_H
#define IG_OPS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "access/token_table.h"
#include "cluster/changes.h"
#include "cluster/members.h"
#include "http/http.h"
#include "ratelimit/limiter.h"
#include "store/store.h"

/* The operations surface's context, written by the server's main loop. */
typedef struct {
    _Atomic bool stopping;        /* SIGTERM received: /readyz answers 503 while requests drain */
    _Atomic int64_t store_ok_ms;  /* wall time of the last successful poll of the store */
    ig_token_table_t *tokens;      /* per-token metrics */
    ig_store_t *store;             /* the caller's role: /metrics lists every token, so it is for admins */
    ig_limiter_t *limiter;         /* its status in /readyz, its metrics in /metrics */
    ig_changes_t *changes;         /* its metrics in /metrics (NULL: none) */
    ig_members_t *members;         /* its metrics in /metrics */
} ig_ops_t;

/* Handlers (ctx: ig_ops_t). */
ig_res_t ig_ops_healthz(void *ctx, ig_req_t *r);
ig_res_t ig_ops_readyz(void *ctx, ig_req_t *r);
ig_res_t ig_ops_metrics(void *ctx, ig_req_t *r);

#endif
