/* metrics — process-wide counters for /metrics (Prometheus text format).
 * Each HTTP worker thread owns a block of counters that only it writes (plain relaxed stores, no atomic
 * read-modify-write, no shared cache line); a scrape sums the blocks.  Per-token counts live in the token
 * table (access/token_table.h), which renders them itself after these. */
#ifndef IG_METRICS_H
#define IG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* A request began on this thread (counted in flight until ig_metrics_request_end). */
void ig_metrics_request_start(void);
/* Its response was queued with this status after elapsed_ns. */
void ig_metrics_request_done(int status, int64_t elapsed_ns);
/* The connection finished with the request. */
void ig_metrics_request_end(void);
/* Requests started and not yet ended, over all threads. */
int64_t ig_metrics_inflight(void);
/* Appends the process-wide metrics, in Prometheus text format, to sb. */
void ig_metrics_render(ig_buf_t *sb);

#endif
