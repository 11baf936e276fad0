/* test_config — defaults, the precedence file < env < flags, the YAML reader, and the rule that every error
 * names the offending key (DESIGN.md section 2).  YAML files are written to mkstemp files; the environment
 * is a fake envp array, never the process's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

typedef struct {
    char path[256];
} tmpfile_t;

static void write_yaml(tmpfile_t *t, const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/icegate-test-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Loads text as a YAML config file into cfg; returns the loader's result, error text in err. */
static int load_yaml(ig_config_t *cfg, const char *text, char *err, size_t cap)
{
    tmpfile_t t = {""};
    write_yaml(&t, text);
    err[0] = '\0';
    int rc = ig_config_load_file(cfg, t.path, err, cap);
    unlink(t.path);
    return rc;
}

#define assert_contains(hay, needle)                                                                         \
    do {                                                                                                     \
        if (!strstr((hay), (needle))) fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));           \
    } while (0)
#define assert_not_contains(hay, needle)                                                                     \
    do {                                                                                                     \
        if (strstr((hay), (needle))) fail_msg("\"%s\" contains \"%s\"", (hay), (needle));                    \
    } while (0)

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    (void)state;
    ig_config_t c;
    memset(&c, 0x5a, sizeof c);
    ig_config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8181);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(c.threads >= 1 && c.threads <= 256);
    if (cores >= 1 && cores <= 256) assert_int_equal(c.threads, cores);
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.storage_driver, "sqlite");
    assert_string_equal(c.postgres_dsn, "");
    assert_string_equal(c.warehouse, ""); /* derived in ig_config_finish */
    assert_true(c.ratelimiter_enabled);
    assert_string_equal(c.ratelimiter_backend, "local");
    assert_string_equal(c.redis_url, "");
    assert_string_equal(c.redis_failure_policy, ""); /* the older name of on_error: unset */
    assert_string_equal(c.redis_on_error, "");       /* "local" once finished */
    assert_int_equal(c.redis_timeout_ms, 20);
    assert_int_equal(c.heartbeat_ms, 1000);
    assert_string_equal(c.log_level, "info");
    assert_true(c.max_body_bytes > 0);
    assert_true(c.max_header_bytes > 0);
    assert_true(c.connection_timeout_s > 0);
    assert_true(c.max_connections > 0);
    assert_true(c.session_ttl_s > 0);
    assert_int_equal(c.login_threads, 1);
    assert_int_equal(c.login_queue, 32);
    assert_true(c.token_poll_ms > 0 && c.token_poll_ms <= 1000); /* DESIGN: changes seen within 1 s */

    char err[512] = "";
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_true(strncmp(c.warehouse, "file:///", 8) == 0);
}

/* ---- precedence ---- */

static void test_precedence_file_env_flag(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c,
                               "server:\n"
                               "  listen: 0.0.0.0:9000\n"
                               "  threads: 3\n"
                               "data_dir: /tmp/from-file\n"
                               "log:\n"
                               "  level: debug\n"
                               "ratelimiter:\n"
                               "  backend: redis\n"
                               "  redis:\n"
                               "    url: redis://file:6379\n",
                               err, sizeof err),
                     0);
    char *envp[] = {"PATH=/usr/bin",
                    "ICEGATE_SERVER_THREADS=5",
                    "ICEGATE_DATA_DIR=/tmp/from-env",
                    "ICEGATE_RATELIMITER_REDIS_URL=redis://env:6379",
                    "HOME=/root",
                    NULL};
    assert_int_equal(ig_config_load_env(&c, envp, err, sizeof err), 0);
    assert_int_equal(ig_config_set(&c, "data_dir", "/tmp/from-flag", "flag", err, sizeof err), 0);

    assert_string_equal(c.listen_host, "0.0.0.0"); /* file only */
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.log_level, "debug");            /* file only */
    assert_string_equal(c.ratelimiter_backend, "redis");  /* file only */
    assert_int_equal(c.threads, 5);                       /* env over file */
    assert_string_equal(c.redis_url, "redis://env:6379"); /* env over file */
    assert_string_equal(c.data_dir, "/tmp/from-flag");    /* flag over env over file */
    assert_string_equal(c.storage_driver, "sqlite");      /* default untouched */

    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.redis_on_error, "local");
    assert_string_equal(c.node_id + strcspn(c.node_id, ":"), ":9000"); /* host name:port */
    assert_string_equal(c.warehouse, "file:///tmp/from-flag/warehouse");
}

