/* icemeta — see icemeta.h.  This file holds the JSON side: the depth/NaN check, the checked and tolerant
 * accessors, schema checks, id helpers and canonical key order; icemeta_commit.c holds the create/commit
 * side.  Schema checks walk the type tree recursively; the recursion is bounded by IG_ICEMETA_MAX_DEPTH so a
 * hostile document cannot exhaust the stack even if the caller skipped ig_icemeta_check_depth. */
#include "iceberg/icemeta.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


/* ---------- depth ---------- */

/* True for an integer json-c clamped: above INT64_MAX it keeps the value as unsigned (up to UINT64_MAX, where
 * it clamps again) and get_int64 answers INT64_MAX, so a 2^63 snapshot id would be stored as 2^63 - 1. */
static bool beyond_int64(json_object *o)
{
    return json_object_get_int64(o) == INT64_MAX && json_object_get_uint64(o) != (uint64_t)INT64_MAX;
}

/* The members the Iceberg spec types as int (32 bits): schema, field, spec, partition-field and sort-order ids,
 * format and view versions.  Java reads them with an int parser and fails on anything larger; here a value
 * outside int32 is refused by name instead of being stored for other clients to choke on. */
static bool int32_key(const char *k)
{
    static const char *const keys[] = {
        "current-schema-id", "current-version-id", "default-sort-order-id", "default-spec-id", "element-id",
        "field-id", "format-version", "id", "identifier-field-ids", "key-id", "last-column-id",
        "last-partition-id", "order-id", "schema-id", "source-id", "source-ids", "spec-id", "value-id",
        "version-id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0) return true;
    return false;
}

static bool beyond_int32(json_object *v)
{
    if (!json_object_is_type(v, json_type_int)) return false;
    int64_t x = json_object_get_int64(v);
    return x < INT32_MIN || x > INT32_MAX || beyond_int64(v);
}

/* 4 when member k holds an int32 value (or array of them) outside int32, else 0. */
static int check_int32(const char *k, json_object *v)
{
    if (!int32_key(k)) return 0;
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (beyond_int32(json_object_array_get_idx(v, i))) return 4;
        return 0;
    }
    return beyond_int32(v) ? 4 : 0;
}

/* 0 ok, 1 nested too deep, 2 a number that is not finite (json-c reads NaN/Infinity even in strict mode,
 * and would write them back as invalid JSON), 3 an integer outside int64, 4 an int32 field outside int32
 * (*key names the field for 3 and 4). */
static int walk(json_object *o, int depth, const char **key)
{
    int r;
    if (depth > IG_ICEMETA_MAX_DEPTH) return 1;
    switch (json_object_get_type(o)) {
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            if (v && ((r = check_int32(k, v)) != 0 || (r = walk(v, depth + 1, key)) != 0)) {
                if ((r == 3 || r == 4) && !*key) *key = k;
                return r;
            }
        }
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(o, i);
            if (v && (r = walk(v, depth + 1, key)) != 0) return r;
        }
        break;
    }
    case json_type_double:
        if (!isfinite(json_object_get_double(o))) return 2;
        break;
    case json_type_int:
        if (beyond_int64(o)) return 3;
        break;
    default:
        break;
    }
    return 0;
}

int ig_icemeta_check_depth(json_object *o, ig_error_t *err)
{
    const char *key = NULL;
    int r = o ? walk(o, 1, &key) : 0;
    if (r == 3)
        return ig_error_set(err, IG_E_BAD_REQUEST, "field '%.100s': integer outside the 64-bit range (never clamped)",
                            key ? key : "(array element)");
    if (r == 4)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "field '%.100s': integer outside the 32-bit range the Iceberg spec gives it", key);
    if (r == 1)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "JSON document nested deeper than %d levels", IG_ICEMETA_MAX_DEPTH);
    if (r == 2)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "JSON document contains a number that is not finite (NaN/Infinity)");
    return 0;
}

/* ---------- accessors ---------- */

