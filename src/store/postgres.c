/* store_postgres — the scale-out back end of store.h: PostgreSQL through libpq, shared by every icegate node.
 *
 * A pool of at most pool_size connections, each opened when first needed, serves the ops (postgres.h: every op
 * goes through ig_pg_run).  Writes run in one transaction each, in PostgreSQL's default READ COMMITTED: the
 * compare-and-set statements (UPDATE ... WHERE location = $old, WHERE seq = $read) re-check their condition on
 * the newest row version after waiting for a concurrent writer, so exactly one of racing commits wins.
 *
 * Every write transaction ends by bumping the row meta('changes'); changed() compares it with the value it saw
 * last, on a connection of its own, so a commit by any connection of any node is seen (as SQLite's
 * data_version is).  The bump is the transaction's last statement: the row lock it takes is held only while
 * the commit is made durable.
 *
 * The schema is built by ig_pg_migrations[], each step in its own transaction under a transaction-level
 * advisory lock, so nodes starting together migrate once; the version is kept in schema_version. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "store/postgres.h"

#define POOL_MAX 256           /* storage.postgres.pool_size's upper bound */
#define LOCK_MIGRATE 0x69636567000001LL /* pg_advisory_xact_lock key: "iceg" 1 */
#define CONFLICT_RETRIES 5     /* deadlock or serialization failure: the op runs again, up to this */

typedef struct {
    ig_store_t base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **free;
    int nfree, nopen, size; /* idle connections, open ones (the poll connection aside), at most size */
    pthread_mutex_t poll_mu;
    PGconn *poll;           /* changed()'s own */
    int64_t changes;        /* meta('changes') as changed() saw it last */
    bool poll_down;         /* the last poll failed (logged once until one succeeds) */
    char *dsn;              /* may hold a password: never logged, wiped at close */
} pg_store_t;

/* ------------------------------------------------------------------ parameters */

static bool param_slot(ig_pg_params_t *p)
{
    /* IG_PG_PARAMS_MAX is above the largest statement's count (27): a statement past it is a bug here. */
    if (p->n >= IG_PG_PARAMS_MAX) {
        ig_error("postgres: too many statement parameters");
        return false;
    }
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    return true;
}

void ig_pg_text(ig_pg_params_t *p, const char *s)
{
    if (!param_slot(p)) return;
    p->v[p->n++] = s;
}

void ig_pg_text_or_null(ig_pg_params_t *p, const char *s)
{
    ig_pg_text(p, s && *s ? s : NULL);
}

void ig_pg_null(ig_pg_params_t *p)
{
    ig_pg_text(p, NULL);
}

void ig_pg_int(ig_pg_params_t *p, int64_t v)
{
    if (!param_slot(p)) return;
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void ig_pg_ms(ig_pg_params_t *p, int64_t ms)
{
    if (ms) ig_pg_int(p, ms);
    else ig_pg_null(p);
}

void ig_pg_dbl(ig_pg_params_t *p, double v)
{
    if (!param_slot(p)) return;
    snprintf(p->num[p->n], sizeof p->num[0], "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void ig_pg_bool(ig_pg_params_t *p, bool v)
{
    ig_pg_text(p, v ? "t" : "f");
}

void ig_pg_bin(ig_pg_params_t *p, const void *b, size_t len)
{
    if (!param_slot(p)) return;
    p->v[p->n] = b ? (len ? b : "") : NULL; /* "": an empty bytea, not null */
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

/* ------------------------------------------------------------------ statements */

/* The first line of the server's (or libpq's) message: never the DSN. */
static void first_line(const char *msg, char *out, size_t cap)
{
    size_t n = msg ? strcspn(msg, "\n") : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(out, msg, n);
    out[n] = '\0';
}

static void fail_result(ig_pg_t *c, const PGresult *r, const char *what, ig_error_t *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->state, sizeof c->state, "%s", state ? state : "");
    if (PQstatus(c->conn) == CONNECTION_BAD) c->lost = true;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[300];
    first_line(primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
    if (!msg[0]) snprintf(msg, sizeof msg, "no answer from the server");
    if (strcmp(c->state, "23505") != 0) { /* a unique violation is the caller's 409 */
        ig_error("postgres: %s: %s%s%s", what, msg, c->state[0] ? " SQLSTATE " : "", c->state);
        ig_metrics_store_error();
    }
    ig_error_set(err, IG_E_INTERNAL, "storage error during %s: %s", what, msg);
}

bool ig_pg_failed_with(const ig_pg_t *c, const char *state)
{
    return strcmp(c->state, state) == 0;
}

PGresult *ig_pg_exec(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, const char *what, ig_error_t *err)
{
    PGresult *r = PQexecParams(c->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, 0);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        c->state[0] = '\0';
        return r;
    }
    fail_result(c, r, what, err);
    PQclear(r);
    return NULL;
}

int ig_pg_cmd(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, int64_t *rows, const char *what,
              ig_error_t *err)
{
    PGresult *r = ig_pg_exec(c, sql, p, what, err);
    if (!r) return -1;
    if (rows) *rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int ig_pg_walk(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, ig_pg_row_fn fn, void *ud, const char *what,
               ig_error_t *err)
{
    if (!PQsendQueryParams(c->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                           p ? p->fmt : NULL, 0)) {
        fail_result(c, NULL, what, err);
        return -1;
    }
    PQsetSingleRowMode(c->conn);
    int rc = 0;
    bool bad = false;
    PGresult *r;
    /* Every result is read, also after fn stopped the walk: the connection is then ready for the next op. */
    while ((r = PQgetResult(c->conn))) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_SINGLE_TUPLE) {
            if (rc == 0 && !bad) {
                c->delivered = true;
                rc = fn(ud, r, 0);
            }
        } else if (s != PGRES_TUPLES_OK && !bad) {
            fail_result(c, r, what, err);
            bad = true;
        }
        PQclear(r);
    }
    if (!bad) c->state[0] = '\0';
    return bad ? -1 : rc;
}

/* ------------------------------------------------------------------ columns */

const char *ig_pg_col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

void ig_pg_col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    const char *t = ig_pg_col_str(r, row, col);
    size_t n = t ? (size_t)PQgetlength(r, row, col) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, t, n);
    dst[n] = '\0';
}

