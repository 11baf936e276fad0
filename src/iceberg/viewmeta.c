/* viewmeta — see viewmeta.h.  Works like tablemeta: checks on the way in, updates applied to a private
 * deep copy, the result validated before it is handed back.  The commit loop and the actions views share
 * with tables (assign-uuid, upgrade-format-version, add-schema, set-location, set-properties,
 * remove-properties) are icemeta's; this file has the view's own: assert-view-uuid, add-view-version,
 * set-current-view-version, and version expiry.  Semantics follow Iceberg Java's ViewMetadata.Builder. */
#include "iceberg/viewmeta.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iceberg/icemeta.h"


/* A ViewVersion.  need_ids: version-id and schema-id are required (stored documents); a request may
 * leave them out because the server assigns them. */
static int check_version(json_object *v, int need_ids, ig_error_t *err)
{
    const char *W = "view version";
    int64_t i;
    json_object *summary, *reps, *ns;
    if ((need_ids ? ig_icemeta_req_int(v, "version-id", W, &i, err)
                  : ig_icemeta_opt_int(v, "version-id", W, &i, err)) < 0 ||
        (need_ids ? ig_icemeta_req_int(v, "schema-id", W, &i, err)
                  : ig_icemeta_opt_int(v, "schema-id", W, &i, err)) < 0 ||
        ig_icemeta_req_int(v, "timestamp-ms", W, &i, err) < 0 ||
        ig_icemeta_req_object(v, "summary", W, &summary, err) < 0 ||
        ig_icemeta_check_string_map(summary, "view version: summary", err) < 0 ||
        ig_icemeta_req_array(v, "representations", W, &reps, err) < 0 ||
        ig_icemeta_req_array(v, "default-namespace", W, &ns, err) < 0)
        return -1;
    const char *s;
    if (ig_icemeta_opt_str(v, "default-catalog", W, &s, err) < 0) return -1;
    for (size_t k = 0; k < json_object_array_length(ns); k++)
        if (!json_object_is_type(json_object_array_get_idx(ns, k), json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "view version: 'default-namespace' must hold strings");
    size_t n = json_object_array_length(reps);
    if (n == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "view version: 'representations' must not be empty");
    for (size_t k = 0; k < n; k++) {
        json_object *r = json_object_array_get_idx(reps, k);
        const char *type, *dialect;
        if (ig_icemeta_req_str(r, "type", "view representation", &type, err) < 0) return -1;
        if (strcmp(type, "sql") != 0) continue; /* other representation types are kept as they are */
        if (ig_icemeta_req_str(r, "sql", "view representation", &s, err) < 0 ||
            ig_icemeta_req_str(r, "dialect", "view representation", &dialect, err) < 0)
            return -1;
        for (size_t j = 0; j < k; j++) {
            json_object *o = json_object_array_get_idx(reps, j);
            const char *t = ig_icemeta_get_str(o, "type"), *d = ig_icemeta_get_str(o, "dialect");
            /* Java's ViewMetadata.Builder words it so, and its client raises IllegalArgumentException only
             * for a 400 of that type (ErrorHandlers). */
            if (t && strcmp(t, "sql") == 0 && d && strcasecmp(d, dialect) == 0) {
                char low[64];
                size_t x = 0;
                for (; dialect[x] && x + 1 < sizeof low; x++) low[x] = (char)tolower((unsigned char)dialect[x]);
                low[x] = '\0';
                return ig_error_set(err, IG_E_INVALID_ARGUMENT,
                                    "Invalid view version: Cannot add multiple queries for dialect %s", low);
            }
        }
    }
    return 0;
}

static int check_unique(json_object *arr, const char *key, const char *what, ig_error_t *err)
{
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        int64_t id = ig_icemeta_get_i64(json_object_array_get_idx(arr, i), key, 0);
        size_t first;
        if (ig_icemeta_find_by_id(arr, key, id, &first) && first != i)
            return ig_error_set(err, IG_E_BAD_REQUEST, "view metadata: duplicate %s %" PRId64, what, id);
    }
    return 0;
}

