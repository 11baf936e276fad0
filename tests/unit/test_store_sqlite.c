/* test_store_sqlite — the SQLite back end of store.h, through the ops table only (as the catalog and token
 * code see it): namespaces (hierarchy, pagination, properties, drop rules), catalog objects (create, the
 * compare-and-set commit, all-or-none multi-object commits, tables and views sharing names, rename, drop),
 * the token rows' change feed, users, and schema migration on open.  Each test gets a fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

typedef struct {
    char dir[256];
    char db[300];
    ig_store_t *st;
} env_t;

static int teardown(void **state);

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    if (!e) return -1;
    *state = e;
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof e->dir, "%s/icegate-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->dir)) goto fail;
    snprintf(e->db, sizeof e->db, "%s/icegate.db", e->dir);
    ig_error_t err;
    e->st = ig_store_sqlite_open(e->db, &err);
    if (!e->st) goto fail;
    return 0;
fail: /* cmocka skips the teardown of a test whose setup failed */
    teardown(state);
    *state = NULL;
    return -1;
}

static int teardown(void **state)
{
    env_t *e = *state;
    if (!e) return 0;
    ig_store_close(e->st);
    static const char *const files[] = {"icegate.db", "icegate.db-wal", "icegate.db-shm",
                                        "icegate.db-journal"};
    char p[400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", e->dir, files[i]);
        unlink(p);
    }
    rmdir(e->dir);
    free(e);
    return 0;
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
    ig_obj_swap_t w = {ns, name, kind, NULL, loc};
    return st->ops->obj_swap(st, &w, 1, err);
}

