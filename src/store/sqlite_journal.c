/* sqlite_journal — see sqlite_journal.h. */
#include "store/sqlite_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void col_str(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Runs one prepared statement to completion; -1 on failure. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, ig_error_t *err)
{
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ig_sq_fail(err, db, what);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        ig_sq_fail(err, db, "prepare");
        return NULL;
    }
    return st;
}

static int write_audit(sqlite3 *db, const ig_audit_row_t *a, ig_error_t *err)
{
    sqlite3_stmt *st = prepare(db,
                               "INSERT INTO audit(at, actor, actor_token_id, action, target, target_owner, details,"
                               " client_ip) VALUES(?,?,?,?,?,?,?,?)",
                               err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->at_ms);
    bind_str(st, 2, a->actor);
    bind_str(st, 3, a->actor_token_id);
    sqlite3_bind_text(st, 4, a->action, -1, SQLITE_TRANSIENT);
    bind_str(st, 5, a->target);
    bind_str(st, 6, a->target_owner);
    sqlite3_bind_text(st, 7, a->details ? a->details : "{}", -1, SQLITE_TRANSIENT);
    bind_str(st, 8, a->client_ip);
    return step_done(db, st, "audit append", err);
}

#define EVENTS_MAX 100000 /* undelivered events kept */

static int write_event(sqlite3 *db, const ig_event_row_t *e, ig_error_t *err)
{
    sqlite3_stmt *st = prepare(db, "INSERT INTO events(id, type, body, created_at, next_at) VALUES(?,?,?,?,?)", err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, e->type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, e->body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, e->at_ms);
    sqlite3_bind_int64(st, 5, e->at_ms);
    if (step_done(db, st, "event append", err)) return -1;
    /* The outbox is bounded: with the receiver gone for good it keeps the newest EVENTS_MAX and drops the
     * oldest (a range of the primary key: nothing to scan when there is nothing to drop). */
    st = prepare(db, "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, EVENTS_MAX);
    if (step_done(db, st, "event trim", err)) return -1;
    if (sqlite3_changes(db) > 0)
        ig_warn("notify: %d undelivered webhook events dropped: more than %d were pending (is the receiver down?)",
                sqlite3_changes(db), EVENTS_MAX);
    return 0;
}

int ig_sqj_write(sqlite3 *db, const ig_journal_t *j, ig_error_t *err)
{
    if (!j) return 0;
    if (j->audit && write_audit(db, j->audit, err)) return -1;
    if (j->event && write_event(db, j->event, err)) return -1;
    return 0;
}

static int append_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    return ig_sqj_write(db, arg, err);
}

int ig_sqj_journal_append(ig_store_t *st, const ig_journal_t *j, ig_error_t *err)
{
    return ig_sq_run(st, true, append_fn, (void *)j, err);
}

/* ------------------------------------------------------------------ audit */

typedef struct {
    const ig_audit_query_t *q;
    ig_audit_cb cb;
    void *ud;
} list_t;

/* Every filter is a parameter that, when null, matches everything: one statement whatever the query. */
static int list_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    list_t *l = arg;
    const ig_audit_query_t *q = l->q;
    sqlite3_stmt *st = prepare(db,
                               "SELECT id, at, actor, actor_token_id, action, target, target_owner, details, client_ip"
                               " FROM audit WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR actor = ?2)"
                               " AND (?3 IS NULL OR action = ?3) AND at >= ?4 AND id < ?5"
                               " AND (?6 IS NULL OR actor = ?6 OR target_owner = ?6)"
                               " ORDER BY id DESC LIMIT ?7",
                               err);
    if (!st) return -1;
    bind_str(st, 1, q->target);
    bind_str(st, 2, q->actor);
    bind_str(st, 3, q->action);
    sqlite3_bind_int64(st, 4, q->since_ms);
    sqlite3_bind_int64(st, 5, q->before_id > 0 ? q->before_id : INT64_MAX);
    bind_str(st, 6, q->visible_to);
    sqlite3_bind_int(st, 7, q->limit > 0 && q->limit <= 1000 ? q->limit : 1000);
    ig_audit_entry_t e;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        e.id = sqlite3_column_int64(st, 0);
        e.at_ms = sqlite3_column_int64(st, 1);
        col_str(st, 2, e.actor, sizeof e.actor);
        col_str(st, 3, e.actor_token_id, sizeof e.actor_token_id);
        col_str(st, 4, e.action, sizeof e.action);
        col_str(st, 5, e.target, sizeof e.target);
        col_str(st, 6, e.target_owner, sizeof e.target_owner);
        e.details = (const char *)sqlite3_column_text(st, 7);
        col_str(st, 8, e.client_ip, sizeof e.client_ip);
        if (l->cb(l->ud, &e)) {
            r = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ig_sq_fail(err, db, "audit list");
}

