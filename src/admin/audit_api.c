/* audit_api — GET /api/v1/audit (DESIGN.md §8, Audit log): the audit log, newest first, one page at a time.
 *
 *   ?target=  a token id or a user name       ?actor=  who made the change (a user name, "cli", "system")
 *   ?action=  token.create | token.update | token.suspend | token.activate | token.rotate | token.delete |
 *             user.create | user.password | console.login | console.login_failed
 *   ?since=   RFC 3339: entries at or after    ?pageSize= 1..1000 (default 100)   ?pageToken= from the last page
 *   → {"entries": [{id, at, actor, actorTokenId, action, target, details, clientIp}], "nextPageToken": ...}
 *
 * Admins see every entry; members only entries about their own tokens or account and their own actions (the
 * store filters, so a page is never short because of what a member may not see).  A page token is the id
 * of the page's last entry: the next page is the entries before it, stable while new entries arrive. */
#include "admin/admin_api.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

typedef struct {
    json_object *arr;
    int64_t last_id;
    int n;
} page_t;

static json_object *str_or_null(const char *s)
{
    return s[0] ? json_object_new_string(s) : NULL;
}

static int add_entry(void *ud, const ig_audit_entry_t *e)
{
    page_t *p = ud;
    json_object *o = json_object_new_object();
    char id[24], at[40];
    snprintf(id, sizeof id, "%lld", (long long)e->id);
    ig_rfc3339_format(e->at_ms, at, sizeof at);
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "at", json_object_new_string(at));
    json_object_object_add(o, "actor", str_or_null(e->actor));
    json_object_object_add(o, "actorTokenId", str_or_null(e->actor_token_id));
    json_object_object_add(o, "action", json_object_new_string(e->action));
    json_object_object_add(o, "target", str_or_null(e->target));
    json_object *d = e->details ? json_tokener_parse(e->details) : NULL;
    json_object_object_add(o, "details", d ? d : json_object_new_object());
    json_object_object_add(o, "clientIp", str_or_null(e->client_ip));
    json_object_array_add(p->arr, o);
    p->last_id = e->id;
    p->n++;
    return 0;
}

/* Reads one optional filter into buf; -1 (400 sent) when it is too long or badly encoded. */
static int filter(ig_req_t *r, const char *name, char *buf, size_t cap, const char **out, ig_res_t *res)
{
    int h = ig_http_query(r, name, buf, cap);
    if (h < 0) {
        *res = ig_http_error(r, IG_E_BAD_REQUEST, "%s: too long or badly encoded", name);
        return -1;
    }
    *out = h > 0 && buf[0] ? buf : NULL;
    return 0;
}

/* The query's paging and time bounds: 0, or -1 with the 400 in *res. */
static int bounds(ig_req_t *r, ig_audit_query_t *q, ig_res_t *res)
{
    char v[64];
    int64_t n;
    int h = ig_http_query(r, "pageSize", v, sizeof v);
    q->limit = PAGE_DEFAULT;
    if (h < 0 || (h > 0 && ig_parse_i64(v, 1, PAGE_MAX, &n))) {
        *res = ig_http_error(r, IG_E_BAD_REQUEST, "pageSize: must be an integer from 1 to %d", PAGE_MAX);
        return -1;
    }
    if (h > 0) q->limit = (int)n;
    h = ig_http_query(r, "pageToken", v, sizeof v);
    if (h < 0 || (h > 0 && v[0] && ig_parse_i64(v, 1, INT64_MAX, &q->before_id))) {
        *res = ig_http_error(r, IG_E_BAD_REQUEST, "pageToken: not one this server gave");
        return -1;
    }
    h = ig_http_query(r, "since", v, sizeof v);
    if (h < 0 || (h > 0 && v[0] && ig_rfc3339_parse(v, &q->since_ms))) {
        *res = ig_http_error(r, IG_E_BAD_REQUEST, "since: must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z");
        return -1;
    }
    return 0;
}

ig_res_t ig_audit_api_handle(ig_admin_t *a, ig_req_t *r)
{
    r->route = "/api/v1/audit";
    if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
    ig_audit_query_t q;
    memset(&q, 0, sizeof q);
    char target[IG_USER_MAX + 1], actor[IG_USER_MAX + 1], action[48];
    ig_res_t res;
    if (filter(r, "target", target, sizeof target, &q.target, &res) ||
        filter(r, "actor", actor, sizeof actor, &q.actor, &res) ||
        filter(r, "action", action, sizeof action, &q.action, &res) || bounds(r, &q, &res))
        return res;
    if (r->who.role != IG_ROLE_ADMIN) q.visible_to = r->who.user;
    page_t p = {json_object_new_array(), 0, 0};
    ig_error_t err;
    if (a->store->ops->audit_list(a->store, &q, add_entry, &p, &err)) {
        json_object_put(p.arr);
        return ig_http_error_from(r, &err);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "entries", p.arr);
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)p.last_id);
    json_object_object_add(out, "nextPageToken", p.n == q.limit ? json_object_new_string(next) : NULL);
    ig_http_add_header(r, "Cache-Control", "no-store");
    return ig_http_json(r, 200, out);
}