/* 1 found (non-null), 0 missing or null, -1 when o itself is not an object. */
static int lookup(json_object *o, const char *key, const char *what, json_object **v, ig_error_t *err)
{
    *v = NULL;
    if (!json_object_is_type(o, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: expected a JSON object", what);
    if (!json_object_object_get_ex(o, key, v) || *v == NULL) return 0;
    return 1;
}

static int get_typed(json_object *o, const char *key, const char *what, json_type t, const char *tname,
                     json_object **v, int required, ig_error_t *err)
{
    int r = lookup(o, key, what, v, err);
    if (r < 0) return -1;
    if (r == 0) {
        if (required)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: missing required field '%s'", what, key);
        return 0;
    }
    if (!json_object_is_type(*v, t))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: field '%s' must be %s", what, key, tname);
    return 1;
}

int ig_icemeta_req_int(json_object *o, const char *key, const char *what, int64_t *out, ig_error_t *err)
{
    json_object *v;
    if (get_typed(o, key, what, json_type_int, "an integer", &v, 1, err) < 0) return -1;
    *out = json_object_get_int64(v);
    return 0;
}

int ig_icemeta_opt_int(json_object *o, const char *key, const char *what, int64_t *out, ig_error_t *err)
{
    json_object *v;
    int r = get_typed(o, key, what, json_type_int, "an integer", &v, 0, err);
    if (r == 1) *out = json_object_get_int64(v);
    return r;
}

int ig_icemeta_req_str(json_object *o, const char *key, const char *what, const char **out, ig_error_t *err)
{
    json_object *v;
    if (get_typed(o, key, what, json_type_string, "a string", &v, 1, err) < 0) return -1;
    *out = json_object_get_string(v);
    return 0;
}

int ig_icemeta_opt_str(json_object *o, const char *key, const char *what, const char **out, ig_error_t *err)
{
    json_object *v;
    int r = get_typed(o, key, what, json_type_string, "a string", &v, 0, err);
    if (r == 1) *out = json_object_get_string(v);
    return r;
}

int ig_icemeta_req_bool(json_object *o, const char *key, const char *what, int *out, ig_error_t *err)
{
    json_object *v;
    if (get_typed(o, key, what, json_type_boolean, "a boolean", &v, 1, err) < 0) return -1;
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 0;
}

int ig_icemeta_req_array(json_object *o, const char *key, const char *what, json_object **out,
                         ig_error_t *err)
{
    return get_typed(o, key, what, json_type_array, "an array", out, 1, err) < 0 ? -1 : 0;
}

int ig_icemeta_opt_array(json_object *o, const char *key, const char *what, json_object **out,
                         ig_error_t *err)
{
    return get_typed(o, key, what, json_type_array, "an array", out, 0, err);
}

int ig_icemeta_req_object(json_object *o, const char *key, const char *what, json_object **out,
                          ig_error_t *err)
{
    return get_typed(o, key, what, json_type_object, "an object", out, 1, err) < 0 ? -1 : 0;
}

int ig_icemeta_opt_object(json_object *o, const char *key, const char *what, json_object **out,
                          ig_error_t *err)
{
    return get_typed(o, key, what, json_type_object, "an object", out, 0, err);
}

int ig_icemeta_check_string_map(json_object *props, const char *what, ig_error_t *err)
{
    if (!json_object_is_type(props, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an object of strings", what);
    json_object_object_foreach(props, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: value of '%s' must be a string", what, k);
    }
    return 0;
}

/* ---------- schemas ---------- */

typedef struct {
    int64_t *ids;
    size_t n, cap;
} idset_t;

static int idset_add(idset_t *s, int64_t id, ig_error_t *err)
{
    if (s->n >= IG_ICEMETA_MAX_FIELDS)
        return ig_error_set(err, IG_E_BAD_REQUEST, "schema has more than %d fields", IG_ICEMETA_MAX_FIELDS);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        int64_t *p = realloc(s->ids, cap * sizeof *p);
        if (!p) return ig_icemeta_oom(err);
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int primitive_ok(const char *t)
{
    static const char *const names[] = {
        "boolean",     "int",          "long",           "float",  "double", "date",   "time",    "timestamp",
        "timestamptz", "timestamp_ns", "timestamptz_ns", "string", "uuid",   "binary", "variant", "unknown",
        NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(t, names[i]) == 0) return 1;
    /* Parameterised types: decimal(P,S), fixed[L], geometry(...), geography(...). */
    static const char *const prefixes[] = {"decimal(", "fixed[", "geometry", "geography", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static int check_type(json_object *t, idset_t *ids, int depth, ig_error_t *err);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_struct(json_object *st, idset_t *ids, int depth, ig_error_t *err)
{
    json_object *fields;
    const char *tname, **names = NULL;
    int rc = -1;
    if (ig_icemeta_req_str(st, "type", "struct type", &tname, err) < 0) return -1;
    if (strcmp(tname, "struct") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "struct type: 'type' must be \"struct\", got \"%s\"", tname);
    if (ig_icemeta_req_array(st, "fields", "struct type", &fields, err) < 0) return -1;
    size_t n = json_object_array_length(fields);
    /* Count (and cap) before any per-field work, so a huge struct is refused cheaply. */
    if (n > IG_ICEMETA_MAX_FIELDS || ids->n + n > IG_ICEMETA_MAX_FIELDS)
        return ig_error_set(err, IG_E_BAD_REQUEST, "schema has more than %d fields", IG_ICEMETA_MAX_FIELDS);
    if (!(names = malloc((n ? n : 1) * sizeof *names))) return ig_icemeta_oom(err);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i), *ft;
        int64_t id;
        int req;
        if (ig_icemeta_req_int(f, "id", "schema field", &id, err) < 0 ||
            ig_icemeta_req_str(f, "name", "schema field", &names[i], err) < 0 ||
            ig_icemeta_req_bool(f, "required", "schema field", &req, err) < 0)
            goto fail;
        if (!json_object_object_get_ex(f, "type", &ft) || !ft) {
            ig_error_set(err, IG_E_BAD_REQUEST, "schema field '%s': missing required field 'type'", names[i]);
            goto fail;
        }
        if (idset_add(ids, id, err) < 0) goto fail;
    }
    /* Names are unique within a struct: sort a copy of the pointers, compare neighbours. */
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0) {
            ig_error_set(err, IG_E_BAD_REQUEST, "schema: duplicate field name '%s'", names[i]);
            goto fail;
        }
    for (size_t i = 0; i < n; i++) {
        json_object *ft = NULL;
        json_object_object_get_ex(json_object_array_get_idx(fields, i), "type", &ft);
        if (check_type(ft, ids, depth + 1, err) < 0) goto fail;
    }
    rc = 0;
fail:
    free(names);
    return rc;
}

static int check_type(json_object *t, idset_t *ids, int depth, ig_error_t *err)
{
    if (depth > IG_ICEMETA_MAX_DEPTH)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "schema nested deeper than %d levels", IG_ICEMETA_MAX_DEPTH);
    if (json_object_is_type(t, json_type_string)) {
        if (!primitive_ok(json_object_get_string(t)))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "schema: unknown type \"%s\"", json_object_get_string(t));
        return 0;
    }
    const char *tname;
    if (!json_object_is_type(t, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "schema: a type must be a string or an object");
    if (ig_icemeta_req_str(t, "type", "nested type", &tname, err) < 0) return -1;
    if (strcmp(tname, "struct") == 0) return check_struct(t, ids, depth, err);
    if (strcmp(tname, "list") == 0) {
        int64_t id;
        int req;
        json_object *el;
        if (ig_icemeta_req_int(t, "element-id", "list type", &id, err) < 0 ||
            ig_icemeta_req_bool(t, "element-required", "list type", &req, err) < 0)
            return -1;
        if (!json_object_object_get_ex(t, "element", &el) || !el)
            return ig_error_set(err, IG_E_BAD_REQUEST, "list type: missing required field 'element'");
        if (idset_add(ids, id, err) < 0) return -1;
        return check_type(el, ids, depth + 1, err);
    }
    if (strcmp(tname, "map") == 0) {
        int64_t kid, vid;
        int req;
        json_object *k, *v;
        if (ig_icemeta_req_int(t, "key-id", "map type", &kid, err) < 0 ||
            ig_icemeta_req_int(t, "value-id", "map type", &vid, err) < 0 ||
            ig_icemeta_req_bool(t, "value-required", "map type", &req, err) < 0)
            return -1;
        if (!json_object_object_get_ex(t, "key", &k) || !k)
            return ig_error_set(err, IG_E_BAD_REQUEST, "map type: missing required field 'key'");
        if (!json_object_object_get_ex(t, "value", &v) || !v)
            return ig_error_set(err, IG_E_BAD_REQUEST, "map type: missing required field 'value'");
        if (idset_add(ids, kid, err) < 0 || idset_add(ids, vid, err) < 0) return -1;
        if (check_type(k, ids, depth + 1, err) < 0) return -1;
        return check_type(v, ids, depth + 1, err);
    }
    return ig_error_set(err, IG_E_BAD_REQUEST, "schema: unknown nested type \"%s\"", tname);
}

int ig_icemeta_check_schema(json_object *schema, int require_id, int64_t *max_id, ig_error_t *err)
{
    idset_t ids = {0};
    int rc = -1;
    int64_t sid;
    json_object *ident;
    const char *tname;

    if (!json_object_is_type(schema, json_type_object)) {
        ig_error_set(err, IG_E_BAD_REQUEST, "schema must be an object");
        goto fail;
    }
    if (!json_object_object_get_ex(schema, "type", NULL)) {
        ig_error_set(err, IG_E_BAD_REQUEST, "schema: missing required field 'type' (must be \"struct\")");
        goto fail;
    }
    if (ig_icemeta_req_str(schema, "type", "schema", &tname, err) < 0) goto fail;
    if (require_id ? ig_icemeta_req_int(schema, "schema-id", "schema", &sid, err) < 0
                   : ig_icemeta_opt_int(schema, "schema-id", "schema", &sid, err) < 0)
        goto fail;
    if (check_struct(schema, &ids, 1, err) < 0) goto fail;
    if (ids.n > 1) {
        qsort(ids.ids, ids.n, sizeof *ids.ids, cmp_i64);
        for (size_t i = 1; i < ids.n; i++)
            if (ids.ids[i] == ids.ids[i - 1]) {
                ig_error_set(err, IG_E_BAD_REQUEST, "schema: duplicate field id %lld", (long long)ids.ids[i]);
                goto fail;
            }
    }
    int r = ig_icemeta_opt_array(schema, "identifier-field-ids", "schema", &ident, err);
    if (r < 0) goto fail;
    if (r == 1) {
        size_t n = json_object_array_length(ident);
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(ident, i);
            int64_t id = json_object_get_int64(v);
            if (!json_object_is_type(v, json_type_int) || !ig_icemeta_ids_contain(ids.ids, ids.n, id)) {
                ig_error_set(err, IG_E_BAD_REQUEST,
                             "schema: identifier field id %s is not a field of the schema",
                             json_object_to_json_string(v));
                goto fail;
            }
        }
    }
    if (max_id) *max_id = ids.n ? ids.ids[ids.n - 1] : 0;
    rc = 0;
fail:
    free(ids.ids);
    return rc;
}

static int type_has_id(json_object *t, int64_t id, int depth);

static int struct_has_id(json_object *st, int64_t id, int depth)
{
    json_object *fields, *v, *ft;
    if (!json_object_object_get_ex(st, "fields", &fields) || !json_object_is_type(fields, json_type_array))
        return 0;
    size_t n = json_object_array_length(fields);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i);
        if (json_object_object_get_ex(f, "id", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) == id)
            return 1;
        if (json_object_object_get_ex(f, "type", &ft) && type_has_id(ft, id, depth + 1)) return 1;
    }
    return 0;
}

