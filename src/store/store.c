/* store — opening a store by driver (see store.h).  Each back end lives in its own file and exports one open
 * function; this is the only place that knows the list. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static ig_store_t *open_sqlite(const ig_config_t *cfg, ig_error_t *err)
{
    if (ig_mkdirs(cfg->data_dir)) {
        ig_error_set(err, IG_E_INTERNAL, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        return NULL;
    }
    char path[IG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/icegate.db", cfg->data_dir);
    return ig_store_sqlite_open(path, err);
}

ig_store_t *ig_store_open(const ig_config_t *cfg, ig_error_t *err)
{
    if (strcmp(cfg->storage_driver, "sqlite") == 0) return open_sqlite(cfg, err);
    /* config.c refuses any other value at start; this guards callers that build a config by hand. */
    ig_error_set(err, IG_E_INTERNAL, "config key storage.driver: '%s' is not built into this binary (use sqlite)",
                 cfg->storage_driver);
    return NULL;
}

void ig_store_close(ig_store_t *st)
{
    if (st) st->ops->close(st);
}
