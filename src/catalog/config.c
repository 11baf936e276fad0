/* catalog/config — GET /v1/config (bodies built once at start: every client calls it first) and the
 * pagination every list route shares (pageToken is the hex of the last name served). */
#include "catalog/internal.h"

#include "core/nsallow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "http/idempotency.h"
#include "warehouse/warehouse.h"

/* ------------------------------------------------------------------ /v1/config */

static const char *const endpoints[] = {
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/unregister",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}/credentials",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/tables/rename",
    "POST /v1/{prefix}/transactions/commit",
    "GET /v1/{prefix}/namespaces/{namespace}/views",
    "POST /v1/{prefix}/namespaces/{namespace}/views",
    "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/views/rename",
    "POST /v1/{prefix}/namespaces/{namespace}/register-view",
};

/* A warehouse is known by its name (for the catalog.warehouse shorthand the root's last path segment,
 * "warehouse" by default) or by its URI; naming it yields overrides.prefix = name, and its routes answer
 * under /v1/<name>/. */
static bool warehouse_matches(const ig_warehouse_t *wh, const char *w)
{
    if (strcmp(w, ig_warehouse_name(wh)) == 0) return true;
    const char *uri = ig_warehouse_uri(wh);
    size_t ul = strlen(uri), wl = strlen(w);
    while (wl > 0 && w[wl - 1] == '/')
        wl--;
    if (wl == ul && memcmp(w, uri, ul) == 0) return true;
    /* the bare path, or the Hadoop-style "file:/path" */
    const char *path = uri + 7;
    size_t pl = ul - 7;
    if (wl == pl && memcmp(w, path, pl) == 0) return true;
    if (wl == pl + 5 && memcmp(w, "file:", 5) == 0 && memcmp(w + 5, path, pl) == 0) return true;
    return false;
}

/* {"defaults":{},"overrides":{...},"endpoints":[...]} as text (malloc'd), with or without wh's prefix. */
static char *config_json(const ig_warehouse_t *wh, bool with_prefix, size_t *len)
{
    json_object *o = json_object_new_object(), *overrides = json_object_new_object(),
                *eps = json_object_new_array();
    /* A name that is also a route word ("namespaces", ...) would make prefixed paths ambiguous: such a
     * warehouse is served without a prefix (the configuration refuses such a name beside other warehouses). */
    const char *name = ig_warehouse_name(wh);
    static const char *const words[] = {"namespaces", "tables", "views", "transactions", "config", "oauth"};
    bool clash = false;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        clash |= strcmp(name, words[i]) == 0;
    if (with_prefix && !clash) json_object_object_add(overrides, "prefix", json_object_new_string(name));
    for (size_t i = 0; i < sizeof endpoints / sizeof *endpoints; i++)
        json_object_array_add(eps, json_object_new_string(endpoints[i]));
    json_object_object_add(o, "defaults", json_object_new_object());
    json_object_object_add(o, "overrides", overrides);
    json_object_object_add(o, "endpoints", eps);
    json_object_object_add(o, "idempotency-key-lifetime", json_object_new_string(IG_IDEMPOTENCY_LIFETIME));
    size_t n;
    const char *text =
        json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, text, n + 1);
        *len = n;
    }
    json_object_put(o);
    return copy;
}

int cat_build_config_bodies(ig_catalog_t *c)
{
    int ok = (c->config_body = config_json(c->whs[0].w, false, &c->config_len)) != NULL;
    for (int i = 0; i < c->nwh; i++)
        ok &= (c->whs[i].config_body = config_json(c->whs[i].w, true, &c->whs[i].config_len)) != NULL;
    return ok ? 0 : -1;
}

ig_res_t cat_get_config(ig_req_t *r, ig_catalog_t *c)
{
    char w[IG_LOCATION_MAX];
    int q = ig_http_query(r, "warehouse", w, sizeof w);
    if (q < 0)
        return ig_http_error(r, IG_E_BAD_REQUEST, "warehouse parameter too long or badly encoded");
    if (q == 0 || !w[0]) return ig_http_send(r, 200, "application/json", c->config_body, c->config_len, true);
    for (int i = 0; i < c->nwh; i++)
        if (warehouse_matches(c->whs[i].w, w))
            return ig_http_send(r, 200, "application/json", c->whs[i].config_body, c->whs[i].config_len, true);
    char names[512];
    size_t n = 0;
    for (int i = 0; i < c->nwh && n < sizeof names; i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s\"%s\"", i ? ", " : "", ig_warehouse_name(c->whs[i].w));
    return ig_http_error(r, IG_E_NO_SUCH_WAREHOUSE, "The given warehouse does not exist: %.200s (this catalog "
                         "serves %s)", w, names);
}

