/* admin_api — see admin_api.h.
 *
 *   GET    /api/v1/access-tokens[?status=&owner=]   list            {"accessTokens":[...]}
 *   POST   /api/v1/access-tokens                     create          201, the record + "token" (shown once)
 *   GET    /api/v1/access-tokens/{id}                get
 *   PATCH  /api/v1/access-tokens/{id}                name, maxRps, burst, expiresAt
 *   DELETE /api/v1/access-tokens/{id}                204
 *   POST   /api/v1/access-tokens/{id}/suspend        {"reason": "..."} optional
 *   POST   /api/v1/access-tokens/{id}/activate
 *   (a member may not activate a token an admin suspended, nor change or remove a Max RPS an admin set: 403,
 *    decided in token_table.c on the row it writes)
 *   POST   /api/v1/access-tokens/{id}/rotate         {"gracePeriod": seconds} optional (default 3600): a new
 *                                                    secret, shown once; the old one works until
 *                                                    previousTokenValidUntil, then 401 "rotated"
 *   GET    /api/v1/access-tokens/{id}/stats[?seconds=N]   per-second requests and 429s (console chart)
 *   GET    /api/v1/whoami                            the calling token's own record (no secret)
 *   POST   /api/v1/users                             admin: {"name","password","role"}
 *   GET    /api/v1/audit?target=&actor=&action=&since=&pageToken=&pageSize=   the audit log (audit_api.c)
 *   GET    /api/v1/cluster                           admin: the live nodes (cluster/members.h)
 *   GET    /api/v1/settings                          {"rateLimiterEnabled": bool, "version": "...",
 *                                                    "expiryWarningDays": n (the console's banner), ...}
 *   /api/v1/session, /login, /logout                 console sessions (console.c, routed before this)
 */
#include "admin/admin_api.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

#include "access/token_table.h"
#include "access/users.h"
#include "core/util.h"
#include "core/version.h"

static ig_res_t no_token(ig_req_t *r, const char *id)
{
    ig_error_t err;
    ig_token_table_not_found(&err, id);
    return ig_http_error_from(r, &err);
}

static bool enforced(const ig_admin_t *a)
{
    return ig_token_table_ratelimiter_enabled(a->tokens);
}

static ig_res_t send_token(ig_admin_t *a, ig_req_t *r, int status, const ig_token_row_t *t, const char *secret)
{
    ig_http_add_header(r, "Cache-Control", "no-store");
    return ig_http_json(r, status, ig_token_to_json(t, enforced(a), secret, ig_clock_wall_ms()));
}

typedef struct {
    json_object *arr;
    bool enf;
    int64_t now;
} list_ctx_t;

static int add_token(void *ud, const ig_token_row_t *t)
{
    list_ctx_t *c = ud;
    json_object_array_add(c->arr, ig_token_to_json(t, c->enf, NULL, c->now));
    return 0;
}

static ig_res_t list_tokens(ig_admin_t *a, ig_req_t *r)
{
    char status[16], owner[IG_USER_MAX + 1];
    int hs = ig_http_query(r, "status", status, sizeof status);
    int ho = ig_http_query(r, "owner", owner, sizeof owner);
    if (hs < 0) return ig_http_error(r, IG_E_BAD_REQUEST, "status: must be active, suspended or expired");
    if (ho < 0) return ig_http_error(r, IG_E_BAD_REQUEST, "owner: too long");
    const char *o = ho ? owner : NULL;
    if (r->who.role != IG_ROLE_ADMIN) {
        if (o && strcmp(o, r->who.user) != 0)
            return ig_http_error(r, IG_E_FORBIDDEN, "members can list only their own access tokens");
        o = r->who.user;
    }
    list_ctx_t c = {json_object_new_array(), enforced(a), ig_clock_wall_ms()};
    ig_error_t err;
    if (ig_token_table_list(a->tokens, o, hs ? status : NULL, add_token, &c, &err)) {
        json_object_put(c.arr);
        return ig_http_error_from(r, &err);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "accessTokens", c.arr);
    ig_http_add_header(r, "Cache-Control", "no-store");
    return ig_http_json(r, 200, out);
}