static int check_view(json_object *m, ig_error_t *err)
{
    const char *W = "view metadata", *s;
    int64_t fv, cur, i;
    json_object *schemas, *versions, *log, *props, *curv;
    if (!json_object_is_type(m, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "view metadata must be an object");
    if (ig_icemeta_req_int(m, "format-version", W, &fv, err) < 0) return -1;
    if (fv < 1 || fv > IG_VIEWMETA_MAX_FORMAT_VERSION)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "view metadata: unsupported format-version %" PRId64 " (supported: 1)",
                            fv);
    if (ig_icemeta_req_str(m, "view-uuid", W, &s, err) < 0 ||
        ig_icemeta_req_str(m, "location", W, &s, err) < 0 ||
        ig_icemeta_req_int(m, "current-version-id", W, &cur, err) < 0 ||
        ig_icemeta_req_array(m, "versions", W, &versions, err) < 0 ||
        ig_icemeta_req_array(m, "version-log", W, &log, err) < 0 ||
        ig_icemeta_req_array(m, "schemas", W, &schemas, err) < 0)
        return -1;
    int r = ig_icemeta_opt_object(m, "properties", W, &props, err);
    if (r < 0 || (r == 1 && ig_icemeta_check_string_map(props, "view metadata: properties", err) < 0))
        return -1;
    for (size_t k = 0; k < json_object_array_length(schemas); k++)
        if (ig_icemeta_check_schema(json_object_array_get_idx(schemas, k), 1, NULL, err) < 0) return -1;
    if (check_unique(schemas, "schema-id", "schema-id", err) < 0) return -1;
    if (json_object_array_length(versions) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "view metadata: 'versions' is empty");
    for (size_t k = 0; k < json_object_array_length(versions); k++)
        if (check_version(json_object_array_get_idx(versions, k), 1, err) < 0) return -1;
    if (check_unique(versions, "version-id", "version-id", err) < 0) return -1;
    if (!(curv = ig_icemeta_find_by_id(versions, "version-id", cur, NULL)))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "view metadata: cannot find current version %" PRId64 " in 'versions'",
                            cur);
    i = ig_icemeta_get_i64(curv, "schema-id", -1);
    if (!ig_icemeta_find_by_id(schemas, "schema-id", i, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "view metadata: cannot find current schema with id %" PRId64 " in 'schemas'", i);
    for (size_t k = 0; k < json_object_array_length(log); k++) {
        json_object *e = json_object_array_get_idx(log, k);
        if (ig_icemeta_req_int(e, "version-id", "version-log entry", &i, err) < 0 ||
            ig_icemeta_req_int(e, "timestamp-ms", "version-log entry", &i, err) < 0)
            return -1;
    }
    return 0;
}

int ig_viewmeta_validate(json_object *meta, ig_error_t *err)
{
    if (ig_icemeta_check_depth(meta, err) < 0) return -1;
    return check_view(meta, err);
}

/* The view-version of a create request: the server stamps it, so timestamp-ms may be left out. */
static int check_request_version(json_object *version, int64_t now_ms, ig_error_t *err)
{
    json_object *tmp;
    int rc;
    if (ig_icemeta_get(version, "timestamp-ms")) return check_version(version, 0, err);
    if (!(tmp = ig_icemeta_copy(version))) return ig_icemeta_oom(err);
    ig_icemeta_set_i64(tmp, "timestamp-ms", now_ms);
    rc = check_version(tmp, 0, err);
    json_object_put(tmp);
    return rc;
}

static const char *const canonical_keys[] = {"view-uuid",   "format-version",     "location",
                                             "schemas",     "current-version-id", "versions",
                                             "version-log", "properties",         NULL};

static json_object *log_entry(int64_t version_id, int64_t ts)
{
    json_object *e = json_object_new_object();
    if (!e) return NULL;
    ig_icemeta_set_i64(e, "timestamp-ms", ts);
    ig_icemeta_set_i64(e, "version-id", version_id);
    return e;
}

