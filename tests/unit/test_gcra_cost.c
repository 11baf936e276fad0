/* test_gcra_cost — per-route cost (ratelimiter.costs, DESIGN.md section 8): GCRA with a cost per request,
 * the refund of a 304 and the headers, all on an injected clock (no sleeping).  Cost 1 is pinned to the plain
 * ig_gcra_take by test_gcra.c, which runs unchanged on the same code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "ratelimit/gcra.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)
#define UPTIME (INT64_C(5000000) * S) /* a realistic CLOCK_MONOTONIC value */

/* costs in thousandths */
#define ONE IG_GCRA_COST_ONE
#define TENTH INT64_C(100)
#define FIVE INT64_C(5000)

static ig_gcra_params_t params(double rps, int burst)
{
    ig_gcra_params_t p;
    assert_int_equal(ig_gcra_params_init(&p, rps, burst), 0);
    return p;
}

static ig_gcra_result_t take(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now, int64_t cost)
{
    ig_gcra_result_t r;
    memset(&r, 0x5a, sizeof r);
    ig_gcra_take_cost(cell, p, now, 0, cost, &r);
    return r;
}

/* How many requests of cost are admitted back to back at now. */
static int drain(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now, int64_t cost)
{
    int n = 0;
    while (take(cell, p, now, cost).allowed) {
        n++;
        assert_true(n <= 1000000);
    }
    return n;
}

static void test_tenth_admits_100_then_one_per_10ms(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    assert_int_equal(ig_gcra_cost_ns(&p, TENTH), 10 * MS);
    assert_int_equal(drain(&cell, &p, UPTIME, TENTH), 100);
    /* then exactly one per 10 ms: not a ns before its slot, and only one at it */
    for (int i = 1; i <= 200; i++) {
        int64_t slot = UPTIME + i * 10 * MS;
        assert_false(take(&cell, &p, slot - 1, TENTH).allowed);
        assert_true(take(&cell, &p, slot, TENTH).allowed);
        assert_false(take(&cell, &p, slot, TENTH).allowed);
    }
}

static void test_five_admits_2(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r = take(&cell, &p, UPTIME, FIVE);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 5); /* in requests of cost 1 */
    r = take(&cell, &p, UPTIME, FIVE);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    r = take(&cell, &p, UPTIME, FIVE);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 500 * MS); /* until 5 requests' worth is free, not 1 */
    assert_int_equal(r.reset_ns, 1000 * MS);
    assert_false(take(&cell, &p, UPTIME + 500 * MS - 1, FIVE).allowed);
    assert_true(take(&cell, &p, UPTIME + 500 * MS, FIVE).allowed);
    assert_false(take(&cell, &p, UPTIME + 500 * MS, FIVE).allowed);
}

static void test_cost_above_burst_is_the_burst(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(1, 3);
    ig_gcra_cell_t cell = {0};
    assert_int_equal(ig_gcra_cost_ns(&p, 10 * ONE), 3 * S);
    assert_int_equal(ig_gcra_cost_ns(&p, INT64_C(1000000000)), 3 * S);
    /* passes on a full bucket, and empties it */
    ig_gcra_result_t r = take(&cell, &p, UPTIME, 10 * ONE);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_false(take(&cell, &p, UPTIME, ONE).allowed);
    r = take(&cell, &p, UPTIME + 2 * S, 10 * ONE);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 1 * S);
    assert_false(take(&cell, &p, UPTIME + 3 * S - 1, 10 * ONE).allowed);
    assert_true(take(&cell, &p, UPTIME + 3 * S, 10 * ONE).allowed);
    /* a cost of exactly the burst is the same */
    assert_int_equal(ig_gcra_cost_ns(&p, 3 * ONE), 3 * S);
    /* no overflow on a very slow policy with a big burst: T = 1e13 ns, so the largest cost x T (1e22) would pass
     * INT64_MAX */
    ig_gcra_params_t slow = params(0.0001, 400000);
    assert_int_equal(ig_gcra_cost_ns(&slow, INT64_C(1000000000)), INT64_C(4000000000000000000));
    assert_int_equal(ig_gcra_cost_ns(&slow, 500), slow.emission_ns / 2);
}

/* ceil(cost x T): a rate whose T is not a multiple of 1000 ns never over-admits. */
static void test_cost_rounds_up(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(3, 2); /* T = 333333334 ns (rounded up from 1e9/3) */
    assert_int_equal(p.emission_ns, 333333334);
    assert_int_equal(ig_gcra_cost_ns(&p, 500), 166666667);
    assert_int_equal(ig_gcra_cost_ns(&p, 10), 3333334); /* 3333333.34 up */
    assert_int_equal(ig_gcra_cost_ns(&p, 1001), 333666668);  /* 333666667.334 up */
    ig_gcra_cell_t cell = {0};
    int64_t admitted = 0;
    for (int64_t t = 0; t <= 10 * S; t += MS) admitted += take(&cell, &p, UPTIME + t, 500).allowed;
    /* (burst + rate x 10 s) / 0.5 = 64; T rounded up loses one slot at the end */
    assert_true(admitted <= 64);
    assert_true(admitted >= 63);
}

