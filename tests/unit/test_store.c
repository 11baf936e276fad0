/* test_store — the conformance suite of store.h: what every store back end must do, driven only through its
 * ops table (st->ops->...), as the token and catalog code see a store.
 *
 * A back end is one row of `backends` at the end of this file: {name, open, teardown}.  main() runs the whole
 * suite once per row as the cmocka group "store/<name>", so the PostgreSQL store plugs in by adding its row.
 * Covered: namespaces (hierarchy, pagination, properties, drop rules), catalog objects (create, the
 * compare-and-set commit, all-or-none multi-object commits, tables and views sharing names, rename, drop,
 * counting under a location prefix), the token rows (list, change feed, compare-and-set update, who
 * suspended a token and who set its Max RPS), users,
 * idempotency keys, a second client seeing another's commits, and reopening.  Errors are checked by kind
 * (IG_E_*), which fixes the HTTP status and Iceberg type through the error table.
 *
 * What is about SQLite itself (the schema_version rows, the file on disk) is the separate group
 * "store/sqlite-only" at the end; what is about PostgreSQL (migrations under several nodes, two nodes on one
 * database, reconnection after a restart) is "store/postgres-only".  The postgres rows run when
 * ICEGATE_TEST_PG_DSN names a database (scripts/test.sh starts a throwaway server for them) and are skipped
 * otherwise.  Each test gets a fresh, empty store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define assert_contains(hay, needle)                                                                         \
    do {                                                                                                     \
        if (!strstr((hay), (needle))) fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));           \
    } while (0)

#define SEP "\x1f" /* namespace level separator */

static const char *const kind_names[IG_E_COUNT] = {
    [IG_E_NONE] = "IG_E_NONE (err not filled)",
#define KIND_NAME(k, status, type) [IG_E_##k] = "IG_E_" #k,
    IG_ERROR_MAP(KIND_NAME)
#undef KIND_NAME
};

static const char *kind_name(ig_errkind_t k)
{
    return (unsigned)k < IG_E_COUNT && kind_names[k] ? kind_names[k] : "out of range";
}

/* `call` (which fills err) fails now with `want`: it returns -1 and err is this call's, not one left over
 * from an earlier call (err is cleared first).  The kind is what callers branch on; the status and the
 * Iceberg type follow from it. */
#define assert_fails(err, call, want)                                                                        \
    do {                                                                                                     \
        memset(&(err), 0, sizeof(err));                                                                      \
        int rc_ = (call);                                                                                    \
        if (rc_ != -1) fail_msg("%s: returned %d, want -1 (%s)", #call, rc_, kind_name(want));              \
        if ((err).kind != (want))                                                                            \
            fail_msg("%s: %s (%d) \"%s\", want %s", #call, kind_name((err).kind),                  \
                     ig_error_status(&(err)), (err).message, kind_name(want));                         \
    } while (0)

/* ---- the back ends under test ---- */

typedef struct fixture fixture_t;

typedef struct {
    const char *name; /* the cmocka group is "store/<name>" */
    /* Opens a client of this test's store.  The first call in a test creates a fresh, empty store; a later
     * call opens another client of the same store (a second connection, as another icegate process or the
     * CLI would have), also after every client was closed.  NULL with err filled on failure. */
    ig_store_t *(*open)(fixture_t *f, ig_error_t *err);
    /* Removes what open() created.  Every client is closed before it is called. */
    void (*teardown)(fixture_t *f);
    /* The environment variable that must be set for the back end to run (NULL: it always runs); without it
     * every case of its group is skipped, and counted as skipped. */
    const char *needs_env;
} backend_t;

struct fixture {
    const backend_t *be;
    ig_store_t *st;  /* the client the tests use */
    char dir[256];   /* a fresh temp dir per test, the back end's to use */
    char where[512]; /* where the back end put this test's store (SQLite: the database file) */
};

static int teardown(void **state);

/* The prestate is the back end's row; the state becomes the fixture. */
static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->be = *state;
    *state = f;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/icegate-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        f->dir[0] = '\0';
        goto fail;
    }
    ig_error_t err;
    memset(&err, 0, sizeof err);
    f->st = f->be->open(f, &err);
    if (!f->st) {
        print_error("store/%s: open: %s\n", f->be->name, err.message);
        goto fail;
    }
    return 0;
fail: /* cmocka skips the teardown of a test whose setup failed */
    teardown(state);
    *state = NULL;
    return -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f) return 0;
    ig_store_close(f->st);
    if (f->dir[0]) {
        f->be->teardown(f);
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* SQLite: one database file in the test's dir; every client opens the same file. */
static ig_store_t *sqlite_open(fixture_t *f, ig_error_t *err)
{
    if (!f->where[0]) snprintf(f->where, sizeof f->where, "%s/icegate.db", f->dir);
    return ig_store_sqlite_open(f->where, err);
}

static void sqlite_teardown(fixture_t *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[600];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", f->where, suffixes[i]);
        unlink(p);
    }
}

/* PostgreSQL (ICEGATE_TEST_PG_DSN, a libpq conninfo): the test's store is the database's public schema,
 * emptied by the first open of each test; every client connects to the same database. */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs sql (constant text, several statements allowed) on a connection of its own; 0 or -1 with msg. */
static int pg_admin(const char *dsn, const char *sql, char *msg, size_t cap)
{
    PGconn *c = PQconnectdb(dsn);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
        PQclear(r);
    }
    if (rc) snprintf(msg, cap, "%s", PQerrorMessage(c));
    PQfinish(c);
    return rc;
}

static ig_store_t *pg_open(fixture_t *f, ig_error_t *err)
{
    if (!f->where[0]) {
        const char *dsn = getenv("ICEGATE_TEST_PG_DSN");
        snprintf(f->where, sizeof f->where, "%s", dsn ? dsn : "");
        char msg[256];
        if (pg_admin(f->where, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;", msg, sizeof msg)) {
            ig_error_set(err, IG_E_INTERNAL, "cannot reset the test database: %s", msg);
            return NULL;
        }
    }
    return ig_store_postgres_open(f->where, 8, err);
}

static void pg_teardown(fixture_t *f)
{
    (void)f; /* the next test's first open empties the schema */
}

/* ---- helpers ---- */

typedef struct {
    int n;
    char names[32][128];
} names_t;

static int collect(void *ud, const char *name)
{
    names_t *c = ud;
    if (c->n < 32) snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
    c->n++;
    return 0;
}

static names_t ns_list(ig_store_t *st, const char *parent, const char *after, int limit, int want_rc)
{
    names_t c;
    memset(&c, 0, sizeof c);
    ig_error_t err;
    int rc = st->ops->ns_list(st, parent, after, limit, collect, &c, &err);
    if (rc != want_rc) fail_msg("ns_list rc %d, want %d (%s)", rc, want_rc, err.message);
    return c;
}

static names_t obj_list(ig_store_t *st, const char *ns, ig_obj_kind_t kind, const char *after, int limit)
{
    names_t c;
    memset(&c, 0, sizeof c);
    ig_error_t err;
    int rc = st->ops->obj_list(st, ns, kind, after, limit, collect, &c, &err);
    if (rc) fail_msg("obj_list: %s", err.message);
    return c;
}

static void ns_create_ok(ig_store_t *st, const char *ns)
{
    ig_error_t err;
    if (st->ops->ns_create(st, ns, NULL, &err)) fail_msg("ns_create: %s", err.message);
}

/* Creates (ns, name) as kind at loc. */
static int obj_create(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *loc,
                      ig_error_t *err)
{
    ig_obj_swap_t w = {ns, name, kind, NULL, loc, NULL, false};
    return st->ops->obj_swap(st, &w, 1, NULL, 0, err);
}

static int obj_cas(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *expected,
                   const char *loc, ig_error_t *err)
{
    ig_obj_swap_t w = {ns, name, kind, expected, loc, NULL, false};
    return st->ops->obj_swap(st, &w, 1, NULL, 0, err);
}

/* The current location of (ns, name) of kind (0 = either), or "" if absent. */
static const char *loc_of(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind)
{
    static char loc[1024];
    ig_error_t err;
    int rc = st->ops->obj_get(st, ns, name, kind, NULL, loc, sizeof loc, &err);
    if (rc < 0) fail_msg("obj_get: %s", err.message);
    if (rc == IG_STORE_NOTFOUND) loc[0] = '\0';
    return loc;
}

/* ---- namespaces ---- */

static void test_ns_create_and_hierarchy(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    assert_int_equal(st->ops->ns_create(st, "db", "{\"owner\":\"x\"}", &err), 0);
    assert_fails(err, st->ops->ns_create(st, "db", NULL, &err), IG_E_ALREADY_EXISTS);
    assert_contains(err.message, "db");

    /* A child needs its parent; the 404 shows the levels joined by dots. */
    assert_fails(err, st->ops->ns_create(st, "nope" SEP "child", NULL, &err), IG_E_NO_SUCH_NAMESPACE);
    assert_contains(err.message, "nope");
    assert_int_equal(st->ops->ns_get(st, "nope" SEP "child", NULL, &err), IG_STORE_NOTFOUND);
    ns_create_ok(st, "db" SEP "raw");
    assert_fails(err, st->ops->ns_create(st, "db" SEP "raw" SEP "x" SEP "y", NULL, &err),
                 IG_E_NO_SUCH_NAMESPACE);
    assert_contains(err.message, "db.raw.x");
    ns_create_ok(st, "db" SEP "raw" SEP "x");
    assert_fails(err, st->ops->ns_create(st, "db" SEP "raw", NULL, &err), IG_E_ALREADY_EXISTS);
    assert_contains(err.message, "db.raw");

    char *props = NULL;
    assert_int_equal(st->ops->ns_get(st, "db", &props, &err), 0);
    assert_string_equal(props, "{\"owner\":\"x\"}");
    free(props);
    props = NULL;
    assert_int_equal(st->ops->ns_get(st, "db" SEP "raw", &props, &err), 0);
    assert_string_equal(props, "{}"); /* NULL properties are stored as {} */
    free(props);
    assert_int_equal(st->ops->ns_get(st, "missing", &props, &err), IG_STORE_NOTFOUND);

    assert_int_equal(st->ops->ns_set_props(st, "db", "{\"a\":\"1\"}", &err), 0);
    props = NULL;
    assert_int_equal(st->ops->ns_get(st, "db", &props, &err), 0);
    assert_string_equal(props, "{\"a\":\"1\"}");
    free(props);
    assert_int_equal(st->ops->ns_set_props(st, "missing", "{}", &err), IG_STORE_NOTFOUND);
}

static void test_ns_list_children_paginated(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    static const char *const all[] = {
        "a", "b", "c", "a" SEP "x", "a" SEP "y", "a" SEP "z", "a" SEP "y" SEP "deep", "ab"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ns_create_ok(st, all[i]);

    names_t c = ns_list(st, NULL, NULL, 0, 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.names[0], "a");
    assert_string_equal(c.names[1], "ab");
    assert_string_equal(c.names[2], "b");
    assert_string_equal(c.names[3], "c");
    c = ns_list(st, "", NULL, 0, 0);
    assert_int_equal(c.n, 4);

    /* Children only (not grandchildren, not "ab" which merely shares a prefix). */
    c = ns_list(st, "a", NULL, 0, 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.names[0], "a" SEP "x");
    assert_string_equal(c.names[1], "a" SEP "y");
    assert_string_equal(c.names[2], "a" SEP "z");
    c = ns_list(st, "a" SEP "y", NULL, 0, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "a" SEP "y" SEP "deep");
    c = ns_list(st, "c", NULL, 0, 0);
    assert_int_equal(c.n, 0);

    /* Pages of 2: the page token is the last name seen. */
    c = ns_list(st, NULL, NULL, 2, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[1], "ab");
    c = ns_list(st, NULL, "ab", 2, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "b");
    assert_string_equal(c.names[1], "c");
    c = ns_list(st, NULL, "c", 2, 0);
    assert_int_equal(c.n, 0);
    c = ns_list(st, "a", "a" SEP "x", 1, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "a" SEP "y");

    /* A missing parent is a 404, not an empty list. */
    names_t none;
    memset(&none, 0, sizeof none);
    ig_error_t err;
    assert_fails(err, st->ops->ns_list(st, "zzz", NULL, 0, collect, &none, &err), IG_E_NO_SUCH_NAMESPACE);
}

/* A warehouse's namespaces carry its tag (store.h): the tag alone is their root, which lists them and only
 * them, and the same names live in another warehouse (or untagged) apart from them. */
static void test_ns_warehouse_tags(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
#define WT "lake\x1d"
    ns_create_ok(st, "db");
    ns_create_ok(st, WT "db");
    ns_create_ok(st, WT "db" SEP "raw");
    ns_create_ok(st, WT "ops");
    ns_create_ok(st, "other\x1d" "db");
    names_t c = ns_list(st, "", NULL, 0, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "db");
    c = ns_list(st, WT, NULL, 0, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], WT "db");
    assert_string_equal(c.names[1], WT "ops");
    c = ns_list(st, WT "db", NULL, 0, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], WT "db" SEP "raw");
    c = ns_list(st, "nowhere\x1d", NULL, 0, 0);
    assert_int_equal(c.n, 0);
    ig_error_t err;
    /* a tagged child needs its tagged parent: the untagged "db" is another namespace */
    assert_fails(err, st->ops->ns_create(st, WT "x" SEP "y", NULL, &err), IG_E_NO_SUCH_NAMESPACE);
    assert_null(strchr(err.message, 0x1d));
    assert_fails(err, st->ops->ns_create(st, WT "db", NULL, &err), IG_E_ALREADY_EXISTS);
    assert_non_null(strstr(err.message, ": db"));
    assert_null(strchr(err.message, 0x1d));
    assert_int_equal(obj_create(st, WT "db", "t", IG_OBJ_TABLE, "s3://b/db/t/m1.json", &err), 0);
    assert_string_equal(loc_of(st, WT "db", "t", IG_OBJ_TABLE), "s3://b/db/t/m1.json");
    assert_string_equal(loc_of(st, "db", "t", IG_OBJ_TABLE), "");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "file:///w/db/t/m1.json", &err), 0);
    assert_fails(err, st->ops->ns_drop(st, WT "db", &err), IG_E_NAMESPACE_NOT_EMPTY);