int ig_viewmeta_create(json_object *req, const char *location, const char *view_uuid, int64_t now_ms,
                       json_object **out_meta, ig_error_t *err)
{
    const char *W = "create view request", *name, *reqloc = NULL;
    json_object *schema, *version, *props = NULL, *m = NULL, *arr, *sc, *ver;
    char *loc = NULL;

    if (ig_icemeta_check_create_args(req, W, out_meta, err) < 0) return -1;
    if (ig_icemeta_req_str(req, "name", W, &name, err) < 0 ||
        ig_icemeta_req_object(req, "schema", W, &schema, err) < 0 ||
        ig_icemeta_req_object(req, "view-version", W, &version, err) < 0 ||
        ig_icemeta_opt_object(req, "properties", W, &props, err) < 0 ||
        ig_icemeta_opt_str(req, "location", W, &reqloc, err) < 0)
        return -1;
    if (!name[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "%s: 'name' must not be empty", W);
    if (props && ig_icemeta_check_string_map(props, "create view request: properties", err) < 0) return -1;
    if (ig_icemeta_check_schema(schema, 0, NULL, err) < 0) return -1;
    if (check_request_version(version, now_ms, err) < 0) return -1;
    if (!view_uuid || !view_uuid[0]) return ig_error_set(err, IG_E_BAD_REQUEST, "view uuid is required");
    if (ig_icemeta_new_location(location, reqloc, W, "view", &loc, err) < 0) return -1;

    if (!(m = json_object_new_object())) goto oom;
    ig_icemeta_set_str(m, "view-uuid", view_uuid);
    ig_icemeta_set_i64(m, "format-version", 1);
    ig_icemeta_set_str(m, "location", loc);
    if (!(sc = ig_icemeta_schema_with_id(schema, 0))) goto oom;
    arr = json_object_new_array();
    json_object_object_add(m, "schemas", arr);
    json_object_array_add(arr, sc);
    ig_icemeta_set_i64(m, "current-version-id", 1);
    if (!(ver = ig_icemeta_copy(version))) goto oom;
    ig_icemeta_set_i64(ver, "version-id", 1);
    ig_icemeta_set_i64(ver, "schema-id", 0);
    ig_icemeta_set_i64(ver, "timestamp-ms", now_ms);
    arr = json_object_new_array();
    json_object_object_add(m, "versions", arr);
    json_object_array_add(arr, ver);
    arr = json_object_new_array();
    json_object_object_add(m, "version-log", arr);
    json_object_array_add(arr, log_entry(1, now_ms));
    json_object_object_add(m, "properties", props ? ig_icemeta_copy(props) : json_object_new_object());
    m = ig_icemeta_reorder(m, canonical_keys);
    if (check_view(m, err) < 0) goto fail;
    free(loc);
    *out_meta = m;
    return 0;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(m);
    free(loc);
    return -1;
}

/* ---------- commit ---------- */

typedef struct {
    ig_icemeta_commit_t base; /* first: the handlers get &base and cast back (V()) */
    int64_t last_version;     /* added last in this commit, -1 if none */
    json_object *added;       /* version ids added in this commit */
    int64_t now_ms;
} vcommit_t;

static vcommit_t *V(ig_icemeta_commit_t *c)
{
    return (vcommit_t *)c;
}

static int added_here(vcommit_t *c, int64_t id)
{
    for (size_t i = 0; i < json_object_array_length(c->added); i++)
        if (json_object_get_int64(json_object_array_get_idx(c->added, i)) == id) return 1;
    return 0;
}

/* The action of update u, for messages. */
#define ACTION(u) ig_icemeta_get_str(u, "action")

static int req_assert_view_uuid(json_object *cur, json_object *r, const char *type, ig_error_t *err)
{
    const char *uuid, *have = ig_icemeta_get_str(cur, "view-uuid");
    if (ig_icemeta_req_str(r, "uuid", type, &uuid, err) < 0) return -1;
    if (strcmp(have, uuid) != 0)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Requirement failed: view UUID does not match: expected %s != %s", uuid, have);
    return 0;
}

/* Same version apart from version-id and timestamp-ms (Iceberg Java reuses such a version). */
static int version_same(json_object *a, json_object *b)
{
    static const char *const keys[] = {"schema-id", "summary", "representations", "default-catalog",
                                       "default-namespace"};
    for (int i = 0; i < 5; i++)
        if (!json_object_equal(ig_icemeta_get(a, keys[i]), ig_icemeta_get(b, keys[i]))) return 0;
    return 1;
}

static int vu_add_view_version(ig_icemeta_commit_t *bc, json_object *u, ig_error_t *err)
{
    vcommit_t *c = V(bc);
    json_object *v, *copy, *versions = ig_icemeta_get(bc->m, "versions");
    int64_t sid;
    if (ig_icemeta_req_object(u, "view-version", ACTION(u), &v, err) < 0 || check_version(v, 0, err) < 0)
        return -1;
    if (ig_icemeta_req_int(v, "schema-id", "add-view-version: view-version", &sid, err) < 0) return -1;
    if (sid == -1) {
        if (bc->last_schema < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "add-view-version: schema-id -1 (last added) but no schema was added");
        sid = bc->last_schema;
    }
    if (!ig_icemeta_find_by_id(ig_icemeta_get(bc->m, "schemas"), "schema-id", sid, NULL))
        return ig_error_set(err, IG_E_BAD_REQUEST, "add-view-version: unknown schema-id %" PRId64, sid);
    if (!(copy = ig_icemeta_copy(v))) return ig_icemeta_oom(err);
    ig_icemeta_set_i64(copy, "schema-id", sid);
    for (size_t i = 0; i < json_object_array_length(versions); i++) {
        json_object *e = json_object_array_get_idx(versions, i);
        if (version_same(e, copy)) {
            c->last_version = ig_icemeta_get_i64(e, "version-id", 0);
            json_object_put(copy);
            return 0;
        }
    }
    int64_t id;
    if (ig_icemeta_next_id(versions, "version-id", 0, &id, err) < 0) {
        json_object_put(copy);
        return -1;
    }
    ig_icemeta_set_i64(copy, "version-id", id);
    json_object_array_add(versions, copy);
    json_object_array_add(c->added, json_object_new_int64(id));
    c->last_version = id;
    return 0;
}

static int vu_set_current_view_version(ig_icemeta_commit_t *bc, json_object *u, ig_error_t *err)
{
    vcommit_t *c = V(bc);
    json_object *m = bc->m;
    int64_t id;
    json_object *v;
    if (ig_icemeta_req_int(u, "view-version-id", ACTION(u), &id, err) < 0) return -1;
    if (id == -1) {
        if (c->last_version < 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "set-current-view-version: -1 (last added) but no version was added");
        id = c->last_version;
    }
    if (!(v = ig_icemeta_find_by_id(ig_icemeta_get(m, "versions"), "version-id", id, NULL)))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "set-current-view-version: unknown view version %" PRId64, id);
    if (ig_icemeta_get_i64(m, "current-version-id", -1) == id) return 0;
    ig_icemeta_set_i64(m, "current-version-id", id);
    int64_t ts = added_here(c, id) ? ig_icemeta_get_i64(v, "timestamp-ms", c->now_ms) : c->now_ms;
    json_object *e = log_entry(id, ts);
    if (!e) return ig_icemeta_oom(err);
    json_object_array_add(ig_icemeta_get(m, "version-log"), e);
    return 0;
}

