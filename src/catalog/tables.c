/* catalog/tables — create (and stage-create), load, exists, drop (with purge), rename, register, unregister,
 * metrics reports and credentials of tables; rename and register serve views too. */
#include "catalog/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "iceberg/tablemeta.h"
#include "iceberg/viewmeta.h"
#include "warehouse/warehouse.h"

/* ------------------------------------------------------------------ tables */

#define MAX_PURGE_BASES 64 /* locations of one table a purge deletes (a set-location each); more are kept */

/* The location of a new object: canonical in out (what icegate writes to and compares), and as the metadata
 * shows it in shown.  A requested location is shown as the client spelled it ("file:/tmp/t" stays so, as in
 * Iceberg's catalogs; only trailing slashes go), since clients compare table.location() with what they
 * asked for; the warehouse reads every spelling of a path inside it. */
static int resolve_location(call_t *k, json_object *req, char *out, char *shown, ig_error_t *err)
{
    json_object *v;
    if (json_object_object_get_ex(req, "location", &v) && v) {
        if (!json_object_is_type(v, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "'location' must be a string");
        const char *s = json_object_get_string(v);
        if (ig_warehouse_canonical(k->wh->w, s, out, IG_LOCATION_MAX, err)) return -1;
        size_t n = strlen(s);
        while (n > 1 && s[n - 1] == '/') n--;
        if (n >= IG_LOCATION_MAX) n = 0; /* cannot happen: canonical refused longer ones */
        memcpy(shown, s, n);
        shown[n] = '\0';
        if (!n) snprintf(shown, IG_LOCATION_MAX, "%s", out);
        return 0;
    }
    if (cat_default_location(k, k->ns, k->name, out, err)) return -1;
    snprintf(shown, IG_LOCATION_MAX, "%s", out);
    return 0;
}

int cat_req_name(json_object *req, char *out, ig_error_t *err)
{
    json_object *v;
    if (!json_object_object_get_ex(req, "name", &v) || !json_object_is_type(v, json_type_string))
        return ig_error_set(err, IG_E_BAD_REQUEST, "missing or non-string 'name'");
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n) return ig_error_set(err, IG_E_BAD_REQUEST, "name contains a NUL byte");
    if (cat_check_ident(s, n, "name", err)) return -1;
    memcpy(out, s, n + 1);
    return 0;
}

int cat_create_target(call_t *k, json_object *req, ig_obj_kind_t kind, char *loc, char *shown, ig_error_t *err)
{
    if (cat_req_name(req, k->name, err) || cat_ns_exists(k, k->ns, err) ||
        cat_name_free(k, k->ns, k->name, kind, err))
        return -1;
    return resolve_location(k, req, loc, shown, err);
}

/* Refuses, before anything is written, a location that overlaps a live object's (DESIGN.md §6); the swap
 * checks again under the store's lock. */
static int location_free(call_t *k, const char *base, ig_error_t *err)
{
    char who[512];
    if (k->c->allow_overlap) return 0;
    int o = k->st->ops->obj_overlap(k->st, base, k->ns, k->name, who, sizeof who, err);
    return o <= 0 ? o : ig_store_err_overlap(err, base, who);
}

/* Writes the first metadata file of a new object and creates it, holding its location (loclock.c). */
static int create_locked(call_t *k, ig_obj_kind_t kind, json_object *meta, const char *text, size_t tl, char *mloc,
                         ig_error_t *err)
{
    char base[IG_LOCATION_MAX + 1];
    const char *bases[1] = {base};
    if (cat_base_of(k->wh->w, meta, base, err)) return -1;
    if (cat_loc_lock(k->c, bases, 1, false)) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    int rc = location_free(k, base, err) ? -1 : cat_write_metadata(k->wh->w, meta, 0, text, tl, mloc, err);
    if (rc == 0) {
        ig_obj_swap_t sw = {.ns = k->ns, .name = k->name, .kind = kind, .expected_location = NULL,
                            .new_location = mloc, .new_base = base, .check_overlap = !k->c->allow_overlap};
        ig_meta_file_t file = {.location = mloc, .body = text, .len = tl};
        size_t nf = k->c->lazy && k->wh->w->lazy ? 1 : 0;
        if ((rc = k->st->ops->obj_swap(k->st, &sw, 1, &file, nf, err))) {
            ig_error_t e2;
            ig_warehouse_remove(k->wh->w, mloc, &e2);
        } else if (nf) {
            cat_pending_note(k->c);
        }
    }
    cat_loc_unlock(k->c, bases, 1);
    return rc;
}

