/* test_ratelimit — GCRA admission counts, header values, parameter changes and concurrency, all on an
 * injected clock (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/gcra.h"
#include "core/clock.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)

/* A realistic CLOCK_MONOTONIC value (~58 days of uptime) so nothing relies on the clock starting at 0. */
#define UPTIME (INT64_C(5000000) * S)

static ig_gcra_params_t params(double rps, int burst)
{
    ig_gcra_params_t p;
    assert_int_equal(ig_gcra_params_init(&p, rps, burst), 0);
    return p;
}

/* Offers one request every `spacing` ns over [start, start + duration] (both ends included); returns how many
 * were admitted. */
static int64_t simulate(const ig_gcra_params_t *p, int64_t start, int64_t duration, int64_t spacing,
                        int64_t *offered)
{
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    int64_t admitted = 0, n = 0;
    for (int64_t t = 0; t <= duration; t += spacing, n++) {
        ig_gcra_take(&cell, p, start + t, &r);
        admitted += r.allowed;
        assert_true(r.remaining >= 0 && r.remaining < p->burst);
        assert_true(r.allowed ? r.retry_after_ns == 0 : r.retry_after_ns > 0);
    }
    if (offered) *offered = n;
    return admitted;
}

/* ---- exact admission counts ---- */

static void test_exact_counts_table(void **state)
{
    (void)state;
    static const double rates[] = {0.5, 1, 10, 1000};
    static const int bursts[] = {1, 5, 100};
    static const int64_t starts[] = {0, UPTIME};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        for (size_t j = 0; j < sizeof bursts / sizeof bursts[0]; j++) {
            ig_gcra_params_t p = params(rates[i], bursts[j]);
            assert_int_equal(p.emission_ns, (int64_t)(1e9 / rates[i])); /* exact for these rates */
            /* At least 10x overload: spacing T / (20 * burst) offers >= 10 requests per admitted one, and
             * divides T exactly so requests land on the instants where a slot opens. */
            int64_t spacing = p.emission_ns / (20 * bursts[j]);
            assert_int_equal(spacing * 20 * bursts[j], p.emission_ns);
            int64_t expected = bursts[j] + (int64_t)floor(rates[i] * 10);
            for (size_t k = 0; k < 2; k++) {
                int64_t offered = 0;
                int64_t got = simulate(&p, starts[k], 10 * S, spacing, &offered);
                if (got != expected)
                    print_error("rate %g burst %d start %lld: admitted %lld, expected %lld\n", rates[i],
                                bursts[j], (long long)starts[k], (long long)got, (long long)expected);
                assert_int_equal(got, expected);
                assert_true(offered >= 10 * expected);
                /* A request exactly at 10 s is the last one admitted: stop 1 ns short and it is missing. */
                assert_int_equal(simulate(&p, starts[k], 10 * S - 1, spacing, NULL), expected - 1);
            }
        }
    }
}

static void test_boundary_instant(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 1);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    ig_gcra_take(&cell, &p, UPTIME, &r);
    assert_int_equal(r.allowed, 1);
    ig_gcra_take(&cell, &p, UPTIME + 100 * MS - 1, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 1);
    ig_gcra_take(&cell, &p, UPTIME + 100 * MS, &r); /* exactly when the slot opens: admitted */
    assert_int_equal(r.allowed, 1);
}

static void test_idle_refills_to_burst_only(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 5);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    ig_gcra_take(&cell, &p, UPTIME, &r);
    /* An hour idle banks a full bucket (5), not 36000 requests. */
    int admitted = 0;
    for (int i = 0; i < 20; i++) {
        ig_gcra_take(&cell, &p, UPTIME + 3600 * S, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 5);
}

