/* config — see config.h.  One table lists every key with its type and where it lives in ig_config_t, so
 * the file, the environment and the flags go through the same parser and the same validation. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "core/util.h"

typedef enum { T_STR, T_INT, T_BOOL, T_LISTEN, T_ENUM, T_SIZE, T_DAYS, T_CIDRS, T_COST } ktype_t;

typedef struct {
    const char *key;
    ktype_t type;
    size_t off;
    size_t cap;         /* T_STR/T_ENUM: buffer size */
    int64_t min, max;   /* T_INT/T_SIZE */
    const char *choices; /* T_ENUM: "a|b" */
} key_t_;

/* ratelimiter.costs.*: in thousandths of a request, 0.01 up to a million (a cost above a token's burst is
 * taken as the burst anyway) */
#define COST_MIN 10
#define COST_MAX INT64_C(1000000000)
#define F(field) offsetof(ig_config_t, field)
#define S(field) sizeof(((ig_config_t *)0)->field)
static const key_t_ keys[] = {
    {"server.listen", T_LISTEN, 0, 0, 0, 0, NULL},
    {"server.threads", T_INT, F(threads), 0, 1, 256, NULL},
    {"server.max_body_bytes", T_SIZE, F(max_body_bytes), 0, 1024, 1LL << 30, NULL},
    {"server.max_header_bytes", T_INT, F(max_header_bytes), 0, 4096, 1 << 20, NULL},
    {"server.connection_timeout", T_INT, F(connection_timeout_s), 0, 1, 3600, NULL},
    {"server.max_connections", T_INT, F(max_connections), 0, 16, 1000000, NULL},
    {"server.max_connections_per_ip", T_INT, F(max_connections_per_ip), 0, 1, 1000000, NULL},
    {"server.request_timeout", T_INT, F(request_timeout_s), 0, 1, 3600, NULL},
    {"server.reuse_port", T_BOOL, F(reuse_port), 0, 0, 0, NULL},
    {"server.trusted_proxies", T_CIDRS, 0, 0, 0, 0, NULL},
    {"data_dir", T_STR, F(data_dir), S(data_dir), 0, 0, NULL},
    {"storage.driver", T_ENUM, F(storage_driver), S(storage_driver), 0, 0, "sqlite|postgres"},
    {"storage.postgres.dsn", T_STR, F(postgres_dsn), S(postgres_dsn), 0, 0, NULL},
    {"storage.postgres.dsn_file", T_STR, F(postgres_dsn_file), S(postgres_dsn_file), 0, 0, NULL},
    {"storage.postgres.pool_size", T_INT, F(postgres_pool_size), 0, 1, 256, NULL},
    {"catalog.warehouse", T_STR, F(warehouse), S(warehouse), 0, 0, NULL},
    {"catalog.max_metadata_bytes", T_SIZE, F(max_metadata_bytes), 0, 4096, 1LL << 30, NULL},
    {"catalog.cache_bytes", T_SIZE, F(cache_bytes), 0, 0, 1LL << 40, NULL},
    {"catalog.metadata_sync", T_ENUM, F(metadata_sync), S(metadata_sync), 0, 0, "journal|fsync"},
    {"catalog.metadata_flush_ms", T_INT, F(metadata_flush_ms), 0, 1, 600000, NULL},
    {"catalog.allow_location_overlap", T_BOOL, F(allow_location_overlap), 0, 0, 0, NULL},
    {"catalog.credentials.mode", T_ENUM, F(credentials_mode), S(credentials_mode), 0, 0, "none|static|sts"},
    {"catalog.credentials.ttl", T_INT, F(credentials_ttl_s), 0, 900, 3600, NULL},
    {"catalog.credentials.sts.endpoint", T_STR, F(sts_endpoint), S(sts_endpoint), 0, 0, NULL},
    {"catalog.credentials.sts.role_arn", T_STR, F(sts_role_arn), S(sts_role_arn), 0, 0, NULL},
    {"features.ratelimiter.enabled", T_BOOL, F(ratelimiter_enabled), 0, 0, 0, NULL},
    {"ratelimiter.backend", T_ENUM, F(ratelimiter_backend), S(ratelimiter_backend), 0, 0, "local|redis"},
    {"ratelimiter.max_delay_ms", T_INT, F(ratelimit_max_delay_ms), 0, 0, 60000, NULL},
    {"ratelimiter.max_held_per_token", T_INT, F(ratelimit_max_held), 0, 0, 100000, NULL},
    {"ratelimiter.costs.read", T_COST, F(cost_read_milli), 0, COST_MIN, COST_MAX, NULL},
    {"ratelimiter.costs.write", T_COST, F(cost_write_milli), 0, COST_MIN, COST_MAX, NULL},
    {"ratelimiter.costs.commit", T_COST, F(cost_commit_milli), 0, COST_MIN, COST_MAX, NULL},
    {"ratelimiter.costs.not_modified", T_COST, F(cost_not_modified_milli), 0, COST_MIN, COST_MAX, NULL},
    {"ratelimiter.redis.url", T_STR, F(redis_url), S(redis_url), 0, 0, NULL},
    {"ratelimiter.redis.password_file", T_STR, F(redis_password_file), S(redis_password_file), 0, 0, NULL},
    {"ratelimiter.redis.timeout_ms", T_INT, F(redis_timeout_ms), 0, 1, 10000, NULL},
    {"ratelimiter.redis.on_error", T_ENUM, F(redis_on_error), S(redis_on_error), 0, 0, "local|deny"},
    {"ratelimiter.redis.failure_policy", T_ENUM, F(redis_failure_policy), S(redis_failure_policy), 0, 0,
     "fail-open|fail-closed"},
    {"cluster.node_id", T_STR, F(node_id), S(node_id), 0, 0, NULL},
    {"cluster.heartbeat_ms", T_INT, F(heartbeat_ms), 0, 100, 60000, NULL},
    {"auth.max_staleness_ms", T_INT, F(max_staleness_ms), 0, 0, 3600000, NULL},
    {"log.level", T_ENUM, F(log_level), S(log_level), 0, 0, "debug|info|warn|error"},
    {"log.format", T_ENUM, F(log_format), S(log_format), 0, 0, "text|json"},
    {"log.access", T_BOOL, F(log_access), 0, 0, 0, NULL},
    {"log.slow_request_ms", T_INT, F(slow_request_ms), 0, 1, 3600000, NULL},
    {"console.session_ttl", T_INT, F(session_ttl_s), 0, 60, 30 * 86400, NULL},
    {"console.login_threads", T_INT, F(login_threads), 0, 1, 64, NULL},
    {"console.login_queue", T_INT, F(login_queue), 0, 1, 4096, NULL},
    {"tokens.poll_interval_ms", T_INT, F(token_poll_ms), 0, 10, 1000, NULL},
    {"audit.retention_days", T_INT, F(audit_retention_days), 0, 1, 36500, NULL},
    {"notifications.webhook.url", T_STR, F(webhook_url), S(webhook_url), 0, 0, NULL},
    {"notifications.webhook.secret_file", T_STR, F(webhook_secret_file), S(webhook_secret_file), 0, 0, NULL},
    {"notifications.webhook.timeout_ms", T_INT, F(webhook_timeout_ms), 0, 100, 60000, NULL},
    {"notifications.webhook.max_backoff_ms", T_INT, F(webhook_max_backoff_ms), 0, 100, 3600000, NULL},
    {"notifications.expiry_warning_days", T_DAYS, 0, 0, 1, 3650, NULL},
};
#undef F
#undef S