ig_res_t cat_create_with_meta(call_t *k, ig_obj_kind_t kind, json_object *meta)
{
    ig_error_t err = {0};
    char mloc[IG_LOCATION_MAX];
    const char *text = ig_tablemeta_to_string(meta);
    size_t tl = strlen(text);
    if (create_locked(k, kind, meta, text, tl, mloc, &err)) return ig_http_error_from(k->r, &err);
    return cat_send_new(k, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, mloc, text, tl);
}

ig_res_t cat_create_table(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *v, *meta = NULL;
    char loc[IG_LOCATION_MAX], shown[IG_LOCATION_MAX], uuid[37];
    if (!req) return ig_http_error_from(k->r, &err);
    bool stage = json_object_object_get_ex(req, "stage-create", &v) && json_object_get_boolean(v);
    if (cat_create_target(k, req, IG_OBJ_TABLE, loc, shown, &err)) goto bad;
    ig_uuid4(uuid);
    if (ig_tablemeta_create(req, shown, uuid, ig_clock_wall_ms(), &meta, &err)) goto bad;
    json_object_put(req);
    ig_res_t res;
    if (stage) {
        /* Nothing is written: the client commits the whole creation later with assert-create. */
        size_t len, off;
        const char *text = ig_tablemeta_to_string(meta);
        char *body = cat_build_body(NULL, text, strlen(text), &len, &off);
        res = body ? ig_http_send(k->r, 200, "application/json", body, len, false)
                   : ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
        free(body);
    } else {
        res = cat_create_with_meta(k, IG_OBJ_TABLE, meta);
    }
    json_object_put(meta);
    return res;
bad:
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

ig_res_t cat_load_table(call_t *k)
{
    ig_error_t err = {0};
    char snaps[16], loc[IG_LOCATION_MAX];
    char variant = V_TABLE_ALL;
    int q = ig_http_query(k->r, "snapshots", snaps, sizeof snaps);
    if (q < 0 || (q == 1 && strcmp(snaps, "all") != 0 && strcmp(snaps, "refs") != 0))
        return ig_http_error(k->r, IG_E_BAD_REQUEST, "snapshots must be 'all' or 'refs'");
    if (q == 1 && strcmp(snaps, "refs") == 0) variant = V_TABLE_REFS;
    if (cat_obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return ig_http_error_from(k->r, &err);
    return cat_send_object(k, variant, loc, true);
}

ig_res_t cat_object_exists(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (cat_obj_location(k, k->ns, k->name, kind, loc, &err)) return ig_http_error_from(k->r, &err);
    return ig_http_no_content(k->r);
}

/* The locations a purge deletes: every one the table has had (its files may be in each), or for a table the
 * store knows none of (one registered before locations were kept) the location its metadata names. */
typedef struct {
    char *v[MAX_PURGE_BASES];
    size_t n;
} bases_t;

static int add_base(void *ud, const char *base)
{
    bases_t *b = ud;
    if (b->n < MAX_PURGE_BASES && (b->v[b->n] = strdup(base))) b->n++;
    return 0;
}

static void purge_bases(call_t *k, const char *loc, bases_t *b)
{
    ig_error_t err = {0};
    char shown[NS_MAX + 1];
    ig_store_ns_shown(k->ns, shown, sizeof shown);
    if (k->st->ops->obj_bases(k->st, k->ns, k->name, add_base, b, &err))
        ig_warn("catalog: purge of %s.%s: %s", shown, k->name, err.message);
    if (b->n) return;
    centry_t *e = cat_load_entry(k->c, V_TABLE_ALL, loc, &err);
    json_object *m = e ? cat_parse_meta(e->body + e->meta_off, e->meta_len, &err) : NULL;
    cat_cache_release(&k->c->cache, e);
    char base[IG_LOCATION_MAX + 1];
    if (m && cat_base_of(k->wh->w, m, base, &err) == 0) add_base(b, base);
    else ig_warn("catalog: purge of %s.%s: cannot read its metadata: %s", shown, k->name, err.message);
    json_object_put(m);
}

/* Keeps in b the locations no other live object has or had a location equal to, inside or above (some files
 * there may be that object's): those are skipped now, with a warning the request's id goes with.  The purger
 * checks again when it runs. */
static void drop_overlapping(call_t *k, bases_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        ig_error_t err = {0};
        char who[512];
        int o = k->st->ops->obj_overlap(k->st, b->v[i], k->ns, k->name, who, sizeof who, &err);
        if (o > 0) ig_warn("catalog: purge of %.*s skipped: it overlaps the location of %s", (int)strlen(b->v[i]) - 1,
                           b->v[i], who);
        if (o > 0) free(b->v[i]);
        else b->v[n++] = b->v[i];
    }
    b->n = n;
}

/* Drops the table and queues the deletion of its locations in the same store transaction: the purger
 * (purge.c) deletes the files after the answer, and after a crash (DESIGN.md §6). */
static int drop_purge(call_t *k, const char *loc, ig_error_t *err)
{
    bases_t b = {.n = 0};
    purge_bases(k, loc, &b);
    drop_overlapping(k, &b);
    int rc = k->st->ops->obj_drop(k->st, k->ns, k->name, IG_OBJ_TABLE, (const char *const *)b.v, b.n, err);
    if (rc == 0 && b.n) cat_purge_kick(k->c);
    for (size_t i = 0; i < b.n; i++) free(b.v[i]);
    return rc;
}

ig_res_t cat_drop_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    char q[16], loc[IG_LOCATION_MAX];
    bool purge = false;
    if (kind == IG_OBJ_TABLE) {
        int g = ig_http_query(k->r, "purgeRequested", q, sizeof q);
        if (g < 0 || (g == 1 && strcasecmp(q, "true") != 0 && strcasecmp(q, "false") != 0))
            return ig_http_error(k->r, IG_E_BAD_REQUEST, "purgeRequested must be true or false");
        purge = g == 1 && strcasecmp(q, "true") == 0;
    }
    if (cat_obj_location(k, k->ns, k->name, kind, loc, &err)) return ig_http_error_from(k->r, &err);
    int rc = purge ? drop_purge(k, loc, &err) : k->st->ops->obj_drop(k->st, k->ns, k->name, kind, NULL, 0, &err);
    if (rc == IG_STORE_NOTFOUND) cat_no_object(&err, kind, k->ns, k->name);
    if (rc) return ig_http_error_from(k->r, &err);
    return ig_http_no_content(k->r);
}

