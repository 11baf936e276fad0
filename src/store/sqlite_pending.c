/* sqlite_pending — see sqlite_pending.h: pending metadata files, and queued purges. */
#include "store/sqlite_pending.h"

#include <stdio.h>

#include "store/sqlite_journal.h"

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

int ig_sqp_add(sqlite3 *db, const ig_meta_file_t *files, size_t nf, ig_error_t *err)
{
    if (nf == 0) return 0;
    sqlite3_stmt *st = NULL;
    if (prepare(db, "INSERT INTO meta_pending(location, body) VALUES(?,?)", &st))
        return ig_sq_fail(err, db, "pending metadata file");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        sqlite3_bind_text(st, 1, files[i].location, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 2, files[i].body, files[i].len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = ig_sq_fail(err, db, "pending metadata file");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int last_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (prepare(db, "SELECT coalesce(max(seq), 0) FROM meta_pending", &st) == 0 &&
        sqlite3_step(st) == SQLITE_ROW) {
        *(int64_t *)arg = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        ig_sq_fail(err, db, "pending metadata files");
    }
    sqlite3_finalize(st);
    return rc;
}

int ig_sqp_last(ig_store_t *st, int64_t *seq, ig_error_t *err)
{
    return ig_sq_run(st, false, last_fn, seq, err);
}

typedef struct {
    ig_meta_file_cb cb;
    void *ud;
} each_t;

static int each_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    each_t *e = arg;
    sqlite3_stmt *st = NULL;
    if (prepare(db, "SELECT location, body FROM meta_pending ORDER BY seq", &st))
        return ig_sq_fail(err, db, "pending metadata files");
    int rc = 0, d;
    while (rc == 0 && (d = sqlite3_step(st)) == SQLITE_ROW) {
        const void *body = sqlite3_column_blob(st, 1);
        ig_meta_file_t f = {.location = (const char *)sqlite3_column_text(st, 0), .body = body ? body : "",
                            .len = (size_t)sqlite3_column_bytes(st, 1)};
        rc = e->cb(e->ud, &f);
    }
    if (rc == 0 && d != SQLITE_DONE) rc = ig_sq_fail(err, db, "pending metadata files");
    sqlite3_finalize(st);
    return rc;
}

int ig_sqp_each(ig_store_t *st, ig_meta_file_cb cb, void *ud, ig_error_t *err)
{
    each_t e = {.cb = cb, .ud = ud};
    return ig_sq_run(st, false, each_fn, &e, err);
}

static int done_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (prepare(db, "DELETE FROM meta_pending WHERE seq <= ?", &st) == 0) {
        sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ig_sq_fail(err, db, "pending metadata files");
    } else {
        ig_sq_fail(err, db, "pending metadata files");
    }
    sqlite3_finalize(st);
    return rc;
}

int ig_sqp_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    return ig_sq_run(st, true, done_fn, &seq, err);
}

/* ------------------------------------------------------------------ purges */

int ig_sqp_purge_add(sqlite3 *db, const char *const *locations, size_t n, ig_error_t *err)
{
    if (n == 0) return 0;
    sqlite3_stmt *st = NULL;
    if (prepare(db, "INSERT INTO purges(location) VALUES(?)", &st)) return ig_sq_fail(err, db, "purge");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_bind_text(st, 1, locations[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = ig_sq_fail(err, db, "purge");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

typedef struct {
    int64_t *seq;
    char *location;
    size_t cap;
} next_t;

static int purge_next_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    next_t *n = arg;
    sqlite3_stmt *st = NULL;
    if (prepare(db, "SELECT seq, location FROM purges ORDER BY seq LIMIT 1", &st)) return ig_sq_fail(err, db, "purge");
    int d = sqlite3_step(st), rc = IG_STORE_NOTFOUND;
    if (d == SQLITE_ROW) {
        *n->seq = sqlite3_column_int64(st, 0);
        snprintf(n->location, n->cap, "%s", (const char *)sqlite3_column_text(st, 1));
        rc = 0;
    } else if (d != SQLITE_DONE) {
        rc = ig_sq_fail(err, db, "purge");
    }
    sqlite3_finalize(st);
    return rc;
}

int ig_sqp_purge_next(ig_store_t *st, int64_t *seq, char *location, size_t cap, ig_error_t *err)
{
    next_t n = {.seq = seq, .location = location, .cap = cap};
    return ig_sq_run(st, false, purge_next_fn, &n, err);
}

static int purge_done_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db, "DELETE FROM purges WHERE seq = ?", &st)) return ig_sq_fail(err, db, "purge");
    sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ig_sq_fail(err, db, "purge");
    sqlite3_finalize(st);
    return rc;
}

int ig_sqp_purge_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    return ig_sq_run(st, true, purge_done_fn, &seq, err);
}
