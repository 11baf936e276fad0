/* postgres_tokens — the token rows and the users of the PostgreSQL store (store.h; postgres.h for the
 * machinery).  Every token write takes the next meta('token_seq') first: writers queue on that row, so the
 * change feed's seq order is commit order and a poller never skips a row (postgres_migrations.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"

#define TOKEN_COLS                                                                                            \
    "id, hash, prefix, name, owner, suspended, max_rps, burst, expires_at, created_at, updated_at,"             \
    " suspended_at, suspend_reason, last_used_at, last_used_ip, seq, deleted, suspended_by_role,"              \
    " suspended_by, max_rps_set_by, prev_hash, prev_valid_until, rotated_at, scopes, allowed_cidrs,"           \
    " rate_limit_mode, namespaces"

/* The fields a token update may change, as TOKEN_MUTABLE parameters in this order: name, suspended, max_rps,
 * burst, expires_at, updated_at, suspended_at, suspend_reason, suspended_by_role, suspended_by,
 * max_rps_set_by, hash, prefix, prev_hash, prev_valid_until, rotated_at, scopes, allowed_cidrs,
 * rate_limit_mode, namespaces (0, "" and unknown: null), as sqlite.c binds them. */
#define TOKEN_MUTABLE 20
static void bind_mutable(ig_pg_params_t *p, const ig_token_row_t *t)
{
    ig_pg_text(p, t->name);
    ig_pg_bool(p, t->suspended);
    if (t->max_rps > 0) ig_pg_dbl(p, t->max_rps);
    else ig_pg_null(p);
    if (t->burst > 0) ig_pg_int(p, t->burst);
    else ig_pg_null(p);
    ig_pg_ms(p, t->expires_at_ms);
    ig_pg_int(p, t->updated_at_ms);
    ig_pg_ms(p, t->suspended_at_ms);
    ig_pg_text_or_null(p, t->suspend_reason);
    ig_pg_text(p, ig_set_by_name(t->suspended_by_role));
    ig_pg_text_or_null(p, t->suspended_by);
    ig_pg_text(p, ig_set_by_name(t->max_rps_set_by));
    ig_pg_bin(p, t->hash, 32);
    ig_pg_text(p, t->prefix);
    ig_pg_bin(p, t->has_prev ? t->prev_hash : NULL, 32);
    ig_pg_ms(p, t->has_prev ? t->prev_valid_until_ms : 0);
    ig_pg_ms(p, t->rotated_at_ms);
    ig_pg_int(p, (int64_t)t->scopes);
    ig_pg_text_or_null(p, t->allowed_cidrs);
    ig_pg_text(p, t->rate_limit_shadow ? "shadow" : NULL);
    ig_pg_text_or_null(p, t->namespaces);
}

/* A 32-byte hash column into out: true when it holds one. */
static bool col_hash(const PGresult *r, int row, int col, uint8_t out[32])
{
    size_t n = 0;
    char *b = ig_pg_col_bytes(r, row, col, &n);
    bool ok = b && n == 32;
    if (ok) memcpy(out, b, 32);
    else memset(out, 0, 32);
    free(b);
    return ok;
}

static void read_token(const PGresult *r, int i, ig_token_row_t *t)
{
    ig_pg_col_text(r, i, 0, t->id, sizeof t->id);
    col_hash(r, i, 1, t->hash);
    ig_pg_col_text(r, i, 2, t->prefix, sizeof t->prefix);
    ig_pg_col_text(r, i, 3, t->name, sizeof t->name);
    ig_pg_col_text(r, i, 4, t->owner, sizeof t->owner);
    t->suspended = ig_pg_col_bool(r, i, 5);
    t->max_rps = ig_pg_col_dbl(r, i, 6);
    t->burst = (int)ig_pg_col_int(r, i, 7);
    t->expires_at_ms = ig_pg_col_int(r, i, 8);
    t->created_at_ms = ig_pg_col_int(r, i, 9);
    t->updated_at_ms = ig_pg_col_int(r, i, 10);
    t->suspended_at_ms = ig_pg_col_int(r, i, 11);
    ig_pg_col_text(r, i, 12, t->suspend_reason, sizeof t->suspend_reason);
    t->last_used_at_ms = ig_pg_col_int(r, i, 13);
    ig_pg_col_text(r, i, 14, t->last_used_ip, sizeof t->last_used_ip);
    t->seq = ig_pg_col_int(r, i, 15);
    t->deleted = ig_pg_col_bool(r, i, 16);
    t->suspended_by_role = ig_set_by_parse(ig_pg_col_str(r, i, 17));
    ig_pg_col_text(r, i, 18, t->suspended_by, sizeof t->suspended_by);
    t->max_rps_set_by = ig_set_by_parse(ig_pg_col_str(r, i, 19));
    t->has_prev = col_hash(r, i, 20, t->prev_hash);
    t->prev_valid_until_ms = ig_pg_col_int(r, i, 21);
    t->rotated_at_ms = ig_pg_col_int(r, i, 22);
    t->scopes = (unsigned)ig_pg_col_int(r, i, 23);
    ig_pg_col_text(r, i, 24, t->allowed_cidrs, sizeof t->allowed_cidrs);
    const char *mode = ig_pg_col_str(r, i, 25);
    t->rate_limit_shadow = mode && strcmp(mode, "shadow") == 0;
    ig_pg_col_text(r, i, 26, t->namespaces, sizeof t->namespaces);
}

