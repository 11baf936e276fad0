/* tablemeta_validate — validation and normalization of table metadata (see tablemeta.h and
 * tablemeta_internal.h).
 *
 * Every stored document that comes in is first checked for depth and for the fields its format version
 * requires, then *normalized* on a private deep copy: v1 documents get the v2-style lists (schemas,
 * partition-specs, sort-orders), absent optional lists become empty, an implied "main" ref is made
 * explicit.  Requirements and updates (tablemeta_commit.c) then work on one uniform shape, and every
 * result is put back in canonical key order (v1 documents keep their legacy "schema"/"partition-spec"
 * fields in sync) and validated once more by ig_tablemeta_finish, so a sequence of updates can never
 * produce a document that fails validation. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/icemeta.h"
#include "iceberg/tablemeta.h"
#include "iceberg/tablemeta_internal.h"

json_object *ig_tablemeta_current_schema(json_object *m)
{
    return ig_icemeta_find_by_id(ig_icemeta_get(m, "schemas"), "schema-id",
                                 ig_icemeta_get_i64(m, "current-schema-id", -1), NULL);
}

/* ---------- the fields a format version requires ---------- */

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
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: missing required field '%s'", all_required[i]);
    if (fv >= 2) {
        /* Like Iceberg Java's parser, report a missing current schema before later missing fields. */
        json_object *schemas = ig_icemeta_get(m, "schemas");
        int64_t cur;
        if (json_object_is_type(schemas, json_type_array) &&
            ig_icemeta_opt_int(m, "current-schema-id", "table metadata", &cur, err) == 1 &&
            !ig_icemeta_find_by_id(schemas, "schema-id", cur, NULL))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: current-schema-id %" PRId64 " is not in 'schemas'",
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
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: missing required field 'schema' or 'schemas'");
        if (!ig_icemeta_get(m, "partition-spec") && !ig_icemeta_get(m, "partition-specs"))
            return ig_error_set(
                err, IG_E_BAD_REQUEST,
                "table metadata: missing required field 'partition-spec' or 'partition-specs'");
    }
    *fv_out = fv;
    return 0;
}

/* ---------- elements ---------- */

static int check_transform_sources(json_object *f, const char *what, json_object *schema, ig_error_t *err)
{
    int64_t sid;
    json_object *ids;
    int r = ig_icemeta_opt_int(f, "source-id", what, &sid, err);
    if (r < 0) return -1;
    if (r == 1) {
        if (schema && !ig_icemeta_schema_has_id(schema, sid))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot find source column %" PRId64 " in the current schema",
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
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot find source column %" PRId64 " in the current schema",
                                what, json_object_get_int64(v));
    }
    return 0;
}

/* A partition field; need_id: field-id required.  schema (may be NULL): sources must exist in it. */
int ig_tablemeta_check_partition_field(json_object *f, int need_id, json_object *schema, ig_error_t *err)
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

const char *ig_tablemeta_duplicate_name(json_object *fields, size_t i)
{
    const char *name = ig_icemeta_get_str(json_object_array_get_idx(fields, i), "name");
    for (size_t j = 0; j < i; j++)
        if (strcmp(ig_icemeta_get_str(json_object_array_get_idx(fields, j), "name"), name) == 0) return name;
    return NULL;
}

int ig_tablemeta_check_sort_field(json_object *f, json_object *schema, ig_error_t *err)
{
    const char *s;
    if (ig_icemeta_req_str(f, "transform", "sort field", &s, err) < 0) return -1;
    if (ig_icemeta_req_str(f, "direction", "sort field", &s, err) < 0) return -1;
    if (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "sort field: direction must be \"asc\" or \"desc\", got \"%s\"", s);
    if (ig_icemeta_req_str(f, "null-order", "sort field", &s, err) < 0) return -1;
    if (strcmp(s, "nulls-first") != 0 && strcmp(s, "nulls-last") != 0)
        return ig_error_set(
            err, IG_E_BAD_REQUEST,
            "sort field: null-order must be \"nulls-first\" or \"nulls-last\", got \"%s\"", s);
    return check_transform_sources(f, "sort field", schema, err);
}

int ig_tablemeta_check_snapshot(json_object *s, int64_t fv, ig_error_t *err)
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
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "%s: type must be \"branch\" or \"tag\", got \"%s\"", what, type);
    if (ig_icemeta_opt_int(r, "max-ref-age-ms", what, &i, err) < 0 ||
        ig_icemeta_opt_int(r, "max-snapshot-age-ms", what, &i, err) < 0 ||
        ig_icemeta_opt_int(r, "min-snapshots-to-keep", what, &i, err) < 0)
        return -1;
    return 0;
}

int ig_tablemeta_check_statistics(json_object *st, int partition, ig_error_t *err)
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

int ig_tablemeta_check_encryption_key(json_object *k, ig_error_t *err)
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

