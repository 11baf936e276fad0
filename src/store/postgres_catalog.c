/* postgres_catalog — namespaces, tables and views, pending metadata files and queued purges of the PostgreSQL
 * store (store.h; postgres.h for the machinery).
 *
 * SQLite runs one writer at a time; here writers run together, so what a check-then-write relies on is
 * locked: a create in a namespace (a table, a view, a child namespace, a rename into it) holds the namespace's
 * row FOR KEY SHARE until it commits, and a namespace drop takes it FOR UPDATE before counting what it holds,
 * so a drop never leaves a table without its namespace.  A commit's compare-and-set is one UPDATE ... WHERE
 * location = $expected, which PostgreSQL re-checks on the newest row after a concurrent writer commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"

static bool is_wh_root(const char *ns)
{
    return ns[0] && ns[strlen(ns) - 1] == IG_WH_TAG; /* a warehouse's root has no row */
}

/* 1 if the namespace exists, 0 if not, -1.  lock: the row is held (FOR KEY SHARE, or FOR UPDATE when
 * exclusive) until the transaction ends. */
static int ns_exists(ig_pg_t *c, const char *ns, int lock, ig_error_t *err)
{
    static const char *const sql[] = {"SELECT 1 FROM namespaces WHERE name=$1",
                                       "SELECT 1 FROM namespaces WHERE name=$1 FOR KEY SHARE",
                                       "SELECT 1 FROM namespaces WHERE name=$1 FOR UPDATE"};
    ig_pg_params_t p = {0};
    ig_pg_text(&p, ns);
    PGresult *r = ig_pg_exec(c, sql[lock], &p, "namespace lookup", err);
    if (!r) return -1;
    int e = PQntuples(r) > 0;
    PQclear(r);
    return e;
}
#define NS_READ 0
#define NS_SHARE 1
#define NS_EXCLUSIVE 2

/* 0 when ns exists (held as lock says), else -1 with the 404 (or the error) in err. */
static int ns_must_exist(ig_pg_t *c, const char *ns, int lock, ig_error_t *err)
{
    int e = ns_exists(c, ns, lock, err);
    if (e < 0) return -1;
    return e ? 0 : ig_store_err_no_ns(err, ns);
}

typedef struct {
    const char *ns, *name, *after, *props;
    ig_obj_kind_t kind;
    int limit;
    ig_name_cb cb;
    void *ud;
    char **props_out;
} ns_op_t;

static int ns_create_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    char parent[2048];
    ig_store_ns_parent(o->ns, parent, sizeof parent);
    if (parent[0] && !is_wh_root(parent) && ns_must_exist(c, parent, NS_SHARE, err)) return -1;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, o->ns);
    ig_pg_text(&p, parent);
    ig_pg_text(&p, o->props ? o->props : "{}");
    int64_t rows = 0;
    if (ig_pg_cmd(c, "INSERT INTO namespaces(name, parent, properties) VALUES($1,$2,$3) ON CONFLICT DO NOTHING", &p,
                  &rows, "namespace create", err))
        return -1;
    if (rows == 0) {
        char shown[1025];
        return ig_error_set(err, IG_E_ALREADY_EXISTS, "Namespace already exists: %s",
                            ig_store_ns_shown(o->ns, shown, sizeof shown));
    }
    return 0;
}

int ig_pgc_ns_create(ig_store_t *st, const char *ns, const char *props, ig_error_t *err)
{
    ns_op_t o = {.ns = ns, .props = props};
    return ig_pg_run(st, true, ns_create_fn, &o, err);
}

static int ns_get_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, o->ns);
    PGresult *r = ig_pg_exec(c, "SELECT properties FROM namespaces WHERE name=$1", &p, "namespace get", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        rc = 0;
        if (o->props_out) {
            const char *t = ig_pg_col_str(r, 0, 0);
            *o->props_out = strdup(t ? t : "{}");
            if (!*o->props_out) rc = ig_error_set(err, IG_E_INTERNAL, "out of memory");
        }
    }
    PQclear(r);
    return rc;
}

