/* catalog/common — what every catalog route uses: identifiers and namespaces from paths and bodies, the
 * "does not exist" errors, request bodies, and the store lookups behind them. */
#include "catalog/internal.h"

#include "core/nsallow.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/warehouse.h"

/* ns for messages: levels joined by '.'. */
int cat_no_namespace(ig_error_t *err, const char *ns)
{
    return ig_store_err_no_ns(err, ns);
}

int cat_no_object(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name)
{
    return ig_store_err_no_obj(err, kind, ns, name);
}

int cat_ns_allowed(const call_t *k, const char *ns, ig_error_t *err)
{
    const ig_principal_t *who = &k->r->who;
    ns = ig_store_ns_untagged(ns); /* a token's namespaces are the same in every warehouse */
    if (ig_ns_within(who->ns_allow, ns)) return 0;
    char list[256], b[NS_MAX + 1];
    ig_ns_allow_text(who->ns_allow, list, sizeof list);
    return ig_error_set(err, IG_E_FORBIDDEN,
                        "access token '%s' is limited to the namespaces %s (and what is below them): %s is outside "
                        "them", who->token_id, list, ig_store_ns_shown(ns, b, sizeof b));
}

int cat_check_ident(const char *s, size_t n, const char *what, ig_error_t *err)
{
    if (n == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s must not be empty", what);
    if (n > IDENT_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s is longer than %d bytes", what, IDENT_MAX);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned char ch = *p;
        if (ch < 0x20 || ch == 0x7f)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s contains a control character", what);
        size_t len = ig_utf8_len(p, (size_t)(end - p));
        if (!len) return ig_error_set(err, IG_E_BAD_REQUEST, "%s is not valid UTF-8", what);
        p += len;
    }
    return 0;
}

int cat_check_ns(const char *ns, ig_error_t *err)
{
    size_t levels = 0;
    const char *p = ns;
    for (;;) {
        const char *e = strchr(p, 0x1f);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (cat_check_ident(p, n, "namespace level", err)) return -1;
        if (++levels > LEVELS_MAX)
            return ig_error_set(err, IG_E_BAD_REQUEST, "namespace has more than %d levels",
                                LEVELS_MAX);
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int cat_ns_key(const call_t *k, char *ns, ig_error_t *err)
{
    size_t tl = k->wh->tag_len, n = strlen(ns);
    if (!tl) return 0;
    if (tl + n > NS_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespace is longer than %zu bytes (in this warehouse)",
                            NS_MAX - tl);
    memmove(ns + tl, ns, n + 1);
    memcpy(ns, k->wh->tag, tl);
    return 0;
}

int cat_ns_from_segment(const call_t *k, const char *seg, size_t len, char *out, ig_error_t *err)
{
    if (ig_http_decode(seg, len, out, NS_MAX + 1))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "namespace in the path is too long or badly encoded");
    return cat_check_ns(out, err) || cat_ns_key(k, out, err) ? -1 : 0;
}

int cat_name_from_segment(const char *seg, size_t len, char *out, const char *what, ig_error_t *err)
{
    if (ig_http_decode(seg, len, out, IDENT_MAX + 1))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s in the path is too long or badly encoded",
                            what);
    return cat_check_ident(out, strlen(out), what, err);
}

int cat_ns_from_json(const call_t *k, json_object *arr, char *out, const char *what, ig_error_t *err)
{
    if (!arr || !json_object_is_type(arr, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an array of strings", what);
    size_t n = json_object_array_length(arr), len = 0;
    if (n == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s must not be empty", what);
    if (n > LEVELS_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s has more than %d levels", what, LEVELS_MAX);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(s, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an array of strings", what);
        const char *v = json_object_get_string(s);
        size_t vl = (size_t)json_object_get_string_len(s);
        if (strlen(v) != vl)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s contains a NUL byte", what);
        if (cat_check_ident(v, vl, "namespace level", err)) return -1;
        if (len + vl + 2 > NS_MAX)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s is longer than %d bytes", what, NS_MAX);
        if (i) out[len++] = 0x1f;
        memcpy(out + len, v, vl);
        len += vl;
    }
    out[len] = '\0';
    return cat_ns_key(k, out, err);
}

json_object *cat_ns_to_json(const char *ns)
{
    json_object *a = json_object_new_array();
    const char *p = ig_store_ns_untagged(ns);
    for (;;) {
        const char *e = strchr(p, 0x1f);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_object_array_add(a, json_object_new_string_len(p, (int)n));
        if (!e) break;
        p = e + 1;
    }
    return a;
}

int cat_ident_from_json(const call_t *k, json_object *o, char *ns, char *name, const char *what, ig_error_t *err)
{
    json_object *jns, *jname;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "namespace", &jns) ||
        !json_object_object_get_ex(o, "name", &jname) || !json_object_is_type(jname, json_type_string))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "%s must be an object with 'namespace' and 'name'", what);
    if (cat_ns_from_json(k, jns, ns, "namespace", err)) return -1;
    const char *v = json_object_get_string(jname);
    size_t vl = (size_t)json_object_get_string_len(jname);
    if (strlen(v) != vl || cat_check_ident(v, vl, "name", err)) {
        if (strlen(v) != vl) ig_error_set(err, IG_E_BAD_REQUEST, "name contains a NUL byte");
        return -1;
    }
    memcpy(name, v, vl + 1);
    return 0;
}

