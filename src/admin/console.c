/* console — see console.h. */
#include "admin/console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access/journal.h"
#include "access/users.h"
#include "admin/console_assets.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"

/* The session with its CSRF token: never cached (Cache-Control: no-store on the response). */
static json_object *session_json(ig_req_t *r, const ig_admin_t *a, const ig_session_t *x)
{
    ig_http_add_header(r, "Cache-Control", "no-store");
    json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(x->user));
    json_object_object_add(o, "role", json_object_new_string(x->role == IG_ROLE_ADMIN ? "admin" : "member"));
    json_object_object_add(o, "csrfToken", json_object_new_string(x->csrf));
    char exp[40];
    ig_rfc3339_format(x->expires_ms, exp, sizeof exp);
    json_object_object_add(o, "expiresAt", json_object_new_string(exp));
    json_object_object_add(o, "rateLimiterEnabled",
                           json_object_new_boolean(ig_token_table_ratelimiter_enabled(a->tokens)));
    return o;
}

/* Login CSRF: a form on another site can post text/plain cross-origin without a preflight, so login takes
 * only application/json, and a browser's Origin, when sent, must be this server's (Host). */
static bool login_allowed(ig_req_t *r, ig_res_t *res)
{
    const char *ct = ig_http_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        *res = ig_http_error(r, IG_E_UNSUPPORTED_MEDIA, "log in with Content-Type: application/json");
        return false;
    }
    const char *origin = ig_http_header(r, "Origin"), *host = ig_http_header(r, "Host");
    const char *o = origin ? strstr(origin, "://") : NULL;
    if (origin && (!host || !o || strcmp(o + 3, host) != 0)) {
        *res = ig_http_error(r, IG_E_FORBIDDEN, "cross-origin login refused (Origin %.100s)", origin);
        return false;
    }
    return true;
}

/* 429 for a user or address blocked after repeated failures (login_guard.h). */
static ig_res_t too_many_logins(ig_req_t *r, int64_t wait_s)
{
    char retry[24];
    snprintf(retry, sizeof retry, "%lld", (long long)wait_s);
    ig_http_add_header(r, "Retry-After", retry);
    return ig_http_error(r, IG_E_TOO_MANY_REQUESTS, "too many failed logins: try again in %lld s", (long long)wait_s);
}

/* A password check handed to the hashing thread (ig_http_defer): argon2 never runs on a worker thread. */
typedef struct {
    ig_store_t *store;
    char *name, *password; /* copies: the request's body is not touched off its thread */
    int rc;                /* ig_users_verify's answer */
    ig_user_t user;
    char ip[IG_IP_MAX]; /* the client's address, for the audit entry */
} check_t;

static void check_free(void *arg)
{
    check_t *c = arg;
    if (!c) return;
    if (c->password) explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c->name);
    explicit_bzero(&c->user, sizeof c->user);
    free(c);
}

static void check_run(void *arg)
{
    check_t *c = arg;
    c->rc = ig_users_verify(c->store, c->name, c->password, &c->user);
    explicit_bzero(c->password, strlen(c->password)); /* not needed any more */
    /* The audit entry is written here, on the hashing thread, not on an HTTP worker; a login refused before
     * its password was checked (throttled, login_guard.h) is only logged, so a guesser cannot flood it. */
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_login(&jb, c->name, c->rc == 0, NULL, c->ip[0] ? c->ip : NULL, ig_clock_wall_ms());
    ig_error_t err;
    if (c->store->ops->journal_append(c->store, ig_journal_get(&jb), &err))
        ig_warn("console: cannot write the login's audit entry: %s", err.message);
    ig_journal_free(&jb);
}

/* The checked password's verdict: a failure counted against the user and the address (and logged, never the
 * password), or a session. */
static ig_res_t login_done(ig_admin_t *a, ig_req_t *r, const check_t *c)
{
    if (!r->deferred_ran) {
        ig_http_add_header(r, "Retry-After", "1");
        return ig_http_error(r, IG_E_UNAVAILABLE, "the server is stopping: log in again in a moment");
    }
    unsigned char addr[16];
    const unsigned char *from = ig_http_client_addr(r, addr) == 0 ? addr : NULL;
    if (c->rc != 0) {
        int64_t block;
        int n = ig_login_guard_failed(a->logins, c->name, from, ig_clock_wall_ms(), &block);
        char shown[72];
        ig_log_safe(c->name, shown, sizeof shown);
        if (block)
            ig_warn("console: failed login for user '%s' (%d in a row): refused for the next %lld s", shown, n,
                    (long long)block);
        else
            ig_warn("console: failed login for user '%s' (%d in a row)", shown, n);
        return ig_http_unauthorized(r, "wrong username or password");
    }
    ig_login_guard_succeeded(a->logins, c->name, from);
    ig_session_t x;
    if (ig_sessions_start(a->sessions, c->user.name, c->user.role, ig_clock_wall_ms(), &x)) {
        ig_http_add_header(r, "Retry-After", "60");
        return ig_http_error(r, IG_E_UNAVAILABLE, "too many console sessions: try again later");
    }
    ig_sessions_set_cookie(r, x.id, ig_sessions_ttl(a->sessions));
    return ig_http_json(r, 200, session_json(r, a, &x));
}