int ig_pgc_ns_get(ig_store_t *st, const char *ns, char **props, ig_error_t *err)
{
    ns_op_t o = {.ns = ns, .props_out = props};
    return ig_pg_run(st, false, ns_get_fn, &o, err);
}

static int name_row_fn(void *ud, const PGresult *r, int row)
{
    ns_op_t *o = ud;
    const char *t = ig_pg_col_str(r, row, 0);
    return o->cb(o->ud, t ? t : "") ? 1 : 0;
}

static int ns_list_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    const char *parent = o->ns ? o->ns : "";
    if (parent[0] && !is_wh_root(parent) && ns_must_exist(c, parent, NS_READ, err)) return -1;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, parent);
    ig_pg_text(&p, o->after ? o->after : "");
    if (o->limit > 0) ig_pg_int(&p, o->limit);
    else ig_pg_null(&p); /* LIMIT NULL: all */
    int rc = ig_pg_walk(c, "SELECT name FROM namespaces WHERE parent=$1 AND name>$2 ORDER BY name LIMIT $3", &p,
                        name_row_fn, o, "namespace list", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgc_ns_list(ig_store_t *st, const char *parent, const char *after, int limit, ig_name_cb cb, void *ud,
                   ig_error_t *err)
{
    ns_op_t o = {.ns = parent, .after = after, .limit = limit, .cb = cb, .ud = ud};
    return ig_pg_run(st, false, ns_list_fn, &o, err);
}

static int ns_set_props_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, o->props);
    ig_pg_text(&p, o->ns);
    int64_t rows = 0;
    if (ig_pg_cmd(c, "UPDATE namespaces SET properties=$1 WHERE name=$2", &p, &rows, "namespace update", err))
        return -1;
    return rows ? 0 : IG_STORE_NOTFOUND;
}

int ig_pgc_ns_set_props(ig_store_t *st, const char *ns, const char *props, ig_error_t *err)
{
    ns_op_t o = {.ns = ns, .props = props};
    return ig_pg_run(st, true, ns_set_props_fn, &o, err);
}

static int ns_drop_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    int e = ns_exists(c, o->ns, NS_EXCLUSIVE, err);
    if (e <= 0) return e < 0 ? -1 : IG_STORE_NOTFOUND;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, o->ns);
    PGresult *r = ig_pg_exec(c,
                             "SELECT (SELECT COUNT(*) FROM objects WHERE ns=$1) +"
                             " (SELECT COUNT(*) FROM namespaces WHERE parent=$1)",
                             &p, "namespace drop", err);
    if (!r) return -1;
    int64_t children = ig_pg_col_int(r, 0, 0);
    PQclear(r);
    if (children > 0) {
        char shown[1025];
        return ig_error_set(err, IG_E_NAMESPACE_NOT_EMPTY,
                            "Namespace %s is not empty: %lld tables, views or namespaces",
                            ig_store_ns_shown(o->ns, shown, sizeof shown), (long long)children);
    }
    return ig_pg_cmd(c, "DELETE FROM namespaces WHERE name=$1", &p, NULL, "namespace drop", err);
}

int ig_pgc_ns_drop(ig_store_t *st, const char *ns, ig_error_t *err)
{
    ns_op_t o = {.ns = ns};
    return ig_pg_run(st, true, ns_drop_fn, &o, err);
}

/* ------------------------------------------------------------------ tables and views */

