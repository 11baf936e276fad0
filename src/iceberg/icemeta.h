/* icemeta — pieces shared by table metadata (tablemeta) and view metadata (viewmeta): checked JSON
 * accessors that report a 400 naming the field, tolerant accessors for documents already validated, the
 * structural caps on client documents, Iceberg schema checks (types, field ids, identifier fields), and the
 * steps of create/commit that tables and views share (argument checks, location, add-schema, the
 * location/properties updates, canonical key order).  Pure logic: no I/O, no global state.
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

/* Highest integer member key over the objects of arr, or dflt if arr is empty/NULL. */
int64_t ig_icemeta_max_id(json_object *arr, const char *key, int64_t dflt);

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

/* Adds schema (already checked with ig_icemeta_check_schema) to the array schemas unless one with the same
 * fields (ig_icemeta_schema_same) is there: *id gets that one's schema-id, or the next free schema-id,
 * given to a copy appended via ig_icemeta_schema_with_id.  -1 (400) when ids run out, -1 (500) on
 * allocation failure; *id is only set on success. */
int ig_icemeta_add_schema(json_object *schemas, json_object *schema, int64_t *id, ig_error_t *err);

/* The set-location, set-properties and remove-properties updates (shared by tables and views): u is the
 * update object, messages name its "action".  set_location writes m's "location"; the properties ones
 * change the object props (m's "properties").  0, or -1 (400) on a malformed update (nothing changed). */
int ig_icemeta_update_set_location(json_object *m, json_object *u, ig_error_t *err);
int ig_icemeta_update_set_properties(json_object *props, json_object *u, ig_error_t *err);
int ig_icemeta_update_remove_properties(json_object *props, json_object *u, ig_error_t *err);

#endif