void ig_config_defaults(ig_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8181;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = n > 0 && n <= 256 ? (int)n : 2;
    cfg->max_body_bytes = 16 << 20;
    cfg->max_metadata_bytes = 64 << 20;
    cfg->cache_bytes = 64 << 20;
    snprintf(cfg->metadata_sync, sizeof cfg->metadata_sync, "journal");
    cfg->metadata_flush_ms = 20;
    cfg->max_header_bytes = 8192;
    cfg->connection_timeout_s = 60;
    cfg->max_connections = 4096;
    cfg->max_connections_per_ip = 256;
    cfg->request_timeout_s = 30;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./data");
    snprintf(cfg->storage_driver, sizeof cfg->storage_driver, "sqlite");
    snprintf(cfg->credentials_mode, sizeof cfg->credentials_mode, "none");
    cfg->credentials_ttl_s = 900;
    cfg->ratelimiter_enabled = true;
    snprintf(cfg->ratelimiter_backend, sizeof cfg->ratelimiter_backend, "local");
    cfg->ratelimit_max_delay_ms = 1000;
    cfg->ratelimit_max_held = 64;
    cfg->cost_read_milli = cfg->cost_write_milli = cfg->cost_commit_milli = cfg->cost_not_modified_milli = 1000;
    cfg->redis_timeout_ms = 20;
    cfg->heartbeat_ms = 1000;
    cfg->max_staleness_ms = 1000;
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
    snprintf(cfg->log_format, sizeof cfg->log_format, "text");
    cfg->log_access = true;
    cfg->slow_request_ms = 1000;
    cfg->session_ttl_s = 8 * 3600;
    cfg->login_threads = 1;
    cfg->login_queue = 32;
    cfg->token_poll_ms = 100;
    cfg->audit_retention_days = 365;
    cfg->webhook_timeout_ms = 5000;
    cfg->webhook_max_backoff_ms = 60000;
    cfg->expiry_days[0] = 7;
    cfg->expiry_days[1] = 1;
    cfg->n_expiry_days = 2;
}

/* "7,1" (a YAML list arrives joined by commas): distinct day counts in [min, max], kept largest first; ""
 * is no thresholds. */
/* server.trusted_proxies: a comma-separated (or YAML) list of CIDRs. */
static int set_cidrs(ig_config_t *cfg, const char *key, const char *source, const char *value, char *errbuf,
                     size_t errcap)
{
    int np = ig_cidr_list_parse(value, cfg->trusted_proxies, IG_TRUSTED_PROXIES_MAX);
    if (np < 0) {
        snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not a list of at most %d IPv4/IPv6 CIDRs", key,
                 source, value, IG_TRUSTED_PROXIES_MAX);
        return -1;
    }
    cfg->ntrusted_proxies = np;
    return 0;
}

