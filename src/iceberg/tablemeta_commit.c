/* tablemeta_commit — ig_tablemeta_commit (see tablemeta.h): a table's requirement types and its own update
 * actions, as the rows of the table kind that icemeta's commit dispatch runs (the actions tables share
 * with views — assign-uuid, upgrade-format-version, add-schema, set-location, set-properties,
 * remove-properties — are icemeta's), staged creates from empty metadata, and the bookkeeping at the end
 * of a commit (snapshot-log, metadata-log, last-updated-ms).  Current metadata is loaded (validated and
 * normalized) by tablemeta_validate.c first, and the result validated again before it is returned. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/icemeta.h"
#include "iceberg/tablemeta.h"
#include "iceberg/tablemeta_internal.h"

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

/* Removes the elements of arr whose member key is in the sorted ids. */
static void array_remove_ids(json_object *arr, const char *key, const int64_t *ids, size_t n)
{
    for (size_t i = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0; i-- > 0;) {
        json_object *v = ig_icemeta_get(json_object_array_get_idx(arr, i), key);
        if (json_object_is_type(v, json_type_int) && ig_icemeta_ids_contain(ids, n, json_object_get_int64(v)))
            json_object_array_del_idx(arr, i, 1);
    }
}

/* ---------- requirements ---------- */

static int req_assert_create(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    (void)r;
    (void)type;
    if (cur) return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: table already exists");
    return 0;
}

static int req_assert_table_uuid(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    const char *s, *have;
    if (ig_icemeta_req_str(r, "uuid", type, &s, err) < 0) return -1;
    if (!cur)
        return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: current table metadata is missing");
    have = ig_icemeta_get_str(cur, "table-uuid");
    if (!have || strcmp(have, s) != 0)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Requirement failed: UUID does not match: expected %s != %s", s,
                            have ? have : "(none)");
    return 0;
}

/* snapshot-id null: the ref must not exist; else it must exist and point at that snapshot. */
static int req_assert_ref_snapshot_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    const char *ref;
    json_object *idv;
    if (ig_icemeta_req_str(r, "ref", type, &ref, err) < 0) return -1;
    if (!json_object_object_get_ex(r, "snapshot-id", &idv))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: missing required field 'snapshot-id'", type);
    if (idv && !json_object_is_type(idv, json_type_int))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "%s: field 'snapshot-id' must be an integer or null", type);
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
                            "Requirement failed: branch or tag %s is missing, expected %" PRId64, ref, want);
    int64_t hid = ig_icemeta_get_i64(have, "snapshot-id", -1);
    const char *kind = ig_icemeta_get_str(have, "type");
    if (hid != want)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Requirement failed: %s %s has changed: expected id %" PRId64 " != %" PRId64,
                            kind ? kind : "ref", ref, want, hid);
    return 0;
}

/* The requirements that compare one id of the request (rkey) with one of the metadata (mkey). */
static int req_same_id(json_object *cur, json_object *r, const char *type, const char *rkey, const char *mkey,
                       const char *desc, ig_error_t *err)
{
    int64_t want;
    if (ig_icemeta_req_int(r, rkey, type, &want, err) < 0) return -1;
    if (!cur)
        return ig_error_set(err, IG_E_COMMIT_FAILED, "Requirement failed: current table metadata is missing");
    int64_t have = ig_icemeta_get_i64(cur, mkey, -1);
    if (have != want)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Requirement failed: %s changed: expected id %" PRId64 " != %" PRId64, desc, want,
                            have);
    return 0;
}

static int req_last_field_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    return req_same_id(cur, r, type, "last-assigned-field-id", "last-column-id", "last assigned field id",
                       err);
}

static int req_current_schema_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    return req_same_id(cur, r, type, "current-schema-id", "current-schema-id", "current schema", err);
}

static int req_last_partition_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    return req_same_id(cur, r, type, "last-assigned-partition-id", "last-partition-id",
                       "last assigned partition id", err);
}

static int req_default_spec_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    return req_same_id(cur, r, type, "default-spec-id", "default-spec-id", "default partition spec", err);
}

static int req_default_sort_order_id(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    return req_same_id(cur, r, type, "default-sort-order-id", "default-sort-order-id", "default sort order",
                       err);
}