/* Takes the next change sequence inside the caller's transaction (and holds its row until the commit). */
static int next_seq(ig_pg_t *c, int64_t *seq, ig_error_t *err)
{
    PGresult *r = ig_pg_exec(c, "UPDATE meta SET v = v + 1 WHERE k = 'token_seq' RETURNING v", NULL,
                             "token sequence", err);
    if (!r) return -1;
    *seq = ig_pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int dup_name(ig_error_t *err, const ig_token_row_t *t)
{
    return ig_error_set(err, IG_E_ALREADY_EXISTS,
                        "name: owner '%s' already has an access token named '%s'", t->owner, t->name);
}

typedef struct {
    ig_token_row_t *t;
    const ig_journal_t *j;
    int64_t read_seq; /* update: the version the caller read (fixed across reruns of update_fn) */
} write_t;

static int insert_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    write_t *w = arg;
    ig_token_row_t *t = w->t;
    if (next_seq(c, &t->seq, err)) return -1;
    ig_pg_params_t p = {0};
    bind_mutable(&p, t);
    ig_pg_text(&p, t->id);
    ig_pg_text(&p, t->owner);
    ig_pg_int(&p, t->created_at_ms);
    ig_pg_ms(&p, t->last_used_at_ms);
    ig_pg_text_or_null(&p, t->last_used_ip);
    ig_pg_int(&p, t->seq);
    int64_t rows = 0;
    /* The mutable fields first, in bind_mutable's order.  A taken name (or id, or hash) inserts nothing. */
    if (ig_pg_cmd(c,
                  "INSERT INTO tokens(name, suspended, max_rps, burst, expires_at, updated_at, suspended_at,"
                  " suspend_reason, suspended_by_role, suspended_by, max_rps_set_by, hash, prefix, prev_hash,"
                  " prev_valid_until, rotated_at, scopes, allowed_cidrs, rate_limit_mode, namespaces, id, owner,"
                  " created_at, last_used_at, last_used_ip, seq, deleted)"
                  " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,"
                  "$25,$26,false) ON CONFLICT DO NOTHING",
                  &p, &rows, "token insert", err))
        return -1;
    if (rows == 0) return dup_name(err, t);
    return ig_pgj_write(c, w->j, err);
}

int ig_pgt_token_insert(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err)
{
    write_t w = {t, j, 0};
    return ig_pg_run(st, true, insert_fn, &w, err);
}

static int update_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    write_t *w = arg;
    ig_token_row_t *t = w->t;
    int64_t read_seq = w->read_seq, rows = 0;
    if (next_seq(c, &t->seq, err)) return -1;
    ig_pg_params_t p = {0};
    bind_mutable(&p, t);
    ig_pg_int(&p, t->seq);
    ig_pg_text(&p, t->id);
    ig_pg_int(&p, read_seq);
    if (ig_pg_cmd(c,
                  "UPDATE tokens SET name=$1, suspended=$2, max_rps=$3, burst=$4, expires_at=$5, updated_at=$6,"
                  " suspended_at=$7, suspend_reason=$8, suspended_by_role=$9, suspended_by=$10, max_rps_set_by=$11,"
                  " hash=$12, prefix=$13, prev_hash=$14, prev_valid_until=$15, rotated_at=$16, scopes=$17,"
                  " allowed_cidrs=$18, rate_limit_mode=$19, namespaces=$20, seq=$21"
                  " WHERE id=$22 AND NOT deleted AND seq=$23",
                  &p, &rows, "token update", err)) {
        if (ig_pg_failed_with(c, "23505")) dup_name(err, t);
        return -1;
    }
    if (rows == 0) {
        /* Gone, or moved on since the caller read it: tell the two apart. */
        ig_pg_params_t q = {0};
        ig_pg_text(&q, t->id);
        PGresult *r = ig_pg_exec(c, "SELECT 1 FROM tokens WHERE id=$1 AND NOT deleted", &q, "token update", err);
        if (!r) return -1;
        int rc = PQntuples(r) ? IG_STORE_STALE : IG_STORE_NOTFOUND;
        PQclear(r);
        return rc;
    }
    return ig_pgj_write(c, w->j, err);
}