/* ratelimiter.redis.*: the URL is required with the redis back end; failure_policy is the older name of
 * on_error (fail-open = local, fail-closed = deny) and may not contradict it. */
static void test_redis_keys(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.backend", "redis", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "ratelimiter.redis.url: required when ratelimiter.backend is redis");

    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.redis.failure_policy", "fail-closed", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.redis_on_error, "deny");

    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.redis.failure_policy", "fail-open", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_set(&c, "ratelimiter.redis.on_error", "deny", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "disagree");

    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.redis.on_error", "ignore", "file", err, sizeof err), -1);
    assert_contains(err, "not one of local|deny");
    assert_int_equal(ig_config_set(&c, "ratelimiter.redis.timeout_ms", "0", "file", err, sizeof err), -1);
    assert_int_equal(ig_config_set(&c, "cluster.heartbeat_ms", "50", "file", err, sizeof err), -1);
    assert_int_equal(ig_config_set(&c, "cluster.node_id", "node-a", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_set(&c, "server.listen", "127.0.0.1:0", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.node_id, "node-a");
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "server.listen", "127.0.0.1:0", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_non_null(strstr(c.node_id, ":pid")); /* port 0: the pid tells nodes of one host apart */

    /* auth.max_staleness_ms: 0, or at least two polls (a healthy node confirms its table at every poll) */
    ig_config_defaults(&c);
    assert_int_equal(c.max_staleness_ms, 1000);
    assert_int_equal(ig_config_set(&c, "tokens.poll_interval_ms", "600", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "auth.max_staleness_ms (1000): must be 0 or at least twice tokens.poll_interval_ms (600)");
    assert_int_equal(ig_config_set(&c, "auth.max_staleness_ms", "0", "file", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
}

/* Every documented key can be set through the environment under its derived name. */
static void test_env_names_for_every_key(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    char *envp[] = {"ICEGATE_SERVER_LISTEN=[::1]:9443",
                    "ICEGATE_SERVER_THREADS=7",
                    "ICEGATE_SERVER_MAX_BODY_BYTES=2M",
                    "ICEGATE_SERVER_MAX_HEADER_BYTES=8192",
                    "ICEGATE_SERVER_CONNECTION_TIMEOUT=30",
                    "ICEGATE_SERVER_MAX_CONNECTIONS=100",
                    "ICEGATE_DATA_DIR=/var/lib/icegate",
                    "ICEGATE_STORAGE_DRIVER=postgres",
                    "ICEGATE_STORAGE_POSTGRES_DSN=postgres://u@h/db",
                    "ICEGATE_CATALOG_WAREHOUSE=file:///wh",
                    "ICEGATE_FEATURES_RATELIMITER_ENABLED=false",
                    "ICEGATE_RATELIMITER_BACKEND=redis",
                    "ICEGATE_RATELIMITER_REDIS_URL=redis://r:6379/0",
                    "ICEGATE_RATELIMITER_REDIS_FAILURE_POLICY=fail-closed",
                    "ICEGATE_LOG_LEVEL=warn",
                    "ICEGATE_CONSOLE_SESSION_TTL=3600",
                    "ICEGATE_TOKENS_POLL_INTERVAL_MS=50",
                    NULL};
    if (ig_config_load_env(&c, envp, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9443);
    assert_int_equal(c.threads, 7);
    assert_int_equal(c.max_body_bytes, 2 * 1024 * 1024);
    assert_int_equal(c.max_header_bytes, 8192);
    assert_int_equal(c.connection_timeout_s, 30);
    assert_int_equal(c.max_connections, 100);
    assert_string_equal(c.data_dir, "/var/lib/icegate");
    assert_string_equal(c.storage_driver, "postgres");
    assert_string_equal(c.postgres_dsn, "postgres://u@h/db");
    assert_string_equal(c.warehouse, "file:///wh");
    assert_false(c.ratelimiter_enabled);
    assert_string_equal(c.ratelimiter_backend, "redis");
    assert_string_equal(c.redis_url, "redis://r:6379/0");
    assert_string_equal(c.redis_failure_policy, "fail-closed");
    assert_string_equal(c.log_level, "warn");
    assert_int_equal(c.session_ttl_s, 3600);
    assert_int_equal(c.token_poll_ms, 50);
    /* Parsed and merged; the postgres store is built in, its pool sized from the threads by default. */
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_int_equal(c.postgres_pool_size, 7 + 2);
    snprintf(c.storage_driver, sizeof c.storage_driver, "sqlite");
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.redis_on_error, "deny"); /* from failure_policy: fail-closed */
}

static void test_env_ignores_non_settings(void **state)
{
    (void)state;
    ig_config_t c, d;
    char err[512] = "";
    ig_config_defaults(&c);
    ig_config_defaults(&d);
    char *envp[] = {"ICEGATE_ADMIN_PASSWORD=hunter2-secret",
                    "ICEGATE_CONFIG=/etc/icegate.yaml",
                    "ICEGATEX=1",
                    "icegate_server_threads=9",
                    "XICEGATE_SERVER_THREADS=9",
                    "ICEGATE_NO_EQUALS_SIGN",
                    "TERM=xterm",
                    NULL};
    assert_int_equal(ig_config_load_env(&c, envp, err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    assert_int_equal(ig_config_load_env(&c, NULL, err, sizeof err), 0);
    char *empty[] = {NULL};
    assert_int_equal(ig_config_load_env(&c, empty, err, sizeof err), 0);
}

/* ---- YAML ---- */

static void test_yaml_nested_and_flow(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, "features: {ratelimiter: {enabled: false}}\n", err, sizeof err), 0);
    assert_false(c.ratelimiter_enabled);
    assert_int_equal(load_yaml(&c, "features:\n  ratelimiter:\n    enabled: true\n", err, sizeof err), 0);
    assert_true(c.ratelimiter_enabled);
    /* Quoted scalars, comments, a document marker, booleans in the usual spellings. */
    assert_int_equal(load_yaml(&c,
                               "---\n"
                               "# icegate\n"
                               "data_dir: \"/srv/ice gate\"   # quoted, with a space\n"
                               "server: {threads: '2', max_body_bytes: 64k}\n"
                               "features:\n  ratelimiter:\n    enabled: off\n",
                               err, sizeof err),
                     0);
    assert_string_equal(c.data_dir, "/srv/ice gate");
    assert_int_equal(c.threads, 2);
    assert_int_equal(c.max_body_bytes, 65536);
    assert_false(c.ratelimiter_enabled);
}

static void test_yaml_empty_file(void **state)
{
    (void)state;
    ig_config_t c, d;
    char err[512];
    ig_config_defaults(&c);
    ig_config_defaults(&d);
    assert_int_equal(load_yaml(&c, "", err, sizeof err), 0);
    assert_int_equal(load_yaml(&c, "# nothing here\n", err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_yaml_syntax_error_names_line(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, "server:\n  listen: 127.0.0.1:8181\n  threads: 4: 5\n", err, sizeof err),
                     -1);
    assert_contains(err, "line 3");
    assert_int_equal(load_yaml(&c, "data_dir: /x\nserver:\n\tthreads: 4\n", err, sizeof err), -1);
    assert_contains(err, "line 3");
    assert_int_equal(load_yaml(&c, "a: \"unterminated\n", err, sizeof err), -1);
    assert_contains(err, "line ");
}

static void test_yaml_lists_rejected(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(
        load_yaml(&c, "server:\n  listen:\n    - 127.0.0.1:1\n    - 127.0.0.1:2\n", err, sizeof err), -1);
    assert_contains(err, "server.listen");
    assert_contains(err, "list");
    assert_int_equal(load_yaml(&c, "data_dir: [a, b]\n", err, sizeof err), -1);
    assert_contains(err, "data_dir");
    assert_int_equal(load_yaml(&c, "- data_dir\n- x\n", err, sizeof err), -1);
    assert_int_equal(load_yaml(&c, "just a string\n", err, sizeof err), -1);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8181);
}

/* A self-referencing alias must end in an error, not in unbounded recursion. */
static void test_yaml_recursion_bounded(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, "a: &x\n  b: *x\n", err, sizeof err), -1);
    assert_contains(err, "a.b");
    assert_int_equal(load_yaml(&c, "a: {b: {c: {d: {e: {f: {g: {h: {i: {j: 1}}}}}}}}}\n", err, sizeof err),
                     -1);
    assert_contains(err, "a.b.c");
    /* An alias to a section is read as that section under the new name: x.threads is unknown. */
    assert_int_equal(load_yaml(&c, "server: &s\n  threads: 3\nx: *s\n", err, sizeof err), -1);
    assert_contains(err, "x.threads");
}

static void test_yaml_missing_file(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(ig_config_load_file(&c, "/nonexistent/icegate.yaml", err, sizeof err), -1);
    assert_contains(err, "/nonexistent/icegate.yaml");
}

/* ---- every error names the key ---- */

static void test_error_unknown_key_in_file(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    tmpfile_t t = {""};
    write_yaml(&t, "server:\n  listen: 0.0.0.0:1234\n  bogus: 1\n");
    int rc = ig_config_load_file(&c, t.path, err, sizeof err);
    unlink(t.path); /* before any assertion can end the test */
    assert_int_equal(rc, -1);
    assert_contains(err, "server.bogus");
    assert_contains(err, t.path);
    /* A typo at the top level, and a section given a scalar. */
    assert_int_equal(load_yaml(&c, "datadir: /x\n", err, sizeof err), -1);
    assert_contains(err, "datadir");
    assert_int_equal(load_yaml(&c, "features: true\n", err, sizeof err), -1);
    assert_contains(err, "features");
}

static void test_error_unknown_env(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    char *envp[] = {"ICEGATE_SERVER_THREADZ=4", NULL};
    assert_int_equal(ig_config_load_env(&c, envp, err, sizeof err), -1);
    assert_contains(err, "ICEGATE_SERVER_THREADZ");
    /* A mistyped secret variable: named, its value never echoed. */
    char *envp2[] = {"ICEGATE_ADMIN_PASSWD=hunter2-secret", NULL};
    assert_int_equal(ig_config_load_env(&c, envp2, err, sizeof err), -1);
    assert_contains(err, "ICEGATE_ADMIN_PASSWD");
    assert_not_contains(err, "hunter2");
    /* Lower-case after the prefix is not the env form of a key. */
    char *envp3[] = {"ICEGATE_server_threads=4", NULL};
    assert_int_equal(ig_config_load_env(&c, envp3, err, sizeof err), -1);
    assert_contains(err, "ICEGATE_server_threads");
}

static void test_error_bad_values_name_key_and_source(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"features.ratelimiter.enabled", "maybe"},
        {"features.ratelimiter.enabled", ""},
        {"features.ratelimiter.enabled", "2"},
        {"server.threads", "0"},
        {"server.threads", "257"},
        {"server.threads", "-1"},
        {"server.threads", "four"},
        {"server.threads", "4 "},
        {"server.threads", ""},
        {"server.max_connections", "15"},
        {"console.session_ttl", "59"},
        {"console.login_threads", "0"},
        {"console.login_queue", "0"},
        {"console.login_queue", "4097"},
        {"tokens.poll_interval_ms", "1001"},
        {"tokens.poll_interval_ms", "9"},
        {"server.max_body_bytes", "1023"},
        {"server.max_body_bytes", "2G"},
        {"server.max_body_bytes", "-1"},
        {"server.max_body_bytes", "16X"},
        {"server.max_body_bytes", "1.5M"},
        {"server.max_body_bytes", "M"},
        {"server.max_body_bytes", " 16M"},
        {"server.max_body_bytes", "\t16M"},
        {"server.max_body_bytes", "99999999999999999999"},
        {"server.max_body_bytes", "9999999999999G"},
        {"server.listen", "localhost"},
        {"server.listen", ":8181"},
        {"server.listen", "127.0.0.1:"},
        {"server.listen", "127.0.0.1:65536"},
        {"server.listen", "127.0.0.1:-1"},
        {"server.listen", "127.0.0.1:http"},
        {"server.listen", "[::1:8181"},
        {"server.listen", "[]:8181"},
        {"server.listen", ""},
        {"storage.driver", "mysql"},
        {"storage.driver", "SQLite"},
        {"storage.driver", "sqlite3"},
        {"storage.driver", "sql"},
        {"storage.driver", ""},
        {"ratelimiter.backend", "memcached"},
        {"ratelimiter.redis.failure_policy", "fail"},
        {"log.level", "trace"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_config_t c, d;
        ig_config_defaults(&c);
        ig_config_defaults(&d);
        char err[512] = "";
        if (ig_config_set(&c, bad[i].key, bad[i].value, "flag", err, sizeof err) == 0)
            fail_msg("%s accepted \"%s\"", bad[i].key, bad[i].value);
        assert_contains(err, bad[i].key);
        assert_contains(err, "flag");
        /* A rejected value leaves the setting as it was. */
        assert_memory_equal(&c, &d, sizeof c);
    }
}

static void test_error_source_from_env_and_file(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    char *envp[] = {"ICEGATE_SERVER_THREADS=1000", NULL};
    assert_int_equal(ig_config_load_env(&c, envp, err, sizeof err), -1);
    assert_contains(err, "server.threads");
    assert_contains(err, "ICEGATE_SERVER_THREADS");
    tmpfile_t t = {""};
    write_yaml(&t, "storage:\n  driver: mysql\n");
    int rc = ig_config_load_file(&c, t.path, err, sizeof err);
    unlink(t.path); /* before any assertion can end the test */
    assert_int_equal(rc, -1);
    assert_contains(err, "storage.driver");
    assert_contains(err, t.path);
    assert_int_equal(load_yaml(&c, "features: {ratelimiter: {enabled: perhaps}}\n", err, sizeof err), -1);
    assert_contains(err, "features.ratelimiter.enabled");
}

static void test_error_value_too_long(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    char big[2048];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "postgres://u:s3cr3t@h/", 22);
    assert_int_equal(ig_config_set(&c, "storage.postgres.dsn", big, "flag", err, sizeof err), -1);
    assert_contains(err, "storage.postgres.dsn");
    assert_not_contains(err, "s3cr3t"); /* a DSN may hold a password: never echoed */
    assert_string_equal(c.postgres_dsn, "");
    big[0] = '/';
    assert_int_equal(ig_config_set(&c, "data_dir", big, "flag", err, sizeof err), -1);
    assert_contains(err, "data_dir");
    assert_string_equal(c.data_dir, "./data");
}

/* ---- accepted values ---- */

static void test_values_accepted(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    static const char *const t[] = {"true", "TRUE", "yes", "on", "1"}, *const f[] = {"false", "False", "no",
                                                                                     "OFF", "0"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ig_config_set(&c, "features.ratelimiter.enabled", f[i], "flag", err, sizeof err), 0);
        assert_false(c.ratelimiter_enabled);
        assert_int_equal(ig_config_set(&c, "features.ratelimiter.enabled", t[i], "flag", err, sizeof err), 0);
        assert_true(c.ratelimiter_enabled);
    }
    assert_int_equal(ig_config_set(&c, "server.listen", "[::1]:8443", "flag", err, sizeof err), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 8443);
    assert_int_equal(ig_config_set(&c, "server.listen", "localhost:65535", "flag", err, sizeof err), 0);
    assert_string_equal(c.listen_host, "localhost");
    assert_int_equal(c.listen_port, 65535);
    assert_int_equal(ig_config_set(&c, "server.threads", "1", "flag", err, sizeof err), 0);
    assert_int_equal(c.threads, 1);
    assert_int_equal(ig_config_set(&c, "server.threads", "256", "flag", err, sizeof err), 0);
    assert_int_equal(c.threads, 256);
    static const struct {
        const char *v;
        int64_t want;
    } sizes[] = {{"1024", 1024},     {"64k", 65536},  {"64K", 65536}, {"16M", 16 << 20},
                 {"16MB", 16 << 20}, {"1G", 1 << 30}, {"1g", 1 << 30}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(ig_config_set(&c, "server.max_body_bytes", sizes[i].v, "flag", err, sizeof err), 0);
        assert_int_equal(c.max_body_bytes, sizes[i].want);
    }
    assert_int_equal(ig_config_set(&c, "log.level", "error", "flag", err, sizeof err), 0);
    assert_string_equal(c.log_level, "error");
}

