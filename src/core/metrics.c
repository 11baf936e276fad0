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

#include "access/tokenstore.h"

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

#define MAX_NAMED 16
static struct {
    const char *name;
    _Atomic uint64_t n;
} named[MAX_NAMED];
static pthread_mutex_t named_mu = PTHREAD_MUTEX_INITIALIZER;

void ig_metrics_count(const char *name)
{
    for (int i = 0; i < MAX_NAMED; i++) {
        const char *n = __atomic_load_n(&named[i].name, __ATOMIC_ACQUIRE);
        if (n && strcmp(n, name) == 0) {
            atomic_fetch_add(&named[i].n, 1);
            return;
        }
        if (!n) {
            pthread_mutex_lock(&named_mu);
            if (!named[i].name) __atomic_store_n(&named[i].name, name, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&named_mu);
            i--; /* look at this slot again */
        }
    }
}

typedef struct {
    char *buf;
    size_t len, cap;
} sb_t;

static void sb_printf(sb_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *sb, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (sb->len + (size_t)n < sb->cap) {
            sb->len += (size_t)n;
            return;
        }
        size_t ncap = sb->cap * 2 + (size_t)n;
        char *nb = realloc(sb->buf, ncap);
        if (!nb) return;
        sb->buf = nb;
        sb->cap = ncap;
    }
}

static int token_line(void *ud, const ig_tokmem_t *m)
{
    sb_t *sb = ud;
    uint64_t r = atomic_load(&m->state->requests), l = atomic_load(&m->state->limited);
    if (r == 0) return 0;
    sb_printf(sb, "icegate_token_requests_total{token_id=\"%s\"} %llu\n", m->id, (unsigned long long)r);
    sb_printf(sb, "icegate_token_rate_limited_total{token_id=\"%s\"} %llu\n", m->id, (unsigned long long)l);
    return 0;
}

char *ig_metrics_render(ig_tokenstore_t *ts, size_t *len)
{
    sb_t sb = {malloc(8192), 0, 8192};
    if (!sb.buf) return NULL;
    sb.buf[0] = '\0';
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
    sb_printf(&sb, "# HELP icegate_http_requests_total HTTP requests answered, by status class.\n"
                   "# TYPE icegate_http_requests_total counter\n");
    for (int i = 1; i < 6; i++)
        sb_printf(&sb, "icegate_http_requests_total{code=\"%dxx\"} %llu\n", i, (unsigned long long)cls[i]);
    sb_printf(&sb, "# HELP icegate_http_request_duration_seconds Time from request to queued response.\n"
                   "# TYPE icegate_http_request_duration_seconds histogram\n");
    uint64_t cum = 0, total = 0;
    for (size_t i = 0; i <= NB; i++) total += buckets[i];
    for (size_t i = 0; i < NB; i++) {
        cum += buckets[i];
        sb_printf(&sb, "icegate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                  (unsigned long long)cum);
    }
    sb_printf(&sb, "icegate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)total);
    sb_printf(&sb, "icegate_http_request_duration_seconds_sum %.6f\n", (double)sum / 1e9);
    sb_printf(&sb, "icegate_http_request_duration_seconds_count %llu\n", (unsigned long long)total);
    sb_printf(&sb, "# TYPE icegate_http_requests_in_flight gauge\nicegate_http_requests_in_flight %lld\n",
              (long long)inflight);
    for (int i = 0; i < MAX_NAMED; i++) {
        const char *n = __atomic_load_n(&named[i].name, __ATOMIC_ACQUIRE);
        if (n) sb_printf(&sb, "%s %llu\n", n, (unsigned long long)atomic_load(&named[i].n));
    }
    if (ts) {
        sb_printf(&sb, "# HELP icegate_access_tokens Access tokens loaded.\n# TYPE icegate_access_tokens gauge\n"
                       "icegate_access_tokens %zu\n",
                  ig_tokenstore_count(ts));
        sb_printf(&sb, "# HELP icegate_token_requests_total Authenticated requests per access token.\n"
                       "# TYPE icegate_token_requests_total counter\n"
                       "# HELP icegate_token_rate_limited_total Requests refused with 429 per access token.\n"
                       "# TYPE icegate_token_rate_limited_total counter\n");
        ig_tokenstore_walk(ts, token_line, &sb);
    }
    *len = sb.len;
    return sb.buf;
}
