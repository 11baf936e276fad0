/* viewmeta — Iceberg view metadata as pure logic: the first metadata of a new view, commits
 * (assert-view-uuid + ViewUpdates), validation of a ViewMetadata document.  Companion of tablemeta; same
 * contract (see tablemeta.h): 0 on success, -1 with *err filled (400 BadRequestException for malformed
 * input and unknown update/requirement types, 409 CommitFailedException for a failed requirement,
 * 404 NoSuchViewException when committing to a view that does not exist, 500 on out of memory).
 * Returned json_object* are new references owned by the caller; inputs are never modified.
 * Format: apache/iceberg format/view-spec.md (format version 1). */
#ifndef IG_VIEWMETA_H
#define IG_VIEWMETA_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/error.h"

#define IG_VIEWMETA_MAX_FORMAT_VERSION 1

/* Builds the metadata of a new view from a CreateViewRequest: the schema becomes schema 0 (its ids are
 * kept: a view schema only describes the query's output), the view-version becomes version 1 with
 * schema-id 0 and timestamp-ms now_ms, version-log has that one entry.  location: the resolved view
 * location (trailing '/' removed); when NULL the request's "location" is used, one of them is required. */
int ig_viewmeta_create(json_object *create_req, const char *location, const char *view_uuid, int64_t now_ms,
                       json_object **out_meta, ig_error_t *err);

/* Checks requirements (only assert-view-uuid exists) against current, then applies the updates in order:
 * assign-uuid, upgrade-format-version, add-schema, set-location, set-properties, remove-properties,
 * add-view-version (schema-id -1 = the schema added last in this commit; an identical existing version is
 * reused), set-current-view-version (-1 = the version added last in this commit; appends to version-log).
 * Old versions beyond the property version.history.num-entries (default 10) are expired, never the
 * current one nor those added by this commit.  current must not be NULL (404 otherwise). */
int ig_viewmeta_commit(json_object *current, json_object *requirements, json_object *updates, int64_t now_ms,
                       json_object **out_meta, ig_error_t *err);

/* Validates a complete ViewMetadata document: required fields, format-version 1, schemas valid, the
 * current version exists and its schema exists, version ids unique, at most one SQL per dialect. */
int ig_viewmeta_validate(json_object *meta, ig_error_t *err);

#endif
