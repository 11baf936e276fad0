/* ratelimit — GCRA per token on one atomic 64-bit TAT (see ratelimit.h for the contract).
 *
 * Why GCRA rather than a counter + timestamp bucket: the whole state is one integer, so a single CAS updates
 * it without a lock and without a torn read, and refusals need no write at all (under overload most requests
 * are refusals, so they do not bounce the cache line between cores). All arithmetic is integer ns; floating
 * point is used once, in ig_gcra_params_init(), to turn max_rps into a whole number of ns.
 */
#include "ratelimit/gcra.h"

#include <string.h>

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define IG_NS_PER_S INT64_C(1000000000)
/* Largest tau + T we accept: keeps now + tau + 2T far from INT64_MAX for any monotonic clock value below
 * 2^62 ns (146 years of uptime). */
#define IG_GCRA_MAX_WINDOW_NS (INT64_C(1) << 62)
#define IG_GCRA_MAX_RPS 1e9 /* T >= 1 ns */
/* How far a TAT may lie beyond what the current policy can produce before it is treated as debt left by an
 * older policy and clamped. Not zero, because callers' now_ns values are not ordered: a thread that read the
 * clock, was preempted, and calls take after others admitted later requests legitimately sees a TAT beyond
 * its own now + tau + T. Clamping that would hand out requests (the stress test caught it). One second covers
 * scheduler stalls and cgroup CPU throttling (100 ms periods); in exchange, after a PATCH a client carries at
 * most ~1 s of the old policy's debt. */
#define IG_GCRA_CLAMP_SLACK_NS IG_NS_PER_S

/* x rounded to the nearest integer when it is one up to floating-point noise (e.g. 1e9 / 0.1), else ceil(x).
 * Rounding up the non-integer case is deliberate: a limiter may be marginally stricter than configured, never
 * looser. */
static double ceil_snapped(double x)
{
    double r = nearbyint(x);
    if (fabs(x - r) <= x * 4 * DBL_EPSILON) return r;
    return ceil(x);
}

int ig_gcra_params_init(ig_gcra_params_t *p, double max_rps, int burst)
{
    if (!p || burst < 1 || !isfinite(max_rps) || !(max_rps > 0) || max_rps > IG_GCRA_MAX_RPS) return -1;
    double q = (double)IG_NS_PER_S / max_rps;
    if (!(q < (double)IG_GCRA_MAX_WINDOW_NS)) return -1;
    int64_t emission = (int64_t)ceil_snapped(q);
    if (emission < 1) emission = 1;
    if (emission > IG_GCRA_MAX_WINDOW_NS / burst) /* burst * T must stay below the window cap */
        return -1;
    p->max_rps = max_rps;
    p->burst = burst;
    p->emission_ns = emission;
    p->tolerance_ns = (int64_t)(burst - 1) * emission;
    /* From the configured rate, not from T: a policy of 3 per 1 s must read w=1 even though T was rounded up. */
    double w = ceil_snapped((double)burst / max_rps);
    p->window_s = w < 1 ? 1 : (int64_t)w;
    return 0;
}

void ig_gcra_take(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, ig_gcra_result_t *out)
{
    ig_gcra_take_cost(cell, p, now_ns, 0, IG_GCRA_COST_ONE, out);
}

void ig_gcra_take_within(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, int64_t max_wait_ns,
                         ig_gcra_result_t *out)
{
    ig_gcra_take_cost(cell, p, now_ns, max_wait_ns, IG_GCRA_COST_ONE, out);
}