static ig_res_t create_token(ig_admin_t *a, ig_req_t *r)
{
    ig_error_t err;
    json_object *body = ig_http_body_json(r, &err);
    if (!body) return ig_http_error_from(r, &err);
    ig_token_spec_t spec;
    int rc = ig_token_spec_from_json(body, true, ig_clock_wall_ms(), &spec, &err);
    json_object_put(body);
    if (rc) return ig_http_error_from(r, &err);
    char secret[IG_TOKEN_LEN + 1];
    ig_token_row_t t;
    if (ig_token_table_create(a->tokens, &r->who, r->who.user, &spec, secret, &t, &err))
        return ig_http_error_from(r, &err);
    ig_res_t res = send_token(a, r, 201, &t, secret);
    memset(secret, 0, sizeof secret);
    return res;
}

/* Loads the token and checks the caller may manage it; members get 404 for others' tokens. */
static int load_owned(ig_admin_t *a, ig_req_t *r, const char *id, ig_token_row_t *t, ig_res_t *res)
{
    ig_error_t err;
    if (ig_token_table_get(a->tokens, id, t, &err)) {
        *res = ig_http_error_from(r, &err);
        return -1;
    }
    if (r->who.role != IG_ROLE_ADMIN && strcmp(t->owner, r->who.user) != 0) {
        *res = no_token(r, id);
        return -1;
    }
    return 0;
}

/* The optional {"reason": string|null} of a suspend: 0 with reason filled, or -1 with err. */
static int suspend_reason(ig_req_t *r, char *reason, size_t cap, ig_error_t *err)
{
    json_object *body = ig_http_body_json(r, err);
    if (!body) return -1;
    int bad = 0;
    if (!json_object_is_type(body, json_type_object)) {
        bad = ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object");
    } else {
        json_object_object_foreach(body, key, val)
        {
            if (strcmp(key, "reason") != 0) {
                bad = ig_error_set(err, IG_E_BAD_REQUEST, "unknown field '%.64s'", key);
                break;
            }
            if (val && !json_object_is_type(val, json_type_string)) {
                bad = ig_error_set(err, IG_E_BAD_REQUEST, "reason: must be a string or null");
                break;
            }
            if (val && ig_strlcpy(reason, json_object_get_string(val), cap)) {
                bad = ig_error_set(err, IG_E_BAD_REQUEST, "reason: must be at most %d characters", IG_REASON_MAX);
                break;
            }
        }
    }
    json_object_put(body);
    return bad;
}

/* An activate takes no fields: an empty object (or no body) only. */
static int activate_body(ig_req_t *r, ig_error_t *err)
{
    json_object *body = ig_http_body_json(r, err);
    if (!body) return -1;
    bool empty = json_object_is_type(body, json_type_object) && json_object_object_length(body) == 0;
    json_object_put(body);
    return empty ? 0 : ig_error_set(err, IG_E_BAD_REQUEST, "activate takes no fields");
}

#define DEFAULT_GRACE_S 3600

/* The optional {"gracePeriod": seconds} of a rotation: 0 with *grace_ms, or -1 with err. */
static int rotate_body(ig_req_t *r, int64_t *grace_ms, ig_error_t *err)
{
    *grace_ms = DEFAULT_GRACE_S * 1000LL;
    if (r->body_len == 0) return 0;
    json_object *body = ig_http_body_json(r, err);
    if (!body) return -1;
    int rc = 0;
    if (!json_object_is_type(body, json_type_object)) {
        rc = ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object");
    } else {
        json_object_object_foreach(body, key, val)
        {
            if (strcmp(key, "gracePeriod") != 0) {
                rc = ig_error_set(err, IG_E_BAD_REQUEST, "unknown field '%.64s'", key);
                break;
            }
            int64_t max_s = IG_ROTATE_GRACE_MAX_MS / 1000;
            if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0 ||
                json_object_get_int64(val) > max_s) {
                rc = ig_error_set(err, IG_E_BAD_REQUEST, "gracePeriod: must be an integer number of seconds from 0 "
                                                         "to %lld", (long long)max_s);
                break;
            }
            *grace_ms = json_object_get_int64(val) * 1000;
        }
    }
    json_object_put(body);
    return rc;
}

