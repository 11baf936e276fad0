/* postgres — what the files of the PostgreSQL store share (postgres.c, postgres_tokens.c, postgres_catalog.c,
 * postgres_bases.c, postgres_journal.c, postgres_migrations.c); nothing outside src/store/postgres*.c includes
 * it.  Callers see store.h only.
 *
 * Every op runs through ig_pg_run: it borrows a pooled connection, opens a transaction for a write, calls the
 * op's function, and commits (bumping the store-wide change counter changed() polls) only when that function
 * returns 0; anything else rolls back.  A connection found dead (the server restarted) is dropped, with every
 * idle one, and the op is run once more on a fresh connection when that is safe: nothing was delivered to the
 * caller's callbacks yet and no COMMIT was in flight.  A deadlock or serialization failure reported by the
 * server is retried the same way.
 *
 * SQL is always a constant string with $n parameters (PQexecParams): client text never becomes SQL. */
#ifndef IG_STORE_POSTGRES_H
#define IG_STORE_POSTGRES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define IG_PG_PARAMS_MAX 32

/* One op's use of a connection. */
typedef struct {
    PGconn *conn;
    bool delivered;  /* a callback of the caller has seen a row: a rerun would show it twice */
    bool lost;       /* the connection broke during the op */
    char state[6];   /* the SQLSTATE of the last failed statement ("" if none) */
} ig_pg_t;

/* Parameters of one statement, in text format except bytea (binary).  A NULL value is SQL null. */
typedef struct {
    int n;
    const char *v[IG_PG_PARAMS_MAX];
    int len[IG_PG_PARAMS_MAX], fmt[IG_PG_PARAMS_MAX];
    char num[IG_PG_PARAMS_MAX][32];
} ig_pg_params_t;

void ig_pg_text(ig_pg_params_t *p, const char *s);             /* NULL: null */
void ig_pg_text_or_null(ig_pg_params_t *p, const char *s);     /* NULL and "": null */
void ig_pg_int(ig_pg_params_t *p, int64_t v);
void ig_pg_ms(ig_pg_params_t *p, int64_t ms);                  /* 0: null */
void ig_pg_dbl(ig_pg_params_t *p, double v);
void ig_pg_bool(ig_pg_params_t *p, bool v);
void ig_pg_bin(ig_pg_params_t *p, const void *b, size_t len);  /* NULL: null */
void ig_pg_null(ig_pg_params_t *p);

/* Runs sql with p (NULL: no parameters).  Returns the result (caller PQclears) when it succeeded, else NULL
 * with err filled (500 "storage error during <what>") and c->state set; a unique violation (23505) is not
 * logged, for callers that turn it into a 409. */
PGresult *ig_pg_exec(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, const char *what, ig_error_t *err);
/* As ig_pg_exec for a statement whose rows are not needed: 0 with *rows (NULL: not wanted) the rows it
 * changed, or -1. */
int ig_pg_cmd(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, int64_t *rows, const char *what,
              ig_error_t *err);
/* Streams the rows of sql one at a time (libpq single-row mode: a million tokens are never in memory at once)
 * to fn; fn returning non-zero stops the walk and that value is returned (the rest is discarded).  0 at the
 * end, -1 on error. */
typedef int (*ig_pg_row_fn)(void *ud, const PGresult *r, int row);
int ig_pg_walk(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, ig_pg_row_fn fn, void *ud, const char *what,
               ig_error_t *err);
/* The SQLSTATE of c's last failure is state. */
bool ig_pg_failed_with(const ig_pg_t *c, const char *state);

/* Column readers of a row: "" / 0 for null.  ig_pg_col_bytes returns a malloc'd copy (caller frees) of a
 * bytea column with its length, NULL when out of memory. */
void ig_pg_col_text(const PGresult *r, int row, int col, char *dst, size_t cap);
const char *ig_pg_col_str(const PGresult *r, int row, int col); /* NULL for null */
int64_t ig_pg_col_int(const PGresult *r, int row, int col);
double ig_pg_col_dbl(const PGresult *r, int row, int col);
bool ig_pg_col_bool(const PGresult *r, int row, int col);
char *ig_pg_col_bytes(const PGresult *r, int row, int col, size_t *len);

/* Runs fn on a pooled connection: inside a transaction when write (committed when fn returns 0, rolled back
 * otherwise); returns fn's result, or -1 when no connection could be had or the commit failed. */
typedef int (*ig_pg_fn)(ig_pg_t *c, void *arg, ig_error_t *err);
int ig_pg_run(ig_store_t *st, bool write, ig_pg_fn fn, void *arg, ig_error_t *err);

/* postgres_migrations.c: the schema, one step per version. */
extern const char *const ig_pg_migrations[];
extern const int ig_pg_migrations_count;

/* The ops of each file, gathered in postgres.c's ops table. */
int ig_pgt_token_insert(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err);
int ig_pgt_token_update(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err);
int ig_pgt_token_delete(ig_store_t *st, const char *id, int64_t now_ms, int64_t *seq, const ig_journal_t *j,
                        ig_error_t *err);
