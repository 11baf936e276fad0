/* metrics — see metrics.h.
 *
 * Hot path (ig_metrics_request_done): hash (route pointer, method pointer, status) into the thread's key table
 * (linear probing, at most KEY_MAX of KEY_SLOTS used so a probe always ends), bump its count; find the route's
 * histogram the same way and bump one bucket and the sum.  A new key is published by a release store of its
 * route pointer after its other fields are written, so a scrape that sees the pointer (acquire) sees the rest.
 * The scrape copies every block's live slots, sorts them by label text and adds up equal neighbours. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/version.h"

/* Latency bucket upper bounds, seconds. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
#define NB (sizeof bounds / sizeof bounds[0])

#define KEY_SLOTS 1024 /* a power of two */
#define KEY_MAX 768    /* keys a thread holds before folding new ones into the overflow route */
#define HIST_SLOTS 128 /* a power of two */
#define HIST_MAX 96
#define STATUS_MAX 600 /* overflow counts by exact status; [0] for anything outside 100..599 */

typedef struct {
    _Atomic(const char *) route; /* NULL: free */
    const char *method;
    int status;
    _Atomic uint64_t n;
} kslot_t;

typedef struct {
    _Atomic(const char *) route; /* NULL: free */
    _Atomic uint64_t buckets[NB + 1];
    _Atomic uint64_t sum_ns;
} hslot_t;

typedef struct tblock {
    alignas(64) _Atomic int64_t started, ended;
    int nkeys, nhists; /* owner thread only */
    kslot_t keys[KEY_SLOTS];
    hslot_t hists[HIST_SLOTS];
    _Atomic uint64_t over_status[STATUS_MAX];
    hslot_t over_hist;
    struct tblock *next;
} tblock_t;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tblock_t *blocks;
static _Thread_local tblock_t *mine;
static _Atomic uint64_t commits[3];
static _Atomic uint64_t store_errors;
static _Atomic uint64_t commit_batches, commit_batched;
static _Atomic uint64_t meta_syncs, meta_sync_failures;
static _Atomic uint64_t purges[3];
static _Atomic uint64_t rl_held, rl_held_ns, rl_refused;