static int type_has_id(json_object *t, int64_t id, int depth)
{
    json_object *v;
    const char *kind;
    if (depth > IG_ICEMETA_MAX_DEPTH || !json_object_is_type(t, json_type_object)) return 0;
    if (!json_object_object_get_ex(t, "type", &v) || !json_object_is_type(v, json_type_string)) return 0;
    kind = json_object_get_string(v);
    if (strcmp(kind, "struct") == 0) return struct_has_id(t, id, depth);
    if (strcmp(kind, "list") == 0) {
        if (json_object_object_get_ex(t, "element-id", &v) && json_object_get_int64(v) == id) return 1;
        return json_object_object_get_ex(t, "element", &v) && type_has_id(v, id, depth + 1);
    }
    if (strcmp(kind, "map") == 0) {
        if (json_object_object_get_ex(t, "key-id", &v) && json_object_get_int64(v) == id) return 1;
        if (json_object_object_get_ex(t, "value-id", &v) && json_object_get_int64(v) == id) return 1;
        if (json_object_object_get_ex(t, "key", &v) && type_has_id(v, id, depth + 1)) return 1;
        return json_object_object_get_ex(t, "value", &v) && type_has_id(v, id, depth + 1);
    }
    return 0;
}

int ig_icemeta_schema_has_id(json_object *schema, int64_t id)
{
    return struct_has_id(schema, id, 1);
}

