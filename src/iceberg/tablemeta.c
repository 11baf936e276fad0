/* tablemeta — see tablemeta.h.
 *
 * How it works: every document that comes in is first checked for depth, then (for stored metadata)
 * validated and *normalized* on a private deep copy: v1 documents get the v2-style lists (schemas,
 * partition-specs, sort-orders), absent optional lists become empty, an implied "main" ref is made
 * explicit.  Requirements and updates then work on one uniform shape, and the result is put back in
 * canonical key order (v1 documents keep their legacy "schema"/"partition-spec" fields in sync) and
 * validated once more, so a sequence of updates can never produce a document that fails validation.
 * Semantics follow Iceberg Java's TableMetadata.Builder where the REST spec is silent. */
#include "iceberg/tablemeta.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/icemeta.h"


/* ---------- small json helpers (tolerant: used on documents already validated) ---------- */

/* The array member k of o, created empty if absent (borrowed). */
static json_object *array_member(json_object *o, const char *k)
{
    json_object *v = ig_icemeta_get(o, k);
    if (!json_object_is_type(v, json_type_array)) {
        v = json_object_new_array();
        json_object_object_add(o, k, v);
    }
    return v;
}

/* Removes every element of arr whose integer member key equals id. */
static void array_remove_id(json_object *arr, const char *key, int64_t id)
{
    size_t idx;
    while (ig_icemeta_find_by_id(arr, key, id, &idx))
        json_object_array_del_idx(arr, idx, 1);
}

static int64_t current_schema_id(json_object *m)
{
    return ig_icemeta_get_i64(m, "current-schema-id", -1);
}

static json_object *current_schema(json_object *m)
{
    return ig_icemeta_find_by_id(ig_icemeta_get(m, "schemas"), "schema-id", current_schema_id(m), NULL);
}

/* ---------- validation ---------- */

static const char *const v2_required[] = {
    "table-uuid",      "last-sequence-number", "schemas",     "current-schema-id",     "partition-specs",
    "default-spec-id", "last-partition-id",    "sort-orders", "default-sort-order-id", NULL};

/* Checks the fields a format version requires, on the document as written (before normalization). */
static int check_required(json_object *m, int64_t *fv_out, ig_error_t *err)
{
    int64_t fv;
    if (!json_object_is_type(m, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata must be an object");
    if (ig_icemeta_req_int(m, "format-version", "table metadata", &fv, err) < 0) return -1;
    if (fv < 1 || fv > IG_TABLEMETA_MAX_FORMAT_VERSION)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: unsupported format-version %" PRId64 " (supported: 1 to %d)", fv,
                            IG_TABLEMETA_MAX_FORMAT_VERSION);
    static const char *const all_required[] = {"location", "last-updated-ms", "last-column-id", NULL};
    for (int i = 0; all_required[i]; i++)
        if (!ig_icemeta_get(m, all_required[i]))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: missing required field '%s'", all_required[i]);
    if (fv >= 2) {
        /* Like Iceberg Java's parser, report a missing current schema before later missing fields. */
        json_object *schemas = ig_icemeta_get(m, "schemas");
        int64_t cur;
        if (json_object_is_type(schemas, json_type_array) &&
            ig_icemeta_opt_int(m, "current-schema-id", "table metadata", &cur, err) == 1 &&
            !ig_icemeta_find_by_id(schemas, "schema-id", cur, NULL))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: current-schema-id %" PRId64 " is not in 'schemas'",
                                cur);
        for (int i = 0; v2_required[i]; i++)
            if (!ig_icemeta_get(m, v2_required[i]))
                return ig_error_set(
                    err, IG_E_BAD_REQUEST,
                    "table metadata: missing required field '%s' (required in format version %" PRId64 ")",
                    v2_required[i], fv);
        if (fv >= 3 && !ig_icemeta_get(m, "next-row-id"))
            return ig_error_set(
                err, IG_E_BAD_REQUEST,
                "table metadata: missing required field 'next-row-id' (required in format version 3)");
    } else {
        if (!ig_icemeta_get(m, "schema") && !ig_icemeta_get(m, "schemas"))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: missing required field 'schema' or 'schemas'");
        if (!ig_icemeta_get(m, "partition-spec") && !ig_icemeta_get(m, "partition-specs"))
            return ig_error_set(
                err, IG_E_BAD_REQUEST, "table metadata: missing required field 'partition-spec' or 'partition-specs'");
    }
    *fv_out = fv;
    return 0;
}

static int check_transform_sources(json_object *f, const char *what, json_object *schema, ig_error_t *err)
{
    int64_t sid;
    json_object *ids;
    int r = ig_icemeta_opt_int(f, "source-id", what, &sid, err);
    if (r < 0) return -1;
    if (r == 1) {
        if (schema && !ig_icemeta_schema_has_id(schema, sid))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot find source column %" PRId64 " in the current schema",
                                what, sid);
        return 0;
    }
    /* v3 multi-argument transforms use source-ids. */
    r = ig_icemeta_opt_array(f, "source-ids", what, &ids, err);
    if (r < 0) return -1;
    if (r == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s: missing required field 'source-id'", what);
    size_t n = json_object_array_length(ids);
    if (n == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s: 'source-ids' must not be empty", what);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(ids, i);
        if (!json_object_is_type(v, json_type_int))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: 'source-ids' must hold integers", what);
        if (schema && !ig_icemeta_schema_has_id(schema, json_object_get_int64(v)))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot find source column %" PRId64 " in the current schema",
                                what, json_object_get_int64(v));
    }
    return 0;
}

/* A partition field; need_id: field-id required.  schema (may be NULL): sources must exist in it. */
static int check_partition_field(json_object *f, int need_id, json_object *schema, ig_error_t *err)
{
    const char *s;
    int64_t id;
    if (ig_icemeta_req_str(f, "name", "partition field", &s, err) < 0 ||
        ig_icemeta_req_str(f, "transform", "partition field", &s, err) < 0)
        return -1;
    if (need_id ? ig_icemeta_req_int(f, "field-id", "partition field", &id, err) < 0
                : ig_icemeta_opt_int(f, "field-id", "partition field", &id, err) < 0)
        return -1;
    return check_transform_sources(f, "partition field", schema, err);
}

static int check_sort_field(json_object *f, json_object *schema, ig_error_t *err)
{
    const char *s;
    if (ig_icemeta_req_str(f, "transform", "sort field", &s, err) < 0) return -1;
    if (ig_icemeta_req_str(f, "direction", "sort field", &s, err) < 0) return -1;
    if (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "sort field: direction must be \"asc\" or \"desc\", got \"%s\"", s);
    if (ig_icemeta_req_str(f, "null-order", "sort field", &s, err) < 0) return -1;
    if (strcmp(s, "nulls-first") != 0 && strcmp(s, "nulls-last") != 0)
        return ig_error_set(
            err, IG_E_BAD_REQUEST, "sort field: null-order must be \"nulls-first\" or \"nulls-last\", got \"%s\"", s);
    return check_transform_sources(f, "sort field", schema, err);
}

static int check_snapshot(json_object *s, int64_t fv, ig_error_t *err)
{
    int64_t i;
    const char *str;
    json_object *o;
    if (ig_icemeta_req_int(s, "snapshot-id", "snapshot", &i, err) < 0 ||
        ig_icemeta_req_int(s, "timestamp-ms", "snapshot", &i, err) < 0 ||
        ig_icemeta_opt_int(s, "parent-snapshot-id", "snapshot", &i, err) < 0 ||
        ig_icemeta_opt_int(s, "schema-id", "snapshot", &i, err) < 0 ||
        ig_icemeta_opt_int(s, "first-row-id", "snapshot", &i, err) < 0 ||
        ig_icemeta_opt_int(s, "added-rows", "snapshot", &i, err) < 0)
        return -1;
    if (fv >= 2) {
        if (ig_icemeta_req_str(s, "manifest-list", "snapshot", &str, err) < 0 ||
            ig_icemeta_opt_int(s, "sequence-number", "snapshot", &i, err) < 0 ||
            ig_icemeta_req_object(s, "summary", "snapshot", &o, err) < 0 ||
            ig_icemeta_req_str(o, "operation", "snapshot summary", &str, err) < 0)
            return -1;
    } else {
        int r = ig_icemeta_opt_str(s, "manifest-list", "snapshot", &str, err);
        if (r < 0) return -1;
        if (r == 0 && ig_icemeta_req_array(s, "manifests", "snapshot (v1, no manifest-list)", &o, err) < 0)
            return -1;
        if (ig_icemeta_opt_object(s, "summary", "snapshot", &o, err) < 0) return -1;
    }
    return 0;
}

