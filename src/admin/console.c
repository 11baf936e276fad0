/* console — see console.h. */
#include "admin/console.h"
#include "core/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/console_assets.h"
#include "server.h"
#include "access/tokenstore.h"
#include "access/users.h"
#include "core/util.h"

#define SESSION_ID_LEN 43
#define MAX_SESSIONS 1024 /* console users are people: a linear scan of 1024 slots is ~10 µs; when full, the oldest session ends */
#define COOKIE "icegate_session"

typedef struct {
    char id[SESSION_ID_LEN + 1];
    char csrf[SESSION_ID_LEN + 1];
    char user[IG_USER_MAX + 1];
    ig_role_t role;
    int64_t expires_ms;
} session_t;

struct ig_sessions {
    pthread_mutex_t mu;
    int ttl_s;
    size_t n;
    session_t *v; /* MAX_SESSIONS slots; a slot with id[0] == 0 is free */
};

ig_sessions_t *ig_sessions_new(int ttl_s)
{
    ig_sessions_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->v = calloc(MAX_SESSIONS, sizeof *s->v);
    if (!s->v) {
        free(s);
        return NULL;
    }
    s->ttl_s = ttl_s;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ig_sessions_free(ig_sessions_t *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    free(s->v);
    free(s);
}

/* Constant-time comparison of two NUL-terminated secrets. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Finds the live session with this id and copies it out.  Caller holds mu. */
static session_t *find(ig_sessions_t *s, const char *id, int64_t now)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_t *x = &s->v[i];
        if (!x->id[0]) continue;
        if (x->expires_ms <= now) {
            memset(x, 0, sizeof *x);
            continue;
        }
        if (same_secret(x->id, id)) return x;
    }
    return NULL;
}

static const char *cookie_value(ig_req_t *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, COOKIE);
}

static bool over_tls(ig_req_t *r)
{
    const char *p = ig_http_header(r, "X-Forwarded-Proto");
    return p && strcasecmp(p, "https") == 0;
}

static void set_cookie(ig_req_t *r, const char *id, int max_age)
{
    char c[160];
    snprintf(c, sizeof c, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", id, max_age,
             over_tls(r) ? "; Secure" : "");
    ig_http_add_header(r, "Set-Cookie", c);
}

/* Every 401 carries the challenge (DESIGN section 3, RFC 9110): these routes also take an access token.
 * Browsers show no dialog for Bearer, only for Basic/Digest. */
static ig_res_t unauthorized(ig_req_t *r, const char *msg)
{
    ig_http_add_header(r, "WWW-Authenticate", "Bearer realm=\"icegate\"");
    return ig_http_error(r, IG_E_NOT_AUTHORIZED, "%s", msg);
}

ig_session_auth_t ig_console_session_auth(ig_req_t *r, ig_res_t *res)
{
    const char *id = cookie_value(r);
    if (!id || !*id) return IG_SESSION_NONE;
    ig_sessions_t *s = r->srv->sessions;
    session_t copy;
    pthread_mutex_lock(&s->mu);
    session_t *x = find(s, id, ig_clock_wall_ms());
    if (x) copy = *x;
    pthread_mutex_unlock(&s->mu);
    if (!x) {
        /* A stale cookie with an access token alongside: let the token speak. */
        if (ig_http_header(r, "X-API-Token") || ig_http_header(r, "Authorization")) return IG_SESSION_NONE;
        set_cookie(r, "", 0);
        *res = unauthorized(r, "session expired or logged out: log in again");
        return IG_SESSION_SENT;
    }
    if (r->method != IG_GET && r->method != IG_HEAD && r->method != IG_OPTIONS) {
        const char *csrf = ig_http_header(r, "X-CSRF-Token");
        if (!csrf || !same_secret(csrf, copy.csrf)) {
            *res = ig_http_error(r, IG_E_FORBIDDEN,
                                 csrf ? "bad CSRF token (X-CSRF-Token)" : "missing CSRF token (X-CSRF-Token)");
            return IG_SESSION_SENT;
        }
    }
    r->who.ok = true;
    r->who.via_session = true;
    r->who.role = copy.role;
    snprintf(r->who.user, sizeof r->who.user, "%s", copy.user);
    r->who.token_id[0] = '\0';
    return IG_SESSION_OK;
}

