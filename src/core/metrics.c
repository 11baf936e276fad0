/* metrics — see metrics.h. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

/* Latency bucket upper bounds, seconds. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
#define NB (sizeof bounds / sizeof bounds[0])

typedef struct tblock {
    alignas(64) _Atomic int64_t started, ended;
    _Atomic uint64_t by_class[6]; /* 1xx..5xx, [0] = other */
    _Atomic uint64_t buckets[NB + 1];
    _Atomic uint64_t sum_ns;
    struct tblock *next;
} tblock_t;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tblock_t *blocks;
static _Thread_local tblock_t *mine;

static tblock_t *me(void)
{
    if (!mine) {
        tblock_t *b = aligned_alloc(64, sizeof *b);
        if (!b) abort();
        memset(b, 0, sizeof *b);
        pthread_mutex_lock(&reg_mu);
        b->next = blocks;
        blocks = b;
        pthread_mutex_unlock(&reg_mu);
        mine = b;
    }
    return mine;
}

/* Only the owning thread writes a block: a relaxed load+store is enough and avoids a locked instruction. */
static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

void ig_metrics_request_start(void)
{
    tblock_t *b = me();
    atomic_store_explicit(&b->started, atomic_load_explicit(&b->started, memory_order_relaxed) + 1,
                          memory_order_release);
}

void ig_metrics_request_end(void)
{
    tblock_t *b = me();
    atomic_store_explicit(&b->ended, atomic_load_explicit(&b->ended, memory_order_relaxed) + 1, memory_order_release);
}

void ig_metrics_request_done(int status, int64_t elapsed_ns)
{
    tblock_t *b = me();
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    bump(&b->by_class[cls], 1);
    double s = (double)elapsed_ns / 1e9;
    size_t i = 0;
    while (i < NB && s > bounds[i]) i++;
    bump(&b->buckets[i], 1);
    bump(&b->sum_ns, (uint64_t)(elapsed_ns > 0 ? elapsed_ns : 0));
}

int64_t ig_metrics_inflight(void)
{
    int64_t n = 0;
    pthread_mutex_lock(&reg_mu);
    for (tblock_t *b = blocks; b; b = b->next) n += atomic_load(&b->started) - atomic_load(&b->ended);
    pthread_mutex_unlock(&reg_mu);
    return n;
}

void ig_metrics_render(ig_buf_t *sb)
{
    uint64_t cls[6] = {0}, buckets[NB + 1] = {0}, sum = 0;
    int64_t inflight = 0;
    pthread_mutex_lock(&reg_mu);
    for (tblock_t *b = blocks; b; b = b->next) {
        for (int i = 0; i < 6; i++) cls[i] += atomic_load(&b->by_class[i]);
        for (size_t i = 0; i <= NB; i++) buckets[i] += atomic_load(&b->buckets[i]);
        sum += atomic_load(&b->sum_ns);
        inflight += atomic_load(&b->started) - atomic_load(&b->ended);
    }
    pthread_mutex_unlock(&reg_mu);
    ig_buf_printf(sb, "# HELP icegate_http_requests_total HTTP requests answered, by status class.\n"
                   "# TYPE icegate_http_requests_total counter\n");
    for (int i = 1; i < 6; i++)
        ig_buf_printf(sb, "icegate_http_requests_total{code=\"%dxx\"} %llu\n", i, (unsigned long long)cls[i]);
    ig_buf_printf(sb, "# HELP icegate_http_request_duration_seconds Time from request to queued response.\n"
                   "# TYPE icegate_http_request_duration_seconds histogram\n");
    uint64_t cum = 0, total = 0;
    for (size_t i = 0; i <= NB; i++) total += buckets[i];
    for (size_t i = 0; i < NB; i++) {
        cum += buckets[i];
        ig_buf_printf(sb, "icegate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                  (unsigned long long)cum);
    }
    ig_buf_printf(sb, "icegate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)total);
    ig_buf_printf(sb, "icegate_http_request_duration_seconds_sum %.6f\n", (double)sum / 1e9);
    ig_buf_printf(sb, "icegate_http_request_duration_seconds_count %llu\n", (unsigned long long)total);
    ig_buf_printf(sb, "# TYPE icegate_http_requests_in_flight gauge\nicegate_http_requests_in_flight %lld\n",
              (long long)inflight);
}
