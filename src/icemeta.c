/* icemeta — see icemeta.h.  Schema checks walk the type tree recursively; the recursion is bounded by
 * IG_ICEMETA_MAX_DEPTH so a hostile document cannot exhaust the stack even if the caller skipped
 * ig_icemeta_check_depth. */
#include "icemeta.h"

#include <stdlib.h>
#include <string.h>

#define BAD 400, "BadRequestException"

/* ---------- depth ---------- */

static int depth_ok(json_object *o, int depth)
{
    if (depth > IG_ICEMETA_MAX_DEPTH) return 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            if (v && !depth_ok(v, depth + 1)) return 0;
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(o, i);
            if (v && !depth_ok(v, depth + 1)) return 0;
        }
    }
    return 1;
}

int ig_icemeta_check_depth(json_object *o, ig_error_t *err)
{
    if (o && !depth_ok(o, 1))
        return ig_error_set(err, BAD, "JSON document nested deeper than %d levels", IG_ICEMETA_MAX_DEPTH);
    return 0;
}

/* ---------- accessors ---------- */

/* 1 found (non-null), 0 missing or null, -1 when o itself is not an object. */
static int lookup(json_object *o, const char *key, const char *what, json_object **v, ig_error_t *err)
{
    if (!json_object_is_type(o, json_type_object))
        return ig_error_set(err, BAD, "%s: expected a JSON object", what);
    if (!json_object_object_get_ex(o, key, v) || *v == NULL) return 0;
    return 1;
}

