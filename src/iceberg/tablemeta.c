/* tablemeta — see tablemeta.h.  The module is three files around one private header
 * (tablemeta_internal.h): this one builds the metadata of a new table and holds the small calls
 * (to_string, only_ref_snapshots); tablemeta_validate.c validates stored documents and normalizes them to
 * the one shape the rest works on; tablemeta_commit.c checks requirements and applies updates (the
 * actions tables share with views are icemeta's).  Semantics follow Iceberg Java's TableMetadata.Builder
 * where the REST spec is silent. */
#include "iceberg/tablemeta.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/icemeta.h"
#include "iceberg/tablemeta_internal.h"

const char *ig_tablemeta_to_string(json_object *obj)
{
    return json_object_to_json_string_ext(obj, IG_ICEMETA_JSON_FLAGS);
}

/* ---------- create: fresh column ids ---------- */

/* old id -> fresh id, built while assigning fresh ids to the request's schema. */
typedef struct {
    int64_t old_id, new_id;
} idpair_t;

typedef struct {
    idpair_t *p;
    size_t n, cap;
    int64_t next;
} idmap_t;

static int idmap_add(idmap_t *m, int64_t old_id, int64_t *new_id, ig_error_t *err)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        idpair_t *p = realloc(m->p, cap * sizeof *p);
        if (!p) return ig_icemeta_oom(err);
        m->p = p;
        m->cap = cap;
    }
    *new_id = ++m->next;
    m->p[m->n].old_id = old_id;
    m->p[m->n].new_id = *new_id;
    m->n++;
    return 0;
}

/* The fresh id of the column the client called old_id; -1 if unknown or ambiguous. */
static int64_t idmap_get(const idmap_t *m, int64_t old_id)
{
    int64_t found = -1;
    for (size_t i = 0; i < m->n; i++)
        if (m->p[i].old_id == old_id) {
            if (found != -1) return -1;
            found = m->p[i].new_id;
        }
    return found;
}

static json_object *fresh_type(json_object *t, idmap_t *map, int depth, ig_error_t *err);

/* Fresh ids for a struct: all its fields first, then their nested types (Iceberg Java's order). */
static json_object *fresh_struct(json_object *st, idmap_t *map, int depth, ig_error_t *err)
{
    json_object *fields = ig_icemeta_get(st, "fields"), *out = NULL, *nf = NULL;
    size_t n = json_object_array_length(fields);
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        ig_icemeta_oom(err);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (idmap_add(map, ig_icemeta_get_i64(json_object_array_get_idx(fields, i), "id", 0), &ids[i], err) <
            0)
            goto fail;
    if (!(out = ig_icemeta_copy(st)) || !(nf = json_object_new_array())) {
        ig_icemeta_oom(err);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *f = ig_icemeta_copy(json_object_array_get_idx(fields, i)), *t;
        if (!f) {
            ig_icemeta_oom(err);
            goto fail;
        }
        json_object_array_add(nf, f);
        ig_icemeta_set_i64(f, "id", ids[i]);
        if (!(t = fresh_type(ig_icemeta_get(f, "type"), map, depth + 1, err))) goto fail;
        json_object_object_add(f, "type", t);
    }
    json_object_object_add(out, "fields", nf);
    free(ids);
    return out;
fail:
    json_object_put(nf);
    json_object_put(out);
    free(ids);
    return NULL;
}

static json_object *fresh_type(json_object *t, idmap_t *map, int depth, ig_error_t *err)
{
    json_object *out = NULL, *sub;
    int64_t id;
    if (depth > IG_ICEMETA_MAX_DEPTH) {
        ig_error_set(err, IG_E_BAD_REQUEST, "schema nested deeper than %d levels", IG_ICEMETA_MAX_DEPTH);
        return NULL;
    }
    const char *kind = json_object_is_type(t, json_type_object) ? ig_icemeta_get_str(t, "type") : NULL;
    if (!kind || (strcmp(kind, "list") != 0 && strcmp(kind, "map") != 0 && strcmp(kind, "struct") != 0)) {
        if (!(out = ig_icemeta_copy(t))) ig_icemeta_oom(err);
        return out;
    }
    if (strcmp(kind, "struct") == 0) return fresh_struct(t, map, depth, err);
    if (!(out = ig_icemeta_copy(t))) {
        ig_icemeta_oom(err);
        return NULL;
    }
    if (strcmp(kind, "list") == 0) {
        if (idmap_add(map, ig_icemeta_get_i64(t, "element-id", 0), &id, err) < 0) goto fail;
        ig_icemeta_set_i64(out, "element-id", id);
        if (!(sub = fresh_type(ig_icemeta_get(t, "element"), map, depth + 1, err))) goto fail;
        json_object_object_add(out, "element", sub);
    } else {
        int64_t vid;
        if (idmap_add(map, ig_icemeta_get_i64(t, "key-id", 0), &id, err) < 0 ||
            idmap_add(map, ig_icemeta_get_i64(t, "value-id", 0), &vid, err) < 0)
            goto fail;
        ig_icemeta_set_i64(out, "key-id", id);
        ig_icemeta_set_i64(out, "value-id", vid);
        if (!(sub = fresh_type(ig_icemeta_get(t, "key"), map, depth + 1, err))) goto fail;
        json_object_object_add(out, "key", sub);
        if (!(sub = fresh_type(ig_icemeta_get(t, "value"), map, depth + 1, err))) goto fail;
        json_object_object_add(out, "value", sub);
    }
    return out;
fail:
    json_object_put(out);
    return NULL;
}