static int parse_days(ig_config_t *cfg, const char *v, int64_t min, int64_t max)
{
    int d[IG_EXPIRY_THRESHOLDS_MAX], n = 0;
    while (*v) {
        char one[16];
        size_t l = strcspn(v, ",");
        if (l == 0 || l >= sizeof one || n == IG_EXPIRY_THRESHOLDS_MAX) return -1;
        memcpy(one, v, l);
        one[l] = '\0';
        int64_t x;
        if (ig_parse_i64(one, min, max, &x)) return -1;
        int i = n++;
        for (; i > 0 && d[i - 1] < x; i--) d[i] = d[i - 1]; /* insertion: largest first */
        if (i > 0 && d[i - 1] == x) return -1;
        d[i] = (int)x;
        v += l + (v[l] == ',');
    }
    memcpy(cfg->expiry_days, d, sizeof d);
    cfg->n_expiry_days = n;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, t[i]) == 0) return *out = true, 0;
        if (strcasecmp(v, f[i]) == 0) return *out = false, 0;
    }
    return -1;
}

/* A cost: "1", "0.25", "5.125" — digits with at most 3 decimals (no sign, exponent or spaces), in
 * thousandths in [min, max]. */
static int parse_cost(const char *v, int64_t min, int64_t max, int64_t *out)
{
    int64_t n = 0;
    const char *p = v;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > max) return -1;
        n = n * 10 + (*p - '0');
    }
    if (p == v) return -1;
    n *= 1000;
    if (*p == '.') {
        int64_t scale = 100;
        for (p++; isdigit((unsigned char)*p) && scale > 0; p++, scale /= 10) n += (*p - '0') * scale;
        if (p[-1] == '.') return -1; /* "1." */
    }
    if (*p != '\0' || n < min || n > max) return -1;
    *out = n;
    return 0;
}

static int set_cost(const key_t_ *k, char *field, const char *source, const char *value, char *errbuf,
                    size_t errcap)
{
    int64_t n;
    if (parse_cost(value, k->min, k->max, &n)) {
        snprintf(errbuf, errcap,
                 "config key %s (%s): \"%s\" is not a cost: a decimal number from 0.01 to %lld with at most 3 "
                 "decimals (1 is one request)",
                 k->key, source, value, (long long)(k->max / 1000));
        return -1;
    }
    *(int64_t *)(void *)field = n;
    return 0;
}

/* "1048576", "64k", "16M", "1G" */
static int parse_size(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)v[0])) return -1; /* strtoll would skip white space and take a sign */
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0) return -1;
    int64_t mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1024, end++;
    else if (*end == 'm' || *end == 'M') mult = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G') mult = 1024 * 1024 * 1024, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end != '\0' || n > INT64_MAX / mult) return -1;
    *out = n * mult;
    return 0;
}

static int parse_listen(ig_config_t *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) return -1;
    size_t hl = (size_t)(colon - v);
    char host[64];
    if (hl >= sizeof host) return -1;
    memcpy(host, v, hl);
    host[hl] = '\0';
    int64_t port;
    if (ig_parse_i64(colon + 1, 0, 65535, &port)) return -1;
    if (host[0] == '[') { /* [::1]:8181 */
        if (hl < 3 || host[hl - 1] != ']') return -1;
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "%s", host);
    cfg->listen_port = (int)port;
    return 0;
}

int ig_config_set(ig_config_t *cfg, const char *key, const char *value, const char *source, char *errbuf,
                  size_t errcap)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const key_t_ *k = &keys[i];
        if (strcmp(k->key, key) != 0) continue;
        char *field = (char *)cfg + k->off;
        int64_t n;
        bool b;
        switch (k->type) {
        case T_STR:
            if (strlen(value) >= k->cap) goto bad;
            snprintf(field, k->cap, "%s", value);
            return 0;
        case T_ENUM: {
            size_t vl = strlen(value);
            for (const char *c = k->choices; *c;) {
                size_t cl = strcspn(c, "|");
                if (cl == vl && strncmp(c, value, cl) == 0 && vl < k->cap) {
                    snprintf(field, k->cap, "%s", value);
                    return 0;
                }
                c += cl + (c[cl] == '|');
            }
            snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not one of %s", key, source, value,
                     k->choices);
            return -1;
        }
        case T_INT:
            if (ig_parse_i64(value, k->min, k->max, &n)) {
                snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not an integer in [%lld, %lld]", key,
                         source, value, (long long)k->min, (long long)k->max);
                return -1;
            }
            *(int *)(void *)field = (int)n;
            return 0;
        case T_SIZE:
            if (parse_size(value, &n) || n < k->min || n > k->max) {
                snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not a size in [%lld, %lld] bytes", key,
                         source, value, (long long)k->min, (long long)k->max);
                return -1;
            }
            *(int64_t *)(void *)field = n;
            return 0;
        case T_BOOL:
            if (parse_bool(value, &b)) {
                snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not true or false", key, source, value);
                return -1;
            }
            *(bool *)(void *)field = b;
            return 0;
        case T_DAYS:
            if (parse_days(cfg, value, k->min, k->max)) {
                snprintf(errbuf, errcap,
                         "config key %s (%s): \"%s\" is not a list of at most %d distinct whole days in [%lld, %lld]",
                         key, source, value, IG_EXPIRY_THRESHOLDS_MAX, (long long)k->min, (long long)k->max);
                return -1;
            }
            return 0;
        case T_CIDRS:
            return set_cidrs(cfg, key, source, value, errbuf, errcap);
        case T_COST:
            return set_cost(k, field, source, value, errbuf, errcap);
        case T_LISTEN:
            if (parse_listen(cfg, value)) {
                snprintf(errbuf, errcap, "config key %s (%s): \"%s\" is not HOST:PORT", key, source, value);
                return -1;
            }
            return 0;
        }
    bad:
        snprintf(errbuf, errcap, "config key %s (%s): value too long", key, source);
        return -1;
    }
    snprintf(errbuf, errcap, "unknown config key %s (%s)", key, source);
    return -1;
}

