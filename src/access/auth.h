/* auth — access-token authentication and the per-token rate limit gate (DESIGN.md sections 3 and 4).
 *
 * The request path: take the token from X-API-Token (or Authorization: Bearer), check its format and
 * checksum (no lookup for garbage), SHA-256 it, look the hash up in the in-memory table, check suspension and
 * expiry, then — for catalog routes — take from the token's GCRA cell.  No allocation, no lock, no I/O. */
#ifndef IG_AUTH_H
#define IG_AUTH_H

#include <stdbool.h>

#include "access/sessions.h"
#include "access/token_table.h"
#include "http/http.h"
#include "http/router.h"
#include "ratelimit/limiter.h"

/* What authentication reads: the token table, the console sessions, the limiter back end, how long a request
 * over its limit may be held for its slot (ratelimiter.max_delay_ms, .max_held_per_token), and what each
 * route class costs (ratelimiter.costs). */
typedef struct {
    ig_token_table_t *tokens;
    ig_sessions_t *sessions;
    ig_limiter_t *limiter;
    int64_t max_wait_ns; /* 0: never hold */
    int64_t max_held;    /* per token */
    const ig_cidr_t *trusted; /* server.trusted_proxies: peers whose X-Forwarded-For names the client */
    int ntrusted;
    /* ratelimiter.costs in thousandths of a request, by ig_cost_class_t (0: IG_GCRA_COST_ONE); not_modified
     * never exceeds read (config.c checks it) */
    int64_t cost_milli[IG_COST_CLASSES];
    /* auth.max_staleness_ms: a token table not confirmed current for longer answers 503 (0: never) */
    int64_t max_stale_ms;
} ig_auth_t;

typedef enum {
    IG_AUTH_OK = 0,
    IG_AUTH_MISSING,
    IG_AUTH_MALFORMED,
    IG_AUTH_UNKNOWN,
    IG_AUTH_EXPIRED,
    IG_AUTH_SUSPENDED,
    IG_AUTH_ROTATED, /* the previous secret of a rotated token, after its grace */
    IG_AUTH_FORBIDDEN, /* 403: the token lacks a scope the route needs, or is used from outside its CIDRs */
    IG_AUTH_LIMITED, /* authenticated, but over the token's Max RPS */
    IG_AUTH_HELD,    /* over it, and held for its slot: the transport runs the request again then */
    IG_AUTH_UNDECIDED, /* 503: the shared limiter cannot decide (ratelimiter.redis.on_error: deny), or the
                        * token table is not known to be current (auth.max_staleness_ms) */
} ig_auth_result_t;

/* Authenticates r by access token.  On success fills r->who (and, when rate_limit, adds the RateLimit
 * headers) and returns IG_AUTH_OK; otherwise queues the 401 or 429 response, stores its result in *res, and
 * returns the reason.  IG_AUTH_HELD queues nothing: the request comes back resumed at its slot, is checked
 * again (a token suspended meanwhile is refused then) and takes nothing more from the limit. */
ig_auth_result_t ig_auth_token(const ig_auth_t *a, ig_req_t *r, bool rate_limit, ig_res_t *res);
/* The router's authenticator (ig_authenticate_t; ctx is an ig_auth_t): a session and then a token for
 * IG_ROUTE_TOKEN_OR_SESSION, a token for IG_ROUTE_TOKEN. */
int ig_auth_route(void *ctx, ig_req_t *r, ig_route_auth_t kind, bool rate_limit, ig_res_t *res);
/* The router's check before a body is read (ig_precheck_t): the same session and token checks, counting
 * nothing and taking nothing from the token's Max RPS (the full check runs again once the body is in). */
int ig_auth_precheck(void *ctx, ig_req_t *r, ig_route_auth_t kind, ig_res_t *res);

#endif
