/* limiter — opening a limiter back end by name (see limiter.h); the only place that knows the list. */
#include "ratelimit/limiter.h"

#include <stdio.h>
#include <string.h>

ig_limiter_t *ig_limiter_open(const ig_config_t *cfg, ig_error_t *err)
{
    if (strcmp(cfg->ratelimiter_backend, "local") == 0) return ig_limiter_local_open();
    if (strcmp(cfg->ratelimiter_backend, "redis") == 0) return ig_limiter_redis_open(cfg, err);
    /* config.c refuses any other value at start; this guards callers that build a config by hand. */
    ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.backend: '%s' is not a limiter back end (local, redis)",
                 cfg->ratelimiter_backend);
    return NULL;
}

void ig_limiter_close(ig_limiter_t *l)
{
    if (l) l->ops->close(l);
}

int ig_limiter_status(ig_limiter_t *l, char *buf, size_t cap)
{
    if (l && l->ops->status) return l->ops->status(l, buf, cap);
    snprintf(buf, cap, "ok");
    return 0;
}

void ig_limiter_metrics(ig_limiter_t *l, ig_buf_t *sb)
{
    if (l && l->ops->metrics) l->ops->metrics(l, sb);
}
