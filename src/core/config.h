/* config — icegate's settings, merged from three sources (DESIGN.md section 2):
 *   defaults < YAML file (--config) < environment (ICEGATE_<KEY>, '.' -> '_', upper case) < command-line flags.
 * Every key has one dotted name used by all three.  An unknown key or a bad value is an error naming the key
 * and where it came from; start-up stops on it. */
#ifndef IG_CONFIG_H
#define IG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cidr.h"

#define IG_PATH_MAX 1024
#define IG_EXPIRY_THRESHOLDS_MAX 8
#define IG_TRUSTED_PROXIES_MAX 32
#define IG_WAREHOUSES_MAX 8

/* One entry of catalog.warehouses (DESIGN.md §7).  The S3 keys are resolved by ig_config_finish: a key given
 * as _file (a path, trailing newline trimmed) or _env (an environment variable's name) ends up in the plain
 * field.  Secrets: never logged, never in /v1/config or an error. */
typedef struct {
    char name[64];
    char location[IG_PATH_MAX];     /* file:// or s3://bucket/path */
    char endpoint[256];             /* s3.endpoint: http(s)://host[:port]; default AWS for the region */
    char client_endpoint[256];      /* s3.client_endpoint: as clients reach it ("" = endpoint) */
    char region[64];                /* s3.region, default us-east-1 */
    bool path_style;                /* s3.path_style */
    int timeout_ms;                 /* s3.timeout_ms: one request, connect included */
    char credentials_mode[8];       /* credentials.mode: none | static | sts ("" = catalog.credentials.mode) */
    char access_key_id[256], secret_access_key[256];
    char access_key_id_file[IG_PATH_MAX], secret_access_key_file[IG_PATH_MAX];
    char access_key_id_env[128], secret_access_key_env[128];
    /* credentials.mode sts (from catalog.credentials.*): AssumeRole at sts_endpoint ("" = endpoint) for
     * sts_role_arn ("" = a session of the warehouse's own identity, which SeaweedFS and MinIO allow), for
     * credentials_ttl_s seconds */
    char sts_endpoint[256], sts_role_arn[256];
    int credentials_ttl_s;
} ig_warehouse_cfg_t;

