/* local — the in-process limiter back end: each token's GCRA cell lives in its in-memory record, and a
 * decision is one compare-and-swap on it.  Exact on one node; with several nodes each enforces the full
 * limit (the Redis back end is for that). */
#include "ratelimit/limiter.h"

static void local_take(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, const ig_gcra_params_t *p,
                       int64_t now_ns, int64_t max_wait_ns, int64_t cost_milli, ig_gcra_result_t *out)
{
    (void)l;
    (void)token_id;
    ig_gcra_take_cost(cell, p, now_ns, max_wait_ns, cost_milli, out);
}

static void local_refund(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, int64_t booked_tat_ns,
                         int64_t back_ns, int64_t now_ns)
{
    (void)l;
    (void)token_id;
    ig_gcra_refund(cell, booked_tat_ns, back_ns, now_ns);
}

static void local_close(ig_limiter_t *l)
{
    (void)l; /* static: nothing to free */
}

static const ig_limiter_ops_t local_ops = {
    .name = "local",
    .supports = 0,
    .take = local_take,
    .refund = local_refund,
    .status = NULL,
    .metrics = NULL,
    .close = local_close,
};

static ig_limiter_t local_limiter = {&local_ops};

ig_limiter_t *ig_limiter_local_open(void)
{
    return &local_limiter;
}