static void test_remaining_and_reset(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 5); /* T = 100 ms, tau = 400 ms */
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    for (int i = 0; i < 5; i++) {
        ig_gcra_take(&cell, &p, UPTIME, &r);
        assert_int_equal(r.allowed, 1);
        assert_int_equal(r.remaining, 4 - i);
        assert_int_equal(r.retry_after_ns, 0);
        assert_int_equal(r.reset_ns, (i + 1) * 100 * MS);
    }
    ig_gcra_take(&cell, &p, UPTIME + 30 * MS, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_ns, 70 * MS);
    assert_int_equal(r.reset_ns, 470 * MS);
    /* 250 ms later two slots have opened: take one, one left. */
    ig_gcra_take(&cell, &p, UPTIME + 250 * MS, &r);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.remaining, 1);
    assert_int_equal(r.reset_ns, 350 * MS);
}

/* ---- parameter validation ---- */

static void test_params_init(void **state)
{
    (void)state;
    ig_gcra_params_t p;
    assert_int_equal(ig_gcra_params_init(&p, 0, 1), -1);
    assert_int_equal(ig_gcra_params_init(&p, -1, 1), -1);
    assert_int_equal(ig_gcra_params_init(&p, NAN, 1), -1);
    assert_int_equal(ig_gcra_params_init(&p, INFINITY, 1), -1);
    assert_int_equal(ig_gcra_params_init(&p, 10, 0), -1);
    assert_int_equal(ig_gcra_params_init(&p, 10, -3), -1);
    assert_int_equal(ig_gcra_params_init(&p, 2e9, 1), -1);
    assert_int_equal(ig_gcra_params_init(&p, 1e-12, 1000000), -1); /* window of ~3e10 years */
    assert_int_equal(ig_gcra_params_init(NULL, 10, 1), -1);

    assert_int_equal(ig_gcra_params_init(&p, 1e6, 1000000), 0);
    assert_int_equal(p.emission_ns, 1000);
    assert_int_equal(p.tolerance_ns, INT64_C(999999) * 1000);
    assert_int_equal(ig_gcra_params_init(&p, 0.1, 1), 0); /* 1e9 / 0.1 is not exact in binary: snapped */
    assert_int_equal(p.emission_ns, 10 * S);
    assert_int_equal(ig_gcra_params_init(&p, 1.0 / 3, 1), 0);
    assert_int_equal(p.emission_ns, 3 * S);
    /* A genuinely non-integer interval is rounded up: the limit is never looser than configured. */
    assert_int_equal(ig_gcra_params_init(&p, 3, 1), 0);
    assert_int_equal(p.emission_ns, 333333334);
    assert_int_equal(ig_gcra_params_init(&p, 7, 2), 0);
    assert_int_equal(p.emission_ns, 142857143);
    assert_int_equal(p.tolerance_ns, 142857143);
}

/* ---- headers ---- */

static void assert_headers(const ig_gcra_params_t *p, const ig_gcra_result_t *r, const char *want_rl,
                           long want_retry_after)
{
    char buf[128];
    int n = ig_gcra_header(p, r, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(want_rl));
    assert_string_equal(buf, want_rl);
    assert_int_equal(ig_gcra_retry_after_s(r), want_retry_after);
}