/* ---------- updates: the table's own actions ---------- */

typedef struct {
    ig_icemeta_commit_t base;      /* first: the handlers get &base and cast back (T()) */
    int64_t last_spec, last_order; /* ids added last in this commit, -1 if none */
    json_object *added;            /* array of snapshot ids added in this commit */
    int removed_snapshots;
} commit_t;

static commit_t *T(ig_icemeta_commit_t *c)
{
    return (commit_t *)c;
}

/* The action of update u, for messages. */
#define ACTION(u) ig_icemeta_get_str(u, "action")

/* set-current-schema / set-default-spec / set-default-sort-order: -1 means the one added last here. */
static int set_current(json_object *m, json_object *u, const char *ukey, const char *arrkey,
                       const char *idkey, const char *mkey, int64_t last_added, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, ukey, ACTION(u), &id, err) < 0) return -1;
    if (id == -1) {
        if (last_added < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot use -1 (last added): nothing was added in this commit",
                                ACTION(u));
        id = last_added;
    }
    if (!ig_icemeta_find_by_id(ig_icemeta_get(m, arrkey), idkey, id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: unknown %s %" PRId64, ACTION(u), ukey, id);
    ig_icemeta_set_i64(m, mkey, id);
    return 0;
}

static int up_set_current_schema(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c->m, u, "schema-id", "schemas", "schema-id", "current-schema-id", c->last_schema,
                       err);
}

static int up_set_default_spec(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c->m, u, "spec-id", "partition-specs", "spec-id", "default-spec-id", T(c)->last_spec,
                       err);
}

static int up_set_default_sort_order(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    return set_current(c->m, u, "sort-order-id", "sort-orders", "order-id", "default-sort-order-id",
                       T(c)->last_order, err);
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

/* Appends spec `id` with a copy of fields to specs, numbering fields without a field-id after
 * *last_pid (which follows the highest id).  0 or -1 (nothing appended). */
static int append_spec(json_object *specs, int64_t id, json_object *fields, int64_t *last_pid,
                       ig_error_t *err)
{
    json_object *nspec = NULL, *nfields;
    if (!(nspec = json_object_new_object()) || !(nfields = ig_icemeta_copy(fields))) {
        json_object_put(nspec);
        return ig_icemeta_oom(err);
    }
    ig_icemeta_set_i64(nspec, "spec-id", id);
    json_object_object_add(nspec, "fields", nfields);
    for (size_t i = 0; i < json_object_array_length(nfields); i++) {
        json_object *f = json_object_array_get_idx(nfields, i);
        if (!ig_icemeta_get(f, "field-id")) {
            if (*last_pid >= INT32_MAX) {
                json_object_put(nspec);
                return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: no partition field ids left to assign");
            }
            ig_icemeta_set_i64(f, "field-id", ++*last_pid);
        }
        int64_t fid = ig_icemeta_get_i64(f, "field-id", 0);
        if (fid > *last_pid) *last_pid = fid;
    }
    json_object_array_add(specs, nspec);
    return 0;
}

/* The schema a new partition spec or sort order is bound to: the current one, or while a staged create has
 * none yet, the schema added last in this commit.  DuckDB's staged create sends add-spec and add-sort-order
 * before set-current-schema; Iceberg's TableMetadata.Builder accepts that order, and the document's final
 * check (ig_tablemeta_validate) still holds every spec and order to the schema that ends up current. */
static json_object *binding_schema(ig_icemeta_commit_t *c)
{
    json_object *s = ig_tablemeta_current_schema(c->m);
    if (!s && c->last_schema >= 0)
        s = ig_icemeta_find_by_id(ig_icemeta_get(c->m, "schemas"), "schema-id", c->last_schema, NULL);
    return s;
}

static int up_add_spec(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *spec, *fields, *specs = array_member(c->m, "partition-specs"), *schema = binding_schema(c);
    const char *dup;
    if (ig_icemeta_req_object(u, "spec", ACTION(u), &spec, err) < 0 ||
        ig_icemeta_req_array(spec, "fields", "add-spec: spec", &fields, err) < 0)
        return -1;
    if (!schema && json_object_array_length(fields))
        return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: the table has no current schema");
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        if (ig_tablemeta_check_partition_field(json_object_array_get_idx(fields, i), 0, schema, err) < 0)
            return -1;
        if ((dup = ig_tablemeta_duplicate_name(fields, i)))
            return ig_error_set(err, IG_E_BAD_REQUEST, "add-spec: duplicate partition field name '%s'", dup);
    }
    for (size_t i = 0; i < json_object_array_length(specs); i++) {
        json_object *s = json_object_array_get_idx(specs, i);
        if (spec_fields_same(ig_icemeta_get(s, "fields"), fields)) {
            T(c)->last_spec = ig_icemeta_get_i64(s, "spec-id", 0);
            return 0;
        }
    }
    int64_t last_pid = ig_icemeta_get_i64(c->m, "last-partition-id", 999), id;
    if (ig_icemeta_next_id(specs, "spec-id", -1, &id, err) < 0 ||
        append_spec(specs, id, fields, &last_pid, err) < 0)
        return -1;
    ig_icemeta_set_i64(c->m, "last-partition-id", last_pid);
    T(c)->last_spec = id;
    return 0;
}

