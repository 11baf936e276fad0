/* sqlite_pending — the metadata files a commit wrote but has not synced (store.h, ig_meta_file_t), and the
 * purges a drop queued (purges(seq, location), migration 13).
 *
 * Table (schema migration 12): meta_pending(seq, location, body), a row per file in commit order; seq is the
 * rowid (a new row always comes after every row still there, which is all meta_pending_done needs). */
#ifndef IG_STORE_SQLITE_PENDING_H
#define IG_STORE_SQLITE_PENDING_H

#include <sqlite3.h>

#include "store/store.h"

/* Adds nf rows in the caller's transaction. */
int ig_sqp_add(sqlite3 *db, const ig_meta_file_t *files, size_t nf, ig_error_t *err);
/* Queues n purges in the caller's transaction (table purges, migration 13). */
int ig_sqp_purge_add(sqlite3 *db, const char *const *locations, size_t n, ig_error_t *err);
int ig_sqp_purge_next(ig_store_t *st, int64_t *seq, char *location, size_t cap, ig_error_t *err);
int ig_sqp_purge_done(ig_store_t *st, int64_t seq, ig_error_t *err);
/* The store ops. */
int ig_sqp_last(ig_store_t *st, int64_t *seq, ig_error_t *err);
int ig_sqp_each(ig_store_t *st, ig_meta_file_cb cb, void *ud, ig_error_t *err);
int ig_sqp_done(ig_store_t *st, int64_t seq, ig_error_t *err);

#endif