int ig_icemeta_schema_same(json_object *a, json_object *b)
{
    json_object *fa = NULL, *fb = NULL, *ia = NULL, *ib = NULL;
    json_object_object_get_ex(a, "fields", &fa);
    json_object_object_get_ex(b, "fields", &fb);
    if (!json_object_equal(fa, fb)) return 0;
    json_object_object_get_ex(a, "identifier-field-ids", &ia);
    json_object_object_get_ex(b, "identifier-field-ids", &ib);
    size_t na = ia ? json_object_array_length(ia) : 0, nb = ib ? json_object_array_length(ib) : 0;
    if (na == 0 && nb == 0) return 1;
    return json_object_equal(ia, ib);
}

json_object *ig_icemeta_find_by_id(json_object *arr, const char *key, int64_t id, size_t *idx)
{
    if (!json_object_is_type(arr, json_type_array)) return NULL;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *v;
        if (json_object_object_get_ex(e, key, &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) == id) {
            if (idx) *idx = i;
            return e;
        }
    }
    return NULL;
}

/* Highest integer member key over the objects of arr, or dflt if arr is empty/NULL. */
static int64_t max_id(json_object *arr, const char *key, int64_t dflt)
{
    int64_t m = dflt;
    int any = 0;
    if (!json_object_is_type(arr, json_type_array)) return dflt;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *v;
        if (json_object_object_get_ex(e, key, &v) && json_object_is_type(v, json_type_int)) {
            int64_t x = json_object_get_int64(v);
            if (!any || x > m) m = x;
            any = 1;
        }
    }
    return m;
}

