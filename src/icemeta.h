/* icemeta — pieces shared by table metadata (tablemeta) and view metadata (viewmeta): checked JSON
 * accessors that report a 400 naming the field, the structural caps on client documents, and Iceberg
 * schema checks (types, field ids, identifier fields).  Pure logic: no I/O, no global state.
 *
 * Every function that takes an ig_error_t fills it with code 400 / BadRequestException on failure,
 * unless its comment says otherwise.  No function here keeps a reference to its arguments. */
#ifndef IG_ICEMETA_H
#define IG_ICEMETA_H

#include <json-c/json.h>
#include <stdint.h>

#include "error.h"

#define IG_ICEMETA_MAX_DEPTH 64       /* deepest nesting of objects/arrays accepted from a client */
#define IG_ICEMETA_MAX_FIELDS 100000  /* most fields (nested ones included) in one schema */

/* Serialization flags every metadata writer uses (no "\/" escaping, no whitespace). */
#define IG_ICEMETA_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* 0 if o nests at most IG_ICEMETA_MAX_DEPTH levels, else -1 (400).  Never recurses deeper than the cap. */
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
int ig_icemeta_req_array(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err);
int ig_icemeta_opt_array(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err);
int ig_icemeta_req_object(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err);
int ig_icemeta_opt_object(json_object *o, const char *key, const char *what, json_object **out, ig_error_t *err);

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

/* A deep copy of o, or NULL on allocation failure.  The caller owns it. */
json_object *ig_icemeta_copy(json_object *o);

#endif