ig_res_t cat_rename_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *src, *dst;
    char fns[NS_MAX + 1], fname[IDENT_MAX + 1], tns[NS_MAX + 1], tname[IDENT_MAX + 1];
    if (!req) return ig_http_error_from(k->r, &err);
    if (!json_object_object_get_ex(req, "source", &src) ||
        !json_object_object_get_ex(req, "destination", &dst)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'source' and 'destination' are required");
        goto bad;
    }
    if (cat_ident_from_json(k, src, fns, fname, "source", &err) ||
        cat_ident_from_json(k, dst, tns, tname, "destination", &err) || cat_ns_allowed(k, fns, &err) ||
        cat_ns_allowed(k, tns, &err))
        goto bad;
    json_object_put(req);
    if (k->st->ops->obj_rename(k->st, fns, fname, tns, tname, kind, &err)) return ig_http_error_from(k->r, &err);
    return ig_http_no_content(k->r);
bad:
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

ig_res_t cat_register_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *v, *meta = NULL;
    char mloc[IG_LOCATION_MAX], cur[IG_LOCATION_MAX], base[IG_LOCATION_MAX + 1];
    char *text = NULL;
    size_t tl = 0;
    bool overwrite = false;
    if (!req) return ig_http_error_from(k->r, &err);
    if (cat_req_name(req, k->name, &err)) goto bad;
    if (!json_object_object_get_ex(req, "metadata-location", &v) ||
        !json_object_is_type(v, json_type_string)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "missing or non-string 'metadata-location'");
        goto bad;
    }
    if (ig_warehouse_canonical(k->wh->w, json_object_get_string(v), mloc, sizeof mloc, &err)) goto bad;
    if (kind == IG_OBJ_TABLE && json_object_object_get_ex(req, "overwrite", &v))
        overwrite = json_object_get_boolean(v);
    if (cat_ns_exists(k, k->ns, &err)) goto bad;
    if (ig_warehouse_read(k->wh->w, mloc, &text, &tl, &err)) {
        if (ig_error_status(&err) == 404)
            ig_error_set(&err, IG_E_BAD_REQUEST, "metadata file does not exist: %.300s", mloc);
        goto bad;
    }
    if (!(meta = cat_parse_meta(text, tl, &err))) goto bad;
    if ((kind == IG_OBJ_VIEW ? ig_viewmeta_validate(meta, &err) : ig_tablemeta_validate(meta, &err)))
        goto bad;
    if (cat_base_of(k->wh->w, meta, base, &err)) goto bad;
    ig_obj_swap_t sw = {.ns = k->ns, .name = k->name, .kind = kind, .expected_location = NULL,
                        .new_location = mloc, .new_base = base, .check_overlap = !k->c->allow_overlap};
    if (overwrite) {
        int rc = k->st->ops->obj_get(k->st, k->ns, k->name, IG_OBJ_TABLE, NULL, cur, sizeof cur, &err);
        if (rc < 0) goto bad;
        if (rc == 0) sw.expected_location = cur;
    }
    const char *bases[1] = {base};
    if (cat_loc_lock(k->c, bases, 1, false)) {
        ig_error_set(&err, IG_E_INTERNAL, "out of memory");
        goto bad;
    }
    int swapped = k->st->ops->obj_swap(k->st, &sw, 1, NULL, 0, &err);
    cat_loc_unlock(k->c, bases, 1);
    if (swapped) goto bad;
    ig_res_t res = cat_send_new(k, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, mloc, text, tl);
    free(text);
    json_object_put(meta);
    json_object_put(req);
    return res;
