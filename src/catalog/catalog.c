/* catalog — see catalog.h.  The Iceberg REST Catalog routes (rest-catalog-open-api.yaml):
 *
 *   request ──▶ route (path segments, optional warehouse prefix, method) ──▶ handler (a file per resource)
 *   handler ──▶ store (namespaces, pointer per table/view, compare-and-set swaps)
 *           ──▶ tablemeta / viewmeta (what the next metadata document is)
 *           ──▶ warehouse (metadata files, purge; nothing outside the warehouse root)
 *
 * This file: the catalog's life cycle and the routing of /v1/ paths to the handlers of internal.h.  Commits
 * are explained in commit.c, the loadTable cache in cache.c. */
#include "catalog/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/idempotency.h"
#include "warehouse/warehouse.h"

/* ------------------------------------------------------------------ life cycle */

/* Temp files older than this process are what a kill -9 mid-write left: nothing will ever rename them. */
static void *sweep(void *arg)
{
    ig_catalog_t *c = arg;
    for (int i = 0; i < c->nwh; i++) {
        int64_t n = ig_warehouse_sweep_temps(c->whs[i].w, c->started_s, &c->stop_sweep);
        if (n > 0)
            ig_info("warehouse %s: removed %lld temp files left by an earlier process", ig_warehouse_name(c->whs[i].w),
                    (long long)n);
    }
    return NULL;
}

/* Opens every configured warehouse: their names distinct and their roots apart (a location is in one
 * warehouse at most), so that a table's files are found from its location alone. */
static int open_warehouses(ig_catalog_t *c, const ig_config_t *cfg, ig_error_t *err)
{
    int n = cfg->nwarehouses ? cfg->nwarehouses : 1;
    for (; c->nwh < n; c->nwh++) {
        cat_wh_t *h = &c->whs[c->nwh];
        if (!(h->w = ig_warehouse_open_config(cfg, c->nwh, err))) return -1;
        ig_warehouse_set_max_bytes(h->w, cfg->max_metadata_bytes);
        const char *name = ig_warehouse_name(h->w);
        if (c->nwh) h->tag_len = (size_t)snprintf(h->tag, sizeof h->tag, "%s%c", name, IG_WH_TAG);
        for (int i = 0; i < c->nwh; i++) {
            const char *a = ig_warehouse_uri(c->whs[i].w), *b = ig_warehouse_uri(h->w);
            char canon[IG_LOCATION_MAX];
            ig_error_t e;
            if (strcmp(ig_warehouse_name(c->whs[i].w), name) == 0)
                return ig_error_set(err, IG_E_INTERNAL, "catalog.warehouses: the name %s is given twice", name);
            if (strcmp(a, b) == 0 || ig_warehouse_canonical(c->whs[i].w, b, canon, sizeof canon, &e) == 0 ||
                ig_warehouse_canonical(h->w, a, canon, sizeof canon, &e) == 0)
                return ig_error_set(err, IG_E_INTERNAL,
                                    "catalog.warehouses: the locations of %s (%s) and %s (%s) overlap: each "
                                    "warehouse needs a root of its own",
                                    ig_warehouse_name(c->whs[i].w), a, name, b);
        }
    }
    return 0;
}

