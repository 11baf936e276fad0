/* icemeta — pieces shared by table metadata (tablemeta) and view metadata (viewmeta): checked JSON
 * accessors that report a 400 naming the field, tolerant accessors for documents already validated, the
 * structural caps on client documents, Iceberg schema checks (types, field ids, identifier fields), and the
 * machinery of create/commit that tables and views share: argument checks, the new location, and the
 * commit dispatch — one loop over a commit's requirements and one over its updates, each looking the
 * action up in a per-kind table of {name, handler} and then in the table of actions both kinds have
 * (assign-uuid, upgrade-format-version, add-schema, set-location, set-properties, remove-properties),
 * which are implemented once, in icemeta_commit.c.  Pure logic: no I/O, no global state.
 *
 * Every function that takes an ig_error_t fills it with code 400 / BadRequestException on failure,
 * unless its comment says otherwise.  No function here keeps a reference to its arguments. */
#ifndef IG_ICEMETA_H
#define IG_ICEMETA_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/error.h"

#define IG_ICEMETA_MAX_DEPTH 64      /* deepest nesting of objects/arrays accepted from a client */
#define IG_ICEMETA_MAX_FIELDS 100000 /* most fields (nested ones included) in one schema */

/* Serialization flags every metadata writer uses (no "\/" escaping, no whitespace). */
#define IG_ICEMETA_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* 0 if o nests at most IG_ICEMETA_MAX_DEPTH levels and holds no NaN/Infinity, else -1 (400).  Never
 * recurses deeper than the cap.  Callers should parse client JSON with JSON_TOKENER_STRICT: json-c's
 * lenient mode accepts number spellings ("0e") it cannot write back faithfully. */
int ig_icemeta_check_depth(json_object *o, ig_error_t *err);

/* Field accessors.  `what` names the enclosing object in messages ("schema", "add-snapshot").
 * req_*: 0 with *out set, or -1 (400) when the key is missing, null or of the wrong type.
 * opt_*: 1 with *out set, 0 when the key is missing or null (*out untouched), -1 (400) on a wrong type.
 * Returned pointers are borrowed from o. */
int ig_icemeta_req_int(json_object *o, const char *key, const char *what, int64_t *out, ig_error_t *err);
int ig_icemeta_opt_int(json_object *o, const char *key, const char *what, int64_t *out, ig_error_t *err);
int ig_icemeta_req_str(json_object *o, const char *key, const char *what, const char **out, ig_error_t *err);
int ig_icemeta_opt_str(json_object *o, const char *key, const char *what, const char **out, ig_error_t *err);
int ig_icemeta_req_bool(json_object *o, const char *key, const char *what, int *out, ig_error_t *err);
int ig_icemeta_req_array(json_object *o, const char *key, const char *what, json_object **out,
                         ig_error_t *err);
int ig_icemeta_opt_array(json_object *o, const char *key, const char *what, json_object **out,
                         ig_error_t *err);
int ig_icemeta_req_object(json_object *o, const char *key, const char *what, json_object **out,
                          ig_error_t *err);
int ig_icemeta_opt_object(json_object *o, const char *key, const char *what, json_object **out,
                          ig_error_t *err);

/* 0 if props is an object whose values are all strings (a string map), else -1 (400). */
int ig_icemeta_check_string_map(json_object *props, const char *what, ig_error_t *err);

/* Validates a Schema (a struct type plus optional schema-id and identifier-field-ids): "type":"struct",
 * every field has an integer id, a name unique within its struct, a boolean required and a valid type
 * (primitive name, struct, list, map); ids are unique across the schema; at most IG_ICEMETA_MAX_FIELDS;
 * identifier-field-ids name existing fields.  require_id: schema-id must be present.
 * On success *max_id (if not NULL) is the highest field id (0 for an empty schema). */
int ig_icemeta_check_schema(json_object *schema, int require_id, int64_t *max_id, ig_error_t *err);

/* 1 if a field, list element or map key/value with this id exists anywhere in schema, else 0.
 * schema must have passed ig_icemeta_check_schema. */
int ig_icemeta_schema_has_id(json_object *schema, int64_t id);

/* 1 if a and b have the same fields and identifier fields (schema-id is ignored), else 0. */
int ig_icemeta_schema_same(json_object *a, json_object *b);

/* The element of array arr whose integer member key equals id, or NULL (borrowed). *idx gets its index. */
json_object *ig_icemeta_find_by_id(json_object *arr, const char *key, int64_t id, size_t *idx);

/* Collects the integer member key of each object of arr (key NULL: arr's own integer elements) into a
 * sorted malloc'd array *ids of *n entries (caller frees).  -1 on allocation failure. */
int ig_icemeta_sorted_ids(json_object *arr, const char *key, int64_t **ids, size_t *n);
/* 1 if id is in the sorted array ids[0..n), else 0. */
int ig_icemeta_ids_contain(const int64_t *ids, size_t n, int64_t id);

/* *out = (highest integer member key over arr, or dflt_max when none) + 1.  -1 (400) when that would pass
 * INT32_MAX: Iceberg ids are 32-bit and a hostile document must not make us overflow. */
int ig_icemeta_next_id(json_object *arr, const char *key, int64_t dflt_max, int64_t *out, ig_error_t *err);

/* A deep copy of schema with "schema-id" set to id and members in the order Iceberg writers use
 * (type, schema-id, identifier-field-ids, fields, anything else).  NULL on allocation failure. */
json_object *ig_icemeta_schema_with_id(json_object *schema, int64_t id);

/* A deep copy of o, or NULL on allocation failure.  The caller owns it. */
json_object *ig_icemeta_copy(json_object *o);

/* Sets *err to IG_E_INTERNAL "out of memory" and returns -1. */
int ig_icemeta_oom(ig_error_t *err);