static json_object *session_json(ig_req_t *r, const session_t *x)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(x->user));
    json_object_object_add(o, "role", json_object_new_string(x->role == IG_ROLE_ADMIN ? "admin" : "member"));
    json_object_object_add(o, "csrfToken", json_object_new_string(x->csrf));
    char exp[40];
    ig_rfc3339_format(x->expires_ms, exp, sizeof exp);
    json_object_object_add(o, "expiresAt", json_object_new_string(exp));
    json_object_object_add(o, "rateLimiterEnabled",
                           json_object_new_boolean(ig_tokenstore_ratelimiter_enabled(r->srv->tokens)));
    return o;
}

static ig_res_t login(ig_req_t *r)
{
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
    ig_user_t user;
    int ok = ig_users_verify(r->srv->store, json_object_get_string(u), json_object_get_string(p), &user);
    json_object_put(body);
    if (ok != 0) return unauthorized(r, "wrong username or password");
    ig_sessions_t *s = r->srv->sessions;
    session_t x;
    memset(&x, 0, sizeof x);
    ig_random_base62(x.id, SESSION_ID_LEN);
    ig_random_base62(x.csrf, SESSION_ID_LEN);
    snprintf(x.user, sizeof x.user, "%s", user.name);
    x.role = user.role;
    int64_t now = ig_clock_wall_ms();
    x.expires_ms = now + (int64_t)s->ttl_s * 1000;
    pthread_mutex_lock(&s->mu);
    session_t *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < MAX_SESSIONS && !slot; i++) {
        session_t *y = &s->v[i];
        if (!y->id[0] || y->expires_ms <= now) slot = y;
        else if (!oldest || y->expires_ms < oldest->expires_ms) oldest = y;
    }
    if (!slot) slot = oldest; /* full: the oldest session is logged out */
    *slot = x;
    pthread_mutex_unlock(&s->mu);
    set_cookie(r, x.id, s->ttl_s);
    return ig_http_json(r, 200, session_json(r, &x));
}

ig_res_t ig_console_session_api(ig_req_t *r, const char *rest)
{
    ig_res_t res;
    if (strcmp(rest, "/login") == 0) {
        if (r->method != IG_POST) {
            ig_http_add_header(r, "Allow", "POST");
            return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "use POST to log in");
        }
        return login(r);
    }
    if (strcmp(rest, "") != 0 && strcmp(rest, "/logout") != 0)
        return ig_http_error(r, IG_E_NOT_FOUND, "no such route");
    bool logout = strcmp(rest, "/logout") == 0;
    if ((logout && r->method != IG_POST) || (!logout && r->method != IG_GET && r->method != IG_HEAD)) {
        ig_http_add_header(r, "Allow", logout ? "POST" : "GET");
        return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "method %s not allowed here", r->method_str);
    }
    ig_session_auth_t a = ig_console_session_auth(r, &res);
    if (a == IG_SESSION_SENT) return res;
    if (a == IG_SESSION_NONE) return unauthorized(r, "not logged in");
    ig_sessions_t *s = r->srv->sessions;
    const char *id = cookie_value(r);
    session_t copy;
    memset(&copy, 0, sizeof copy);
    pthread_mutex_lock(&s->mu);
    session_t *x = find(s, id, ig_clock_wall_ms());
    if (x) {
        copy = *x;
        if (logout) memset(x, 0, sizeof *x);
    }
    pthread_mutex_unlock(&s->mu);
    if (logout) {
        set_cookie(r, "", 0);
        return ig_http_send(r, 204, NULL, "", 0, true);
    }
    return ig_http_json(r, 200, session_json(r, &copy));
}

ig_res_t ig_console_handle(ig_req_t *r)
{
    char path[256];
    if (r->path_len >= sizeof path) return ig_http_error(r, IG_E_NOT_FOUND, "no such route");
    memcpy(path, r->path, r->path_len);
    path[r->path_len] = '\0';
    if (strcmp(path, "/") == 0) snprintf(path, sizeof path, "/index.html");
    for (const ig_asset_t *a = ig_console_assets; a->path; a++) {
        if (strcmp(a->path, path) != 0) continue;
        if (r->method != IG_GET && r->method != IG_HEAD) {
            ig_http_add_header(r, "Allow", "GET, HEAD");
            return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "method %s not allowed on %s", r->method_str,
                                 path);
        }
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
    return ig_http_error(r, IG_E_NOT_FOUND, "no such route: %.200s", path);
}