static int check_ref(const char *name, json_object *r, ig_error_t *err)
{
    const char *type;
    int64_t i;
    char what[128];
    snprintf(what, sizeof what, "ref '%s'", name);
    if (ig_icemeta_req_str(r, "type", what, &type, err) < 0 ||
        ig_icemeta_req_int(r, "snapshot-id", what, &i, err) < 0)
        return -1;
    if (strcmp(type, "branch") != 0 && strcmp(type, "tag") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: type must be \"branch\" or \"tag\", got \"%s\"", what, type);
    if (ig_icemeta_opt_int(r, "max-ref-age-ms", what, &i, err) < 0 ||
        ig_icemeta_opt_int(r, "max-snapshot-age-ms", what, &i, err) < 0 ||
        ig_icemeta_opt_int(r, "min-snapshots-to-keep", what, &i, err) < 0)
        return -1;
    return 0;
}

static int check_statistics(json_object *st, int partition, ig_error_t *err)
{
    const char *what = partition ? "partition statistics file" : "statistics file";
    int64_t i;
    const char *s;
    json_object *a;
    if (ig_icemeta_req_int(st, "snapshot-id", what, &i, err) < 0 ||
        ig_icemeta_req_str(st, "statistics-path", what, &s, err) < 0 ||
        ig_icemeta_req_int(st, "file-size-in-bytes", what, &i, err) < 0)
        return -1;
    if (!partition && (ig_icemeta_req_int(st, "file-footer-size-in-bytes", what, &i, err) < 0 ||
                       ig_icemeta_req_array(st, "blob-metadata", what, &a, err) < 0))
        return -1;
    return 0;
}

static int check_encryption_key(json_object *k, ig_error_t *err)
{
    const char *s;
    if (ig_icemeta_req_str(k, "key-id", "encryption key", &s, err) < 0 ||
        ig_icemeta_req_str(k, "encrypted-key-metadata", "encryption key", &s, err) < 0)
        return -1;
    return 0;
}

/* Unique integer member key across the objects of arr (sorted, so long snapshot lists stay cheap). */
static int check_unique_ids(json_object *arr, const char *key, const char *what, ig_error_t *err)
{
    int64_t *ids;
    size_t n;
    if (ig_icemeta_sorted_ids(arr, key, &ids, &n) < 0) return ig_icemeta_oom(err);
    for (size_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1]) {
            int64_t dup = ids[i];
            free(ids);
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: duplicate %s %" PRId64, what, dup);
        }
    free(ids);
    return 0;
}

