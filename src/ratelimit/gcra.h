/* gcra — per-token Max RPS with GCRA (Generic Cell Rate Algorithm), lock-free and allocation-free.
 *
 * Each token owns one ig_gcra_cell_t: a single 64-bit "theoretical arrival time" (TAT) on the monotonic
 * clock. GCRA with emission interval T = 1/max_rps and tolerance tau = (burst-1)*T behaves exactly like a
 * token bucket of size `burst` refilled at `max_rps`: a request at `now` is admitted iff max(TAT, now) - tau
 * <= now, and an admission advances TAT by T. Refusals write nothing. Updates are one compare-and-swap, so
 * any number of HTTP worker threads may share a cell. Time is always passed in (`now_ns`) so tests drive a
 * fake clock.
 *
 * Pure: no clock, no I/O.  The limiter back ends (limiter.h) call ig_gcra_take() for authentication, which
 * runs it after the token check and before any side effect on /v1/...; auth
 * formats the 429 / RateLimit headers with the helpers below (DESIGN.md section 4,
 * draft-ietf-httpapi-ratelimit-headers-11). See docs/ratelimit.md for the design notes.
 */
#ifndef IG_GCRA_H
#define IG_GCRA_H

#include <stddef.h>
#include <stdint.h>

/* One per token. Zero-initialised = full bucket (for any now_ns >= 0). Never freed or reset separately:
 * embed it in the token record. */
typedef struct {
    _Atomic int64_t tat; /* theoretical arrival time, ns on the monotonic clock */
} ig_gcra_cell_t;

/* Derived, immutable parameters of one policy. Build with ig_gcra_params_init(). When maxRps/burst change,
 * build a new struct and publish it the way the token record is published (e.g. an atomic pointer swap);
 * never rewrite one in place while other threads may be inside ig_gcra_take() with it. The cell needs no
 * reset (see ig_gcra_take). */
typedef struct {
    double max_rps;       /* requests per second, as configured */
    int burst;            /* bucket size, >= 1 */
    int64_t emission_ns;  /* T: ns between two requests at the sustained rate, >= 1 */
    int64_t tolerance_ns; /* tau = (burst - 1) * T */
    int64_t window_s;     /* w of RateLimit-Policy: ceil(burst / max_rps), >= 1 */
} ig_gcra_params_t;

/* Fills *p for max_rps (> 0 and finite; fractions allowed, e.g. 0.5; up to 1e9) and burst (>= 1).
 * T = 1e9 / max_rps in whole ns: exact when that quotient is an integer (0.5, 1, 10, 1000, 1e5, 1e6 ...);
 * otherwise rounded UP, so the enforced rate never exceeds max_rps (it is lower by < 1 ns per interval,
 * i.e. a relative error < 1/T: 1e-9 at 1 rps, 1e-6 at 1000 rps).
 * Returns 0, or -1 (p untouched) on NULL p, bad rate/burst, or a policy whose window exceeds ~146 years. */
int ig_gcra_params_init(ig_gcra_params_t *p, double max_rps, int burst);

typedef struct {
    int allowed;            /* 1 admitted (at once, or after delay_ns), 0 refused */
    int64_t delay_ns;       /* admitted for later: the request's slot opens this far from now (0: now) */
    int remaining;          /* requests still allowed right now after this one (>= 0) */
    int64_t retry_after_ns; /* when refused: time until one request would be admitted; 0 when allowed */
    int64_t reset_ns;       /* time until the bucket is full again (>= 0) */
    int64_t tat_ns;         /* when allowed: the TAT this request booked (what ig_gcra_refund needs); else 0 */
    int unavailable;        /* refused because a shared back end could not decide (ratelimiter.redis.on_error:
                             * deny): a 503, not a 429.  GCRA itself never sets it */
} ig_gcra_result_t;

/* Costs are in thousandths of a request: a request of cost 1 is IG_GCRA_COST_ONE. */
#define IG_GCRA_COST_ONE INT64_C(1000)

