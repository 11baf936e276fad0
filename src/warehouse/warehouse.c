/* warehouse — opening a warehouse by its URI's scheme, and the calls that dispatch to its back end (see
 * warehouse.h).  The only place that knows the list of back ends. */
#include "warehouse/warehouse.h"

#include "core/util.h"

#include <stdio.h>
#include <string.h>

ig_warehouse_t *ig_warehouse_open(const char *uri, ig_error_t *err)
{
    /* file:// URIs and bare absolute paths; the file back end checks the rest. */
    if (!uri || strncmp(uri, "s3://", 5) == 0 || strncmp(uri, "s3a://", 6) == 0) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouse: %s: an s3:// warehouse is configured in "
                                         "catalog.warehouses, with its endpoint and keys",
                     uri ? uri : "(none)");
        return NULL;
    }
    return ig_warehouse_file_open(uri, err);
}

ig_warehouse_t *ig_warehouse_open_config(const ig_config_t *cfg, int i, ig_error_t *err)
{
    if (!cfg->nwarehouses) return ig_warehouse_open(cfg->warehouse, err);
    const ig_warehouse_cfg_t *c = &cfg->warehouses[i];
    ig_warehouse_t *w = strncmp(c->location, "s3://", 5) == 0 ? ig_warehouse_s3_open(c, err)
                                                               : ig_warehouse_open(c->location, err);
    if (w) w->name = c->name; /* the configuration outlives the warehouse */
    else if (cfg->nwarehouses > 1) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        ig_error_set(err, err->kind, "catalog.warehouses[%d] (%s): %s", i, c->name, why);
    }
    return w;
}

void ig_warehouse_close(ig_warehouse_t *w)
{
    if (w) w->ops->close(w);
}

const char *ig_warehouse_uri(const ig_warehouse_t *w)
{
    return w->uri;
}

const char *ig_warehouse_name(const ig_warehouse_t *w)
{
    return w->name;
}

int ig_warehouse_canonical(const ig_warehouse_t *w, const char *loc, char *out, size_t cap, ig_error_t *err)
{
    return w->ops->canonical(w, loc, out, cap, err);
}

int ig_warehouse_default_location(ig_warehouse_t *w, const char *const *levels, size_t n, const char *name,
                                  char *out, size_t cap, ig_error_t *err)
{
    return w->ops->default_location(w, levels, n, name, out, cap, err);
}

void ig_warehouse_set_max_bytes(ig_warehouse_t *w, int64_t max_bytes)
{
    w->max_bytes = max_bytes;
}

ig_wh_staged_t *ig_warehouse_stage(ig_warehouse_t *w, const char *dir, int64_t version, const char *json,
                                   size_t len, char *out, size_t cap, ig_error_t *err)
{
    if ((int64_t)len > w->max_bytes) {
        ig_error_set(err, IG_E_BAD_REQUEST,
                     "the new metadata would be %zu bytes, over catalog.max_metadata_bytes (%lld): nothing was "
                     "written (remove snapshots, properties or schemas, or raise the limit)",
                     len, (long long)w->max_bytes);
        return NULL;
    }
    return w->ops->stage(w, dir, version, json, len, out, cap, err);
}

int ig_warehouse_publish(ig_warehouse_t *w, ig_wh_staged_t *const *v, size_t n, ig_error_t *err)
{
    return n ? w->ops->publish(w, v, n, err) : 0;
}

int ig_warehouse_set_lazy(ig_warehouse_t *w, bool lazy)
{
    if (lazy && !(w->ops->supports & IG_WAREHOUSE_LAZY)) return -1;
    w->lazy = lazy;
    return 0;
}

int ig_warehouse_sync(ig_warehouse_t *w, ig_error_t *err)
{
    return w->lazy ? w->ops->sync(w, err) : 0;
}

int ig_warehouse_restore(ig_warehouse_t *w, const char *file_location, const char *body, size_t len,
                         ig_error_t *err)
{
    if (!w->ops->restore)
        return ig_error_set(err, IG_E_INTERNAL, "this warehouse cannot write a pending file again");
    return w->ops->restore(w, file_location, body, len, err);
}

void ig_warehouse_unstage(ig_warehouse_t *w, ig_wh_staged_t *p)
{
    w->ops->unstage(w, p);
}