int64_t ig_pg_col_int(const PGresult *r, int row, int col)
{
    const char *t = ig_pg_col_str(r, row, col);
    return t ? strtoll(t, NULL, 10) : 0;
}

double ig_pg_col_dbl(const PGresult *r, int row, int col)
{
    const char *t = ig_pg_col_str(r, row, col);
    return t ? strtod(t, NULL) : 0;
}

bool ig_pg_col_bool(const PGresult *r, int row, int col)
{
    const char *t = ig_pg_col_str(r, row, col);
    return t && t[0] == 't';
}

char *ig_pg_col_bytes(const PGresult *r, int row, int col, size_t *len)
{
    *len = 0;
    const char *t = ig_pg_col_str(r, row, col);
    unsigned char *raw = t ? PQunescapeBytea((const unsigned char *)t, len) : NULL;
    if (t && !raw) return NULL;
    char *out = malloc(*len + 1);
    if (out) {
        if (*len) memcpy(out, raw, *len);
        out[*len] = '\0';
    }
    PQfreemem(raw);
    return out;
}

/* ------------------------------------------------------------------ connections */

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs ("... already exists, skipping") are not for the operator's stderr */
}

static PGconn *connect_db(const pg_store_t *s, ig_error_t *err)
{
    /* The DSN is expanded in place of dbname: it overrides the defaults before it (a connect timeout, and TCP
     * keepalives that find a vanished server in about a minute and a half instead of hours); client_encoding
     * after it wins: every string is UTF-8. */
    const char *const keys[] = {"fallback_application_name", "connect_timeout", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "dbname", "client_encoding", NULL};
    const char *const vals[] = {"icegate", "10", "60", "10", "3", s->dsn, "UTF8", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        ig_error_set(err, IG_E_INTERNAL, "cannot connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[300];
        first_line(PQerrorMessage(conn), msg, sizeof msg);
        ig_metrics_store_error();
        ig_error_set(err, IG_E_INTERNAL, "cannot connect to PostgreSQL: %s", msg);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet_notice, NULL);
    return conn;
}

/* An idle connection, else a new one while fewer than size are open, else the next one given back.  -1 with
 * err filled when a new one cannot be opened (the server is down). */
static int borrow(pg_store_t *s, ig_pg_t *c, ig_error_t *err)
{
    pthread_mutex_lock(&s->mu);
    while (s->nfree == 0 && s->nopen >= s->size) pthread_cond_wait(&s->cv, &s->mu);
    if (s->nfree) {
        c->conn = s->free[--s->nfree];
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    s->nopen++;
    pthread_mutex_unlock(&s->mu);
    c->conn = connect_db(s, err);
    if (c->conn) return 0;
    pthread_mutex_lock(&s->mu);
    s->nopen--;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return -1;
}

/* Returns c's connection to the pool, rolled back if a transaction is open.  A broken one is closed, and so is
 * every idle one: what broke one (a server restart) broke them all, and each is reopened when next needed. */
static void give_back(pg_store_t *s, ig_pg_t *c)
{
    PGconn *conn = c->conn;
    if (!c->lost && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    }
    bool broken = c->lost || PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE;
    PGconn *drop[POOL_MAX + 1];
    int ndrop = 0;
    pthread_mutex_lock(&s->mu);
    if (broken) {
        drop[ndrop++] = conn;
        while (s->nfree) drop[ndrop++] = s->free[--s->nfree];
        s->nopen -= ndrop;
        pthread_cond_broadcast(&s->cv);
    } else {
        s->free[s->nfree++] = conn;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < ndrop; i++) PQfinish(drop[i]);
    c->conn = NULL;
}

/* One try of an op: 0, fn's non-zero result, or -1; *committing set once COMMIT is sent. */
static int run_once(ig_pg_t *c, bool write, ig_pg_fn fn, void *arg, bool *committing, ig_error_t *err)
{
    if (write && ig_pg_cmd(c, "BEGIN", NULL, NULL, "begin", err)) return -1;
    int rc = fn(c, arg, err);
    if (!write || rc != 0) return rc;
    if (ig_pg_cmd(c, "UPDATE meta SET v = v + 1 WHERE k = 'changes'", NULL, NULL, "change counter", err))
        return -1;
    *committing = true;
    PGresult *r = ig_pg_exec(c, "COMMIT", NULL, "commit", err);
    if (!r) return -1;
    /* A transaction that had failed answers COMMIT with ROLLBACK: fn would have returned -1, but be sure. */
    rc = strcmp(PQcmdStatus(r), "COMMIT") == 0 ? 0
                                               : ig_error_set(err, IG_E_INTERNAL, "storage error during commit");
    PQclear(r);
    return rc;
}

int ig_pg_run(ig_store_t *base, bool write, ig_pg_fn fn, void *arg, ig_error_t *err)
{
    pg_store_t *s = (pg_store_t *)base;
    for (int attempt = 0;; attempt++) {
        ig_pg_t c;
        memset(&c, 0, sizeof c);
        if (borrow(s, &c, err)) return -1;
        bool committing = false;
        int rc = run_once(&c, write, fn, arg, &committing, err);
        bool conflict = ig_pg_failed_with(&c, "40P01") || ig_pg_failed_with(&c, "40001");
        /* Safe to run again: the caller saw nothing and the transaction surely did not commit. */
        bool again = rc == -1 && !c.delivered && !(committing && c.lost) &&
                     ((c.lost && attempt == 0) || (conflict && attempt < CONFLICT_RETRIES));
        if (rc == -1 && committing && c.lost)
            ig_error_set(err, IG_E_INTERNAL,
                         "storage error during commit: the connection to PostgreSQL was lost (the change may or "
                         "may not have been made)");
        give_back(s, &c);
        if (!again) return rc;
        ig_warn("postgres: %s; running the operation again", c.lost ? "connection lost" : "transaction conflict");
    }
}

/* ------------------------------------------------------------------ schema */

/* One migration step under the advisory lock: 1 when one was applied, 0 when the schema is current, -1. */
static int migrate_step(ig_pg_t *c, ig_error_t *err)
{
    ig_pg_params_t p = {0}, lock = {0};
    ig_pg_int(&lock, LOCK_MIGRATE);
    if (ig_pg_cmd(c, "BEGIN", NULL, NULL, "migration", err) ||
        ig_pg_cmd(c, "SELECT pg_advisory_xact_lock($1)", &lock, NULL, "migration lock", err) ||
        ig_pg_cmd(c, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", NULL, NULL,
                  "migration", err))
        return -1;
    PGresult *r = ig_pg_exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, "schema version", err);
    if (!r) return -1;
    int v = (int)ig_pg_col_int(r, 0, 0), n = ig_pg_migrations_count;
    PQclear(r);
    if (v > n)
        return ig_error_set(err, IG_E_INTERNAL, "the database has schema version %d, newer than this binary (%d)",
                            v, n);
    if (v == n) return ig_pg_cmd(c, "COMMIT", NULL, NULL, "migration", err);
    ig_info("store: migrating the PostgreSQL schema %d -> %d", v, v + 1);
    /* A step is several statements of constant text: the simple protocol runs them in the open transaction. */
    r = PQexec(c->conn, ig_pg_migrations[v]);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail_result(c, r, "migration", err);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    ig_pg_int(&p, v + 1);
    if (ig_pg_cmd(c, "INSERT INTO schema_version VALUES($1)", &p, NULL, "migration", err) ||
        ig_pg_cmd(c, "COMMIT", NULL, NULL, "migration", err))
        return -1;
    return 1;
}

static int migrate(PGconn *conn, ig_error_t *err)
{
    ig_pg_t c;
    memset(&c, 0, sizeof c);
    c.conn = conn;
    int rc;
    while ((rc = migrate_step(&c, err)) == 1) {}
    if (rc < 0 && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/* ------------------------------------------------------------------ changed() */

/* meta('changes') on the poll connection, reopened once if it broke: 0 with *v, or -1. */
static int read_changes(pg_store_t *s, int64_t *v)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        ig_error_t err;
        if (!s->poll && !(s->poll = connect_db(s, &err))) {
            if (!s->poll_down) ig_warn("postgres: changes poll: %s", err.message);
            s->poll_down = true;
            return -1;
        }
        PGresult *r = PQexec(s->poll, "SELECT v FROM meta WHERE k = 'changes'");
        bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        if (ok) *v = ig_pg_col_int(r, 0, 0);
        PQclear(r);
        if (ok) {
            if (s->poll_down) ig_info("postgres: changes poll: the server answers again");
            s->poll_down = false;
            return 0;
        }
        if (PQstatus(s->poll) == CONNECTION_OK) return -1;
        PQfinish(s->poll);
        s->poll = NULL;
    }
    return -1;
}

static int pg_changed(ig_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    int64_t v = 0;
    int changed = -1;
    pthread_mutex_lock(&s->poll_mu);
    if (read_changes(s, &v) == 0) {
        changed = v != s->changes;
        s->changes = v;
    }
    pthread_mutex_unlock(&s->poll_mu);
    return changed;
}

/* ------------------------------------------------------------------ lifecycle */

static void pg_close(ig_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    if (!s) return;
    for (int i = 0; i < s->nfree; i++) PQfinish(s->free[i]);
    PQfinish(s->poll);
    free(s->free);
    if (s->dsn) {
        memset(s->dsn, 0, strlen(s->dsn)); /* a password may be in it */
        free(s->dsn);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->poll_mu);
    free(s);
}

static const ig_store_ops_t postgres_ops = {
    .name = "postgres",
    .supports = 0, /* polled: meta('changes') behind changed() */
    .close = pg_close,
    .token_insert = ig_pgt_token_insert,
    .token_update = ig_pgt_token_update,
    .token_delete = ig_pgt_token_delete,
    .token_get = ig_pgt_token_get,
    .token_list = ig_pgt_token_list,
    .token_changes = ig_pgt_token_changes,
    .token_touch = ig_pgt_token_touch,
    .changed = pg_changed,
    .user_get = ig_pgt_user_get,
    .user_insert = ig_pgt_user_insert,
    .user_set_password = ig_pgt_user_set_password,
    .user_count = ig_pgt_user_count,
    .ns_create = ig_pgc_ns_create,
    .ns_get = ig_pgc_ns_get,
    .ns_list = ig_pgc_ns_list,
    .ns_set_props = ig_pgc_ns_set_props,
    .ns_drop = ig_pgc_ns_drop,
    .obj_get = ig_pgc_obj_get,
    .obj_list = ig_pgc_obj_list,
    .obj_swap = ig_pgc_obj_swap,
    .meta_pending_last = ig_pgc_meta_pending_last,
    .meta_pending_each = ig_pgc_meta_pending_each,
    .meta_pending_done = ig_pgc_meta_pending_done,
    .purge_next = ig_pgc_purge_next,
    .purge_done = ig_pgc_purge_done,
    .obj_drop = ig_pgc_obj_drop,
    .obj_rename = ig_pgc_obj_rename,
    .obj_bases = ig_pgb_obj_bases,
    .obj_overlap = ig_pgb_obj_overlap,
    .idem_get = ig_pgj_idem_get,
    .idem_put = ig_pgj_idem_put,
    .journal_append = ig_pgj_journal_append,
    .audit_list = ig_pgj_audit_list,
    .audit_prune = ig_pgj_audit_prune,
    .event_next = ig_pgj_event_next,
    .event_done = ig_pgj_event_done,
    .event_retry = ig_pgj_event_retry,
    .notice_raise = ig_pgj_notice_raise,
};

ig_store_t *ig_store_postgres_open(const char *dsn, int pool_size, ig_error_t *err)
{
    pg_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    s->base.ops = &postgres_ops;
    s->size = pool_size < 1 ? 4 : pool_size > POOL_MAX ? POOL_MAX : pool_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->poll_mu, NULL);
    s->free = calloc((size_t)s->size, sizeof *s->free);
    s->dsn = strdup(dsn ? dsn : "");
    if (!s->free || !s->dsn) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        goto fail;
    }
    PGconn *first = connect_db(s, err);
    if (!first) goto fail;
    if (migrate(first, err)) {
        PQfinish(first);
        goto fail;
    }
    s->free[s->nfree++] = first;
    s->nopen = 1;
    if (!(s->poll = connect_db(s, err))) goto fail;
    pg_changed(&s->base);
    return &s->base;
fail:
    pg_close(&s->base);
    return NULL;
}