/* Takes one request at now_ns (>= 0; ig_clock_mono_ns() in production, any clock in tests) and fills *out.
 * A request arriving exactly when its slot opens is admitted, so a full bucket over [0, D] admits exactly
 * burst + floor(D / T) requests. CAS loop on cell->tat; never blocks, never allocates; safe from any number
 * of threads, including ones whose now_ns values are slightly out of order. Parameter changes (PATCH
 * maxRps/burst): the cell keeps its TAT (the client's debt, measured in time), but a TAT more than 1 s beyond
 * now + tau + T — more debt than an empty bucket under the NEW policy can explain — is clamped to now + tau +
 * T + 1 s, so an old, slower policy holds a client back for at most T + 1 s after the change. The 1 s slack
 * is what lets callers' clocks be out of order by up to 1 s (a preempted thread) without the clamp ever
 * handing out extra requests. */
void ig_gcra_take(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns,
                       ig_gcra_result_t *out);

/* Like ig_gcra_take, but a request whose slot opens within max_wait_ns is admitted for that later time: its
 * slot is taken now (the TAT advances by T, as for an admission at the slot's time) and out->delay_ns says
 * how long to hold it before serving it.  Served at their slots, held requests conform to the same GCRA as
 * immediate ones, so what is served never exceeds burst + rate x time.  max_wait_ns 0 is ig_gcra_take. */
void ig_gcra_take_within(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, int64_t max_wait_ns,
                         ig_gcra_result_t *out);

/* Like ig_gcra_take_within for a request that costs cost_milli / 1000 requests (ratelimiter.costs, DESIGN.md
 * section 8): the TAT advances by C = ceil(cost x T) ns instead of T, and the request is admitted iff
 * max(TAT, now) + C - tau - T <= now, i.e. when C ns of the bucket are free.  A cost above the burst is taken
 * as the burst (C = tau + T: the request passes on a full bucket).  In the result, remaining counts requests of
 * cost 1 (the floor of the free capacity, so a refused costly request may report some), retry_after_ns is the
 * time until a request of THIS cost would pass.  IG_GCRA_COST_ONE is exactly ig_gcra_take_within.  Integer
 * arithmetic only. */
void ig_gcra_take_cost(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, int64_t max_wait_ns,
                       int64_t cost_milli, ig_gcra_result_t *out);

/* C of a request of cost_milli under p: ceil(cost_milli x T / 1000) ns, at least 1, at most tau + T (the
 * burst).  T for IG_GCRA_COST_ONE. */
int64_t ig_gcra_cost_ns(const ig_gcra_params_t *p, int64_t cost_milli);

/* Gives back up to back_ns of a request admitted earlier, whose take booked the TAT booked_tat_ns (its
 * result's tat_ns): a loadTable answered 304 costs not_modified, not the read it was charged.  Only the part
 * of the booking still ahead of now_ns is given back (the rest has refilled already: returning it would let
 * the bucket hold more than it ever can), and the TAT never goes below now_ns (a full bucket), so what a
 * token is served never exceeds burst + rate x time.  One CAS loop; never blocks. */
void ig_gcra_refund(ig_gcra_cell_t *cell, int64_t booked_tat_ns, int64_t back_ns, int64_t now_ns);

/* Moves a cell from policy `from` to policy `to` (a PATCH of maxRps/burst), keeping how full the bucket is:
 * a client that had used 40% of its old bucket has used 40% of the new one, which then refills at the new
 * rate.  So raising a limit takes effect at once for a throttled client, and lowering it grants no fresh
 * burst.  from == NULL (the token was unlimited) starts the new policy with a full bucket. */
void ig_gcra_rescale(ig_gcra_cell_t *cell, const ig_gcra_params_t *from, const ig_gcra_params_t *to,
                          int64_t now_ns);

/* Value of the RateLimit-Policy header: "token";q=<burst>;w=<ceil(burst / max_rps), >= 1>.
 * Writes a NUL-terminated string into buf; returns its length, or -1 if it does not fit or on NULL input. */
int ig_gcra_policy_header(const ig_gcra_params_t *p, char *buf, size_t cap);

/* Value of the RateLimit header: "token";r=<remaining>;t=<s>, where s is the whole seconds (rounded up) until
 * a request would be admitted: 0 when remaining > 0, >= 1 otherwise (also after the last admitted request).
 * Returns the length written, or -1 as above. */
int ig_gcra_header(const ig_gcra_params_t *p, const ig_gcra_result_t *r, char *buf, size_t cap);

/* Retry-After value: retry_after_ns in whole seconds, rounded up, never less than 1. */
long ig_gcra_retry_after_s(const ig_gcra_result_t *r);

#endif
