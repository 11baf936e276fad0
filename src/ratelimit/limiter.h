/* limiter — the rate-limit back end interface (curl's vtls model: one ops struct, one file per back end).
 *
 * Authentication asks the limiter for one request of a token after the token checks out and before any side
 * effect.  The decision is always GCRA (gcra.h); a back end says where the cell lives: the local one uses the
 * token's own in-memory cell (one CAS, no I/O), the Redis one (redis.c) keeps the cell in Redis keyed by token
 * id so every node shares it.  Callers never see a Redis command. */
#ifndef IG_LIMITER_H
#define IG_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "ratelimit/gcra.h"

/* What a back end can do: the `supports` word. */
#define IG_LIMITER_SHARED (1u << 0) /* one cell per token for every node (the limit holds across a cluster) */

typedef struct ig_limiter ig_limiter_t;

typedef struct {
    const char *name;
    unsigned supports; /* IG_LIMITER_* bits */
    /* Takes one request of cost cost_milli / 1000 (IG_GCRA_COST_ONE: 1) of token token_id at now_ns under
     * policy p and fills *out; a request whose slot opens within max_wait_ns is admitted for later
     * (out->delay_ns, ig_gcra_take_cost).  cell is the token's in-memory cell (the local back end's state; a
     * shared back end's fallback).  Never blocks the caller for longer than the back end's own timeout. */
    void (*take)(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, const ig_gcra_params_t *p,
                 int64_t now_ns, int64_t max_wait_ns, int64_t cost_milli, ig_gcra_result_t *out);
    /* Gives back up to back_ns of an admitted request whose take booked booked_tat_ns (ig_gcra_refund). */
    void (*refund)(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, int64_t booked_tat_ns,
                   int64_t back_ns, int64_t now_ns);
    /* Optional (NULL: nothing to say).  status: 0 healthy, 1 degraded but deciding (a fallback), -1 not
     * deciding (every request refused); a one-line description into buf.  metrics: Prometheus text appended
     * to sb. */
    int (*status)(ig_limiter_t *l, char *buf, size_t cap);
    void (*metrics)(ig_limiter_t *l, ig_buf_t *sb);
    void (*close)(ig_limiter_t *l);
} ig_limiter_ops_t;

struct ig_limiter {
    const ig_limiter_ops_t *ops;
};

/* Opens the back end ratelimiter.backend names.  NULL with err filled. */
ig_limiter_t *ig_limiter_open(const ig_config_t *cfg, ig_error_t *err);
void ig_limiter_close(ig_limiter_t *l);
/* The back end's status (ops->status; 0 "ok" for one without) and metrics (nothing for one without). */
int ig_limiter_status(ig_limiter_t *l, char *buf, size_t cap);
void ig_limiter_metrics(ig_limiter_t *l, ig_buf_t *sb);

/* The back ends, one file each. */
ig_limiter_t *ig_limiter_local_open(void);
/* Connects nothing yet: a Redis that is down at start is an outage like any other (on_error applies until it
 * answers).  NULL with err filled only for a bad URL or an unreadable password file. */
ig_limiter_t *ig_limiter_redis_open(const ig_config_t *cfg, ig_error_t *err);

#endif