/* Rewrites f's source-id / source-ids from the client's ids to fresh ones. */
static int rebind_sources(json_object *f, const idmap_t *map, const char *what, ig_error_t *err)
{
    json_object *ids = ig_icemeta_get(f, "source-ids");
    if (ig_icemeta_get(f, "source-id")) {
        int64_t old = ig_icemeta_get_i64(f, "source-id", 0), nid = idmap_get(map, old);
        if (nid < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot find source column %" PRId64 " in the schema", what,
                                old);
        ig_icemeta_set_i64(f, "source-id", nid);
    }
    for (size_t i = 0; json_object_is_type(ids, json_type_array) && i < json_object_array_length(ids); i++) {
        int64_t old = json_object_get_int64(json_object_array_get_idx(ids, i)), nid = idmap_get(map, old);
        if (nid < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot find source column %" PRId64 " in the schema", what,
                                old);
        json_object_array_put_idx(ids, i, json_object_new_int64(nid));
    }
    return 0;
}

/* ---------- create: the request ---------- */

static int64_t parse_format_version(json_object *req, ig_error_t *err)
{
    int64_t fv = IG_TABLEMETA_DEFAULT_FORMAT_VERSION;
    const char *s;
    json_object *props;
    int r = ig_icemeta_opt_int(req, "format-version", "create table request", &fv, err);
    if (r < 0) return -1;
    if (r == 0 && ig_icemeta_opt_object(req, "properties", "create table request", &props, err) == 1 &&
        (s = ig_icemeta_get_str(props, "format-version"))) {
        char *end;
        long long x = strtoll(s, &end, 10);
        if (end == s || *end != '\0') {
            ig_error_set(err, IG_E_BAD_REQUEST, "property format-version must be an integer, got \"%s\"", s);
            return -1;
        }
        fv = x;
    }
    if (fv < 1 || fv > IG_TABLEMETA_MAX_FORMAT_VERSION) {
        ig_error_set(err, IG_E_BAD_REQUEST, "unsupported format-version %" PRId64 " (supported: 1 to %d)", fv,
                     IG_TABLEMETA_MAX_FORMAT_VERSION);
        return -1;
    }
    return fv;
}

/* The members of a CreateTableRequest, borrowed from it; location, spec, order and props may be NULL. */
typedef struct {
    const char *name, *location;
    json_object *schema, *spec, *order, *props;
    int64_t fv;
} request_t;