/* ------------------------------------------------------------------ pagination */

int cat_parse_page(ig_req_t *r, page_t *pg, ig_error_t *err)
{
    char tok[2 * sizeof pg->after + 4], size[24];
    memset(pg, 0, sizeof *pg);
    int q = ig_http_query(r, "pageToken", tok, sizeof tok);
    if (q < 0) return ig_error_set(err, IG_E_BAD_REQUEST, "pageToken is too long or badly encoded");
    pg->paginate = q == 1;
    size_t tl = q == 1 ? strlen(tok) : 0;
    if (tl % 2 || tl / 2 >= sizeof pg->after) goto badtok;
    for (size_t i = 0; i < tl; i += 2) {
        int h = ig_hex_digit(tok[i]), l = ig_hex_digit(tok[i + 1]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) goto badtok;
        pg->after[i / 2] = (char)(h << 4 | l);
    }
    pg->limit = PAGE_DEFAULT;
    q = ig_http_query(r, "pageSize", size, sizeof size);
    if (q != 0) {
        int64_t v;
        if (q < 0 || ig_parse_i64(size, 1, INT32_MAX, &v))
            return ig_error_set(err, IG_E_BAD_REQUEST, "pageSize must be an integer >= 1");
        pg->limit = v > PAGE_MAX ? PAGE_MAX : (int)v;
        pg->paginate = true; /* pageSize alone is an upper bound too: the first page, with a next-page-token */
    }
    return 0;
badtok:
    return ig_error_set(err, IG_E_BAD_REQUEST, "invalid pageToken");
}

/* ["a","b"] for the namespace "a\x1fb" (its warehouse tag, if any, not shown). */
static void put_ns(ig_buf_t *b, const char *ns)
{
    ig_buf_append(b, "[", 1);
    for (const char *p = ig_store_ns_untagged(ns);;) {
        const char *e = strchr(p, 0x1f);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        ig_buf_json_string(b, p, n);
        if (!e) break;
        ig_buf_append(b, ",", 1);
        p = e + 1;
    }
    ig_buf_append(b, "]", 1);
}

int cat_collect_cb(void *ud, const char *name)
{
    collect_t *cl = ud;
    if (cl->sees && !ig_ns_sees(cl->sees, ig_store_ns_untagged(name))) return 0;
    if (cl->limit && cl->count == cl->limit) {
        cl->more = true;
        return 1;
    }
    if (cl->count) ig_buf_append(cl->out, ",", 1);
    if (cl->ns) {
        ig_buf_append(cl->out, "{\"namespace\":", 13);
        put_ns(cl->out, cl->ns);
        ig_buf_append(cl->out, ",\"name\":", 8);
        ig_buf_json_string(cl->out, name, strlen(name));
        ig_buf_append(cl->out, "}", 1);
    } else {
        put_ns(cl->out, name);
    }
    snprintf(cl->last, sizeof cl->last, "%s", name);
    cl->count++;
    return 0;
}

void cat_begin_list(collect_t *cl, const char *key)
{
    ig_buf_printf(cl->out, "{\"%s\":[", key);
}

ig_res_t cat_send_list(ig_req_t *r, collect_t *cl)
{
    static const char hex[] = "0123456789abcdef";
    char tok[2 * sizeof cl->last + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)cl->last; cl->more && *p; p++) {
        tok[n++] = hex[*p >> 4];
        tok[n++] = hex[*p & 15];
    }
    tok[n] = '\0';
    if (cl->more)
        ig_buf_printf(cl->out, "],\"next-page-token\":\"%s\"}", tok);
    else
        ig_buf_append(cl->out, "],\"next-page-token\":null}", 25);
    if (cl->out->failed) return ig_http_error(r, IG_E_INTERNAL, "out of memory");
    return ig_http_send(r, 200, "application/json", cl->out->data, cl->out->len, false);
}