/* ---- ig_config_finish ---- */

static void finish_with_data_dir(const char *dd, char *out, size_t cap)
{
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "data_dir", dd, "flag", err, sizeof err), 0);
    if (ig_config_finish(&c, err, sizeof err) != 0) fail_msg("finish failed for %s: %s", dd, err);
    snprintf(out, cap, "%s", c.warehouse);
}

static void test_finish_warehouse_default(void **state)
{
    (void)state;
    char cwd[IG_PATH_MAX], want[IG_PATH_MAX + 64], got[IG_PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));

    finish_with_data_dir("/srv/icegate", got, sizeof got);
    assert_string_equal(got, "file:///srv/icegate/warehouse");
    finish_with_data_dir("/srv/icegate/", got, sizeof got);
    assert_string_equal(got, "file:///srv/icegate/warehouse");

    snprintf(want, sizeof want, "file://%s/data/warehouse", cwd);
    finish_with_data_dir("./data", got, sizeof got);
    assert_string_equal(got, want);
    finish_with_data_dir("data", got, sizeof got);
    assert_string_equal(got, want);
    finish_with_data_dir("./data/", got, sizeof got);
    assert_string_equal(got, want);

    snprintf(want, sizeof want, "file://%s/warehouse", cwd);
    finish_with_data_dir(".", got, sizeof got);
    assert_string_equal(got, want);

    /* An explicit warehouse wins over data_dir. */
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "catalog.warehouse", "file:///lake", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_set(&c, "data_dir", "/srv/x", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.warehouse, "file:///lake");
    /* An absolute path is taken as a local directory and stored as the file:// URI the field promises. */
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "catalog.warehouse", "/lake/wh", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.warehouse, "file:///lake/wh");
}