static int read_request(json_object *req, request_t *rq, ig_error_t *err)
{
    const char *W = "create table request";
    memset(rq, 0, sizeof *rq);
    if (ig_icemeta_req_str(req, "name", W, &rq->name, err) < 0 ||
        ig_icemeta_req_object(req, "schema", W, &rq->schema, err) < 0 ||
        ig_icemeta_opt_str(req, "location", W, &rq->location, err) < 0 ||
        ig_icemeta_opt_object(req, "partition-spec", W, &rq->spec, err) < 0 ||
        ig_icemeta_opt_object(req, "write-order", W, &rq->order, err) < 0 ||
        ig_icemeta_opt_object(req, "properties", W, &rq->props, err) < 0)
        return -1;
    if (!rq->name[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "%s: 'name' must not be empty", W);
    if (rq->props && ig_icemeta_check_string_map(rq->props, "create table request: properties", err) < 0)
        return -1;
    if (ig_icemeta_check_schema(rq->schema, 0, NULL, err) < 0) return -1;
    if ((rq->fv = parse_format_version(req, err)) < 0) return -1;
    return 0;
}

/* ---------- create: the parts of the new document ---------- */

/* Schema 0: the request's schema with fresh ids (identifier fields re-bound).  NULL on failure. */
static json_object *fresh_schema(json_object *reqschema, idmap_t *map, ig_error_t *err)
{
    json_object *st, *schema, *ids;
    if (!(st = fresh_struct(reqschema, map, 1, err))) return NULL;
    schema = ig_icemeta_schema_with_id(st, 0);
    json_object_put(st);
    if (!schema) {
        ig_icemeta_oom(err);
        return NULL;
    }
    if ((ids = ig_icemeta_get(schema, "identifier-field-ids"))) {
        for (size_t i = 0; i < json_object_array_length(ids); i++) {
            int64_t nid = idmap_get(map, json_object_get_int64(json_object_array_get_idx(ids, i)));
            if (nid < 0) {
                ig_error_set(err, IG_E_BAD_REQUEST, "schema: identifier field ids are ambiguous");
                json_object_put(schema);
                return NULL;
            }
            json_object_array_put_idx(ids, i, json_object_new_int64(nid));
        }
    }
    return schema;
}

/* Partition spec 0 from the request's (may be NULL: unpartitioned), field ids from 1000; *last_pid gets
 * the highest (999 when unpartitioned).  NULL on failure. */
static json_object *build_spec(json_object *reqspec, const idmap_t *map, int64_t *last_pid, ig_error_t *err)
{
    json_object *spec, *fields, *rf;
    *last_pid = 999;
    if (!(spec = json_object_new_object())) goto oom;
    ig_icemeta_set_i64(spec, "spec-id", 0);
    fields = json_object_new_array();
    json_object_object_add(spec, "fields", fields);
    if (!reqspec) return spec;
    if (ig_icemeta_req_array(reqspec, "fields", "partition-spec", &rf, err) < 0) goto fail;
    for (size_t i = 0; i < json_object_array_length(rf); i++) {
        json_object *f = json_object_array_get_idx(rf, i), *nf;
        const char *dup;
        if (ig_tablemeta_check_partition_field(f, 0, NULL, err) < 0) goto fail;
        if ((dup = ig_tablemeta_duplicate_name(rf, i))) {
            ig_error_set(err, IG_E_BAD_REQUEST, "partition-spec: duplicate partition field name '%s'", dup);
            goto fail;
        }
        if (!(nf = ig_icemeta_copy(f))) goto oom;
        json_object_array_add(fields, nf);
        if (rebind_sources(nf, map, "partition field", err) < 0) goto fail;
        ig_icemeta_set_i64(nf, "field-id", ++*last_pid);
    }
    return spec;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(spec);
    return NULL;
}

/* The sort order from the request's write-order (may be NULL): id 1 when sorted, 0 (unsorted) otherwise.
 * NULL on failure. */
static json_object *build_order(json_object *reqorder, const idmap_t *map, ig_error_t *err)
{
    json_object *order, *fields, *rf;
    if (!(order = json_object_new_object())) goto oom;
    fields = json_object_new_array();
    ig_icemeta_set_i64(order, "order-id", 0);
    json_object_object_add(order, "fields", fields);
    if (!reqorder) return order;
    if (ig_icemeta_req_array(reqorder, "fields", "write-order", &rf, err) < 0) goto fail;
    for (size_t i = 0; i < json_object_array_length(rf); i++) {
        json_object *f = json_object_array_get_idx(rf, i), *nf;
        if (ig_tablemeta_check_sort_field(f, NULL, err) < 0) goto fail;
        if (!(nf = ig_icemeta_copy(f))) goto oom;
        json_object_array_add(fields, nf);
        if (rebind_sources(nf, map, "sort field", err) < 0) goto fail;
    }
    if (json_object_array_length(rf) > 0) ig_icemeta_set_i64(order, "order-id", 1);
    return order;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(order);
    return NULL;
}

/* The table properties: the request's (may be NULL) without format-version, which create consumes.  NULL
 * on allocation failure. */
static json_object *build_props(json_object *reqprops)
{
    json_object *props = json_object_new_object();
    if (!props || !reqprops) return props;
    json_object_object_foreach(reqprops, k, v)
    {
        if (strcmp(k, "format-version") != 0) json_object_object_add(props, k, json_object_get(v));
    }
    return props;
}

/* The parts of a new document, owned until assemble() moves them into it. */
typedef struct {
    json_object *schema, *spec, *order, *props;
    int64_t last_pid;
} parts_t;

/* Adds member k of m: an array holding *item, which m then owns (*item becomes NULL). */
static void add_list_of(json_object *m, const char *k, json_object **item)
{
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, *item);
    *item = NULL;
    json_object_object_add(m, k, arr);
}

