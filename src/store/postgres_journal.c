/* postgres_journal — the audit log, the event outbox, the expiry notices and the idempotency keys of the
 * PostgreSQL store: the tables sqlite_journal.h describes (and sqlite_idem.c's), with the same rules.  A
 * journal's rows are written in the transaction of the change they record (ig_pgj_write). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/postgres.h"

#define EVENTS_MAX 100000 /* undelivered events kept */

static int write_audit(ig_pg_t *c, const ig_audit_row_t *a, ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_int(&p, a->at_ms);
    ig_pg_text_or_null(&p, a->actor);
    ig_pg_text_or_null(&p, a->actor_token_id);
    ig_pg_text(&p, a->action);
    ig_pg_text_or_null(&p, a->target);
    ig_pg_text_or_null(&p, a->target_owner);
    ig_pg_text(&p, a->details ? a->details : "{}");
    ig_pg_text_or_null(&p, a->client_ip);
    return ig_pg_cmd(c,
                     "INSERT INTO audit(at, actor, actor_token_id, action, target, target_owner, details, client_ip)"
                     " VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
                     &p, NULL, "audit append", err);
}

static int write_event(ig_pg_t *c, const ig_event_row_t *e, ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_text(&p, e->id);
    ig_pg_text(&p, e->type);
    ig_pg_text(&p, e->body);
    ig_pg_int(&p, e->at_ms);
    if (ig_pg_cmd(c, "INSERT INTO events(id, type, body, created_at, next_at) VALUES($1,$2,$3,$4,$4)", &p, NULL,
                  "event append", err))
        return -1;
    /* The outbox is bounded: with the receiver gone for good it keeps the newest EVENTS_MAX. */
    ig_pg_params_t q = {0};
    ig_pg_int(&q, EVENTS_MAX);
    int64_t dropped = 0;
    if (ig_pg_cmd(c, "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - $1", &q, &dropped,
                  "event trim", err))
        return -1;
    if (dropped > 0)
        ig_warn("notify: %lld undelivered webhook events dropped: more than %d were pending (is the receiver down?)",
                (long long)dropped, EVENTS_MAX);
    return 0;
}

int ig_pgj_write(ig_pg_t *c, const ig_journal_t *j, ig_error_t *err)
{
    if (!j) return 0;
    if (j->audit && write_audit(c, j->audit, err)) return -1;
    if (j->event && write_event(c, j->event, err)) return -1;
    return 0;
}

static int append_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    return ig_pgj_write(c, arg, err);
}

int ig_pgj_journal_append(ig_store_t *st, const ig_journal_t *j, ig_error_t *err)
{
    return ig_pg_run(st, true, append_fn, (void *)j, err);
}

/* ------------------------------------------------------------------ audit */

typedef struct {
    const ig_audit_query_t *q;
    ig_audit_cb cb;
    void *ud;
} list_t;

static int audit_row_fn(void *ud, const PGresult *r, int row)
{
    list_t *l = ud;
    ig_audit_entry_t e;
    e.id = ig_pg_col_int(r, row, 0);
    e.at_ms = ig_pg_col_int(r, row, 1);
    ig_pg_col_text(r, row, 2, e.actor, sizeof e.actor);
    ig_pg_col_text(r, row, 3, e.actor_token_id, sizeof e.actor_token_id);
    ig_pg_col_text(r, row, 4, e.action, sizeof e.action);
    ig_pg_col_text(r, row, 5, e.target, sizeof e.target);
    ig_pg_col_text(r, row, 6, e.target_owner, sizeof e.target_owner);
    e.details = ig_pg_col_str(r, row, 7);
    if (!e.details) e.details = "{}";
    ig_pg_col_text(r, row, 8, e.client_ip, sizeof e.client_ip);
    return l->cb(l->ud, &e) ? 1 : 0;
}