static int up_add_sort_order(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *order, *fields, *orders = array_member(c->m, "sort-orders"), *schema = binding_schema(c), *no;
    if (ig_icemeta_req_object(u, "sort-order", ACTION(u), &order, err) < 0 ||
        ig_icemeta_req_array(order, "fields", "add-sort-order: sort-order", &fields, err) < 0)
        return -1;
    size_t n = json_object_array_length(fields);
    if (n && !schema)
        return ig_error_set(err, IG_E_BAD_REQUEST, "add-sort-order: the table has no current schema");
    for (size_t i = 0; i < n; i++)
        if (ig_tablemeta_check_sort_field(json_object_array_get_idx(fields, i), schema, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(orders); i++) {
        json_object *o = json_object_array_get_idx(orders, i);
        if (json_object_equal(ig_icemeta_get(o, "fields"), fields)) {
            T(c)->last_order = ig_icemeta_get_i64(o, "order-id", 0);
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
    T(c)->last_order = id;
    return 0;
}

static int snapshot_added_here(commit_t *c, int64_t id)
{
    for (size_t i = 0; i < json_object_array_length(c->added); i++)
        if (json_object_get_int64(json_object_array_get_idx(c->added, i)) == id) return 1;
    return 0;
}

/* v2+: the snapshot's sequence number must follow last-sequence-number (returned in *seq), unless it has no
 * parent: a replace transaction starts a new history, built on the table as the client saw it, and Iceberg's
 * TableMetadata.Builder.addSnapshot exempts such a snapshot too.  v3: row lineage — first-row-id not behind
 * next-row-id, which then advances by added-rows. */
static int snapshot_numbers(json_object *m, json_object *snap, int64_t fv, bool has_parent, int64_t *seq,
                            ig_error_t *err)
{
    if (fv >= 2) {
        int64_t last = ig_icemeta_get_i64(m, "last-sequence-number", 0);
        if (ig_icemeta_req_int(snap, "sequence-number", "add-snapshot: snapshot", seq, err) < 0) return -1;
        /* A 409, as Java's RetryableValidationException becomes: the writer built on an older table, and a
         * refresh and retry (which Iceberg clients do on 409) fixes it. */
        if (*seq <= last && has_parent)
            return ig_error_set(err, IG_E_COMMIT_FAILED,
                                "Validation failed, please retry: add-snapshot: cannot add snapshot with sequence "
                                "number %" PRId64 " older than or equal to last sequence number %" PRId64,
                                *seq, last);
    }
    if (fv >= 3) {
        int64_t first, added, next = ig_icemeta_get_i64(m, "next-row-id", 0);
        if (ig_icemeta_req_int(snap, "first-row-id", "add-snapshot: snapshot (v3)", &first, err) < 0 ||
            ig_icemeta_req_int(snap, "added-rows", "add-snapshot: snapshot (v3)", &added, err) < 0)
            return -1;
        if (first < next)
            return ig_error_set(err, IG_E_COMMIT_FAILED,
                                "Validation failed, please retry: add-snapshot: first-row-id %" PRId64
                                " is behind table next-row-id %" PRId64,
                                first, next);
        if (added < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: added-rows must not be negative");
        if (added > INT64_MAX - next)
            return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: next-row-id overflows");
        ig_icemeta_set_i64(m, "next-row-id", next + added);
    }
    return 0;
}

static int up_add_snapshot(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *snap, *snaps = array_member(c->m, "snapshots"), *copy;
    int64_t fv = ig_icemeta_get_i64(c->m, "format-version", 2), id, parent, seq = 0;
    if (ig_icemeta_req_object(u, "snapshot", ACTION(u), &snap, err) < 0 ||
        ig_tablemeta_check_snapshot(snap, fv, err) < 0)
        return -1;
    id = ig_icemeta_get_i64(snap, "snapshot-id", 0);
    if (ig_icemeta_find_by_id(snaps, "snapshot-id", id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "add-snapshot: snapshot %" PRId64 " already exists", id);
    int has_parent = ig_icemeta_opt_int(snap, "parent-snapshot-id", "snapshot", &parent, err);
    if (has_parent == 1 && !ig_icemeta_find_by_id(snaps, "snapshot-id", parent, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "add-snapshot: parent snapshot %" PRId64 " of snapshot %" PRId64
                            " does not exist",
                            parent, id);
    if (snapshot_numbers(c->m, snap, fv, has_parent == 1, &seq, err) < 0) return -1;
    if (!(copy = ig_icemeta_copy(snap))) return ig_icemeta_oom(err);
    json_object_array_add(snaps, copy);
    /* last-sequence-number never goes back (a parentless snapshot may carry a lower one). */
    if (fv >= 2 && seq > ig_icemeta_get_i64(c->m, "last-sequence-number", 0))
        ig_icemeta_set_i64(c->m, "last-sequence-number", seq);
    json_object_array_add(T(c)->added, json_object_new_int64(id));
    return 0;
}

/* The ref a set-snapshot-ref update describes, in *out (caller owns it).  0 or -1. */
static int read_ref(json_object *m, json_object *u, const char **name, json_object **out, ig_error_t *err)
{
    const char *type;
    int64_t id, v;
    json_object *ref;
    if (ig_icemeta_req_str(u, "ref-name", ACTION(u), name, err) < 0 ||
        ig_icemeta_req_str(u, "type", ACTION(u), &type, err) < 0 ||
        ig_icemeta_req_int(u, "snapshot-id", ACTION(u), &id, err) < 0)
        return -1;
    if (!(*name)[0])
        return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: 'ref-name' must not be empty");
    int is_branch = strcmp(type, "branch") == 0;
    if (!is_branch && strcmp(type, "tag") != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "set-snapshot-ref: type must be \"branch\" or \"tag\", got \"%s\"",
                            type);
    if (strcmp(*name, "main") == 0 && !is_branch)
        return ig_error_set(err, IG_E_BAD_REQUEST, "set-snapshot-ref: 'main' must be a branch");
    if (!ig_icemeta_find_by_id(ig_icemeta_get(m, "snapshots"), "snapshot-id", id, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "set-snapshot-ref: cannot set %s to unknown snapshot %" PRId64,
                            *name, id);
    if (!(ref = json_object_new_object())) return ig_icemeta_oom(err);
    ig_icemeta_set_i64(ref, "snapshot-id", id);
    ig_icemeta_set_str(ref, "type", type);
    static const char *const opts[] = {"max-ref-age-ms", "max-snapshot-age-ms", "min-snapshots-to-keep"};
    for (int i = 0; i < 3; i++) {
        int r = ig_icemeta_opt_int(u, opts[i], ACTION(u), &v, err);
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
    *out = ref;
    return 0;
fail:
    json_object_put(ref);
    return -1;
}

static int up_set_snapshot_ref(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const char *name;
    json_object *refs, *ref = NULL, *old;
    if (read_ref(c->m, u, &name, &ref, err) < 0) return -1;
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
        int64_t id = ig_icemeta_get_i64(ref, "snapshot-id", 0);
        json_object *snap = ig_icemeta_find_by_id(ig_icemeta_get(c->m, "snapshots"), "snapshot-id", id, NULL),
                    *e;
        int64_t ts = snapshot_added_here(T(c), id) ? ig_icemeta_get_i64(snap, "timestamp-ms", 0) : -1;
        ig_icemeta_set_i64(c->m, "current-snapshot-id", id);
        if (!(e = json_object_new_object())) return ig_icemeta_oom(err);
        ig_icemeta_set_i64(e, "timestamp-ms", ts); /* -1: stamped with now_ms when the commit is finished */
        ig_icemeta_set_i64(e, "snapshot-id", id);
        json_object_array_add(array_member(c->m, "snapshot-log"), e);
    }
    return 0;
}

/* name may be the key string owned by refs itself: test it before the delete frees it. */
static void remove_ref(json_object *m, const char *name)
{
    int is_main = strcmp(name, "main") == 0;
    json_object_object_del(ig_icemeta_get(m, "refs"), name);
    if (is_main) ig_icemeta_set_i64(m, "current-snapshot-id", -1);
}

static int up_remove_snapshots(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *ids, *refs = ig_icemeta_get(c->m, "refs");
    int64_t *rm;
    size_t n;
    if (ig_icemeta_req_array(u, "snapshot-ids", ACTION(u), &ids, err) < 0) return -1;
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
                remove_ref(c->m, name);
                again = 1;
                break; /* the iteration is invalid after a delete */
            }
        }
    }
    T(c)->removed_snapshots = 1;
    return 0;
}

static int up_remove_snapshot_ref(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const char *name;
    if (ig_icemeta_req_str(u, "ref-name", ACTION(u), &name, err) < 0) return -1;
    if (ig_icemeta_get(ig_icemeta_get(c->m, "refs"), name)) remove_ref(c->m, name);
    return 0;
}

/* Replaces the element of m[arrkey] with the same snapshot-id as item, or appends item. */
static int put_by_snapshot(json_object *m, const char *arrkey, json_object *item, ig_error_t *err)
{
    json_object *arr = array_member(m, arrkey), *copy = ig_icemeta_copy(item);
    size_t idx;
    if (!copy) return ig_icemeta_oom(err);
    if (ig_icemeta_find_by_id(arr, "snapshot-id", ig_icemeta_get_i64(item, "snapshot-id", 0), &idx))
        json_object_array_put_idx(arr, idx, copy);
    else
        json_object_array_add(arr, copy);
    return 0;
}

static int up_set_statistics(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *st;
    if (ig_icemeta_req_object(u, "statistics", ACTION(u), &st, err) < 0 ||
        ig_tablemeta_check_statistics(st, 0, err) < 0)
        return -1;
    return put_by_snapshot(c->m, "statistics", st, err);
}

static int up_set_partition_statistics(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *st;
    if (ig_icemeta_req_object(u, "partition-statistics", ACTION(u), &st, err) < 0 ||
        ig_tablemeta_check_statistics(st, 1, err) < 0)
        return -1;
    return put_by_snapshot(c->m, "partition-statistics", st, err);
}

static int up_remove_statistics(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, "snapshot-id", ACTION(u), &id, err) < 0) return -1;
    array_remove_id(ig_icemeta_get(c->m, "statistics"), "snapshot-id", id);
    return 0;
}

static int up_remove_partition_statistics(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    int64_t id;
    if (ig_icemeta_req_int(u, "snapshot-id", ACTION(u), &id, err) < 0) return -1;
    array_remove_id(ig_icemeta_get(c->m, "partition-statistics"), "snapshot-id", id);
    return 0;
}

/* remove-partition-specs / remove-schemas: never the one in use. */
static int remove_ids(json_object *m, json_object *u, const char *ukey, const char *arrkey, const char *idkey,
                      const char *inuse_key, const char *inuse_desc, ig_error_t *err)
{
    json_object *ids;
    int64_t inuse = ig_icemeta_get_i64(m, inuse_key, -1);
    if (ig_icemeta_req_array(u, ukey, ACTION(u), &ids, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        json_object *v = json_object_array_get_idx(ids, i);
        if (!json_object_is_type(v, json_type_int))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s: '%s' must hold integers", ACTION(u), ukey);
        if (json_object_get_int64(v) == inuse)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "%s: cannot remove the %s %" PRId64, ACTION(u), inuse_desc, inuse);
    }
    for (size_t i = 0; i < json_object_array_length(ids); i++)
        array_remove_id(ig_icemeta_get(m, arrkey), idkey,
                        json_object_get_int64(json_object_array_get_idx(ids, i)));
    return 0;
}

static int up_remove_partition_specs(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    return remove_ids(c->m, u, "spec-ids", "partition-specs", "spec-id", "default-spec-id",
                      "default partition spec", err);
}

static int up_remove_schemas(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    return remove_ids(c->m, u, "schema-ids", "schemas", "schema-id", "current-schema-id", "current schema",
                      err);
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

static int up_add_encryption_key(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *key, *keys, *copy;
    if (ig_icemeta_req_object(u, "encryption-key", ACTION(u), &key, err) < 0 ||
        ig_tablemeta_check_encryption_key(key, err) < 0)
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

static int up_remove_encryption_key(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const char *id;
    json_object *keys = ig_icemeta_get(c->m, "encryption-keys");
    if (ig_icemeta_req_str(u, "key-id", ACTION(u), &id, err) < 0) return -1;
    long idx = find_key(keys, id);
    if (idx >= 0) json_object_array_del_idx(keys, (size_t)idx, 1);
    return 0;
}

/* ---------- the table kind ---------- */

static const ig_icemeta_update_t table_updates[] = {
    {"set-current-schema", up_set_current_schema},
    {"add-spec", up_add_spec},
    {"set-default-spec", up_set_default_spec},
    {"add-sort-order", up_add_sort_order},
    {"set-default-sort-order", up_set_default_sort_order},
    {"add-snapshot", up_add_snapshot},
    {"set-snapshot-ref", up_set_snapshot_ref},
    {"remove-snapshots", up_remove_snapshots},
    {"remove-snapshot-ref", up_remove_snapshot_ref},
    {"set-statistics", up_set_statistics},
    {"remove-statistics", up_remove_statistics},
    {"set-partition-statistics", up_set_partition_statistics},
    {"remove-partition-statistics", up_remove_partition_statistics},
    {"remove-partition-specs", up_remove_partition_specs},
    {"remove-schemas", up_remove_schemas},
    {"add-encryption-key", up_add_encryption_key},
    {"remove-encryption-key", up_remove_encryption_key},
    {NULL, NULL},
};

static const ig_icemeta_requirement_t table_requirements[] = {
    {"assert-create", req_assert_create},
    {"assert-table-uuid", req_assert_table_uuid},
    {"assert-ref-snapshot-id", req_assert_ref_snapshot_id},
    {"assert-last-assigned-field-id", req_last_field_id},
    {"assert-current-schema-id", req_current_schema_id},
    {"assert-last-assigned-partition-id", req_last_partition_id},
    {"assert-default-spec-id", req_default_spec_id},
    {"assert-default-sort-order-id", req_default_sort_order_id},
    {NULL, NULL},
};

static const ig_icemeta_kind_t table_kind = {
    .name = "table",
    .uuid_key = "table-uuid",
    .last_column_key = "last-column-id",
    .max_format_version = IG_TABLEMETA_MAX_FORMAT_VERSION,
    .format_label = "format version",
    .requirement_label = "requirement",
    .updates = table_updates,
    .requirements = table_requirements,
};

/* ---------- commit ---------- */

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

/* A table built by a staged create must have gained a uuid, a location and a current schema. */
static int check_created(json_object *m, ig_error_t *err)
{
    if (!ig_icemeta_get_str(m, "table-uuid"))
        return ig_error_set(err, IG_E_BAD_REQUEST, "commit: creating a table requires an assign-uuid update");
    if (!ig_icemeta_get_str(m, "location"))
        return ig_error_set(err, IG_E_BAD_REQUEST, "commit: creating a table requires a set-location update");
    if (!ig_tablemeta_current_schema(m))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "commit: creating a table requires add-schema and set-current-schema updates");
    default_spec_and_order(m);
    return 0;
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

/* A staged create's default partition spec and sort order must bind to the schema that is current after the
 * commit: a spec added before set-current-schema was bound to the schema added last (binding_schema), and
 * a later set-current-schema may have picked another. */
static int check_defaults_bind(json_object *m, ig_error_t *err)
{
    json_object *schema = ig_tablemeta_current_schema(m), *spec, *order, *f;
    if (!schema) return 0;
    spec = ig_icemeta_find_by_id(ig_icemeta_get(m, "partition-specs"), "spec-id",
                                 ig_icemeta_get_i64(m, "default-spec-id", 0), NULL);
    f = spec ? ig_icemeta_get(spec, "fields") : NULL;
    for (size_t i = 0; f && i < json_object_array_length(f); i++)
        if (ig_tablemeta_check_partition_field(json_object_array_get_idx(f, i), 1, schema, err) < 0) return -1;
    order = ig_icemeta_find_by_id(ig_icemeta_get(m, "sort-orders"), "order-id",
                                  ig_icemeta_get_i64(m, "default-sort-order-id", 0), NULL);
    f = order ? ig_icemeta_get(order, "fields") : NULL;
    for (size_t i = 0; f && i < json_object_array_length(f); i++)
        if (ig_tablemeta_check_sort_field(json_object_array_get_idx(f, i), schema, err) < 0) return -1;
    return 0;
}

/* The bookkeeping after the updates: staged-create checks, next-row-id for v3 (an upgrade to v3 starts it
 * at 0), snapshot-log, metadata-log, last-updated-ms. */
static int finish_commit(commit_t *c, json_object *current, const char *prev_location, int64_t now_ms,
                         ig_error_t *err)
{
    json_object *m = c->base.m;
    if (c->base.is_new && (check_created(m, err) < 0 || check_defaults_bind(m, err) < 0)) return -1;
    if (ig_icemeta_get_i64(m, "format-version", 1) >= 3 && !ig_icemeta_get(m, "next-row-id"))
        ig_icemeta_set_i64(m, "next-row-id", 0);
    if (finish_snapshot_log(m, c->removed_snapshots, now_ms, err) < 0) return -1;
    if (current && prev_location)
        append_metadata_log(m, prev_location, ig_icemeta_get_i64(current, "last-updated-ms", now_ms));
    ig_icemeta_set_i64(m, "last-updated-ms", now_ms);
    return 0;
}

int ig_tablemeta_commit(json_object *current, const char *prev_metadata_location, json_object *requirements,
                        json_object *updates, int64_t now_ms, json_object **out_meta, ig_error_t *err)
{
    commit_t c = {.base = {.kind = &table_kind, .last_schema = -1}, .last_spec = -1, .last_order = -1};
    json_object *cur = NULL;
    int has_create = 0;

    if (ig_icemeta_check_commit_args(requirements, updates, out_meta, err) < 0) return -1;
    for (size_t i = 0; requirements && i < json_object_array_length(requirements); i++) {
        const char *t = ig_icemeta_get_str(json_object_array_get_idx(requirements, i), "type");
        if (t && strcmp(t, "assert-create") == 0) has_create = 1;
    }
    if (current && ig_tablemeta_load(current, &cur, err) < 0) return -1;
    if (!current && !has_create) return ig_error_set(err, IG_E_NO_SUCH_TABLE, "Table does not exist");
    if (ig_icemeta_check_requirements(&table_kind, cur, requirements, err) < 0) goto fail;

    c.base.is_new = current == NULL;
    c.base.m = cur ? cur : empty_table(updates, now_ms);
    cur = NULL;
    if (!c.base.m || !(c.added = json_object_new_array())) {
        ig_icemeta_oom(err);
        goto fail;
    }
    if (ig_icemeta_apply_updates(&c.base, updates, err) < 0 ||
        finish_commit(&c, current, prev_metadata_location, now_ms, err) < 0 ||
        ig_tablemeta_finish(&c.base.m, err) < 0)
        goto fail;
    *out_meta = c.base.m;
    json_object_put(c.added);
    return 0;
fail:
    json_object_put(cur);
    json_object_put(c.base.m);
    json_object_put(c.added);
    return -1;
}