ig_catalog_t *ig_catalog_new(const ig_config_t *cfg, ig_store_t *store, ig_error_t *err)
{
    ig_catalog_t *c = calloc(1, sizeof *c);
    if (!c) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    c->store = store;
    if (open_warehouses(c, cfg, err)) {
        for (int i = 0; i < c->nwh; i++) ig_warehouse_close(c->whs[i].w);
        free(c);
        return NULL;
    }
    c->allow_overlap = cfg->allow_location_overlap;
    cat_loc_init(c);
    pthread_mutex_init(&c->purge_mu, NULL);
    pthread_cond_init(&c->purge_cv, NULL);
    pthread_mutex_init(&c->props_mu, NULL);
    pthread_mutex_init(&c->cache.mu, NULL);
    c->cache.max_bytes = (size_t)cfg->cache_bytes;
    for (int i = 0; i < COMMIT_STRIPES; i++) pthread_mutex_init(&c->commit_mu[i], NULL);
    c->idem = ig_idempotency_new(store);
    if (cat_pending_start(c, cfg, err)) {
        ig_catalog_free(c);
        return NULL;
    }
    if (cat_purge_start(c)) {
        ig_catalog_free(c);
        ig_error_set(err, IG_E_INTERNAL, "cannot start the purge thread");
        return NULL;
    }
    if (cat_build_config_bodies(c)) {
        ig_catalog_free(c);
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (cat_group_start(c, cfg->threads > 1 ? cfg->threads : 2))
        ig_warn("catalog: no group commit threads: every commit syncs on its own");
    c->started_s = ig_clock_wall_ms() / 1000;
    c->sweeping = pthread_create(&c->sweeper, NULL, sweep, c) == 0;
    return c;
}

void ig_catalog_quiesce(ig_catalog_t *c)
{
    if (c) {
        cat_group_stop(c);
        cat_purge_stop(c);
        cat_pending_stop(c);
    }
}

void ig_catalog_free(ig_catalog_t *c)
{
    if (!c) return;
    if (c->sweeping) {
        atomic_store(&c->stop_sweep, true);
        pthread_join(c->sweeper, NULL);
    }
    cat_group_free(c);
    cat_purge_stop(c);
    pthread_mutex_destroy(&c->purge_mu);
    pthread_cond_destroy(&c->purge_cv);
    cat_pending_stop(c);
    pthread_mutex_destroy(&c->flush_mu);
    pthread_mutex_destroy(&c->pend_mu);
    pthread_cond_destroy(&c->pend_cv);
    cat_cache_clear(&c->cache);
    pthread_mutex_destroy(&c->cache.mu);
    pthread_mutex_destroy(&c->props_mu);
    for (int i = 0; i < COMMIT_STRIPES; i++) pthread_mutex_destroy(&c->commit_mu[i]);
    ig_idempotency_free(c->idem);
    cat_loc_free(c);
    for (int i = 0; i < c->nwh; i++) {
        ig_warehouse_close(c->whs[i].w);
        free(c->whs[i].config_body);
    }
    free(c->config_body);
    free(c);
}


/* ------------------------------------------------------------------ routing */

#define MAX_SEGS 8

typedef struct {
    const char *p;
    size_t n;
} seg_t;

static bool seg_is(seg_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* namespaces/{ns}/tables/{t}[/x] and namespaces/{ns}/views/{v}. */
static ig_res_t route_object(call_t *k, ig_obj_kind_t kind, seg_t *s, int n)
{
    ig_req_t *r = k->r;
    ig_error_t err = {0};
    if (cat_name_from_segment(s[3].p, s[3].n, k->name, kind == IG_OBJ_VIEW ? "view name" : "table name", &err))
        return ig_http_error_from(r, &err);
    if (n == 4) {
        switch (r->method) {
        case IG_GET:
            return kind == IG_OBJ_VIEW ? cat_load_view(k) : cat_load_table(k);
        case IG_HEAD:
            return cat_object_exists(k, kind);
        case IG_POST:
            return cat_commit_object(k, kind);
        case IG_DELETE:
            return cat_drop_object(k, kind);
        default:
            return ig_http_not_allowed(r, "GET, HEAD, POST, DELETE");
        }
    }
    if (n == 5 && kind == IG_OBJ_TABLE) {
        if (seg_is(s[4], "metrics"))
            return r->method == IG_POST ? cat_report_metrics(k) : ig_http_not_allowed(r, "POST");
        if (seg_is(s[4], "credentials"))
            return r->method == IG_GET ? cat_load_credentials(k) : ig_http_not_allowed(r, "GET");
        if (seg_is(s[4], "unregister"))
            return r->method == IG_POST ? cat_unregister_table(k) : ig_http_not_allowed(r, "POST");
    }
    return ig_http_no_route(r);
}

static ig_res_t route_namespaces(call_t *k, seg_t *s, int n)
{
    ig_req_t *r = k->r;
    ig_error_t err = {0};
    if (n == 1) {
        if (r->method == IG_GET) return cat_list_namespaces(k);
        if (r->method == IG_POST) return cat_create_namespace(k);
        return ig_http_not_allowed(r, "GET, POST");
    }
    if (cat_ns_from_segment(k, s[1].p, s[1].n, k->ns, &err) || cat_ns_allowed(k, k->ns, &err))
        return ig_http_error_from(r, &err);
    if (n == 2) {
        switch (r->method) {
        case IG_GET:
            return cat_load_namespace(k);
        case IG_HEAD:
            return cat_namespace_exists(k);
        case IG_DELETE:
            return cat_drop_namespace(k);
        default:
            return ig_http_not_allowed(r, "GET, HEAD, DELETE");
        }
    }
    if (n == 3) {
        if (seg_is(s[2], "properties"))
            return r->method == IG_POST ? cat_update_properties(k) : ig_http_not_allowed(r, "POST");
        if (seg_is(s[2], "tables") || seg_is(s[2], "views")) {
            ig_obj_kind_t kind = seg_is(s[2], "views") ? IG_OBJ_VIEW : IG_OBJ_TABLE;
            if (r->method == IG_GET) return cat_list_objects(k, kind);
            if (r->method == IG_POST) return kind == IG_OBJ_VIEW ? cat_create_view(k) : cat_create_table(k);
            return ig_http_not_allowed(r, "GET, POST");
        }
        if (seg_is(s[2], "register"))
            return r->method == IG_POST ? cat_register_object(k, IG_OBJ_TABLE) : ig_http_not_allowed(r, "POST");
        if (seg_is(s[2], "register-view"))
            return r->method == IG_POST ? cat_register_object(k, IG_OBJ_VIEW) : ig_http_not_allowed(r, "POST");
        return ig_http_no_route(r);
    }
    if ((n == 4 || n == 5) && seg_is(s[2], "tables")) return route_object(k, IG_OBJ_TABLE, s, n);
    if (n == 4 && seg_is(s[2], "views")) return route_object(k, IG_OBJ_VIEW, s, n);
    return ig_http_no_route(r);
}

/* The route templates, as the Iceberg REST spec writes them ("*" is a path parameter; the {prefix} form whether
 * or not the client sent a prefix).  template_of names the request's route before anything can fail, so a 400,
 * a 404 for a missing table or an idempotent replay still counts under its route; a path no row matches is
 * "unmatched".  Never client text: these strings are the only route labels the catalog gives. */
typedef struct {
    const char *segs[5]; /* NULL ends */
    const char *tpl;
    unsigned mutations; /* which of POST and DELETE change something: keyed (Idempotency-Key) and gated */
} pattern_t;

#define NS_TPL "/v1/{prefix}/namespaces/{namespace}"
#define P IG_POST
#define D IG_DELETE
static const pattern_t patterns[] = {
    {{"namespaces"}, "/v1/{prefix}/namespaces", P},
    {{"namespaces", "*"}, NS_TPL, D},
    {{"namespaces", "*", "properties"}, NS_TPL "/properties", P},
    {{"namespaces", "*", "tables"}, NS_TPL "/tables", P},
    {{"namespaces", "*", "register"}, NS_TPL "/register", P},
    {{"namespaces", "*", "views"}, NS_TPL "/views", P},
    {{"namespaces", "*", "register-view"}, NS_TPL "/register-view", P},
    {{"namespaces", "*", "tables", "*"}, NS_TPL "/tables/{table}", P | D},
    /* a report changes nothing: neither keyed nor gated */
    {{"namespaces", "*", "tables", "*", "metrics"}, NS_TPL "/tables/{table}/metrics", 0},
    {{"namespaces", "*", "tables", "*", "credentials"}, NS_TPL "/tables/{table}/credentials", 0},
    {{"namespaces", "*", "tables", "*", "unregister"}, NS_TPL "/tables/{table}/unregister", P},
    {{"namespaces", "*", "views", "*"}, NS_TPL "/views/{view}", P | D},
    {{"tables", "rename"}, "/v1/{prefix}/tables/rename", P},
    {{"views", "rename"}, "/v1/{prefix}/views/rename", P},
    {{"transactions", "commit"}, "/v1/{prefix}/transactions/commit", P},
};
#undef P
#undef D

/* The route of the k segments after the prefix, or NULL when no route has that shape. */
static const pattern_t *pattern_of(const seg_t *t, int k)
{
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        const pattern_t *pt = &patterns[i];
        int j = 0;
        while (j < k && j < 5 && pt->segs[j] && (strcmp(pt->segs[j], "*") == 0 || seg_is(t[j], pt->segs[j])))
            j++;
        if (j == k && (j == 5 || !pt->segs[j])) return pt;
    }
    return NULL;
}

static const char *template_of(const seg_t *t, int k)
{
    const pattern_t *pt = pattern_of(t, k);
    return pt ? pt->tpl : NULL;
}

/* 404 "no such route", counted as unmatched even under an exact route of the router ("/v1"). */
static ig_res_t no_route(ig_req_t *r)
{
    r->route = "unmatched";
    return ig_http_no_route(r);
}

static bool is_root_word(seg_t s)
{
    return seg_is(s, "namespaces") || seg_is(s, "tables") || seg_is(s, "views") || seg_is(s, "transactions");
}

static ig_res_t dispatch(ig_req_t *r, ig_catalog_t *c, const cat_wh_t *wh, seg_t *t, int k)
{
    call_t *call = malloc(sizeof *call);
    if (!call) return ig_http_error(r, IG_E_INTERNAL, "out of memory");
    call->r = r;
    call->c = c;
    call->st = c->store;
    call->wh = wh;
    call->ns[0] = call->name[0] = '\0';
    ig_res_t res;
    if (seg_is(t[0], "namespaces"))
        res = route_namespaces(call, t, k);
    else if (k == 2 && seg_is(t[0], "tables") && seg_is(t[1], "rename"))
        res = r->method == IG_POST ? cat_rename_object(call, IG_OBJ_TABLE) : ig_http_not_allowed(r, "POST");
    else if (k == 2 && seg_is(t[0], "views") && seg_is(t[1], "rename"))
        res = r->method == IG_POST ? cat_rename_object(call, IG_OBJ_VIEW) : ig_http_not_allowed(r, "POST");
    else if (k == 2 && seg_is(t[0], "transactions") && seg_is(t[1], "commit"))
        res = r->method == IG_POST ? cat_commit_transaction(call) : ig_http_not_allowed(r, "POST");
    else
        res = ig_http_no_route(r);
    free(call);
    return res;
}


/* A keyed mutation runs dispatch() through the idempotency layer: this carries its segments. */
typedef struct {
    ig_catalog_t *c;
    const cat_wh_t *wh;
    seg_t *t;
    int k;
} keyed_t;

static ig_res_t run_keyed(void *ctx, ig_req_t *r)
{
    keyed_t *kd = ctx;
    return dispatch(r, kd->c, kd->wh, kd->t, kd->k);
}

ig_res_t ig_catalog_oauth(void *ctx, ig_req_t *r)
{
    (void)ctx;
    if (r->method != IG_POST) return ig_http_not_allowed(r, "POST");
    /* The OAuth2 error shape the spec defines for this route (RFC 6749 §5.2), not the Iceberg error model. */
    static const char body[] =
        "{\"error\":\"unsupported_grant_type\",\"error_description\":\"icegate does not issue OAuth2 tokens (the "
        "/v1/oauth/tokens endpoint is deprecated in the Iceberg REST spec): configure your client with an icegate "
        "access token, as the property token=<value> (sent as Authorization: Bearer) or "
        "header.X-API-Token=<value>\"}";
    ig_http_add_header(r, "Cache-Control", "no-store");
    return ig_http_send(r, 400, "application/json", body, sizeof body - 1, true);
}

/* Splits the path after "/v1" into segments: their count, or -1 when there are too many or an empty path. */
static int split(const ig_req_t *r, seg_t s[MAX_SEGS + 1])
{
    const char *p = r->path + 3; /* after "/v1" */
    size_t len = r->path_len - 3;
    int n = 0;
    while (len > 0) {
        if (*p != '/' || n == MAX_SEGS) return -1;
        p++;
        len--;
        const char *e = memchr(p, '/', len);
        size_t sl = e ? (size_t)(e - p) : len;
        s[n++] = (seg_t){p, sl};
        p += sl;
        len -= sl;
    }
    return n;
}

/* The template of the segments and where the route words start (after an optional warehouse prefix). */
static const char *template_of_path(const seg_t *s, int n, int *base)
{
    if (n == 1 && seg_is(s[0], "config")) return "/v1/config";
    *base = n > 0 && !is_root_word(s[0]) ? 1 : 0; /* /v1/{prefix}/...: the prefix names the warehouse */
    return n > *base ? template_of(s + *base, n - *base) : NULL;
}

const char *ig_catalog_route(const ig_req_t *r)
{
    seg_t s[MAX_SEGS + 1];
    int base = 0, n = split(r, s);
    const char *tpl = n > 0 ? template_of_path(s, n, &base) : NULL;
    return tpl ? tpl : "unmatched";
}

ig_res_t ig_catalog_handle(void *ctx, ig_req_t *r)
{
    ig_catalog_t *c = ctx;
    seg_t s[MAX_SEGS + 1];
    int base = 0, n = split(r, s);
    const char *tpl = n > 0 ? template_of_path(s, n, &base) : NULL;
    if (!tpl) return no_route(r);
    r->route = tpl;
    if (strcmp(tpl, "/v1/config") == 0) {
        if (r->method != IG_GET && r->method != IG_HEAD) return ig_http_not_allowed(r, "GET");
        return cat_get_config(r, c);
    }
    const cat_wh_t *wh = &c->whs[0];
    if (base) {
        char pre[IG_LOCATION_MAX];
        int i = ig_http_decode(s[0].p, s[0].n, pre, sizeof pre) ? c->nwh : 0;
        while (i < c->nwh && strcmp(pre, ig_warehouse_name(c->whs[i].w)) != 0) i++;
        if (i == c->nwh)
            return ig_http_error(r, IG_E_NO_SUCH_WAREHOUSE,
                                 "The given warehouse does not exist: %.*s",
                                 (int)(s[0].n > 200 ? 200 : s[0].n), s[0].p);
        wh = &c->whs[i];
    }
    seg_t *t = s + base;
    int k = n - base;
    /* Only a mutation the route has is keyed: any other method gets its 405, never a key's answer. */
    const pattern_t *pt = pattern_of(t, k);
    /* Mutations (commits, creates, drops with purge: the requests that can take long) pass the transport's
     * gate, so they never occupy every worker. */
    ig_res_t parked;
    if (pt && (pt->mutations & r->method) && !r->deferred && !ig_http_gate(r, &parked)) return parked;
    const char *ik = pt && (pt->mutations & r->method) ? ig_http_header(r, "Idempotency-Key") : NULL;
    if (ik) {
        keyed_t kd = {c, wh, t, k};
        return ig_idempotency_run(c->idem, r, ik, run_keyed, &kd);
    }
    return dispatch(r, c, wh, t, k);
}

const char *ig_catalog_warehouse_name(const ig_catalog_t *c)
{
    return ig_warehouse_name(c->whs[0].w);
}

unsigned ig_catalog_scope(const ig_req_t *r)
{
    static const char report[] = "/tables/{table}/metrics"; /* a metrics report changes nothing */
    size_t n = strlen(r->route), rl = sizeof report - 1;
    if (r->method == IG_GET || r->method == IG_HEAD) return IG_SCOPE_READ;
    if (r->method == IG_POST && n >= rl && strcmp(r->route + n - rl, report) == 0) return IG_SCOPE_READ;
    return IG_SCOPE_WRITE;
}

ig_cost_class_t ig_catalog_cost(const ig_req_t *r)
{
    if (ig_catalog_scope(r) == IG_SCOPE_READ) return IG_COST_READ;
    if (r->method == IG_POST &&
        (strcmp(r->route, NS_TPL "/tables/{table}") == 0 || strcmp(r->route, "/v1/{prefix}/transactions/commit") == 0))
        return IG_COST_COMMIT;
    return IG_COST_WRITE;
}