static const ig_icemeta_update_t view_updates[] = {
    {"add-view-version", vu_add_view_version},
    {"set-current-view-version", vu_set_current_view_version},
    {NULL, NULL},
};

static const ig_icemeta_requirement_t view_requirements[] = {
    {"assert-view-uuid", req_assert_view_uuid},
    {NULL, NULL},
};

static const ig_icemeta_kind_t view_kind = {
    .name = "view",
    .uuid_key = "view-uuid",
    .last_column_key = NULL, /* view metadata has no last-column-id */
    .max_format_version = IG_VIEWMETA_MAX_FORMAT_VERSION,
    .format_label = "view format version",
    .requirement_label = "view requirement",
    .updates = view_updates,
    .requirements = view_requirements,
};

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Expires the oldest versions beyond version.history.num-entries (see viewmeta.h). */
static int expire_versions(vcommit_t *c, ig_error_t *err)
{
    json_object *md = c->base.m, *versions = ig_icemeta_get(md, "versions");
    json_object *log = ig_icemeta_get(md, "version-log");
    long keep = 10;
    const char *s = ig_icemeta_get_str(ig_icemeta_get(md, "properties"), "version.history.num-entries");
    if (s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || *end != '\0' || v < 1)
            return ig_error_set(
                err, IG_E_BAD_REQUEST,
                "property version.history.num-entries must be a positive integer, got \"%s\"", s);
        keep = v;
    }
    int64_t cur = ig_icemeta_get_i64(md, "current-version-id", -1);
    size_t must = json_object_array_length(c->added) + (added_here(c, cur) ? 0 : 1);
    if ((size_t)keep < must) keep = (long)must;
    size_t n = json_object_array_length(versions);
    if (n <= (size_t)keep) return 0;

    /* Keep the current version, the ones added here, then the newest ids up to `keep`. */
    int64_t *ids = malloc(n * sizeof *ids);
    if (!ids) return ig_icemeta_oom(err);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ig_icemeta_get_i64(json_object_array_get_idx(versions, i), "version-id", 0);
        if (id != cur && !added_here(c, id)) ids[m++] = id;
    }
    qsort(ids, m, sizeof *ids, cmp_desc);
    size_t room = (size_t)keep - must;
    for (size_t i = room; i < m; i++) {
        size_t idx;
        if (ig_icemeta_find_by_id(versions, "version-id", ids[i], &idx))
            json_object_array_del_idx(versions, idx, 1);
    }
    free(ids);
    /* An entry for an expired version breaks the history: drop it and everything before it. */
    size_t keep_from = 0;
    for (size_t i = 0; i < json_object_array_length(log); i++)
        if (!ig_icemeta_find_by_id(versions, "version-id",
                                   ig_icemeta_get_i64(json_object_array_get_idx(log, i), "version-id", 0),
                                   NULL))
            keep_from = i + 1;
    if (keep_from) json_object_array_del_idx(log, 0, keep_from);
    return 0;
}

