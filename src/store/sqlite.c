/* store_sqlite — the embedded back end of store.h: one SQLite file in WAL mode.
 *
 * A small pool of connections serves the HTTP threads (SQLite connections are not shared between threads
 * concurrently); writes use BEGIN IMMEDIATE so two writers queue on the file lock instead of deadlocking on a
 * lock upgrade.  A separate connection answers `changed()` with PRAGMA data_version, which moves whenever any
 * other connection — another thread here, or the CLI in another process — commits.
 *
 * Schema changes go through `migrations[]`: the binary upgrades an older data dir on open, in order, each step
 * in its own transaction, and records the version in schema_version. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "store/sqlite_bases.h"
#include "store/sqlite_journal.h"
#include "store/sqlite_idem.h"
#include "store/sqlite_pending.h"
#include "store/sqlite_migrations.h"
#include "store/store.h"

#define POOL_MAX 16
#define POOL_SIZE 8 /* connections opened at most, each when first needed (an idle server keeps one) */

typedef struct {
    ig_store_t base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *free[POOL_MAX];
    int nfree, nopen; /* connections idle in free, and open in all (the poll connection aside) */
    sqlite3 *poll_db;
    int64_t data_version;
    char path[IG_PATH_MAX];
} sq_store_t;


static int fail_db(ig_error_t *err, sqlite3 *db, const char *what)
{
    ig_error("sqlite: %s: %s", what, sqlite3_errmsg(db));
    ig_metrics_store_error();
    return ig_error_set(err, IG_E_INTERNAL, "storage error during %s", what);
}

static sqlite3 *open_conn(const char *path, ig_error_t *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ig_metrics_store_error();
        ig_error_set(err, IG_E_INTERNAL, "cannot open %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    /* NORMAL is durable in WAL mode across application crashes; FULL also survives power loss on commit,
     * which a catalog pointer swap deserves.  Each connection caches at most 1 MiB of pages (SQLite's default
     * is 2 MiB): at most 9 connections, so the store's memory is bounded at ~9 MiB however large the catalog; the
     * kernel's page cache holds the file anyway. */
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA cache_size=-1024;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        ig_metrics_store_error();
        ig_error_set(err, IG_E_INTERNAL, "cannot configure %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* An idle connection, else a new one while fewer than POOL_SIZE are open, else the next one given back.  Never
 * NULL: one that cannot be opened (no descriptor left) waits for one of those open (at least the first). */
static sqlite3 *borrow(sq_store_t *s, ig_error_t *err)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->nfree == 0 && s->nopen >= POOL_SIZE) pthread_cond_wait(&s->cv, &s->mu);
        if (s->nfree) break;
        s->nopen++;
        pthread_mutex_unlock(&s->mu);
        ig_error_t e2 = {0};
        sqlite3 *db = open_conn(s->path, &e2);
        if (db) return db;
        pthread_mutex_lock(&s->mu);
        s->nopen--;
        while (s->nfree == 0) pthread_cond_wait(&s->cv, &s->mu);
    }
    sqlite3 *db = s->free[--s->nfree];
    pthread_mutex_unlock(&s->mu);
    (void)err;
    return db;
}

static void give_back(sq_store_t *s, sqlite3 *db)
{
    pthread_mutex_lock(&s->mu);
    s->free[s->nfree++] = db;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The one epilogue of every operation: finalize the statement (NULL is fine), roll back a transaction left
 * open by a failure, return the connection to the pool.  Returns rc. */
static int finish(sq_store_t *s, sqlite3 *db, sqlite3_stmt *st, int rc)
{
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    give_back(s, db);
    return rc;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_db(err, db, "prepare");
        return NULL;
    }
    return st;
}

/* The connection's own statement for sql, prepared once and kept (the hot lookups: a loadTable's, a
 * commit's); give it back with unkeep.  A connection's kept statements go with it (close_conn). */
static sqlite3_stmt *keep(sqlite3 *db, const char *sql, ig_error_t *err)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
        if (!sqlite3_stmt_busy(st) && strcmp(sqlite3_sql(st), sql) == 0) return st;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        fail_db(err, db, "prepare");
        return NULL;
    }
    return st;
}

static void unkeep(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void close_conn(sqlite3 *db)
{
    sqlite3_stmt *st;
    while (db && (st = sqlite3_next_stmt(db, NULL))) sqlite3_finalize(st);
    sqlite3_close(db);
}

static int exec(sqlite3 *db, const char *sql, ig_error_t *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail_db(err, db, sql);
    return 0;
}

int ig_sq_fail(ig_error_t *err, sqlite3 *db, const char *what)
{
    return fail_db(err, db, what);
}

int ig_sq_run(ig_store_t *base, bool write, ig_sq_fn fn, void *arg, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    if (write && exec(db, "BEGIN IMMEDIATE", err)) goto out;
    rc = fn(db, arg, err);
    if (rc == 0 && write) rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, NULL, rc);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms) sqlite3_bind_int64(st, i, ms);
    else sqlite3_bind_null(st, i);
}