/* Whether key takes a list (in YAML a sequence, in the environment comma-separated). */
static bool list_key(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if ((keys[i].type == T_DAYS || keys[i].type == T_CIDRS) && strcmp(keys[i].key, key) == 0) return true;
    return false;
}

/* A YAML list of scalars is the comma-separated form the environment uses (e.g. [7, 1] is "7,1"). */
static int join_list(ig_config_t *cfg, yaml_document_t *doc, yaml_node_t *node, const char *key,
                     const char *source, char *errbuf, size_t errcap)
{
    char v[512];
    size_t n = 0;
    v[0] = '\0';
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *i);
        if (!e || e->type != YAML_SCALAR_NODE || n + e->data.scalar.length + 2 >= sizeof v) {
            snprintf(errbuf, errcap, "config key %s (%s): a list of plain values expected", key, source);
            return -1;
        }
        if (n) v[n++] = ',';
        memcpy(v + n, e->data.scalar.value, e->data.scalar.length);
        n += e->data.scalar.length;
        v[n] = '\0';
    }
    return ig_config_set(cfg, key, v, source, errbuf, errcap);
}

/* ---- catalog.warehouses: a YAML list of mappings (DESIGN.md §7), each flattened to its own dotted keys */

#define WF(field) offsetof(ig_warehouse_cfg_t, field)
#define WS(field) sizeof(((ig_warehouse_cfg_t *)0)->field)
static const struct {
    const char *key;
    ktype_t type; /* T_STR, T_BOOL or T_INT */
    size_t off, cap;
} wh_keys[] = {
    {"name", T_STR, WF(name), WS(name)},
    {"location", T_STR, WF(location), WS(location)},
    {"s3.endpoint", T_STR, WF(endpoint), WS(endpoint)},
    {"s3.client_endpoint", T_STR, WF(client_endpoint), WS(client_endpoint)},
    {"s3.region", T_STR, WF(region), WS(region)},
    {"s3.path_style", T_BOOL, WF(path_style), 0},
    {"s3.timeout_ms", T_INT, WF(timeout_ms), 0},
    {"credentials.mode", T_STR, WF(credentials_mode), WS(credentials_mode)},
    {"s3.access_key_id", T_STR, WF(access_key_id), WS(access_key_id)},
    {"s3.secret_access_key", T_STR, WF(secret_access_key), WS(secret_access_key)},
    {"s3.access_key_id_file", T_STR, WF(access_key_id_file), WS(access_key_id_file)},
    {"s3.secret_access_key_file", T_STR, WF(secret_access_key_file), WS(secret_access_key_file)},
    {"s3.access_key_id_env", T_STR, WF(access_key_id_env), WS(access_key_id_env)},
    {"s3.secret_access_key_env", T_STR, WF(secret_access_key_env), WS(secret_access_key_env)},
};
#undef WF
#undef WS

static int wh_set(ig_warehouse_cfg_t *w, int idx, const char *key, const char *value, const char *source,
                  char *errbuf, size_t errcap)
{
    for (size_t i = 0; i < sizeof wh_keys / sizeof wh_keys[0]; i++) {
        if (strcmp(wh_keys[i].key, key) != 0) continue;
        char *field = (char *)w + wh_keys[i].off;
        bool b;
        int64_t n;
        switch (wh_keys[i].type) {
        case T_BOOL:
            if (parse_bool(value, &b)) break;
            *(bool *)(void *)field = b;
            return 0;
        case T_INT:
            if (ig_parse_i64(value, 100, 600000, &n)) break;
            *(int *)(void *)field = (int)n;
            return 0;
        default:
            if (strlen(value) >= wh_keys[i].cap) break;
            snprintf(field, wh_keys[i].cap, "%s", value);
            return 0;
        }
        /* the value itself is not repeated: it may be a secret */
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].%s (%s): bad value (%s)", idx, key, source,
                 wh_keys[i].type == T_BOOL ? "true or false" : wh_keys[i].type == T_INT ? "an integer in [100, 600000]"
                                                                                      : "too long");
        return -1;
    }
    snprintf(errbuf, errcap, "config key catalog.warehouses[%d].%s (%s): unknown", idx, key, source);
    return -1;
}