/* Reads the kind (and location, when loc) of (ns, name): 0 found, NOTFOUND, -1. */
static int obj_read(ig_pg_t *c, const char *ns, const char *name, ig_obj_kind_t *kind, char *loc, size_t cap,
                    ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_text(&p, ns);
    ig_pg_text(&p, name);
    PGresult *r = ig_pg_exec(c, loc ? "SELECT kind, location FROM objects WHERE ns=$1 AND name=$2"
                                    : "SELECT kind FROM objects WHERE ns=$1 AND name=$2",
                             &p, "object lookup", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        *kind = (ig_obj_kind_t)ig_pg_col_int(r, 0, 0);
        if (loc) ig_pg_col_text(r, 0, 1, loc, cap);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

typedef struct {
    const char *ns, *name;
    ig_obj_kind_t kind, *kind_out;
    char *loc;
    size_t cap;
} get_t;

static int obj_get_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    get_t *g = arg;
    ig_obj_kind_t k;
    int rc = obj_read(c, g->ns, g->name, &k, g->loc, g->cap, err);
    if (rc == 0 && g->kind && k != g->kind) rc = IG_STORE_NOTFOUND;
    if (rc == 0 && g->kind_out) *g->kind_out = k;
    return rc;
}

int ig_pgc_obj_get(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, ig_obj_kind_t *kind_out,
                   char *location, size_t cap, ig_error_t *err)
{
    get_t g = {ns, name, kind, kind_out, location, cap};
    return ig_pg_run(st, false, obj_get_fn, &g, err);
}

static int obj_list_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    ns_op_t *o = arg;
    if (ns_must_exist(c, o->ns, NS_READ, err)) return -1;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, o->ns);
    ig_pg_int(&p, o->kind);
    ig_pg_text(&p, o->after ? o->after : "");
    if (o->limit > 0) ig_pg_int(&p, o->limit);
    else ig_pg_null(&p);
    int rc = ig_pg_walk(c, "SELECT name FROM objects WHERE ns=$1 AND kind=$2 AND name>$3 ORDER BY name LIMIT $4",
                        &p, name_row_fn, o, "object list", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgc_obj_list(ig_store_t *st, const char *ns, ig_obj_kind_t kind, const char *after, int limit,
                    ig_name_cb cb, void *ud, ig_error_t *err)
{
    ns_op_t o = {.ns = ns, .kind = kind, .after = after, .limit = limit, .cb = cb, .ud = ud};
    return ig_pg_run(st, false, obj_list_fn, &o, err);
}

/* A create: the namespace held, the name free (a concurrent create of the same name inserts nothing). */
static int swap_create(ig_pg_t *c, const ig_obj_swap_t *w, ig_error_t *err)
{
    if (ns_must_exist(c, w->ns, NS_SHARE, err)) return -1;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, w->ns);
    ig_pg_text(&p, w->name);
    ig_pg_int(&p, w->kind);
    ig_pg_text(&p, w->new_location);
    int64_t rows = 0;
    if (ig_pg_cmd(c, "INSERT INTO objects(ns, name, kind, location) VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING",
                  &p, &rows, "object create", err))
        return -1;
    if (rows == 0) {
        ig_obj_kind_t k = w->kind;
        if (obj_read(c, w->ns, w->name, &k, NULL, 0, err) < 0) return -1;
        return ig_store_err_exists(err, k, w->kind, w->ns, w->name);
    }
    return ig_pgb_add(c, w, err);
}

static int swap_one(ig_pg_t *c, const ig_obj_swap_t *w, ig_error_t *err)
{
    if (!w->expected_location) return swap_create(c, w, err);
    ig_obj_kind_t k;
    int r = obj_read(c, w->ns, w->name, &k, NULL, 0, err);
    if (r < 0) return -1;
    if (r == IG_STORE_NOTFOUND || k != w->kind) return ig_store_err_no_obj(err, w->kind, w->ns, w->name);
    ig_pg_params_t p = {0};
    ig_pg_text(&p, w->new_location);
    ig_pg_text(&p, w->ns);
    ig_pg_text(&p, w->name);
    ig_pg_text(&p, w->expected_location);
    int64_t rows = 0;
    /* The whole strings are compared by the server: locations have no length bound here. */
    if (ig_pg_cmd(c, "UPDATE objects SET location=$1 WHERE ns=$2 AND name=$3 AND location=$4", &p, &rows,
                  "object swap", err))
        return -1;
    if (rows == 0)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "Commit failed: %s %s was updated concurrently (base metadata is no longer current)",
                            k == IG_OBJ_VIEW ? "view" : "table", w->name);
    return ig_pgb_add(c, w, err);
}