static int get_typed(json_object *o, const char *key, const char *what, json_type t, const char *tname,
                     json_object **v, int required, ig_error_t *err)
{
    int r = lookup(o, key, what, v, err);
    if (r < 0) return -1;
    if (r == 0) {
        if (required) return ig_error_set(err, BAD, "%s: missing required field '%s'", what, key);
        return 0;
    }
    if (!json_object_is_type(*v, t))
        return ig_error_set(err, BAD, "%s: field '%s' must be %s", what, key, tname);
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

int ig_icemeta_req_array(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err)
{
    return get_typed(o, key, what, json_type_array, "an array", out, 1, err) < 0 ? -1 : 0;
}

int ig_icemeta_opt_array(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err)
{
    return get_typed(o, key, what, json_type_array, "an array", out, 0, err);
}

int ig_icemeta_req_object(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err)
{
    return get_typed(o, key, what, json_type_object, "an object", out, 1, err) < 0 ? -1 : 0;
}

int ig_icemeta_opt_object(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err)
{
    return get_typed(o, key, what, json_type_object, "an object", out, 0, err);
}

int ig_icemeta_check_string_map(json_object *props, const char *what, ig_error_t *err)
{
    if (!json_object_is_type(props, json_type_object))
        return ig_error_set(err, BAD, "%s must be an object of strings", what);
    json_object_object_foreach(props, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            return ig_error_set(err, BAD, "%s: value of '%s' must be a string", what, k);
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
        return ig_error_set(err, BAD, "schema has more than %d fields", IG_ICEMETA_MAX_FIELDS);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        int64_t *p = realloc(s->ids, cap * sizeof *p);
        if (!p) return ig_error_set(err, 500, "InternalServerError", "out of memory");
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
    static const char *const names[] = {"boolean",      "int",         "long",           "float",  "double",
                                        "date",         "time",        "timestamp",      "timestamptz",
                                        "timestamp_ns", "timestamptz_ns", "string",      "uuid",   "binary",
                                        "variant",      "unknown",     NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(t, names[i]) == 0) return 1;
    /* Parameterised types: decimal(P,S), fixed[L], geometry(...), geography(...). */
    static const char *const prefixes[] = {"decimal(", "fixed[", "geometry", "geography", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static int check_type(json_object *t, idset_t *ids, int depth, ig_error_t *err);

static int check_struct(json_object *st, idset_t *ids, int depth, ig_error_t *err)
{
    json_object *fields;
    const char *tname;
    if (ig_icemeta_req_str(st, "type", "struct type", &tname, err) < 0) return -1;
    if (strcmp(tname, "struct") != 0)
        return ig_error_set(err, BAD, "struct type: 'type' must be \"struct\", got \"%s\"", tname);
    if (ig_icemeta_req_array(st, "fields", "struct type", &fields, err) < 0) return -1;
    size_t n = json_object_array_length(fields);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i), *ft;
        int64_t id;
        const char *name;
        int req;
        if (ig_icemeta_req_int(f, "id", "schema field", &id, err) < 0 ||
            ig_icemeta_req_str(f, "name", "schema field", &name, err) < 0 ||
            ig_icemeta_req_bool(f, "required", "schema field", &req, err) < 0)
            return -1;
        if (!json_object_object_get_ex(f, "type", &ft) || !ft)
            return ig_error_set(err, BAD, "schema field '%s': missing required field 'type'", name);
        for (size_t j = 0; j < i; j++) {
            json_object *g = json_object_array_get_idx(fields, j), *gn;
            if (json_object_object_get_ex(g, "name", &gn) && strcmp(json_object_get_string(gn), name) == 0)
                return ig_error_set(err, BAD, "schema: duplicate field name '%s'", name);
        }
        if (idset_add(ids, id, err) < 0) return -1;
        if (check_type(ft, ids, depth + 1, err) < 0) return -1;
    }
    return 0;
}

static int check_type(json_object *t, idset_t *ids, int depth, ig_error_t *err)
{
    if (depth > IG_ICEMETA_MAX_DEPTH)
        return ig_error_set(err, BAD, "schema nested deeper than %d levels", IG_ICEMETA_MAX_DEPTH);
    if (json_object_is_type(t, json_type_string)) {
        if (!primitive_ok(json_object_get_string(t)))
            return ig_error_set(err, BAD, "schema: unknown type \"%s\"", json_object_get_string(t));
        return 0;
    }
    const char *tname;
    if (!json_object_is_type(t, json_type_object))
        return ig_error_set(err, BAD, "schema: a type must be a string or an object");
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
            return ig_error_set(err, BAD, "list type: missing required field 'element'");
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
            return ig_error_set(err, BAD, "map type: missing required field 'key'");
        if (!json_object_object_get_ex(t, "value", &v) || !v)
            return ig_error_set(err, BAD, "map type: missing required field 'value'");
        if (idset_add(ids, kid, err) < 0 || idset_add(ids, vid, err) < 0) return -1;
        if (check_type(k, ids, depth + 1, err) < 0) return -1;
        return check_type(v, ids, depth + 1, err);
    }
    return ig_error_set(err, BAD, "schema: unknown nested type \"%s\"", tname);
}

int ig_icemeta_check_schema(json_object *schema, int require_id, int64_t *max_id, ig_error_t *err)
{
    idset_t ids = {0};
    int rc = -1;
    int64_t sid;
    json_object *ident;
    const char *tname;

    if (!json_object_is_type(schema, json_type_object)) {
        ig_error_set(err, BAD, "schema must be an object");
        goto fail;
    }
    if (!json_object_object_get_ex(schema, "type", NULL)) {
        ig_error_set(err, BAD, "schema: missing required field 'type' (must be \"struct\")");
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
                ig_error_set(err, BAD, "schema: duplicate field id %lld", (long long)ids.ids[i]);
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
            if (!json_object_is_type(v, json_type_int) ||
                !bsearch(&id, ids.ids, ids.n, sizeof *ids.ids, cmp_i64)) {
                ig_error_set(err, BAD, "schema: identifier field id %s is not a field of the schema",
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

int64_t ig_icemeta_max_id(json_object *arr, const char *key, int64_t dflt)
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

json_object *ig_icemeta_copy(json_object *o)
{
    json_object *dst = NULL;
    if (!o) return NULL;
    if (json_object_deep_copy(o, &dst, NULL) != 0) return NULL;
    return dst;
}