bad:
    free(text);
    json_object_put(meta);
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

ig_res_t cat_unregister_table(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (cat_obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return ig_http_error_from(k->r, &err);
    centry_t *e = cat_load_entry(k->c, V_TABLE_ALL, loc, &err);
    if (!e) return ig_http_error_from(k->r, &err);
    int rc = k->st->ops->obj_drop(k->st, k->ns, k->name, IG_OBJ_TABLE, NULL, 0, &err);
    if (rc == IG_STORE_NOTFOUND) cat_no_object(&err, IG_OBJ_TABLE, k->ns, k->name);
    ig_res_t res =
        rc ? ig_http_error_from(k->r, &err) : ig_http_send(k->r, 200, "application/json", e->body, e->len, false);
    cat_cache_release(&k->c->cache, e);
    return res;
}

/* A report needs its namespace, not its table: inside a staged create (CTAS) the Java client reports a scan
 * before the table exists, and Iceberg's reference adapter accepts it.  Its body must say what it is
 * (report-type scan-report or commit-report, as ReportMetricsRequest requires); what it reports is not kept. */
ig_res_t cat_report_metrics(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err);
    if (!req) return ig_http_error_from(k->r, &err);
    const char *type = cat_meta_str(req, "report-type");
    bool known = type && (strcmp(type, "scan-report") == 0 || strcmp(type, "commit-report") == 0);
    json_object_put(req);
    if (cat_ns_exists(k, k->ns, &err)) return ig_http_error_from(k->r, &err);
    if (!known)
        return ig_http_error(k->r, IG_E_BAD_REQUEST, "metrics report: 'report-type' must be \"scan-report\" or "
                                                    "\"commit-report\"");
    return ig_http_no_content(k->r);
}

static const char no_credentials[] = "{\"storage-credentials\":[]}";

ig_res_t cat_load_credentials(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX], prefix[IG_LOCATION_MAX];
    if (cat_obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return ig_http_error_from(k->r, &err);
    centry_t *e = cat_load_entry(k->c, V_TABLE_ALL, loc, &err);
    if (!e) return ig_http_error_from(k->r, &err);
    ig_buf_t cfg;
    ig_buf_init(&cfg, 512);
    int v = cat_vend(k, e->body + e->meta_off, e->meta_len, &cfg, prefix, sizeof prefix, &err);
    cat_cache_release(&k->c->cache, e);
    if (v != 1) {
        if (cfg.data) memset(cfg.data, 0, cfg.len);
        ig_buf_free(&cfg);
        if (v < 0) return ig_http_error_from(k->r, &err);
        return ig_http_send(k->r, 200, "application/json", no_credentials, sizeof no_credentials - 1, true);
    }
    ig_buf_t out;
    ig_buf_init(&out, cfg.len + 256);
    static const char head[] = "{\"storage-credentials\":[{\"prefix\":";
    ig_buf_append(&out, head, sizeof head - 1);
    ig_buf_json_string(&out, prefix, strlen(prefix));
    ig_buf_printf(&out, ",\"config\":{%.*s}}]}", (int)cfg.len, cfg.data);
    memset(cfg.data, 0, cfg.len);
    ig_buf_free(&cfg);
    size_t len = 0;
    char *body = ig_buf_take(&out, &len);
    if (!body) return ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
    ig_http_add_header(k->r, "Cache-Control", "no-store");
    ig_res_t res = ig_http_send(k->r, 200, "application/json", body, len, false); /* copied */
    memset(body, 0, len);
    free(body);
    return res;
}