static ig_res_t rotate_token(ig_admin_t *a, ig_req_t *r, const char *id)
{
    if (r->method != IG_POST) return ig_http_not_allowed(r, "POST");
    ig_error_t err;
    int64_t grace_ms;
    ig_token_row_t t;
    char secret[IG_TOKEN_LEN + 1];
    if (rotate_body(r, &grace_ms, &err) || ig_token_table_rotate(a->tokens, &r->who, id, grace_ms, secret, &t, &err))
        return ig_http_error_from(r, &err);
    ig_res_t res = send_token(a, r, 200, &t, secret);
    explicit_bzero(secret, sizeof secret);
    return res;
}

static ig_res_t whoami(ig_admin_t *a, ig_req_t *r)
{
    if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
    if (r->who.via_session || !r->who.token_id[0])
        return ig_http_error(r, IG_E_BAD_REQUEST, "whoami describes an access token: send one in X-API-Token");
    ig_token_row_t t;
    ig_error_t err;
    if (ig_token_table_get(a->tokens, r->who.token_id, &t, &err)) return ig_http_error_from(r, &err);
    return send_token(a, r, 200, &t, NULL);
}

static ig_res_t one_token(ig_admin_t *a, ig_req_t *r, const char *id, const char *action)
{
    ig_token_row_t t;
    ig_error_t err;
    ig_res_t res;
    if (load_owned(a, r, id, &t, &res)) return res;
    if (!action) {
        if (r->method == IG_GET || r->method == IG_HEAD) return send_token(a, r, 200, &t, NULL);
        if (r->method == IG_DELETE) {
            if (ig_token_table_delete(a->tokens, &r->who, id, &err)) return ig_http_error_from(r, &err);
            return ig_http_no_content(r);
        }
        if (r->method == IG_PATCH) {
            json_object *body = ig_http_body_json(r, &err);
            if (!body) return ig_http_error_from(r, &err);
            ig_token_spec_t spec;
            int rc = ig_token_spec_from_json(body, false, ig_clock_wall_ms(), &spec, &err);
            json_object_put(body);
            if (rc || ig_token_table_update(a->tokens, &r->who, id, &spec, &t, &err)) return ig_http_error_from(r, &err);
            return send_token(a, r, 200, &t, NULL);
        }
        return ig_http_not_allowed(r, "GET, PATCH, DELETE");
    }
    if (strcmp(action, "stats") == 0) {
        if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
        char sec[16];
        int64_t seconds = 300;
        int hs = ig_http_query(r, "seconds", sec, sizeof sec);
        if (hs < 0 || (hs > 0 && ig_parse_i64(sec, 1, IG_STATS_SLOTS - 1, &seconds)))
            return ig_http_error(r, IG_E_BAD_REQUEST, "seconds: must be an integer from 1 to %d",
                                 IG_STATS_SLOTS - 1);
        json_object *o = ig_token_table_stats_json(a->tokens, id, (int)seconds, ig_clock_wall_ms());
        if (!o) return no_token(r, id);
        ig_http_add_header(r, "Cache-Control", "no-store");
        return ig_http_json(r, 200, o);
    }
    if (strcmp(action, "rotate") == 0) return rotate_token(a, r, id);
    bool suspend = strcmp(action, "suspend") == 0;
    if (!suspend && strcmp(action, "activate") != 0) return ig_http_no_route(r);
    if (r->method != IG_POST) return ig_http_not_allowed(r, "POST");
    char reason[IG_REASON_MAX * 4 + 1] = "";
    if (r->body_len > 0 && (suspend ? suspend_reason(r, reason, sizeof reason, &err) : activate_body(r, &err)))
        return ig_http_error_from(r, &err);
    int rc = suspend ? ig_token_table_suspend(a->tokens, &r->who, id, reason, &t, &err)
                     : ig_token_table_activate(a->tokens, &r->who, id, &t, &err);
    if (rc) return ig_http_error_from(r, &err);
    return send_token(a, r, 200, &t, NULL);
}

/* A user creation handed to the hashing thread (ig_http_defer): argon2 never runs on a worker thread. */
typedef struct {
    ig_store_t *store;
    char *name, *password; /* copies: the request's body is not touched off its thread */
    ig_role_t role;
    ig_principal_t who; /* a copy, with client_ip pointing at ip: the audit entry's actor */
    char ip[IG_IP_MAX];
    int rc;
    ig_error_t err;
} new_user_t;

static void new_user_free(void *arg)
{
    new_user_t *u = arg;
    if (!u) return;
    if (u->password) explicit_bzero(u->password, strlen(u->password));
    free(u->password);
    free(u->name);
    free(u);
}