int ig_icemeta_sorted_ids(json_object *arr, const char *key, int64_t **ids, size_t *n)
{
    size_t len = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0, m = 0;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    *n = 0;
    if (!*ids) return -1;
    for (size_t i = 0; i < len; i++) {
        json_object *v = NULL, *e = json_object_array_get_idx(arr, i);
        if (key) {
            if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, key, &v)) continue;
        } else {
            v = e;
        }
        if (json_object_is_type(v, json_type_int)) (*ids)[m++] = json_object_get_int64(v);
    }
    qsort(*ids, m, sizeof **ids, cmp_i64);
    *n = m;
    return 0;
}

int ig_icemeta_ids_contain(const int64_t *ids, size_t n, int64_t id)
{
    return n && bsearch(&id, ids, n, sizeof *ids, cmp_i64) != NULL;
}

int ig_icemeta_next_id(json_object *arr, const char *key, int64_t dflt_max, int64_t *out, ig_error_t *err)
{
    int64_t m = max_id(arr, key, dflt_max);
    if (m >= INT32_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "no %s left to assign (highest is %lld)", key, (long long)m);
    *out = m + 1;
    return 0;
}

json_object *ig_icemeta_copy(json_object *o)
{
    json_object *dst = NULL;
    if (!o) return NULL;
    if (json_object_deep_copy(o, &dst, NULL) != 0) return NULL;
    return dst;
}

/* A new object with m's members, keys first (see ig_icemeta_reorder); m is left alone.  NULL on allocation
 * failure. */
static json_object *ordered(json_object *m, const char *const *keys)
{
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    for (int i = 0; keys[i]; i++) {
        json_object *v;
        if (json_object_object_get_ex(m, keys[i], &v)) json_object_object_add(o, keys[i], json_object_get(v));
    }
    json_object_object_foreach(m, k, v)
    {
        if (!json_object_object_get_ex(o, k, NULL)) json_object_object_add(o, k, json_object_get(v));
    }
    return o;
}

json_object *ig_icemeta_reorder(json_object *m, const char *const *keys)
{
    json_object *o = ordered(m, keys);
    if (!o) return m;
    json_object_put(m);
    return o;
}

json_object *ig_icemeta_schema_with_id(json_object *schema, int64_t id)
{
    static const char *const order[] = {"type", "schema-id", "identifier-field-ids", "fields", NULL};
    json_object *copy = ig_icemeta_copy(schema), *out;
    if (!copy) return NULL;
    json_object_object_add(copy, "schema-id", json_object_new_int64(id));
    out = ordered(copy, order);
    json_object_put(copy);
    return out;
}

/* ---------- tolerant accessors ---------- */

int ig_icemeta_oom(ig_error_t *err)
{
    return ig_error_set(err, IG_E_INTERNAL, "out of memory");
}

json_object *ig_icemeta_get(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_is_type(o, json_type_object)) return NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

int64_t ig_icemeta_get_i64(json_object *o, const char *k, int64_t dflt)
{
    json_object *v = ig_icemeta_get(o, k);
    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : dflt;
}

const char *ig_icemeta_get_str(json_object *o, const char *k)
{
    json_object *v = ig_icemeta_get(o, k);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

void ig_icemeta_set_i64(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

void ig_icemeta_set_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}
