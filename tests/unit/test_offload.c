/* test_offload — the bounded queue behind ig_http_defer: capacity counts queued, running and reserved jobs;
 * jobs run in order on the offload thread with done(item, true); a stop hands queued jobs back unrun
 * (done(item, false)), lets the running one finish and joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "http/offload.h"

#define NJOBS 8

static atomic_int started, release_first, ran[NJOBS], done_ran[NJOBS], done_unrun[NJOBS], order[NJOBS];
static atomic_int ndone;

static void reset(void)
{
    atomic_store(&started, 0);
    atomic_store(&release_first, 0);
    atomic_store(&ndone, 0);
    for (int i = 0; i < NJOBS; i++) {
        atomic_store(&ran[i], 0);
        atomic_store(&done_ran[i], 0);
        atomic_store(&done_unrun[i], 0);
        atomic_store(&order[i], -1);
    }
}

static void nap(void)
{
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
}

static void work(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&started, 1);
    if (i == 0)
        while (!atomic_load(&release_first)) nap(); /* job 0 keeps the one thread busy until told */
    atomic_fetch_add(&ran[i], 1);
}

static void done(void *item, bool did_run)
{
    int i = (int)(intptr_t)item;
    if (did_run) {
        atomic_fetch_add(&done_ran[i], 1);
        atomic_store(&order[atomic_fetch_add(&ndone, 1)], i);
    } else {
        atomic_fetch_add(&done_unrun[i], 1);
        atomic_store(&release_first, 1); /* the stop has handed the queue back: let job 0 end */
    }
}

static void test_capacity_counts_queued_running_and_reserved(void **state)
{
    (void)state;
    reset();
    ig_offload_t *q = ig_offload_new(1, 3, 0, done);
    assert_non_null(q);
    assert_true(ig_offload_reserve(q));
    ig_offload_add(q, work, (void *)(intptr_t)0, (void *)(intptr_t)0); /* runs, and blocks the thread */
    while (!atomic_load(&started)) nap();
    assert_true(ig_offload_reserve(q));
    assert_true(ig_offload_reserve(q));
    assert_false(ig_offload_reserve(q)); /* 1 running + 2 reserved = 3 */
    assert_int_equal(ig_offload_pending(q), 3);
    ig_offload_unreserve(q);
    assert_true(ig_offload_reserve(q)); /* the room came back */
    ig_offload_add(q, work, (void *)(intptr_t)1, (void *)(intptr_t)1);
    ig_offload_add(q, work, (void *)(intptr_t)2, (void *)(intptr_t)2);
    assert_false(ig_offload_reserve(q));
    atomic_store(&release_first, 1);
    while (atomic_load(&ndone) < 3) nap();
    for (int i = 0; i < 3; i++) assert_int_equal(atomic_load(&order[i]), i); /* in arrival order */
    while (ig_offload_pending(q)) nap();
    assert_true(ig_offload_reserve(q));
    ig_offload_unreserve(q);
    ig_offload_free(q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&ran[i]), 1);
        assert_int_equal(atomic_load(&done_ran[i]), 1);
        assert_int_equal(atomic_load(&done_unrun[i]), 0);
    }
}

static void test_stop_hands_back_queued_jobs_unrun(void **state)
{
    (void)state;
    reset();
    ig_offload_t *q = ig_offload_new(1, NJOBS, 0, done);
    assert_non_null(q);
    for (int i = 0; i < 4; i++) {
        assert_true(ig_offload_reserve(q));
        ig_offload_add(q, work, (void *)(intptr_t)i, (void *)(intptr_t)i);
    }
    while (!atomic_load(&started)) nap(); /* job 0 runs; 1..3 wait */
    ig_offload_stop(q);                   /* returns once job 0 ended: done(1..3, false) let it go */
    assert_int_equal(atomic_load(&ran[0]), 1);
    assert_int_equal(atomic_load(&done_ran[0]), 1);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(atomic_load(&ran[i]), 0);
        assert_int_equal(atomic_load(&done_unrun[i]), 1);
        assert_int_equal(atomic_load(&done_ran[i]), 0);
    }
    assert_false(ig_offload_reserve(q)); /* stopped: no more jobs */
    ig_offload_stop(q);                  /* a second stop does nothing */
    ig_offload_free(q);
    ig_offload_free(NULL);
}

static void test_several_threads_run_every_job_once(void **state)
{
    (void)state;
    reset();
    atomic_store(&release_first, 1);
    ig_offload_t *q = ig_offload_new(3, NJOBS, 5, done);
    assert_non_null(q);
    for (int i = 0; i < NJOBS; i++) {
        assert_true(ig_offload_reserve(q));
        ig_offload_add(q, work, (void *)(intptr_t)i, (void *)(intptr_t)i);
    }
    while (atomic_load(&ndone) < NJOBS) nap();
    ig_offload_free(q);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(atomic_load(&ran[i]), 1);
        assert_int_equal(atomic_load(&done_ran[i]), 1);
    }
    assert_null(ig_offload_new(0, 4, 0, done));
    assert_null(ig_offload_new(1, 0, 0, done));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_counts_queued_running_and_reserved),
        cmocka_unit_test(test_stop_hands_back_queued_jobs_unrun),
        cmocka_unit_test(test_several_threads_run_every_job_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