int64_t ig_gcra_cost_ns(const ig_gcra_params_t *p, int64_t cost_milli)
{
    const int64_t T = p->emission_ns, full = p->tolerance_ns + T;
    if (cost_milli == IG_GCRA_COST_ONE) return T;
    if (cost_milli < 1) cost_milli = 1;
    if (cost_milli >= (int64_t)p->burst * IG_GCRA_COST_ONE) return full; /* above the burst: the whole bucket */
    /* ceil(T * cost / 1000) without overflow: T = 1000q + r, so it is q * cost + ceil(r * cost / 1000); both
     * terms stay below burst * T <= 2^62 (cost < burst * 1000 here). Rounded up: never over-admits. */
    int64_t c = (T / IG_GCRA_COST_ONE) * cost_milli + ((T % IG_GCRA_COST_ONE) * cost_milli + IG_GCRA_COST_ONE - 1) /
                                                          IG_GCRA_COST_ONE;
    return c < full ? c : full;
}

/* Whole requests of cost 1 that fit in room ns of bucket (floor; 0 for none). */
static int units(int64_t room, int64_t T)
{
    return room > 0 ? (int)(room / T) : 0;
}

void ig_gcra_take_cost(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, int64_t max_wait_ns,
                       int64_t cost_milli, ig_gcra_result_t *out)
{
    const int64_t T = p->emission_ns;
    const int64_t tau = p->tolerance_ns;
    const int64_t C = ig_gcra_cost_ns(p, cost_milli); /* what this request adds to the TAT; T at cost 1 */
    /* now + tau + T is the largest TAT the current policy can produce (the last token was just taken at now).
     * Well beyond that (see IG_GCRA_CLAMP_SLACK_NS) is debt left by an older, slower policy after a PATCH of
     * maxRps/burst; clamping it keeps such a client from staying blocked for the old policy's window. */
    const int64_t limit = now_ns + tau + T + IG_GCRA_CLAMP_SLACK_NS;
    /* Relaxed ordering is enough: the TAT is the only shared datum and a single atomic object has one total
     * modification order; nothing else is published through it. */
    int64_t old = atomic_load_explicit(&cell->tat, memory_order_relaxed);

    for (;;) {
        int64_t tat = old < now_ns ? now_ns : old; /* an idle client does not bank more than a full bucket */
        if (tat > limit) tat = limit;

        /* > 0: the request's slot is still ahead. It opens when tat + C - tau - T <= now, i.e. when C ns of the
         * bucket are free (for C = T: tat - tau <= now, the classic GCRA test). */
        int64_t wait = tat + C - T - tau - now_ns;
        if (wait > 0 && wait <= max_wait_ns) {
            /* Admitted for later: take the slot now, as an admission at now + wait would. */
            if (!atomic_compare_exchange_weak_explicit(&cell->tat, &old, tat + C, memory_order_relaxed,
                                                       memory_order_relaxed))
                continue;
            *out = (ig_gcra_result_t){.allowed = 1, .delay_ns = wait, .reset_ns = tat + C - now_ns, .tat_ns = tat + C};
            return;
        }
        if (wait > 0) {
            /* Refused. Normally nothing is written; only a clamped TAT is stored, otherwise the clamp would
             * slide forward with now and the old debt would never be paid off. */
            if (old > limit && !atomic_compare_exchange_weak_explicit(
                                   &cell->tat, &old, limit, memory_order_relaxed, memory_order_relaxed))
                continue; /* someone else moved the TAT: decide again on the fresh value */
            /* remaining counts requests of cost 1: a refused costly request may leave some (0 at cost 1) */
            *out = (ig_gcra_result_t){.remaining = units(now_ns + tau + T - tat, T),
                                      .retry_after_ns = wait,
                                      .reset_ns = tat - now_ns};
            return;
        }

        int64_t next = tat + C;
        if (atomic_compare_exchange_weak_explicit(&cell->tat, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            /* Further requests of cost 1 admissible now: each needs T ns of the bucket free. */
            *out = (ig_gcra_result_t){
                .allowed = 1, .remaining = units(now_ns + tau + T - next, T), .reset_ns = next - now_ns, .tat_ns = next};
            return;
        }
        /* CAS lost (or spurious failure): old now holds the current TAT; retry. Lock-free: some thread won.
         */
    }
}

void ig_gcra_refund(ig_gcra_cell_t *cell, int64_t booked_tat_ns, int64_t back_ns, int64_t now_ns)
{
    /* Only what is still ahead of now of the booking: the part before now has refilled already (the bucket may
     * have been full meanwhile, had the request cost less), and giving that back would hand out credit twice. */
    int64_t d = booked_tat_ns - now_ns;
    if (d > back_ns) d = back_ns;
    if (d <= 0) return;
    int64_t old = atomic_load_explicit(&cell->tat, memory_order_relaxed);
    for (;;) {
        if (old <= now_ns) return; /* the bucket is full: there is nothing to give back */
        int64_t next = old - d < now_ns ? now_ns : old - d; /* never beyond a full bucket */
        if (atomic_compare_exchange_weak_explicit(&cell->tat, &old, next, memory_order_relaxed, memory_order_relaxed))
            return;
    }
}

/* Whole seconds, rounded up; ns <= 0 gives 0. */
static int64_t ceil_seconds(int64_t ns)
{
    if (ns <= 0) return 0;
    return ns / IG_NS_PER_S + (ns % IG_NS_PER_S != 0);
}

/* Appends a decimal integer (>= 0); these headers are written on every limited request, so no printf. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* "token";<k1>=<v1>;<k2>=<v2> into buf (NUL-terminated); length, or -1 if cap is too small. */
static int fields(char *buf, size_t cap, char k1, uint64_t v1, char k2, uint64_t v2)
{
    char tmp[64], *p = tmp;
    memcpy(p, "\"token\";", 8);
    p += 8;
    *p++ = k1;
    *p++ = '=';
    p = put_u64(p, v1);
    *p++ = ';';
    *p++ = k2;
    *p++ = '=';
    p = put_u64(p, v2);
    size_t n = (size_t)(p - tmp);
    if (n >= cap) return -1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}

int ig_gcra_policy_header(const ig_gcra_params_t *p, char *buf, size_t cap)
{
    if (!p || !buf || cap == 0 || !(p->max_rps > 0)) return -1;
    return fields(buf, cap, 'q', (uint64_t)p->burst, 'w', (uint64_t)p->window_s);
}

int ig_gcra_header(const ig_gcra_params_t *p, const ig_gcra_result_t *r, char *buf, size_t cap)
{
    if (!p || !r || !buf || cap == 0) return -1;
    int64_t t = 0;
    if (r->remaining <= 0) {
        /* After an admission that emptied the bucket the next slot opens when TAT - tau <= now,
         * i.e. reset - tau from now; after a refusal it is retry_after. */
        int64_t wait = r->allowed ? r->reset_ns - p->tolerance_ns : r->retry_after_ns;
        t = ceil_seconds(wait);
        if (t < 1) t = 1;
    }
    return fields(buf, cap, 'r', (uint64_t)(r->remaining > 0 ? r->remaining : 0), 't', (uint64_t)t);
}

long ig_gcra_retry_after_s(const ig_gcra_result_t *r)
{
    int64_t s = r ? ceil_seconds(r->retry_after_ns) : 0;
    return s < 1 ? 1 : (long)s;
}

void ig_gcra_rescale(ig_gcra_cell_t *cell, const ig_gcra_params_t *from, const ig_gcra_params_t *to,
                          int64_t now_ns)
{
    int64_t old = atomic_load_explicit(&cell->tat, memory_order_relaxed);
    for (;;) {
        int64_t next = 0; /* full bucket */
        if (from && old > now_ns) {
            /* debt / capacity = fraction of the bucket in use; capacity = tau + T. */
            double used = (double)(old - now_ns) / (double)(from->tolerance_ns + from->emission_ns);
            if (used > 1.0) used = 1.0;
            next = now_ns + (int64_t)(used * (double)(to->tolerance_ns + to->emission_ns));
        }
        /* A concurrent take may move the TAT meanwhile: recompute from what it wrote. */
        if (atomic_compare_exchange_weak_explicit(&cell->tat, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}