/* Cost 1 through ig_gcra_take_cost is ig_gcra_take, result for result, on an irregular arrival pattern. */
static void test_cost_one_is_plain_take(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(7, 4);
    assert_int_equal(ig_gcra_cost_ns(&p, ONE), p.emission_ns);
    ig_gcra_cell_t a = {0}, b = {0};
    uint64_t x = 88172645463325252u;
    int64_t t = UPTIME;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t += (int64_t)(x % (300 * MS));
        ig_gcra_result_t ra, rb;
        ig_gcra_take(&a, &p, t, &ra);
        rb = take(&b, &p, t, ONE);
        assert_int_equal(ra.allowed, rb.allowed);
        assert_int_equal(ra.remaining, rb.remaining);
        assert_int_equal(ra.retry_after_ns, rb.retry_after_ns);
        assert_int_equal(ra.reset_ns, rb.reset_ns);
        assert_int_equal(ra.delay_ns, rb.delay_ns);
        assert_int_equal(atomic_load(&a.tat), atomic_load(&b.tat));
    }
}

/* 10 reads at t0, each answered 304 (cost 0.1): one request's worth used, so 9 more pass. */
static void test_refund_304(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    int64_t back = ig_gcra_cost_ns(&p, ONE) - ig_gcra_cost_ns(&p, TENTH);
    assert_int_equal(back, 90 * MS);
    for (int i = 0; i < 10; i++) {
        ig_gcra_result_t r = take(&cell, &p, UPTIME, ONE);
        assert_true(r.allowed);
        assert_int_equal(r.tat_ns, atomic_load(&cell.tat));
        ig_gcra_refund(&cell, r.tat_ns, back, UPTIME + 1 * MS); /* answered 1 ms later */
    }
    assert_int_equal(atomic_load(&cell.tat), UPTIME + 100 * MS);
    assert_int_equal(drain(&cell, &p, UPTIME + 1 * MS, ONE), 9);
    /* the same without refunds: none left */
    ig_gcra_cell_t plain = {0};
    for (int i = 0; i < 10; i++) assert_true(take(&plain, &p, UPTIME, ONE).allowed);
    assert_int_equal(drain(&plain, &p, UPTIME + 1 * MS, ONE), 0);
}

/* A refund gives back only what of its booking is still ahead: what refilled meanwhile is not handed out twice.
 * Rate 1, burst 1: a read at 0 books [0, 1 s); a 0.1 request passes at 0.95 s; the read's 304 comes at 0.96 s.
 * Had the read cost 0.1 from the start, the bucket would have been full from 0.1 s to 0.95 s and the TAT would
 * be 1.05 s now, so a request of cost 1 at 0.96 s must be refused.  Giving back the whole 0.9 s would let it
 * pass. */
static void test_refund_only_what_is_ahead(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(1, 1);
    ig_gcra_cell_t cell = {0};
    int64_t back = ig_gcra_cost_ns(&p, ONE) - ig_gcra_cost_ns(&p, TENTH);
    ig_gcra_result_t read = take(&cell, &p, UPTIME, ONE);
    assert_true(read.allowed);
    assert_true(take(&cell, &p, UPTIME + 950 * MS, TENTH).allowed);
    ig_gcra_refund(&cell, read.tat_ns, back, UPTIME + 960 * MS);
    assert_int_equal(atomic_load(&cell.tat), UPTIME + 1060 * MS); /* 40 ms given back, not 900 */
    ig_gcra_result_t r = take(&cell, &p, UPTIME + 960 * MS, ONE);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 100 * MS);
    /* a refund after its whole booking refilled gives nothing */
    ig_gcra_result_t late = take(&cell, &p, UPTIME + 2 * S, ONE);
    assert_true(late.allowed);
    ig_gcra_refund(&cell, late.tat_ns, back, late.tat_ns);
    assert_int_equal(atomic_load(&cell.tat), late.tat_ns);
}

/* Never beyond a full bucket: a refund on a cell that refilled leaves the TAT at or below now. */
static void test_refund_never_beyond_full(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r = take(&cell, &p, UPTIME, FIVE); /* books 500 ms */
    assert_true(r.allowed);
    ig_gcra_refund(&cell, r.tat_ns, 10 * S, UPTIME + 100 * MS); /* asks for far more than was booked */
    assert_int_equal(atomic_load(&cell.tat), UPTIME + 100 * MS); /* full at 100 ms, no further */
    assert_int_equal(drain(&cell, &p, UPTIME + 100 * MS, ONE), 10);
    /* an idle (full) cell is not written to */
    ig_gcra_cell_t idle = {0};
    ig_gcra_refund(&idle, UPTIME + 100 * MS, 10 * S, UPTIME);
    assert_int_equal(atomic_load(&idle.tat), 0);
    /* a TAT lowered since the booking (a PATCH to a faster policy) stops at a full bucket */
    ig_gcra_cell_t moved = {0};
    ig_gcra_params_t fast = params(1000, 10);
    r = take(&moved, &p, UPTIME, ONE); /* books 100 ms */
    ig_gcra_rescale(&moved, &p, &fast, UPTIME);
    assert_int_equal(atomic_load(&moved.tat), UPTIME + 1 * MS); /* 10% of the new 10 ms bucket */
    ig_gcra_refund(&moved, r.tat_ns, 90 * MS, UPTIME);
    assert_int_equal(atomic_load(&moved.tat), UPTIME);
}

