/* postgres_bases — the locations of tables and views in the PostgreSQL store: table object_bases, as
 * sqlite_bases.h explains it (every location an object has had while it lives, canonical with a trailing '/',
 * so "inside" is "has as a prefix"; COLLATE "C" makes the range scan byte-wise).
 *
 * Writers run together here: an overlap check and the insert it allows are one step under a
 * transaction-level advisory lock, so two creates at overlapping locations never both pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"

#define LOCK_BASES 0x69636567000002LL /* pg_advisory_xact_lock key: "iceg" 2 */

/* "table a.b.t at file:///w/a/b/t" from a row (ns, name, base, kind): namespace levels shown with dots. */
static void describe(const PGresult *r, char *who, size_t cap)
{
    const char *ns = ig_pg_col_str(r, 0, 0), *name = ig_pg_col_str(r, 0, 1), *base = ig_pg_col_str(r, 0, 2);
    int blen = base ? PQgetlength(r, 0, 2) : 0;
    if (blen > 1 && base[blen - 1] == '/') blen--;
    int n = snprintf(who, cap, "%s %s.%s at %.*s", ig_pg_col_int(r, 0, 3) == IG_OBJ_VIEW ? "view" : "table",
                     ns ? ig_store_ns_untagged(ns) : "", name ? name : "", blen, base ? base : "");
    for (int i = 0; i < n && (size_t)i < cap; i++)
        if (who[i] == 0x1f) who[i] = '.';
}

#define OVERLAP_SELECT                                                                                       \
    "SELECT b.ns, b.name, b.base, o.kind FROM object_bases b JOIN objects o ON o.ns = b.ns AND o.name = b.name" \
    " WHERE ($3::text IS NULL OR NOT (b.ns = $3 AND b.name = $4)) AND "

/* One overlap query: 1 with who filled, 0, -1. */
static int found(ig_pg_t *c, const char *sql, const ig_pg_params_t *p, char *who, size_t cap, ig_error_t *err)
{
    PGresult *r = ig_pg_exec(c, sql, p, "location overlap check", err);
    if (!r) return -1;
    int rc = PQntuples(r) > 0;
    if (rc) describe(r, who, cap);
    PQclear(r);
    return rc;
}

/* See ig_store_ops_t.obj_overlap. */
static int overlap(ig_pg_t *c, const char *base, const char *ex_ns, const char *ex_name, char *who, size_t cap,
                   ig_error_t *err)
{
    size_t len = strlen(base);
    if (len < 2 || base[len - 1] != '/') return ig_error_set(err, IG_E_INTERNAL, "location without a trailing /");
    /* At or below base: every string from "base" up to, not including, base with its last '/' made '0'. */
    char *upper = malloc(len + 1);
    if (!upper) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    memcpy(upper, base, len + 1);
    upper[len - 1] = '/' + 1;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, base);
    ig_pg_text(&p, upper);
    ig_pg_text(&p, ex_ns);
    ig_pg_text(&p, ex_name);
    int rc = found(c, OVERLAP_SELECT "b.base >= $1 AND b.base < $2 LIMIT 1", &p, who, cap, err);
    free(upper);
    if (rc) return rc;
    /* Above base: each directory that holds it, "file:/" down to its parent, in one query (the prefixes of
     * base that end in '/', shortest first, as sqlite_bases.c tries them).  $2 is a null that only keeps the
     * numbering of OVERLAP_SELECT's $3 and $4. */
    ig_pg_params_t q = {0};
    ig_pg_text(&q, base);
    ig_pg_null(&q);
    ig_pg_text(&q, ex_ns);
    ig_pg_text(&q, ex_name);
    return found(c,
                 OVERLAP_SELECT "$2::text IS NULL AND b.base IN (SELECT substr($1, 1, i) FROM"
                                " generate_series(1, length($1) - 1) AS i WHERE substr($1, i, 1) = '/')"
                                " ORDER BY length(b.base) LIMIT 1",
                 &q, who, cap, err);
}

