/* catalog/loclock: writers share a location, a purge excludes every overlapping one (and only those). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "catalog/internal.h"

static ig_catalog_t *new_catalog(void)
{
    ig_catalog_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cat_loc_init(c);
    return c;
}

static void free_catalog(ig_catalog_t *c)
{
    cat_loc_free(c);
    free(c);
}

typedef struct {
    ig_catalog_t *c;
    const char *base;
    bool excl;
    atomic_bool got;
} taker_t;

static void *take(void *arg)
{
    taker_t *t = arg;
    const char *b[1] = {t->base};
    assert_int_equal(cat_loc_lock(t->c, b, 1, t->excl), 0);
    atomic_store(&t->got, true);
    cat_loc_unlock(t->c, b, 1);
    return NULL;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Holds `held` (excl or not), starts a thread taking `base`, and says whether it got it while held, waiting
 * up to 5 s when it should (so a slow machine never fails it) and 100 ms when it should not. */
static bool gets(const char *held, bool held_excl, const char *base, bool excl, int wait_ms)
{
    ig_catalog_t *c = new_catalog();
    const char *h[1] = {held};
    assert_int_equal(cat_loc_lock(c, h, 1, held_excl), 0);
    taker_t t = {.c = c, .base = base, .excl = excl};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, take, &t), 0);
    for (int i = 0; i < wait_ms / 2 && !atomic_load(&t.got); i++) pause_ms(2);
    bool got = atomic_load(&t.got);
    cat_loc_unlock(c, h, 1);
    pthread_join(th, NULL);
    assert_true(atomic_load(&t.got)); /* and once given back, it always gets it */
    free_catalog(c);
    return got;
}

#define gets_while_held(h, he, b, e) gets(h, he, b, e, 5000)
#define waits_while_held(h, he, b, e) !gets(h, he, b, e, 100)

static void test_writers_share(void **state)
{
    (void)state;
    assert_true(gets_while_held("file:///w/a/", false, "file:///w/a/", false));
    assert_true(gets_while_held("file:///w/a/", false, "file:///w/a/b/", false));
}

static void test_purge_excludes_overlaps_only(void **state)
{
    (void)state;
    /* A purge of a/ keeps writers out of a/, a/b/ and the folder above. */
    assert_true(waits_while_held("file:///w/a/", true, "file:///w/a/", false));
    assert_true(waits_while_held("file:///w/a/", true, "file:///w/a/b/", false));
    assert_true(waits_while_held("file:///w/a/", true, "file:///w/", false));
    /* ... and waits for a writer there. */
    assert_true(waits_while_held("file:///w/a/b/", false, "file:///w/a/", true));
    /* Neighbours are not inside: a2/ next to a/. */
    assert_true(gets_while_held("file:///w/a/", true, "file:///w/a2/", false));
    assert_true(gets_while_held("file:///w/a2/", false, "file:///w/a/", true));
}

/* A purge takes all its locations at once, and a release gives back only the caller's own. */
static void test_several_at_once(void **state)
{
    (void)state;
    ig_catalog_t *c = new_catalog();
    char x[] = "file:///w/x/", y[] = "file:///w/y/", y2[] = "file:///w/y/";
    const char *both[2] = {x, y}, *other[1] = {y2};
    assert_int_equal(cat_loc_lock(c, both, 2, false), 0);
    assert_int_equal(cat_loc_lock(c, other, 1, false), 0);
    assert_int_equal((int)c->locs.n, 3);
    cat_loc_unlock(c, other, 1);
    assert_int_equal((int)c->locs.n, 2);
    assert_ptr_equal(c->locs.v[0].base, x);
    cat_loc_unlock(c, both, 2);
    assert_int_equal((int)c->locs.n, 0);
    free_catalog(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writers_share),
        cmocka_unit_test(test_purge_excludes_overlaps_only),
        cmocka_unit_test(test_several_at_once),
    };
    return cmocka_run_group_tests_name("catalog/loclock", tests, NULL, NULL);
}