#undef WT
}

static void test_ns_drop_rules(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "p");
    ns_create_ok(st, "p" SEP "q");
    assert_fails(err, st->ops->ns_drop(st, "p", &err), IG_E_NAMESPACE_NOT_EMPTY);
    assert_int_equal(st->ops->ns_get(st, "p", NULL, &err), 0);

    assert_int_equal(obj_create(st, "p" SEP "q", "t", IG_OBJ_TABLE, "file:///t/1.json", &err), 0);
    assert_fails(err, st->ops->ns_drop(st, "p" SEP "q", &err), IG_E_NAMESPACE_NOT_EMPTY);
    assert_int_equal(st->ops->obj_drop(st, "p" SEP "q", "t", IG_OBJ_TABLE, NULL, 0, &err), 0);

    /* A view counts too. */
    assert_int_equal(obj_create(st, "p" SEP "q", "v", IG_OBJ_VIEW, "file:///v/1.json", &err), 0);
    assert_fails(err, st->ops->ns_drop(st, "p" SEP "q", &err), IG_E_NAMESPACE_NOT_EMPTY);
    assert_int_equal(st->ops->obj_drop(st, "p" SEP "q", "v", IG_OBJ_VIEW, NULL, 0, &err), 0);

    assert_int_equal(st->ops->ns_drop(st, "p" SEP "q", &err), 0);
    assert_int_equal(st->ops->ns_get(st, "p" SEP "q", NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->ns_drop(st, "p", &err), 0);
    assert_int_equal(st->ops->ns_drop(st, "p", &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->ns_drop(st, "never", &err), IG_STORE_NOTFOUND);
    names_t c = ns_list(st, NULL, NULL, 0, 0);
    assert_int_equal(c.n, 0);
}

/* ---- objects ---- */

static void test_obj_create_and_cas(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "L1", &err), 0);
    ig_obj_kind_t k = 0;
    char loc[64];
    assert_int_equal(st->ops->obj_get(st, "db", "t", 0, &k, loc, sizeof loc, &err), 0);
    assert_int_equal(k, IG_OBJ_TABLE);
    assert_string_equal(loc, "L1");
    assert_int_equal(st->ops->obj_get(st, "db", "t", IG_OBJ_VIEW, NULL, loc, sizeof loc, &err),
                     IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->obj_get(st, "db", "u", 0, NULL, loc, sizeof loc, &err), IG_STORE_NOTFOUND);

    /* Creating again: 409 AlreadyExists, location untouched. */
    assert_fails(err, obj_create(st, "db", "t", IG_OBJ_TABLE, "L-other", &err), IG_E_ALREADY_EXISTS);
    assert_string_equal(loc_of(st, "db", "t", 0), "L1");

    /* Compare-and-set: the right base moves the pointer, a stale one is a CommitFailed and moves nothing. */
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_TABLE, "L1", "L2", &err), 0);
    assert_string_equal(loc_of(st, "db", "t", IG_OBJ_TABLE), "L2");
    assert_fails(err, obj_cas(st, "db", "t", IG_OBJ_TABLE, "L1", "L3", &err), IG_E_COMMIT_FAILED);
    assert_contains(err.message, "t");
    assert_string_equal(loc_of(st, "db", "t", 0), "L2");

    /* A commit to a missing table, or to a table as if it were a view: 404 of the right kind. */
    assert_fails(err, obj_cas(st, "db", "nope", IG_OBJ_TABLE, "L1", "L2", &err), IG_E_NO_SUCH_TABLE);
    assert_fails(err, obj_cas(st, "db", "t", IG_OBJ_VIEW, "L2", "L9", &err), IG_E_NO_SUCH_VIEW);
    assert_string_equal(loc_of(st, "db", "t", 0), "L2");

    /* Creating in a missing namespace: 404. */
    assert_fails(err, obj_create(st, "gone", "t", IG_OBJ_TABLE, "L1", &err), IG_E_NO_SUCH_NAMESPACE);
}

static void test_obj_multi_swap_all_or_none(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    ns_create_ok(st, "other");
    assert_int_equal(obj_create(st, "db", "a", IG_OBJ_TABLE, "A1", &err), 0);
    assert_int_equal(obj_create(st, "db", "b", IG_OBJ_TABLE, "B1", &err), 0);

    /* Both right: both move. */
    ig_obj_swap_t ok[2] = {{"db", "a", IG_OBJ_TABLE, "A1", "A2", NULL, false}, {"db", "b", IG_OBJ_TABLE, "B1", "B2", NULL, false}};
    assert_int_equal(st->ops->obj_swap(st, ok, 2, NULL, 0, &err), 0);
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");
    assert_string_equal(loc_of(st, "db", "b", 0), "B2");

    /* The second is stale: the first is rolled back. */
    ig_obj_swap_t bad[2] = {{"db", "a", IG_OBJ_TABLE, "A2", "A3", NULL, false}, {"db", "b", IG_OBJ_TABLE, "B1", "B3", NULL, false}};
    assert_fails(err, st->ops->obj_swap(st, bad, 2, NULL, 0, &err), IG_E_COMMIT_FAILED);
    assert_contains(err.message, "b");
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");
    assert_string_equal(loc_of(st, "db", "b", 0), "B2");

    /* A create followed by a failing swap: the create is rolled back too. */
    ig_obj_swap_t mixed[3] = {{"db", "c", IG_OBJ_TABLE, NULL, "C1", NULL, false},
                              {"other", "d", IG_OBJ_VIEW, NULL, "D1", NULL, false},
                              {"db", "a", IG_OBJ_TABLE, "stale", "A9", NULL, false}};
    assert_fails(err, st->ops->obj_swap(st, mixed, 3, NULL, 0, &err), IG_E_COMMIT_FAILED);
    assert_string_equal(loc_of(st, "db", "c", 0), "");
    assert_string_equal(loc_of(st, "other", "d", 0), "");
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");

    /* ... and a failing create (namespace gone) after a good swap rolls the swap back. */
    ig_obj_swap_t gone[2] = {{"db", "a", IG_OBJ_TABLE, "A2", "A3", NULL, false}, {"nope", "x", IG_OBJ_TABLE, NULL, "X1", NULL, false}};
    assert_fails(err, st->ops->obj_swap(st, gone, 2, NULL, 0, &err), IG_E_NO_SUCH_NAMESPACE);
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");

    /* The same transaction retried with the right bases succeeds, and the store is usable afterwards. */
    mixed[2].expected_location = "A2";
    assert_int_equal(st->ops->obj_swap(st, mixed, 3, NULL, 0, &err), 0);
    assert_string_equal(loc_of(st, "db", "c", IG_OBJ_TABLE), "C1");
    assert_string_equal(loc_of(st, "other", "d", IG_OBJ_VIEW), "D1");
    assert_string_equal(loc_of(st, "db", "a", 0), "A9");
}