void ig_sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, t, n);
    dst[n] = '\0';
}

/* ------------------------------------------------------------------ schema */

static int migrate(sqlite3 *db, ig_error_t *err)
{
    if (exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", err)) return -1;
    int n = ig_sq_migrations_count;
    for (;;) {
        if (exec(db, "BEGIN IMMEDIATE", err)) return -1;
        sqlite3_stmt *st = prep(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", err);
        if (!st) goto fail;
        int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
        sqlite3_finalize(st);
        if (v < 0) {
            fail_db(err, db, "read schema_version");
            goto fail;
        }
        if (v > n) {
            ig_error_set(err, IG_E_INTERNAL,
                         "the data dir has schema version %d, newer than this binary (%d)", v, n);
            goto fail;
        }
        if (v == n) return exec(db, "COMMIT", err);
        ig_info("store: migrating schema %d -> %d", v, v + 1);
        if (exec(db, ig_sq_migrations[v], err)) goto fail;
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(%d)", v + 1);
        if (exec(db, sql, err) || exec(db, "COMMIT", err)) goto fail;
    }
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ------------------------------------------------------------------ tokens */

#define TOKEN_COLS                                                                                            \
    "id, hash, prefix, name, owner, suspended, max_rps, burst, expires_at, created_at, updated_at,"             \
    " suspended_at, suspend_reason, last_used_at, last_used_ip, seq, deleted, suspended_by_role,"              \
    " suspended_by, max_rps_set_by, prev_hash, prev_valid_until, rotated_at, scopes, allowed_cidrs, rate_limit_mode,"  \
    " namespaces"

/* The fields a token update may change, bound as parameters i..i+19: name, suspended, max_rps, burst,
 * expires_at, updated_at, suspended_at, suspend_reason, suspended_by_role, suspended_by, max_rps_set_by,
 * hash, prefix, prev_hash, prev_valid_until, rotated_at, scopes, allowed_cidrs, rate_limit_mode, namespaces
 * (0, "" and unknown: NULL). */
#define TOKEN_MUTABLE 20
static void bind_mutable(sqlite3_stmt *st, int i, const ig_token_row_t *t)
{
    bind_text(st, i, t->name);
    sqlite3_bind_int(st, i + 1, t->suspended);
    if (t->max_rps > 0) sqlite3_bind_double(st, i + 2, t->max_rps);
    else sqlite3_bind_null(st, i + 2);
    if (t->burst > 0) sqlite3_bind_int(st, i + 3, t->burst);
    else sqlite3_bind_null(st, i + 3);
    bind_ms(st, i + 4, t->expires_at_ms);
    sqlite3_bind_int64(st, i + 5, t->updated_at_ms);
    bind_ms(st, i + 6, t->suspended_at_ms);
    bind_text(st, i + 7, t->suspend_reason[0] ? t->suspend_reason : NULL);
    bind_text(st, i + 8, ig_set_by_name(t->suspended_by_role));
    bind_text(st, i + 9, t->suspended_by[0] ? t->suspended_by : NULL);
    bind_text(st, i + 10, ig_set_by_name(t->max_rps_set_by));
    sqlite3_bind_blob(st, i + 11, t->hash, 32, SQLITE_TRANSIENT);
    bind_text(st, i + 12, t->prefix);
    if (t->has_prev) sqlite3_bind_blob(st, i + 13, t->prev_hash, 32, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i + 13);
    bind_ms(st, i + 14, t->has_prev ? t->prev_valid_until_ms : 0);
    bind_ms(st, i + 15, t->rotated_at_ms);
    sqlite3_bind_int(st, i + 16, (int)t->scopes);
    bind_text(st, i + 17, t->allowed_cidrs[0] ? t->allowed_cidrs : NULL);
    bind_text(st, i + 18, t->rate_limit_shadow ? "shadow" : NULL);
    bind_text(st, i + 19, t->namespaces[0] ? t->namespaces : NULL);
}

static void read_token(sqlite3_stmt *st, ig_token_row_t *t)
{
    /* Every field is assigned below (strings are always terminated), so no memset of the ~2.6 KB record. */
    memset(t->hash, 0, sizeof t->hash);
    ig_sq_col_text(st, 0, t->id, sizeof t->id);
    const void *h = sqlite3_column_blob(st, 1);
    if (h && sqlite3_column_bytes(st, 1) == 32) memcpy(t->hash, h, 32);
    ig_sq_col_text(st, 2, t->prefix, sizeof t->prefix);
    ig_sq_col_text(st, 3, t->name, sizeof t->name);
    ig_sq_col_text(st, 4, t->owner, sizeof t->owner);
    t->suspended = sqlite3_column_int(st, 5) != 0;
    t->max_rps = sqlite3_column_double(st, 6);
    t->burst = sqlite3_column_int(st, 7);
    t->expires_at_ms = sqlite3_column_int64(st, 8);
    t->created_at_ms = sqlite3_column_int64(st, 9);
    t->updated_at_ms = sqlite3_column_int64(st, 10);
    t->suspended_at_ms = sqlite3_column_int64(st, 11);
    ig_sq_col_text(st, 12, t->suspend_reason, sizeof t->suspend_reason);
    t->last_used_at_ms = sqlite3_column_int64(st, 13);
    ig_sq_col_text(st, 14, t->last_used_ip, sizeof t->last_used_ip);
    t->seq = sqlite3_column_int64(st, 15);
    t->deleted = sqlite3_column_int(st, 16) != 0;
    t->suspended_by_role = ig_set_by_parse((const char *)sqlite3_column_text(st, 17));
    ig_sq_col_text(st, 18, t->suspended_by, sizeof t->suspended_by);
    t->max_rps_set_by = ig_set_by_parse((const char *)sqlite3_column_text(st, 19));
    const void *ph = sqlite3_column_blob(st, 20);
    t->has_prev = ph && sqlite3_column_bytes(st, 20) == 32;
    if (t->has_prev) memcpy(t->prev_hash, ph, 32);
    else memset(t->prev_hash, 0, sizeof t->prev_hash);
    t->prev_valid_until_ms = sqlite3_column_int64(st, 21);
    t->rotated_at_ms = sqlite3_column_int64(st, 22);
    t->scopes = (unsigned)sqlite3_column_int(st, 23);
    ig_sq_col_text(st, 24, t->allowed_cidrs, sizeof t->allowed_cidrs);
    const unsigned char *mode = sqlite3_column_text(st, 25);
    t->rate_limit_shadow = mode && strcmp((const char *)mode, "shadow") == 0;
    ig_sq_col_text(st, 26, t->namespaces, sizeof t->namespaces);
}

/* Bumps the store-wide change sequence inside the caller's transaction. */
static int next_seq(sqlite3 *db, int64_t *seq, ig_error_t *err)
{
    sqlite3_stmt *st = prep(db, "UPDATE meta SET v = v + 1 WHERE k = 'token_seq' RETURNING v", err);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail_db(err, db, "token sequence");
}

static int dup_name(ig_error_t *err, const ig_token_row_t *t)
{
    return ig_error_set(err, IG_E_ALREADY_EXISTS,
                        "name: owner '%s' already has an access token named '%s'", t->owner, t->name);
}

static int sq_token_insert(ig_store_t *base, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", err) || next_seq(db, &t->seq, err)) goto out;
    /* The mutable fields first, in bind_mutable's order, so insert and update bind them with one function. */
    st = prep(db,
              "INSERT INTO tokens(name, suspended, max_rps, burst, expires_at, updated_at, suspended_at,"
              " suspend_reason, suspended_by_role, suspended_by, max_rps_set_by, hash, prefix, prev_hash,"
              " prev_valid_until, rotated_at, scopes, allowed_cidrs, rate_limit_mode, namespaces, id, owner,"
              " created_at, last_used_at, last_used_ip, seq, deleted)"
              " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
              err);
    if (!st) goto out;
    bind_mutable(st, 1, t);
    int i = 1 + TOKEN_MUTABLE;
    bind_text(st, i, t->id);
    bind_text(st, i + 1, t->owner);
    sqlite3_bind_int64(st, i + 2, t->created_at_ms);
    bind_ms(st, i + 3, t->last_used_at_ms);
    bind_text(st, i + 4, t->last_used_ip[0] ? t->last_used_ip : NULL);
    sqlite3_bind_int64(st, i + 5, t->seq);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        dup_name(err, t);
        goto out;
    }
    if (r != SQLITE_DONE) {
        fail_db(err, db, "token insert");
        goto out;
    }
    if (ig_sqj_write(db, j, err)) goto out;
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_token_update(ig_store_t *base, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int64_t read_seq = t->seq;
    if (exec(db, "BEGIN IMMEDIATE", err) || next_seq(db, &t->seq, err)) goto out;
    st = prep(db,
              "UPDATE tokens SET name=?, suspended=?, max_rps=?, burst=?, expires_at=?, updated_at=?,"
              " suspended_at=?, suspend_reason=?, suspended_by_role=?, suspended_by=?, max_rps_set_by=?,"
              " hash=?, prefix=?, prev_hash=?, prev_valid_until=?, rotated_at=?, scopes=?, allowed_cidrs=?,"
              " rate_limit_mode=?, namespaces=?, seq=? WHERE id=? AND deleted=0 AND seq=?",
              err);
    if (!st) goto out;
    bind_mutable(st, 1, t);
    sqlite3_bind_int64(st, 1 + TOKEN_MUTABLE, t->seq);
    bind_text(st, 2 + TOKEN_MUTABLE, t->id);
    sqlite3_bind_int64(st, 3 + TOKEN_MUTABLE, read_seq);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        dup_name(err, t);
        goto out;
    }
    if (r != SQLITE_DONE) {
        fail_db(err, db, "token update");
        goto out;
    }
    if (sqlite3_changes(db) == 0) {
        /* Gone, or moved on since the caller read it: tell the two apart. */
        sqlite3_finalize(st);
        st = prep(db, "SELECT 1 FROM tokens WHERE id=? AND deleted=0", err);
        if (!st) goto out;
        bind_text(st, 1, t->id);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) rc = IG_STORE_STALE;
        else if (r == SQLITE_DONE) rc = IG_STORE_NOTFOUND;
        else fail_db(err, db, "token update");
        goto out;
    }
    if (ig_sqj_write(db, j, err)) goto out;
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_token_delete(ig_store_t *base, const char *id, int64_t now_ms, int64_t *seq, const ig_journal_t *j,
                           ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", err) || next_seq(db, seq, err)) goto out;
    st = prep(db, "UPDATE tokens SET deleted=1, seq=?, updated_at=? WHERE id=? AND deleted=0", err);
    if (!st) goto out;
    sqlite3_bind_int64(st, 1, *seq);
    sqlite3_bind_int64(st, 2, now_ms);
    bind_text(st, 3, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail_db(err, db, "token delete");
        goto out;
    }
    if (sqlite3_changes(db) == 0) {
        rc = IG_STORE_NOTFOUND;
        goto out;
    }
    if (ig_sqj_write(db, j, err)) goto out;
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_token_get(ig_store_t *base, const char *id, ig_token_row_t *out, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db, "SELECT " TOKEN_COLS " FROM tokens WHERE id=? AND deleted=0", err);
    if (!st) goto out;
    bind_text(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        read_token(st, out);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = IG_STORE_NOTFOUND;
    } else {
        fail_db(err, db, "token get");
    }
out:
    return finish(s, db, st, rc);
}

static int walk_tokens(sqlite3 *db, sqlite3_stmt *st, ig_token_cb cb, void *ud, int64_t *max_seq, ig_error_t *err)
{
    ig_token_row_t t;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        read_token(st, &t);
        if (max_seq && t.seq > *max_seq) *max_seq = t.seq;
        if (cb(ud, &t)) return 0;
    }
    return r == SQLITE_DONE ? 0 : fail_db(err, db, "token list");
}

static int sq_token_list(ig_store_t *base, const char *owner, ig_token_cb cb, void *ud, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db,
                            owner ? "SELECT " TOKEN_COLS " FROM tokens WHERE deleted=0 AND owner=? "
                                    "ORDER BY created_at, id"
                                  : "SELECT " TOKEN_COLS " FROM tokens WHERE deleted=0 ORDER BY created_at, id",
                            err);
    if (st) {
        if (owner) bind_text(st, 1, owner);
        rc = walk_tokens(db, st, cb, ud, NULL, err);
    }
    return finish(s, db, st, rc);
}