/* The password check goes to the hashing thread, with the request suspended; 503 when its queue is full. */
static ig_res_t login_defer(ig_admin_t *a, ig_req_t *r, const char *name, const char *password)
{
    ig_res_t res;
    check_t *c = calloc(1, sizeof *c);
    if (c && (c->name = strdup(name)) != NULL && (c->password = strdup(password)) != NULL) {
        c->store = a->store;
        ig_http_client_text(r, c->ip, sizeof c->ip);
        if (ig_http_defer(r, &res, check_run, c, check_free)) return res;
        check_free(c);
        ig_http_add_header(r, "Retry-After", "1");
        return ig_http_error(r, IG_E_UNAVAILABLE, "too many logins being checked: try again in 1 s");
    }
    check_free(c);
    return ig_http_error(r, IG_E_INTERNAL, "out of memory");
}

static ig_res_t login(ig_admin_t *a, ig_req_t *r)
{
    if (r->deferred) return login_done(a, r, r->deferred);
    ig_res_t res;
    if (!login_allowed(r, &res)) return res;
    ig_error_t err;
    json_object *body = ig_http_body_json(r, &err);
    if (!body) return ig_http_error_from(r, &err);
    json_object *u = NULL, *p = NULL;
    if (!json_object_is_type(body, json_type_object) || !json_object_object_get_ex(body, "username", &u) ||
        !json_object_object_get_ex(body, "password", &p) || !json_object_is_type(u, json_type_string) ||
        !json_object_is_type(p, json_type_string)) {
        json_object_put(body);
        return ig_http_error(r, IG_E_BAD_REQUEST, "expected {\"username\": string, \"password\": string}");
    }
    const char *name = json_object_get_string(u);
    unsigned char addr[16];
    const unsigned char *from = ig_http_client_addr(r, addr) == 0 ? addr : NULL;
    int64_t wait = ig_login_guard_check(a->logins, name, from, ig_clock_wall_ms());
    /* before the password is looked at: a blocked guesser costs no argon2 work and no place in the queue */
    res = wait > 0 ? too_many_logins(r, wait) : login_defer(a, r, name, json_object_get_string(p));
    json_object_put(body);
    return res;
}

ig_res_t ig_console_session_api(void *ctx, ig_req_t *r)
{
    ig_admin_t *a = ctx;
    static const char base[] = "/api/v1/session";
    const char *rest = r->path + sizeof base - 1;
    size_t rl = r->path_len - (sizeof base - 1);
    if (rl == 6 && memcmp(rest, "/login", 6) == 0) {
        r->route = "/api/v1/session/login";
        return r->method == IG_POST ? login(a, r) : ig_http_not_allowed(r, "POST");
    }
    bool logout = rl == 7 && memcmp(rest, "/logout", 7) == 0;
    if (rl != 0 && !logout) return ig_http_no_route(r);
    if (logout) r->route = "/api/v1/session/logout";
    if (logout && r->method != IG_POST) return ig_http_not_allowed(r, "POST");
    if (!logout && r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
    ig_res_t res;
    ig_session_auth_t s = ig_sessions_auth(a->sessions, r, &res);
    if (s == IG_SESSION_SENT) return res;
    if (s == IG_SESSION_NONE) return ig_http_unauthorized(r, "not logged in");
    ig_session_t copy;
    memset(&copy, 0, sizeof copy);
    ig_sessions_lookup(a->sessions, ig_sessions_cookie(r), ig_clock_wall_ms(), logout, &copy);
    if (logout) {
        ig_sessions_set_cookie(r, "", 0);
        return ig_http_no_content(r);
    }
    return ig_http_json(r, 200, session_json(r, a, &copy));
}

ig_res_t ig_console_files(void *ctx, ig_req_t *r)
{
    (void)ctx;
    char path[256];
    if (r->path_len >= sizeof path) return ig_http_no_route(r);
    memcpy(path, r->path, r->path_len);
    path[r->path_len] = '\0';
    if (strcmp(path, "/") == 0) snprintf(path, sizeof path, "/index.html");
    for (const ig_asset_t *a = ig_console_assets; a->path; a++) {
        if (strcmp(a->path, path) != 0) continue;
        r->route = "/{asset}"; /* one template for every static file, whichever it is */
        if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET, HEAD");
        ig_http_add_header(r, "Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'");
        ig_http_add_header(r, "X-Content-Type-Options", "nosniff");
        ig_http_add_header(r, "Referrer-Policy", "no-referrer");
        ig_http_add_header(r, "X-Frame-Options", "DENY");
        ig_http_add_header(r, "Cache-Control", "no-cache");
        return ig_http_send(r, 200, a->content_type, a->data, a->len, true);
    }
    return ig_http_no_route(r);
}