/* ---------- semantic checks on a normalized document ---------- */

/* The top-level scalars and the properties. */
static int check_scalars(json_object *m, int64_t *fv, ig_error_t *err)
{
    const char *W = "table metadata", *s;
    int64_t i;
    json_object *props;
    if (ig_icemeta_req_int(m, "format-version", W, fv, err) < 0) return -1;
    if (*fv >= 2 ? ig_icemeta_req_str(m, "table-uuid", W, &s, err) < 0
                 : ig_icemeta_opt_str(m, "table-uuid", W, &s, err) < 0)
        return -1;
    if (ig_icemeta_req_str(m, "location", W, &s, err) < 0 ||
        ig_icemeta_req_int(m, "last-updated-ms", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-column-id", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-sequence-number", W, &i, err) < 0 ||
        ig_icemeta_req_int(m, "last-partition-id", W, &i, err) < 0)
        return -1;
    if (*fv >= 3) {
        if (ig_icemeta_req_int(m, "next-row-id", W, &i, err) < 0) return -1;
        if (i < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: next-row-id must not be negative");
    }
    if (ig_icemeta_req_object(m, "properties", W, &props, err) < 0 ||
        ig_icemeta_check_string_map(props, "table metadata: properties", err) < 0)
        return -1;
    return 0;
}

static int check_schemas(json_object *m, ig_error_t *err)
{
    json_object *schemas;
    int64_t cur;
    if (ig_icemeta_req_array(m, "schemas", "table metadata", &schemas, err) < 0) return -1;
    if (json_object_array_length(schemas) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'schemas' is empty");
    for (size_t k = 0; k < json_object_array_length(schemas); k++)
        if (ig_icemeta_check_schema(json_object_array_get_idx(schemas, k), 1, NULL, err) < 0) return -1;
    if (check_unique_ids(schemas, "schema-id", "schema-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "current-schema-id", "table metadata", &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(schemas, "schema-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: current-schema-id %" PRId64 " is not in 'schemas'",
                            cur);
    return 0;
}

static int check_specs(json_object *m, ig_error_t *err)
{
    json_object *specs;
    int64_t i, cur;
    if (ig_icemeta_req_array(m, "partition-specs", "table metadata", &specs, err) < 0) return -1;
    if (json_object_array_length(specs) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: 'partition-specs' is empty");
    for (size_t k = 0; k < json_object_array_length(specs); k++) {
        json_object *sp = json_object_array_get_idx(specs, k), *fields;
        if (ig_icemeta_req_int(sp, "spec-id", "partition spec", &i, err) < 0 ||
            ig_icemeta_req_array(sp, "fields", "partition spec", &fields, err) < 0)
            return -1;
        for (size_t j = 0; j < json_object_array_length(fields); j++)
            if (ig_tablemeta_check_partition_field(json_object_array_get_idx(fields, j), 1, NULL, err) < 0)
                return -1;
    }
    if (check_unique_ids(specs, "spec-id", "spec-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "default-spec-id", "table metadata", &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(specs, "spec-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: default-spec-id %" PRId64 " is not in 'partition-specs'", cur);
    return 0;
}

static int check_orders(json_object *m, ig_error_t *err)
{
    json_object *orders;
    int64_t i, cur;
    if (ig_icemeta_req_array(m, "sort-orders", "table metadata", &orders, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(orders); k++) {
        json_object *so = json_object_array_get_idx(orders, k), *fields;
        if (ig_icemeta_req_int(so, "order-id", "sort order", &i, err) < 0 ||
            ig_icemeta_req_array(so, "fields", "sort order", &fields, err) < 0)
            return -1;
        for (size_t j = 0; j < json_object_array_length(fields); j++)
            if (ig_tablemeta_check_sort_field(json_object_array_get_idx(fields, j), NULL, err) < 0) return -1;
    }
    if (check_unique_ids(orders, "order-id", "order-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "default-sort-order-id", "table metadata", &cur, err) < 0) return -1;
    if (!ig_icemeta_find_by_id(orders, "order-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: default-sort-order-id %" PRId64 " is not in 'sort-orders'", cur);
    return 0;
}

/* Snapshots (v2+: sequence numbers not above last-sequence-number) and current-snapshot-id. */
static int check_snapshots(json_object *m, int64_t fv, ig_error_t *err)
{
    json_object *snaps;
    int64_t cur, last_seq = ig_icemeta_get_i64(m, "last-sequence-number", 0);
    if (ig_icemeta_req_array(m, "snapshots", "table metadata", &snaps, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(snaps); k++) {
        json_object *sn = json_object_array_get_idx(snaps, k);
        if (ig_tablemeta_check_snapshot(sn, fv, err) < 0) return -1;
        int64_t seq = ig_icemeta_get_i64(sn, "sequence-number", 0);
        if (fv >= 2 && seq > last_seq)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: snapshot %" PRId64 " has sequence-number %" PRId64
                                " above last-sequence-number %" PRId64,
                                ig_icemeta_get_i64(sn, "snapshot-id", 0), seq, last_seq);
    }
    if (check_unique_ids(snaps, "snapshot-id", "snapshot-id", err) < 0) return -1;
    if (ig_icemeta_req_int(m, "current-snapshot-id", "table metadata", &cur, err) < 0) return -1;
    if (cur != -1 && !ig_icemeta_find_by_id(snaps, "snapshot-id", cur, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "table metadata: current-snapshot-id %" PRId64 " is not in 'snapshots'",
                            cur);
    return 0;
}

/* Refs point at existing snapshots; "main" is a branch at current-snapshot-id.  After check_snapshots. */
static int check_refs(json_object *m, ig_error_t *err)
{
    json_object *refs, *snaps = ig_icemeta_get(m, "snapshots");
    int64_t cur = ig_icemeta_get_i64(m, "current-snapshot-id", -1);
    if (ig_icemeta_req_object(m, "refs", "table metadata", &refs, err) < 0) return -1;
    json_object_object_foreach(refs, rname, ref)
    {
        if (check_ref(rname, ref, err) < 0) return -1;
        int64_t sid = ig_icemeta_get_i64(ref, "snapshot-id", 0);
        if (!ig_icemeta_find_by_id(snaps, "snapshot-id", sid, NULL))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "table metadata: ref '%s' points to unknown snapshot %" PRId64,
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
    return 0;
}

/* snapshot-log, metadata-log, statistics, partition statistics, encryption keys. */
static int check_logs(json_object *m, ig_error_t *err)
{
    const char *W = "table metadata", *s;
    int64_t i;
    json_object *arr;
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
            if (ig_tablemeta_check_statistics(json_object_array_get_idx(arr, k), p, err) < 0) return -1;
    }
    int r = ig_icemeta_opt_array(m, "encryption-keys", W, &arr, err);
    if (r < 0) return -1;
    for (size_t k = 0; r == 1 && k < json_object_array_length(arr); k++)
        if (ig_tablemeta_check_encryption_key(json_object_array_get_idx(arr, k), err) < 0) return -1;
    return 0;
}

/* Every semantic check, in the order a reader of the document meets the fields. */
static int check_normalized(json_object *m, ig_error_t *err)
{
    int64_t fv;
    if (check_scalars(m, &fv, err) < 0 || check_schemas(m, err) < 0 || check_specs(m, err) < 0 ||
        check_orders(m, err) < 0 || check_snapshots(m, fv, err) < 0 || check_refs(m, err) < 0 ||
        check_logs(m, err) < 0)
        return -1;
    return 0;
}

/* ---------- normalization (see the file comment) ---------- */

/* Members normalization walks must have their JSON type before anything indexes into them. */
static int check_shapes(json_object *m, ig_error_t *err)
{
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
        json_object *v = ig_icemeta_get(m, shapes[i].key);
        if (v && !json_object_is_type(v, shapes[i].type))
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: field '%s' must be %s", shapes[i].key,
                                shapes[i].name);
    }
    return 0;
}

/* v1 "schema" -> "schemas" (schema-id 0 when it has none), and current-schema-id. */
static int normalize_schemas(json_object *m, ig_error_t *err)
{
    if (!ig_icemeta_get(m, "schemas")) {
        json_object *sc = ig_icemeta_copy(ig_icemeta_get(m, "schema")), *arr;
        if (!sc)
            return ig_error_set(err, IG_E_BAD_REQUEST, "table metadata: missing required field 'schema'");
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
    return 0;
}

/* v1 "partition-spec" -> "partition-specs" (spec 0), default-spec-id, v1 partition field ids,
 * last-partition-id. */
static int normalize_specs(json_object *m, int64_t fv, ig_error_t *err)
{
    json_object *v;
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
    return 0;
}

/* Sort orders (unsorted order 0 when absent), the optional members, the implied main ref. */
static void normalize_rest(json_object *m)
{
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
}

/* Gives a (private, mutable) document the uniform v2+ shape. */
static int normalize(json_object *m, int64_t fv, ig_error_t *err)
{
    if (check_shapes(m, err) < 0 || normalize_schemas(m, err) < 0 || normalize_specs(m, fv, err) < 0)
        return -1;
    normalize_rest(m);
    return 0;
}

int ig_tablemeta_load(json_object *meta, json_object **out, ig_error_t *err)
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
    if (ig_tablemeta_load(meta, &m, err) < 0) return -1;
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
        json_object *sc = ig_icemeta_copy(ig_tablemeta_current_schema(m));
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

int ig_tablemeta_finish(json_object **m, ig_error_t *err)
{
    sync_legacy(*m);
    *m = ig_icemeta_reorder(*m, canonical_keys);
    return check_normalized(*m, err);
}
