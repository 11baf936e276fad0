/* router — see router.h. */
#include "http/router.h"

#include <string.h>

void ig_router_init(ig_route_t *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) routes[i].len = strlen(routes[i].prefix);
}

static bool matches(const ig_route_t *rt, const ig_req_t *r)
{
    size_t n = rt->len;
    if (n && rt->prefix[n - 1] == '/') return r->path_len >= n && memcmp(r->path, rt->prefix, n) == 0;
    return r->path_len == n && memcmp(r->path, rt->prefix, n) == 0;
}

ig_res_t ig_router_handle(void *ctx, ig_req_t *r)
{
    const ig_router_t *router = ctx;
    for (size_t i = 0; i < router->n; i++) {
        const ig_route_t *rt = &router->routes[i];
        if (!matches(rt, r)) continue;
        /* An exact route is its own template; a prefix route's handler names the template it serves. */
        if (rt->prefix[rt->len - 1] != '/') r->route = rt->prefix;
        else if (rt->name) r->route = rt->name(r);
        r->need_scope = rt->scope ? rt->scope(r) : 0;
        r->cost_class = rt->rate_limit && rt->cost ? (int)rt->cost(r) : (int)IG_COST_WRITE;
        ig_res_t res;
        if (rt->auth != IG_ROUTE_PUBLIC &&
            router->authenticate(router->auth_ctx, r, rt->auth, rt->rate_limit, &res) != 0)
            return res;
        return rt->handler(rt->ctx, r);
    }
    return ig_http_no_route(r);
}

ig_res_t ig_router_before_body(void *ctx, ig_req_t *r)
{
    const ig_router_t *router = ctx;
    ig_res_t res = 0;
    for (size_t i = 0; i < router->n; i++) {
        const ig_route_t *rt = &router->routes[i];
        if (!matches(rt, r)) continue;
        if (rt->prefix[rt->len - 1] != '/') r->route = rt->prefix;
        else if (rt->name) r->route = rt->name(r);
        r->need_scope = rt->scope ? rt->scope(r) : 0;
        if (rt->auth != IG_ROUTE_PUBLIC && router->precheck) router->precheck(router->auth_ctx, r, rt->auth, &res);
        return res;
    }
    return res;
}