json_object *cat_ident_to_json(const char *ns, const char *name)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", cat_ns_to_json(ns));
    json_object_object_add(o, "name", json_object_new_string(name));
    return o;
}

json_object *cat_body_object(ig_req_t *r, ig_error_t *err)
{
    json_object *o = ig_http_body_json(r, err);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object");
        return NULL;
    }
    return o;
}


json_object *cat_parse_meta(const char *text, size_t len, ig_error_t *err)
{
    json_tokener *tok = json_tokener_new_ex(META_DEPTH);
    if (!tok) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success || !o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ig_error_set(err, IG_E_BAD_REQUEST, "metadata file is not a JSON object: %s",
                     e != json_tokener_success ? json_tokener_error_desc(e) : "wrong type");
        return NULL;
    }
    return o;
}

const char *cat_meta_str(json_object *m, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

/* The folder the next metadata file of meta goes to, as the client spelled it: write.metadata.path when set,
 * else <location>/metadata.  Trailing slashes go. */
static int metadata_dir(json_object *meta, char *out, ig_error_t *err)
{
    json_object *props = NULL;
    json_object_object_get_ex(meta, "properties", &props);
    const char *p = cat_meta_str(props, "write.metadata.path"), *loc = cat_meta_str(meta, "location");
    int n = p && p[0] ? snprintf(out, IG_LOCATION_MAX, "%s", p)
                      : snprintf(out, IG_LOCATION_MAX, "%s/metadata", loc ? loc : "");
    if (n < 0 || n >= IG_LOCATION_MAX) return ig_error_set(err, IG_E_BAD_REQUEST, "metadata location is too long");
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    return 0;
}

/* The canonical metadata folder of meta (<location>/metadata or write.metadata.path) into canon. */
static int metadata_folder(ig_warehouse_t *wh, json_object *meta, char *dir, char *canon, ig_error_t *err)
{
    if (metadata_dir(meta, dir, err)) return -1;
    json_object *props = NULL;
    json_object_object_get_ex(meta, "properties", &props);
    bool custom = cat_meta_str(props, "write.metadata.path") != NULL;
    if (ig_warehouse_canonical(wh, dir, canon, IG_LOCATION_MAX, err) == 0) return 0;
    if (!custom) return -1;
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    return ig_error_set(err, IG_E_BAD_REQUEST, "write.metadata.path: %.400s", why);
}

/* The file's location in the folder's own spelling ("file:/tmp/t/metadata/00001-....metadata.json"), as
 * Iceberg's catalogs build it by concatenation; the warehouse reads every spelling of a path inside it. */
static void shown_location(const char *dir, char *out)
{
    const char *name = strrchr(out, '/');
    char shown[IG_LOCATION_MAX];
    if (name && (size_t)snprintf(shown, sizeof shown, "%s%s", dir, name) < sizeof shown)
        memcpy(out, shown, strlen(shown) + 1);
}

int cat_write_metadata(ig_warehouse_t *wh, json_object *meta, int64_t version, const char *text, size_t len,
                       char *out, ig_error_t *err)
{
    char dir[IG_LOCATION_MAX], canon[IG_LOCATION_MAX];
    if (metadata_folder(wh, meta, dir, canon, err) ||
        ig_warehouse_write_metadata(wh, canon, version, text, len, out, IG_LOCATION_MAX, err))
        return -1;
    shown_location(dir, out);
    return 0;
}

ig_wh_staged_t *cat_stage_metadata(ig_warehouse_t *wh, json_object *meta, int64_t version, const char *text,
                                   size_t len, char *out, ig_error_t *err)
{
    char dir[IG_LOCATION_MAX], canon[IG_LOCATION_MAX];
    if (metadata_folder(wh, meta, dir, canon, err)) return NULL;
    ig_wh_staged_t *p = ig_warehouse_stage(wh, canon, version, text, len, out, IG_LOCATION_MAX, err);
    if (p) shown_location(dir, out);
    return p;
}

int cat_ns_exists(call_t *k, const char *ns, ig_error_t *err)
{
    int rc = k->st->ops->ns_get(k->st, ns, NULL, err);
    if (rc == IG_STORE_NOTFOUND) return cat_no_namespace(err, ns);
    return rc;
}

int cat_obj_location(call_t *k, const char *ns, const char *name, ig_obj_kind_t kind, char *loc,
                        ig_error_t *err)
{
    int rc = k->st->ops->obj_get(k->st, ns, name, kind, NULL, loc, IG_LOCATION_MAX, err);
    if (rc == IG_STORE_NOTFOUND) return cat_no_object(err, kind, ns, name);
    return rc;
}

int cat_name_free(call_t *k, const char *ns, const char *name, ig_obj_kind_t wanted, ig_error_t *err)
{
    ig_obj_kind_t kind;
    int rc = k->st->ops->obj_get(k->st, ns, name, 0, &kind, NULL, 0, err);
    if (rc < 0) return -1;
    if (rc == 0) return ig_store_err_exists(err, kind, wanted, ns, name);
    return 0;
}

/* 1 when loc (no trailing '/') overlaps a live object's location, 0 when not, -1. */
static int default_taken(call_t *k, const char *loc, ig_error_t *err)
{
    char base[IG_LOCATION_MAX + 1], who[256];
    snprintf(base, sizeof base, "%s/", loc);
    return k->st->ops->obj_overlap(k->st, base, NULL, NULL, who, sizeof who, err);
}

/* The default location is <warehouse>/<levels>/<name>, but table t of namespace a and the tables of namespace
 * a.t would nest in one another.  A default that overlaps a live object takes a "-<8 hex>" suffix: on the
 * name when something lives at or below it, else on the deepest namespace level that gets it clear of the
 * object above (the store checks again at the swap; this only keeps a default create from being refused). */
int cat_default_location(call_t *k, const char *ns, const char *name, char *out, ig_error_t *err)
{
    char buf[NS_MAX + 1], alt[IDENT_MAX + 12], hex[10];
    const char *levels[LEVELS_MAX];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", ig_store_ns_untagged(ns));
    char *p = buf;
    for (;;) {
        levels[n++] = p;
        char *e = strchr(p, 0x1f);
        if (!e || n == LEVELS_MAX) break;
        *e = '\0';
        p = e + 1;
    }
    /* attempt 0: as it is; 1: the name suffixed; 2..n+1: level n+1-attempt suffixed */
    for (size_t attempt = 0; attempt <= n + 1; attempt++) {
        const char *leaf = name, *saved = NULL;
        size_t at = n + 1 - attempt;
        unsigned char rnd[4];
        ig_random_bytes(rnd, sizeof rnd);
        snprintf(hex, sizeof hex, "-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
        if (attempt == 1) {
            snprintf(alt, sizeof alt, "%s%s", name, hex);
            leaf = alt;
        } else if (attempt >= 2) {
            saved = levels[at];
            snprintf(alt, sizeof alt, "%s%s", saved, hex);
            levels[at] = alt;
        }
        int rc = ig_warehouse_default_location(k->wh->w, levels, n, leaf, out, IG_LOCATION_MAX, err);
        if (saved) levels[at] = saved;
        if (rc) return -1;
        if (k->c->allow_overlap) return 0;
        int t = default_taken(k, out, err);
        if (t <= 0) return t;
    }
    return ig_error_set(err, IG_E_ALREADY_EXISTS, "no default location for %s is clear of other tables and views",
                        name);
}

ig_warehouse_t *cat_wh_of(const ig_catalog_t *c, const char *loc)
{
    char canon[IG_LOCATION_MAX];
    ig_error_t e;
    for (int i = 1; i < c->nwh; i++) /* roots never overlap (checked at start): at most one holds loc */
        if (ig_warehouse_canonical(c->whs[i].w, loc, canon, sizeof canon, &e) == 0) return c->whs[i].w;
    return c->whs[0].w;
}