/* Every filter is a parameter that, when null, matches everything: one statement whatever the query. */
static int list_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    list_t *l = arg;
    const ig_audit_query_t *q = l->q;
    ig_pg_params_t p = {0};
    ig_pg_text_or_null(&p, q->target);
    ig_pg_text_or_null(&p, q->actor);
    ig_pg_text_or_null(&p, q->action);
    ig_pg_int(&p, q->since_ms);
    ig_pg_int(&p, q->before_id > 0 ? q->before_id : INT64_MAX);
    ig_pg_text_or_null(&p, q->visible_to);
    ig_pg_int(&p, q->limit > 0 && q->limit <= 1000 ? q->limit : 1000);
    int rc = ig_pg_walk(c,
                        "SELECT id, at, actor, actor_token_id, action, target, target_owner, details, client_ip"
                        " FROM audit WHERE ($1::text IS NULL OR target = $1) AND ($2::text IS NULL OR actor = $2)"
                        " AND ($3::text IS NULL OR action = $3) AND at >= $4 AND id < $5"
                        " AND ($6::text IS NULL OR actor = $6 OR target_owner = $6)"
                        " ORDER BY id DESC LIMIT $7",
                        &p, audit_row_fn, l, "audit list", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgj_audit_list(ig_store_t *st, const ig_audit_query_t *q, ig_audit_cb cb, void *ud, ig_error_t *err)
{
    list_t l = {q, cb, ud};
    return ig_pg_run(st, false, list_fn, &l, err);
}

typedef struct {
    int64_t before;
    int max;
    int64_t n;
} prune_t;

static int prune_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    prune_t *p = arg;
    ig_pg_params_t q = {0};
    ig_pg_int(&q, p->before);
    ig_pg_int(&q, p->max);
    return ig_pg_cmd(c, "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY at LIMIT $2)", &q,
                     &p->n, "audit prune", err);
}

int ig_pgj_audit_prune(ig_store_t *st, int64_t before_ms, int max_rows, int64_t *deleted, ig_error_t *err)
{
    prune_t p = {before_ms, max_rows > 0 ? max_rows : 1000, 0};
    int rc = ig_pg_run(st, true, prune_fn, &p, err);
    if (deleted) *deleted = rc == 0 ? p.n : 0;
    return rc;
}

/* ------------------------------------------------------------------ events */

typedef struct {
    int64_t now, seq, next_at;
    int attempts;
    ig_event_t *out;
} ev_t;

static int next_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, e->now);
    PGresult *r = ig_pg_exec(c, "SELECT seq, id, body, attempts FROM events WHERE next_at <= $1 ORDER BY seq LIMIT 1",
                             &p, "event next", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        e->out->seq = ig_pg_col_int(r, 0, 0);
        ig_pg_col_text(r, 0, 1, e->out->id, sizeof e->out->id);
        const char *b = ig_pg_col_str(r, 0, 2);
        free(e->out->body); /* a rerun after a lost connection */
        e->out->body = strdup(b ? b : "{}");
        e->out->attempts = (int)ig_pg_col_int(r, 0, 3);
        rc = e->out->body ? 0 : ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    PQclear(r);
    return rc;
}

int ig_pgj_event_next(ig_store_t *st, int64_t now_ms, ig_event_t *out, ig_error_t *err)
{
    ev_t e = {.now = now_ms, .out = out};
    out->body = NULL;
    return ig_pg_run(st, false, next_fn, &e, err);
}

static int done_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, e->seq);
    return ig_pg_cmd(c, "DELETE FROM events WHERE seq = $1", &p, NULL, "event done", err);
}

int ig_pgj_event_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    ev_t e = {.seq = seq};
    return ig_pg_run(st, true, done_fn, &e, err);
}

static int retry_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ev_t *e = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, e->attempts);
    ig_pg_int(&p, e->next_at);
    ig_pg_int(&p, e->seq);
    return ig_pg_cmd(c, "UPDATE events SET attempts = $1, next_at = $2 WHERE seq = $3", &p, NULL, "event retry", err);
}

int ig_pgj_event_retry(ig_store_t *st, int64_t seq, int attempts, int64_t next_at_ms, ig_error_t *err)
{
    ev_t e = {.seq = seq, .attempts = attempts, .next_at = next_at_ms};
    return ig_pg_run(st, true, retry_fn, &e, err);
}

/* ------------------------------------------------------------------ expiry notices */

typedef struct {
    const char *token_id;
    int64_t expires_at;
    int level;
    const ig_journal_t *j;
} notice_t;

/* One upsert that changes the row only when it moves to a new expiry or a nearer level: the row count says
 * whether this call is the one that raises the notice (two nodes racing write it once: the second waits for
 * the first's row and then finds nothing to change). */
static int notice_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    notice_t *n = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, n->token_id);
    ig_pg_int(&p, n->expires_at);
    ig_pg_int(&p, n->level);
    int64_t rows = 0;
    if (ig_pg_cmd(c,
                  "INSERT INTO token_notices(token_id, expires_at, level) VALUES($1, $2, $3)"
                  " ON CONFLICT(token_id) DO UPDATE SET expires_at = $2, level = $3"
                  " WHERE token_notices.expires_at <> $2 OR token_notices.level > $3",
                  &p, &rows, "expiry notice", err))
        return -1;
    if (rows == 0) return IG_STORE_NOTFOUND;
    return ig_pgj_write(c, n->j, err);
}

