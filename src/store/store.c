/* store — opening a store by driver (see store.h).  Each back end lives in its own file(s) and exports one open
 * function; this is the only place that knows the list.  Also what every back end shares: the names of a
 * restriction's setter and the error texts. */
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
    if (strcmp(cfg->storage_driver, "postgres") == 0) {
        if (cfg->postgres_dsn[0] == '\0') { /* config.c requires one; this guards configs built by hand */
            ig_error_set(err, IG_E_INTERNAL, "config key storage.postgres.dsn: required when storage.driver is "
                                             "postgres");
            return NULL;
        }
        return ig_store_postgres_open(cfg->postgres_dsn, cfg->postgres_pool_size, err);
    }
    /* config.c refuses any other value at start; this guards callers that build a config by hand. */
    ig_error_set(err, IG_E_INTERNAL,
                 "config key storage.driver: '%s' is not built into this binary (use sqlite or postgres)",
                 cfg->storage_driver);
    return NULL;
}

void ig_store_close(ig_store_t *st)
{
    if (st) st->ops->close(st);
}

/* ------------------------------------------------------------------ who set a restriction */

const char *ig_set_by_name(ig_set_by_t by)
{
    return by == IG_SET_BY_ADMIN ? "admin" : by == IG_SET_BY_MEMBER ? "member" : NULL;
}

ig_set_by_t ig_set_by_parse(const char *s)
{
    if (!s) return IG_SET_BY_UNKNOWN;
    return strcmp(s, "admin") == 0 ? IG_SET_BY_ADMIN : strcmp(s, "member") == 0 ? IG_SET_BY_MEMBER
                                                                                 : IG_SET_BY_UNKNOWN;
}

ig_set_by_t ig_set_by_role(ig_role_t role)
{
    return role == IG_ROLE_ADMIN ? IG_SET_BY_ADMIN : IG_SET_BY_MEMBER;
}

/* ------------------------------------------------------------------ shared error texts */

#define SHOWN_MAX 1025 /* a namespace as the catalog caps it (1024 bytes), and its NUL */

/* The parent's key: the levels but the last, or the warehouse tag alone (with its 0x1D) for a top level. */
void ig_store_ns_parent(const char *ns, char *out, size_t cap)
{
    const char *sep = strrchr(ns, 0x1f), *tag = strchr(ns, IG_WH_TAG);
    size_t n = sep ? (size_t)(sep - ns) : tag ? (size_t)(tag - ns) + 1 : 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, ns, n);
    out[n] = '\0';
}

const char *ig_store_ns_untagged(const char *ns)
{
    const char *t = strchr(ns, IG_WH_TAG);
    return t ? t + 1 : ns;
}

const char *ig_store_ns_shown(const char *ns, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", ig_store_ns_untagged(ns));
    for (char *p = buf; *p; p++)
        if (*p == 0x1f) *p = '.';
    return buf;
}

static const char *kind_word(ig_obj_kind_t k)
{
    return k == IG_OBJ_VIEW ? "View" : "Table";
}

int ig_store_err_no_ns(ig_error_t *err, const char *ns)
{
    char b[SHOWN_MAX];
    return ig_error_set(err, IG_E_NO_SUCH_NAMESPACE, "Namespace does not exist: %s",
                        ig_store_ns_shown(ns, b, sizeof b));
}

int ig_store_err_no_obj(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name)
{
    char b[SHOWN_MAX];
    return ig_error_set(err, kind == IG_OBJ_VIEW ? IG_E_NO_SUCH_VIEW : IG_E_NO_SUCH_TABLE,
                        "%s does not exist: %s.%s", kind_word(kind), ig_store_ns_shown(ns, b, sizeof b), name);
}

int ig_store_err_exists(ig_error_t *err, ig_obj_kind_t existing, ig_obj_kind_t wanted, const char *ns,
                        const char *name)
{
    char b[SHOWN_MAX];
    return ig_error_set(err, IG_E_ALREADY_EXISTS, "%s%s already exists: %s.%s", kind_word(existing),
                        existing == wanted ? "" : " with same name", ig_store_ns_shown(ns, b, sizeof b), name);
}

int ig_store_err_overlap(ig_error_t *err, const char *base, const char *who)
{
    int n = (int)strlen(base) - 1;
    return ig_error_set(err, IG_E_ALREADY_EXISTS,
                        "Location %.*s overlaps %.300s: locations of tables and views may not be equal, inside or "
                        "above one another (catalog.allow_location_overlap)",
                        n > 300 ? 300 : n, base, who);
}

int ig_store_err_rename_exists(ig_error_t *err, ig_obj_kind_t existing, const char *from_ns, const char *from,
                               const char *to_ns, const char *to)
{
    char a[SHOWN_MAX], b[SHOWN_MAX];
    return ig_error_set(err, IG_E_ALREADY_EXISTS, "Cannot rename %s.%s to %s.%s. %s already exists",
                        ig_store_ns_shown(from_ns, a, sizeof a), from, ig_store_ns_shown(to_ns, b, sizeof b), to,
                        kind_word(existing));
}
