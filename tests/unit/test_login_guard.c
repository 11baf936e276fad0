/* test_login_guard — console login throttling on an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "access/login_guard.h"
#include "core/log.h"

#define T0 1800000000000LL /* 2027-01-15, ms */

static const unsigned char ip1[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
static const unsigned char ip2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};

static void test_free_failures_then_doubling_blocks(void **state)
{
    (void)state;
    ig_login_guard_t *g = ig_login_guard_new();
    int64_t block, now = T0;
    for (int i = 1; i <= IG_LOGIN_FREE; i++) {
        assert_int_equal(ig_login_guard_check(g, "admin", ip1, now), 0);
        assert_int_equal(ig_login_guard_failed(g, "admin", ip1, now, &block), i);
        assert_int_equal(block, 0);
    }
    /* the 6th failure blocks 1 s, the 7th 2 s, the 8th 4 s */
    int64_t want[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ig_login_guard_check(g, "admin", ip1, now), 0);
        ig_login_guard_failed(g, "admin", ip1, now, &block);
        assert_int_equal(block, want[i]);
        assert_int_equal(ig_login_guard_check(g, "admin", ip1, now), want[i]);
        assert_int_equal(ig_login_guard_check(g, "admin", ip1, now + want[i] * 1000 - 1), 1);
        now += want[i] * 1000;
    }
    /* the user is blocked from any address, and the address for any user */
    ig_login_guard_failed(g, "admin", ip1, now, &block);
    assert_int_equal(ig_login_guard_check(g, "admin", ip2, now), 16);
    assert_int_equal(ig_login_guard_check(g, "other", ip1, now), 16);
    assert_int_equal(ig_login_guard_check(g, "other", ip2, now), 0);
    assert_int_equal(ig_login_guard_check(g, "admin", NULL, now), 16);
    /* the block never grows past the cap */
    for (int i = 0; i < 40; i++) ig_login_guard_failed(g, "admin", ip1, now, &block);
    assert_int_equal(block, IG_LOGIN_MAX_BLOCK_S);
    /* a success clears the user and the address */
    ig_login_guard_succeeded(g, "admin", ip1);
    assert_int_equal(ig_login_guard_check(g, "admin", ip1, now), 0);
    assert_int_equal(ig_login_guard_failed(g, "admin", ip1, now, &block), 1);
    ig_login_guard_free(g);
}

static void test_forgotten_after_quiet_period(void **state)
{
    (void)state;
    ig_login_guard_t *g = ig_login_guard_new();
    int64_t block;
    for (int i = 0; i < IG_LOGIN_FREE; i++) ig_login_guard_failed(g, "u", NULL, T0, &block);
    /* long after the last failure the count starts again: no block for the next one */
    int64_t later = T0 + (IG_LOGIN_FORGET_S + 1) * 1000LL;
    assert_int_equal(ig_login_guard_failed(g, "u", NULL, later, &block), 1);
    assert_int_equal(block, 0);
    ig_login_guard_free(g);
}

static void test_many_names_do_not_unblock_a_guessed_one(void **state)
{
    (void)state;
    ig_login_guard_t *g = ig_login_guard_new();
    int64_t block;
    for (int i = 0; i < IG_LOGIN_FREE + 3; i++) ig_login_guard_failed(g, "admin", NULL, T0, &block);
    assert_true(ig_login_guard_check(g, "admin", NULL, T0) > 0);
    /* 20,000 other names, one failure each: they take free, stale or weaker slots, never admin's */
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        ig_login_guard_failed(g, name, NULL, T0, &block);
    }
    assert_true(ig_login_guard_check(g, "admin", NULL, T0) > 0);
    ig_login_guard_free(g);
}

static void test_log_safe(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(ig_log_safe("ab\ncd", out, sizeof out), "ab?cd");
    assert_string_equal(ig_log_safe("abcdefghij", out, sizeof out), "abcd...");
    assert_string_equal(ig_log_safe("\xc3\xa9", out, sizeof out), "??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_failures_then_doubling_blocks),
        cmocka_unit_test(test_forgotten_after_quiet_period),
        cmocka_unit_test(test_many_names_do_not_unblock_a_guessed_one),
        cmocka_unit_test(test_log_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