int ig_pgj_notice_raise(ig_store_t *st, const char *token_id, int64_t expires_at_ms, int level,
                        const ig_journal_t *j, ig_error_t *err)
{
    notice_t n = {token_id, expires_at_ms, level, j};
    return ig_pg_run(st, true, notice_fn, &n, err);
}

/* ------------------------------------------------------------------ idempotency keys */

typedef struct {
    const char *key;
    int64_t since_ms;
    ig_idem_t *out;
} idem_get_t;

static int idem_get_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    idem_get_t *g = arg;
    ig_idem_t *out = g->out;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, g->key);
    ig_pg_int(&p, g->since_ms);
    PGresult *r = ig_pg_exec(c,
                             "SELECT principal, request, status, body, created_at FROM idempotency"
                             " WHERE key=$1 AND created_at>=$2",
                             &p, "idempotency lookup", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        snprintf(out->key, sizeof out->key, "%s", g->key);
        ig_pg_col_text(r, 0, 0, out->principal, sizeof out->principal);
        ig_pg_col_text(r, 0, 1, out->request, sizeof out->request);
        out->status = (int)ig_pg_col_int(r, 0, 2);
        out->body = ig_pg_col_bytes(r, 0, 3, &out->body_len);
        out->created_at_ms = ig_pg_col_int(r, 0, 4);
        rc = out->body ? 0 : ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    PQclear(r);
    return rc;
}

int ig_pgj_idem_get(ig_store_t *st, const char *key, int64_t since_ms, ig_idem_t *out, ig_error_t *err)
{
    idem_get_t g = {key, since_ms, out};
    return ig_pg_run(st, false, idem_get_fn, &g, err);
}

/* The oldest entries go until at most max_entries are left with at most max_bytes of bodies.  The totals are
 * in meta (kept by the idem_totals trigger): a put within them costs one indexed read. */
static int idem_trim(ig_pg_t *c, int64_t max_entries, int64_t max_bytes, ig_error_t *err)
{
    for (int round = 0; round < 1000; round++) {
        PGresult *r = ig_pg_exec(c,
                                 "SELECT (SELECT v FROM meta WHERE k='idem_count'),"
                                 " (SELECT v FROM meta WHERE k='idem_bytes')",
                                 NULL, "idempotency totals", err);
        if (!r) return -1;
        int64_t n = ig_pg_col_int(r, 0, 0), bytes = ig_pg_col_int(r, 0, 1);
        PQclear(r);
        if (n <= max_entries && bytes <= max_bytes) return 0;
        ig_pg_params_t p = {0};
        ig_pg_int(&p, n > max_entries ? n - max_entries : 1);
        if (ig_pg_cmd(c,
                      "DELETE FROM idempotency WHERE key IN"
                      " (SELECT key FROM idempotency ORDER BY created_at, key LIMIT $1)",
                      &p, NULL, "idempotency trim", err))
            return -1;
    }
    return 0;
}

typedef struct {
    const ig_idem_t *e;
    int64_t expire_before_ms, max_entries, max_bytes;
} put_t;

static int idem_put_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    const put_t *a = arg;
    const ig_idem_t *e = a->e;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, a->expire_before_ms);
    if (ig_pg_cmd(c, "DELETE FROM idempotency WHERE created_at<$1", &p, NULL, "idempotency expiry", err)) return -1;
    ig_pg_params_t q = {0};
    ig_pg_text(&q, e->key);
    ig_pg_text(&q, e->principal);
    ig_pg_text(&q, e->request);
    ig_pg_int(&q, e->status);
    ig_pg_bin(&q, e->body ? e->body : "", e->body_len);
    ig_pg_int(&q, e->created_at_ms);
    /* The first finalized response wins. */
    if (ig_pg_cmd(c,
                  "INSERT INTO idempotency(key, principal, request, status, body, created_at)"
                  " VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT(key) DO NOTHING",
                  &q, NULL, "idempotency store", err))
        return -1;
    return idem_trim(c, a->max_entries, a->max_bytes, err);
}

int ig_pgj_idem_put(ig_store_t *st, const ig_idem_t *e, int64_t expire_before_ms, int64_t max_entries,
                    int64_t max_bytes, ig_error_t *err)
{
    put_t p = {e, expire_before_ms, max_entries, max_bytes};
    return ig_pg_run(st, true, idem_put_fn, &p, err);
}