static void test_finish_warehouse_rejects_remote(void **state)
{
    (void)state;
    static const char *const bad[] = {"s3://bucket/wh", "relative/wh", "gs://b", "http://x/wh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_config_t c;
        char err[512] = "";
        ig_config_defaults(&c);
        assert_int_equal(ig_config_set(&c, "catalog.warehouse", bad[i], "flag", err, sizeof err), 0);
        assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
        assert_contains(err, "catalog.warehouse");
    }
}

/* A relative data_dir must not silently become /data when the working directory cannot be resolved. */
static void test_finish_relative_data_dir_without_cwd(void **state)
{
    (void)state;
    char cwd[IG_PATH_MAX], dir[256];
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/icegate-cwd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(rmdir(dir), 0); /* now getcwd() fails with ENOENT */
    ig_config_t c;
    char err[512] = "";
    ig_config_defaults(&c);
    int rc = ig_config_finish(&c, err, sizeof err);
    char wh[IG_PATH_MAX];
    snprintf(wh, sizeof wh, "%s", c.warehouse);
    assert_int_equal(chdir(cwd), 0);
    if (rc == 0) fail_msg("finish accepted a relative data_dir without a working directory: %s", wh);
    assert_contains(err, "data_dir");
}

static void test_finish_required_companions(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "storage.driver", "postgres", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "storage.postgres.dsn");
    assert_int_equal(
        ig_config_set(&c, "storage.postgres.dsn", "postgres://localhost/icegate", "flag", err, sizeof err),
        0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);

    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.backend", "redis", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "ratelimiter.redis.url");
    assert_int_equal(
        ig_config_set(&c, "ratelimiter.redis.url", "redis://localhost:6379", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);

    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "data_dir", "", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "data_dir");
}

