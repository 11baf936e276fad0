/* sqlite_journal — the audit log, the event outbox and the expiry notices of the SQLite store (DESIGN.md §8).
 *
 * Tables (schema migration 7):
 *   audit(id, at, actor, actor_token_id, action, target, target_owner, details, client_ip)
 *       append-only; ids increase with time (AUTOINCREMENT: never reused after a prune), so a page of the
 *       log is "id < the last one seen", newest first.  Indexed by at (retention), target, actor and
 *       target_owner (the filters, and what a member may see).
 *   events(seq, id, type, body, created_at, attempts, next_at)
 *       the outbox: a row per event not yet acknowledged by the webhook with a 2xx.
 *   token_notices(token_id, expires_at, level)
 *       the nearest expiry warning sent for a token's current expiresAt (level = threshold in days, 0 =
 *       expired), so a restart never repeats one and a new expiresAt starts afresh.
 *
 * ig_sqj_write runs on a connection the caller borrowed, inside the caller's transaction; the other
 * functions are the store ops themselves (sqlite.c lists them in its ops table) and borrow through
 * ig_sq_run. */
#ifndef IG_STORE_SQLITE_JOURNAL_H
#define IG_STORE_SQLITE_JOURNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* The schema migration that creates the tables above. */
#define IG_SQJ_MIGRATION                                                                                      \
    "CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT,"               \
    "  actor_token_id TEXT, action TEXT NOT NULL, target TEXT, target_owner TEXT, details TEXT NOT NULL,"     \
    "  client_ip TEXT);"                                                                                      \
    "CREATE INDEX audit_at ON audit(at);"                                                                     \
    "CREATE INDEX audit_target ON audit(target, id);"                                                         \
    "CREATE INDEX audit_actor ON audit(actor, id);"                                                           \
    "CREATE INDEX audit_owner ON audit(target_owner, id);"                                                    \
    "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL," \
    "  body TEXT NOT NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"                  \
    "  next_at INTEGER NOT NULL);"                                                                            \
    "CREATE TABLE token_notices(token_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL,"                      \
    "  level INTEGER NOT NULL);"

/* sqlite.c: runs fn on a pooled connection, inside BEGIN IMMEDIATE ... COMMIT when write (rolled back when fn
 * returns non-zero); returns fn's result (or -1 when the transaction cannot start or commit). */
typedef int (*ig_sq_fn)(sqlite3 *db, void *arg, ig_error_t *err);
int ig_sq_run(ig_store_t *st, bool write, ig_sq_fn fn, void *arg, ig_error_t *err);
/* sqlite.c: column i of st as text into dst (cap bytes, cut to fit, NUL-terminated; NULL is ""). */
void ig_sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* sqlite.c: logs and counts a store error; fills err (500); returns -1. */
int ig_sq_fail(ig_error_t *err, sqlite3 *db, const char *what);

/* Writes j's rows (NULL: nothing) in the caller's transaction. */
int ig_sqj_write(sqlite3 *db, const ig_journal_t *j, ig_error_t *err);

/* The store ops (store.h). */
int ig_sqj_journal_append(ig_store_t *st, const ig_journal_t *j, ig_error_t *err);
int ig_sqj_audit_list(ig_store_t *st, const ig_audit_query_t *q, ig_audit_cb cb, void *ud, ig_error_t *err);
int ig_sqj_audit_prune(ig_store_t *st, int64_t before_ms, int max_rows, int64_t *deleted, ig_error_t *err);
int ig_sqj_event_next(ig_store_t *st, int64_t now_ms, ig_event_t *out, ig_error_t *err);
int ig_sqj_event_done(ig_store_t *st, int64_t seq, ig_error_t *err);
int ig_sqj_event_retry(ig_store_t *st, int64_t seq, int attempts, int64_t next_at_ms, ig_error_t *err);
int ig_sqj_notice_raise(ig_store_t *st, const char *token_id, int64_t expires_at_ms, int level,
                        const ig_journal_t *j, ig_error_t *err);

#endif