/* One bucket, the four classes' costs mixed: commit 5, read 1, reads at 0.1, and a 304 refund. */
static void test_mixed_sequence(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    int64_t t = UPTIME;
    ig_gcra_result_t r = take(&cell, &p, t, FIVE);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 5);
    for (int i = 4; i >= 1; i--) {
        r = take(&cell, &p, t, ONE);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, i);
    }
    ig_gcra_result_t read304 = take(&cell, &p, t, ONE); /* the tenth unit; its 304 gives 0.9 back */
    assert_true(read304.allowed);
    r = take(&cell, &p, t, TENTH);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 10 * MS);
    ig_gcra_refund(&cell, read304.tat_ns, ig_gcra_cost_ns(&p, ONE) - ig_gcra_cost_ns(&p, TENTH), t);
    assert_int_equal(drain(&cell, &p, t, TENTH), 9);
    /* 10 units used: a commit needs 5 of them free again */
    r = take(&cell, &p, t + 100 * MS, FIVE);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 1);            /* one request of cost 1 would pass */
    assert_int_equal(r.retry_after_ns, 400 * MS); /* the commit in 400 ms */
    char rl[96];
    assert_true(ig_gcra_header(&p, &r, rl, sizeof rl) > 0);
    assert_string_equal(rl, "\"token\";r=1;t=0");
    assert_int_equal(ig_gcra_retry_after_s(&r), 1);
    assert_true(take(&cell, &p, t + 500 * MS, FIVE).allowed);
    r = take(&cell, &p, t + 500 * MS, ONE);
    assert_false(r.allowed);
    assert_true(ig_gcra_header(&p, &r, rl, sizeof rl) > 0);
    assert_string_equal(rl, "\"token\";r=0;t=1");
}

/* Held requests (ratelimiter.max_delay_ms): a costly request's slot is where its cost is free. */
static void test_within_holds_costly_to_its_slot(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 10);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    assert_int_equal(drain(&cell, &p, UPTIME, ONE), 10);
    /* two commits of 5 held 500 ms apart, the third beyond the 1 s wait */
    for (int64_t wait = 500 * MS; wait <= 1000 * MS; wait += 500 * MS) {
        ig_gcra_take_cost(&cell, &p, UPTIME, 1 * S, FIVE, &r);
        assert_true(r.allowed);
        assert_int_equal(r.delay_ns, wait);
    }
    ig_gcra_take_cost(&cell, &p, UPTIME, 1 * S, FIVE, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ns, 1500 * MS);
    /* a cheap request behind them waits for its own slot only */
    ig_gcra_take_cost(&cell, &p, UPTIME, 2 * S, TENTH, &r);
    assert_true(r.allowed);
    assert_int_equal(r.delay_ns, 1010 * MS);
}

/* Over a long random mix the admitted cost units stay within burst + rate x time, and come close to it under
 * saturation (each arrival offers one of the costs). */
static void test_mixed_bound(void **state)
{
    (void)state;
    static const int64_t costs[] = {ONE, TENTH, FIVE, 250, 10};
    ig_gcra_params_t p = params(100, 20);
    ig_gcra_cell_t cell = {0};
    uint64_t x = 2463534242u;
    int64_t units = 0, t = 0, d = 60 * S;
    for (; t <= d; t += 100 * 1000) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t c = costs[x % 5];
        units += take(&cell, &p, UPTIME + t, c).allowed ? c : 0;
    }
    int64_t bound = (20 + 100 * 60) * ONE;
    assert_true(units <= bound);
    assert_true(units >= bound - 5 * ONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenth_admits_100_then_one_per_10ms),
        cmocka_unit_test(test_five_admits_2),
        cmocka_unit_test(test_cost_above_burst_is_the_burst),
        cmocka_unit_test(test_cost_rounds_up),
        cmocka_unit_test(test_cost_one_is_plain_take),
        cmocka_unit_test(test_refund_304),
        cmocka_unit_test(test_refund_only_what_is_ahead),
        cmocka_unit_test(test_refund_never_beyond_full),
        cmocka_unit_test(test_mixed_sequence),
        cmocka_unit_test(test_within_holds_costly_to_its_slot),
        cmocka_unit_test(test_mixed_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