static int sq_token_changes(ig_store_t *base, int64_t since, ig_token_cb cb, void *ud, int64_t *max_seq,
                            ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    /* Each row appears once, so order does not matter; a first load (since 0) skips tombstones and scans
     * the table in storage order, which is what makes loading a million tokens fast. */
    sqlite3_stmt *st = prep(db,
                            since > 0 ? "SELECT " TOKEN_COLS " FROM tokens WHERE seq > ?"
                                      : "SELECT " TOKEN_COLS " FROM tokens WHERE seq > ? AND deleted = 0",
                            err);
    if (st) {
        sqlite3_bind_int64(st, 1, since);
        *max_seq = since;
        rc = walk_tokens(db, st, cb, ud, max_seq, err);
    }
    return finish(s, db, st, rc);
}

static int sq_token_touch(ig_store_t *base, const ig_token_usage_t *u, size_t n, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    st = prep(db,
              "UPDATE tokens SET last_used_at=?, last_used_ip=? WHERE id=? AND"
              " (last_used_at IS NULL OR last_used_at < ?)",
              err);
    if (!st) goto out;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, u[i].last_used_at_ms);
        bind_text(st, 2, u[i].last_used_ip);
        bind_text(st, 3, u[i].id);
        sqlite3_bind_int64(st, 4, u[i].last_used_at_ms);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fail_db(err, db, "token touch");
            goto out;
        }
        sqlite3_reset(st);
    }
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_changed(ig_store_t *base)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3_stmt *st = NULL;
    int changed = -1;
    /* Only the server's refresher thread calls this; poll_db is its own. */
    if (sqlite3_prepare_v2(s->poll_db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        changed = v != s->data_version;
        s->data_version = v;
    }
    sqlite3_finalize(st);
    return changed;
}