/* Tolerant accessors for documents already validated (no error reporting).
 * get: member k of o (borrowed), NULL when o is not an object or k is missing or null.
 * get_i64 / get_str: member k when it is an integer / a string (borrowed), else dflt / NULL.
 * set_i64 / set_str: replaces member k of o with a new integer / copy of string v (allocation failure not
 * reported: the member becomes null, which the final validation of the document rejects). */
json_object *ig_icemeta_get(json_object *o, const char *k);
int64_t ig_icemeta_get_i64(json_object *o, const char *k, int64_t dflt);
const char *ig_icemeta_get_str(json_object *o, const char *k);
void ig_icemeta_set_i64(json_object *o, const char *k, int64_t v);
void ig_icemeta_set_str(json_object *o, const char *k, const char *v);

/* Returns m's members as a new object: those named in keys (NULL-terminated) first in that order, the rest
 * after in their old order.  Consumes m; on allocation failure returns m itself (the order is cosmetic). */
json_object *ig_icemeta_reorder(json_object *m, const char *const *keys);

/* The checks a create starts with: out_meta not NULL (500 otherwise), then *out_meta = NULL; req within the
 * depth cap and an object (400 "<what> must be an object").  0 or -1. */
int ig_icemeta_check_create_args(json_object *req, const char *what, json_object **out_meta, ig_error_t *err);

/* The checks a commit starts with: out_meta not NULL (500 otherwise), then *out_meta = NULL; requirements
 * and updates (each may be NULL) within the depth cap and arrays (400).  0 or -1. */
int ig_icemeta_check_commit_args(json_object *requirements, json_object *updates, json_object **out_meta,
                                 ig_error_t *err);

/* The location of a new table or view: location, or the request's reqloc when location is NULL, with
 * trailing '/' removed, as a malloc'd string in *out (caller frees).  -1 (400 "<what>: no <kind>
 * location") when neither is a non-empty string, -1 (500) on allocation failure. */
int ig_icemeta_new_location(const char *location, const char *reqloc, const char *what, const char *kind,
                            char **out, ig_error_t *err);

/* ---------- commits: the dispatch tables and kinds share ---------- */

typedef struct ig_icemeta_commit ig_icemeta_commit_t;

/* Applies update u (an object with a string "action") to c->m.  0, or -1 with *err filled (the commit then
 * fails as a whole, so a handler may leave c->m half changed). */
typedef int (*ig_icemeta_update_fn)(ig_icemeta_commit_t *c, json_object *u, ig_error_t *err);

/* Checks requirement r (an object whose "type" is type) against cur, the current metadata (NULL when the
 * table does not exist yet).  0, or -1 with *err filled (409 when the requirement does not hold). */
typedef int (*ig_icemeta_requirement_fn)(json_object *cur, json_object *r, const char *type, ig_error_t *err);

/* One row of a kind's table of actions; a table ends with a row whose name is NULL. */
typedef struct {
    const char *action;
    ig_icemeta_update_fn apply;
} ig_icemeta_update_t;

typedef struct {
    const char *type;
    ig_icemeta_requirement_fn check;
} ig_icemeta_requirement_t;

/* What the shared dispatch and the shared actions need to know about a kind of metadata (table, view). */
typedef struct {
    const char *name;                 /* "table" / "view", in messages ("unknown table update action") */
    const char *uuid_key;             /* the member assign-uuid sets: "table-uuid" / "view-uuid" */
    const char *last_column_key;      /* the member add-schema keeps at the highest column id, or NULL */
    int64_t max_format_version;       /* upgrade-format-version accepts 1..this */
    const char *format_label;         /* "format version" / "view format version", in messages */
    const char *requirement_label;    /* "requirement" / "view requirement": "unknown <label> type" */
    const ig_icemeta_update_t *updates;           /* the kind's own update actions */
    const ig_icemeta_requirement_t *requirements; /* the kind's requirement types */
} ig_icemeta_kind_t;

/* The state of one commit.  A kind that needs more embeds this as the first member of its own struct and
 * casts the pointer its handlers receive back to that struct. */
struct ig_icemeta_commit {
    const ig_icemeta_kind_t *kind;
    json_object *m;      /* the metadata being built: a private copy, owned by the caller */
    int is_new;          /* the table does not exist before this commit (staged create): uuid may be set */
    int64_t last_schema; /* schema-id added (or reused) last in this commit, -1 if none; "-1" refers to it */
};

/* Checks every requirement of the array requirements (may be NULL) in order against cur: "type" is looked
 * up in kind->requirements (400 "unknown <requirement_label> type" otherwise) and checked.  Stops at the
 * first failure.  0 or -1. */
int ig_icemeta_check_requirements(const ig_icemeta_kind_t *kind, json_object *cur, json_object *requirements,
                                  ig_error_t *err);

/* Applies the array updates (may be NULL) to c->m in order: "action" is looked up in c->kind->updates, then
 * among the shared actions (400 "unknown <kind> update action" when neither has it).  The shared actions:
 *   assign-uuid             sets kind->uuid_key; a different uuid is refused unless c->is_new;
 *   upgrade-format-version  1..kind->max_format_version, never a downgrade, the same version is a no-op;
 *   add-schema              a valid schema, reused when an identical one exists (schema-id = max + 1
 *                           otherwise), sets c->last_schema; keeps kind->last_column_key (if any) at
 *                           max(old, highest field id, the update's last-column-id), which must not be
 *                           below the old one;
 *   set-location            a non-empty string;
 *   set-properties / remove-properties  on m's "properties" (created if absent).
 * Stops at the first failure.  0 or -1 (400, or 500 on allocation failure). */
int ig_icemeta_apply_updates(ig_icemeta_commit_t *c, json_object *updates, ig_error_t *err);

#endif