int ig_sqj_audit_list(ig_store_t *st, const ig_audit_query_t *q, ig_audit_cb cb, void *ud, ig_error_t *err)
{
    list_t l = {q, cb, ud};
    return ig_sq_run(st, false, list_fn, &l, err);
}

typedef struct {
    int64_t before;
    int max;
    int64_t n;
} prune_t;

static int prune_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    prune_t *p = arg;
    sqlite3_stmt *st =
        prepare(db, "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, p->before);
    sqlite3_bind_int(st, 2, p->max);
    if (step_done(db, st, "audit prune", err)) return -1;
    p->n = sqlite3_changes(db);
    return 0;
}

int ig_sqj_audit_prune(ig_store_t *st, int64_t before_ms, int max_rows, int64_t *deleted, ig_error_t *err)
{
    prune_t p = {before_ms, max_rows > 0 ? max_rows : 1000, 0};
    int rc = ig_sq_run(st, true, prune_fn, &p, err);
    if (deleted) *deleted = rc == 0 ? p.n : 0;
    return rc;
}

/* ------------------------------------------------------------------ events */

typedef struct {
    int64_t now, seq, next_at;
    int attempts;
    ig_event_t *out;
} ev_t;

static int next_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    sqlite3_stmt *st =
        prepare(db, "SELECT seq, id, body, attempts FROM events WHERE next_at <= ? ORDER BY seq LIMIT 1", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, e->now);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        e->out->seq = sqlite3_column_int64(st, 0);
        col_str(st, 1, e->out->id, sizeof e->out->id);
        const char *b = (const char *)sqlite3_column_text(st, 2);
        e->out->body = strdup(b ? b : "{}");
        e->out->attempts = sqlite3_column_int(st, 3);
        rc = e->out->body ? 0 : ig_error_set(err, IG_E_INTERNAL, "out of memory");
    } else {
        rc = r == SQLITE_DONE ? IG_STORE_NOTFOUND : ig_sq_fail(err, db, "event next");
    }
    sqlite3_finalize(st);
    return rc;
}

int ig_sqj_event_next(ig_store_t *st, int64_t now_ms, ig_event_t *out, ig_error_t *err)
{
    ev_t e = {.now = now_ms, .out = out};
    out->body = NULL;
    return ig_sq_run(st, false, next_fn, &e, err);
}

static int done_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    sqlite3_stmt *st = prepare(db, "DELETE FROM events WHERE seq = ?", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, e->seq);
    return step_done(db, st, "event done", err);
}

int ig_sqj_event_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    ev_t e = {.seq = seq};
    return ig_sq_run(st, true, done_fn, &e, err);
}

static int retry_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    sqlite3_stmt *st = prepare(db, "UPDATE events SET attempts = ?, next_at = ? WHERE seq = ?", err);
    if (!st) return -1;
    sqlite3_bind_int(st, 1, e->attempts);
    sqlite3_bind_int64(st, 2, e->next_at);
    sqlite3_bind_int64(st, 3, e->seq);
    return step_done(db, st, "event retry", err);
}

int ig_sqj_event_retry(ig_store_t *st, int64_t seq, int attempts, int64_t next_at_ms, ig_error_t *err)
{
    ev_t e = {.seq = seq, .attempts = attempts, .next_at = next_at_ms};
    return ig_sq_run(st, true, retry_fn, &e, err);
}

/* ------------------------------------------------------------------ expiry notices */

typedef struct {
    const char *token_id;
    int64_t expires_at;
    int level;
    const ig_journal_t *j;
} notice_t;

/* One upsert that changes the row only when it moves to a new expiry or a nearer level: changes() says
 * whether this call is the one that raises the notice (two nodes racing write it once). */
static int notice_fn(sqlite3 *db, void *arg, ig_error_t *err)
{
    notice_t *n = arg;
    sqlite3_stmt *st = prepare(db,
                               "INSERT INTO token_notices(token_id, expires_at, level) VALUES(?1, ?2, ?3)"
                               " ON CONFLICT(token_id) DO UPDATE SET expires_at = ?2, level = ?3"
                               " WHERE expires_at <> ?2 OR level > ?3",
                               err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, n->token_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, n->expires_at);
    sqlite3_bind_int(st, 3, n->level);
    if (step_done(db, st, "expiry notice", err)) return -1;
    if (sqlite3_changes(db) == 0) return IG_STORE_NOTFOUND;
    return ig_sqj_write(db, n->j, err);
}

int ig_sqj_notice_raise(ig_store_t *st, const char *token_id, int64_t expires_at_ms, int level,
                        const ig_journal_t *j, ig_error_t *err)
{
    notice_t n = {token_id, expires_at_ms, level, j};
    return ig_sq_run(st, true, notice_fn, &n, err);
}
