/* tablemeta — Iceberg table metadata as pure logic: build the first metadata of a new table, check a
 * commit's requirements and apply its updates, validate a TableMetadata document, trim snapshots for
 * loadTable?snapshots=refs.  No HTTP, no files, no SQL: the catalog layer reads and writes metadata files
 * and swaps pointers; this module only decides what the next metadata document is.
 *
 * Formats: apache/iceberg format/spec.md (versions 1-3) and the REST spec's TableUpdate/TableRequirement.
 * Documents are json-c objects, so 64-bit snapshot ids stay exact (never go through a double).
 *
 * Common contract for every function below that returns int:
 *   0 on success; -1 with *err filled on failure (err may be NULL):
 *     400 BadRequestException    malformed input, unknown update action / requirement type,
 *                                an update that cannot apply (downgrade, unknown snapshot, ...),
 *                                documents nested deeper than 64 levels or schemas over 100,000 fields;
 *     409 CommitFailedException  a requirement does not hold against the current metadata;
 *     404 NoSuchTableException   commit on a missing table (current == NULL) without assert-create;
 *     500 ServiceFailureException (IG_E_INTERNAL): out of memory.
 *   Returned json_object* are new references owned by the caller (release with json_object_put).
 *   Inputs are never modified and no reference to them is kept. */
#ifndef IG_TABLEMETA_H
#define IG_TABLEMETA_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/error.h"

/* Highest table format version this module reads and writes. */
#define IG_TABLEMETA_MAX_FORMAT_VERSION 3
/* Format version of new tables unless the request asks for another one. */
#define IG_TABLEMETA_DEFAULT_FORMAT_VERSION 2

/* Builds the metadata of a new table from a CreateTableRequest.
 * Column ids are assigned afresh from 1 (nested struct/list/map ids included, Java's order: the fields
 * of a struct first, then their children); partition-spec and write-order source-ids are re-bound from
 * the client's ids to the fresh ids of the same columns; partition field ids start at 1000
 * (last-partition-id 999 when unpartitioned); the sort order gets id 1 (0 when unsorted).
 * format-version: request field "format-version" or property "format-version" ("1".."3"), default 2;
 * the property is consumed, not stored.  location: the resolved table location (trailing '/' removed);
 * when NULL the request's "location" is used, and one of them is required.
 * table_uuid: required; now_ms: becomes last-updated-ms. */
int ig_tablemeta_create(json_object *create_req, const char *location, const char *table_uuid, int64_t now_ms,
                        json_object **out_meta, ig_error_t *err);

/* Commits: checks every requirement against current, then applies updates in order and returns the new
 * metadata.  current == NULL means the table does not exist yet, which is only valid with an assert-create
 * requirement (staged create): the updates then build the table from empty (format version from the first
 * upgrade-format-version, default 2) and must include assign-uuid.  requirements/updates may be NULL (none).
 * prev_metadata_location (may be NULL) is appended to metadata-log with current's last-updated-ms (the log
 * keeps write.metadata.previous-versions-max entries, default 100).  Maintains snapshot-log,
 * last-sequence-number, last-column-id, last-partition-id, next-row-id (v3), refs and current-snapshot-id
 * (the "main" branch), last-updated-ms = now_ms.  -1 in set-current-schema / set-default-spec /
 * set-default-sort-order means the one added last in this commit.  The result is validated before it is
 * returned. */
int ig_tablemeta_commit(json_object *current, const char *prev_metadata_location, json_object *requirements,
                        json_object *updates, int64_t now_ms, json_object **out_meta, ig_error_t *err);

/* Validates a complete TableMetadata document (register-table, files read back): supported
 * format-version, fields required by that version present and well typed, schemas valid, current schema /
 * default spec / default sort order / current snapshot / ref targets exist, ids unique, v2+ snapshot
 * sequence numbers not above last-sequence-number.  The message names the offending field. */
int ig_tablemeta_validate(json_object *meta, ig_error_t *err);

/* For loadTable?snapshots=refs: a new copy of meta keeping only the snapshots some ref (or
 * current-snapshot-id) points at.  NULL if meta is not an object or on allocation failure. */
json_object *ig_tablemeta_only_ref_snapshots(json_object *meta);

/* Serializes metadata the way every icegate writer does (plain, no "\/" escaping).  The string is owned
 * by obj and valid until obj is released or modified. */
const char *ig_tablemeta_to_string(json_object *obj);

#endif
