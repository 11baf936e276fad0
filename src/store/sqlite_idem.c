/* sqlite_idem — see sqlite_idem.h. */
#include "store/sqlite_idem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_journal.h"

static sqlite3_stmt *prep(sqlite3 *db, const char *sql, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) ig_sq_fail(err, db, "prepare");
    return st;
}

typedef struct {
    const char *key;
    int64_t since_ms;
    ig_idem_t *out;
} get_t;

static int get_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    get_t *g = arg;
    ig_idem_t *out = g->out;
    int rc = -1;
    sqlite3_stmt *st =
        prep(db, "SELECT principal, request, status, body, created_at FROM idempotency WHERE key=? AND created_at>=?",
             err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, g->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, g->since_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = IG_STORE_NOTFOUND;
    } else if (r != SQLITE_ROW) {
        ig_sq_fail(err, db, "idempotency lookup");
    } else {
        snprintf(out->key, sizeof out->key, "%s", g->key);
        ig_sq_col_text(st, 0, out->principal, sizeof out->principal);
        ig_sq_col_text(st, 1, out->request, sizeof out->request);
        out->status = sqlite3_column_int(st, 2);
        out->body_len = (size_t)sqlite3_column_bytes(st, 3);
        out->body = malloc(out->body_len + 1);
        out->created_at_ms = sqlite3_column_int64(st, 4);
        if (!out->body) {
            ig_error_set(err, IG_E_INTERNAL, "out of memory");
        } else {
            if (out->body_len) memcpy(out->body, sqlite3_column_blob(st, 3), out->body_len);
            out->body[out->body_len] = '\0';
            rc = 0;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int ig_sqi_get(ig_store_t *st, const char *key, int64_t since_ms, ig_idem_t *out, ig_error_t *err)
{
    get_t g = {key, since_ms, out};
    return ig_sq_run(st, false, get_fn, &g, err);
}

/* The oldest entries go until at most max_entries are left with at most max_bytes of bodies.  The totals
 * come from meta (kept by triggers, migration 3): a put that is within them costs one indexed read; a trim
 * deletes through the created_at index the oldest entries past the count, or one at a time past the bytes. */
static int idem_trim(sqlite3 *db, int64_t max_entries, int64_t max_bytes, ig_error_t *err)
{
    sqlite3_stmt *q = prep(db, "SELECT (SELECT v FROM meta WHERE k='idem_count'), (SELECT v FROM meta WHERE k='idem_bytes')",
                           err);
    sqlite3_stmt *d = prep(db,
                           "DELETE FROM idempotency WHERE key IN"
                           " (SELECT key FROM idempotency ORDER BY created_at, key LIMIT ?)",
                           err);
    int rc = q && d ? 0 : -1;
    for (int round = 0; rc == 0 && round < 1000; round++) {
        sqlite3_reset(q);
        if (sqlite3_step(q) != SQLITE_ROW) {
            rc = ig_sq_fail(err, db, "idempotency totals");
            break;
        }
        int64_t n = sqlite3_column_int64(q, 0);
        if (n <= max_entries && sqlite3_column_int64(q, 1) <= max_bytes) break;
        sqlite3_reset(d);
        sqlite3_bind_int64(d, 1, n > max_entries ? n - max_entries : 1);
        if (sqlite3_step(d) != SQLITE_DONE) rc = ig_sq_fail(err, db, "idempotency trim");
    }
    sqlite3_finalize(q);
    sqlite3_finalize(d);
    return rc;
}

typedef struct {
    const ig_idem_t *e;
    int64_t expire_before_ms, max_entries, max_bytes;
} put_t;

static int put_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    const put_t *p = arg;
    const ig_idem_t *e = p->e;
    sqlite3_stmt *st = prep(db, "DELETE FROM idempotency WHERE created_at<?", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, p->expire_before_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ig_sq_fail(err, db, "idempotency expiry");
    sqlite3_finalize(st);
    if (rc) return -1;
    st = prep(db,
              "INSERT OR IGNORE INTO idempotency(key, principal, request, status, body, created_at)"
              " VALUES(?,?,?,?,?,?)",
              err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->request, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, e->status);
    sqlite3_bind_blob(st, 5, e->body ? e->body : "", (int)e->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, e->created_at_ms);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ig_sq_fail(err, db, "idempotency store");
    sqlite3_finalize(st);
    return rc ? -1 : idem_trim(db, p->max_entries, p->max_bytes, err);
}

int ig_sqi_put(ig_store_t *st, const ig_idem_t *e, int64_t expire_before_ms, int64_t max_entries, int64_t max_bytes,
               ig_error_t *err)
{
    put_t p = {e, expire_before_ms, max_entries, max_bytes};
    return ig_sq_run(st, true, put_fn, &p, err);
}
