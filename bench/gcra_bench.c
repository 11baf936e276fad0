/* gcra_bench — ns per ig_gcra_take(), single thread and 2 threads, median of 5 runs.
 *
 * Built and run by bench/gcra_bench.sh with the project's compiler flags. Not part of `make test`: these are
 * timings, which vary with the machine; the unit tests own correctness.
 *
 * Scenarios (each a loop of ITERS calls per thread, timed with CLOCK_MONOTONIC around the loop):
 *   admit        fake clock, every call admitted (one successful CAS each)
 *   refuse       fake clock, bucket drained, every call refused (a load, no write)
 *   clock+take   ig_clock_mono_ns() + take, what the HTTP layer pays per request
 *   2T shared admit   two threads, one cell, every call admitted: CAS contention on one cache line
 *   2T shared refuse  two threads, one cell, all refused: read-only sharing
 *   2T own cells      two threads, a cell each (separate cache lines): no sharing
 * For 2-thread rows, ns/op is wall time divided by the calls of one thread (latency seen by a caller);
 * Mops/s is the aggregate rate.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/gcra.h"
#include "core/clock.h"

#define RUNS 5
#define ITERS 5000000L

typedef enum { MODE_ADMIT, MODE_REFUSE, MODE_CLOCK } bench_mode_t;

typedef struct {
    alignas(64) ig_gcra_cell_t cell;
} padded_cell_t;

typedef struct {
    ig_gcra_cell_t *cell;
    const ig_gcra_params_t *p;
    bench_mode_t mode;
    pthread_barrier_t *start;
    long admitted;
} worker_t;

static volatile long sink;

static void *work(void *v)
{
    worker_t *w = v;
    ig_gcra_result_t r;
    long admitted = 0;
    int64_t now = ig_clock_mono_ns();
    if (w->start) pthread_barrier_wait(w->start);
    switch (w->mode) {
    case MODE_ADMIT: /* T = 1 ns, huge tolerance, clock advancing 10 ns per call: always admitted */
        for (long i = 0; i < ITERS; i++) {
            now += 10;
            ig_gcra_take(w->cell, w->p, now, &r);
            admitted += r.allowed;
        }
        break;
    case MODE_REFUSE: /* 1 rps, drained; the clock barely moves: always refused */
        for (long i = 0; i < ITERS; i++) {
            ig_gcra_take(w->cell, w->p, now + (i & 1023), &r);
            admitted += r.allowed;
        }
        break;
    case MODE_CLOCK:
        for (long i = 0; i < ITERS; i++) {
            ig_gcra_take(w->cell, w->p, ig_clock_mono_ns(), &r);
            admitted += r.allowed;
        }
        break;
    }
    w->admitted = admitted;
    sink += admitted;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed run; returns ns per call per thread. */
static double run_once(int threads, int shared, bench_mode_t mode, const ig_gcra_params_t *p)
{
    padded_cell_t *cells = aligned_alloc(64, sizeof(padded_cell_t) * 2);
    if (!cells) {
        perror("aligned_alloc");
        exit(1);
    }
    memset(cells, 0, sizeof(padded_cell_t) * 2);
    ig_gcra_result_t r;
    if (mode == MODE_REFUSE) /* drain the bucket(s) first */
        for (int c = 0; c < 2; c++)
            for (int i = 0; i <= p->burst; i++)
                ig_gcra_take(&cells[c].cell, p, ig_clock_mono_ns(), &r);

    worker_t w[2];
    pthread_t th[2];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.cell = &cells[shared ? 0 : i].cell, .p = p, .mode = mode, .start = &start};
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    int64_t t0 = ig_clock_mono_ns();
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = ig_clock_mono_ns();
    pthread_barrier_destroy(&start);
    free(cells);
    return (double)(t1 - t0) / (double)ITERS;
}

static void row(const char *name, int threads, int shared, bench_mode_t mode, const ig_gcra_params_t *p)
{
    double ns[RUNS];
    for (int i = 0; i < RUNS; i++)
        ns[i] = run_once(threads, shared, mode, p);
    qsort(ns, RUNS, sizeof ns[0], cmp_double);
    double med = ns[RUNS / 2];
    printf("%-22s %7d %10.1f %10.1f %10.1f %10.1f\n", name, threads, med, ns[0], ns[RUNS - 1],
           threads * 1e3 / med);
}

int main(void)
{
    ig_gcra_params_t fast, slow, real;
    if (ig_gcra_params_init(&fast, 1e9, 1000000) || ig_gcra_params_init(&slow, 1, 1) ||
        ig_gcra_params_init(&real, 1e6, 1000)) {
        fputs("params\n", stderr);
        return 1;
    }
    printf("gcra_bench: %ld calls per thread per run, median of %d runs\n", ITERS, RUNS);
    printf("%-22s %7s %10s %10s %10s %10s\n", "scenario", "threads", "ns/op", "min", "max", "Mops/s");
    row("admit", 1, 1, MODE_ADMIT, &fast);
    row("refuse", 1, 1, MODE_REFUSE, &slow);
    row("clock+take (1e6 rps)", 1, 1, MODE_CLOCK, &real);
    row("shared cell, admit", 2, 1, MODE_ADMIT, &fast);
    row("shared cell, refuse", 2, 1, MODE_REFUSE, &slow);
    row("shared, clock+take", 2, 1, MODE_CLOCK, &real);
    row("own cells, admit", 2, 0, MODE_ADMIT, &fast);
    return 0;
}