int ig_pgt_token_update(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err)
{
    write_t w = {t, j, t->seq};
    int rc = ig_pg_run(st, true, update_fn, &w, err);
    if (rc) t->seq = w.read_seq; /* what did not commit leaves the caller's version as it read it */
    return rc;
}

typedef struct {
    const char *id;
    int64_t now_ms, *seq;
    const ig_journal_t *j;
} delete_t;

static int delete_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    delete_t *d = arg;
    int64_t rows = 0;
    if (next_seq(c, d->seq, err)) return -1;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, *d->seq);
    ig_pg_int(&p, d->now_ms);
    ig_pg_text(&p, d->id);
    if (ig_pg_cmd(c, "UPDATE tokens SET deleted=true, seq=$1, updated_at=$2 WHERE id=$3 AND NOT deleted", &p, &rows,
                  "token delete", err))
        return -1;
    if (rows == 0) return IG_STORE_NOTFOUND;
    return ig_pgj_write(c, d->j, err);
}

int ig_pgt_token_delete(ig_store_t *st, const char *id, int64_t now_ms, int64_t *seq, const ig_journal_t *j,
                        ig_error_t *err)
{
    delete_t d = {id, now_ms, seq, j};
    return ig_pg_run(st, true, delete_fn, &d, err);
}

typedef struct {
    const char *id;
    ig_token_row_t *out;
} get_t;

static int get_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    get_t *g = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, g->id);
    PGresult *r = ig_pg_exec(c, "SELECT " TOKEN_COLS " FROM tokens WHERE id=$1 AND NOT deleted", &p, "token get",
                             err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        read_token(r, 0, g->out);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int ig_pgt_token_get(ig_store_t *st, const char *id, ig_token_row_t *out, ig_error_t *err)
{
    get_t g = {id, out};
    return ig_pg_run(st, false, get_fn, &g, err);
}

typedef struct {
    const char *owner;
    int64_t since, *max_seq;
    ig_token_cb cb;
    void *ud;
} walk_t;

static int token_row_fn(void *ud, const PGresult *r, int row)
{
    walk_t *w = ud;
    ig_token_row_t t;
    read_token(r, row, &t);
    if (w->max_seq && t.seq > *w->max_seq) *w->max_seq = t.seq;
    return w->cb(w->ud, &t) ? 1 : 0;
}

static int list_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    walk_t *w = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, w->owner);
    int rc = ig_pg_walk(c,
                        "SELECT " TOKEN_COLS " FROM tokens WHERE NOT deleted AND ($1::text IS NULL OR owner = $1)"
                        " ORDER BY created_at, id",
                        &p, token_row_fn, w, "token list", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgt_token_list(ig_store_t *st, const char *owner, ig_token_cb cb, void *ud, ig_error_t *err)
{
    walk_t w = {.owner = owner, .cb = cb, .ud = ud};
    return ig_pg_run(st, false, list_fn, &w, err);
}

static int changes_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    walk_t *w = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, w->since);
    *w->max_seq = w->since;
    /* Each row appears once, so order does not matter; a first load (since 0) skips tombstones. */
    int rc = ig_pg_walk(c,
                        w->since > 0 ? "SELECT " TOKEN_COLS " FROM tokens WHERE seq > $1"
                                     : "SELECT " TOKEN_COLS " FROM tokens WHERE seq > $1 AND NOT deleted",
                        &p, token_row_fn, w, "token changes", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgt_token_changes(ig_store_t *st, int64_t since, ig_token_cb cb, void *ud, int64_t *max_seq,
                         ig_error_t *err)
{
    walk_t w = {.since = since, .max_seq = max_seq, .cb = cb, .ud = ud};
    return ig_pg_run(st, false, changes_fn, &w, err);
}

typedef struct {
    const ig_token_usage_t *u;
    size_t n;
} touch_t;

static int by_id(const void *a, const void *b)
{
    return strcmp((*(const ig_token_usage_t *const *)a)->id, (*(const ig_token_usage_t *const *)b)->id);
}

static int touch_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    touch_t *t = arg;
    /* In id order: two nodes touching the same tokens take their row locks in the same order (no deadlock). */
    const ig_token_usage_t **order = malloc((t->n ? t->n : 1) * sizeof *order);
    if (!order) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < t->n; i++) order[i] = &t->u[i];
    qsort(order, t->n, sizeof *order, by_id);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        ig_pg_params_t p = {0};
        ig_pg_int(&p, order[i]->last_used_at_ms);
        ig_pg_text(&p, order[i]->last_used_ip);
        ig_pg_text(&p, order[i]->id);
        rc = ig_pg_cmd(c,
                       "UPDATE tokens SET last_used_at=$1, last_used_ip=$2 WHERE id=$3 AND"
                       " (last_used_at IS NULL OR last_used_at < $1)",
                       &p, NULL, "token touch", err);
    }
    free(order);
    return rc;
}