static void assert_policy(double rps, int burst, const char *want)
{
    ig_gcra_params_t p = params(rps, burst);
    char buf[128];
    int n = ig_gcra_policy_header(&p, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_policy_header(void **state)
{
    (void)state;
    assert_policy(10, 10, "\"token\";q=10;w=1");
    assert_policy(10, 5, "\"token\";q=5;w=1"); /* 0.5 s rounds up to 1 */
    assert_policy(1000, 100, "\"token\";q=100;w=1");
    assert_policy(100, 250, "\"token\";q=250;w=3"); /* 2.5 s */
    assert_policy(0.5, 1, "\"token\";q=1;w=2");
    assert_policy(0.25, 3, "\"token\";q=3;w=12");
    assert_policy(0.3, 3, "\"token\";q=3;w=10"); /* 3 / 0.3 is 10.000000000000002 in doubles */
    assert_policy(3, 3, "\"token\";q=3;w=1");    /* from max_rps, not from the rounded-up T */
    assert_policy(100000, 100, "\"token\";q=100;w=1");

    ig_gcra_params_t p = params(10, 10);
    char small[8];
    assert_int_equal(ig_gcra_policy_header(&p, small, sizeof small), -1);
    assert_int_equal(ig_gcra_policy_header(NULL, small, sizeof small), -1);
}

static void test_headers_at_instants(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 5); /* T = 100 ms */
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;

    ig_gcra_take(&cell, &p, UPTIME, &r);
    assert_headers(&p, &r, "\"token\";r=4;t=0", 1);
    for (int i = 0; i < 4; i++)
        ig_gcra_take(&cell, &p, UPTIME, &r);
    assert_int_equal(r.allowed, 1); /* the last token: nothing left, next slot in 100 ms -> t=1 */
    assert_headers(&p, &r, "\"token\";r=0;t=1", 1);
    ig_gcra_take(&cell, &p, UPTIME + 1, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 100 * MS - 1);
    assert_headers(&p, &r, "\"token\";r=0;t=1", 1);

    /* Fractional rate: 0.5 rps, burst 1 -> one request every 2 s. */
    ig_gcra_params_t half = params(0.5, 1);
    ig_gcra_cell_t c2 = {0};
    ig_gcra_take(&c2, &half, UPTIME, &r);
    assert_int_equal(r.allowed, 1);
    assert_headers(&half, &r, "\"token\";r=0;t=2", 1);
    ig_gcra_take(&c2, &half, UPTIME + 500 * MS, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 1500 * MS);
    assert_headers(&half, &r, "\"token\";r=0;t=2", 2);
    ig_gcra_take(&c2, &half, UPTIME + 1000 * MS, &r); /* exactly 1 s to go: not rounded up to 2 */
    assert_headers(&half, &r, "\"token\";r=0;t=1", 1);
    ig_gcra_take(&c2, &half, UPTIME + 1999 * MS, &r); /* 1 ms to go: still Retry-After 1 */
    assert_int_equal(r.allowed, 0);
    assert_headers(&half, &r, "\"token\";r=0;t=1", 1);
    ig_gcra_take(&c2, &half, UPTIME + 2 * S, &r);
    assert_int_equal(r.allowed, 1);

    /* Slow rate: 1 per minute, burst 2; the third request waits the full minute. */
    ig_gcra_params_t slow = params(1.0 / 60, 2);
    ig_gcra_cell_t c3 = {0};
    ig_gcra_take(&c3, &slow, UPTIME, &r);
    assert_headers(&slow, &r, "\"token\";r=1;t=0", 1);
    ig_gcra_take(&c3, &slow, UPTIME, &r);
    assert_headers(&slow, &r, "\"token\";r=0;t=60", 1);
    ig_gcra_take(&c3, &slow, UPTIME + 15 * S, &r);
    assert_headers(&slow, &r, "\"token\";r=0;t=45", 45);

    char small[10];
    assert_int_equal(ig_gcra_header(&p, &r, small, sizeof small), -1);
}

static void test_fractional_rates(void **state)
{
    (void)state;
    /* 2.5 rps, burst 2 over 10 s: 2 + 25. */
    ig_gcra_params_t p = params(2.5, 2);
    assert_int_equal(p.emission_ns, 400 * MS);
    assert_int_equal(simulate(&p, UPTIME, 10 * S, 10 * MS, NULL), 27);
    /* 0.1 rps over 100 s: 1 + 10. */
    p = params(0.1, 1);
    assert_int_equal(simulate(&p, UPTIME, 100 * S, 100 * MS, NULL), 11);
    /* 1/3 rps over 30 s: 1 + 10. */
    p = params(1.0 / 3, 1);
    assert_int_equal(simulate(&p, UPTIME, 30 * S, 100 * MS, NULL), 11);
    /* 3 rps: T = 333333334 ns, rounded up by 2/3 ns so the limit is never looser than 3 per second. The price
     * is that the 30th refill of a 10 s run lands 20 ns after the 10 s mark instead of on it. (Burst 2 so
     * that the 1 ms arrival grid does not waste refills: with burst 1 every slot that opens between two
     * arrivals loses the gap, exactly as a full token bucket of size 1 would.) */
    p = params(3, 2);
    assert_int_equal(simulate(&p, UPTIME, 10 * S, 1 * MS, NULL), 2 + 30 - 1);
    assert_int_equal(simulate(&p, UPTIME, 10 * S + 1 * MS, 1 * MS, NULL), 2 + 30);
}

static void test_high_rate_100000(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(100000, 100);
    assert_int_equal(p.emission_ns, 10000);
    int64_t offered = 0;
    /* 1 s at 10x: one request per microsecond. */
    int64_t got = simulate(&p, UPTIME, S, 1000, &offered);
    assert_int_equal(got, 100 + 100000);
    assert_true(offered >= 1000000);
    /* Burst 1 at 100000 rps: exactly one per 10 us. */
    p = params(100000, 1);
    assert_int_equal(simulate(&p, 0, S, 1000, NULL), 1 + 100000);
}

/* ---- parameter change on a live cell (PATCH maxRps / burst) ---- */

static void test_param_change_faster(void **state)
{
    (void)state;
    ig_gcra_params_t one = params(1, 1), fifty = params(50, 50);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    ig_gcra_take(&cell, &one, UPTIME, &r);
    assert_int_equal(r.allowed, 1);
    ig_gcra_take(&cell, &one, UPTIME + 100 * MS, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 900 * MS);
    /* PATCH to 50 rps / burst 50: the 1 s of debt is 50 slots of the new policy, 49 of which the new
     * tolerance absorbs; 100 ms have passed, so the client is admitted at once. */
    ig_gcra_take(&cell, &fifty, UPTIME + 100 * MS, &r);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.remaining, 4); /* TAT 1020 ms, so 4 more slots fit under now + tau = 1080 ms */
    /* From there on it gets 50 rps: at 200 ms those 4 plus 5 refilled (100 ms / 20 ms) slots, then one per
     * 20 ms up to 10.2 s: 9 + 500. */
    int admitted = 0;
    for (int64_t t = 200 * MS; t <= 10200 * MS; t += 2 * MS) {
        ig_gcra_take(&cell, &fifty, UPTIME + t, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 509);
}

static void test_param_change_from_very_slow(void **state)
{
    (void)state;
    /* 1 request per 1000 s with burst 100: draining it leaves the TAT 100000 s (~28 h) ahead. */
    ig_gcra_params_t slow = params(0.001, 100), fast = params(50, 50);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    for (int i = 0; i < 101; i++)
        ig_gcra_take(&cell, &slow, UPTIME, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 1000 * S);
    /* PATCH to 50 rps: the debt is clamped to "bucket just emptied" of the new policy plus the 1 s slack, so
     * the wait is 1 s + one new emission interval (20 ms), not 28 hours. */
    ig_gcra_take(&cell, &fast, UPTIME + 1 * MS, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 1020 * MS);
    assert_int_equal(r.reset_ns, 2000 * MS);
    assert_int_equal(ig_gcra_retry_after_s(&r), 2);
    /* The clamp was stored, not recomputed from the sliding now: 1020 ms later the client is admitted. */
    ig_gcra_take(&cell, &fast, UPTIME + 1020 * MS, &r);
    assert_int_equal(r.allowed, 0);
    ig_gcra_take(&cell, &fast, UPTIME + 1021 * MS, &r);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(r.remaining, 0);
    ig_gcra_take(&cell, &fast, UPTIME + 1021 * MS, &r);
    assert_int_equal(r.allowed, 0);
    /* Then 50 rps: 50 more slots over the next second. */
    int admitted = 0;
    for (int64_t t = 1022 * MS; t <= 2021 * MS; t += 1 * MS) {
        ig_gcra_take(&cell, &fast, UPTIME + t, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 50);
    /* After idling the bucket is full again: 50 at once. */
    admitted = 0;
    for (int i = 0; i < 60; i++) {
        ig_gcra_take(&cell, &fast, UPTIME + 5 * S, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 50);
}

static void test_param_change_slower(void **state)
{
    (void)state;
    /* Drain 100 rps / burst 100 at t=0 (TAT 1 s ahead), then PATCH to 1 rps / burst 1: the debt is kept in
     * time, so the client waits that second out and then gets 1 rps. */
    ig_gcra_params_t fast = params(100, 100), one = params(1, 1);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    for (int i = 0; i < 100; i++)
        ig_gcra_take(&cell, &fast, UPTIME, &r);
    assert_int_equal(r.allowed, 1);
    ig_gcra_take(&cell, &one, UPTIME, &r);
    assert_int_equal(r.allowed, 0);
    assert_int_equal(r.retry_after_ns, 1 * S);
    int admitted = 0;
    for (int64_t t = 0; t <= 10 * S; t += 100 * MS) {
        ig_gcra_take(&cell, &one, UPTIME + t, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 10); /* at 1 s, 2 s, ..., 10 s */
}

/* A caller whose now is older than other callers' (read the clock, got preempted) must be refused without the
 * param-change clamp rewinding the TAT and handing out extra requests. */
static void test_out_of_order_now_no_clamp(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(1000, 10);
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    int admitted = 0;
    for (int i = 0; i < 20; i++) {
        ig_gcra_take(&cell, &p, UPTIME + 900 * MS, &r);
        admitted += r.allowed;
    }
    assert_int_equal(admitted, 10);
    int64_t tat = atomic_load(&cell.tat);
    ig_gcra_take(&cell, &p, UPTIME, &r); /* 900 ms stale */
    assert_int_equal(r.allowed, 0);
    assert_int_equal(atomic_load(&cell.tat), tat);
    ig_gcra_take(&cell, &p, UPTIME + 900 * MS, &r);
    assert_int_equal(r.allowed, 0);
    ig_gcra_take(&cell, &p, UPTIME + 901 * MS, &r);
    assert_int_equal(r.allowed, 1);
}

/* ---- concurrency ---- */

#define STRESS_THREADS 4
#define STRESS_PER_THREAD 250000

typedef struct {
    ig_gcra_cell_t *cell;
    const ig_gcra_params_t *p;
    _Atomic int64_t *clock; /* shared fake clock: every request advances it */
    pthread_barrier_t *round;
    int per_round;
    int64_t step;
    int64_t admitted;
    int64_t refused;
    int bad;
} stress_arg_t;

static void *stress_worker(void *v)
{
    stress_arg_t *a = v;
    ig_gcra_result_t r;
    for (int i = 0; i < STRESS_PER_THREAD; i++) {
        /* The fake clock runs ~1000x faster than real time, so one preemption would put a thread seconds of
         * fake time behind the others -- far more than real callers ever are (and than the 1 s clamp slack).
         * A barrier every few hundred requests keeps fake-time skew below 0.5 s. */
        if (i % a->per_round == 0) pthread_barrier_wait(a->round);
        int64_t now = atomic_fetch_add(a->clock, a->step) + a->step;
        ig_gcra_take(a->cell, a->p, now, &r);
        if (r.allowed)
            a->admitted++;
        else
            a->refused++;
        if (r.remaining < 0 || r.remaining >= a->p->burst || (r.allowed && r.retry_after_ns != 0) ||
            (!r.allowed && r.retry_after_ns <= 0))
            a->bad++;
    }
    return NULL;
}

static void run_stress(double rps, int burst, int64_t start)
{
    ig_gcra_params_t p = params(rps, burst);
    ig_gcra_cell_t cell = {0};
    atomic_store(&cell.tat, 0);
    _Atomic int64_t clock = start;
    stress_arg_t args[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    /* 10x overload: ten requests (across all threads) per emission interval. */
    int64_t step = p.emission_ns / 10;
    int64_t per_round = (S / 2) / (step * STRESS_THREADS);
    if (per_round > 1000) per_round = 1000;
    assert_true(per_round >= 1);
    pthread_barrier_t round;
    assert_int_equal(pthread_barrier_init(&round, NULL, STRESS_THREADS), 0);
    for (int i = 0; i < STRESS_THREADS; i++) {
        args[i] = (stress_arg_t){.cell = &cell,
                                 .p = &p,
                                 .clock = &clock,
                                 .round = &round,
                                 .per_round = (int)per_round,
                                 .step = step};
        assert_int_equal(pthread_create(&th[i], NULL, stress_worker, &args[i]), 0);
    }
    int64_t admitted = 0, refused = 0;
    for (int i = 0; i < STRESS_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        admitted += args[i].admitted;
        refused += args[i].refused;
        assert_int_equal(args[i].bad, 0);
    }
    pthread_barrier_destroy(&round);
    int64_t elapsed = atomic_load(&clock) - start;
    assert_int_equal(admitted + refused, (int64_t)STRESS_THREADS * STRESS_PER_THREAD);
    int64_t bound = burst + (int64_t)floor(rps * (double)elapsed / 1e9);
    print_message(
        "stress rate %g burst %d: %lld admitted, bound %lld (%lld requests over %.1f simulated s)\n", rps,
        burst, (long long)admitted, (long long)bound, (long long)(admitted + refused), (double)elapsed / 1e9);
    assert_true(admitted <= bound);
    /* Under constant overload the TAT only ever advances by T per admission, so nothing is lost except the
     * slots of requests whose now was taken before a racing thread's; allow 0.1%. */
    assert_true(admitted >= bound - bound / 1000 - 2);
}

static void test_concurrent_stress(void **state)
{
    (void)state;
    run_stress(1000, 10, UPTIME);
    run_stress(100000, 100, 0);
    run_stress(10, 5, UPTIME);
}

static void test_clock(void **state)
{
    (void)state;
    int64_t a = ig_clock_mono_ns();
    int64_t b = ig_clock_mono_ns();
    assert_true(a > 0);
    assert_true(b >= a);
}

/* A PATCH keeps the bucket's fullness: an exhausted client at 1/s moved to 50/s is exhausted at 50/s and
 * refills at 50/s (takes effect at once); a fresh client keeps its full bucket; unlimited -> limited starts full. */
static void test_rescale(void **state)
{
    (void)state;
    ig_gcra_params_t slow, fast;
    assert_int_equal(ig_gcra_params_init(&slow, 1, 1), 0);
    assert_int_equal(ig_gcra_params_init(&fast, 50, 50), 0);
    const int64_t t0 = 1000 * S;
    ig_gcra_cell_t c = {0};
    ig_gcra_result_t r;
    ig_gcra_take(&c, &slow, t0, &r);
    assert_true(r.allowed);
    ig_gcra_take(&c, &slow, t0, &r);
    assert_false(r.allowed);
    ig_gcra_rescale(&c, &slow, &fast, t0);
    /* Exhausted stays exhausted at the instant of the change... */
    ig_gcra_take(&c, &fast, t0, &r);
    assert_false(r.allowed);
    /* ...but refills at the new rate: within 1 s about 50 more pass (not 1). */
    int64_t n = 0;
    for (int64_t t = 1; t <= S; t += S / 1000) {
        ig_gcra_take(&c, &fast, t0 + t, &r);
        n += r.allowed;
    }
    assert_in_range(n, 49, 51);

    /* Half-used bucket of 10 at 10/s -> 100/s burst 100: half used, 50 available at once. */
    ig_gcra_params_t ten, hundred;
    assert_int_equal(ig_gcra_params_init(&ten, 10, 10), 0);
    assert_int_equal(ig_gcra_params_init(&hundred, 100, 100), 0);
    ig_gcra_cell_t h = {0};
    for (int i = 0; i < 5; i++) ig_gcra_take(&h, &ten, t0, &r);
    ig_gcra_rescale(&h, &ten, &hundred, t0);
    int burst = 0;
    for (int i = 0; i < 200; i++) {
        ig_gcra_take(&h, &hundred, t0, &r);
        burst += r.allowed;
    }
    assert_in_range(burst, 49, 51);

    /* Lowering: an idle (full) bucket stays full, no more and no less than the new burst. */
    ig_gcra_cell_t f = {0};
    ig_gcra_rescale(&f, &hundred, &ten, t0);
    burst = 0;
    for (int i = 0; i < 200; i++) {
        ig_gcra_take(&f, &ten, t0, &r);
        burst += r.allowed;
    }
    assert_int_equal(burst, 10);

    /* From unlimited: full bucket whatever the stale TAT said. */
    ig_gcra_cell_t u;
    atomic_init(&u.tat, t0 + 100 * S);
    ig_gcra_rescale(&u, NULL, &ten, t0);
    ig_gcra_take(&u, &ten, t0, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 9);
}

/* ratelimiter.max_delay_ms: a request whose slot opens within the wait is admitted for that time, the slot
 * taken at once; beyond the wait it is refused as before.  Served at their slots, the held requests keep the
 * GCRA bound: by any time t, at most burst + t / T have been served. */
static void test_take_within_holds_to_the_slot(void **state)
{
    (void)state;
    ig_gcra_params_t p = params(10, 2); /* T = 100 ms, burst 2 */
    ig_gcra_cell_t cell = {0};
    ig_gcra_result_t r;
    int64_t served_at[64];
    int n = 0;
    /* 30 requests at once with a 1 s wait: 2 now, then one per 100 ms up to 1 s (10 more), the rest refused */
    for (int i = 0; i < 30; i++) {
        ig_gcra_take_within(&cell, &p, UPTIME, 1 * S, &r);
        if (!r.allowed) {
            assert_int_equal(r.delay_ns, 0);
            assert_true(r.retry_after_ns > 1 * S);
            continue;
        }
        assert_true(r.delay_ns >= 0 && r.delay_ns <= 1 * S);
        served_at[n++] = UPTIME + r.delay_ns;
    }
    assert_int_equal(n, 12);
    for (int i = 0; i < n; i++) assert_int_equal(served_at[i], UPTIME + (i < 2 ? 0 : (i - 1) * 100 * MS));
    /* the bound, at every serve time */
    for (int i = 0; i < n; i++) assert_true(i + 1 <= 2 + (served_at[i] - UPTIME) / (100 * MS));
    /* an immediate take now sees the whole second booked */
    ig_gcra_take(&cell, &p, UPTIME + 1, &r);
    assert_false(r.allowed);
    /* a wait of 0 is plain take: refused, nothing booked */
    ig_gcra_cell_t c2 = {0};
    ig_gcra_take_within(&c2, &p, UPTIME, 0, &r);
    ig_gcra_take_within(&c2, &p, UPTIME, 0, &r);
    ig_gcra_take_within(&c2, &p, UPTIME, 0, &r);
    assert_false(r.allowed);
    int64_t tat = atomic_load(&c2.tat);
    ig_gcra_take_within(&c2, &p, UPTIME, 0, &r);
    assert_int_equal(atomic_load(&c2.tat), tat);
    /* the held slot is the one an immediate take would get when it opens */
    ig_gcra_take_within(&c2, &p, UPTIME, 150 * MS, &r);
    assert_true(r.allowed);
    assert_int_equal(r.delay_ns, 100 * MS);
    ig_gcra_take(&c2, &p, UPTIME + 100 * MS, &r);
    assert_false(r.allowed); /* taken by the held request */
    ig_gcra_take(&c2, &p, UPTIME + 200 * MS, &r);
    assert_true(r.allowed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_counts_table),
        cmocka_unit_test(test_boundary_instant),
        cmocka_unit_test(test_idle_refills_to_burst_only),
        cmocka_unit_test(test_remaining_and_reset),
        cmocka_unit_test(test_params_init),
        cmocka_unit_test(test_policy_header),
        cmocka_unit_test(test_headers_at_instants),
        cmocka_unit_test(test_fractional_rates),
        cmocka_unit_test(test_high_rate_100000),
        cmocka_unit_test(test_param_change_faster),
        cmocka_unit_test(test_param_change_from_very_slow),
        cmocka_unit_test(test_param_change_slower),
        cmocka_unit_test(test_out_of_order_now_no_clamp),
        cmocka_unit_test(test_concurrent_stress),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_rescale),
        cmocka_unit_test(test_take_within_holds_to_the_slot),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