static int wh_walk(ig_warehouse_cfg_t *w, int idx, yaml_document_t *doc, yaml_node_t *node, char *prefix,
                   size_t plen, const char *source, char *errbuf, size_t errcap, int depth)
{
    if (node->type == YAML_SCALAR_NODE && plen)
        return wh_set(w, idx, prefix, (const char *)node->data.scalar.value, source, errbuf, errcap);
    if (node->type != YAML_MAPPING_NODE || depth > 3) {
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d]%s%s (%s): a mapping or a plain value expected",
                 idx, plen ? "." : "", prefix, source);
        return -1;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || plen + 1 + k->data.scalar.length >= 128) {
            snprintf(errbuf, errcap, "%s: catalog.warehouses[%d]: keys must be short plain names", source, idx);
            return -1;
        }
        size_t nl = plen;
        if (plen) prefix[nl++] = '.';
        memcpy(prefix + nl, k->data.scalar.value, k->data.scalar.length);
        prefix[nl + k->data.scalar.length] = '\0';
        if (wh_walk(w, idx, doc, v, prefix, nl + k->data.scalar.length, source, errbuf, errcap, depth + 1))
            return -1;
        prefix[plen] = '\0';
    }
    return 0;
}

static int load_warehouses(ig_config_t *cfg, yaml_document_t *doc, yaml_node_t *node, const char *source,
                           char *errbuf, size_t errcap)
{
    cfg->nwarehouses = 0;
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++) {
        if (cfg->nwarehouses == IG_WAREHOUSES_MAX) {
            snprintf(errbuf, errcap, "config key catalog.warehouses (%s): at most %d", source, IG_WAREHOUSES_MAX);
            return -1;
        }
        ig_warehouse_cfg_t *w = &cfg->warehouses[cfg->nwarehouses];
        memset(w, 0, sizeof *w);
        w->timeout_ms = 30000;
        char prefix[128] = "";
        if (wh_walk(w, cfg->nwarehouses, doc, yaml_document_get_node(doc, *i), prefix, 0, source, errbuf, errcap, 0))
            return -1;
        cfg->nwarehouses++;
    }
    return 0;
}

/* Walks a YAML node; mappings extend the dotted prefix, scalars are set. */
static int walk(ig_config_t *cfg, yaml_document_t *doc, yaml_node_t *node, char *prefix, size_t plen,
                const char *source, char *errbuf, size_t errcap, int depth)
{
    if (depth > 8) {
        snprintf(errbuf, errcap, "%s: nested too deeply at %s", source, prefix);
        return -1;
    }
    if (node->type == YAML_SCALAR_NODE) {
        if (plen == 0) {
            if (node->data.scalar.length == 0) return 0; /* empty file */
            snprintf(errbuf, errcap, "%s: expected a mapping of settings", source);
            return -1;
        }
        return ig_config_set(cfg, prefix, (const char *)node->data.scalar.value, source, errbuf, errcap);
    }
    if (node->type == YAML_SEQUENCE_NODE && strcmp(prefix, "catalog.warehouses") == 0)
        return load_warehouses(cfg, doc, node, source, errbuf, errcap);
    if (node->type == YAML_SEQUENCE_NODE && plen && list_key(prefix))
        return join_list(cfg, doc, node, prefix, source, errbuf, errcap);
    if (node->type != YAML_MAPPING_NODE) {
        snprintf(errbuf, errcap, "config key %s (%s): lists are not settings", plen ? prefix : "(top)", source);
        return -1;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            snprintf(errbuf, errcap, "%s: keys must be plain names", source);
            return -1;
        }
        size_t kl = k->data.scalar.length;
        if (plen + 1 + kl >= 256) {
            snprintf(errbuf, errcap, "%s: key too long", source);
            return -1;
        }
        size_t nl = plen;
        if (plen) prefix[nl++] = '.';
        memcpy(prefix + nl, k->data.scalar.value, kl);
        prefix[nl + kl] = '\0';
        if (walk(cfg, doc, v, prefix, nl + kl, source, errbuf, errcap, depth + 1)) return -1;
        prefix[plen] = '\0';
    }
    return 0;
}