int ig_pgt_token_touch(ig_store_t *st, const ig_token_usage_t *u, size_t n, ig_error_t *err)
{
    touch_t t = {u, n};
    return ig_pg_run(st, true, touch_fn, &t, err);
}

/* ------------------------------------------------------------------ users */

typedef struct {
    const char *name, *hash;
    const ig_user_t *u;
    ig_user_t *out;
    int64_t *n;
    const ig_journal_t *j;
} user_t;

static int user_get_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    user_t *a = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, a->name);
    PGresult *r = ig_pg_exec(c, "SELECT name, role, password_hash, created_at FROM users WHERE name=$1", &p,
                             "user get", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        ig_user_t *out = a->out;
        memset(out, 0, sizeof *out);
        ig_pg_col_text(r, 0, 0, out->name, sizeof out->name);
        const char *role = ig_pg_col_str(r, 0, 1);
        out->role = role && strcmp(role, "admin") == 0 ? IG_ROLE_ADMIN : IG_ROLE_MEMBER;
        ig_pg_col_text(r, 0, 2, out->password_hash, sizeof out->password_hash);
        out->created_at_ms = ig_pg_col_int(r, 0, 3);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int ig_pgt_user_get(ig_store_t *st, const char *name, ig_user_t *out, ig_error_t *err)
{
    user_t a = {.name = name, .out = out};
    return ig_pg_run(st, false, user_get_fn, &a, err);
}

static int user_insert_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    user_t *a = arg;
    const ig_user_t *u = a->u;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, u->name);
    ig_pg_text(&p, u->role == IG_ROLE_ADMIN ? "admin" : "member");
    ig_pg_text(&p, u->password_hash);
    ig_pg_int(&p, u->created_at_ms);
    int64_t rows = 0;
    if (ig_pg_cmd(c,
                  "INSERT INTO users(name, role, password_hash, created_at) VALUES($1,$2,$3,$4)"
                  " ON CONFLICT DO NOTHING",
                  &p, &rows, "user insert", err))
        return -1;
    if (rows == 0) return ig_error_set(err, IG_E_ALREADY_EXISTS, "user '%s' already exists", u->name);
    return ig_pgj_write(c, a->j, err);
}

int ig_pgt_user_insert(ig_store_t *st, const ig_user_t *u, const ig_journal_t *j, ig_error_t *err)
{
    user_t a = {.u = u, .j = j};
    return ig_pg_run(st, true, user_insert_fn, &a, err);
}

static int user_password_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    user_t *a = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, a->hash);
    ig_pg_text(&p, a->name);
    int64_t rows = 0;
    if (ig_pg_cmd(c, "UPDATE users SET password_hash=$1 WHERE name=$2", &p, &rows, "user password", err))
        return -1;
    if (rows == 0) return IG_STORE_NOTFOUND;
    return ig_pgj_write(c, a->j, err);
}

int ig_pgt_user_set_password(ig_store_t *st, const char *name, const char *hash, const ig_journal_t *j,
                             ig_error_t *err)
{
    user_t a = {.name = name, .hash = hash, .j = j};
    return ig_pg_run(st, true, user_password_fn, &a, err);
}

static int user_count_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    user_t *a = arg;
    PGresult *r = ig_pg_exec(c, "SELECT COUNT(*) FROM users", NULL, "user count", err);
    if (!r) return -1;
    *a->n = ig_pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int ig_pgt_user_count(ig_store_t *st, int64_t *n, ig_error_t *err)
{
    user_t a = {.n = n};
    return ig_pg_run(st, false, user_count_fn, &a, err);
}
