/* sqlite_bases — see sqlite_bases.h. */
#include "store/sqlite_bases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"

static int fail(sqlite3 *db, const char *what, ig_error_t *err)
{
    ig_error("sqlite: %s: %s", what, sqlite3_errmsg(db));
    ig_metrics_store_error();
    return ig_error_set(err, IG_E_INTERNAL, "storage error during %s", what);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, ig_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(db, "prepare", err);
        return NULL;
    }
    return st;
}

static void bind(sqlite3_stmt *st, int i, const char *s, int len)
{
    if (s) sqlite3_bind_text(st, i, s, len, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* "table a.b.t at file:///w/a/b/t" from a row (ns, name, base, kind): namespace levels shown with dots. */
static void describe(sqlite3_stmt *st, char *who, size_t cap)
{
    const char *ns = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1);
    const char *base = (const char *)sqlite3_column_text(st, 2);
    int blen = sqlite3_column_bytes(st, 2);
    if (blen > 1 && base[blen - 1] == '/') blen--;
    int n = snprintf(who, cap, "%s %s.%s at %.*s", sqlite3_column_int(st, 3) == IG_OBJ_VIEW ? "view" : "table",
                     ns ? ig_store_ns_untagged(ns) : "", name ? name : "", blen, base ? base : "");
    for (int i = 0; i < n && (size_t)i < cap; i++)
        if (who[i] == 0x1f) who[i] = '.';
}

/* One step of an overlap query: 1 with who filled, 0, -1. */
static int found(sqlite3 *db, sqlite3_stmt *st, char *who, size_t cap, ig_error_t *err)
{
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        describe(st, who, cap);
        return 1;
    }
    return r == SQLITE_DONE ? 0 : fail(db, "location overlap check", err);
}

#define OVERLAP_SELECT                                                                                      \
    "SELECT b.ns, b.name, b.base, o.kind FROM object_bases b JOIN objects o ON o.ns = b.ns AND o.name = b.name" \
    " WHERE (?3 IS NULL OR NOT (b.ns = ?3 AND b.name = ?4)) AND "

int ig_sqb_overlap(sqlite3 *db, const char *base, const char *ex_ns, const char *ex_name, char *who, size_t cap,
                   ig_error_t *err)
{
    size_t len = strlen(base);
    if (len < 2 || base[len - 1] != '/') return ig_error_set(err, IG_E_INTERNAL, "location without a trailing /");
    /* At or below base: every string from "base" up to, not including, base with its last '/' made '0'. */
    sqlite3_stmt *st = prepare(db, OVERLAP_SELECT "b.base >= ?1 AND b.base < ?2 LIMIT 1", err);
    if (!st) return -1;
    char *upper = malloc(len + 1);
    if (!upper) {
        sqlite3_finalize(st);
        return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    memcpy(upper, base, len + 1);
    upper[len - 1] = '/' + 1;
    bind(st, 1, base, (int)len);
    bind(st, 2, upper, (int)len);
    bind(st, 3, ex_ns, -1);
    bind(st, 4, ex_name, -1);
    int rc = found(db, st, who, cap, err);
    free(upper);
    sqlite3_finalize(st);
    if (rc) return rc;
    /* Above base: each directory that holds it, "file:/" down to its parent. */
    st = prepare(db, OVERLAP_SELECT "b.base = ?1 LIMIT 1", err);
    if (!st) return -1;
    bind(st, 3, ex_ns, -1);
    bind(st, 4, ex_name, -1);
    for (size_t i = 0; rc == 0 && i + 1 < len; i++) {
        if (base[i] != '/') continue;
        sqlite3_reset(st);
        bind(st, 1, base, (int)i + 1);
        rc = found(db, st, who, cap, err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* 1 if (ns, name) already has base, 0 if not, -1. */
static int has_base(sqlite3 *db, const char *ns, const char *name, const char *base, ig_error_t *err)
{
    sqlite3_stmt *st = prepare(db, "SELECT 1 FROM object_bases WHERE ns=? AND name=? AND base=?", err);
    if (!st) return -1;
    bind(st, 1, ns, -1);
    bind(st, 2, name, -1);
    bind(st, 3, base, -1);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    return r == SQLITE_DONE ? 0 : fail(db, "location lookup", err);
}

int ig_sqb_add(sqlite3 *db, const ig_obj_swap_t *w, ig_error_t *err)
{
    if (!w->new_base) return 0;
    int h = has_base(db, w->ns, w->name, w->new_base, err);
    if (h) return h < 0 ? -1 : 0;
    if (w->check_overlap) {
        char who[512];
        int o = ig_sqb_overlap(db, w->new_base, w->ns, w->name, who, sizeof who, err);
        if (o < 0) return -1;
        if (o) return ig_store_err_overlap(err, w->new_base, who);
    }
    sqlite3_stmt *st = prepare(db, "INSERT INTO object_bases(ns, name, base) VALUES(?,?,?)", err);
    if (!st) return -1;
    bind(st, 1, w->ns, -1);
    bind(st, 2, w->name, -1);
    bind(st, 3, w->new_base, -1);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(db, "location insert", err);
}

int ig_sqb_list(sqlite3 *db, const char *ns, const char *name, ig_name_cb cb, void *ud, ig_error_t *err)
{
    sqlite3_stmt *st = prepare(db, "SELECT base FROM object_bases WHERE ns=? AND name=? ORDER BY base", err);
    if (!st) return -1;
    bind(st, 1, ns, -1);
    bind(st, 2, name, -1);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, (const char *)sqlite3_column_text(st, 0))) break;
    sqlite3_finalize(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : fail(db, "location list", err);
}

/* Runs sql with up to four text parameters; 0 or -1. */
static int run(sqlite3 *db, const char *sql, const char *const p[4], const char *what, ig_error_t *err)
{
    sqlite3_stmt *st = prepare(db, sql, err);
    if (!st) return -1;
    for (int i = 0; i < 4 && p[i]; i++) bind(st, i + 1, p[i], -1);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(db, what, err);
}

int ig_sqb_drop(sqlite3 *db, const char *ns, const char *name, ig_error_t *err)
{
    const char *p[4] = {ns, name, NULL, NULL};
    return run(db, "DELETE FROM object_bases WHERE ns=? AND name=?", p, "location drop", err);
}

int ig_sqb_rename(sqlite3 *db, const char *ns, const char *name, const char *to_ns, const char *to_name,
                  ig_error_t *err)
{
    const char *p[4] = {to_ns, to_name, ns, name};
    return run(db, "UPDATE object_bases SET ns=?, name=? WHERE ns=? AND name=?", p, "location rename", err);
}