int ig_config_load_file(ig_config_t *cfg, const char *path, char *errbuf, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errcap, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    char source[IG_PATH_MAX + 8];
    snprintf(source, sizeof source, "file %s", path);
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(errbuf, errcap, "config file %s: line %zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML error");
        goto out;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    char prefix[256] = "";
    rc = root ? walk(cfg, &doc, root, prefix, 0, source, errbuf, errcap, 0) : 0;
    yaml_document_delete(&doc);
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int ig_config_load_env(ig_config_t *cfg, char *const *envp, char *errbuf, size_t errcap)
{
    static const char *const not_settings[] = {"ICEGATE_ADMIN_PASSWORD", "ICEGATE_NEW_PASSWORD", "ICEGATE_CONFIG",
                                               "ICEGATE_BIN", NULL};
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, "ICEGATE_", 8) != 0) continue;
        const char *eq = strchr(e, '=');
        if (!eq) continue;
        size_t nl = (size_t)(eq - e);
        int skip = 0;
        for (int i = 0; not_settings[i]; i++)
            if (strlen(not_settings[i]) == nl && strncmp(e, not_settings[i], nl) == 0) skip = 1;
        if (skip) continue;
        const char *key = NULL;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !key; i++) {
            const char *k = keys[i].key;
            size_t kl = strlen(k);
            if (kl != nl - 8) continue;
            size_t j = 0;
            for (; j < kl; j++) {
                char want = k[j] == '.' ? '_' : (char)toupper((unsigned char)k[j]);
                if (want == '-') want = '_';
                if (e[8 + j] != want) break;
            }
            if (j == kl) key = k;
        }
        char source[128];
        snprintf(source, sizeof source, "env %.*s", (int)(nl < 100 ? nl : 100), e);
        if (!key) {
            snprintf(errbuf, errcap, "unknown config key in environment: %.*s", (int)(nl < 100 ? nl : 100), e);
            return -1;
        }
        if (ig_config_set(cfg, key, eq + 1, source, errbuf, errcap)) return -1;
    }
    return 0;
}

/* The webhook is an operator's setting, and only ever http(s): no file://, no gopher:// through libcurl. */
static int check_webhook(const ig_config_t *cfg, char *errbuf, size_t errcap)
{
    const char *u = cfg->webhook_url;
    if (u[0] && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
        snprintf(errbuf, errcap, "config key notifications.webhook.url: must be an http:// or https:// URL");
        return -1;
    }
    return 0;
}

/* A secret given as _file or _env (env NULL: no _env form) into its plain field: 0, or -1 naming the key
 * (never the value). */
static int resolve_secret(const char *key, char *field, size_t cap, const char *file, const char *env, char *errbuf,
                          size_t errcap)
{
    int given = (field[0] != '\0') + (file[0] != '\0') + (env && env[0] != '\0');
    if (given > 1) {
        snprintf(errbuf, errcap, "config key %s: give it once (value, _file%s)", key, env ? " or _env" : "");
        return -1;
    }
    if (env && env[0]) {
        const char *v = getenv(env);
        if (!v || !v[0] || strlen(v) >= cap) {
            snprintf(errbuf, errcap, "config key %s_env: %s is %s", key, env, v && v[0] ? "too long" : "not set");
            return -1;
        }
        snprintf(field, cap, "%s", v);
    } else if (file[0]) {
        FILE *f = fopen(file, "r");
        size_t n = f ? fread(field, 1, cap - 1, f) : 0;
        bool more = f && fgetc(f) != EOF;
        if (f) fclose(f);
        field[n] = '\0';
        while (n > 0 && (field[n - 1] == '\n' || field[n - 1] == '\r')) field[--n] = '\0';
        if (!f || !n || more) {
            snprintf(errbuf, errcap, "config key %s_file: %s %s", key, file,
                     !f ? strerror(errno) : more ? "is too long" : "is empty");
            field[0] = '\0';
            return -1;
        }
    }
    return 0;
}

