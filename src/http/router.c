/* router — see router.h. */
#include "http/router.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

#include "admin/admin_api.h"
#include "access/auth.h"
#include "catalog/catalog.h"
#include "admin/console.h"
#include "core/metrics.h"
#include "server.h"
#include "core/util.h"

static bool path_is(const ig_req_t *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}

static bool path_starts(const ig_req_t *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len >= n && memcmp(r->path, p, n) == 0;
}

static const char health_ok[] = "{\"status\":\"ok\"}";
static const char ready_ok[] = "{\"status\":\"ready\"}";

static ig_res_t only_get(ig_req_t *r)
{
    ig_http_add_header(r, "Allow", "GET, HEAD");
    return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "method %s not allowed on %.*s", r->method_str,
                         (int)(r->path_len > 200 ? 200 : r->path_len), r->path);
}

ig_res_t ig_router_handle(ig_req_t *r)
{
    ig_server_t *srv = r->srv;
    ig_res_t res;

    if (path_is(r, "/v1/oauth/tokens")) return ig_catalog_handle(r); /* answers why, without a token */
    if (path_starts(r, "/v1/") || path_is(r, "/v1")) {
        /* The catalog: authenticate, then the token's Max RPS, both before any side effect. */
        if (ig_auth_token(r, true, &res) != IG_AUTH_OK) return res;
        return ig_catalog_handle(r);
    }
    if (path_starts(r, "/api/")) return ig_admin_api_handle(r);
    if (path_is(r, "/healthz")) {
        if (r->method != IG_GET && r->method != IG_HEAD) return only_get(r);
        return ig_http_send(r, 200, "application/json", health_ok, sizeof health_ok - 1, true);
    }
    if (path_is(r, "/readyz")) {
        if (r->method != IG_GET && r->method != IG_HEAD) return only_get(r);
        if (atomic_load(&srv->stopping))
            return ig_http_error(r, IG_E_UNAVAILABLE, "shutting down");
        /* The housekeeping loop polls the store every tokens.poll_interval_ms; 5 s of silence means it is not
         * answering (disk gone, file locked). */
        int64_t quiet = ig_clock_wall_ms() - atomic_load(&srv->store_ok_ms);
        if (quiet > 5000)
            return ig_http_error(r, IG_E_UNAVAILABLE, "the store has not answered for %lld ms",
                                 (long long)quiet);
        return ig_http_send(r, 200, "application/json", ready_ok, sizeof ready_ok - 1, true);
    }
    if (path_is(r, "/metrics")) {
        if (ig_auth_token(r, false, &res) != IG_AUTH_OK) return res;
        if (r->method != IG_GET && r->method != IG_HEAD) return only_get(r);
        size_t len = 0;
        char *text = ig_metrics_render(srv->tokens, &len);
        if (!text) return ig_http_error(r, IG_E_INTERNAL, "out of memory");
        res = ig_http_send(r, 200, "text/plain; version=0.0.4", text, len, false);
        free(text);
        return res;
    }
    return ig_console_handle(r);
}
