/* catalog/cache: bounded by catalog.cache_bytes, a superseded version forgotten at once, and an entry a
 * response still sends outlives its eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/internal.h"

static cache_t *new_cache(size_t max_bytes)
{
    cache_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    pthread_mutex_init(&c->mu, NULL);
    c->max_bytes = max_bytes;
    return c;
}

static void free_cache(cache_t *c)
{
    cat_cache_clear(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Puts a body of n bytes for (variant, loc) and gives the caller's reference back. */
static void put(cache_t *c, char variant, const char *loc, size_t n)
{
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, 'x', n);
    centry_t *e = cat_cache_put(c, variant, loc, body, n, 0, n);
    assert_non_null(e);
    cat_cache_release(c, e);
}

static bool cached(cache_t *c, char variant, const char *loc)
{
    for (centry_t *e = c->head; e; e = e->next)
        if (e->key[0] == variant && strcmp(e->key + 1, loc) == 0) return true;
    return false;
}

static void test_forget_drops_every_variant(void **state)
{
    (void)state;
    cache_t *c = new_cache(1 << 20);
    put(c, V_TABLE_ALL, "file:///w/t/metadata/1.json", 100);
    put(c, V_TABLE_REFS, "file:///w/t/metadata/1.json", 50);
    put(c, V_TABLE_ALL, "file:///w/t/metadata/2.json", 100);
    assert_int_equal((int)c->count, 3);
    cat_cache_forget(c, "file:///w/t/metadata/1.json");
    assert_int_equal((int)c->count, 1);
    assert_true(cached(c, V_TABLE_ALL, "file:///w/t/metadata/2.json"));
    assert_false(cached(c, V_TABLE_ALL, "file:///w/t/metadata/1.json"));
    assert_int_equal((int)c->bytes, 100 + (int)strlen("file:///w/t/metadata/2.json") + 1);
    cat_cache_forget(c, "file:///w/nothing");
    assert_int_equal((int)c->count, 1);
    free_cache(c);
}

static void test_bounded_by_bytes(void **state)
{
    (void)state;
    cache_t *c = new_cache(1000);
    char loc[64];
    for (int i = 0; i < 20; i++) {
        snprintf(loc, sizeof loc, "file:///w/t%d/metadata/1.json", i);
        put(c, V_TABLE_ALL, loc, 300);
    }
    assert_true(c->bytes <= 1000);
    assert_true(cached(c, V_TABLE_ALL, "file:///w/t19/metadata/1.json")); /* the newest stays */
    assert_false(cached(c, V_TABLE_ALL, "file:///w/t0/metadata/1.json"));
    free_cache(c);
}

/* A borrowed entry (a response sending its bytes) is only freed when given back: under ASan a use after
 * free here would be a report. */
static void test_borrowed_entry_outlives_forget(void **state)
{
    (void)state;
    cache_t *c = new_cache(1 << 20);
    char *body = strdup("{\"metadata\":{}}");
    centry_t *e = cat_cache_put(c, V_TABLE_ALL, "file:///w/t/metadata/1.json", body, strlen(body), 0, strlen(body));
    assert_non_null(e);
    cat_cache_forget(c, "file:///w/t/metadata/1.json");
    assert_int_equal((int)c->count, 0);
    assert_memory_equal(e->body, "{\"metadata\":{}}", e->len);
    cat_cache_release(c, e);
    free_cache(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forget_drops_every_variant),
        cmocka_unit_test(test_bounded_by_bytes),
        cmocka_unit_test(test_borrowed_entry_outlives_forget),
    };
    return cmocka_run_group_tests_name("catalog/cache", tests, NULL, NULL);
}