/* ------------------------------------------------------------------ users */

static int sq_user_get(ig_store_t *base, const char *name, ig_user_t *out, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db, "SELECT name, role, password_hash, created_at FROM users WHERE name=?", err);
    if (!st) goto out;
    bind_text(st, 1, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        ig_sq_col_text(st, 0, out->name, sizeof out->name);
        const unsigned char *role = sqlite3_column_text(st, 1);
        out->role = role && strcmp((const char *)role, "admin") == 0 ? IG_ROLE_ADMIN : IG_ROLE_MEMBER;
        ig_sq_col_text(st, 2, out->password_hash, sizeof out->password_hash);
        out->created_at_ms = sqlite3_column_int64(st, 3);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = IG_STORE_NOTFOUND;
    } else {
        fail_db(err, db, "user get");
    }
out:
    return finish(s, db, st, rc);
}

static int sq_user_insert(ig_store_t *base, const ig_user_t *u, const ig_journal_t *j, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    st = prep(db, "INSERT INTO users(name, role, password_hash, created_at) VALUES(?,?,?,?)", err);
    if (!st) goto out;
    bind_text(st, 1, u->name);
    bind_text(st, 2, u->role == IG_ROLE_ADMIN ? "admin" : "member");
    bind_text(st, 3, u->password_hash);
    sqlite3_bind_int64(st, 4, u->created_at_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) ig_error_set(err, IG_E_ALREADY_EXISTS, "user '%s' already exists", u->name);
    else if (r != SQLITE_DONE) fail_db(err, db, "user insert");
    else if (ig_sqj_write(db, j, err) == 0) rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

/* Runs an UPDATE with two text parameters on one row: 0, NOTFOUND when no row matched, or -1. */
static int update_row(sq_store_t *s, const char *sql, const char *a, const char *b, const char *what,
                      ig_error_t *err)
{
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db, sql, err);
    if (st) {
        bind_text(st, 1, a);
        bind_text(st, 2, b);
        if (sqlite3_step(st) != SQLITE_DONE) fail_db(err, db, what);
        else rc = sqlite3_changes(db) ? 0 : IG_STORE_NOTFOUND;
    }
    return finish(s, db, st, rc);
}

