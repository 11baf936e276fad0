/* icemeta_commit — the create/commit side of icemeta (see icemeta.h): the argument checks every create and
 * commit starts with, the location of a new table or view, and the commit dispatch.  The dispatch is data:
 * each kind (tablemeta_commit.c, viewmeta.c) describes itself with an ig_icemeta_kind_t holding its own
 * {action, handler} and {type, check} tables, and the actions tables and views both have are the rows of
 * shared_updates below, so each of them is written once. */
#include "iceberg/icemeta.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The action of update u, for messages (u has passed the "action" check of the dispatch). */
#define ACTION(u) ig_icemeta_get_str(u, "action")

/* ---------- argument checks and locations ---------- */

int ig_icemeta_check_create_args(json_object *req, const char *what, json_object **out_meta, ig_error_t *err)
{
    if (!out_meta) return ig_error_set(err, IG_E_INTERNAL, "out_meta is NULL");
    *out_meta = NULL;
    if (ig_icemeta_check_depth(req, err) < 0) return -1;
    if (!json_object_is_type(req, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an object", what);
    return 0;
}

int ig_icemeta_check_commit_args(json_object *requirements, json_object *updates, json_object **out_meta,
                                 ig_error_t *err)
{
    if (!out_meta) return ig_error_set(err, IG_E_INTERNAL, "out_meta is NULL");
    *out_meta = NULL;
    if (ig_icemeta_check_depth(requirements, err) < 0 || ig_icemeta_check_depth(updates, err) < 0) return -1;
    if (requirements && !json_object_is_type(requirements, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "commit: 'requirements' must be an array");
    if (updates && !json_object_is_type(updates, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "commit: 'updates' must be an array");
    return 0;
}

int ig_icemeta_new_location(const char *location, const char *reqloc, const char *what, const char *kind,
                            char **out, ig_error_t *err)
{
    char *loc;
    *out = NULL;
    if (!location) location = reqloc;
    if (!location || !location[0])
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s: no %s location", what, kind);
    if (!(loc = strdup(location))) return ig_icemeta_oom(err);
    for (size_t n = strlen(loc); n > 1 && loc[n - 1] == '/'; n--)
        loc[n - 1] = '\0';
    *out = loc;
    return 0;
}

/* ---------- the shared updates ---------- */

/* The object member k of m, created empty if absent (borrowed). */
static json_object *object_member(json_object *m, const char *k)
{
    json_object *p = ig_icemeta_get(m, k);
    if (!json_object_is_type(p, json_type_object)) {
        p = json_object_new_object();
        json_object_object_add(m, k, p);
    }
    return p;
}

/* Adds schema (already checked) to schemas unless one with the same fields is there: *id gets that one's
 * schema-id, or the next free one, given to an appended copy.  -1 (400) when ids run out, -1 (500) on
 * allocation failure; *id is only set on success. */
static int add_schema(json_object *schemas, json_object *schema, int64_t *id, ig_error_t *err)
{
    json_object *copy;
    int64_t next = 0;
    for (size_t i = 0; i < json_object_array_length(schemas); i++) {
        json_object *s = json_object_array_get_idx(schemas, i);
        if (ig_icemeta_schema_same(s, schema)) {
            *id = ig_icemeta_get_i64(s, "schema-id", 0);
            return 0;
        }
    }
    if (ig_icemeta_next_id(schemas, "schema-id", -1, &next, err) < 0) return -1;
    if (!(copy = ig_icemeta_schema_with_id(schema, next))) return ig_icemeta_oom(err);
    json_object_array_add(schemas, copy);
    *id = next;
    return 0;
}

static int up_assign_uuid(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const ig_icemeta_kind_t *k = c->kind;
    const char *uuid, *have = ig_icemeta_get_str(c->m, k->uuid_key);
    if (ig_icemeta_req_str(u, "uuid", ACTION(u), &uuid, err) < 0) return -1;
    if (!uuid[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "assign-uuid: 'uuid' must not be empty");
    if (have && strcmp(have, uuid) == 0) return 0;
    if (have && !c->is_new)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "assign-uuid: cannot reassign the uuid of an existing %s (%s)",
                            k->name, have);
    ig_icemeta_set_str(c->m, k->uuid_key, uuid);
    return 0;
}

static int up_upgrade_format_version(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const ig_icemeta_kind_t *k = c->kind;
    int64_t fv, have = ig_icemeta_get_i64(c->m, "format-version", 1), max = k->max_format_version;
    if (ig_icemeta_req_int(u, "format-version", ACTION(u), &fv, err) < 0) return -1;
    if (fv < 1 || fv > max) {
        /* A kind with a single format version has no range to name. */
        if (max == 1)
            return ig_error_set(err, IG_E_BAD_REQUEST, "upgrade-format-version: unsupported %s %" PRId64,
                                k->format_label, fv);
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "upgrade-format-version: unsupported %s %" PRId64 " (supported: 1 to %" PRId64
                            ")",
                            k->format_label, fv, max);
    }
    if (fv < have)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "upgrade-format-version: cannot downgrade v%" PRId64 " %s to v%" PRId64, have,
                            k->name, fv);
    if (fv != have) ig_icemeta_set_i64(c->m, "format-version", fv);
    return 0;
}

static int up_add_schema(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const char *lkey = c->kind->last_column_key;
    json_object *schema, *schemas = ig_icemeta_get(c->m, "schemas");
    int64_t max_id, given;
    if (!json_object_is_type(schemas, json_type_array)) {
        schemas = json_object_new_array();
        json_object_object_add(c->m, "schemas", schemas);
    }
    if (ig_icemeta_req_object(u, "schema", ACTION(u), &schema, err) < 0) return -1;
    if (ig_icemeta_check_schema(schema, 0, &max_id, err) < 0) return -1;
    int r = ig_icemeta_opt_int(u, "last-column-id", ACTION(u), &given, err);
    if (r < 0) return -1;
    if (lkey) {
        /* The table's last column id only grows: max(last, given, highest id in the schema).  A given id below
         * the table's is not an error: Iceberg's Java client sends schema.highestFieldId() after dropping the
         * highest-id column (MetadataUpdate.AddSchema), and TableMetadata.Builder.addSchema keeps the max. */
        int64_t last = ig_icemeta_get_i64(c->m, lkey, 0), next_last = last;
        if (max_id > next_last) next_last = max_id;
        if (r == 1 && given > next_last) next_last = given;
        ig_icemeta_set_i64(c->m, lkey, next_last);
    }
    return add_schema(schemas, schema, &c->last_schema, err);
}

static int up_set_location(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    const char *loc;
    if (ig_icemeta_req_str(u, "location", ACTION(u), &loc, err) < 0) return -1;
    if (!loc[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "set-location: 'location' must not be empty");
    ig_icemeta_set_str(c->m, "location", loc);
    return 0;
}

static int up_set_properties(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *upd, *props;
    if (ig_icemeta_req_object(u, "updates", ACTION(u), &upd, err) < 0 ||
        ig_icemeta_check_string_map(upd, "set-properties: updates", err) < 0)
        return -1;
    props = object_member(c->m, "properties");
    json_object_object_foreach(upd, k, v)
        json_object_object_add(props, k, json_object_new_string(json_object_get_string(v)));
    return 0;
}

static int up_remove_properties(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err)
{
    json_object *rm, *props;
    if (ig_icemeta_req_array(u, "removals", ACTION(u), &rm, err) < 0) return -1;
    for (size_t i = 0; i < json_object_array_length(rm); i++)
        if (!json_object_is_type(json_object_array_get_idx(rm, i), json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "remove-properties: 'removals' must hold strings");
    props = object_member(c->m, "properties");
    for (size_t i = 0; i < json_object_array_length(rm); i++)
        json_object_object_del(props, json_object_get_string(json_object_array_get_idx(rm, i)));
    return 0;
}

/* The update actions tables and views both have. */
static const ig_icemeta_update_t shared_updates[] = {
    {"assign-uuid", up_assign_uuid},
    {"upgrade-format-version", up_upgrade_format_version},
    {"add-schema", up_add_schema},
    {"set-location", up_set_location},
    {"set-properties", up_set_properties},
    {"remove-properties", up_remove_properties},
    {NULL, NULL},
};

/* ---------- dispatch ---------- */

static ig_icemeta_update_fn find_update(const ig_icemeta_update_t *rows, const char *action)
{
    for (size_t i = 0; rows && rows[i].action; i++)
        if (strcmp(rows[i].action, action) == 0) return rows[i].apply;
    return NULL;
}

int ig_icemeta_apply_updates(ig_icemeta_commit_t *c, json_object *updates, ig_error_t *err)
{
    for (size_t i = 0; updates && i < json_object_array_length(updates); i++) {
        json_object *u = json_object_array_get_idx(updates, i);
        const char *action;
        ig_icemeta_update_fn apply;
        if (ig_icemeta_req_str(u, "action", "update", &action, err) < 0) return -1;
        apply = find_update(c->kind->updates, action);
        if (!apply) apply = find_update(shared_updates, action);
        if (!apply)
            return ig_error_set(err, IG_E_BAD_REQUEST, "unknown %s update action \"%s\"", c->kind->name,
                                action);
        if (apply(c, u, err) < 0) return -1;
    }
    return 0;
}

int ig_icemeta_check_requirements(const ig_icemeta_kind_t *kind, json_object *cur, json_object *requirements,
                                  ig_error_t *err)
{
    for (size_t i = 0; requirements && i < json_object_array_length(requirements); i++) {
        json_object *r = json_object_array_get_idx(requirements, i);
        const ig_icemeta_requirement_t *row = kind->requirements;
        const char *type;
        if (ig_icemeta_req_str(r, "type", "requirement", &type, err) < 0) return -1;
        while (row && row->type && strcmp(row->type, type) != 0)
            row++;
        if (!row || !row->type)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "unknown %s type \"%s\"", kind->requirement_label, type);
        if (row->check(cur, r, type, err) < 0) return -1;
    }
    return 0;
}