static int obj_cas(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *expected,
                   const char *loc, ig_error_t *err)
{
    ig_obj_swap_t w = {ns, name, kind, expected, loc};
    return st->ops->obj_swap(st, &w, 1, err);
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
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    assert_int_equal(st->ops->ns_create(st, "db", "{\"owner\":\"x\"}", &err), 0);
    assert_int_equal(st->ops->ns_create(st, "db", NULL, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "AlreadyExistsException");
    assert_contains(err.message, "db");

    /* A child needs its parent; the 404 shows the levels joined by dots. */
    assert_int_equal(st->ops->ns_create(st, "nope" SEP "child", NULL, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchNamespaceException");
    assert_contains(err.message, "nope");
    assert_int_equal(st->ops->ns_get(st, "nope" SEP "child", NULL, &err), IG_STORE_NOTFOUND);
    ns_create_ok(st, "db" SEP "raw");
    assert_int_equal(st->ops->ns_create(st, "db" SEP "raw" SEP "x" SEP "y", NULL, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_contains(err.message, "db.raw.x");
    ns_create_ok(st, "db" SEP "raw" SEP "x");
    assert_int_equal(st->ops->ns_create(st, "db" SEP "raw", NULL, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
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
    env_t *e = *state;
    ig_store_t *st = e->st;
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
    assert_int_equal(st->ops->ns_list(st, "zzz", NULL, 0, collect, &none, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchNamespaceException");
}

static void test_ns_drop_rules(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ns_create_ok(st, "p");
    ns_create_ok(st, "p" SEP "q");
    assert_int_equal(st->ops->ns_drop(st, "p", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "NamespaceNotEmptyException");
    assert_int_equal(st->ops->ns_get(st, "p", NULL, &err), 0);

    assert_int_equal(obj_create(st, "p" SEP "q", "t", IG_OBJ_TABLE, "file:///t/1.json", &err), 0);
    assert_int_equal(st->ops->ns_drop(st, "p" SEP "q", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "NamespaceNotEmptyException");
    assert_int_equal(st->ops->obj_drop(st, "p" SEP "q", "t", IG_OBJ_TABLE, &err), 0);

    /* A view counts too. */
    assert_int_equal(obj_create(st, "p" SEP "q", "v", IG_OBJ_VIEW, "file:///v/1.json", &err), 0);
    assert_int_equal(st->ops->ns_drop(st, "p" SEP "q", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_int_equal(st->ops->obj_drop(st, "p" SEP "q", "v", IG_OBJ_VIEW, &err), 0);

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
    env_t *e = *state;
    ig_store_t *st = e->st;
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
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "L-other", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "AlreadyExistsException");
    assert_string_equal(loc_of(st, "db", "t", 0), "L1");

    /* Compare-and-set: the right base moves the pointer, a stale one is a CommitFailed and moves nothing. */
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_TABLE, "L1", "L2", &err), 0);
    assert_string_equal(loc_of(st, "db", "t", IG_OBJ_TABLE), "L2");
    memset(&err, 0, sizeof err);
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_TABLE, "L1", "L3", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "CommitFailedException");
    assert_contains(err.message, "t");
    assert_string_equal(loc_of(st, "db", "t", 0), "L2");

    /* A commit to a missing table, or to a table as if it were a view: 404 of the right kind. */
    assert_int_equal(obj_cas(st, "db", "nope", IG_OBJ_TABLE, "L1", "L2", &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchTableException");
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_VIEW, "L2", "L9", &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchViewException");
    assert_string_equal(loc_of(st, "db", "t", 0), "L2");

    /* Creating in a missing namespace: 404. */
    assert_int_equal(obj_create(st, "gone", "t", IG_OBJ_TABLE, "L1", &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchNamespaceException");
}

static void test_obj_multi_swap_all_or_none(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    ns_create_ok(st, "other");
    assert_int_equal(obj_create(st, "db", "a", IG_OBJ_TABLE, "A1", &err), 0);
    assert_int_equal(obj_create(st, "db", "b", IG_OBJ_TABLE, "B1", &err), 0);

    /* Both right: both move. */
    ig_obj_swap_t ok[2] = {{"db", "a", IG_OBJ_TABLE, "A1", "A2"}, {"db", "b", IG_OBJ_TABLE, "B1", "B2"}};
    assert_int_equal(st->ops->obj_swap(st, ok, 2, &err), 0);
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");
    assert_string_equal(loc_of(st, "db", "b", 0), "B2");

    /* The second is stale: the first is rolled back. */
    ig_obj_swap_t bad[2] = {{"db", "a", IG_OBJ_TABLE, "A2", "A3"}, {"db", "b", IG_OBJ_TABLE, "B1", "B3"}};
    assert_int_equal(st->ops->obj_swap(st, bad, 2, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "CommitFailedException");
    assert_contains(err.message, "b");
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");
    assert_string_equal(loc_of(st, "db", "b", 0), "B2");

    /* A create followed by a failing swap: the create is rolled back too. */
    ig_obj_swap_t mixed[3] = {{"db", "c", IG_OBJ_TABLE, NULL, "C1"},
                              {"other", "d", IG_OBJ_VIEW, NULL, "D1"},
                              {"db", "a", IG_OBJ_TABLE, "stale", "A9"}};
    assert_int_equal(st->ops->obj_swap(st, mixed, 3, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(loc_of(st, "db", "c", 0), "");
    assert_string_equal(loc_of(st, "other", "d", 0), "");
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");

    /* ... and a failing create (namespace gone) after a good swap rolls the swap back. */
    ig_obj_swap_t gone[2] = {{"db", "a", IG_OBJ_TABLE, "A2", "A3"}, {"nope", "x", IG_OBJ_TABLE, NULL, "X1"}};
    assert_int_equal(st->ops->obj_swap(st, gone, 2, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(loc_of(st, "db", "a", 0), "A2");

    /* The same transaction retried with the right bases succeeds, and the store is usable afterwards. */
    mixed[2].expected_location = "A2";
    assert_int_equal(st->ops->obj_swap(st, mixed, 3, &err), 0);
    assert_string_equal(loc_of(st, "db", "c", IG_OBJ_TABLE), "C1");
    assert_string_equal(loc_of(st, "other", "d", IG_OBJ_VIEW), "D1");
    assert_string_equal(loc_of(st, "db", "a", 0), "A9");
}

/* Locations are not bounded by the store: a commit on a table whose metadata path is longer than any
 * fixed buffer must still compare the whole string, neither failing forever nor matching on a prefix. */
static void test_obj_cas_long_locations(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
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
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_TABLE, prefix_only, l2, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "CommitFailedException");
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
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "T1", &err), 0);
    assert_int_equal(obj_create(st, "db", "v", IG_OBJ_VIEW, "V1", &err), 0);
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_VIEW, "V2", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "AlreadyExistsException");
    assert_contains(err.message, "Table with same name");
    assert_int_equal(obj_create(st, "db", "v", IG_OBJ_TABLE, "T2", &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
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
    assert_int_equal(st->ops->obj_drop(st, "db", "t", IG_OBJ_VIEW, &err), IG_STORE_NOTFOUND);
    assert_string_equal(loc_of(st, "db", "t", 0), "T1");
    /* Renaming a view onto a table's name: 409. */
    assert_int_equal(st->ops->obj_rename(st, "db", "v", "db", "t", IG_OBJ_VIEW, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(loc_of(st, "db", "v", IG_OBJ_VIEW), "V1");
}

static void test_obj_list_paginated(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
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
    assert_int_equal(st->ops->obj_list(st, "missing", IG_OBJ_TABLE, NULL, 0, collect, &none, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchNamespaceException");
}

static void test_obj_rename_and_drop(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ns_create_ok(st, "db");
    ns_create_ok(st, "arch");
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_TABLE, "T1", &err), 0);
    assert_int_equal(obj_create(st, "db", "u", IG_OBJ_TABLE, "U1", &err), 0);

    assert_int_equal(st->ops->obj_rename(st, "db", "t", "db", "u", IG_OBJ_TABLE, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "AlreadyExistsException");
    assert_int_equal(st->ops->obj_rename(st, "db", "t", "gone", "t", IG_OBJ_TABLE, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchNamespaceException");
    assert_int_equal(st->ops->obj_rename(st, "db", "nope", "db", "x", IG_OBJ_TABLE, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchTableException");
    assert_int_equal(st->ops->obj_rename(st, "db", "t", "db", "x", IG_OBJ_VIEW, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchViewException");
    assert_string_equal(loc_of(st, "db", "t", 0), "T1");
    assert_string_equal(loc_of(st, "db", "u", 0), "U1");

    /* Across namespaces, keeping the location and kind. */
    assert_int_equal(st->ops->obj_rename(st, "db", "t", "arch", "t2", IG_OBJ_TABLE, &err), 0);
    assert_string_equal(loc_of(st, "db", "t", 0), "");
    assert_string_equal(loc_of(st, "arch", "t2", IG_OBJ_TABLE), "T1");
    /* The old name is free again. */
    assert_int_equal(obj_create(st, "db", "t", IG_OBJ_VIEW, "V1", &err), 0);
    /* A commit against the old name no longer reaches the renamed table. */
    assert_int_equal(obj_cas(st, "db", "t", IG_OBJ_TABLE, "T1", "T2", &err), -1);
    assert_string_equal(loc_of(st, "arch", "t2", 0), "T1");

    assert_int_equal(st->ops->obj_drop(st, "arch", "t2", IG_OBJ_TABLE, &err), 0);
    assert_int_equal(st->ops->obj_drop(st, "arch", "t2", IG_OBJ_TABLE, &err), IG_STORE_NOTFOUND);
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
        else if (ig_error_status(&err) == 409 && err.kind == IG_E_COMMIT_FAILED)
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
    env_t *e = *state;
    ig_error_t err;
    ns_create_ok(e->st, "db");
    assert_int_equal(obj_create(e->st, "db", "hot", IG_OBJ_TABLE, "R-start", &err), 0);
    race_t *r = calloc(1, sizeof *r);
    r->st = e->st;
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
        const char *now = loc_of(e->st, "db", "hot", IG_OBJ_TABLE);
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
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ig_token_row_t a, b, got;
    token_row(&a, "tok_a", "n", "alice", 1);
    token_row(&b, "tok_b", "n", "alice", 2);
    assert_int_equal(st->ops->token_insert(st, &a, &err), 0);
    assert_int_equal(st->ops->token_insert(st, &b, &err), -1); /* same owner, same name */
    assert_int_equal(ig_error_status(&err), 409);
    snprintf(b.owner, sizeof b.owner, "bob");
    assert_int_equal(st->ops->token_insert(st, &b, &err), 0);
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
    assert_int_equal(st->ops->token_delete(st, "tok_a", 9000, &del_seq, &err), 0);
    assert_true(del_seq > b.seq); /* the tombstone gets the next sequence */
    assert_int_equal(st->ops->token_delete(st, "tok_a", 9000, &del_seq, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->token_get(st, "tok_a", &got, &err), IG_STORE_NOTFOUND);
    got = a;
    assert_int_equal(st->ops->token_update(st, &got, &err), IG_STORE_NOTFOUND);

    /* A first load skips tombstones; a later poll sees them. */
    feed_t f = {0};
    int64_t max = -1;
    assert_int_equal(st->ops->token_changes(st, 0, feed_cb, &f, &max, &err), 0);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.deleted, 0);
    assert_int_equal(max,
                     mark); /* the tombstone's seq is not seen yet: the next poll replays it, harmlessly */
    memset(&f, 0, sizeof f);
    int64_t max2 = -1;
    assert_int_equal(st->ops->token_changes(st, mark, feed_cb, &f, &max2, &err), 0);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.deleted, 1);
    assert_int_equal(max2, mark + 1);
    memset(&f, 0, sizeof f);
    int64_t max3 = -1;
    assert_int_equal(st->ops->token_changes(st, max2, feed_cb, &f, &max3, &err), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(max3, max2);

    /* After the delete, alice may reuse the name. */
    token_row(&a, "tok_c", "n", "alice", 3);
    assert_int_equal(st->ops->token_insert(st, &a, &err), 0);
}

/* token_update is a compare-and-set on the seq the caller read: a write based on an old read is STALE and
 * changes nothing (else a concurrent suspend could be overwritten with suspended=false). */
static void test_token_update_is_cas(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    ig_token_row_t t, r1, r2;
    token_row(&t, "tok_s", "s", "alice", 4);
    assert_int_equal(st->ops->token_insert(st, &t, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r1, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r2, &err), 0);
    r1.suspended = true;
    assert_int_equal(st->ops->token_update(st, &r1, &err), 0);
    assert_true(r1.seq > r2.seq);
    snprintf(r2.name, sizeof r2.name, "renamed");
    assert_int_equal(st->ops->token_update(st, &r2, &err), IG_STORE_STALE);
    ig_token_row_t now;
    assert_int_equal(st->ops->token_get(st, "tok_s", &now, &err), 0);
    assert_true(now.suspended);
    assert_string_equal(now.name, "s");
    assert_int_equal(now.seq, r1.seq);
    /* Redone on a fresh read, it goes through. */
    snprintf(now.name, sizeof now.name, "renamed");
    assert_int_equal(st->ops->token_update(st, &now, &err), 0);
    assert_int_equal(st->ops->token_get(st, "tok_s", &r2, &err), 0);
    assert_true(r2.suspended);
    assert_string_equal(r2.name, "renamed");
    /* A deleted token is NOTFOUND, not STALE. */
    int64_t del_seq;
    assert_int_equal(st->ops->token_delete(st, "tok_s", 1, &del_seq, &err), 0);
    assert_int_equal(st->ops->token_update(st, &r2, &err), IG_STORE_NOTFOUND);
}

static void test_changed_sees_other_connections(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_store_t *other = ig_store_sqlite_open(e->db, &err);
    assert_non_null(other);
    e->st->ops->changed(e->st);
    assert_int_equal(e->st->ops->changed(e->st), 0);
    ns_create_ok(other, "from-other");
    assert_int_equal(e->st->ops->changed(e->st), 1);
    assert_int_equal(e->st->ops->changed(e->st), 0);
    assert_int_equal(e->st->ops->ns_get(e->st, "from-other", NULL, &err), 0);
    ig_store_close(other);
}

static void test_users(void **state)
{
    env_t *e = *state;
    ig_store_t *st = e->st;
    ig_error_t err;
    int64_t n = -1;
    assert_int_equal(st->ops->user_count(st, &n, &err), 0);
    assert_int_equal(n, 0);
    ig_user_t u = {"admin", IG_ROLE_ADMIN, "$argon2id$x", 42};
    assert_int_equal(st->ops->user_insert(st, &u, &err), 0);
    assert_int_equal(st->ops->user_insert(st, &u, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    ig_user_t m = {"mia", IG_ROLE_MEMBER, "$argon2id$y", 43};
    assert_int_equal(st->ops->user_insert(st, &m, &err), 0);
    ig_user_t got;
    assert_int_equal(st->ops->user_get(st, "admin", &got, &err), 0);
    assert_int_equal(got.role, IG_ROLE_ADMIN);
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_int_equal(got.created_at_ms, 42);
    assert_int_equal(st->ops->user_get(st, "mia", &got, &err), 0);
    assert_int_equal(got.role, IG_ROLE_MEMBER);
    assert_int_equal(st->ops->user_set_password(st, "mia", "$argon2id$z", &err), 0);
    assert_int_equal(st->ops->user_get(st, "mia", &got, &err), 0);
    assert_string_equal(got.password_hash, "$argon2id$z");
    assert_int_equal(st->ops->user_set_password(st, "nobody", "h", &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->user_get(st, "nobody", &got, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->user_count(st, &n, &err), 0);
    assert_int_equal(n, 2);
}

/* ---- schema ---- */

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

static void exec_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static void test_reopen_keeps_data(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ns_create_ok(e->st, "kept");
    assert_int_equal(obj_create(e->st, "kept", "t", IG_OBJ_TABLE, "K1", &err), 0);
    ig_token_row_t t;
    token_row(&t, "tok_k", "k", "alice", 7);
    assert_int_equal(e->st->ops->token_insert(e->st, &t, &err), 0);
    ig_store_close(e->st);
    e->st = NULL;
    assert_int_equal(scalar(e->db, "SELECT MAX(version) FROM schema_version"), 2); /* 1 tokens+catalog, 2 idempotency */

    for (int i = 0; i < 2; i++) { /* reopening twice migrates nothing and loses nothing */
        e->st = ig_store_sqlite_open(e->db, &err);
        assert_non_null(e->st);
        assert_string_equal(loc_of(e->st, "kept", "t", IG_OBJ_TABLE), "K1");
        ig_token_row_t got;
        assert_int_equal(e->st->ops->token_get(e->st, "tok_k", &got, &err), 0);
        assert_int_equal(got.seq, t.seq);
        ig_store_close(e->st);
        e->st = NULL;
    }
    assert_int_equal(scalar(e->db, "SELECT COUNT(*) FROM schema_version"), 2); /* one row per migration, none added by reopening */
    /* The change sequence continues where it was. */
    e->st = ig_store_sqlite_open(e->db, &err);
    assert_non_null(e->st);
    ig_token_row_t t2;
    token_row(&t2, "tok_k2", "k2", "alice", 8);
    assert_int_equal(e->st->ops->token_insert(e->st, &t2, &err), 0);
    assert_true(t2.seq > t.seq);
}

static void test_newer_schema_refused(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ns_create_ok(e->st, "kept");
    ig_store_close(e->st);
    e->st = NULL;
    exec_sql(e->db, "INSERT INTO schema_version VALUES(99)");
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_sqlite_open(e->db, &err);
    assert_null(st);
    assert_int_equal(ig_error_status(&err), 500);
    assert_contains(err.message, "99");
    assert_contains(err.message, "newer");
    /* The refusal changed nothing: the version and the data are as they were. */
    assert_int_equal(scalar(e->db, "SELECT MAX(version) FROM schema_version"), 99);
    assert_int_equal(scalar(e->db, "SELECT COUNT(*) FROM namespaces WHERE name='kept'"), 1);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    ig_error_t err;
    memset(&err, 0, sizeof err);
    ig_store_t *st = ig_store_sqlite_open("/nonexistent-dir-icegate/x/icegate.db", &err);
    assert_null(st);
    assert_int_equal(ig_error_status(&err), 500);
    assert_contains(err.message, "/nonexistent-dir-icegate/x/icegate.db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ns_create_and_hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ns_list_children_paginated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ns_drop_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_create_and_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_multi_swap_all_or_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_cas_long_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_and_views_share_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_list_paginated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_rename_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_cas_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_rows_and_change_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_update_is_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_sees_other_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test(test_open_bad_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