static int sq_user_set_password(ig_store_t *base, const char *name, const char *hash, const ig_journal_t *j,
                                ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN IMMEDIATE", err) || !(st = prep(db, "UPDATE users SET password_hash=? WHERE name=?", err)))
        goto out;
    bind_text(st, 1, hash);
    bind_text(st, 2, name);
    if (sqlite3_step(st) != SQLITE_DONE) fail_db(err, db, "user password");
    else if (sqlite3_changes(db) == 0) rc = IG_STORE_NOTFOUND;
    else if (ig_sqj_write(db, j, err) == 0) rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_user_count(ig_store_t *base, int64_t *n, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db, "SELECT COUNT(*) FROM users", err);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (st) {
        fail_db(err, db, "user count");
    }
    return finish(s, db, st, rc);
}

/* ------------------------------------------------------------------ namespaces */

static int no_ns(ig_error_t *err, const char *ns)
{
    return ig_store_err_no_ns(err, ns);
}

/* 1 if the namespace exists, 0 if not, -1 on error. */
static int ns_exists(sqlite3 *db, const char *ns, ig_error_t *err)
{
    sqlite3_stmt *st = prep(db, "SELECT 1 FROM namespaces WHERE name=?", err);
    if (!st) return -1;
    bind_text(st, 1, ns);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    if (r == SQLITE_DONE) return 0;
    return fail_db(err, db, "namespace lookup");
}

