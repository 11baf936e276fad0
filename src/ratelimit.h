/* TEMPORARY stand-in: replaced by the ratelimit branch (same API). */
#ifndef IG_RATELIMIT_H
#define IG_RATELIMIT_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
typedef struct { _Atomic int64_t tat; } ig_gcra_cell_t;
typedef struct { double max_rps; int burst; int64_t emission_ns; int64_t tolerance_ns; } ig_gcra_params_t;
int ig_gcra_params_init(ig_gcra_params_t *p, double max_rps, int burst);
typedef struct { int allowed; int remaining; int64_t retry_after_ns; int64_t reset_ns; } ig_gcra_result_t;
void ig_ratelimit_take(ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns, ig_gcra_result_t *out);
int64_t ig_clock_now_ns(void);
int ig_ratelimit_policy_header(const ig_gcra_params_t *p, char *buf, size_t cap);
int ig_ratelimit_header(const ig_gcra_params_t *p, const ig_gcra_result_t *r, char *buf, size_t cap);
long ig_ratelimit_retry_after_s(const ig_gcra_result_t *r);
#endif