/* Pending metadata files ride the swap's transaction: kept when it commits, never when it fails; listed in
 * commit order with their exact bytes (NUL bytes included); forgotten up to a sequence number only. */
typedef struct {
    int n;
    char loc[4][32];
    size_t len[4];
    char first_bytes[4][8];
} pending_seen_t;

static int pending_collect(void *ud, const ig_meta_file_t *f)
{
    pending_seen_t *p = ud;
    if (p->n == 4) return 7;
    snprintf(p->loc[p->n], sizeof p->loc[0], "%s", f->location);
    p->len[p->n] = f->len;
    memcpy(p->first_bytes[p->n], f->body, f->len < 8 ? f->len : 8);
    p->n++;
    return 0;
}

static void test_meta_pending(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    int64_t last = -1;
    pending_seen_t seen = {0};
    ns_create_ok(st, "db");
    assert_int_equal(st->ops->meta_pending_last(st, &last, &err), 0);
    assert_int_equal(last, 0);

    ig_obj_swap_t mk = {"db", "t", IG_OBJ_TABLE, NULL, "L1", NULL, false};
    ig_meta_file_t one[1] = {{"L1", "{\"a\":1}", 7}};
    assert_int_equal(st->ops->obj_swap(st, &mk, 1, one, 1, &err), 0);
    ig_obj_swap_t mv = {"db", "t", IG_OBJ_TABLE, "L1", "L3", NULL, false};
    ig_meta_file_t two[2] = {{"L2", "x\0y", 3}, {"L3", "zz", 2}};
    assert_int_equal(st->ops->obj_swap(st, &mv, 1, two, 2, &err), 0);
    /* A lost race keeps nothing of its files. */
    ig_obj_swap_t stale = {"db", "t", IG_OBJ_TABLE, "L1", "L4", NULL, false};
    ig_meta_file_t lost[1] = {{"L4", "no", 2}};
    assert_fails(err, st->ops->obj_swap(st, &stale, 1, lost, 1, &err), IG_E_COMMIT_FAILED);

    assert_int_equal(st->ops->meta_pending_each(st, pending_collect, &seen, &err), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.loc[0], "L1");
    assert_string_equal(seen.loc[1], "L2");
    assert_string_equal(seen.loc[2], "L3");
    assert_int_equal(seen.len[1], 3);
    assert_memory_equal(seen.first_bytes[1], "x\0y", 3);
    assert_int_equal(st->ops->meta_pending_last(st, &last, &err), 0);
    assert_true(last >= 3);

    /* Forget up to the first: the other two stay, in order; a new one comes after them. */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->meta_pending_done(st, last - 2, &err), 0);
    ig_obj_swap_t mv2 = {"db", "t", IG_OBJ_TABLE, "L3", "L5", NULL, false};
    ig_meta_file_t five[1] = {{"L5", "5", 1}};
    assert_int_equal(st->ops->obj_swap(st, &mv2, 1, five, 1, &err), 0);
    assert_int_equal(st->ops->meta_pending_each(st, pending_collect, &seen, &err), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.loc[0], "L2");
    assert_string_equal(seen.loc[2], "L5");
    /* A callback's non-zero value stops the walk and is returned. */
    seen.n = 4;
    assert_int_equal(st->ops->meta_pending_each(st, pending_collect, &seen, &err), 7);
    assert_int_equal(st->ops->meta_pending_last(st, &last, &err), 0);
    assert_int_equal(st->ops->meta_pending_done(st, last, &err), 0);
    assert_int_equal(st->ops->meta_pending_last(st, &last, &err), 0);
    assert_int_equal(last, 0);
    assert_string_equal(loc_of(st, "db", "t", 0), "L5");
}

/* A drop with purges queues them in its own transaction, in order; a failed drop queues nothing. */
static void test_purge_queue(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    int64_t seq = 0, first;
    char loc[64];
    ns_create_ok(st, "db");
    assert_int_equal(st->ops->purge_next(st, &seq, loc, sizeof loc, &err), IG_STORE_NOTFOUND);
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "L1", &err), 0);
    const char *bases[2] = {"file:///w/db/t/", "file:///w/elsewhere/"};
    assert_int_equal(st->ops->obj_drop(st, "db", "gone", IG_OBJ_TABLE, bases, 2, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->purge_next(st, &seq, loc, sizeof loc, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->obj_drop(st, "db", "t", IG_OBJ_TABLE, bases, 2, &err), 0);
    assert_int_equal(st->ops->purge_next(st, &first, loc, sizeof loc, &err), 0);
    assert_string_equal(loc, "file:///w/db/t/");
    assert_int_equal(st->ops->purge_next(st, &seq, loc, sizeof loc, &err), 0); /* not taken until done */
    assert_int_equal(seq, first);
    assert_int_equal(st->ops->purge_done(st, first, &err), 0);
    assert_int_equal(st->ops->purge_next(st, &seq, loc, sizeof loc, &err), 0);
    assert_string_equal(loc, "file:///w/elsewhere/");
    assert_true(seq > first);
    assert_int_equal(st->ops->purge_done(st, seq, &err), 0);
    assert_int_equal(st->ops->purge_next(st, &seq, loc, sizeof loc, &err), IG_STORE_NOTFOUND);
}

/* Locations are not bounded by the store: a commit on a table whose metadata path is longer than any
 * fixed buffer must still compare the whole string, neither failing forever nor matching on a prefix. */
static void test_obj_cas_long_locations(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    size_t n = 5000;
    char *l1 = malloc(n + 1), *l2 = malloc(n + 1), *prefix_only = malloc(n + 1);
    memset(l1, 'a', n);
    l1[n] = '\0';
    memcpy(l2, l1, n + 1);
    l2[n - 1] = 'b';
    memcpy(prefix_only, l1, n + 1);
    prefix_only[n - 1] = 'z'; /* differs from l1 only in its last byte */
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, l1, &err), 0);
    assert_fails(err, obj_cas(st, "db", "t", IG_OBJ_TABLE, prefix_only, l2, &err), IG_E_COMMIT_FAILED);
    if (obj_cas(st, "db", "t", IG_OBJ_TABLE, l1, l2, &err))
        fail_msg("CAS with the right base: %s", err.message);
    char *loc = malloc(n + 16);
    assert_int_equal(st->ops->obj_get(st, "db", "t", 0, NULL, loc, n + 16, &err), 0);
    assert_string_equal(loc, l2);
    free(loc);
    free(l1);
    free(l2);
    free(prefix_only);
}

static void test_tables_and_views_share_names(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "T1", &err), 0);
    assert_int_equal(obj_create(st, "db", "v", IG_OBJ_VIEW, "V1", &err), 0);
    assert_fails(err, obj_create(st, "db", "t", IG_OBJ_VIEW, "V2", &err), IG_E_ALREADY_EXISTS);
    assert_contains(err.message, "Table with same name");
    assert_fails(err, obj_create(st, "db", "v", IG_OBJ_TABLE, "T2", &err), IG_E_ALREADY_EXISTS);
    assert_contains(err.message, "View with same name");
    assert_string_equal(loc_of(st, "db", "t", IG_OBJ_TABLE), "T1");
    assert_string_equal(loc_of(st, "db", "v", IG_OBJ_VIEW), "V1");

    /* Lists are per kind. */
    names_t c = obj_list(st, "db", IG_OBJ_TABLE, NULL, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "t");
    c = obj_list(st, "db", IG_OBJ_VIEW, NULL, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "v");

    /* Dropping with the wrong kind finds nothing and drops nothing. */
    assert_int_equal(st->ops->obj_drop(st, "db", "t", IG_OBJ_VIEW, NULL, 0, &err), IG_STORE_NOTFOUND);
    assert_string_equal(loc_of(st, "db", "t", 0), "T1");
    /* Renaming a view onto a table's name: 409. */
    assert_fails(err, st->ops->obj_rename(st, "db", "v", "db", "t", IG_OBJ_VIEW, &err), IG_E_ALREADY_EXISTS);
    assert_string_equal(loc_of(st, "db", "v", IG_OBJ_VIEW), "V1");
}

static void test_obj_list_paginated(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    ns_create_ok(st, "db" SEP "sub");
    static const char *const names[] = {"e", "b", "d", "a", "c"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(obj_create(st, "db", names[i], IG_OBJ_TABLE, "L", &err), 0);
    assert_int_equal(obj_create(st, "db" SEP "sub", "z", IG_OBJ_TABLE, "L", &err), 0);
    names_t c = obj_list(st, "db", IG_OBJ_TABLE, NULL, 0);
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++) {
        char want[2] = {(char)('a' + i), 0};
        assert_string_equal(c.names[i], want);
    }
    c = obj_list(st, "db", IG_OBJ_TABLE, NULL, 2);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[1], "b");
    c = obj_list(st, "db", IG_OBJ_TABLE, "b", 2);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "c");
    assert_string_equal(c.names[1], "d");
    c = obj_list(st, "db", IG_OBJ_TABLE, "d", 2);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "e");
    c = obj_list(st, "db", IG_OBJ_VIEW, NULL, 0);
    assert_int_equal(c.n, 0);
    names_t none;
    memset(&none, 0, sizeof none);
    assert_fails(err, st->ops->obj_list(st, "missing", IG_OBJ_TABLE, NULL, 0, collect, &none, &err),
                 IG_E_NO_SUCH_NAMESPACE);
}