static void new_user_run(void *arg)
{
    new_user_t *u = arg;
    u->rc = ig_users_create(u->store, &u->who, u->name, u->role, u->password, &u->err);
}

static ig_res_t new_user_done(ig_req_t *r, const new_user_t *u)
{
    if (!r->deferred_ran) {
        ig_http_add_header(r, "Retry-After", "1");
        return ig_http_error(r, IG_E_UNAVAILABLE, "the server is stopping: try again in a moment");
    }
    if (u->rc) return ig_http_error_from(r, &u->err);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "name", json_object_new_string(u->name));
    json_object_object_add(out, "role", json_object_new_string(u->role == IG_ROLE_ADMIN ? "admin" : "member"));
    return ig_http_json(r, 201, out);
}

/* The password is hashed on the hashing thread, the request suspended meanwhile; 503 when its queue is full. */
static ig_res_t new_user_defer(ig_admin_t *a, ig_req_t *r, const char *name, const char *pw, ig_role_t role)
{
    ig_res_t res;
    new_user_t *u = calloc(1, sizeof *u);
    if (u && (u->name = strdup(name)) != NULL && (!pw || (u->password = strdup(pw)) != NULL)) {
        u->store = a->store;
        u->role = role;
        u->who = r->who;
        ig_strlcpy(u->ip, r->who.client_ip ? r->who.client_ip : "", sizeof u->ip);
        u->who.client_ip = u->ip;
        if (ig_http_defer(r, &res, new_user_run, u, new_user_free)) return res;
        new_user_free(u);
        ig_http_add_header(r, "Retry-After", "1");
        return ig_http_error(r, IG_E_UNAVAILABLE, "too many passwords being hashed: try again in 1 s");
    }
    new_user_free(u);
    return ig_http_error(r, IG_E_INTERNAL, "out of memory");
}

static ig_res_t create_user(ig_admin_t *a, ig_req_t *r)
{
    if (r->who.role != IG_ROLE_ADMIN) return ig_http_error(r, IG_E_FORBIDDEN, "only admins create users");
    if (r->deferred) return new_user_done(r, r->deferred);
    ig_error_t err;
    json_object *body = ig_http_body_json(r, &err);
    if (!body) return ig_http_error_from(r, &err);
    const char *name = NULL, *pw = NULL, *role = "member";
    int bad = 0;
    if (!json_object_is_type(body, json_type_object)) {
        bad = ig_error_set(&err, IG_E_BAD_REQUEST, "request body must be a JSON object");
    } else {
        json_object_object_foreach(body, key, val)
        {
            if (!val || !json_object_is_type(val, json_type_string)) {
                bad = ig_error_set(&err, IG_E_BAD_REQUEST, "%.64s: must be a string", key);
                break;
            }
            if (strcmp(key, "name") == 0) name = json_object_get_string(val);
            else if (strcmp(key, "password") == 0) pw = json_object_get_string(val);
            else if (strcmp(key, "role") == 0) role = json_object_get_string(val);
            else {
                bad = ig_error_set(&err, IG_E_BAD_REQUEST, "unknown field '%.64s'", key);
                break;
            }
        }
    }
    if (!bad && !name) bad = ig_error_set(&err, IG_E_BAD_REQUEST, "name: is required");
    if (!bad && strcmp(role, "admin") != 0 && strcmp(role, "member") != 0)
        bad = ig_error_set(&err, IG_E_BAD_REQUEST, "role: must be admin or member");
    ig_res_t res = bad ? ig_http_error_from(r, &err)
                       : new_user_defer(a, r, name, pw, strcmp(role, "admin") == 0 ? IG_ROLE_ADMIN : IG_ROLE_MEMBER);
    json_object_put(body);
    return res;
}

/* The route template of /api/v1/access-tokens/{id}[/action], or NULL for an action no route has. */
static const char *token_template(const char *action)
{
    if (!action) return "/api/v1/access-tokens/{id}";
    if (strcmp(action, "stats") == 0) return "/api/v1/access-tokens/{id}/stats";
    if (strcmp(action, "suspend") == 0) return "/api/v1/access-tokens/{id}/suspend";
    if (strcmp(action, "activate") == 0) return "/api/v1/access-tokens/{id}/activate";
    if (strcmp(action, "rotate") == 0) return "/api/v1/access-tokens/{id}/rotate";
    return NULL;
}

