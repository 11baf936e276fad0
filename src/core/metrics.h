/* metrics — process-wide counters for /metrics (Prometheus text format).
 *
 * Each HTTP worker thread owns a block that only it writes (plain relaxed stores, no atomic read-modify-write,
 * no lock, no allocation after the thread's first request); a scrape sums the blocks.  A block holds a small
 * fixed-size open-addressing table of (route template, method, status) → count and one latency histogram per
 * route template.  Keys are pointers to static strings (route templates, ig_http_method_name's names), so the
 * label set is bounded by the code, never by traffic; a thread whose table is full folds further keys into one
 * "overflow" route instead of allocating.  Commits and store errors are rare (milliseconds each): one process-wide
 * relaxed atomic each.  Per-token counts live in the token table (access/token_table.h), which renders them
 * itself after these. */
#ifndef IG_METRICS_H
#define IG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The route label of requests a thread could not fit in its table. */
#define IG_METRICS_OVERFLOW_ROUTE "overflow"

typedef enum {
    IG_COMMIT_OK,       /* the commit was applied */
    IG_COMMIT_CONFLICT, /* 409 CommitFailedException: a requirement failed or a race was lost */
    IG_COMMIT_FAILED,   /* any other failure (bad request, no such table, storage error) */
} ig_commit_result_t;

/* A request began on this thread (counted in flight until ig_metrics_request_end). */
void ig_metrics_request_start(void);
/* Its response was queued with this status after elapsed_ns.  route and method must be static strings (a
 * route template, ig_http_method_name's name): they are kept by pointer.  NULL reads "unmatched" / "OTHER". */
void ig_metrics_request_done(const char *route, const char *method, int status, int64_t elapsed_ns);
/* The connection finished with the request. */
void ig_metrics_request_end(void);
/* Requests started and not yet ended, over all threads. */
int64_t ig_metrics_inflight(void);
/* A commit (of a table, a view or a transaction) ended so. */
void ig_metrics_commit(ig_commit_result_t result);
/* The group commit made n commits durable with one batch of syncs (catalog/group.c). */
void ig_metrics_commit_batch(size_t n);
/* A store operation failed with an I/O or database error. */
void ig_metrics_store_error(void);
/* The metadata flusher (catalog.metadata_sync: journal): one sync of the warehouse that made the files up to
 * it durable (ok) or failed (they stay pending and are tried again). */
void ig_metrics_metadata_sync(bool ok);
/* A queued purge of a dropped table's location (catalog/purge.c). */
typedef enum { IG_PURGE_DONE, IG_PURGE_SKIPPED, IG_PURGE_FAILED } ig_purge_result_t;
void ig_metrics_purge(ig_purge_result_t r);
/* A request over its token's limit was held delay_ns for its slot (ratelimiter.max_delay_ms); and one
 * refused with 429, held or not. */
void ig_metrics_ratelimit_held(int64_t delay_ns);
void ig_metrics_ratelimit_refused(void);
/* Appends the process-wide metrics, in Prometheus text format, to sb.  Series are sorted (route, method,
 * status); the same template named through two different pointers is one series. */
void ig_metrics_render(ig_buf_t *sb);

#endif