static void test_obj_rename_and_drop(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    ns_create_ok(st, "arch");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "T1", &err), 0);
    assert_int_equal(obj_create(st, "db", "u", IG_OBJ_TABLE, "U1", &err), 0);

    assert_fails(err, st->ops->obj_rename(st, "db", "t", "db", "u", IG_OBJ_TABLE, &err), IG_E_ALREADY_EXISTS);
    assert_fails(err, st->ops->obj_rename(st, "db", "t", "gone", "t", IG_OBJ_TABLE, &err),
                 IG_E_NO_SUCH_NAMESPACE);
    assert_fails(err, st->ops->obj_rename(st, "db", "nope", "db", "x", IG_OBJ_TABLE, &err),
                 IG_E_NO_SUCH_TABLE);
    assert_fails(err, st->ops->obj_rename(st, "db", "t", "db", "x", IG_OBJ_VIEW, &err), IG_E_NO_SUCH_VIEW);
    assert_string_equal(loc_of(st, "db", "t", 0), "T1");
    assert_string_equal(loc_of(st, "db", "u", 0), "U1");

    /* Across namespaces, keeping the location and kind. */
    assert_int_equal(st->ops->obj_rename(st, "db", "t", "arch", "t2", IG_OBJ_TABLE, &err), 0);
    assert_string_equal(loc_of(st, "db", "t", 0), "");
    assert_string_equal(loc_of(st, "arch", "t2", IG_OBJ_TABLE), "T1");
    /* The old name is free again. */
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_VIEW, "V1", &err), 0);
    /* A commit against the old name no longer reaches the renamed table. */
    assert_fails(err, obj_cas(st, "db", "t", IG_OBJ_TABLE, "T1", "T2", &err), IG_E_NO_SUCH_TABLE);
    assert_string_equal(loc_of(st, "arch", "t2", 0), "T1");

    assert_int_equal(st->ops->obj_drop(st, "arch", "t2", IG_OBJ_TABLE, NULL, 0, &err), 0);
    assert_int_equal(st->ops->obj_drop(st, "arch", "t2", IG_OBJ_TABLE, NULL, 0, &err), IG_STORE_NOTFOUND);
    assert_string_equal(loc_of(st, "arch", "t2", 0), "");
    assert_int_equal(st->ops->ns_drop(st, "arch", &err), 0);
}

/* N threads commit against the same base at once: exactly one wins each round. */
#define RACERS 4
#define ROUNDS 25

typedef struct {
    ig_store_t *st;
    pthread_barrier_t go;
    char base[64];
    atomic_int wins, conflicts, other;
} race_t;

typedef struct {
    race_t *r;
    int id;
} racer_arg_t;

static void *racer(void *arg)
{
    racer_arg_t *a = arg;
    race_t *r = a->r;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&r->go);
        char next[64];
        snprintf(next, sizeof next, "R%d-T%d", round, a->id);
        ig_error_t err;
        int rc = obj_cas(r->st, "db", "hot", IG_OBJ_TABLE, r->base, next, &err);
        if (rc == 0)
            atomic_fetch_add(&r->wins, 1);
        else if (err.kind == IG_E_COMMIT_FAILED)
            atomic_fetch_add(&r->conflicts, 1);
        else
            atomic_fetch_add(&r->other, 1);
        pthread_barrier_wait(&r->go); /* main reads the winner into base */
        pthread_barrier_wait(&r->go);
    }
    return NULL;
}

static void test_obj_cas_race(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ns_create_ok(f->st, "db");
    assert_int_equal(obj_create(f->st, "db", "hot", IG_OBJ_TABLE, "R-start", &err), 0);
    race_t *r = calloc(1, sizeof *r);
    r->st = f->st;
    snprintf(r->base, sizeof r->base, "R-start");
    pthread_barrier_init(&r->go, NULL, RACERS + 1);
    pthread_t t[RACERS];
    racer_arg_t args[RACERS];
    for (int i = 0; i < RACERS; i++) {
        args[i] = (racer_arg_t){r, i};
        assert_int_equal(pthread_create(&t[i], NULL, racer, &args[i]), 0);
    }
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&r->go);
        pthread_barrier_wait(&r->go);
        const char *now = loc_of(f->st, "db", "hot", IG_OBJ_TABLE);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "R%d-T", round);
        if (strncmp(now, prefix, strlen(prefix)) != 0) fail_msg("round %d: location %s", round, now);
        snprintf(r->base, sizeof r->base, "%s", now);
        pthread_barrier_wait(&r->go);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r->wins), ROUNDS);
    assert_int_equal(atomic_load(&r->conflicts), ROUNDS * (RACERS - 1));
    assert_int_equal(atomic_load(&r->other), 0);
    pthread_barrier_destroy(&r->go);
    free(r);
}

/* ---- tokens and users at the store level ---- */

static void token_row(ig_token_row_t *t, const char *id, const char *name, const char *owner, unsigned char h)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->owner, sizeof t->owner, "%s", owner);
    snprintf(t->prefix, sizeof t->prefix, "igt_abcd");
    memset(t->hash, h, sizeof t->hash);
    t->created_at_ms = t->updated_at_ms = 1000 + h;
}

typedef struct {
    int n, deleted;
    int64_t seqs[8];
} feed_t;

static int feed_cb(void *ud, const ig_token_row_t *t)
{
    feed_t *f = ud;
    if (f->n < 8) f->seqs[f->n] = t->seq;
    f->n++;
    f->deleted += t->deleted;
    return 0;
}