typedef struct {
    char listen_host[64];
    int listen_port;
    int threads;              /* HTTP worker threads; default: number of cores */
    int64_t max_body_bytes;   /* 413 beyond it */
    int max_header_bytes;     /* per connection memory for the request line + headers */
    int connection_timeout_s; /* idle keep-alive / slow client timeout */
    int max_connections;
    int max_connections_per_ip; /* concurrent connections from one client address */
    int request_timeout_s;      /* a request's body must be in within this of its headers */
    bool reuse_port; /* share the port with other processes (SO_REUSEPORT); off: a busy port stops the start */
    char data_dir[IG_PATH_MAX];
    char storage_driver[16]; /* "sqlite" | "postgres" */
    char postgres_dsn[512];        /* storage.postgres.dsn, or the contents of storage.postgres.dsn_file */
    char postgres_dsn_file[IG_PATH_MAX];
    int postgres_pool_size;        /* storage.postgres.pool_size: connections per instance (0: threads + 2) */
    char warehouse[IG_PATH_MAX]; /* file:// URI of the root of new tables */
    int64_t max_metadata_bytes;  /* catalog.max_metadata_bytes: the largest metadata file written or read */
    int64_t cache_bytes;         /* catalog.cache_bytes: serialized loadTable responses kept (0: none) */
    char metadata_sync[8];       /* catalog.metadata_sync: "journal" (bytes in the store, files synced later) | "fsync" */
    int metadata_flush_ms;       /* catalog.metadata_flush_ms: how often journaled files are synced */
    bool allow_location_overlap; /* catalog.allow_location_overlap: tables and views may share folders */
    bool ratelimiter_enabled;    /* features.ratelimiter.enabled */
    char ratelimiter_backend[16];   /* "local" | "redis" */
    int ratelimit_max_delay_ms;     /* a request over its limit whose turn comes within this is held; 0: never */
    int ratelimit_max_held;         /* held requests per token; beyond it, 429 */
    /* ratelimiter.costs.read|write|commit|not_modified: what one request of each route class takes from its
     * token's limit, in thousandths of a request (1000 = 1, the default; >= 10, i.e. 0.01) */
    int64_t cost_read_milli, cost_write_milli, cost_commit_milli, cost_not_modified_milli;
    char redis_url[256];            /* ratelimiter.redis.url: redis://host[:port][/db] or unix:/path */
    char redis_password_file[IG_PATH_MAX]; /* ratelimiter.redis.password_file (trailing newline trimmed) */
    int redis_timeout_ms;           /* ratelimiter.redis.timeout_ms: per decision; past it on_error applies */
    char redis_on_error[8];         /* ratelimiter.redis.on_error: "local" | "deny" */
    char redis_failure_policy[16];  /* the older name: "fail-open" (= local) | "fail-closed" (= deny); "" unset */
    char node_id[128];              /* cluster.node_id: default host name:port */
    int heartbeat_ms;               /* cluster.heartbeat_ms */
    int max_staleness_ms;           /* auth.max_staleness_ms: 0 never refuses */
    char log_level[8];
    char log_format[8];  /* "text" | "json" */
    bool log_access;     /* one access line per request */
    int slow_request_ms; /* slower requests are logged at warn, access log on or off */
    int session_ttl_s; /* console sessions */
    int login_threads; /* threads that hash console passwords, off the HTTP workers */
    int login_queue;   /* password hashes queued or running at once; beyond it a login is a 503 */
    int token_poll_ms; /* how often the server looks for changes made by other processes */
    int audit_retention_days; /* audit.retention_days: older audit entries are deleted */
    char webhook_url[512];    /* notifications.webhook.url: http(s) URL events are POSTed to; "" = no events */
    char webhook_secret_file[IG_PATH_MAX]; /* notifications.webhook.secret_file: the HMAC-SHA256 key */
    int webhook_timeout_ms;     /* notifications.webhook.timeout_ms: one delivery attempt, connect included */
    int webhook_max_backoff_ms; /* notifications.webhook.max_backoff_ms: the longest wait between retries */
    ig_cidr_t trusted_proxies[IG_TRUSTED_PROXIES_MAX]; /* server.trusted_proxies */
    int ntrusted_proxies;
    int expiry_days[IG_EXPIRY_THRESHOLDS_MAX]; /* notifications.expiry_warning_days, largest first, distinct */
    int n_expiry_days;
    ig_warehouse_cfg_t warehouses[IG_WAREHOUSES_MAX]; /* catalog.warehouses (YAML only); 0 = catalog.warehouse */
    int nwarehouses;
    char credentials_mode[8]; /* catalog.credentials.mode: none | static | sts */
    int credentials_ttl_s;    /* catalog.credentials.ttl: how long vended sts credentials live (900..3600) */
    char sts_endpoint[256];   /* catalog.credentials.sts.endpoint ("" = the warehouse's S3 endpoint) */
    char sts_role_arn[256];   /* catalog.credentials.sts.role_arn */
} ig_config_t;

/* Fills cfg with the defaults. */
void ig_config_defaults(ig_config_t *cfg);
/* Sets one key from a string value; source names where it came from ("file x.yaml", "env ICEGATE_X", "flag").
 * Returns 0, or -1 with a message naming the key in errbuf. */
int ig_config_set(ig_config_t *cfg, const char *key, const char *value, const char *source, char *errbuf,
                  size_t errcap);
/* Loads a YAML file: nested mappings flatten to dotted keys.  Returns 0 or -1 with a message. */
int ig_config_load_file(ig_config_t *cfg, const char *path, char *errbuf, size_t errcap);
/* Applies ICEGATE_* variables from envp (NULL-terminated, e.g. environ).  Unknown ICEGATE_* names are errors,
 * except ICEGATE_ADMIN_PASSWORD (read at bootstrap, not a setting), ICEGATE_NEW_PASSWORD (`user add`) and
 * ICEGATE_CONFIG. */
int ig_config_load_env(ig_config_t *cfg, char *const *envp, char *errbuf, size_t errcap);
/* Final checks and derived values (warehouse default from data_dir).  Returns 0 or -1. */
int ig_config_finish(ig_config_t *cfg, char *errbuf, size_t errcap);

#endif
