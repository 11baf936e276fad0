/* router — the route table: data, not code.  Each route is {prefix, authentication, rate limit, handler,
 * context}; the first route whose prefix matches the path takes the request.  The router authenticates it as
 * the route says (through the authenticator it was given, so http/ never names the access module), then calls
 * the route's handler with the route's own context.
 *
 * A prefix ending in '/' matches every path that starts with it ("/v1/" takes "/v1/config"); any other
 * prefix matches that path exactly ("/healthz"). */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

typedef enum {
    IG_ROUTE_PUBLIC,           /* no authentication (the handler may do its own) */
    IG_ROUTE_TOKEN,            /* an access token */
    IG_ROUTE_TOKEN_OR_SESSION, /* a console session cookie (CSRF-checked on changes), else an access token */
} ig_route_auth_t;

/* The rate-limit class of a request (DESIGN.md section 8, per-route cost): which of ratelimiter.costs it takes
 * from its token's limit. */
typedef enum {
    IG_COST_READ,         /* GET/HEAD, metrics reports, credentials */
    IG_COST_WRITE,        /* every other mutation */
    IG_COST_COMMIT,       /* updateTable and transactions/commit */
    IG_COST_NOT_MODIFIED, /* never a route's answer: what a read answered 304 costs in the end */
    IG_COST_CLASSES
} ig_cost_class_t;

typedef struct {
    const char *prefix;
    size_t len; /* strlen(prefix), filled by ig_router_init */
    ig_route_auth_t auth;
    bool rate_limit; /* take from the token's Max RPS, after authentication and before the handler */
    ig_http_handler_t handler;
    void *ctx;
    /* For a prefix route, the template of a request before it is authenticated (NULL: named by the handler). */
    const char *(*name)(const ig_req_t *r);
    /* The IG_SCOPE_* bits a token needs for this request, decided from the route (NULL: none); checked at
     * authentication, so before any body is read and before any side effect. */
    unsigned (*scope)(const ig_req_t *r);
    /* The request's ig_cost_class_t, decided from the route like the scope (NULL: IG_COST_WRITE, the cost of a
     * mutation); only read for a rate-limited route. */
    ig_cost_class_t (*cost)(const ig_req_t *r);
} ig_route_t;

/* Authenticates r as auth says: 0 with r->who filled, or -1 with a 401/403/429 queued and its result in *res. */
typedef int (*ig_authenticate_t)(void *ctx, ig_req_t *r, ig_route_auth_t auth, bool rate_limit, ig_res_t *res);

/* The check made before a body is read: 0 when r's credentials would be accepted (nothing counted, nothing
 * taken from any limit), or -1 with a 401/403 queued and its result in *res. */
typedef int (*ig_precheck_t)(void *ctx, ig_req_t *r, ig_route_auth_t auth, ig_res_t *res);

typedef struct {
    const ig_route_t *routes;
    size_t n;
    ig_authenticate_t authenticate;
    ig_precheck_t precheck;
    void *auth_ctx;
} ig_router_t;

/* Fills each route's len (so a request costs no strlen per route); call once before serving. */
void ig_router_init(ig_route_t *routes, size_t n);
/* The ig_http_handler_t of a server whose context is an ig_router_t.  404 when no route matches. */
ig_res_t ig_router_handle(void *router, ig_req_t *r);
/* Its before_body hook (ig_http_opts_t): the route's credentials checked before the body is read; a route
 * without authentication, or no route at all, queues nothing here (the handler answers later). */
ig_res_t ig_router_before_body(void *router, ig_req_t *r);

#endif
