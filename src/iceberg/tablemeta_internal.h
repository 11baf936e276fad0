/* tablemeta_internal — what the three files of tablemeta share; private to src/iceberg/tablemeta*.c.
 *   tablemeta.c           create (fresh column ids, re-bound sources), to_string, only_ref_snapshots;
 *   tablemeta_validate.c  validation, normalization to the one inside shape, the output shape;
 *   tablemeta_commit.c    requirements, the table's own updates (the shared ones are icemeta's), commit.
 * Same error contract as tablemeta.h: 0, or -1 with *err filled (400 unless said otherwise). */
#ifndef IG_TABLEMETA_INTERNAL_H
#define IG_TABLEMETA_INTERNAL_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/error.h"

/* The schema of normalized metadata m named by its current-schema-id (borrowed), or NULL. */
json_object *ig_tablemeta_current_schema(json_object *m);

/* Checks of one element as a client or a stored document writes it.  schema (may be NULL): the source
 * columns must exist in it.  need_id: the partition field must carry a field-id.  fv: the table's format
 * version (v2+ snapshots need manifest-list, sequence-number and summary.operation).  partition: a
 * partition statistics file (no footer size or blob metadata). */
int ig_tablemeta_check_partition_field(json_object *f, int need_id, json_object *schema, ig_error_t *err);
int ig_tablemeta_check_sort_field(json_object *f, json_object *schema, ig_error_t *err);
int ig_tablemeta_check_snapshot(json_object *s, int64_t fv, ig_error_t *err);
int ig_tablemeta_check_statistics(json_object *st, int partition, ig_error_t *err);
int ig_tablemeta_check_encryption_key(json_object *k, ig_error_t *err);

/* The name of partition field fields[i] when an earlier element of fields has the same name (borrowed),
 * else NULL.  fields[0..i] must have passed ig_tablemeta_check_partition_field. */
const char *ig_tablemeta_duplicate_name(json_object *fields, size_t i);

/* Validates meta (depth, fields required by its format version, then every semantic check) and sets *out
 * to a normalized private deep copy the caller owns; *out is NULL on failure. */
int ig_tablemeta_load(json_object *meta, json_object **out, ig_error_t *err);

/* Puts normalized metadata *m into its output shape (v1 legacy fields in sync or dropped, canonical key
 * order; *m may be replaced by a new object) and validates it.  On failure *m is still the caller's to
 * release. */
int ig_tablemeta_finish(json_object **m, ig_error_t *err);

#endif