int ig_pgt_token_get(ig_store_t *st, const char *id, ig_token_row_t *out, ig_error_t *err);
int ig_pgt_token_list(ig_store_t *st, const char *owner, ig_token_cb cb, void *ud, ig_error_t *err);
int ig_pgt_token_changes(ig_store_t *st, int64_t since, ig_token_cb cb, void *ud, int64_t *max_seq,
                         ig_error_t *err);
int ig_pgt_token_touch(ig_store_t *st, const ig_token_usage_t *u, size_t n, ig_error_t *err);
int ig_pgt_user_get(ig_store_t *st, const char *name, ig_user_t *out, ig_error_t *err);
int ig_pgt_user_insert(ig_store_t *st, const ig_user_t *u, const ig_journal_t *j, ig_error_t *err);
int ig_pgt_user_set_password(ig_store_t *st, const char *name, const char *hash, const ig_journal_t *j,
                             ig_error_t *err);
int ig_pgt_user_count(ig_store_t *st, int64_t *n, ig_error_t *err);

int ig_pgc_ns_create(ig_store_t *st, const char *ns, const char *props, ig_error_t *err);
int ig_pgc_ns_get(ig_store_t *st, const char *ns, char **props, ig_error_t *err);
int ig_pgc_ns_list(ig_store_t *st, const char *parent, const char *after, int limit, ig_name_cb cb, void *ud,
                   ig_error_t *err);
int ig_pgc_ns_set_props(ig_store_t *st, const char *ns, const char *props, ig_error_t *err);
int ig_pgc_ns_drop(ig_store_t *st, const char *ns, ig_error_t *err);
int ig_pgc_obj_get(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, ig_obj_kind_t *kind_out,
                   char *location, size_t cap, ig_error_t *err);
int ig_pgc_obj_list(ig_store_t *st, const char *ns, ig_obj_kind_t kind, const char *after, int limit,
                    ig_name_cb cb, void *ud, ig_error_t *err);
int ig_pgc_obj_swap(ig_store_t *st, const ig_obj_swap_t *swaps, size_t n, const ig_meta_file_t *files, size_t nf,
                    ig_error_t *err);
int ig_pgc_obj_drop(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *const *purge,
                    size_t npurge, ig_error_t *err);
int ig_pgc_obj_rename(ig_store_t *st, const char *from_ns, const char *from_name, const char *to_ns,
                      const char *to_name, ig_obj_kind_t kind, ig_error_t *err);
int ig_pgc_meta_pending_last(ig_store_t *st, int64_t *seq, ig_error_t *err);
int ig_pgc_meta_pending_each(ig_store_t *st, ig_meta_file_cb cb, void *ud, ig_error_t *err);
int ig_pgc_meta_pending_done(ig_store_t *st, int64_t seq, ig_error_t *err);
int ig_pgc_purge_next(ig_store_t *st, int64_t *seq, char *location, size_t cap, ig_error_t *err);
int ig_pgc_purge_done(ig_store_t *st, int64_t seq, ig_error_t *err);

/* postgres_bases.c: object locations (sqlite_bases.h explains the table), in the caller's transaction. */
int ig_pgb_add(ig_pg_t *c, const ig_obj_swap_t *w, ig_error_t *err);
int ig_pgb_drop(ig_pg_t *c, const char *ns, const char *name, ig_error_t *err);
int ig_pgb_rename(ig_pg_t *c, const char *ns, const char *name, const char *to_ns, const char *to_name,
                  ig_error_t *err);
/* The ops obj_bases and obj_overlap. */
int ig_pgb_obj_bases(ig_store_t *st, const char *ns, const char *name, ig_name_cb cb, void *ud, ig_error_t *err);
int ig_pgb_obj_overlap(ig_store_t *st, const char *base, const char *ex_ns, const char *ex_name, char *who,
                       size_t cap, ig_error_t *err);

/* postgres_journal.c: writes j's rows (NULL: nothing) in the caller's transaction. */
int ig_pgj_write(ig_pg_t *c, const ig_journal_t *j, ig_error_t *err);
int ig_pgj_journal_append(ig_store_t *st, const ig_journal_t *j, ig_error_t *err);
int ig_pgj_audit_list(ig_store_t *st, const ig_audit_query_t *q, ig_audit_cb cb, void *ud, ig_error_t *err);
int ig_pgj_audit_prune(ig_store_t *st, int64_t before_ms, int max_rows, int64_t *deleted, ig_error_t *err);
int ig_pgj_event_next(ig_store_t *st, int64_t now_ms, ig_event_t *out, ig_error_t *err);
int ig_pgj_event_done(ig_store_t *st, int64_t seq, ig_error_t *err);
int ig_pgj_event_retry(ig_store_t *st, int64_t seq, int attempts, int64_t next_at_ms, ig_error_t *err);
int ig_pgj_notice_raise(ig_store_t *st, const char *token_id, int64_t expires_at_ms, int level,
                        const ig_journal_t *j, ig_error_t *err);
int ig_pgj_idem_get(ig_store_t *st, const char *key, int64_t since_ms, ig_idem_t *out, ig_error_t *err);
int ig_pgj_idem_put(ig_store_t *st, const ig_idem_t *e, int64_t expire_before_ms, int64_t max_entries,
                    int64_t max_bytes, ig_error_t *err);

#endif
