/* TEMPORARY stand-in: replaced by the ratelimit branch. */
#include "ratelimit.h"
#include <math.h>
#include <stdio.h>
#include <time.h>
int64_t ig_clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
int ig_gcra_params_init(ig_gcra_params_t *p, double max_rps, int burst)
{
    if (!(max_rps > 0) || burst < 1) return -1;
    p->max_rps = max_rps;
    p->burst = burst;
    p->emission_ns = llround(1e9 / max_rps);
    p->tolerance_ns = p->emission_ns * (burst - 1);
    return 0;
}
void ig_ratelimit_take(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now, ig_gcra_result_t *out)
{
    int64_t tat = atomic_load(&cell->tat);
    for (;;) {
        int64_t t = tat > now ? tat : now;
        int64_t ntat = t + p->emission_ns;
        if (ntat - now > p->tolerance_ns + p->emission_ns) {
            out->allowed = 0;
            out->remaining = 0;
            out->retry_after_ns = ntat - now - p->tolerance_ns - p->emission_ns;
            out->reset_ns = tat - now;
            return;
        }
        if (atomic_compare_exchange_weak(&cell->tat, &tat, ntat)) {
            out->allowed = 1;
            out->remaining = (int)((p->tolerance_ns + p->emission_ns - (ntat - now)) / p->emission_ns);
            out->retry_after_ns = 0;
            out->reset_ns = ntat - now;
            return;
        }
    }
}
int ig_ratelimit_policy_header(const ig_gcra_params_t *p, char *buf, size_t cap)
{
    long w = (long)ceil(p->burst / p->max_rps);
    return snprintf(buf, cap, "\"token\";q=%d;w=%ld", p->burst, w < 1 ? 1 : w);
}
int ig_ratelimit_header(const ig_gcra_params_t *p, const ig_gcra_result_t *r, char *buf, size_t cap)
{
    (void)p;
    return snprintf(buf, cap, "\"token\";r=%d;t=%ld", r->remaining,
                    r->remaining > 0 ? 0L : (long)((r->retry_after_ns + 999999999) / 1000000000));
}
long ig_ratelimit_retry_after_s(const ig_gcra_result_t *r)
{
    long s = (long)((r->retry_after_ns + 999999999) / 1000000000);
    return s < 1 ? 1 : s;
}