static int sq_ns_create(ig_store_t *base, const char *ns, const char *props, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    char parent[2048];
    int rc = -1;
    sqlite3_stmt *st = NULL;
    ig_store_ns_parent(ns, parent, sizeof parent);
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    if (parent[0] && parent[strlen(parent) - 1] != IG_WH_TAG) { /* a warehouse's root has no row */
        int e = ns_exists(db, parent, err);
        if (e < 0) goto out;
        if (e == 0) {
            no_ns(err, parent);
            goto out;
        }
    }
    st = prep(db, "INSERT INTO namespaces(name, parent, properties) VALUES(?,?,?)", err);
    if (!st) goto out;
    bind_text(st, 1, ns);
    bind_text(st, 2, parent);
    bind_text(st, 3, props ? props : "{}");
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        char shown[1025];
        ig_error_set(err, IG_E_ALREADY_EXISTS, "Namespace already exists: %s",
                     ig_store_ns_shown(ns, shown, sizeof shown));
        goto out;
    }
    if (r != SQLITE_DONE) {
        fail_db(err, db, "namespace create");
        goto out;
    }
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_ns_get(ig_store_t *base, const char *ns, char **props, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = prep(db, "SELECT properties FROM namespaces WHERE name=?", err);
    if (!st) goto out;
    bind_text(st, 1, ns);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (props) *props = strdup(t ? (const char *)t : "{}");
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = IG_STORE_NOTFOUND;
    } else {
        fail_db(err, db, "namespace get");
    }
out:
    return finish(s, db, st, rc);
}

static int walk_names(sqlite3 *db, sqlite3_stmt *st, ig_name_cb cb, void *ud, ig_error_t *err)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (cb(ud, t ? (const char *)t : "")) return 0;
    }
    return r == SQLITE_DONE ? 0 : fail_db(err, db, "list");
}

static int sq_ns_list(ig_store_t *base, const char *parent, const char *after, int limit, ig_name_cb cb, void *ud,
                      ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (parent && parent[0] && parent[strlen(parent) - 1] != IG_WH_TAG) { /* a warehouse's root has no row */
        int e = ns_exists(db, parent, err);
        if (e < 0) goto out;
        if (e == 0) {
            no_ns(err, parent);
            goto out;
        }
    }
    st = prep(db, "SELECT name FROM namespaces WHERE parent=? AND name>? ORDER BY name LIMIT ?", err);
    if (!st) goto out;
    bind_text(st, 1, parent ? parent : "");
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit > 0 ? limit : -1);
    rc = walk_names(db, st, cb, ud, err);
out:
    return finish(s, db, st, rc);
}

static int sq_ns_set_props(ig_store_t *base, const char *ns, const char *props, ig_error_t *err)
{
    return update_row((sq_store_t *)base, "UPDATE namespaces SET properties=? WHERE name=?", props, ns,
                      "namespace update", err);
}

static int sq_ns_drop(ig_store_t *base, const char *ns, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    st = prep(db,
              "SELECT (SELECT COUNT(*) FROM objects WHERE ns=?1) + (SELECT COUNT(*) FROM namespaces WHERE parent=?1)",
              err);
    if (!st) goto out;
    bind_text(st, 1, ns);
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_db(err, db, "namespace drop");
        goto out;
    }
    int64_t children = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    int e = ns_exists(db, ns, err);
    if (e < 0) goto out;
    if (e == 0) {
        rc = IG_STORE_NOTFOUND;
        goto out;
    }
    if (children > 0) {
        char shown[1025];
        ig_error_set(err, IG_E_NAMESPACE_NOT_EMPTY, "Namespace %s is not empty: %lld tables, views or namespaces",
                     ig_store_ns_shown(ns, shown, sizeof shown), (long long)children);
        goto out;
    }
    st = prep(db, "DELETE FROM namespaces WHERE name=?", err);
    if (!st) goto out;
    bind_text(st, 1, ns);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail_db(err, db, "namespace drop");
        goto out;
    }
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

/* ------------------------------------------------------------------ tables and views */

static int no_obj(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name)
{
    return ig_store_err_no_obj(err, kind, ns, name);
}

/* Reads (kind, location) of (ns, name) in db: 0 found, NOTFOUND, -1. */
static int obj_read(sqlite3 *db, const char *ns, const char *name, ig_obj_kind_t *kind, char *loc, size_t cap,
                    ig_error_t *err)
{
    sqlite3_stmt *st = keep(db, "SELECT kind, location FROM objects WHERE ns=? AND name=?", err);
    if (!st) return -1;
    bind_text(st, 1, ns);
    bind_text(st, 2, name);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        *kind = (ig_obj_kind_t)sqlite3_column_int(st, 0);
        if (loc) ig_sq_col_text(st, 1, loc, cap);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = IG_STORE_NOTFOUND;
    } else {
        rc = fail_db(err, db, "object lookup");
    }
    unkeep(st);
    return rc;
}

