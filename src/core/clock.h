/* clock — the process's clocks, in one place.  Logic that depends on time takes `now` as an argument (GCRA,
 * expiry, idempotency lifetimes) so tests never sleep; only the edges call these. */
#ifndef IG_CLOCK_H
#define IG_CLOCK_H

#include <stdint.h>
#include <time.h>

#define IG_NS_PER_MS INT64_C(1000000)

/* Monotonic nanoseconds since an arbitrary start: durations, deadlines, rate limiting. */
static inline int64_t ig_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall-clock milliseconds since the Unix epoch: timestamps that are stored or shown. */
static inline int64_t ig_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same at the kernel tick's resolution (~4 ms), without a vDSO clock read: for the per-request expiry check,
 * where a few ms of slack are harmless. */
static inline int64_t ig_clock_wall_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The CLOCK_REALTIME instant ms from now, for pthread_cond_timedwait (whose default clock that is). */
static inline struct timespec ig_clock_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + ms % 1000 * IG_NS_PER_MS;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

#endif