/* ---- ratelimiter.costs (DESIGN.md section 8) ---- */

static void test_costs_parsed(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(c.cost_read_milli, 1000);
    assert_int_equal(c.cost_write_milli, 1000);
    assert_int_equal(c.cost_commit_milli, 1000);
    assert_int_equal(c.cost_not_modified_milli, 1000);
    if (load_yaml(&c, "ratelimiter:\n  costs: {read: 1, write: 2.5, commit: 5, not_modified: 0.01}\n", err,
                  sizeof err))
        fail_msg("%s", err);
    assert_int_equal(c.cost_read_milli, 1000);
    assert_int_equal(c.cost_write_milli, 2500);
    assert_int_equal(c.cost_commit_milli, 5000);
    assert_int_equal(c.cost_not_modified_milli, 10);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);

    char *envp[] = {"ICEGATE_RATELIMITER_COSTS_READ=0.125", "ICEGATE_RATELIMITER_COSTS_NOT_MODIFIED=0.1", NULL};
    if (ig_config_load_env(&c, envp, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(c.cost_read_milli, 125);
    assert_int_equal(c.cost_not_modified_milli, 100);
    assert_int_equal(ig_config_set(&c, "ratelimiter.costs.commit", "1000000", "flag", err, sizeof err), 0);
    assert_int_equal(c.cost_commit_milli, INT64_C(1000000000));
    assert_int_equal(ig_config_set(&c, "ratelimiter.costs.write", "0.010", "flag", err, sizeof err), 0);
    assert_int_equal(c.cost_write_milli, 10);
}

static void test_costs_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"0",    "0.009", "0.001", "-1",  "1e2",    "1.",   ".5",      "1.2345",
                                      "abc",  "",      " 1",    "1 ",  "0x10",   "nan",  "1000001", "1,5",
                                      "+1",   "inf",   "5..1",  "1.5x", "99999999999999999999999"};
    ig_config_t c;
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_config_defaults(&c);
        err[0] = '\0';
        if (ig_config_set(&c, "ratelimiter.costs.read", bad[i], "flag", err, sizeof err) != -1)
            fail_msg("cost \"%s\" was accepted", bad[i]);
        assert_contains(err, "config key ratelimiter.costs.read (flag)");
        assert_contains(err, "is not a cost");
        assert_int_equal(c.cost_read_milli, 1000); /* untouched */
    }
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, "ratelimiter:\n  costs:\n    commit: 0.001\n", err, sizeof err), -1);
    assert_contains(err, "config key ratelimiter.costs.commit (file ");
    assert_int_equal(load_yaml(&c, "ratelimiter:\n  costs:\n    reads: 1\n", err, sizeof err), -1);
    assert_contains(err, "unknown config key ratelimiter.costs.reads");
    /* a 304 is charged a read up front and refunded down to not_modified: it cannot cost more */
    ig_config_defaults(&c);
    assert_int_equal(ig_config_set(&c, "ratelimiter.costs.not_modified", "2", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_contains(err, "config key ratelimiter.costs.not_modified: must not exceed ratelimiter.costs.read");
    assert_int_equal(ig_config_set(&c, "ratelimiter.costs.read", "2", "flag", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
}

/* catalog.warehouses (DESIGN.md §7): one S3 warehouse read from YAML with its secret from the environment or a
 * file (never repeated in an error); two, both forms at once, sts, a bad bucket key or an unknown key refused. */
#define WH_YAML(extra)                                                                                       \
    "catalog:\n  warehouses:\n    - name: lake\n      location: s3://bucket/tables\n      s3:\n"              \
    "        endpoint: http://127.0.0.1:9000\n        path_style: true\n        access_key_id: AK\n" extra

static void test_warehouses(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    setenv("IG_TEST_S3_SECRET", "s3cr3t-value", 1);
    assert_int_equal(load_yaml(&c, WH_YAML("        secret_access_key_env: IG_TEST_S3_SECRET\n"
                                           "      credentials: {mode: static}\n"), err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_int_equal(c.nwarehouses, 1);
    assert_string_equal(c.warehouses[0].name, "lake");
    assert_string_equal(c.warehouses[0].secret_access_key, "s3cr3t-value");
    assert_string_equal(c.warehouses[0].region, "us-east-1");
    assert_string_equal(c.warehouses[0].credentials_mode, "static");
    assert_true(c.warehouses[0].path_style);
    assert_string_equal(c.warehouse, "s3://bucket/tables");

    tmpfile_t f = {""};
    write_yaml(&f, "from-a-file\n");
    char yaml[1024];
    snprintf(yaml, sizeof yaml, WH_YAML("        secret_access_key_file: %s\n"), f.path);
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, yaml, err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.warehouses[0].secret_access_key, "from-a-file");
    assert_string_equal(c.warehouses[0].credentials_mode, "none");
    unlink(f.path);

    /* sts: the S3 endpoint is the STS endpoint unless one is named; the TTL and role come from catalog.credentials */
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, WH_YAML("        secret_access_key: x\n      credentials: {mode: sts}\n"
                                           "  credentials:\n    ttl: 1800\n    sts: {role_arn: 'arn:aws:iam::1:role/r'}\n"),
                               err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.warehouses[0].credentials_mode, "sts");
    assert_string_equal(c.warehouses[0].sts_endpoint, "http://127.0.0.1:9000");
    assert_string_equal(c.warehouses[0].sts_role_arn, "arn:aws:iam::1:role/r");
    assert_int_equal(c.warehouses[0].credentials_ttl_s, 1800);

    /* several: each checked on its own; catalog.credentials.mode is the default of the s3:// ones only */
    ig_config_defaults(&c);
    assert_int_equal(load_yaml(&c, WH_YAML("        secret_access_key: x\n    - name: scratch\n"
                                           "      location: file:///tmp/scratch\n  credentials: {mode: static}\n"),
                               err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), 0);
    assert_int_equal(c.nwarehouses, 2);
    assert_string_equal(c.warehouses[0].credentials_mode, "static");
    assert_string_equal(c.warehouses[1].name, "scratch");
    assert_string_equal(c.warehouses[1].credentials_mode, "none");
    assert_string_equal(c.warehouse, "s3://bucket/tables");

    static const struct {
        const char *yaml, *msg;
        bool at_load;
    } bad[] = {
        {WH_YAML("        secret_access_key: x\n        secret_access_key_env: IG_TEST_S3_SECRET\n"), "give it once", false},
        {WH_YAML("        secret_access_key_env: IG_TEST_UNSET_VAR\n"), "IG_TEST_UNSET_VAR is not set", false},
        {WH_YAML("        secret_access_key: x\n      credentials: {mode: vend}\n"), "not one of none|static|sts", false},
        {WH_YAML("        secret_access_key: x\n      credentials: {mode: sts}\n  credentials:\n    ttl: 600\n"),
         "catalog.credentials.ttl", true},
        {WH_YAML("        secret_access_key: x\n      credentials: {mode: sts}\n  credentials:\n    sts:\n"
                 "      endpoint: ftp://x\n"),
         "sts.endpoint", false},
        {WH_YAML("        secret_access_key: x\n        colour: blue\n"), "catalog.warehouses[0].s3.colour", true},
        {WH_YAML("        secret_access_key: x\n  warehouse: file:///w\n"), "give one of them", false},
        {WH_YAML("        secret_access_key: x\n    - name: two\n      location: s3://b2\n"),
         "catalog.warehouses[1].s3: access_key_id and secret_access_key are required", false},
        {WH_YAML("        secret_access_key: x\n    - name: tables\n      location: file:///w2\n"),
         "catalog.warehouses[1].name: tables is a word", false},
        {WH_YAML("        secret_access_key: x\n    - location: file:///w2\n"), "catalog.warehouses[1].name: required",
         false},
        {WH_YAML("        secret_access_key: x\n    - name: two\n      location: file:///w2\n"
                 "      credentials: {mode: static}\n"),
         "catalog.warehouses[1].credentials.mode: static is for s3://", false},
        {WH_YAML(""), "access_key_id and secret_access_key are required", false},
        {WH_YAML("        secret_access_key: x\n        timeout_ms: 5\n"), "timeout_ms", true},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_config_defaults(&c);
        int rc = load_yaml(&c, bad[i].yaml, err, sizeof err);
        if (!bad[i].at_load) {
            assert_int_equal(rc, 0);
            rc = ig_config_finish(&c, err, sizeof err);
        }
        if (rc != -1) fail_msg("case %zu: accepted", i);
        assert_contains(err, bad[i].msg);
        assert_not_contains(err, "s3cr3t-value");
    }
    unsetenv("IG_TEST_S3_SECRET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence_file_env_flag),
        cmocka_unit_test(test_redis_keys),
        cmocka_unit_test(test_env_names_for_every_key),
        cmocka_unit_test(test_env_ignores_non_settings),
        cmocka_unit_test(test_yaml_nested_and_flow),
        cmocka_unit_test(test_yaml_empty_file),
        cmocka_unit_test(test_yaml_syntax_error_names_line),
        cmocka_unit_test(test_yaml_lists_rejected),
        cmocka_unit_test(test_warehouses),
        cmocka_unit_test(test_yaml_recursion_bounded),
        cmocka_unit_test(test_yaml_missing_file),
        cmocka_unit_test(test_error_unknown_key_in_file),
        cmocka_unit_test(test_error_unknown_env),
        cmocka_unit_test(test_error_bad_values_name_key_and_source),
        cmocka_unit_test(test_error_source_from_env_and_file),
        cmocka_unit_test(test_error_value_too_long),
        cmocka_unit_test(test_values_accepted),
        cmocka_unit_test(test_finish_warehouse_default),
        cmocka_unit_test(test_finish_warehouse_rejects_remote),
        cmocka_unit_test(test_finish_relative_data_dir_without_cwd),
        cmocka_unit_test(test_finish_required_companions),
        cmocka_unit_test(test_costs_parsed),
        cmocka_unit_test(test_costs_rejected),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