static int sq_obj_get(ig_store_t *base, const char *ns, const char *name, ig_obj_kind_t kind, ig_obj_kind_t *kind_out,
                      char *location, size_t cap, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    ig_obj_kind_t k;
    int rc = obj_read(db, ns, name, &k, location, cap, err);
    if (rc == 0 && kind && k != kind) rc = IG_STORE_NOTFOUND;
    if (rc == 0 && kind_out) *kind_out = k;
    give_back(s, db);
    return rc;
}

static int sq_obj_list(ig_store_t *base, const char *ns, ig_obj_kind_t kind, const char *after, int limit,
                       ig_name_cb cb, void *ud, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    int e = ns_exists(db, ns, err);
    if (e < 0) goto out;
    if (e == 0) {
        no_ns(err, ns);
        goto out;
    }
    st = prep(db, "SELECT name FROM objects WHERE ns=? AND kind=? AND name>? ORDER BY name LIMIT ?", err);
    if (!st) goto out;
    bind_text(st, 1, ns);
    sqlite3_bind_int(st, 2, kind);
    bind_text(st, 3, after ? after : "");
    sqlite3_bind_int(st, 4, limit > 0 ? limit : -1);
    rc = walk_names(db, st, cb, ud, err);
out:
    return finish(s, db, st, rc);
}

static int swap_one(sqlite3 *db, const ig_obj_swap_t *w, ig_error_t *err)
{
    ig_obj_kind_t k;
    int r = obj_read(db, w->ns, w->name, &k, NULL, 0, err);
    if (r < 0) return -1;
    if (!w->expected_location) {
        int e = ns_exists(db, w->ns, err);
        if (e < 0) return -1;
        if (e == 0) return no_ns(err, w->ns);
        if (r == 0) return ig_store_err_exists(err, k, w->kind, w->ns, w->name);
        sqlite3_stmt *st = prep(db, "INSERT INTO objects(ns, name, kind, location) VALUES(?,?,?,?)", err);
        if (!st) return -1;
        bind_text(st, 1, w->ns);
        bind_text(st, 2, w->name);
        sqlite3_bind_int(st, 3, w->kind);
        bind_text(st, 4, w->new_location);
        int d = sqlite3_step(st);
        sqlite3_finalize(st);
        return d == SQLITE_DONE ? ig_sqb_add(db, w, err) : fail_db(err, db, "object create");
    }
    if (r == IG_STORE_NOTFOUND || k != w->kind) return no_obj(err, w->kind, w->ns, w->name);
    /* The comparison is done by SQLite on the whole string: locations have no length bound here. */
    sqlite3_stmt *st = prep(db, "UPDATE objects SET location=? WHERE ns=? AND name=? AND location=?", err);
    if (!st) return -1;
    bind_text(st, 1, w->new_location);
    bind_text(st, 2, w->ns);
    bind_text(st, 3, w->name);
    bind_text(st, 4, w->expected_location);
    int d = sqlite3_step(st);
    sqlite3_finalize(st);
    if (d != SQLITE_DONE) return fail_db(err, db, "object swap");
    if (sqlite3_changes(db) == 0)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Commit failed: %s %s was updated concurrently (base metadata is no longer current)",
                            k == IG_OBJ_VIEW ? "view" : "table", w->name);
    return ig_sqb_add(db, w, err);
}

static int sq_obj_swap(ig_store_t *base, const ig_obj_swap_t *swaps, size_t n, const ig_meta_file_t *files,
                       size_t nf, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    /* BEGIN IMMEDIATE takes the write lock before the reads, so check-then-update is one atomic step. */
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    for (size_t i = 0; i < n; i++)
        if (swap_one(db, &swaps[i], err)) goto out;
    if (ig_sqp_add(db, files, nf, err) == 0) rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, NULL, rc);
}