/* Each warehouse's name, location and S3 keys checked; catalog.credentials.* as its defaults. */
static int finish_warehouse(ig_config_t *cfg, int idx, char *errbuf, size_t errcap)
{
    ig_warehouse_cfg_t *w = &cfg->warehouses[idx];
    static const char *const words[] = {"namespaces", "tables", "views", "transactions", "config", "oauth"};
    bool word = false;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        word |= strcmp(w->name, words[i]) == 0;
    if (!w->name[0] || strspn(w->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                           strlen(w->name)) {
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].name: required, letters, digits, '_', '-', '.'",
                 idx);
        return -1;
    }
    if (word && cfg->nwarehouses > 1) { /* /v1/<name>/... could not name it */
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].name: %s is a word of the catalog's routes",
                 idx, w->name);
        return -1;
    }
    if (!w->location[0]) {
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].location: required", idx);
        return -1;
    }
    if (strncmp(w->location, "s3://", 5) == 0) {
        if (!w->region[0]) snprintf(w->region, sizeof w->region, "us-east-1");
        if (!w->endpoint[0]) { /* through a copy: GCC cannot tell the two fields of *w apart (-Wrestrict) */
            char aws[sizeof w->endpoint];
            snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", w->region);
            memcpy(w->endpoint, aws, sizeof aws);
        }
        if (strncmp(w->endpoint, "http://", 7) != 0 && strncmp(w->endpoint, "https://", 8) != 0) {
            snprintf(errbuf, errcap, "config key catalog.warehouses[%d].s3.endpoint: must be an http(s):// URL",
                     idx);
            return -1;
        }
        char k1[64], k2[64];
        snprintf(k1, sizeof k1, "catalog.warehouses[%d].s3.access_key_id", idx);
        snprintf(k2, sizeof k2, "catalog.warehouses[%d].s3.secret_access_key", idx);
        if (resolve_secret(k1, w->access_key_id, sizeof w->access_key_id, w->access_key_id_file, w->access_key_id_env,
                           errbuf, errcap) ||
            resolve_secret(k2, w->secret_access_key, sizeof w->secret_access_key, w->secret_access_key_file,
                           w->secret_access_key_env, errbuf, errcap))
            return -1;
        if (!w->access_key_id[0] || !w->secret_access_key[0]) {
            snprintf(errbuf, errcap, "config key catalog.warehouses[%d].s3: access_key_id and secret_access_key are "
                                     "required (each as a value, _file or _env)", idx);
            return -1;
        }
    } else if (w->endpoint[0] || w->access_key_id[0] || w->access_key_id_file[0] || w->access_key_id_env[0]) {
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].s3: only for an s3:// location", idx);
        return -1;
    }
    bool inherited = !w->credentials_mode[0];
    if (inherited) snprintf(w->credentials_mode, sizeof w->credentials_mode, "%s", cfg->credentials_mode);
    if (strcmp(w->credentials_mode, "none") != 0 && strcmp(w->credentials_mode, "static") != 0 &&
        strcmp(w->credentials_mode, "sts") != 0) {
        snprintf(errbuf, errcap, "config key catalog.warehouses[%d].credentials.mode: '%s' is not one of "
                                 "none|static|sts", idx, w->credentials_mode);
        return -1;
    }
    if (strcmp(w->credentials_mode, "none") != 0 && strncmp(w->location, "s3://", 5) != 0) {
        /* catalog.credentials.mode is every warehouse's default: a file:// one beside s3:// ones vends nothing */
        if (inherited && cfg->nwarehouses > 1) {
            snprintf(w->credentials_mode, sizeof w->credentials_mode, "none");
        } else {
            snprintf(errbuf, errcap, "config key catalog.warehouses[%d].credentials.mode: %s is for s3:// warehouses",
                     idx, w->credentials_mode);
            return -1;
        }
    }
    const char *sts = cfg->sts_endpoint[0] ? cfg->sts_endpoint : w->endpoint;
    if (strcmp(w->credentials_mode, "sts") == 0 && strncmp(sts, "http://", 7) != 0 &&
        strncmp(sts, "https://", 8) != 0) {
        snprintf(errbuf, errcap, "config key catalog.credentials.sts.endpoint: must be an http(s):// URL");
        return -1;
    }
    snprintf(w->sts_endpoint, sizeof w->sts_endpoint, "%s", sts);
    snprintf(w->sts_role_arn, sizeof w->sts_role_arn, "%s", cfg->sts_role_arn);
    w->credentials_ttl_s = cfg->credentials_ttl_s;
    return 0;
}

/* catalog.warehouses: each checked; the first is the default (and becomes catalog.warehouse). */
static int finish_warehouses(ig_config_t *cfg, char *errbuf, size_t errcap)
{
    if (!cfg->nwarehouses && strcmp(cfg->credentials_mode, "none") != 0) {
        snprintf(errbuf, errcap, "config key catalog.credentials.mode: '%s' needs an s3:// warehouse in "
                                 "catalog.warehouses", cfg->credentials_mode);
        return -1;
    }
    if (!cfg->nwarehouses) return 0;
    if (cfg->warehouse[0]) {
        snprintf(errbuf, errcap, "config keys catalog.warehouse and catalog.warehouses: give one of them");
        return -1;
    }
    for (int i = 0; i < cfg->nwarehouses; i++)
        if (finish_warehouse(cfg, i, errbuf, errcap)) return -1;
    snprintf(cfg->warehouse, sizeof cfg->warehouse, "%s", cfg->warehouses[0].location);
    return 0;
}

/* A loadTable is charged a read and given back the difference when it is answered 304: it cannot cost more. */
static int check_costs(const ig_config_t *cfg, char *errbuf, size_t errcap)
{
    if (cfg->cost_not_modified_milli > cfg->cost_read_milli) {
        snprintf(errbuf, errcap, "config key ratelimiter.costs.not_modified: must not exceed ratelimiter.costs.read (a "
                                 "loadTable is charged a read and given back the difference when it is answered 304)");
        return -1;
    }
    return 0;
}

/* ratelimiter.redis.*: the URL when the back end is redis; on_error from its older name failure_policy
 * (fail-open = local, fail-closed = deny; server.c warns about the old name); cluster.node_id defaults to the
 * host name and port. */