/* GET /api/v1/cluster: the live nodes, for admins (node names and versions are an operator's business). */
static ig_res_t cluster(ig_admin_t *a, ig_req_t *r)
{
    if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
    if (r->who.role != IG_ROLE_ADMIN) return ig_http_error(r, IG_E_FORBIDDEN, "/api/v1/cluster is for admins");
    json_object *o = NULL;
    ig_error_t err;
    if (ig_members_list(a->members, &o, &err)) return ig_http_error_from(r, &err);
    return ig_http_json(r, 200, o);
}

static ig_res_t route(ig_admin_t *a, ig_req_t *r)
{
    char path[256];
    if (r->path_len >= sizeof path) return ig_http_no_route(r);
    memcpy(path, r->path, r->path_len);
    path[r->path_len] = '\0';
    /* The router authenticated the caller (session or token); a token's owner gets the owner's role here. */
    if (!r->who.via_session) {
        /* an admin user's token acts as an admin only with the admin scope (DESIGN.md §8) */
        r->who.role = (r->who.scopes & IG_SCOPE_ADMIN) ? ig_users_role(a->store, r->who.user) : IG_ROLE_MEMBER;
    }

    if (strcmp(path, "/api/v1/settings") == 0) {
        r->route = "/api/v1/settings";
        if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "rateLimiterEnabled", json_object_new_boolean(enforced(a)));
        json_object_object_add(o, "version", json_object_new_string(IG_VERSION));
        json_object_object_add(o, "expiryWarningDays", json_object_new_int(a->expiry_warning_days));
        /* The default warehouse's name (its root's last segment: "warehouse" unless catalog.warehouse says
         * otherwise), for the console's client snippets. */
        json_object_object_add(o, "warehouse", json_object_new_string(a->warehouse ? a->warehouse : "warehouse"));
        json_object_object_add(o, "user", json_object_new_string(r->who.user));
        json_object_object_add(o, "role",
                               json_object_new_string(r->who.role == IG_ROLE_ADMIN ? "admin" : "member"));
        return ig_http_json(r, 200, o);
    }
    if (strcmp(path, "/api/v1/audit") == 0) return ig_audit_api_handle(a, r);
    if (strcmp(path, "/api/v1/cluster") == 0) {
        r->route = "/api/v1/cluster";
        return cluster(a, r);
    }
    if (strcmp(path, "/api/v1/whoami") == 0) {
        r->route = "/api/v1/whoami";
        return whoami(a, r);
    }
    if (strcmp(path, "/api/v1/users") == 0) {
        r->route = "/api/v1/users";
        if (r->method != IG_POST) return ig_http_not_allowed(r, "POST");
        return create_user(a, r);
    }
    static const char base[] = "/api/v1/access-tokens";
    size_t bl = sizeof base - 1;
    if (strncmp(path, base, bl) != 0 || (path[bl] != '\0' && path[bl] != '/')) return ig_http_no_route(r);
    const char *rest = path + bl;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        r->route = "/api/v1/access-tokens";
        if (r->method == IG_GET || r->method == IG_HEAD) return list_tokens(a, r);
        if (r->method == IG_POST) return create_token(a, r);
        return ig_http_not_allowed(r, "GET, POST");
    }
    rest++;
    char id[IG_ID_MAX + 8];
    size_t idl = strcspn(rest, "/");
    const char *action = rest[idl] == '/' ? rest + idl + 1 : NULL;
    const char *tpl = token_template(action);
    if (!tpl) return ig_http_no_route(r);
    r->route = tpl;
    if (idl == 0 || idl >= IG_ID_MAX) return ig_http_error(r, IG_E_NO_SUCH_TOKEN, "no such access token");
    memcpy(id, rest, idl);
    id[idl] = '\0';
    return one_token(a, r, id, action);
}

ig_res_t ig_admin_api_handle(void *ctx, ig_req_t *r)
{
    /* The address every change made here is audited with; the principal points at it only during this call
     * (the request is reused for the connection's next one). */
    char ip[IG_IP_MAX];
    ig_http_client_text(r, ip, sizeof ip);
    r->who.client_ip = ip;
    ig_res_t res = route(ctx, r);
    r->who.client_ip = NULL;
    return res;
}