typedef struct {
    const ig_obj_swap_t *swaps;
    size_t n, nf;
    const ig_meta_file_t *files;
} swap_t;

static int swap_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    swap_t *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (swap_one(c, &s->swaps[i], err)) return -1;
    for (size_t i = 0; i < s->nf; i++) {
        ig_pg_params_t p = {0};
        ig_pg_text(&p, s->files[i].location);
        ig_pg_bin(&p, s->files[i].body, s->files[i].len);
        if (ig_pg_cmd(c, "INSERT INTO meta_pending(location, body) VALUES($1,$2)", &p, NULL,
                      "pending metadata file", err))
            return -1;
    }
    return 0;
}

int ig_pgc_obj_swap(ig_store_t *st, const ig_obj_swap_t *swaps, size_t n, const ig_meta_file_t *files, size_t nf,
                    ig_error_t *err)
{
    swap_t s = {swaps, n, nf, files};
    return ig_pg_run(st, true, swap_fn, &s, err);
}

typedef struct {
    const char *ns, *name, *to_ns, *to_name;
    ig_obj_kind_t kind;
    const char *const *purge;
    size_t npurge;
} move_t;

static int obj_drop_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    move_t *m = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, m->ns);
    ig_pg_text(&p, m->name);
    ig_pg_int(&p, m->kind);
    int64_t rows = 0;
    if (ig_pg_cmd(c, "DELETE FROM objects WHERE ns=$1 AND name=$2 AND kind=$3", &p, &rows, "object drop", err))
        return -1;
    if (rows == 0) return IG_STORE_NOTFOUND;
    if (ig_pgb_drop(c, m->ns, m->name, err)) return -1;
    for (size_t i = 0; i < m->npurge; i++) {
        ig_pg_params_t q = {0};
        ig_pg_text(&q, m->purge[i]);
        if (ig_pg_cmd(c, "INSERT INTO purges(location) VALUES($1)", &q, NULL, "purge", err)) return -1;
    }
    return 0;
}

int ig_pgc_obj_drop(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *const *purge,
                    size_t npurge, ig_error_t *err)
{
    move_t m = {.ns = ns, .name = name, .kind = kind, .purge = purge, .npurge = npurge};
    return ig_pg_run(st, true, obj_drop_fn, &m, err);
}

static int obj_rename_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    move_t *m = arg;
    ig_obj_kind_t k;
    int r = obj_read(c, m->ns, m->name, &k, NULL, 0, err);
    if (r < 0) return -1;
    if (r == IG_STORE_NOTFOUND || k != m->kind) return ig_store_err_no_obj(err, m->kind, m->ns, m->name);
    if (ns_must_exist(c, m->to_ns, NS_SHARE, err)) return -1;
    r = obj_read(c, m->to_ns, m->to_name, &k, NULL, 0, err);
    if (r < 0) return -1;
    if (r == 0) return ig_store_err_rename_exists(err, k, m->ns, m->name, m->to_ns, m->to_name);
    ig_pg_params_t p = {0};
    ig_pg_text(&p, m->to_ns);
    ig_pg_text(&p, m->to_name);
    ig_pg_text(&p, m->ns);
    ig_pg_text(&p, m->name);
    if (ig_pg_cmd(c, "UPDATE objects SET ns=$1, name=$2 WHERE ns=$3 AND name=$4", &p, NULL, "object rename", err)) {
        /* another rename or create took the name since the lookup */
        if (ig_pg_failed_with(c, "23505"))
            ig_store_err_rename_exists(err, m->kind, m->ns, m->name, m->to_ns, m->to_name);
        return -1;
    }
    return ig_pgb_rename(c, m->ns, m->name, m->to_ns, m->to_name, err);
}