static void test_token_rows_and_change_feed(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ig_token_row_t a, b, got;
    token_row(&a, "tok_a", "n", "alice", 1);
    token_row(&b, "tok_b", "n", "alice", 2);
    assert_int_equal(st->ops->token_insert(st, &a, NULL, &err), 0);
    assert_fails(err, st->ops->token_insert(st, &b, NULL, &err), IG_E_ALREADY_EXISTS); /* same owner, same name */
    snprintf(b.owner, sizeof b.owner, "bob");
    assert_int_equal(st->ops->token_insert(st, &b, NULL, &err), 0);
    assert_true(b.seq > a.seq);

    assert_int_equal(st->ops->token_get(st, "tok_a", &got, &err), 0);
    assert_memory_equal(got.hash, a.hash, 32);
    assert_string_equal(got.owner, "alice");
    assert_int_equal(got.seq, a.seq);
    assert_false(got.deleted);

    /* Touch records last use without moving the change sequence, and never goes backwards. */
    ig_token_usage_t u = {"tok_a", 5000, "10.0.0.1"};
    assert_int_equal(st->ops->token_touch(st, &u, 1, &err), 0);
    ig_token_usage_t older = {"tok_a", 4000, "10.0.0.2"};
    assert_int_equal(st->ops->token_touch(st, &older, 1, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_a", &got, &err), 0);
    assert_int_equal(got.last_used_at_ms, 5000);
    assert_string_equal(got.last_used_ip, "10.0.0.1");
    assert_int_equal(got.seq, a.seq);

    int64_t mark = b.seq, del_seq = 0;
    assert_int_equal(st->ops->token_delete(st, "tok_a", 9000, &del_seq, NULL, &err), 0);
    assert_true(del_seq > b.seq); /* the tombstone gets the next sequence */
    assert_int_equal(st->ops->token_delete(st, "tok_a", 9000, &del_seq, NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->token_get(st, "tok_a", &got, &err), IG_STORE_NOTFOUND);
    got = a;
    assert_int_equal(st->ops->token_update(st, &got, NULL, &err), IG_STORE_NOTFOUND);

    /* A first load skips tombstones; a later poll sees them. */
    feed_t feed = {0};
    int64_t max = -1;
    assert_int_equal(st->ops->token_changes(st, 0, feed_cb, &feed, &max, &err), 0);
    assert_int_equal(feed.n, 1);
    assert_int_equal(feed.deleted, 0);
    assert_int_equal(max,
                     mark); /* the tombstone's seq is not seen yet: the next poll replays it, harmlessly */
    memset(&feed, 0, sizeof feed);
    int64_t max2 = -1;
    assert_int_equal(st->ops->token_changes(st, mark, feed_cb, &feed, &max2, &err), 0);
    assert_int_equal(feed.n, 1);
    assert_int_equal(feed.deleted, 1);
    assert_int_equal(max2, mark + 1);
    memset(&feed, 0, sizeof feed);
    int64_t max3 = -1;
    assert_int_equal(st->ops->token_changes(st, max2, feed_cb, &feed, &max3, &err), 0);
    assert_int_equal(feed.n, 0);
    assert_int_equal(max3, max2);

    /* After the delete, alice may reuse the name. */
    token_row(&a, "tok_c", "n", "alice", 3);
    assert_int_equal(st->ops->token_insert(st, &a, NULL, &err), 0);
}

/* token_update is a compare-and-set on the seq the caller read: a write based on an old read is STALE and
 * changes nothing (else a concurrent suspend could be overwritten with suspended=false). */
static void test_token_update_is_cas(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ig_token_row_t t, r1, r2;
    token_row(&t, "tok_s", "s", "alice", 4);
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r1, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r2, &err), 0);
    r1.suspended = true;
    assert_int_equal(st->ops->token_update(st, &r1, NULL, &err), 0);
    assert_true(r1.seq > r2.seq);
    snprintf(r2.name, sizeof r2.name, "renamed");
    assert_int_equal(st->ops->token_update(st, &r2, NULL, &err), IG_STORE_STALE);
    ig_token_row_t now;
    assert_int_equal(st->ops->token_get(st, "tok_s", &now, &err), 0);
    assert_true(now.suspended);
    assert_string_equal(now.name, "s");
    assert_int_equal(now.seq, r1.seq);
    /* Redone on a fresh read, it goes through. */
    snprintf(now.name, sizeof now.name, "renamed");
    assert_int_equal(st->ops->token_update(st, &now, NULL, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r2, &err), 0);
    assert_true(r2.suspended);
    assert_string_equal(r2.name, "renamed");
    /* A deleted token is NOTFOUND, not STALE. */
    int64_t del_seq;
    assert_int_equal(st->ops->token_delete(st, "tok_s", 1, &del_seq, NULL, &err), 0);
    assert_int_equal(st->ops->token_update(st, &r2, NULL, &err), IG_STORE_NOTFOUND);
}

typedef struct {
    const char *id;
    ig_token_row_t row;
    int seen;
} find_row_t;

static int find_row_cb(void *ud, const ig_token_row_t *t)
{
    find_row_t *f = ud;
    if (strcmp(t->id, f->id) == 0) {
        f->row = *t;
        f->seen++;
    }
    return 0;
}

static void assert_setters(const ig_token_row_t *t, ig_set_by_t susp, const char *user, ig_set_by_t rps)
{
    assert_int_equal(t->suspended_by_role, susp);
    assert_string_equal(t->suspended_by, user);
    assert_int_equal(t->max_rps_set_by, rps);
}

/* Who suspended a token and who set its Max RPS (hardening item 12: a member may not lift an admin's) are
 * kept by insert and update and read back by get, list and the change feed the token table loads from. */
static void test_token_setters_kept(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ig_token_row_t t, got;
    token_row(&t, "tok_w", "w", "mel", 5);
    t.max_rps = 5;
    t.max_rps_set_by = IG_SET_BY_ADMIN;
    t.suspended = true;
    t.suspended_at_ms = 2000;
    t.suspended_by_role = IG_SET_BY_ADMIN;
    snprintf(t.suspended_by, sizeof t.suspended_by, "alice");
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_w", &got, &err), 0);
    assert_setters(&got, IG_SET_BY_ADMIN, "alice", IG_SET_BY_ADMIN);

    got.suspended_by_role = IG_SET_BY_MEMBER;
    snprintf(got.suspended_by, sizeof got.suspended_by, "mel");
    got.max_rps_set_by = IG_SET_BY_MEMBER;
    assert_int_equal(st->ops->token_update(st, &got, NULL, &err), 0);
    find_row_t fr;
    memset(&fr, 0, sizeof fr);
    fr.id = "tok_w";
    assert_int_equal(st->ops->token_list(st, "mel", find_row_cb, &fr, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_setters(&fr.row, IG_SET_BY_MEMBER, "mel", IG_SET_BY_MEMBER);
    int64_t max = 0;
    fr.seen = 0;
    assert_int_equal(st->ops->token_changes(st, 0, find_row_cb, &fr, &max, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_setters(&fr.row, IG_SET_BY_MEMBER, "mel", IG_SET_BY_MEMBER);

    /* Unknown and "" are stored as nothing and read back as such. */
    got.suspended = false;
    got.suspended_by_role = IG_SET_BY_UNKNOWN;
    got.suspended_by[0] = '\0';
    got.max_rps_set_by = IG_SET_BY_UNKNOWN;
    assert_int_equal(st->ops->token_update(st, &got, NULL, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_w", &t, &err), 0);
    assert_setters(&t, IG_SET_BY_UNKNOWN, "", IG_SET_BY_UNKNOWN);
}

/* A token's narrowing fields (scopes, allowedCidrs, namespaces, rateLimitMode) are written and read back as
 * they are, on insert, update and the change feed; "" (everything) stays "". */
static void test_token_access_fields_kept(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ig_token_row_t t, got;
    token_row(&t, "tok_n", "n", "mel", 5);
    t.scopes = IG_SCOPE_READ;
    snprintf(t.allowed_cidrs, sizeof t.allowed_cidrs, "10.0.0.0/8");
    snprintf(t.namespaces, sizeof t.namespaces, "analytics\x1eraw\x1f" "events");
    t.rate_limit_shadow = true;
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_n", &got, &err), 0);
    assert_int_equal(got.scopes, IG_SCOPE_READ);
    assert_string_equal(got.allowed_cidrs, "10.0.0.0/8");
    assert_string_equal(got.namespaces, "analytics\x1eraw\x1f" "events");
    assert_true(got.rate_limit_shadow);
    got.namespaces[0] = '\0';
    got.allowed_cidrs[0] = '\0';
    assert_int_equal(st->ops->token_update(st, &got, NULL, &err), 0);
    find_row_t fr;
    memset(&fr, 0, sizeof fr);
    fr.id = "tok_n";
    int64_t max = 0;
    assert_int_equal(st->ops->token_changes(st, 0, find_row_cb, &fr, &max, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_string_equal(fr.row.namespaces, "");
    assert_string_equal(fr.row.allowed_cidrs, "");
    assert_true(fr.row.rate_limit_shadow);
}

/* changed() is the cheap poll the server's refresher runs: another client's commit shows up once. */
static void test_changed_sees_other_connections(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ig_store_t *other = f->be->open(f, &err);
    assert_non_null(other);
    f->st->ops->changed(f->st);
    assert_int_equal(f->st->ops->changed(f->st), 0);
    ns_create_ok(other, "from-other");
    assert_int_equal(f->st->ops->changed(f->st), 1);
    assert_int_equal(f->st->ops->changed(f->st), 0);
    assert_int_equal(f->st->ops->ns_get(f->st, "from-other", NULL, &err), 0);
    ig_store_close(other);
}

static void test_users(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    int64_t n = -1;
    assert_int_equal(st->ops->user_count(st, &n, &err), 0);
    assert_int_equal(n, 0);
    ig_user_t u = {"admin", IG_ROLE_ADMIN, "$argon2id$x", 42};
    assert_int_equal(st->ops->user_insert(st, &u, NULL, &err), 0);
    assert_fails(err, st->ops->user_insert(st, &u, NULL, &err), IG_E_ALREADY_EXISTS);
    ig_user_t m = {"mia", IG_ROLE_MEMBER, "$argon2id$y", 43};
    assert_int_equal(st->ops->user_insert(st, &m, NULL, &err), 0);
    ig_user_t got;
    assert_int_equal(st->ops->user_get(st, "admin", &got, &err), 0);
    assert_int_equal(got.role, IG_ROLE_ADMIN);
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_int_equal(got.created_at_ms, 42);
    assert_int_equal(st->ops->user_get(st, "mia", &got, &err), 0);
    assert_int_equal(got.role, IG_ROLE_MEMBER);
    assert_int_equal(st->ops->user_set_password(st, "mia", "$argon2id$z", NULL, &err), 0);
    assert_int_equal(st->ops->user_get(st, "mia", &got, &err), 0);
    assert_string_equal(got.password_hash, "$argon2id$z");
    assert_int_equal(st->ops->user_set_password(st, "nobody", "h", NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->user_get(st, "nobody", &got, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->user_count(st, &n, &err), 0);
    assert_int_equal(n, 2);
}

/* token_list: live tokens only, of one owner or all, in creation order; a callback's non-zero stops it. */
typedef struct {
    int n, stop_after;
    char ids[8][IG_ID_MAX];
} ids_t;

static int ids_cb(void *ud, const ig_token_row_t *t)
{
    ids_t *c = ud;
    if (c->n < 8) snprintf(c->ids[c->n], sizeof c->ids[0], "%s", t->id);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_token_list(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    ig_token_row_t t;
    /* Inserted out of creation order (created_at_ms is 1000 + the last argument). */
    token_row(&t, "tok_3", "three", "alice", 30);
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    token_row(&t, "tok_1", "one", "alice", 10);
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    token_row(&t, "tok_2", "two", "bob", 20);
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    token_row(&t, "tok_4", "four", "alice", 40);
    assert_int_equal(st->ops->token_insert(st, &t, NULL, &err), 0);
    int64_t del_seq;
    assert_int_equal(st->ops->token_delete(st, "tok_4", 9000, &del_seq, NULL, &err), 0);

    ids_t c = {0};
    assert_int_equal(st->ops->token_list(st, NULL, ids_cb, &c, &err), 0);
    assert_int_equal(c.n, 3); /* the deleted one is not listed */
    assert_string_equal(c.ids[0], "tok_1");
    assert_string_equal(c.ids[1], "tok_2");
    assert_string_equal(c.ids[2], "tok_3");
    memset(&c, 0, sizeof c);
    assert_int_equal(st->ops->token_list(st, "alice", ids_cb, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "tok_1");
    assert_string_equal(c.ids[1], "tok_3");
    memset(&c, 0, sizeof c);
    assert_int_equal(st->ops->token_list(st, "nobody", ids_cb, &c, &err), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    assert_int_equal(st->ops->token_list(st, NULL, ids_cb, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "tok_1");
}

/* Creates (ns, name) as kind with its location base (trailing '/'), the overlap checked. */
static int obj_create_at(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *base,
                         ig_error_t *err)
{
    char loc[256];
    snprintf(loc, sizeof loc, "%smetadata/00000-x.metadata.json", base);
    ig_obj_swap_t w = {ns, name, kind, NULL, loc, base, true};
    return st->ops->obj_swap(st, &w, 1, NULL, 0, err);
}

/* obj_overlap: equal, inside or above, byte-wise over tables and views alike; no wildcard, no character
 * semantics; t1/ is not inside t/. */
static void test_obj_overlap(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    char who[256];
    ns_create_ok(st, "db");
    static const char *const bases[] = {"file:///wh/db/t1/", "file:///wh/a_b/t/", "file:///wh/\xc3\xa9t\xc3\xa9/t/"};
    char name[8];
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        snprintf(name, sizeof name, "t%zu", i);
        assert_int_equal(obj_create_at(st, "db", name, IG_OBJ_TABLE, bases[i], &err), 0);
    }
    assert_int_equal(obj_create_at(st, "db", "v", IG_OBJ_VIEW, "file:///wh/db/v/", &err), 0);
    static const struct {
        const char *base;
        int overlaps;
    } cases[] = {
        {"file:///wh/db/t1/", 1},          {"file:///wh/db/t1/data/", 1}, /* inside */
        {"file:///wh/db/", 1},             {"file:///wh/", 1},            /* above */
        {"file:///wh/db/t10/", 0},         {"file:///wh/db/t/", 0},       /* neighbours */
        {"file:///wh/aXb/t/", 0},          {"file:///wh/a%/", 0},         /* '_', '%': no wildcards */
        {"file:///wh/\xc3\xa9t\xc3\xa9/", 1}, {"file:///wh/ete/", 0},     /* no accent folding */
        {"FILE:///wh/db/", 0},             {"file:///other/", 0},        /* nor case folding */
        {"file:///wh/db/v/x/", 1},         /* views count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int o = st->ops->obj_overlap(st, cases[i].base, NULL, NULL, who, sizeof who, &err);
        if (o != cases[i].overlaps) fail_msg("overlap of \"%s\": %d, want %d", cases[i].base, o, cases[i].overlaps);
    }
    /* The one it names, with the namespace shown with dots; an object never overlaps itself. */
    assert_int_equal(st->ops->obj_overlap(st, "file:///wh/db/t1/x/", NULL, NULL, who, sizeof who, &err), 1);
    assert_string_equal(who, "table db.t0 at file:///wh/db/t1");
    assert_int_equal(st->ops->obj_overlap(st, "file:///wh/db/t1/x/", "db", "t0", who, sizeof who, &err), 0);
    /* A create there is refused, naming the table and the setting; nothing is created. */
    assert_fails(err, obj_create_at(st, "db", "n", IG_OBJ_TABLE, "file:///wh/db/t1/n/", &err), IG_E_ALREADY_EXISTS);
    assert_contains(err.message, "table db.t0 at file:///wh/db/t1");
    assert_contains(err.message, "catalog.allow_location_overlap");
    assert_string_equal(loc_of(st, "db", "n", 0), "");
    /* Unchecked (catalog.allow_location_overlap), it is created. */
    ig_obj_swap_t w = {"db", "n", IG_OBJ_TABLE, NULL, "file:///wh/db/t1/n/metadata/1.json", "file:///wh/db/t1/n/", false};
    assert_int_equal(st->ops->obj_swap(st, &w, 1, NULL, 0, &err), 0);
    assert_int_equal(st->ops->obj_drop(st, "db", "n", IG_OBJ_TABLE, NULL, 0, &err), 0);
    /* A drop frees the location. */
    assert_int_equal(st->ops->obj_drop(st, "db", "t0", IG_OBJ_TABLE, NULL, 0, &err), 0);
    assert_int_equal(st->ops->obj_overlap(st, "file:///wh/db/t1/", NULL, NULL, who, sizeof who, &err), 0);
}

/* A set-location keeps the earlier location (files may still be there) until the drop; a rename takes the
 * locations along. */
static void test_obj_bases_follow(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    char who[256];
    ns_create_ok(st, "db");
    ns_create_ok(st, "db2");
    assert_int_equal(obj_create_at(st, "db", "a", IG_OBJ_TABLE, "file:///wh/db/a/", &err), 0);
    const char *cur = loc_of(st, "db", "a", 0);
    char was[256];
    snprintf(was, sizeof was, "%s", cur);
    ig_obj_swap_t mv = {"db", "a", IG_OBJ_TABLE, was, "file:///wh/moved/metadata/1.json", "file:///wh/moved/", true};
    assert_int_equal(st->ops->obj_swap(st, &mv, 1, NULL, 0, &err), 0);
    /* A commit that keeps its location adds nothing, and is not checked against itself. */
    ig_obj_swap_t again = {"db", "a", IG_OBJ_TABLE, "file:///wh/moved/metadata/1.json",
                           "file:///wh/moved/metadata/2.json", "file:///wh/moved/", true};
    assert_int_equal(st->ops->obj_swap(st, &again, 1, NULL, 0, &err), 0);
    names_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(st->ops->obj_bases(st, "db", "a", collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "file:///wh/db/a/");
    assert_string_equal(c.names[1], "file:///wh/moved/");
    /* The old folder is still the table's: another table may not move in. */
    assert_fails(err, obj_create_at(st, "db", "c", IG_OBJ_TABLE, "file:///wh/db/a/", &err), IG_E_ALREADY_EXISTS);
    assert_int_equal(st->ops->obj_rename(st, "db", "a", "db2", "b", IG_OBJ_TABLE, &err), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(st->ops->obj_bases(st, "db", "a", collect, &c, &err), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(st->ops->obj_bases(st, "db2", "b", collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(st->ops->obj_overlap(st, "file:///wh/db/a/", NULL, NULL, who, sizeof who, &err), 1);
    assert_string_equal(who, "table db2.b at file:///wh/db/a");
    assert_int_equal(st->ops->obj_drop(st, "db2", "b", IG_OBJ_TABLE, NULL, 0, &err), 0);
    assert_int_equal(st->ops->obj_overlap(st, "file:///wh/", NULL, NULL, who, sizeof who, &err), 0);
}

/* Idempotency keys: the first stored response wins, lookups honour since_ms, a put drops entries older than
 * expire_before_ms, and the body comes back byte for byte (owned by the caller). */
static ig_idem_t idem(const char *key, const char *principal, int status, const char *body, int64_t created)
{
    ig_idem_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.key, sizeof e.key, "%s", key);
    snprintf(e.principal, sizeof e.principal, "%s", principal);
    snprintf(e.request, sizeof e.request, "POST /v1/namespaces");
    e.status = status;
    e.body = (char *)body;
    e.body_len = strlen(body);
    e.created_at_ms = created;
    return e;
}

static void test_idempotency_keys(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    static const char k1[] = "0b9e7c3a-5d1f-4c2e-9a8b-7f6e5d4c3b2a";
    static const char k2[] = "1c0f8d4b-6e2a-4d3f-8b9c-8a7f6e5d4c3b";
    ig_idem_t got;
    memset(&got, 0, sizeof got);
    assert_int_equal(st->ops->idem_get(st, k1, 0, &got, &err), IG_STORE_NOTFOUND);

    ig_idem_t first = idem(k1, "alice", 200, "{\"namespace\":[\"a\"]}", 10000);
    assert_int_equal(st->ops->idem_put(st, &first, 0, 1000, 1 << 20, &err), 0);
    ig_idem_t second = idem(k1, "alice", 409, "{\"error\":{}}", 10500);
    /* not an error: the first one stays */
    assert_int_equal(st->ops->idem_put(st, &second, 0, 1000, 1 << 20, &err), 0);
    assert_int_equal(st->ops->idem_get(st, k1, 0, &got, &err), 0);
    assert_string_equal(got.key, k1);
    assert_string_equal(got.principal, "alice");
    assert_string_equal(got.request, "POST /v1/namespaces");
    assert_int_equal(got.status, 200);
    assert_int_equal(got.body_len, strlen(first.body));
    assert_memory_equal(got.body, first.body, got.body_len);
    assert_int_equal(got.created_at_ms, 10000);
    free(got.body);

    /* since_ms: an entry older than the lifetime is not answered (10000 < 10001). */
    assert_int_equal(st->ops->idem_get(st, k1, 10000, &got, &err), 0);
    free(got.body);
    assert_int_equal(st->ops->idem_get(st, k1, 10001, &got, &err), IG_STORE_NOTFOUND);

    /* A later put expires what was created before expire_before_ms, and keeps its own entry. */
    ig_idem_t later = idem(k2, "bob", 204, "", 20000);
    assert_int_equal(st->ops->idem_put(st, &later, 15000, 1000, 1 << 20, &err), 0);
    assert_int_equal(st->ops->idem_get(st, k1, 0, &got, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->idem_get(st, k2, 0, &got, &err), 0);
    assert_string_equal(got.principal, "bob");
    assert_int_equal(got.status, 204);
    assert_int_equal(got.body_len, 0);
    assert_non_null(got.body);
    free(got.body);
    /* The expired key is free again. */
    ig_idem_t again = idem(k1, "carol", 409, "{\"error\":{}}", 21000);
    assert_int_equal(st->ops->idem_put(st, &again, 15000, 1000, 1 << 20, &err), 0);
    assert_int_equal(st->ops->idem_get(st, k1, 0, &got, &err), 0);
    assert_string_equal(got.principal, "carol");
    assert_int_equal(got.status, 409);
    free(got.body);
}

/* The store never holds more than max_entries entries nor max_bytes of bodies: the oldest go first. */
static void test_idempotency_bounded(void **state)
{
    fixture_t *f = *state;
    ig_store_t *st = f->st;
    ig_error_t err;
    char keys[6][37], body[101];
    memset(body, 'x', 100);
    body[100] = '\0';
    for (int i = 0; i < 6; i++) {
        memcpy(keys[i], "00000000-0000-4000-8000-000000000000", 37);
        keys[i][35] = (char)('0' + i);
        ig_idem_t e = idem(keys[i], "alice", 200, body, 1000 + i);
        assert_int_equal(st->ops->idem_put(st, &e, 0, 4, 1 << 20, &err), 0);
    }
    ig_idem_t got;
    for (int i = 0; i < 6; i++) {
        int rc = st->ops->idem_get(st, keys[i], 0, &got, &err);
        assert_int_equal(rc, i < 2 ? IG_STORE_NOTFOUND : 0); /* 4 entries at most: the 2 oldest went */
        if (rc == 0) free(got.body);
    }
    /* 250 bytes of bodies at most: only the two newest 100-byte ones fit */
    ig_idem_t e = idem("11111111-0000-4000-8000-000000000000", "alice", 200, body, 2000);
    assert_int_equal(st->ops->idem_put(st, &e, 0, 4, 250, &err), 0);
    assert_int_equal(st->ops->idem_get(st, keys[4], 0, &got, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->idem_get(st, keys[5], 0, &got, &err), 0);
    free(got.body);
    assert_int_equal(st->ops->idem_get(st, e.key, 0, &got, &err), 0);
    free(got.body);
}

/* Closing every client and opening again (a restart) loses nothing, and the change sequence continues. */
static void reopen(fixture_t *f)
{
    ig_error_t err;
    ig_store_close(f->st);
    f->st = f->be->open(f, &err);
    if (!f->st) fail_msg("reopen: %s", err.message);
}

static void test_reopen_keeps_data(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ns_create_ok(f->st, "kept");
    assert_int_equal(obj_create(f->st, "kept", "t", IG_OBJ_TABLE, "K1", &err), 0);
    ig_token_row_t t;
    token_row(&t, "tok_k", "k", "alice", 7);
    assert_int_equal(f->st->ops->token_insert(f->st, &t, NULL, &err), 0);
    for (int i = 0; i < 2; i++) { /* reopening twice loses nothing */
        reopen(f);
        assert_string_equal(loc_of(f->st, "kept", "t", IG_OBJ_TABLE), "K1");
        ig_token_row_t got;
        assert_int_equal(f->st->ops->token_get(f->st, "tok_k", &got, &err), 0);
        assert_int_equal(got.seq, t.seq);
    }
    /* The change sequence continues where it was. */
    ig_token_row_t t2;
    token_row(&t2, "tok_k2", "k2", "alice", 8);
    assert_int_equal(f->st->ops->token_insert(f->st, &t2, NULL, &err), 0);
    assert_true(t2.seq > t.seq);
}

/* ---- SQLite only: the schema_version table, the file on disk ---- */

static int64_t scalar(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* What migration 7 made, undone, to go back to an older schema. */
#define JOURNAL_DROP "DROP TABLE audit; DROP TABLE events; DROP TABLE token_notices; DROP TABLE meta_pending; DROP TABLE purges;"
/* The token columns migrations 5 and later added, dropped to take a data dir back to schema 4 or older. */
#define TOKEN_COLUMNS_SINCE_5                                                                                     \
    "ALTER TABLE tokens DROP COLUMN namespaces;"                                                                  \
    "ALTER TABLE tokens DROP COLUMN rate_limit_mode; ALTER TABLE tokens DROP COLUMN allowed_cidrs;"              \
    "ALTER TABLE tokens DROP COLUMN scopes; ALTER TABLE tokens DROP COLUMN prev_hash;"                          \
    "ALTER TABLE tokens DROP COLUMN prev_valid_until; ALTER TABLE tokens DROP COLUMN rotated_at;"              \
    "ALTER TABLE tokens DROP COLUMN suspended_by_role; ALTER TABLE tokens DROP COLUMN suspended_by;"           \
    "ALTER TABLE tokens DROP COLUMN max_rps_set_by;"

static void exec_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static void test_sqlite_migrations_run_once(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ns_create_ok(f->st, "kept");
    assert_int_equal(obj_create(f->st, "kept", "t", IG_OBJ_TABLE, "K1", &err), 0);
    ig_store_close(f->st);
    f->st = NULL;
    /* 1: tokens and catalog, 2: idempotency keys, 3: their totals, 4: locations, 5: who suspended / set a Max
     * RPS, 6: rotation, 7: audit log, event outbox, expiry notices, 8: scopes, 9: allowedCidrs, 10: rateLimitMode, 11: namespaces,
     * 12: pending metadata files, 13: queued purges */
    assert_int_equal(scalar(f->where, "SELECT MAX(version) FROM schema_version"), 13);
    for (int i = 0; i < 2; i++) { /* reopening twice migrates nothing */
        f->st = ig_store_sqlite_open(f->where, &err);
        assert_non_null(f->st);
        assert_string_equal(loc_of(f->st, "kept", "t", IG_OBJ_TABLE), "K1");
        ig_store_close(f->st);
        f->st = NULL;
    }
    /* one row per migration, none added by reopening */
    assert_int_equal(scalar(f->where, "SELECT COUNT(*) FROM schema_version"), 13);
}

/* Migration 4 gives the objects of an older data dir their locations: the folder that holds the metadata
 * folder, or the metadata file's folder when it is elsewhere. */
static void test_sqlite_locations_backfilled(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    char who[256];
    ns_create_ok(f->st, "db");
    assert_int_equal(obj_create(f->st, "db", "t", IG_OBJ_TABLE, "file:///wh/db/t/metadata/00001-a.metadata.json",
                                &err), 0);
    assert_int_equal(obj_create(f->st, "db", "r", IG_OBJ_TABLE, "file:///wh/reg/r.json", &err), 0);
    ig_store_close(f->st);
    f->st = NULL;
    /* Back to schema 3 as an older binary left it. */
    exec_sql(f->where, "DROP TABLE object_bases;" JOURNAL_DROP TOKEN_COLUMNS_SINCE_5 "DELETE FROM schema_version WHERE version >= 4;");
    f->st = ig_store_sqlite_open(f->where, &err);
    assert_non_null(f->st);
    assert_int_equal(f->st->ops->obj_overlap(f->st, "file:///wh/db/t/x/", NULL, NULL, who, sizeof who, &err), 1);
    assert_string_equal(who, "table db.t at file:///wh/db/t");
    assert_int_equal(f->st->ops->obj_overlap(f->st, "file:///wh/reg/", NULL, NULL, who, sizeof who, &err), 1);
    assert_string_equal(who, "table db.r at file:///wh/reg");
    assert_int_equal(f->st->ops->obj_overlap(f->st, "file:///wh/db/t2/", NULL, NULL, who, sizeof who, &err), 0);
}

/* Migration 5 on a data dir of schema 4: the columns appear, rows made before keep everything else and read
 * back with unknown setters (which only an admin may lift). */
static void test_sqlite_migration_5_from_4(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ig_token_row_t t;
    token_row(&t, "tok_old", "old", "mel", 6);
    t.max_rps = 2;
    t.suspended = true;
    snprintf(t.suspend_reason, sizeof t.suspend_reason, "from before");
    assert_int_equal(f->st->ops->token_insert(f->st, &t, NULL, &err), 0);
    /* and one of an admin user (migration 8 gives it the admin scope too) */
    ig_user_t root = {.name = "root", .role = IG_ROLE_ADMIN, .password_hash = "x", .created_at_ms = 1};
    assert_int_equal(f->st->ops->user_insert(f->st, &root, NULL, &err), 0);
    ig_token_row_t r;
    token_row(&r, "tok_root", "rooted", "root", 7);
    assert_int_equal(f->st->ops->token_insert(f->st, &r, NULL, &err), 0);
    ig_store_close(f->st);
    f->st = NULL;
    /* Back to schema 4 as an older binary left it. */
    exec_sql(f->where, JOURNAL_DROP TOKEN_COLUMNS_SINCE_5 "DELETE FROM schema_version WHERE version >= 5;");
    assert_int_equal(scalar(f->where, "SELECT MAX(version) FROM schema_version"), 4);
    f->st = ig_store_sqlite_open(f->where, &err);
    assert_non_null(f->st);
    assert_int_equal(scalar(f->where, "SELECT MAX(version) FROM schema_version"), 13);
    ig_token_row_t got;
    assert_int_equal(f->st->ops->token_get(f->st, "tok_old", &got, &err), 0);
    assert_true(got.suspended);
    assert_string_equal(got.suspend_reason, "from before");
    assert_true(got.max_rps == 2);
    assert_setters(&got, IG_SET_BY_UNKNOWN, "", IG_SET_BY_UNKNOWN);
    assert_int_equal(got.scopes, IG_SCOPE_READ | IG_SCOPE_WRITE); /* a member's token: its owner's default */
    assert_int_equal(f->st->ops->token_get(f->st, "tok_root", &got, &err), 0);
    assert_int_equal(got.scopes, IG_SCOPES_ALL); /* an admin user's */
}

static void test_sqlite_newer_schema_refused(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ns_create_ok(f->st, "kept");
    ig_store_close(f->st);
    f->st = NULL;
    exec_sql(f->where, "INSERT INTO schema_version VALUES(99)");
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_sqlite_open(f->where, &err);
    assert_null(st);
    assert_int_equal(err.kind, IG_E_INTERNAL);
    assert_contains(err.message, "99");
    assert_contains(err.message, "newer");
    /* The refusal changed nothing: the version and the data are as they were. */
    assert_int_equal(scalar(f->where, "SELECT MAX(version) FROM schema_version"), 99);
    assert_int_equal(scalar(f->where, "SELECT COUNT(*) FROM namespaces WHERE name='kept'"), 1);
}

static void test_sqlite_open_bad_path(void **state)
{
    (void)state;
    ig_error_t err;
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_sqlite_open("/nonexistent-dir-icegate/x/icegate.db", &err);
    assert_null(st);
    assert_int_equal(err.kind, IG_E_INTERNAL);
    assert_contains(err.message, "/nonexistent-dir-icegate/x/icegate.db");
}

/* ---- PostgreSQL only: migrations, several nodes on one database, reconnection ---- */

static int64_t pg_scalar(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void pg_exec(const char *dsn, const char *sql)
{
    char msg[256];
    if (pg_admin(dsn, sql, msg, sizeof msg)) fail_msg("%s: %s", sql, msg);
}

typedef struct {
    const char *dsn;
    pthread_barrier_t *go;
    ig_store_t *st;
    char msg[512];
} pg_opener_t;

static void *pg_opener(void *arg)
{
    pg_opener_t *o = arg;
    ig_error_t err;
    memset(&err, 0, sizeof err);
    pthread_barrier_wait(o->go);
    o->st = ig_store_postgres_open(o->dsn, 2, &err);
    if (!o->st) snprintf(o->msg, sizeof o->msg, "%s", err.message);
    return NULL;
}

/* The schema is built once: reopening runs nothing, and nodes starting together on an empty database (the
 * advisory lock) all open it, with one schema_version row per step. */
static void test_pg_migrations_run_once(void **state)
{
    fixture_t *f = *state;
    int64_t steps = pg_scalar(f->where, "SELECT MAX(version) FROM schema_version");
    assert_true(steps >= 1);
    assert_int_equal(pg_scalar(f->where, "SELECT COUNT(*) FROM schema_version"), steps);
    ns_create_ok(f->st, "kept");
    reopen(f);
    assert_int_equal(pg_scalar(f->where, "SELECT COUNT(*) FROM schema_version"), steps);
    ig_error_t err;
    assert_int_equal(f->st->ops->ns_get(f->st, "kept", NULL, &err), 0);
    ig_store_close(f->st);
    f->st = NULL;

    pg_exec(f->where, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
    enum { NODES = 6 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NODES);
    pg_opener_t o[NODES];
    pthread_t t[NODES];
    for (int i = 0; i < NODES; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].dsn = f->where;
        o[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, pg_opener, &o[i]), 0);
    }
    for (int i = 0; i < NODES; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < NODES; i++) {
        if (!o[i].st) fail_msg("node %d: %s", i, o[i].msg);
        ig_store_close(o[i].st);
    }
    assert_int_equal(pg_scalar(f->where, "SELECT COUNT(*) FROM schema_version"), steps);
    assert_int_equal(pg_scalar(f->where, "SELECT COUNT(DISTINCT version) FROM schema_version"), steps);
    f->st = f->be->open(f, &err);
    assert_non_null(f->st);
}

static void test_pg_newer_schema_refused(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ns_create_ok(f->st, "kept");
    ig_store_close(f->st);
    f->st = NULL;
    pg_exec(f->where, "INSERT INTO schema_version VALUES(99)");
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_postgres_open(f->where, 2, &err);
    assert_null(st);
    assert_int_equal(err.kind, IG_E_INTERNAL);
    assert_contains(err.message, "99");
    assert_contains(err.message, "newer");
    assert_int_equal(pg_scalar(f->where, "SELECT MAX(version) FROM schema_version"), 99);
    assert_int_equal(pg_scalar(f->where, "SELECT COUNT(*) FROM namespaces WHERE name='kept'"), 1);
}

/* Two nodes on one database: each sees the other's token writes through changed() and the change feed, in
 * the order they were made (the feed a node's token table follows). */
static void test_pg_nodes_see_each_others_tokens(void **state)
{
    fixture_t *f = *state;
    ig_error_t err;
    ig_store_t *a = f->st, *b = f->be->open(f, &err);
    assert_non_null(b);
    b->ops->changed(b);
    assert_int_equal(b->ops->changed(b), 0);
    int64_t since = 0;
    find_row_t fr;
    memset(&fr, 0, sizeof fr);
    fr.id = "tok_x";
    assert_int_equal(b->ops->token_changes(b, 0, find_row_cb, &fr, &since, &err), 0);
    assert_int_equal(fr.seen, 0);

    ig_token_row_t t;
    token_row(&t, "tok_x", "x", "alice", 9);
    assert_int_equal(a->ops->token_insert(a, &t, NULL, &err), 0);
    assert_int_equal(b->ops->changed(b), 1);
    assert_int_equal(b->ops->changed(b), 0);
    int64_t max = 0;
    assert_int_equal(b->ops->token_changes(b, since, find_row_cb, &fr, &max, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_int_equal(max, t.seq);
    assert_false(fr.row.suspended);

    /* b suspends it; a learns of it the same way */
    a->ops->changed(a);
    ig_token_row_t got = fr.row;
    got.suspended = true;
    assert_int_equal(b->ops->token_update(b, &got, NULL, &err), 0);
    assert_int_equal(a->ops->changed(a), 1);
    memset(&fr, 0, sizeof fr);
    fr.id = "tok_x";
    int64_t max2 = 0;
    assert_int_equal(a->ops->token_changes(a, max, find_row_cb, &fr, &max2, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_true(fr.row.suspended);
    assert_int_equal(max2, got.seq);
    /* a's stale copy loses against b's write */
    assert_int_equal(a->ops->token_update(a, &t, NULL, &err), IG_STORE_STALE);
    int64_t del_seq = 0;
    assert_int_equal(a->ops->token_delete(a, "tok_x", 5, &del_seq, NULL, &err), 0);
    assert_int_equal(b->ops->changed(b), 1);
    memset(&fr, 0, sizeof fr);
    fr.id = "tok_x";
    assert_int_equal(b->ops->token_changes(b, max2, find_row_cb, &fr, &max, &err), 0);
    assert_int_equal(fr.seen, 1);
    assert_true(fr.row.deleted);
    assert_int_equal(max, del_seq);
    ig_store_close(b);
}

/* The server restarts under a store (ICEGATE_TEST_PG_RESTART: a shell command that restarts it, as
 * scripts/test.sh sets it): every pooled connection is dead; the next ops reconnect and succeed, nothing
 * committed before is lost, and changed() keeps working. */
static void test_pg_reconnects_after_restart(void **state)
{
    fixture_t *f = *state;
    const char *restart = getenv("ICEGATE_TEST_PG_RESTART");
    if (!restart || !*restart) skip();
    ig_error_t err;
    ig_store_t *st = f->st;
    /* several connections open in the pool (the race's, in namespace db), all to be broken by the restart */
    test_obj_cas_race(state);
    st->ops->changed(st);
    if (system(restart) != 0) fail_msg("%s failed", restart);
    assert_int_equal(st->ops->ns_get(st, "db", NULL, &err), 0);
    for (int i = 0; i < 4; i++) {
        char name[24];
        snprintf(name, sizeof name, "after%d", i);
        ns_create_ok(st, name);
    }
    assert_int_equal(st->ops->changed(st), 1);
    assert_int_equal(st->ops->changed(st), 0);
    names_t c = ns_list(st, NULL, NULL, 0, 0);
    assert_int_equal(c.n, 5);
    if (system(restart) != 0) fail_msg("%s failed", restart);
    assert_int_equal(st->ops->changed(st), 0); /* the poll connection reconnects too */
    assert_int_equal(obj_create(st, "db", "t2", IG_OBJ_TABLE, "L1", &err), 0);
    assert_int_equal(st->ops->changed(st), 1);
}

/* A server that cannot be reached: NULL and a 500 that names the reason, never the DSN's password. */
static void test_pg_open_unreachable(void **state)
{
    (void)state;
    ig_error_t err;
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_postgres_open("host=/nonexistent-icegate-dir dbname=x user=u password=sekrit-pw", 2,
                                            &err);
    assert_null(st);
    assert_int_equal(err.kind, IG_E_INTERNAL);
    assert_contains(err.message, "PostgreSQL");
    assert_null(strstr(err.message, "sekrit-pw"));
}

/* ---- one group per back end ---- */

static const backend_t sqlite_backend = {"sqlite", sqlite_open, sqlite_teardown, NULL};
static const backend_t postgres_backend = {"postgres", pg_open, pg_teardown, "ICEGATE_TEST_PG_DSN"};

/* Add a row to run the suite against another back end (and build it in, as store.c does). */
static const backend_t *const backends[] = {
    &sqlite_backend,
    &postgres_backend,
};

#define CASE(fn, be) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)(be))

static void skipped(void **state)
{
    (void)state;
    skip();
}

/* A back end whose variable is unset: each case keeps its name and is skipped (no setup: nothing to open). */
static void skip_unless_available(const backend_t *be, struct CMUnitTest *tests, size_t n)
{
    const char *v = be->needs_env ? getenv(be->needs_env) : "1";
    if (v && *v) return;
    printf("# %s: %s is not set, its cases are skipped\n", be->name, be->needs_env);
    for (size_t i = 0; i < n; i++) {
        tests[i].test_func = skipped;
        tests[i].setup_func = NULL;
        tests[i].teardown_func = NULL;
    }
}

static int run_conformance(const backend_t *be)
{
    struct CMUnitTest tests[] = {
        CASE(test_ns_create_and_hierarchy, be),
        CASE(test_ns_list_children_paginated, be),
        CASE(test_ns_warehouse_tags, be),
        CASE(test_ns_drop_rules, be),
        CASE(test_obj_create_and_cas, be),
        CASE(test_obj_multi_swap_all_or_none, be),
        CASE(test_meta_pending, be),
        CASE(test_purge_queue, be),
        CASE(test_obj_cas_long_locations, be),
        CASE(test_tables_and_views_share_names, be),
        CASE(test_obj_list_paginated, be),
        CASE(test_obj_rename_and_drop, be),
        CASE(test_obj_cas_race, be),
        CASE(test_obj_overlap, be),
        CASE(test_obj_bases_follow, be),
        CASE(test_token_rows_and_change_feed, be),
        CASE(test_token_update_is_cas, be),
        CASE(test_token_setters_kept, be), CASE(test_token_access_fields_kept, be),
        CASE(test_token_list, be),
        CASE(test_changed_sees_other_connections, be),
        CASE(test_users, be),
        CASE(test_idempotency_keys, be),
        CASE(test_idempotency_bounded, be),
        CASE(test_reopen_keeps_data, be),
    };
    char group[64];
    snprintf(group, sizeof group, "store/%s", be->name);
    printf("# %s\n", group); /* cmocka's plain output does not name the group */
    skip_unless_available(be, tests, sizeof tests / sizeof tests[0]);
    return cmocka_run_group_tests_name(group, tests, NULL, NULL);
}

static int run_sqlite_only(void)
{
    const backend_t *be = &sqlite_backend;
    const struct CMUnitTest tests[] = {
        CASE(test_sqlite_migrations_run_once, be),
        CASE(test_sqlite_locations_backfilled, be),
        CASE(test_sqlite_migration_5_from_4, be),
        CASE(test_sqlite_newer_schema_refused, be),
        cmocka_unit_test(test_sqlite_open_bad_path),
    };
    printf("# store/sqlite-only\n");
    return cmocka_run_group_tests_name("store/sqlite-only", tests, NULL, NULL);
}

static int run_postgres_only(void)
{
    const backend_t *be = &postgres_backend;
    struct CMUnitTest tests[] = {
        CASE(test_pg_migrations_run_once, be),
        CASE(test_pg_newer_schema_refused, be),
        CASE(test_pg_nodes_see_each_others_tokens, be),
        CASE(test_pg_reconnects_after_restart, be),
    };
    printf("# store/postgres-only\n");
    skip_unless_available(be, tests, sizeof tests / sizeof tests[0]);
    const struct CMUnitTest always[] = {
        cmocka_unit_test(test_pg_open_unreachable),
    };
    return cmocka_run_group_tests_name("store/postgres-only", tests, NULL, NULL) +
           cmocka_run_group_tests_name("store/postgres-unreachable", always, NULL, NULL);
}

int main(void)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        failed += run_conformance(backends[i]);
    failed += run_sqlite_only();
    failed += run_postgres_only();
    return failed ? 1 : 0;
}
