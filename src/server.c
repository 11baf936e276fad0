/* server — see server.h.
 *
 * Threads: libmicrohttpd's worker pool serves requests; the main thread waits for signals and, between them,
 * does the housekeeping that must never run on the request path: picking up token changes made by other
 * processes (every tokens.poll_interval_ms), flushing last-use data (every second), and freeing replaced
 * token records. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog/catalog.h"
#include "admin/console.h"
#include "http/http.h"
#include "core/log.h"
#include "access/users.h"
#include "core/util.h"
#include "core/version.h"

static int mkdirs(const char *path)
{
    char buf[IG_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

ig_store_t *ig_store_open(const ig_config_t *cfg, ig_error_t *err)
{
    if (strcmp(cfg->storage_driver, "sqlite") != 0) {
        ig_error_set(err, IG_E_INTERNAL,
                     "config key storage.driver: '%s' is not available in this build yet (use sqlite)",
                     cfg->storage_driver);
        return NULL;
    }
    if (mkdirs(cfg->data_dir)) {
        ig_error_set(err, IG_E_INTERNAL, "cannot create data dir %s: %s", cfg->data_dir,
                     strerror(errno));
        return NULL;
    }
    char path[IG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/icegate.db", cfg->data_dir);
    return ig_store_sqlite_open(path, err);
}

void ig_store_close(ig_store_t *st)
{
    if (st) st->ops->close(st);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ig_server_run(const ig_config_t *cfg)
{
    static ig_server_t srv; /* one per process; static so signal-time code never sees a dangling pointer */
    ig_error_t err;
    int code = 1;
    memset(&srv, 0, sizeof srv);
    srv.cfg = *cfg;

    /* Block the stop signals in every thread (the HTTP threads inherit this mask); main waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv.store = ig_store_open(cfg, &err);
    if (!srv.store) {
        ig_error("cannot open the store: %s", err.message);
        return 1;
    }
    if (ig_users_bootstrap(srv.store, &err)) {
        ig_error("cannot create the first user: %s", err.message);
        goto out;
    }
    srv.tokens = ig_tokenstore_new(srv.store, true, cfg->ratelimiter_enabled);
    int64_t t0 = mono_ms();
    if (!srv.tokens || ig_tokenstore_load(srv.tokens, &err)) {
        ig_error("cannot load access tokens: %s", srv.tokens ? err.message : "out of memory");
        goto out;
    }
    size_t ntok = ig_tokenstore_count(srv.tokens);
    ig_info("loaded %zu access tokens in %lld ms", ntok, (long long)(mono_ms() - t0));
    srv.sessions = ig_sessions_new(cfg->session_ttl_s);
    srv.catalog = ig_catalog_new(&srv, &err);
    if (!srv.sessions || !srv.catalog) {
        ig_error("cannot start: %s", srv.catalog ? "out of memory" : err.message);
        goto out;
    }
    atomic_store(&srv.store_ok_ms, ig_wall_ms());
    if (ig_http_start(&srv)) goto out;

    ig_info("icegate %s listening on http://%s:%d (data dir %s, warehouse %s, %d threads)", IG_VERSION,
            cfg->listen_host, srv.bound_port, cfg->data_dir, cfg->warehouse, cfg->threads);
    if (cfg->ratelimiter_enabled)
        ig_info("rate limiter: enabled (features.ratelimiter.enabled=true): each token's Max RPS is enforced on "
                "the Iceberg REST Catalog routes");
    else
        ig_warn("rate limiter: DISABLED (features.ratelimiter.enabled=false): Max RPS is stored but not enforced");
    if (ntok == 0)
        ig_info("no access tokens yet: create one with  bin/icegate token create --name NAME --data-dir %s",
                cfg->data_dir);

    int64_t last_flush = mono_ms();
    for (;;) {
        struct timespec wait = {cfg->token_poll_ms / 1000, (long)(cfg->token_poll_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            ig_info("received %s: no new connections; finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (ig_tokenstore_sync(srv.tokens) >= 0) atomic_store(&srv.store_ok_ms, ig_wall_ms());
        if (mono_ms() - last_flush >= 1000) {
            ig_tokenstore_flush_usage(srv.tokens);
            ig_tokenstore_reclaim(srv.tokens);
            last_flush = mono_ms();
        }
    }

    atomic_store(&srv.stopping, true);
    ig_http_quiesce(&srv);
    int64_t deadline = mono_ms() + 30000;
    while (ig_http_inflight() > 0 && mono_ms() < deadline) {
        struct timespec ms10 = {0, 10000000};
        nanosleep(&ms10, NULL);
    }
    if (ig_http_inflight() > 0) ig_warn("stopping with %lld requests still in flight", (long long)ig_http_inflight());
    ig_http_stop(&srv);
    ig_tokenstore_flush_usage(srv.tokens);
    code = 0;
    ig_info("stopped cleanly");
out:
    ig_http_stop(&srv);
    ig_catalog_free(srv.catalog);
    ig_sessions_free(srv.sessions);
    ig_tokenstore_free(srv.tokens);
    ig_store_close(srv.store);
    return code;
}