int ig_pgc_obj_rename(ig_store_t *st, const char *from_ns, const char *from_name, const char *to_ns,
                      const char *to_name, ig_obj_kind_t kind, ig_error_t *err)
{
    move_t m = {.ns = from_ns, .name = from_name, .to_ns = to_ns, .to_name = to_name, .kind = kind};
    return ig_pg_run(st, true, obj_rename_fn, &m, err);
}

/* ------------------------------------------------------------------ pending metadata files, purges */

typedef struct {
    int64_t seq, *seq_out;
    ig_meta_file_cb cb;
    void *ud;
    char *location;
    size_t cap;
} queue_t;

static int pending_last_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    queue_t *q = arg;
    PGresult *r = ig_pg_exec(c, "SELECT COALESCE(MAX(seq), 0) FROM meta_pending", NULL, "pending metadata files",
                             err);
    if (!r) return -1;
    *q->seq_out = ig_pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int ig_pgc_meta_pending_last(ig_store_t *st, int64_t *seq, ig_error_t *err)
{
    queue_t q = {.seq_out = seq};
    return ig_pg_run(st, false, pending_last_fn, &q, err);
}

static int pending_row_fn(void *ud, const PGresult *r, int row)
{
    queue_t *q = ud;
    size_t len = 0;
    char *body = ig_pg_col_bytes(r, row, 1, &len);
    const char *loc = ig_pg_col_str(r, row, 0);
    ig_meta_file_t f = {.location = loc ? loc : "", .body = body ? body : "", .len = body ? len : 0};
    int rc = q->cb(q->ud, &f);
    free(body);
    return rc;
}

static int pending_each_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    return ig_pg_walk(c, "SELECT location, body FROM meta_pending ORDER BY seq", NULL, pending_row_fn, arg,
                      "pending metadata files", err);
}

int ig_pgc_meta_pending_each(ig_store_t *st, ig_meta_file_cb cb, void *ud, ig_error_t *err)
{
    queue_t q = {.cb = cb, .ud = ud};
    return ig_pg_run(st, false, pending_each_fn, &q, err);
}

static int pending_done_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    queue_t *q = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, q->seq);
    return ig_pg_cmd(c, "DELETE FROM meta_pending WHERE seq <= $1", &p, NULL, "pending metadata files", err);
}

int ig_pgc_meta_pending_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    queue_t q = {.seq = seq};
    return ig_pg_run(st, true, pending_done_fn, &q, err);
}

static int purge_next_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    queue_t *q = arg;
    PGresult *r = ig_pg_exec(c, "SELECT seq, location FROM purges ORDER BY seq LIMIT 1", NULL, "purge", err);
    if (!r) return -1;
    int rc = IG_STORE_NOTFOUND;
    if (PQntuples(r)) {
        *q->seq_out = ig_pg_col_int(r, 0, 0);
        ig_pg_col_text(r, 0, 1, q->location, q->cap);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int ig_pgc_purge_next(ig_store_t *st, int64_t *seq, char *location, size_t cap, ig_error_t *err)
{
    queue_t q = {.seq_out = seq, .location = location, .cap = cap};
    return ig_pg_run(st, false, purge_next_fn, &q, err);
}

static int purge_done_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    queue_t *q = arg;
    ig_pg_params_t p = {0};
    ig_pg_int(&p, q->seq);
    return ig_pg_cmd(c, "DELETE FROM purges WHERE seq = $1", &p, NULL, "purge", err);
}

int ig_pgc_purge_done(ig_store_t *st, int64_t seq, ig_error_t *err)
{
    queue_t q = {.seq = seq};
    return ig_pg_run(st, true, purge_done_fn, &q, err);
}