/* 1 if (ns, name) already has base, 0 if not, -1. */
static int has_base(ig_pg_t *c, const char *ns, const char *name, const char *base, ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_text(&p, ns);
    ig_pg_text(&p, name);
    ig_pg_text(&p, base);
    PGresult *r = ig_pg_exec(c, "SELECT 1 FROM object_bases WHERE ns=$1 AND name=$2 AND base=$3", &p,
                             "location lookup", err);
    if (!r) return -1;
    int rc = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

int ig_pgb_add(ig_pg_t *c, const ig_obj_swap_t *w, ig_error_t *err)
{
    if (!w->new_base) return 0;
    int h = has_base(c, w->ns, w->name, w->new_base, err);
    if (h) return h < 0 ? -1 : 0;
    if (w->check_overlap) {
        ig_pg_params_t l = {0};
        ig_pg_int(&l, LOCK_BASES);
        if (ig_pg_cmd(c, "SELECT pg_advisory_xact_lock($1)", &l, NULL, "location lock", err)) return -1;
        char who[512];
        int o = overlap(c, w->new_base, w->ns, w->name, who, sizeof who, err);
        if (o < 0) return -1;
        if (o) return ig_store_err_overlap(err, w->new_base, who);
    }
    ig_pg_params_t p = {0};
    ig_pg_text(&p, w->ns);
    ig_pg_text(&p, w->name);
    ig_pg_text(&p, w->new_base);
    return ig_pg_cmd(c, "INSERT INTO object_bases(ns, name, base) VALUES($1,$2,$3) ON CONFLICT DO NOTHING", &p, NULL,
                     "location insert", err);
}

int ig_pgb_drop(ig_pg_t *c, const char *ns, const char *name, ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_text(&p, ns);
    ig_pg_text(&p, name);
    return ig_pg_cmd(c, "DELETE FROM object_bases WHERE ns=$1 AND name=$2", &p, NULL, "location drop", err);
}

int ig_pgb_rename(ig_pg_t *c, const char *ns, const char *name, const char *to_ns, const char *to_name,
                  ig_error_t *err)
{
    ig_pg_params_t p = {0};
    ig_pg_text(&p, to_ns);
    ig_pg_text(&p, to_name);
    ig_pg_text(&p, ns);
    ig_pg_text(&p, name);
    return ig_pg_cmd(c, "UPDATE object_bases SET ns=$1, name=$2 WHERE ns=$3 AND name=$4", &p, NULL,
                     "location rename", err);
}

/* ------------------------------------------------------------------ the ops */

typedef struct {
    const char *ns, *name, *base, *ex_ns, *ex_name;
    ig_name_cb cb;
    void *ud;
    char *who;
    size_t cap;
} bases_t;

static int base_row_fn(void *ud, const PGresult *r, int row)
{
    bases_t *b = ud;
    const char *t = ig_pg_col_str(r, row, 0);
    return b->cb(b->ud, t ? t : "") ? 1 : 0;
}

static int bases_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    bases_t *b = arg;
    ig_pg_params_t p = {0};
    ig_pg_text(&p, b->ns);
    ig_pg_text(&p, b->name);
    int rc = ig_pg_walk(c, "SELECT base FROM object_bases WHERE ns=$1 AND name=$2 ORDER BY base", &p, base_row_fn, b,
                        "location list", err);
    return rc < 0 ? -1 : 0;
}

int ig_pgb_obj_bases(ig_store_t *st, const char *ns, const char *name, ig_name_cb cb, void *ud, ig_error_t *err)
{
    bases_t b = {.ns = ns, .name = name, .cb = cb, .ud = ud};
    return ig_pg_run(st, false, bases_fn, &b, err);
}

static int overlap_fn(ig_pg_t *c, void *arg, ig_error_t *err)
{
    bases_t *b = arg;
    return overlap(c, b->base, b->ex_ns, b->ex_name, b->who, b->cap, err);
}

int ig_pgb_obj_overlap(ig_store_t *st, const char *base, const char *ex_ns, const char *ex_name, char *who,
                       size_t cap, ig_error_t *err)
{
    bases_t b = {.base = base, .ex_ns = ex_ns, .ex_name = ex_name, .who = who, .cap = cap};
    return ig_pg_run(st, false, overlap_fn, &b, err);
}