static tblock_t *me(void)
{
    if (!mine) {
        size_t sz = (sizeof(tblock_t) + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
        tblock_t *b = aligned_alloc(64, sz);
        if (!b) abort();
        memset(b, 0, sz);
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

static inline size_t mix(uintptr_t a, uintptr_t b, unsigned s)
{
    uint64_t h = ((uint64_t)a * 0x9E3779B97F4A7C15u) ^ ((uint64_t)b * 0xC2B2AE3D27D4EB4Fu) ^ s;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    return (size_t)(h ^ (h >> 32));
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

/* The count of (route, method, status) on this thread, or NULL when the table is full. */
static _Atomic uint64_t *key_count(tblock_t *b, const char *route, const char *method, int status)
{
    size_t i = mix((uintptr_t)route, (uintptr_t)method, (unsigned)status) & (KEY_SLOTS - 1);
    for (;; i = (i + 1) & (KEY_SLOTS - 1)) {
        kslot_t *k = &b->keys[i];
        const char *kr = atomic_load_explicit(&k->route, memory_order_relaxed);
        if (kr == route && k->method == method && k->status == status) return &k->n;
        if (kr) continue;
        if (b->nkeys >= KEY_MAX) return NULL;
        b->nkeys++;
        k->method = method;
        k->status = status;
        atomic_store_explicit(&k->route, route, memory_order_release);
        return &k->n;
    }
}

/* The histogram of route on this thread; the overflow one when the table is full. */
static hslot_t *route_hist(tblock_t *b, const char *route)
{
    size_t i = mix((uintptr_t)route, 0, 0) & (HIST_SLOTS - 1);
    for (;; i = (i + 1) & (HIST_SLOTS - 1)) {
        hslot_t *h = &b->hists[i];
        const char *hr = atomic_load_explicit(&h->route, memory_order_relaxed);
        if (hr == route) return h;
        if (hr) continue;
        if (b->nhists >= HIST_MAX) return &b->over_hist;
        b->nhists++;
        atomic_store_explicit(&h->route, route, memory_order_release);
        return h;
    }
}

void ig_metrics_request_done(const char *route, const char *method, int status, int64_t elapsed_ns)
{
    tblock_t *b = me();
    if (!route) route = "unmatched";
    if (!method) method = "OTHER";
    _Atomic uint64_t *n = key_count(b, route, method, status);
    if (n) bump(n, 1);
    else bump(&b->over_status[status >= 100 && status < STATUS_MAX ? status : 0], 1);
    hslot_t *h = route_hist(b, route);
    double s = (double)elapsed_ns / 1e9;
    size_t i = 0;
    while (i < NB && s > bounds[i]) i++;
    bump(&h->buckets[i], 1);
    bump(&h->sum_ns, (uint64_t)(elapsed_ns > 0 ? elapsed_ns : 0));
}

int64_t ig_metrics_inflight(void)
{
    int64_t n = 0;
    pthread_mutex_lock(&reg_mu);
    for (tblock_t *b = blocks; b; b = b->next) n += atomic_load(&b->started) - atomic_load(&b->ended);
    pthread_mutex_unlock(&reg_mu);
    return n;
}

void ig_metrics_commit(ig_commit_result_t result)
{
    if ((unsigned)result < 3) atomic_fetch_add_explicit(&commits[result], 1, memory_order_relaxed);
}

void ig_metrics_ratelimit_held(int64_t delay_ns)
{
    atomic_fetch_add_explicit(&rl_held, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rl_held_ns, (uint64_t)(delay_ns > 0 ? delay_ns : 0), memory_order_relaxed);
}

void ig_metrics_ratelimit_refused(void)
{
    atomic_fetch_add_explicit(&rl_refused, 1, memory_order_relaxed);
}

void ig_metrics_commit_batch(size_t n)
{
    atomic_fetch_add_explicit(&commit_batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&commit_batched, n, memory_order_relaxed);
}

void ig_metrics_metadata_sync(bool ok)
{
    atomic_fetch_add_explicit(ok ? &meta_syncs : &meta_sync_failures, 1, memory_order_relaxed);
}

void ig_metrics_purge(ig_purge_result_t r)
{
    atomic_fetch_add_explicit(&purges[r], 1, memory_order_relaxed);
}

void ig_metrics_store_error(void)
{
    atomic_fetch_add_explicit(&store_errors, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------ scrape */

typedef struct {
    const char *route, *method;
    int status;
    uint64_t n;
} krow_t;

typedef struct {
    const char *route;
    uint64_t buckets[NB + 1];
    uint64_t sum_ns;
} hrow_t;

typedef struct {
    krow_t *k;
    size_t nk, capk;
    hrow_t *h;
    size_t nh, caph;
    int64_t inflight;
    bool oom;
} snap_t;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(p, nc * elem);
    if (q) *cap = nc;
    return q;
}

static void snap_key(snap_t *s, const char *route, const char *method, int status, uint64_t n)
{
    if (n == 0 || s->oom) return;
    krow_t *k = grow(s->k, &s->capk, s->nk + 1, sizeof *k);
    if (!k) {
        s->oom = true;
        return;
    }
    s->k = k;
    s->k[s->nk++] = (krow_t){route, method, status, n};
}

static void snap_hist(snap_t *s, const char *route, const hslot_t *h)
{
    if (s->oom) return;
    hrow_t *rows = grow(s->h, &s->caph, s->nh + 1, sizeof *rows);
    if (!rows) {
        s->oom = true;
        return;
    }
    s->h = rows;
    hrow_t *row = &s->h[s->nh++];
    row->route = route;
    uint64_t total = 0;
    for (size_t i = 0; i <= NB; i++) {
        row->buckets[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        total += row->buckets[i];
    }
    row->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    if (total == 0) s->nh--;
}

static void snap_block(snap_t *s, tblock_t *b)
{
    for (size_t i = 0; i < KEY_SLOTS; i++) {
        kslot_t *k = &b->keys[i];
        const char *route = atomic_load_explicit(&k->route, memory_order_acquire);
        if (route) snap_key(s, route, k->method, k->status, atomic_load_explicit(&k->n, memory_order_relaxed));
    }
    for (int st = 0; st < STATUS_MAX; st++)
        snap_key(s, IG_METRICS_OVERFLOW_ROUTE, "OTHER", st,
                 atomic_load_explicit(&b->over_status[st], memory_order_relaxed));
    for (size_t i = 0; i < HIST_SLOTS; i++) {
        const char *route = atomic_load_explicit(&b->hists[i].route, memory_order_acquire);
        if (route) snap_hist(s, route, &b->hists[i]);
    }
    snap_hist(s, IG_METRICS_OVERFLOW_ROUTE, &b->over_hist);
    s->inflight += atomic_load(&b->started) - atomic_load(&b->ended);
}

static int cmp_key(const void *a, const void *b)
{
    const krow_t *x = a, *y = b;
    int c = strcmp(x->route, y->route);
    if (c == 0) c = strcmp(x->method, y->method);
    if (c == 0) c = (x->status > y->status) - (x->status < y->status);
    return c;
}

static int cmp_hist(const void *a, const void *b)
{
    return strcmp(((const hrow_t *)a)->route, ((const hrow_t *)b)->route);
}

/* A label value in the exposition format: backslash, quote and newline escaped. */
static void put_label(ig_buf_t *sb, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"') ig_buf_printf(sb, "\\%c", *p);
        else if (*p == '\n') ig_buf_append(sb, "\\n", 2);
        else ig_buf_append(sb, p, 1);
    }
}

static void render_requests(ig_buf_t *sb, snap_t *s)
{
    ig_buf_printf(sb, "# HELP icegate_http_requests_total HTTP requests answered, by route template, method and "
                      "status code.\n# TYPE icegate_http_requests_total counter\n");
    if (s->nk) qsort(s->k, s->nk, sizeof *s->k, cmp_key); /* s->k is NULL when empty */
    for (size_t i = 0; i < s->nk;) {
        krow_t row = s->k[i++];
        while (i < s->nk && cmp_key(&row, &s->k[i]) == 0) row.n += s->k[i++].n;
        ig_buf_printf(sb, "icegate_http_requests_total{route=\"");
        put_label(sb, row.route);
        ig_buf_printf(sb, "\",method=\"");
        put_label(sb, row.method);
        ig_buf_printf(sb, "\",status=\"%d\"} %llu\n", row.status, (unsigned long long)row.n);
    }
}

static void render_hist(ig_buf_t *sb, const hrow_t *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= NB; i++) {
        cum += h->buckets[i];
        ig_buf_printf(sb, "icegate_http_request_duration_seconds_bucket{route=\"");
        put_label(sb, h->route);
        if (i < NB) ig_buf_printf(sb, "\",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else ig_buf_printf(sb, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    ig_buf_printf(sb, "icegate_http_request_duration_seconds_sum{route=\"");
    put_label(sb, h->route);
    ig_buf_printf(sb, "\"} %.6f\n", (double)h->sum_ns / 1e9);
    ig_buf_printf(sb, "icegate_http_request_duration_seconds_count{route=\"");
    put_label(sb, h->route);
    ig_buf_printf(sb, "\"} %llu\n", (unsigned long long)cum);
}

static void render_hists(ig_buf_t *sb, snap_t *s)
{
    ig_buf_printf(sb, "# HELP icegate_http_request_duration_seconds Time from request to queued response, by "
                      "route template.\n# TYPE icegate_http_request_duration_seconds histogram\n");
    if (s->nh) qsort(s->h, s->nh, sizeof *s->h, cmp_hist);
    for (size_t i = 0; i < s->nh;) {
        hrow_t row = s->h[i++];
        while (i < s->nh && strcmp(row.route, s->h[i].route) == 0) {
            for (size_t j = 0; j <= NB; j++) row.buckets[j] += s->h[i].buckets[j];
            row.sum_ns += s->h[i++].sum_ns;
        }
        render_hist(sb, &row);
    }
}

void ig_metrics_render(ig_buf_t *sb)
{
    snap_t s = {0};
    pthread_mutex_lock(&reg_mu);
    for (tblock_t *b = blocks; b; b = b->next) snap_block(&s, b);
    pthread_mutex_unlock(&reg_mu);
    if (!s.oom) {
        render_requests(sb, &s);
        render_hists(sb, &s);
    }
    free(s.k);
    free(s.h);
    ig_buf_printf(sb, "# HELP icegate_http_requests_in_flight Requests received and not yet finished.\n"
                      "# TYPE icegate_http_requests_in_flight gauge\nicegate_http_requests_in_flight %lld\n",
                  (long long)s.inflight);
    static const char *results[3] = {"ok", "conflict", "failed"};
    ig_buf_printf(sb, "# HELP icegate_commits_total Table, view and transaction commits, by result.\n"
                      "# TYPE icegate_commits_total counter\n");
    for (int i = 0; i < 3; i++)
        ig_buf_printf(sb, "icegate_commits_total{result=\"%s\"} %llu\n", results[i],
                      (unsigned long long)atomic_load_explicit(&commits[i], memory_order_relaxed));
    ig_buf_printf(sb, "# HELP icegate_commit_batches_total Batches of the group commit: each made its commits "
                      "durable with one set of syncs.\n# TYPE icegate_commit_batches_total counter\n"
                      "icegate_commit_batches_total %llu\n# HELP icegate_commit_batched_total Commits made durable "
                      "by those batches.\n# TYPE icegate_commit_batched_total counter\nicegate_commit_batched_total "
                      "%llu\n",
                  (unsigned long long)atomic_load_explicit(&commit_batches, memory_order_relaxed),
                  (unsigned long long)atomic_load_explicit(&commit_batched, memory_order_relaxed));
    ig_buf_printf(sb, "# HELP icegate_metadata_syncs_total Syncs of the warehouse by the metadata flusher "
                      "(catalog.metadata_sync: journal).\n# TYPE icegate_metadata_syncs_total counter\n"
                      "icegate_metadata_syncs_total{result=\"ok\"} %llu\nicegate_metadata_syncs_total{result=\"error\"} "
                      "%llu\n",
                  (unsigned long long)atomic_load_explicit(&meta_syncs, memory_order_relaxed),
                  (unsigned long long)atomic_load_explicit(&meta_sync_failures, memory_order_relaxed));
    ig_buf_printf(sb, "# HELP icegate_purges_total Locations of dropped tables the purger handled: deleted, "
                      "skipped (a live object overlaps them) or failed (queued again).\n# TYPE icegate_purges_total "
                      "counter\nicegate_purges_total{result=\"done\"} %llu\nicegate_purges_total{result=\"skipped\"} "
                      "%llu\nicegate_purges_total{result=\"failed\"} %llu\n",
                  (unsigned long long)atomic_load_explicit(&purges[IG_PURGE_DONE], memory_order_relaxed),
                  (unsigned long long)atomic_load_explicit(&purges[IG_PURGE_SKIPPED], memory_order_relaxed),
                  (unsigned long long)atomic_load_explicit(&purges[IG_PURGE_FAILED], memory_order_relaxed));
    ig_buf_printf(sb, "# HELP icegate_store_errors_total Store operations that failed with an I/O or database "
                      "error.\n# TYPE icegate_store_errors_total counter\nicegate_store_errors_total %llu\n",
                  (unsigned long long)atomic_load_explicit(&store_errors, memory_order_relaxed));
    ig_buf_printf(sb,
                  "# HELP icegate_ratelimit_held_total Requests over their token's Max RPS held to their slot "
                  "(ratelimiter.max_delay_ms).\n# TYPE icegate_ratelimit_held_total counter\n"
                  "icegate_ratelimit_held_total %llu\n"
                  "# HELP icegate_ratelimit_held_seconds_total Time those requests were held.\n"
                  "# TYPE icegate_ratelimit_held_seconds_total counter\nicegate_ratelimit_held_seconds_total %.6f\n"
                  "# HELP icegate_ratelimit_refused_total Requests refused with 429 for their token's Max RPS.\n"
                  "# TYPE icegate_ratelimit_refused_total counter\nicegate_ratelimit_refused_total %llu\n",
                  (unsigned long long)atomic_load_explicit(&rl_held, memory_order_relaxed),
                  (double)atomic_load_explicit(&rl_held_ns, memory_order_relaxed) / 1e9,
                  (unsigned long long)atomic_load_explicit(&rl_refused, memory_order_relaxed));
    ig_buf_printf(sb, "# HELP icegate_build_info The running build.\n# TYPE icegate_build_info gauge\n"
                      "icegate_build_info{version=\"%s\"} 1\n", IG_VERSION);
}