int ig_warehouse_write_metadata(ig_warehouse_t *w, const char *dir, int64_t version, const char *json,
                                size_t len, char *out, size_t cap, ig_error_t *err)
{
    ig_wh_staged_t *p = ig_warehouse_stage(w, dir, version, json, len, out, cap, err);
    return p ? ig_warehouse_publish(w, &p, 1, err) : -1;
}

int ig_warehouse_read(ig_warehouse_t *w, const char *file_location, char **buf, size_t *len, ig_error_t *err)
{
    return w->ops->read(w, file_location, buf, len, err);
}

int ig_warehouse_remove(ig_warehouse_t *w, const char *file_location, ig_error_t *err)
{
    return w->ops->remove(w, file_location, err);
}

int ig_warehouse_purge(ig_warehouse_t *w, const char *location, ig_error_t *err)
{
    return w->ops->purge(w, location, err);
}

int ig_warehouse_exists(ig_warehouse_t *w, const char *location, ig_error_t *err)
{
    return w->ops->exists(w, location, err);
}

int64_t ig_warehouse_next_version(const char *prev)
{
    if (!prev) return 0;
    const char *base = strrchr(prev, '/');
    base = base ? base + 1 : prev;
    if (base[0] == 'v') base++; /* "v3.metadata.json" (Hadoop tables) */
    int64_t v = 0;
    int digits = 0;
    while (*base >= '0' && *base <= '9' && digits < 12) {
        v = v * 10 + (*base - '0');
        base++;
        digits++;
    }
    if (digits == 0 || (*base != '-' && *base != '.')) return 1;
    return v + 1;
}


int ig_warehouse_vend(ig_warehouse_t *w, const char *location, bool write, int64_t not_after_ms, ig_buf_t *out,
                      char *prefix, size_t pcap, ig_error_t *err)
{
    return w->ops->vend ? w->ops->vend(w, location, write, not_after_ms, out, prefix, pcap, err) : 0;
}

int64_t ig_warehouse_sweep_temps(ig_warehouse_t *w, int64_t before_s, const _Atomic bool *stop)
{
    return w->ops->sweep_temps ? w->ops->sweep_temps(w, before_s, stop) : 0;
}


/* ------------------------------------------------------------------ for the back ends */

int ig_wh_check_segments(const char *rel, size_t len, const char *loc, ig_error_t *err)
{
    size_t depth = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && rel[j] != '/') {
            unsigned char ch = (unsigned char)rel[j];
            if (ch < 0x20 || ch == 0x7f)
                return ig_error_set(err, IG_E_BAD_REQUEST, "location contains a control character: %.200s", loc);
            j++;
        }
        size_t n = j - i;
        if (n == 0 || (n == 1 && rel[i] == '.') || (n == 2 && rel[i] == '.' && rel[i + 1] == '.'))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "location must not contain empty, '.' or '..' segments: %.200s", loc);
        if (++depth > IG_WH_MAX_DEPTH)
            return ig_error_set(err, IG_E_BAD_REQUEST, "location is nested too deeply: %.200s", loc);
        i = j + 1;
    }
    return 0;
}

/* Appends s to out as one safe path segment. */
static int put_segment(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    bool leading = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        bool esc = ch == '/' || ch == '%' || ch < 0x20 || ch == 0x7f || (leading && ch == '.');
        leading = false;
        if (*n + 4 >= cap) return -1;
        if (esc) {
            out[(*n)++] = '%';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        } else {
            out[(*n)++] = (char)ch;
        }
    }
    out[*n] = '\0';
    return 0;
}

int ig_wh_default_rel(const char *const *levels, size_t n, const char *name, char *rel, size_t cap, size_t *len)
{
    *len = 0;
    rel[0] = '\0';
    for (size_t i = 0; i <= n; i++) {
        if (i > 0) {
            if (*len + 2 >= cap) return -1;
            rel[(*len)++] = '/';
            rel[*len] = '\0';
        }
        if (put_segment(rel, cap - 16, len, i < n ? levels[i] : name)) return -1;
    }
    return 0;
}

void ig_wh_suffix(char *rel, size_t cap, size_t len)
{
    unsigned char rnd[4];
    ig_random_bytes(rnd, sizeof rnd);
    snprintf(rel + len, cap - len, "-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
}