static int finish_redis(ig_config_t *cfg, char *errbuf, size_t errcap)
{
    if (strcmp(cfg->ratelimiter_backend, "redis") == 0 && cfg->redis_url[0] == '\0') {
        snprintf(errbuf, errcap, "config key ratelimiter.redis.url: required when ratelimiter.backend is redis");
        return -1;
    }
    if (cfg->redis_failure_policy[0]) {
        const char *as = strcmp(cfg->redis_failure_policy, "fail-closed") == 0 ? "deny" : "local";
        if (cfg->redis_on_error[0] && strcmp(cfg->redis_on_error, as) != 0) {
            snprintf(errbuf, errcap,
                     "config keys ratelimiter.redis.on_error (%s) and ratelimiter.redis.failure_policy (%s, its "
                     "older name) disagree: set only on_error",
                     cfg->redis_on_error, cfg->redis_failure_policy);
            return -1;
        }
        snprintf(cfg->redis_on_error, sizeof cfg->redis_on_error, "%s", as);
    }
    if (!cfg->redis_on_error[0]) snprintf(cfg->redis_on_error, sizeof cfg->redis_on_error, "local");
    /* Confirmed at every poll: a bound under two polls would refuse between two healthy ones. */
    if (cfg->max_staleness_ms && cfg->max_staleness_ms < 2 * cfg->token_poll_ms) {
        snprintf(errbuf, errcap,
                 "config key auth.max_staleness_ms (%d): must be 0 or at least twice tokens.poll_interval_ms (%d)",
                 cfg->max_staleness_ms, cfg->token_poll_ms);
        return -1;
    }
    if (!cfg->node_id[0]) {
        char host[64] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "icegate");
        if (cfg->listen_port) snprintf(cfg->node_id, sizeof cfg->node_id, "%s:%d", host, cfg->listen_port);
        else snprintf(cfg->node_id, sizeof cfg->node_id, "%s:pid%ld", host, (long)getpid()); /* port 0: any */
    }
    return 0;
}

int ig_config_finish(ig_config_t *cfg, char *errbuf, size_t errcap)
{
    if (cfg->data_dir[0] == '\0') {
        snprintf(errbuf, errcap, "config key data_dir: must not be empty");
        return -1;
    }
    if (resolve_secret("storage.postgres.dsn", cfg->postgres_dsn, sizeof cfg->postgres_dsn, cfg->postgres_dsn_file,
                       NULL, errbuf, errcap))
        return -1;
    if (strcmp(cfg->storage_driver, "postgres") == 0 && cfg->postgres_dsn[0] == '\0') {
        snprintf(errbuf, errcap, "config key storage.postgres.dsn: required when storage.driver is postgres (or "
                                 "storage.postgres.dsn_file)");
        return -1;
    }
    if (!cfg->postgres_pool_size) cfg->postgres_pool_size = cfg->threads + 2;
    if (check_costs(cfg, errbuf, errcap)) return -1;
    if (finish_redis(cfg, errbuf, errcap)) return -1;
    if (check_webhook(cfg, errbuf, errcap)) return -1;
    if (finish_warehouses(cfg, errbuf, errcap)) return -1;
    if (cfg->warehouse[0] == '\0') {
        /* file://<absolute data_dir>/warehouse.  "./", "." and trailing '/' are dropped so that no "//" or
         * "/./" ends up in the warehouse and in every table location derived from it. */
        char abs[IG_PATH_MAX];
        const char *dd = cfg->data_dir;
        if (dd[0] != '/') {
            char cwd[IG_PATH_MAX];
            if (!getcwd(cwd, sizeof cwd)) { /* never guess: "" + "/data" would silently mean /data */
                snprintf(errbuf, errcap,
                         "config key data_dir: \"%s\" is relative and the working directory "
                         "cannot be resolved (%s)",
                         cfg->data_dir, strerror(errno));
                return -1;
            }
            for (;;) {
                if (dd[0] == '.' && dd[1] == '/')
                    dd += 2;
                else if (dd[0] == '/')
                    dd++;
                else
                    break;
            }
            if (strcmp(dd, ".") == 0) dd = "";
            if ((size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, dd) >= sizeof abs) goto toolong;
        } else {
            snprintf(abs, sizeof abs, "%s", dd);
        }
        size_t al = strlen(abs);
        while (al > 0 && abs[al - 1] == '/')
            abs[--al] = '\0';
        if ((size_t)snprintf(cfg->warehouse, sizeof cfg->warehouse, "file://%s/warehouse", abs) >=
            sizeof cfg->warehouse)
            goto toolong;
    } else if (cfg->warehouse[0] == '/') {
        /* A plain absolute path: store it as the file:// URI the field promises (config.h). */
        char uri[sizeof cfg->warehouse];
        if ((size_t)snprintf(uri, sizeof uri, "file://%s", cfg->warehouse) >= sizeof uri) {
            snprintf(errbuf, errcap, "config key catalog.warehouse: path too long");
            return -1;
        }
        memcpy(cfg->warehouse, uri, sizeof uri);
    } else if (strncmp(cfg->warehouse, "file://", 7) != 0 &&
               (strncmp(cfg->warehouse, "s3://", 5) != 0 || !cfg->nwarehouses)) {
        snprintf(errbuf, errcap, "config key catalog.warehouse: \"%s\" must be a file:// URI or an absolute path "
                 "(s3:// goes in catalog.warehouses, with its keys)", cfg->warehouse);
        return -1;
    }
    return 0;
toolong:
    snprintf(errbuf, errcap, "config key data_dir: path too long");
    return -1;
}