/* The first metadata document of a table, taking the parts; NULL on allocation failure. */
static json_object *assemble(int64_t fv, const char *uuid, const char *loc, int64_t now_ms,
                             int64_t last_column, parts_t *p)
{
    json_object *m = json_object_new_object();
    if (!m) return NULL;
    ig_icemeta_set_i64(m, "format-version", fv);
    ig_icemeta_set_str(m, "table-uuid", uuid);
    ig_icemeta_set_str(m, "location", loc);
    ig_icemeta_set_i64(m, "last-sequence-number", 0);
    ig_icemeta_set_i64(m, "last-updated-ms", now_ms);
    ig_icemeta_set_i64(m, "last-column-id", last_column);
    if (fv >= 3) ig_icemeta_set_i64(m, "next-row-id", 0);
    ig_icemeta_set_i64(m, "current-schema-id", 0);
    add_list_of(m, "schemas", &p->schema);
    ig_icemeta_set_i64(m, "default-spec-id", 0);
    add_list_of(m, "partition-specs", &p->spec);
    ig_icemeta_set_i64(m, "last-partition-id", p->last_pid);
    ig_icemeta_set_i64(m, "default-sort-order-id", ig_icemeta_get_i64(p->order, "order-id", 0));
    add_list_of(m, "sort-orders", &p->order);
    json_object_object_add(m, "properties", p->props);
    p->props = NULL;
    ig_icemeta_set_i64(m, "current-snapshot-id", -1);
    json_object_object_add(m, "refs", json_object_new_object());
    json_object_object_add(m, "snapshots", json_object_new_array());
    json_object_object_add(m, "statistics", json_object_new_array());
    json_object_object_add(m, "partition-statistics", json_object_new_array());
    json_object_object_add(m, "snapshot-log", json_object_new_array());
    json_object_object_add(m, "metadata-log", json_object_new_array());
    return m;
}

int ig_tablemeta_create(json_object *req, const char *location, const char *table_uuid, int64_t now_ms,
                        json_object **out_meta, ig_error_t *err)
{
    request_t rq;
    parts_t p = {0};
    idmap_t map = {0};
    json_object *m = NULL;
    char *loc = NULL;
    int rc = -1;

    if (ig_icemeta_check_create_args(req, "create table request", out_meta, err) < 0 ||
        read_request(req, &rq, err) < 0)
        return -1;
    if (!table_uuid || !table_uuid[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "table uuid is required");
    if (ig_icemeta_new_location(location, rq.location, "create table request", "table", &loc, err) < 0)
        return -1;
    if (!(p.schema = fresh_schema(rq.schema, &map, err)) ||
        !(p.spec = build_spec(rq.spec, &map, &p.last_pid, err)) ||
        !(p.order = build_order(rq.order, &map, err)))
        goto done;
    if (!(p.props = build_props(rq.props)) || !(m = assemble(rq.fv, table_uuid, loc, now_ms, map.next, &p))) {
        ig_icemeta_oom(err);
        goto done;
    }
    if (ig_tablemeta_finish(&m, err) < 0) goto done;
    *out_meta = m;
    m = NULL;
    rc = 0;
done:
    json_object_put(m);
    json_object_put(p.schema);
    json_object_put(p.spec);
    json_object_put(p.order);
    json_object_put(p.props);
    free(map.p);
    free(loc);
    return rc;
}

/* ---------- loadTable?snapshots=refs ---------- */

json_object *ig_tablemeta_only_ref_snapshots(json_object *meta)
{
    json_object *m, *snaps, *refs;
    if (!json_object_is_type(meta, json_type_object) || !(m = ig_icemeta_copy(meta))) return NULL;
    snaps = ig_icemeta_get(m, "snapshots");
    refs = ig_icemeta_get(m, "refs");
    int64_t cur = ig_icemeta_get_i64(m, "current-snapshot-id", -1);
    for (size_t i = json_object_is_type(snaps, json_type_array) ? json_object_array_length(snaps) : 0;
         i-- > 0;) {
        int64_t id = ig_icemeta_get_i64(json_object_array_get_idx(snaps, i), "snapshot-id", -1);
        int keep = id == cur && cur != -1;
        if (!keep && json_object_is_type(refs, json_type_object)) {
            json_object_object_foreach(refs, name, ref)
            {
                (void)name;
                if (ig_icemeta_get_i64(ref, "snapshot-id", -2) == id) {
                    keep = 1;
                    break;
                }
            }
        }
        if (!keep) json_object_array_del_idx(snaps, i, 1);
    }
    return m;
}