int ig_viewmeta_commit(json_object *current, json_object *requirements, json_object *updates, int64_t now_ms,
                       json_object **out_meta, ig_error_t *err)
{
    vcommit_t c = {.base = {.kind = &view_kind, .last_schema = -1}, .last_version = -1, .now_ms = now_ms};
    if (ig_icemeta_check_commit_args(requirements, updates, out_meta, err) < 0) return -1;
    if (!current) return ig_error_set(err, IG_E_NO_SUCH_VIEW, "View does not exist");
    if (ig_viewmeta_validate(current, err) < 0) return -1;
    if (ig_icemeta_check_requirements(&view_kind, current, requirements, err) < 0) return -1;

    if (!(c.base.m = ig_icemeta_copy(current)) || !(c.added = json_object_new_array())) goto oom;
    if (ig_icemeta_apply_updates(&c.base, updates, err) < 0) goto fail;
    if (expire_versions(&c, err) < 0) goto fail;
    c.base.m = ig_icemeta_reorder(c.base.m, canonical_keys);
    if (check_view(c.base.m, err) < 0) goto fail;
    *out_meta = c.base.m;
    json_object_put(c.added);
    return 0;
oom:
    ig_icemeta_oom(err);
fail:
    json_object_put(c.base.m);
    json_object_put(c.added);
    return -1;
}