static int sq_obj_drop(ig_store_t *base, const char *ns, const char *name, ig_obj_kind_t kind,
                       const char *const *purge, size_t npurge, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    if (!(st = prep(db, "DELETE FROM objects WHERE ns=? AND name=? AND kind=?", err))) goto out;
    bind_text(st, 1, ns);
    bind_text(st, 2, name);
    sqlite3_bind_int(st, 3, kind);
    if (sqlite3_step(st) != SQLITE_DONE) fail_db(err, db, "object drop");
    else if (sqlite3_changes(db) == 0) rc = IG_STORE_NOTFOUND;
    else if (ig_sqb_drop(db, ns, name, err) == 0 && ig_sqp_purge_add(db, purge, npurge, err) == 0)
        rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_obj_rename(ig_store_t *base, const char *from_ns, const char *from_name, const char *to_ns,
                         const char *to_name, ig_obj_kind_t kind, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    ig_obj_kind_t k;
    if (exec(db, "BEGIN IMMEDIATE", err)) goto out;
    int r = obj_read(db, from_ns, from_name, &k, NULL, 0, err);
    if (r < 0) goto out;
    if (r == IG_STORE_NOTFOUND || k != kind) {
        no_obj(err, kind, from_ns, from_name);
        goto out;
    }
    int e = ns_exists(db, to_ns, err);
    if (e < 0) goto out;
    if (e == 0) {
        no_ns(err, to_ns);
        goto out;
    }
    r = obj_read(db, to_ns, to_name, &k, NULL, 0, err);
    if (r < 0) goto out;
    if (r == 0) {
        ig_store_err_rename_exists(err, k, from_ns, from_name, to_ns, to_name);
        goto out;
    }
    st = prep(db, "UPDATE objects SET ns=?, name=? WHERE ns=? AND name=?", err);
    if (!st) goto out;
    bind_text(st, 1, to_ns);
    bind_text(st, 2, to_name);
    bind_text(st, 3, from_ns);
    bind_text(st, 4, from_name);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail_db(err, db, "object rename");
        goto out;
    }
    if (ig_sqb_rename(db, from_ns, from_name, to_ns, to_name, err)) goto out;
    rc = exec(db, "COMMIT", err);
out:
    return finish(s, db, st, rc);
}

static int sq_obj_bases(ig_store_t *base, const char *ns, const char *name, ig_name_cb cb, void *ud,
                        ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = ig_sqb_list(db, ns, name, cb, ud, err);
    give_back(s, db);
    return rc;
}

static int sq_obj_overlap(ig_store_t *base, const char *loc, const char *ex_ns, const char *ex_name, char *who,
                          size_t cap, ig_error_t *err)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3 *db = borrow(s, err);
    int rc = ig_sqb_overlap(db, loc, ex_ns, ex_name, who, cap, err);
    give_back(s, db);
    return rc;
}

/* ------------------------------------------------------------------ lifecycle */

static void sq_close(ig_store_t *base)
{
    sq_store_t *s = (sq_store_t *)base;
    for (int i = 0; i < s->nfree; i++) close_conn(s->free[i]);
    close_conn(s->poll_db);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static const ig_store_ops_t sqlite_ops = {
    .name = "sqlite",
    .supports = 0, /* polled: PRAGMA data_version behind changed() */
    .close = sq_close,
    .token_insert = sq_token_insert,
    .token_update = sq_token_update,
    .token_delete = sq_token_delete,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_changes = sq_token_changes,
    .token_touch = sq_token_touch,
    .changed = sq_changed,
    .user_get = sq_user_get,
    .user_insert = sq_user_insert,
    .user_set_password = sq_user_set_password,
    .user_count = sq_user_count,
    .ns_create = sq_ns_create,
    .ns_get = sq_ns_get,
    .ns_list = sq_ns_list,
    .ns_set_props = sq_ns_set_props,
    .ns_drop = sq_ns_drop,
    .obj_get = sq_obj_get,
    .obj_list = sq_obj_list,
    .obj_swap = sq_obj_swap,
    .meta_pending_last = ig_sqp_last,
    .meta_pending_each = ig_sqp_each,
    .meta_pending_done = ig_sqp_done,
    .purge_next = ig_sqp_purge_next,
    .purge_done = ig_sqp_purge_done,
    .obj_drop = sq_obj_drop,
    .obj_rename = sq_obj_rename,
    .obj_bases = sq_obj_bases,
    .obj_overlap = sq_obj_overlap,
    .idem_get = ig_sqi_get,
    .idem_put = ig_sqi_put,
    .journal_append = ig_sqj_journal_append,
    .audit_list = ig_sqj_audit_list,
    .audit_prune = ig_sqj_audit_prune,
    .event_next = ig_sqj_event_next,
    .event_done = ig_sqj_event_done,
    .event_retry = ig_sqj_event_retry,
    .notice_raise = ig_sqj_notice_raise,
};

/* SQLite counts every allocation under one global mutex unless told not to: that mutex was where the
 * worker threads queued on a loadTable's lookup (we never read those counts). */
static void sqlite_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

ig_store_t *ig_store_sqlite_open(const char *path, ig_error_t *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_once);
    sq_store_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &sqlite_ops;
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    sqlite3 *first = open_conn(path, err);
    if (!first) goto fail;
    if (migrate(first, err)) {
        close_conn(first);
        goto fail;
    }
    s->free[s->nfree++] = first;
    s->nopen = 1;
    s->poll_db = open_conn(path, err);
    if (!s->poll_db) goto fail;
    sq_changed(&s->base);
    return &s->base;
fail:
    sq_close(&s->base);
    return NULL;
}