/* Semantic checks on a normalized document. */
static int check_normalized(json_object *m, ig_error_t *err)
{
    const char *W = "table metadata";
    int64_t fv, i, cur;
    const char *s;
    json_object *schemas, *specs, *orders, *snaps, *refs, *arr, *props;

    if (ig_icemeta_req_int(m, "format-version", W, &fv, err) < 0) return -1;
    if (fv >= 2 ? ig_icemeta_req_str(m, "table-uuid", W, &s, err) < 0
                : ig_icemeta_opt_str(m, "table-uuid", W, &s, err) < 0)
        return -1;
    if (ig_icemeta_req_str(m, "location", W, &s, err) < 0 ||
        ig_icemeta_req_int(m, "last-updated-ms", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-column-id", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-sequence-number", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-partition-id", W, &i, err) < 0)
        return -1;
    if (fv >= 3) {
        if (ig_icemeta_req_int(m, "next-row-id", W, &i, err) < 0) return -1;
        if (i < 0) return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: next-row-id must not be negative");
    }
    if (ig_icemeta_req_object(m, "properties", W, &props, err) < 0 ||
        ig_icemeta_check_string_map(props, "table metadata: properties", err) < 0)
        return -1;

    /* schemas */
    if (ig_icemeta_req_array(m, "schemas", W, &schemas, err) < 0) return -1;
    if (json_object_array_length(schemas) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'schemas' is empty");
    for (size_t k = 0; k < json_object_array_length(schemas); k++)
        if (ig_icemeta_check_schema(json_object_array_get_idx(schemas, k), 1, NULL, err) < 0) return -1;
    if (check_unique_ids(schemas, "schema-id", "schema-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "current-schema-id", W, &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(schemas, "schema-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: current-schema-id %" PRId64 " is not in 'schemas'",
                            cur);

    /* partition specs */
    if (ig_icemeta_req_array(m, "partition-specs", W, &specs, err) < 0) return -1;
    if (json_object_array_length(specs) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'partition-specs' is empty");
    for (size_t k = 0; k < json_object_array_length(specs); k++) {
        json_object *sp = json_object_array_get_idx(specs, k), *fields;
        if (ig_icemeta_req_int(sp, "spec-id", "partition spec", &i, err) < 0 ||
            ig_icemeta_req_array(sp, "fields", "partition spec", &fields, err) < 0)
            return -1;
        for (size_t j = 0; j < json_object_array_length(fields); j++)
            if (check_partition_field(json_object_array_get_idx(fields, j), 1, NULL, err) < 0) return -1;
    }
    if (check_unique_ids(specs, "spec-id", "spec-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "default-spec-id", W, &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(specs, "spec-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: default-spec-id %" PRId64 " is not in 'partition-specs'", cur);

    /* sort orders */
    if (ig_icemeta_req_array(m, "sort-orders", W, &orders, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(orders); k++) {
        json_object *so = json_object_array_get_idx(orders, k), *fields;
        if (ig_icemeta_req_int(so, "order-id", "sort order", &i, err) < 0 ||
            ig_icemeta_req_array(so, "fields", "sort order", &fields, err) < 0)
            return -1;
        for (size_t j = 0; j < json_object_array_length(fields); j++)
            if (check_sort_field(json_object_array_get_idx(fields, j), NULL, err) < 0) return -1;
    }
    if (check_unique_ids(orders, "order-id", "order-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "default-sort-order-id", W, &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(orders, "order-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: default-sort-order-id %" PRId64 " is not in 'sort-orders'", cur);

    /* snapshots and refs */
    int64_t last_seq = ig_icemeta_get_i64(m, "last-sequence-number", 0);
    if (ig_icemeta_req_array(m, "snapshots", W, &snaps, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(snaps); k++) {
        json_object *sn = json_object_array_get_idx(snaps, k);
        if (check_snapshot(sn, fv, err) < 0) return -1;
        int64_t seq = ig_icemeta_get_i64(sn, "sequence-number", 0);
        if (fv >= 2 && seq > last_seq)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: snapshot %" PRId64 " has sequence-number %" PRId64
                                " above last-sequence-number %" PRId64,
                                ig_icemeta_get_i64(sn, "snapshot-id", 0), seq, last_seq);
    }
    if (check_unique_ids(snaps, "snapshot-id", "snapshot-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "current-snapshot-id", W, &cur, err) < 0) return -1;
    if (cur != -1 && !ig_icemeta_find_by_id(snaps, "snapshot-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: current-snapshot-id %" PRId64 " is not in 'snapshots'",
                            cur);
    if (ig_icemeta_req_object(m, "refs", W, &refs, err) < 0) return -1;
    json_object_object_foreach(refs, rname, ref)
    {
        if (check_ref(rname, ref, err) < 0) return -1;
        int64_t sid = ig_icemeta_get_i64(ref, "snapshot-id", 0);
        if (!ig_icemeta_find_by_id(snaps, "snapshot-id", sid, NULL))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: ref '%s' points to unknown snapshot %" PRId64,
                                rname, sid);
        if (strcmp(rname, "main") == 0) {
            if (strcmp(ig_icemeta_get_str(ref, "type"), "branch") != 0)
                return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: ref 'main' must be a branch");
            if (sid != cur)
                return ig_error_set(err, IG_E_BAD_REQUEST,
                                    "table metadata: current-snapshot-id %" PRId64
                                    " does not match the main branch (%" PRId64 ")",
                                    cur, sid);
        }
    }

    /* logs, statistics, keys */
    if (ig_icemeta_req_array(m, "snapshot-log", W, &arr, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(arr); k++) {
        json_object *e = json_object_array_get_idx(arr, k);
        if (ig_icemeta_req_int(e, "snapshot-id", "snapshot-log entry", &i, err) < 0 ||
            ig_icemeta_req_int(e, "timestamp-ms", "snapshot-log entry", &i, err) < 0)
            return -1;
    }
    if (ig_icemeta_req_array(m, "metadata-log", W, &arr, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(arr); k++) {
        json_object *e = json_object_array_get_idx(arr, k);
        if (ig_icemeta_req_str(e, "metadata-file", "metadata-log entry", &s, err) < 0 ||
            ig_icemeta_req_int(e, "timestamp-ms", "metadata-log entry", &i, err) < 0)
            return -1;
    }
    static const char *const stat_keys[] = {"statistics", "partition-statistics"};
    for (int p = 0; p < 2; p++) {
        int r = ig_icemeta_opt_array(m, stat_keys[p], W, &arr, err);
        if (r < 0) return -1;
        for (size_t k = 0; r == 1 && k < json_object_array_length(arr); k++)
            if (check_statistics(json_object_array_get_idx(arr, k), p, err) < 0) return -1;
    }
    int r = ig_icemeta_opt_array(m, "encryption-keys", W, &arr, err);
    if (r < 0) return -1;
    for (size_t k = 0; r == 1 && k < json_object_array_length(arr); k++)
        if (check_encryption_key(json_object_array_get_idx(arr, k), err) < 0) return -1;
    return 0;
}

/* Gives a (private, mutable) document the uniform v2+ shape; see the file comment. */
static int normalize(json_object *m, int64_t fv, ig_error_t *err)
{
    json_object *v;
    /* Members normalization walks must have their JSON type before anything indexes into them. */
    static const struct {
        const char *key;
        json_type type;
        const char *name;
    } shapes[] = {
        {"schemas", json_type_array, "an array"},      {"partition-specs", json_type_array, "an array"},
        {"sort-orders", json_type_array, "an array"},  {"snapshots", json_type_array, "an array"},
        {"snapshot-log", json_type_array, "an array"}, {"metadata-log", json_type_array, "an array"},
        {"refs", json_type_object, "an object"},       {"properties", json_type_object, "an object"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        v = ig_icemeta_get(m, shapes[i].key);
        if (v && !json_object_is_type(v, shapes[i].type))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: field '%s' must be %s", shapes[i].key,
                                shapes[i].name);
    }
    if (!ig_icemeta_get(m, "schemas")) {
        json_object *sc = ig_icemeta_copy(ig_icemeta_get(m, "schema")), *arr;
        if (!sc) return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: missing required field 'schema'");
        if (!json_object_is_type(sc, json_type_object)) {
            json_object_put(sc);
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'schema' must be an object");
        }
        if (!ig_icemeta_get(sc, "schema-id")) ig_icemeta_set_i64(sc, "schema-id", 0);
        arr = json_object_new_array();
        json_object_array_add(arr, sc);
        json_object_object_add(m, "schemas", arr);
        if (!ig_icemeta_get(m, "current-schema-id"))
            ig_icemeta_set_i64(m, "current-schema-id", ig_icemeta_get_i64(sc, "schema-id", 0));
    }
    if (!ig_icemeta_get(m, "current-schema-id"))
        ig_icemeta_set_i64(
            m, "current-schema-id",
            ig_icemeta_get_i64(ig_icemeta_get(m, "schema"), "schema-id",
                               ig_icemeta_get_i64(json_object_array_get_idx(ig_icemeta_get(m, "schemas"), 0),
                                                  "schema-id", 0)));
    if (!ig_icemeta_get(m, "partition-specs")) {
        json_object *fields = ig_icemeta_copy(ig_icemeta_get(m, "partition-spec")), *spec, *arr;
        if (!json_object_is_type(fields, json_type_array)) {
            json_object_put(fields);
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'partition-spec' must be an array");
        }
        spec = json_object_new_object();
        ig_icemeta_set_i64(spec, "spec-id", 0);
        json_object_object_add(spec, "fields", fields);
        arr = json_object_new_array();
        json_object_array_add(arr, spec);
        json_object_object_add(m, "partition-specs", arr);
        if (!ig_icemeta_get(m, "default-spec-id")) ig_icemeta_set_i64(m, "default-spec-id", 0);
    }
    if (!ig_icemeta_get(m, "default-spec-id"))
        ig_icemeta_set_i64(
            m, "default-spec-id",
            ig_icemeta_get_i64(json_object_array_get_idx(ig_icemeta_get(m, "partition-specs"), 0), "spec-id",
                               0));
    /* v1 partition fields may lack field-id: they were implicitly 1000, 1001, ... in order. */
    int64_t max_pid = 999;
    v = ig_icemeta_get(m, "partition-specs");
    for (size_t k = 0; json_object_is_type(v, json_type_array) && k < json_object_array_length(v); k++) {
        json_object *fields = ig_icemeta_get(json_object_array_get_idx(v, k), "fields");
        for (size_t j = 0;
             json_object_is_type(fields, json_type_array) && j < json_object_array_length(fields); j++) {
            json_object *f = json_object_array_get_idx(fields, j);
            if (json_object_is_type(f, json_type_object) && !ig_icemeta_get(f, "field-id") && fv == 1)
                ig_icemeta_set_i64(f, "field-id", 1000 + (int64_t)j);
            int64_t id = ig_icemeta_get_i64(f, "field-id", 0);
            if (id > max_pid) max_pid = id;
        }
    }
    if (!ig_icemeta_get(m, "last-partition-id")) ig_icemeta_set_i64(m, "last-partition-id", max_pid);
    if (!ig_icemeta_get(m, "sort-orders")) {
        json_object *arr = json_object_new_array(), *o = json_object_new_object();
        ig_icemeta_set_i64(o, "order-id", 0);
        json_object_object_add(o, "fields", json_object_new_array());
        json_object_array_add(arr, o);
        json_object_object_add(m, "sort-orders", arr);
    }
    if (!ig_icemeta_get(m, "default-sort-order-id")) ig_icemeta_set_i64(m, "default-sort-order-id", 0);
    if (!ig_icemeta_get(m, "last-sequence-number")) ig_icemeta_set_i64(m, "last-sequence-number", 0);
    if (!ig_icemeta_get(m, "properties")) json_object_object_add(m, "properties", json_object_new_object());
    if (!ig_icemeta_get(m, "current-snapshot-id")) ig_icemeta_set_i64(m, "current-snapshot-id", -1);
    if (!ig_icemeta_get(m, "snapshots")) json_object_object_add(m, "snapshots", json_object_new_array());
    if (!ig_icemeta_get(m, "refs")) {
        json_object *refs = json_object_new_object();
        int64_t cur = ig_icemeta_get_i64(m, "current-snapshot-id", -1);
        if (cur != -1) {
            json_object *mainref = json_object_new_object();
            ig_icemeta_set_i64(mainref, "snapshot-id", cur);
            ig_icemeta_set_str(mainref, "type", "branch");
            json_object_object_add(refs, "main", mainref);
        }
        json_object_object_add(m, "refs", refs);
    }
    if (!ig_icemeta_get(m, "snapshot-log"))
        json_object_object_add(m, "snapshot-log", json_object_new_array());
    if (!ig_icemeta_get(m, "metadata-log"))
        json_object_object_add(m, "metadata-log", json_object_new_array());
    return 0;
}

/* Validates meta and returns a normalized private copy of it in *out. */
static int load(json_object *meta, json_object **out, ig_error_t *err)
{
    int64_t fv = 0;
    json_object *m = NULL;
    *out = NULL;
    if (ig_icemeta_check_depth(meta, err) < 0 || check_required(meta, &fv, err) < 0) return -1;
    if (!(m = ig_icemeta_copy(meta))) return ig_icemeta_oom(err);
    /* json-c reads a JSON null as a NULL member: treat "current-snapshot-id": null like absent. */
    if (ig_icemeta_get(m, "current-snapshot-id") == NULL) json_object_object_del(m, "current-snapshot-id");
    if (normalize(m, fv, err) < 0 || check_normalized(m, err) < 0) goto fail;
    *out = m;
    return 0;
fail:
    json_object_put(m);
    return -1;
}

int ig_tablemeta_validate(json_object *meta, ig_error_t *err)
{
    json_object *m;
    if (load(meta, &m, err) < 0) return -1;
    json_object_put(m);
    return 0;
}

/* ---------- output shape ---------- */

static const char *const canonical_keys[] = {"format-version",
                                             "table-uuid",
                                             "location",
                                             "last-sequence-number",
                                             "last-updated-ms",
                                             "last-column-id",
                                             "next-row-id",
                                             "schema",
                                             "current-schema-id",
                                             "schemas",
                                             "partition-spec",
                                             "default-spec-id",
                                             "partition-specs",
                                             "last-partition-id",
                                             "default-sort-order-id",
                                             "sort-orders",
                                             "properties",
                                             "current-snapshot-id",
                                             "refs",
                                             "snapshots",
                                             "statistics",
                                             "partition-statistics",
                                             "encryption-keys",
                                             "snapshot-log",
                                             "metadata-log",
                                             NULL};

/* v1 readers only know "schema" and "partition-spec": keep them equal to the current ones; drop them
 * from v2+ documents (the format says v2 writers must not rely on them). */
static void sync_legacy(json_object *m)
{
    if (ig_icemeta_get_i64(m, "format-version", 2) == 1) {
        json_object *sc = ig_icemeta_copy(current_schema(m));
        json_object *spec = ig_icemeta_find_by_id(ig_icemeta_get(m, "partition-specs"), "spec-id",
                                                  ig_icemeta_get_i64(m, "default-spec-id", 0), NULL);
        if (sc) json_object_object_add(m, "schema", sc);
        if (spec)
            json_object_object_add(m, "partition-spec", ig_icemeta_copy(ig_icemeta_get(spec, "fields")));
    } else {
        json_object_object_del(m, "schema");
        json_object_object_del(m, "partition-spec");
    }
}

const char *ig_tablemeta_to_string(json_object *obj)
{
    return json_object_to_json_string_ext(obj, IG_ICEMETA_JSON_FLAGS);
}

/* ---------- create ---------- */

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
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot find source column %" PRId64 " in the schema", what,
                                old);
        ig_icemeta_set_i64(f, "source-id", nid);
    }
    for (size_t i = 0; json_object_is_type(ids, json_type_array) && i < json_object_array_length(ids); i++) {
        int64_t old = json_object_get_int64(json_object_array_get_idx(ids, i)), nid = idmap_get(map, old);
        if (nid < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot find source column %" PRId64 " in the schema", what,
                                old);
        json_object_array_put_idx(ids, i, json_object_new_int64(nid));
    }
    return 0;
}

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

int ig_tablemeta_create(json_object *req, const char *location, const char *table_uuid, int64_t now_ms,
                        json_object **out_meta, ig_error_t *err)
{
    const char *W = "create table request", *name, *reqloc = NULL;
    json_object *reqschema, *reqspec = NULL, *reqorder = NULL, *reqprops = NULL;
    json_object *m = NULL, *schema = NULL, *fields, *arr, *spec = NULL, *order = NULL, *props = NULL;
    idmap_t map = {0};
    char *loc = NULL;
    int64_t fv;

    if (ig_icemeta_check_create_args(req, W, out_meta, err) < 0) return -1;
    if (ig_icemeta_req_str(req, "name", W, &name, err) < 0 ||
        ig_icemeta_req_object(req, "schema", W, &reqschema, err) < 0 ||
        ig_icemeta_opt_str(req, "location", W, &reqloc, err) < 0 ||
        ig_icemeta_opt_object(req, "partition-spec", W, &reqspec, err) < 0 ||
        ig_icemeta_opt_object(req, "write-order", W, &reqorder, err) < 0 ||
        ig_icemeta_opt_object(req, "properties", W, &reqprops, err) < 0)
        return -1;
    if (!name[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "%s: 'name' must not be empty", W);
    if (reqprops && ig_icemeta_check_string_map(reqprops, "create table request: properties", err) < 0)
        return -1;
    if (ig_icemeta_check_schema(reqschema, 0, NULL, err) < 0) return -1;
    if ((fv = parse_format_version(req, err)) < 0) return -1;
    if (!table_uuid || !table_uuid[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "table uuid is required");
    if (ig_icemeta_new_location(location, reqloc, W, "table", &loc, err) < 0) return -1;

    /* schema with fresh ids */
    if (!(arr = fresh_struct(reqschema, &map, 1, err))) goto fail;
    schema = ig_icemeta_schema_with_id(arr, 0);
    json_object_put(arr);
    if (!schema) goto oom;
    if ((arr = ig_icemeta_get(schema, "identifier-field-ids"))) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            int64_t nid = idmap_get(&map, json_object_get_int64(json_object_array_get_idx(arr, i)));
            if (nid < 0) {
                ig_error_set(err, IG_E_BAD_REQUEST, "schema: identifier field ids are ambiguous");
                goto fail;
            }
            json_object_array_put_idx(arr, i, json_object_new_int64(nid));
        }
    }

    /* partition spec 0, field ids from 1000 */
    int64_t last_pid = 999;
    if (!(spec = json_object_new_object())) goto oom;
    ig_icemeta_set_i64(spec, "spec-id", 0);
    fields = json_object_new_array();
    json_object_object_add(spec, "fields", fields);
    if (reqspec) {
        json_object *rf;
        if (ig_icemeta_req_array(reqspec, "fields", "partition-spec", &rf, err) < 0) goto fail;
        for (size_t i = 0; i < json_object_array_length(rf); i++) {
            json_object *f = json_object_array_get_idx(rf, i), *nf;
            if (check_partition_field(f, 0, NULL, err) < 0) goto fail;
            for (size_t j = 0; j < i; j++)
                if (strcmp(ig_icemeta_get_str(json_object_array_get_idx(rf, j), "name"),
                           ig_icemeta_get_str(f, "name")) == 0) {
                    ig_error_set(err, IG_E_BAD_REQUEST, "partition-spec: duplicate partition field name '%s'",
                                 ig_icemeta_get_str(f, "name"));
                    goto fail;
                }
            if (!(nf = ig_icemeta_copy(f))) goto oom;
            json_object_array_add(fields, nf);
            if (rebind_sources(nf, &map, "partition field", err) < 0) goto fail;
            ig_icemeta_set_i64(nf, "field-id", ++last_pid);
        }
    }

    /* sort order: 1 when sorted, 0 (unsorted) otherwise */
    if (!(order = json_object_new_object())) goto oom;
    fields = json_object_new_array();
    ig_icemeta_set_i64(order, "order-id", 0);
    json_object_object_add(order, "fields", fields);
    if (reqorder) {
        json_object *rf;
        if (ig_icemeta_req_array(reqorder, "fields", "write-order", &rf, err) < 0) goto fail;
        for (size_t i = 0; i < json_object_array_length(rf); i++) {
            json_object *f = json_object_array_get_idx(rf, i), *nf;
            if (check_sort_field(f, NULL, err) < 0) goto fail;
            if (!(nf = ig_icemeta_copy(f))) goto oom;
            json_object_array_add(fields, nf);
            if (rebind_sources(nf, &map, "sort field", err) < 0) goto fail;
        }
        if (json_object_array_length(rf) > 0) ig_icemeta_set_i64(order, "order-id", 1);
    }

    if (!(props = json_object_new_object())) goto oom;
    if (reqprops) {
        json_object_object_foreach(reqprops, k, v)
        {
            if (strcmp(k, "format-version") != 0) json_object_object_add(props, k, json_object_get(v));
        }
    }

    if (!(m = json_object_new_object())) goto oom;
    ig_icemeta_set_i64(m, "format-version", fv);
    ig_icemeta_set_str(m, "table-uuid", table_uuid);
    ig_icemeta_set_str(m, "location", loc);
    ig_icemeta_set_i64(m, "last-sequence-number", 0);
    ig_icemeta_set_i64(m, "last-updated-ms", now_ms);
    ig_icemeta_set_i64(m, "last-column-id", map.next);
    if (fv >= 3) ig_icemeta_set_i64(m, "next-row-id", 0);
    ig_icemeta_set_i64(m, "current-schema-id", 0);
    arr = json_object_new_array();
    json_object_array_add(arr, schema);
    schema = NULL;
    json_object_object_add(m, "schemas", arr);
    ig_icemeta_set_i64(m, "default-spec-id", 0);
    arr = json_object_new_array();
    json_object_array_add(arr, spec);
    spec = NULL;
    json_object_object_add(m, "partition-specs", arr);
    ig_icemeta_set_i64(m, "last-partition-id", last_pid);
    ig_icemeta_set_i64(m, "default-sort-order-id", ig_icemeta_get_i64(order, "order-id", 0));
    arr = json_object_new_array();
    json_object_array_add(arr, order);
    order = NULL;
    json_object_object_add(m, "sort-orders", arr);
    json_object_object_add(m, "properties", props);
    props = NULL;
    ig_icemeta_set_i64(m, "current-snapshot-id", -1);
    json_object_object_add(m, "refs", json_object_new_object());
    json_object_object_add(m, "snapshots", json_object_new_array());
    json_object_object_add(m, "statistics", json_object_new_array());
    json_object_object_add(m, "partition-statistics", json_object_new_array());
    json_object_object_add(m, "snapshot-log", json_object_new_array());
    json_object_object_add(m, "metadata-log", json_object_new_array());
    sync_legacy(m);
    m = ig_icemeta_reorder(m, canonical_keys);
    if (check_normalized(m, err) < 0) goto fail;
    *out_meta = m;
    free(map.p);
    free(loc);
    return 0;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(m);
    json_object_put(schema);
    json_object_put(spec);
    json_object_put(order);
    json_object_put(props);
    free(map.p);
    free(loc);
    return -1;
}

/* ---------- requirements ---------- */

/* Checks one requirement against cur (a normalized copy, or NULL when the table does not exist). */
static int check_requirement(json_object *cur, json_object *r, ig_error_t *err)
{
    const char *type, *s;
    if (ig_icemeta_req_str(r, "type", "requirement", &type, err) < 0) return -1;
    static const char *const known[] = {"assert-create",
                                        "assert-table-uuid",
                                        "assert-ref-snapshot-id",
                                        "assert-last-assigned-field-id",
                                        "assert-current-schema-id",
                                        "assert-last-assigned-partition-id",
                                        "assert-default-spec-id",
                                        "assert-default-sort-order-id",
                                        NULL};
    int k = 0;
    while (known[k] && strcmp(known[k], type) != 0)
        k++;
    if (!known[k]) return ig_error_set(err, IG_E_BAD_REQUEST, "unknown requirement type \"%s\"", type);

    if (k == 0) {
        if (cur) return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: table already exists");
        return 0;
    }
    if (k == 1) {
        if (ig_icemeta_req_str(r, "uuid", type, &s, err) < 0) return -1;
        if (!cur) return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: current table metadata is missing");
        const char *have = ig_icemeta_get_str(cur, "table-uuid");
        if (!have || strcmp(have, s) != 0)
            return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: UUID does not match: expected %s != %s",
                                s, have ? have : "(none)");
        return 0;
    }
    if (k == 2) {
        const char *ref;
        json_object *idv;
        if (ig_icemeta_req_str(r, "ref", type, &ref, err) < 0) return -1;
        if (!json_object_object_get_ex(r, "snapshot-id", &idv))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: missing required field 'snapshot-id'", type);
        if (idv && !json_object_is_type(idv, json_type_int))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: field 'snapshot-id' must be an integer or null", type);
        json_object *have = cur ? ig_icemeta_get(ig_icemeta_get(cur, "refs"), ref) : NULL;
        if (!idv) {
            if (have)
                return ig_error_set(err, IG_E_COMMIT_FAILED,
                                    "Requirement failed: branch or tag %s was created concurrently", ref);
            return 0;
        }
        int64_t want = json_object_get_int64(idv);
        if (!have)
            return ig_error_set(err, IG_E_COMMIT_FAILED,
                                "Requirement failed: branch or tag %s is missing, expected %" PRId64, ref,
                                want);
        int64_t hid = ig_icemeta_get_i64(have, "snapshot-id", -1);
        if (hid != want)
            return ig_error_set(
                err, IG_E_COMMIT_FAILED, "Requirement failed: %s %s has changed: expected id %" PRId64 " != %" PRId64,
                ig_icemeta_get_str(have, "type") ? ig_icemeta_get_str(have, "type") : "ref", ref, want, hid);
        return 0;
    }
    static const struct {
        const char *rkey, *mkey, *desc;
    } simple[] = {
        {"last-assigned-field-id", "last-column-id", "last assigned field id"},
        {"current-schema-id", "current-schema-id", "current schema"},
        {"last-assigned-partition-id", "last-partition-id", "last assigned partition id"},
        {"default-spec-id", "default-spec-id", "default partition spec"},
        {"default-sort-order-id", "default-sort-order-id", "default sort order"},
    };
    int64_t want;
    if (ig_icemeta_req_int(r, simple[k - 3].rkey, type, &want, err) < 0) return -1;
    if (!cur) return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: current table metadata is missing");
    int64_t have = ig_icemeta_get_i64(cur, simple[k - 3].mkey, -1);
    if (have != want)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Requirement failed: %s changed: expected id %" PRId64 " != %" PRId64,
                            simple[k - 3].desc, want, have);
    return 0;
}

/* ---------- updates ---------- */

typedef struct {
    json_object *m;                             /* the metadata being built (owned by the caller of apply) */
    int is_new;                                 /* the table did not exist before this commit */
    int64_t last_schema, last_spec, last_order; /* ids added last in this commit, -1 if none */
    json_object *added;                         /* array of snapshot ids added in this commit */
    int removed_snapshots;
} commit_t;

#define UW(u) ig_icemeta_get_str(u, "action")

static int up_assign_uuid(commit_t *c, json_object *u, ig_error_t *err)
{
    const char *uuid, *have = ig_icemeta_get_str(c->m, "table-uuid");
    if (ig_icemeta_req_str(u, "uuid", UW(u), &uuid, err) < 0) return -1;
    if (!uuid[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "assign-uuid: 'uuid' must not be empty");
    if (have && strcmp(have, uuid) == 0) return 0;
    if (have && !c->is_new)
        return ig_error_set(err, IG_E_BAD_REQUEST, "assign-uuid: cannot reassign the uuid of an existing table (%s)",
                            have);
    ig_icemeta_set_str(c->m, "table-uuid", uuid);
    return 0;
}

static int up_upgrade_format_version(commit_t *c, json_object *u, ig_error_t *err)
{
    int64_t fv, have = ig_icemeta_get_i64(c->m, "format-version", 1);
    if (ig_icemeta_req_int(u, "format-version", UW(u), &fv, err) < 0) return -1;
    if (fv < 1 || fv > IG_TABLEMETA_MAX_FORMAT_VERSION)
        return ig_error_set(
            err, IG_E_BAD_REQUEST, "upgrade-format-version: unsupported format version %" PRId64 " (supported: 1 to %d)",
            fv, IG_TABLEMETA_MAX_FORMAT_VERSION);
    if (fv < have)
        return ig_error_set(
            err, IG_E_BAD_REQUEST, "upgrade-format-version: cannot downgrade v%" PRId64 " table to v%" PRId64, have, fv);
    if (fv == have) return 0;
    ig_icemeta_set_i64(c->m, "format-version", fv);
    if (fv >= 3 && !ig_icemeta_get(c->m, "next-row-id")) ig_icemeta_set_i64(c->m, "next-row-id", 0);
    return 0;
}

static int up_add_schema(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *schema, *schemas = array_member(c->m, "schemas");
    int64_t max_id, given, last = ig_icemeta_get_i64(c->m, "last-column-id", 0);
    if (ig_icemeta_req_object(u, "schema", UW(u), &schema, err) < 0) return -1;
    if (ig_icemeta_check_schema(schema, 0, &max_id, err) < 0) return -1;
    int r = ig_icemeta_opt_int(u, "last-column-id", UW(u), &given, err);
    if (r < 0) return -1;
    if (r == 1 && given < last)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "add-schema: invalid last-column-id %" PRId64 " < %" PRId64
                            " (previous last column id)",
                            given, last);
    int64_t next_last = last;
    if (max_id > next_last) next_last = max_id;
    if (r == 1 && given > next_last) next_last = given;
    ig_icemeta_set_i64(c->m, "last-column-id", next_last);
    return ig_icemeta_add_schema(schemas, schema, &c->last_schema, err);
}

/* set-current-schema / set-default-spec / set-default-sort-order: -1 means the one added last here. */
static int set_current(commit_t *c, json_object *u, const char *ukey, const char *arrkey, const char *idkey,
                       const char *mkey, int64_t last_added, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, ukey, UW(u), &id, err) < 0) return -1;
    if (id == -1) {
        if (last_added < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot use -1 (last added): nothing was added in this commit",
                                UW(u));
        id = last_added;
    }
    if (!ig_icemeta_find_by_id(ig_icemeta_get(c->m, arrkey), idkey, id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: unknown %s %" PRId64, UW(u), ukey, id);
    ig_icemeta_set_i64(c->m, mkey, id);
    return 0;
}

static int up_set_current_schema(commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c, u, "schema-id", "schemas", "schema-id", "current-schema-id", c->last_schema, err);
}

static int up_set_default_spec(commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c, u, "spec-id", "partition-specs", "spec-id", "default-spec-id", c->last_spec, err);
}

static int up_set_default_sort_order(commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c, u, "sort-order-id", "sort-orders", "order-id", "default-sort-order-id",
                       c->last_order, err);
}

/* Same partition fields (name, transform, sources; field-id when the new one names it). */
static int spec_fields_same(json_object *have, json_object *want)
{
    size_t n = json_object_array_length(want);
    if (json_object_array_length(have) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(have, i), *b = json_object_array_get_idx(want, i);
        static const char *const keys[] = {"name", "transform", "source-id", "source-ids"};
        for (int k = 0; k < 4; k++)
            if (!json_object_equal(ig_icemeta_get(a, keys[k]), ig_icemeta_get(b, keys[k]))) return 0;
        if (ig_icemeta_get(b, "field-id") &&
            !json_object_equal(ig_icemeta_get(a, "field-id"), ig_icemeta_get(b, "field-id")))
            return 0;
    }
    return 1;
}

static int up_add_spec(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *spec, *fields, *specs = array_member(c->m, "partition-specs"),
                                *schema = current_schema(c->m);
    json_object *nspec = NULL, *nfields;
    if (ig_icemeta_req_object(u, "spec", UW(u), &spec, err) < 0 ||
        ig_icemeta_req_array(spec, "fields", "add-spec: spec", &fields, err) < 0)
        return -1;
    if (!schema) return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: the table has no current schema");
    size_t n = json_object_array_length(fields);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i);
        if (check_partition_field(f, 0, schema, err) < 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ig_icemeta_get_str(json_object_array_get_idx(fields, j), "name"),
                       ig_icemeta_get_str(f, "name")) == 0)
                return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: duplicate partition field name '%s'",
                                    ig_icemeta_get_str(f, "name"));
    }
    for (size_t i = 0; i < json_object_array_length(specs); i++) {
        json_object *s = json_object_array_get_idx(specs, i);
        if (spec_fields_same(ig_icemeta_get(s, "fields"), fields)) {
            c->last_spec = ig_icemeta_get_i64(s, "spec-id", 0);
            return 0;
        }
    }
    int64_t last_pid = ig_icemeta_get_i64(c->m, "last-partition-id", 999), id;
    if (ig_icemeta_next_id(specs, "spec-id", -1, &id, err) < 0) return -1;
    if (!(nspec = json_object_new_object()) || !(nfields = ig_icemeta_copy(fields))) {
        json_object_put(nspec);
        return ig_icemeta_oom(err);
    }
    ig_icemeta_set_i64(nspec, "spec-id", id);
    json_object_object_add(nspec, "fields", nfields);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(nfields, i);
        if (!ig_icemeta_get(f, "field-id")) {
            if (last_pid >= INT32_MAX) {
                json_object_put(nspec);
                return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: no partition field ids left to assign");
            }
            ig_icemeta_set_i64(f, "field-id", ++last_pid);
        }
        if (ig_icemeta_get_i64(f, "field-id", 0) > last_pid) last_pid = ig_icemeta_get_i64(f, "field-id", 0);
    }
    json_object_array_add(specs, nspec);
    ig_icemeta_set_i64(c->m, "last-partition-id", last_pid);
    c->last_spec = id;
    return 0;
}

static int up_add_sort_order(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *order, *fields, *orders = array_member(c->m, "sort-orders"), *schema = current_schema(c->m),
                                 *no;
    if (ig_icemeta_req_object(u, "sort-order", UW(u), &order, err) < 0 ||
        ig_icemeta_req_array(order, "fields", "add-sort-order: sort-order", &fields, err) < 0)
        return -1;
    size_t n = json_object_array_length(fields);
    if (n && !schema) return ig_error_set(err, IG_E_BAD_REQUEST, "add-sort-order: the table has no current schema");
    for (size_t i = 0; i < n; i++)
        if (check_sort_field(json_object_array_get_idx(fields, i), schema, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(orders); i++) {
        json_object *o = json_object_array_get_idx(orders, i);
        if (json_object_equal(ig_icemeta_get(o, "fields"), fields)) {
            c->last_order = ig_icemeta_get_i64(o, "order-id", 0);
            return 0;
        }
    }
    /* Order id 0 is reserved for "unsorted"; sorted orders count from 1. */
    int64_t id = 0;
    if (n) {
        if (ig_icemeta_next_id(orders, "order-id", 0, &id, err) < 0) return -1;
        if (id < 1) id = 1;
    }
    if (!(no = json_object_new_object())) return ig_icemeta_oom(err);
    ig_icemeta_set_i64(no, "order-id", id);
    json_object_object_add(no, "fields", ig_icemeta_copy(fields));
    json_object_array_add(orders, no);
    c->last_order = id;
    return 0;
}

static int snapshot_added_here(commit_t *c, int64_t id)
{
    for (size_t i = 0; i < json_object_array_length(c->added); i++)
        if (json_object_get_int64(json_object_array_get_idx(c->added, i)) == id) return 1;
    return 0;
}

static int up_add_snapshot(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *snap, *snaps = array_member(c->m, "snapshots"), *copy;
    int64_t fv = ig_icemeta_get_i64(c->m, "format-version", 2), id, parent, seq = 0;
    if (ig_icemeta_req_object(u, "snapshot", UW(u), &snap, err) < 0 || check_snapshot(snap, fv, err) < 0)
        return -1;
    id = ig_icemeta_get_i64(snap, "snapshot-id", 0);
    if (ig_icemeta_find_by_id(snaps, "snapshot-id", id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: snapshot %" PRId64 " already exists", id);
    if (ig_icemeta_opt_int(snap, "parent-snapshot-id", "snapshot", &parent, err) == 1 &&
        !ig_icemeta_find_by_id(snaps, "snapshot-id", parent, NULL))
        return ig_error_set(
            err, IG_E_BAD_REQUEST, "add-snapshot: parent snapshot %" PRId64 " of snapshot %" PRId64 " does not exist",
            parent, id);
    if (fv >= 2) {
        int64_t last = ig_icemeta_get_i64(c->m, "last-sequence-number", 0);
        if (ig_icemeta_req_int(snap, "sequence-number", "add-snapshot: snapshot", &seq, err) < 0) return -1;
        if (seq <= last)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "add-snapshot: cannot add snapshot with sequence number %" PRId64
                                " older than or equal to last sequence number %" PRId64,
                                seq, last);
    }
    if (fv >= 3) {
        int64_t first, added, next = ig_icemeta_get_i64(c->m, "next-row-id", 0);
        if (ig_icemeta_req_int(snap, "first-row-id", "add-snapshot: snapshot (v3)", &first, err) < 0 ||
            ig_icemeta_req_int(snap, "added-rows", "add-snapshot: snapshot (v3)", &added, err) < 0)
            return -1;
        if (first < next)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "add-snapshot: first-row-id %" PRId64 " is behind table next-row-id %" PRId64,
                                first, next);
        if (added < 0) return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: added-rows must not be negative");
        if (added > INT64_MAX - next) return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: next-row-id overflows");
        ig_icemeta_set_i64(c->m, "next-row-id", next + added);
    }
    if (!(copy = ig_icemeta_copy(snap))) return ig_icemeta_oom(err);
    json_object_array_add(snaps, copy);
    if (fv >= 2) ig_icemeta_set_i64(c->m, "last-sequence-number", seq);
    json_object_array_add(c->added, json_object_new_int64(id));
    return 0;
}

static int up_set_snapshot_ref(commit_t *c, json_object *u, ig_error_t *err)
{
    const char *name, *type;
    int64_t id, v;
    json_object *refs, *ref, *old;
    if (ig_icemeta_req_str(u, "ref-name", UW(u), &name, err) < 0 ||
        ig_icemeta_req_str(u, "type", UW(u), &type, err) < 0 ||
        ig_icemeta_req_int(u, "snapshot-id", UW(u), &id, err) < 0)
        return -1;
    if (!name[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: 'ref-name' must not be empty");
    int is_branch = strcmp(type, "branch") == 0;
    if (!is_branch && strcmp(type, "tag") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: type must be \"branch\" or \"tag\", got \"%s\"",
                            type);
    if (strcmp(name, "main") == 0 && !is_branch)
        return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: 'main' must be a branch");
    if (!ig_icemeta_find_by_id(ig_icemeta_get(c->m, "snapshots"), "snapshot-id", id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: cannot set %s to unknown snapshot %" PRId64, name,
                            id);
    if (!(ref = json_object_new_object())) return ig_icemeta_oom(err);
    ig_icemeta_set_i64(ref, "snapshot-id", id);
    ig_icemeta_set_str(ref, "type", type);
    static const char *const opts[] = {"max-ref-age-ms", "max-snapshot-age-ms", "min-snapshots-to-keep"};
    for (int i = 0; i < 3; i++) {
        int r = ig_icemeta_opt_int(u, opts[i], UW(u), &v, err);
        if (r < 0) goto fail;
        if (r == 1) {
            if (!is_branch && i > 0) {
                ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: tags do not support %s", opts[i]);
                goto fail;
            }
            if (v <= 0) {
                ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: %s must be greater than 0", opts[i]);
                goto fail;
            }
            ig_icemeta_set_i64(ref, opts[i], v);
        }
    }
    refs = ig_icemeta_get(c->m, "refs");
    if (!json_object_is_type(refs, json_type_object)) {
        refs = json_object_new_object();
        json_object_object_add(c->m, "refs", refs);
    }
    old = ig_icemeta_get(refs, name);
    if (old && json_object_equal(old, ref)) {
        json_object_put(ref);
        return 0;
    }
    json_object_object_add(refs, name, ref);
    if (strcmp(name, "main") == 0) {
        json_object *snap = ig_icemeta_find_by_id(ig_icemeta_get(c->m, "snapshots"), "snapshot-id", id, NULL),
                    *e;
        int64_t ts = snapshot_added_here(c, id) ? ig_icemeta_get_i64(snap, "timestamp-ms", 0) : -1;
        ig_icemeta_set_i64(c->m, "current-snapshot-id", id);
        if (!(e = json_object_new_object())) return ig_icemeta_oom(err);
        ig_icemeta_set_i64(e, "timestamp-ms", ts); /* -1: stamped with now_ms when the commit is finished */
        ig_icemeta_set_i64(e, "snapshot-id", id);
        json_object_array_add(array_member(c->m, "snapshot-log"), e);
    }
    return 0;
fail:
    json_object_put(ref);
    return -1;
}

/* name may be the key string owned by refs itself: test it before the delete frees it. */
static void remove_ref(commit_t *c, const char *name)
{
    int is_main = strcmp(name, "main") == 0;
    json_object_object_del(ig_icemeta_get(c->m, "refs"), name);
    if (is_main) ig_icemeta_set_i64(c->m, "current-snapshot-id", -1);
}

/* Removes the elements of arr whose member key is in the sorted ids. */
static void array_remove_ids(json_object *arr, const char *key, const int64_t *ids, size_t n)
{
    for (size_t i = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0; i-- > 0;) {
        json_object *v = ig_icemeta_get(json_object_array_get_idx(arr, i), key);
        if (json_object_is_type(v, json_type_int) && ig_icemeta_ids_contain(ids, n, json_object_get_int64(v)))
            json_object_array_del_idx(arr, i, 1);
    }
}

static int up_remove_snapshots(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *ids, *refs = ig_icemeta_get(c->m, "refs");
    int64_t *rm;
    size_t n;
    if (ig_icemeta_req_array(u, "snapshot-ids", UW(u), &ids, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(ids); i++)
        if (!json_object_is_type(json_object_array_get_idx(ids, i), json_type_int))
            return ig_error_set(err, IG_E_BAD_REQUEST, "remove-snapshots: 'snapshot-ids' must hold integers");
    if (ig_icemeta_sorted_ids(ids, NULL, &rm, &n) < 0) return ig_icemeta_oom(err);
    array_remove_ids(ig_icemeta_get(c->m, "snapshots"), "snapshot-id", rm, n);
    array_remove_ids(ig_icemeta_get(c->m, "statistics"), "snapshot-id", rm, n);
    array_remove_ids(ig_icemeta_get(c->m, "partition-statistics"), "snapshot-id", rm, n);
    free(rm);
    /* Refs left pointing at a removed snapshot are removed too (as Iceberg Java does). */
    for (int again = 1; again;) {
        again = 0;
        json_object_object_foreach(refs, name, ref)
        {
            if (!ig_icemeta_find_by_id(ig_icemeta_get(c->m, "snapshots"), "snapshot-id",
                                       ig_icemeta_get_i64(ref, "snapshot-id", 0), NULL)) {
                remove_ref(c, name);
                again = 1;
                break; /* the iteration is invalid after a delete */
            }
        }
    }
    c->removed_snapshots = 1;
    return 0;
}

static int up_remove_snapshot_ref(commit_t *c, json_object *u, ig_error_t *err)
{
    const char *name;
    if (ig_icemeta_req_str(u, "ref-name", UW(u), &name, err) < 0) return -1;
    if (ig_icemeta_get(ig_icemeta_get(c->m, "refs"), name)) remove_ref(c, name);
    return 0;
}

static int up_set_location(commit_t *c, json_object *u, ig_error_t *err)
{
    return ig_icemeta_update_set_location(c->m, u, err);
}

static int up_set_properties(commit_t *c, json_object *u, ig_error_t *err)
{
    return ig_icemeta_update_set_properties(ig_icemeta_get(c->m, "properties"), u, err);
}

static int up_remove_properties(commit_t *c, json_object *u, ig_error_t *err)
{
    return ig_icemeta_update_remove_properties(ig_icemeta_get(c->m, "properties"), u, err);
}

/* Replaces the element of m[arrkey] with the same snapshot-id as item, or appends item. */
static int put_by_snapshot(commit_t *c, const char *arrkey, json_object *item, ig_error_t *err)
{
    json_object *arr = array_member(c->m, arrkey), *copy = ig_icemeta_copy(item);
    size_t idx;
    if (!copy) return ig_icemeta_oom(err);
    if (ig_icemeta_find_by_id(arr, "snapshot-id", ig_icemeta_get_i64(item, "snapshot-id", 0), &idx))
        json_object_array_put_idx(arr, idx, copy);
    else
        json_object_array_add(arr, copy);
    return 0;
}

static int up_set_statistics(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *st;
    if (ig_icemeta_req_object(u, "statistics", UW(u), &st, err) < 0 || check_statistics(st, 0, err) < 0)
        return -1;
    return put_by_snapshot(c, "statistics", st, err);
}

static int up_set_partition_statistics(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *st;
    if (ig_icemeta_req_object(u, "partition-statistics", UW(u), &st, err) < 0 ||
        check_statistics(st, 1, err) < 0)
        return -1;
    return put_by_snapshot(c, "partition-statistics", st, err);
}

static int up_remove_statistics(commit_t *c, json_object *u, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, "snapshot-id", UW(u), &id, err) < 0) return -1;
    array_remove_id(ig_icemeta_get(c->m, "statistics"), "snapshot-id", id);
    return 0;
}

static int up_remove_partition_statistics(commit_t *c, json_object *u, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, "snapshot-id", UW(u), &id, err) < 0) return -1;
    array_remove_id(ig_icemeta_get(c->m, "partition-statistics"), "snapshot-id", id);
    return 0;
}

/* remove-partition-specs / remove-schemas: never the one in use. */
static int remove_ids(commit_t *c, json_object *u, const char *ukey, const char *arrkey, const char *idkey,
                      const char *inuse_key, const char *inuse_desc, ig_error_t *err)
{
    json_object *ids;
    int64_t inuse = ig_icemeta_get_i64(c->m, inuse_key, -1);
    if (ig_icemeta_req_array(u, ukey, UW(u), &ids, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        json_object *v = json_object_array_get_idx(ids, i);
        if (!json_object_is_type(v, json_type_int))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: '%s' must hold integers", UW(u), ukey);
        if (json_object_get_int64(v) == inuse)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: cannot remove the %s %" PRId64, UW(u), inuse_desc, inuse);
    }
    for (size_t i = 0; i < json_object_array_length(ids); i++)
        array_remove_id(ig_icemeta_get(c->m, arrkey), idkey,
                        json_object_get_int64(json_object_array_get_idx(ids, i)));
    return 0;
}

static int up_remove_partition_specs(commit_t *c, json_object *u, ig_error_t *err)
{
    return remove_ids(c, u, "spec-ids", "partition-specs", "spec-id", "default-spec-id",
                      "default partition spec", err);
}

static int up_remove_schemas(commit_t *c, json_object *u, ig_error_t *err)
{
    return remove_ids(c, u, "schema-ids", "schemas", "schema-id", "current-schema-id", "current schema", err);
}

/* Index of the encryption key with this key-id, or -1. */
static long find_key(json_object *keys, const char *key_id)
{
    for (size_t i = 0; json_object_is_type(keys, json_type_array) && i < json_object_array_length(keys);
         i++) {
        const char *k = ig_icemeta_get_str(json_object_array_get_idx(keys, i), "key-id");
        if (k && strcmp(k, key_id) == 0) return (long)i;
    }
    return -1;
}

static int up_add_encryption_key(commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *key, *keys, *copy;
    if (ig_icemeta_req_object(u, "encryption-key", UW(u), &key, err) < 0 ||
        check_encryption_key(key, err) < 0)
        return -1;
    if (!(copy = ig_icemeta_copy(key))) return ig_icemeta_oom(err);
    keys = array_member(c->m, "encryption-keys");
    long idx = find_key(keys, ig_icemeta_get_str(key, "key-id"));
    if (idx >= 0)
        json_object_array_put_idx(keys, (size_t)idx, copy);
    else
        json_object_array_add(keys, copy);
    return 0;
}

static int up_remove_encryption_key(commit_t *c, json_object *u, ig_error_t *err)
{
    const char *id;
    json_object *keys = ig_icemeta_get(c->m, "encryption-keys");
    if (ig_icemeta_req_str(u, "key-id", UW(u), &id, err) < 0) return -1;
    long idx = find_key(keys, id);
    if (idx >= 0) json_object_array_del_idx(keys, (size_t)idx, 1);
    return 0;
}

static const struct {
    const char *action;
    int (*apply)(commit_t *, json_object *, ig_error_t *);
} updates_table[] = {
    {"assign-uuid", up_assign_uuid},
    {"upgrade-format-version", up_upgrade_format_version},
    {"add-schema", up_add_schema},
    {"set-current-schema", up_set_current_schema},
    {"add-spec", up_add_spec},
    {"set-default-spec", up_set_default_spec},
    {"add-sort-order", up_add_sort_order},
    {"set-default-sort-order", up_set_default_sort_order},
    {"add-snapshot", up_add_snapshot},
    {"set-snapshot-ref", up_set_snapshot_ref},
    {"remove-snapshots", up_remove_snapshots},
    {"remove-snapshot-ref", up_remove_snapshot_ref},
    {"set-location", up_set_location},
    {"set-properties", up_set_properties},
    {"remove-properties", up_remove_properties},
    {"set-statistics", up_set_statistics},
    {"remove-statistics", up_remove_statistics},
    {"set-partition-statistics", up_set_partition_statistics},
    {"remove-partition-statistics", up_remove_partition_statistics},
    {"remove-partition-specs", up_remove_partition_specs},
    {"remove-schemas", up_remove_schemas},
    {"add-encryption-key", up_add_encryption_key},
    {"remove-encryption-key", up_remove_encryption_key},
};

static int apply_update(commit_t *c, json_object *u, ig_error_t *err)
{
    const char *action;
    if (ig_icemeta_req_str(u, "action", "update", &action, err) < 0) return -1;
    for (size_t i = 0; i < sizeof updates_table / sizeof updates_table[0]; i++)
        if (strcmp(updates_table[i].action, action) == 0) return updates_table[i].apply(c, u, err);
    return ig_error_set(err, IG_E_BAD_REQUEST, "unknown table update action \"%s\"", action);
}

/* The metadata of a table that does not exist yet, for staged creates. */
static json_object *empty_table(json_object *updates, int64_t now_ms)
{
    int64_t fv = IG_TABLEMETA_DEFAULT_FORMAT_VERSION;
    for (size_t i = 0; updates && i < json_object_array_length(updates); i++) {
        json_object *u = json_object_array_get_idx(updates, i);
        const char *a = ig_icemeta_get_str(u, "action");
        if (a && strcmp(a, "upgrade-format-version") == 0) {
            int64_t v = ig_icemeta_get_i64(u, "format-version", 0);
            if (v >= 1 && v <= IG_TABLEMETA_MAX_FORMAT_VERSION) fv = v;
            break;
        }
    }
    json_object *m = json_object_new_object();
    if (!m) return NULL;
    ig_icemeta_set_i64(m, "format-version", fv);
    ig_icemeta_set_i64(m, "last-sequence-number", 0);
    ig_icemeta_set_i64(m, "last-updated-ms", now_ms);
    ig_icemeta_set_i64(m, "last-column-id", 0);
    if (fv >= 3) ig_icemeta_set_i64(m, "next-row-id", 0);
    ig_icemeta_set_i64(m, "current-schema-id", -1);
    json_object_object_add(m, "schemas", json_object_new_array());
    ig_icemeta_set_i64(m, "default-spec-id", -1);
    json_object_object_add(m, "partition-specs", json_object_new_array());
    ig_icemeta_set_i64(m, "last-partition-id", 999);
    ig_icemeta_set_i64(m, "default-sort-order-id", -1);
    json_object_object_add(m, "sort-orders", json_object_new_array());
    json_object_object_add(m, "properties", json_object_new_object());
    ig_icemeta_set_i64(m, "current-snapshot-id", -1);
    json_object_object_add(m, "refs", json_object_new_object());
    json_object_object_add(m, "snapshots", json_object_new_array());
    json_object_object_add(m, "snapshot-log", json_object_new_array());
    json_object_object_add(m, "metadata-log", json_object_new_array());
    return m;
}

/* A staged create may leave out an (unpartitioned) spec or (unsorted) order: fill in the defaults. */
static void default_spec_and_order(json_object *m)
{
    if (ig_icemeta_get_i64(m, "default-spec-id", -1) == -1 &&
        json_object_array_length(ig_icemeta_get(m, "partition-specs")) == 0) {
        json_object *s = json_object_new_object();
        ig_icemeta_set_i64(s, "spec-id", 0);
        json_object_object_add(s, "fields", json_object_new_array());
        json_object_array_add(ig_icemeta_get(m, "partition-specs"), s);
        ig_icemeta_set_i64(m, "default-spec-id", 0);
    }
    if (ig_icemeta_get_i64(m, "default-sort-order-id", -1) == -1) {
        if (!ig_icemeta_find_by_id(ig_icemeta_get(m, "sort-orders"), "order-id", 0, NULL)) {
            json_object *o = json_object_new_object();
            ig_icemeta_set_i64(o, "order-id", 0);
            json_object_object_add(o, "fields", json_object_new_array());
            json_object_array_add(ig_icemeta_get(m, "sort-orders"), o);
        }
        ig_icemeta_set_i64(m, "default-sort-order-id", 0);
    }
}

static int finish_snapshot_log(json_object *m, int removed, int64_t now_ms, ig_error_t *err)
{
    json_object *log = ig_icemeta_get(m, "snapshot-log");
    int64_t *ids;
    size_t n, keep_from = 0;
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        json_object *e = json_object_array_get_idx(log, i);
        if (ig_icemeta_get_i64(e, "timestamp-ms", 0) == -1) ig_icemeta_set_i64(e, "timestamp-ms", now_ms);
    }
    if (!removed) return 0;
    /* An entry for a removed snapshot breaks the history: drop it and everything before it. */
    if (ig_icemeta_sorted_ids(ig_icemeta_get(m, "snapshots"), "snapshot-id", &ids, &n) < 0)
        return ig_icemeta_oom(err);
    for (size_t i = 0; i < json_object_array_length(log); i++)
        if (!ig_icemeta_ids_contain(ids, n,
                                    ig_icemeta_get_i64(json_object_array_get_idx(log, i), "snapshot-id", 0)))
            keep_from = i + 1;
    free(ids);
    if (keep_from) json_object_array_del_idx(log, 0, keep_from);
    return 0;
}

static void append_metadata_log(json_object *m, const char *prev, int64_t prev_ts)
{
    json_object *log = array_member(m, "metadata-log"), *e = json_object_new_object();
    long max = 100;
    const char *s =
        ig_icemeta_get_str(ig_icemeta_get(m, "properties"), "write.metadata.previous-versions-max");
    if (s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end != s && *end == '\0' && v >= 1) max = v;
    }
    if (!e) return;
    ig_icemeta_set_str(e, "metadata-file", prev);
    ig_icemeta_set_i64(e, "timestamp-ms", prev_ts);
    json_object_array_add(log, e);
    size_t n = json_object_array_length(log);
    if (n > (size_t)max) json_object_array_del_idx(log, 0, n - (size_t)max);
}

int ig_tablemeta_commit(json_object *current, const char *prev_metadata_location, json_object *requirements,
                        json_object *updates, int64_t now_ms, json_object **out_meta, ig_error_t *err)
{
    commit_t c = {.last_schema = -1, .last_spec = -1, .last_order = -1};
    json_object *cur = NULL;
    int has_create = 0;

    if (ig_icemeta_check_commit_args(requirements, updates, out_meta, err) < 0) return -1;
    for (size_t i = 0; requirements && i < json_object_array_length(requirements); i++) {
        const char *t = ig_icemeta_get_str(json_object_array_get_idx(requirements, i), "type");
        if (t && strcmp(t, "assert-create") == 0) has_create = 1;
    }
    if (current && load(current, &cur, err) < 0) return -1;
    if (!current && !has_create)
        return ig_error_set(err, IG_E_NO_SUCH_TABLE, "Table does not exist");
    for (size_t i = 0; requirements && i < json_object_array_length(requirements); i++)
        if (check_requirement(cur, json_object_array_get_idx(requirements, i), err) < 0) goto fail;

    c.is_new = current == NULL;
    c.m = cur ? cur : empty_table(updates, now_ms);
    cur = NULL;
    if (!c.m || !(c.added = json_object_new_array())) goto oom;
    for (size_t i = 0; updates && i < json_object_array_length(updates); i++)
        if (apply_update(&c, json_object_array_get_idx(updates, i), err) < 0) goto fail;

    if (c.is_new) {
        if (!ig_icemeta_get_str(c.m, "table-uuid")) {
            ig_error_set(err, IG_E_BAD_REQUEST, "commit: creating a table requires an assign-uuid update");
            goto fail;
        }
        if (!ig_icemeta_get_str(c.m, "location")) {
            ig_error_set(err, IG_E_BAD_REQUEST, "commit: creating a table requires a set-location update");
            goto fail;
        }
        if (!current_schema(c.m)) {
            ig_error_set(err, IG_E_BAD_REQUEST,
                         "commit: creating a table requires add-schema and set-current-schema updates");
            goto fail;
        }
        default_spec_and_order(c.m);
    }
    if (finish_snapshot_log(c.m, c.removed_snapshots, now_ms, err) < 0) goto fail;
    if (current && prev_metadata_location)
        append_metadata_log(c.m, prev_metadata_location,
                            ig_icemeta_get_i64(current, "last-updated-ms", now_ms));
    ig_icemeta_set_i64(c.m, "last-updated-ms", now_ms);
    sync_legacy(c.m);
    c.m = ig_icemeta_reorder(c.m, canonical_keys);
    if (check_normalized(c.m, err) < 0) goto fail;
    *out_meta = c.m;
    json_object_put(c.added);
    return 0;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(cur);
    json_object_put(c.m);
    json_object_put(c.added);
    return -1;
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
