/* ops — see ops.h. */
#include "admin/ops.h"

#include <stdlib.h>
#include <string.h>

#include "access/users.h"
#include "core/clock.h"
#include "core/metrics.h"

static const char health_ok[] = "{\"status\":\"ok\"}";
static const char ready_ok[] = "{\"status\":\"ready\"}";

static bool is_read(const ig_req_t *r)
{
    return r->method == IG_GET || r->method == IG_HEAD;
}

/* A 200 with what b holds (b is emptied). */
static ig_res_t send_buf(ig_req_t *r, ig_buf_t *b, const char *ctype)
{
    size_t len = 0;
    char *text = ig_buf_take(b, &len);
    if (!text) return ig_http_error(r, IG_E_INTERNAL, "out of memory");
    ig_res_t res = ig_http_send(r, 200, ctype, text, len, false);
    free(text);
    return res;
}

ig_res_t ig_ops_healthz(void *ctx, ig_req_t *r)
{
    (void)ctx;
    if (!is_read(r)) return ig_http_not_allowed(r, "GET, HEAD");
    return ig_http_send(r, 200, "application/json", health_ok, sizeof health_ok - 1, true);
}

ig_res_t ig_ops_readyz(void *ctx, ig_req_t *r)
{
    ig_ops_t *o = ctx;
    if (!is_read(r)) return ig_http_not_allowed(r, "GET, HEAD");
    if (atomic_load(&o->stopping)) return ig_http_error(r, IG_E_UNAVAILABLE, "shutting down");
    /* The housekeeping loop polls the store every tokens.poll_interval_ms; 5 s of silence means it is not
     * answering (disk gone, file locked). */
    int64_t quiet = ig_clock_wall_ms() - atomic_load(&o->store_ok_ms);
    if (quiet > 5000)
        return ig_http_error(r, IG_E_UNAVAILABLE, "the store has not answered for %lld ms", (long long)quiet);
    /* A limiter that decides nothing (Redis down under on_error: deny) takes the node out of the balancer; one
     * deciding on a fallback is ready and says so. */
    char why[200];
    int st = ig_limiter_status(o->limiter, why, sizeof why);
    if (st < 0) return ig_http_error(r, IG_E_UNAVAILABLE, "rate limiter: %s", why);
    if (st == 0) return ig_http_send(r, 200, "application/json", ready_ok, sizeof ready_ok - 1, true);
    ig_buf_t b;
    ig_buf_init(&b, 256);
    ig_buf_printf(&b, "{\"status\":\"ready\",\"ratelimiter\":");
    ig_buf_json_string(&b, why, strlen(why));
    ig_buf_printf(&b, "}");
    return send_buf(r, &b, "application/json");
}

ig_res_t ig_ops_metrics(void *ctx, ig_req_t *r)
{
    ig_ops_t *o = ctx;
    if (!is_read(r)) return ig_http_not_allowed(r, "GET, HEAD");
    /* Every token's id and counts are in it: an admin user's token only. */
    if (ig_users_role(o->store, r->who.user) != IG_ROLE_ADMIN)
        return ig_http_error(r, IG_E_FORBIDDEN, "/metrics needs an access token of an admin user");
    if (!(r->who.scopes & IG_SCOPE_ADMIN))
        return ig_http_error(r, IG_E_FORBIDDEN, "/metrics needs a token with the admin scope");
    ig_buf_t sb;
    ig_buf_init(&sb, 8192);
    ig_metrics_render(&sb);
    ig_token_table_render_metrics(o->tokens, &sb);
    ig_limiter_metrics(o->limiter, &sb);
    ig_changes_metrics(o->changes, &sb);
    ig_members_metrics(o->members, &sb);
    return send_buf(r, &sb, "text/plain; version=0.0.4");
}
