/* limiter — opening a limiter back end by name (see limiter.h); the only place that knows the list. */
#include "ratelimit/limiter.h"

#include <string.h>

ig_limiter_t *ig_limiter_open(const ig_config_t *cfg, ig_error_t *err)
{
    if (strcmp(cfg->ratelimiter_backend, "local") == 0) return ig_limiter_local_open();
    /* config.c refuses any other value at start; this guards callers that build a config by hand. */
    ig_error_set(err, IG_E_INTERNAL,
                 "config key ratelimiter.backend: '%s' is not built into this binary (built: local)",
                 cfg->ratelimiter_backend);
    return NULL;
}

void ig_limiter_close(ig_limiter_t *l)
{
    if (l) l->ops->close(l);
}
