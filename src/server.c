/* server — see server.h.
 *
 * Threads: libmicrohttpd's worker pool serves requests; the main thread waits for signals and, between them,
 * does the housekeeping that must never run on the request path: picking up token changes made by other
 * processes (every tokens.poll_interval_ms), flushing last-use data (every second), and freeing replaced
 * token records. */
#include "server.h"
#include "core/clock.h"

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
    int64_t t0 = (ig_clock_mono_ns() / IG_NS_PER_MS);
    if (!srv.tokens || ig_tokenstore_load(srv.tokens, &err)) {
        ig_error("cannot load access tokens: %s", srv.tokens ? err.message : "out of memory");
        goto out;
    }
    size_t ntok = ig_tokenstore_count(srv.tokens);
    ig_info("loaded %zu access tokens in %lld ms", ntok, (long long)((ig_clock_mono_ns() / IG_NS_PER_MS) - t0));
    srv.sessions = ig_sessions_new(cfg->session_ttl_s);
    srv.catalog = ig_catalog_new(&srv, &err);
    if (!srv.sessions || !srv.catalog) {
        ig_error("cannot start: %s", srv.catalog ? "out of memory" : err.message);
        goto out;
    }
    atomic_store(&srv.store_ok_ms, ig_clock_wall_ms());
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

    int64_t last_flush = (ig_clock_mono_ns() / IG_NS_PER_MS);
    for (;;) {
        struct timespec wait = {cfg->token_poll_ms / 1000, (long)(cfg->token_poll_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            ig_info("received %s: no new connections; finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (ig_tokenstore_sync(srv.tokens) >= 0) atomic_store(&srv.store_ok_ms, ig_clock_wall_ms());
        if ((ig_clock_mono_ns() / IG_NS_PER_MS) - last_flush >= 1000) {
            ig_tokenstore_flush_usage(srv.tokens);
            ig_tokenstore_reclaim(srv.tokens);
            last_flush = (ig_clock_mono_ns() / IG_NS_PER_MS);
        }
    }

    atomic_store(&srv.stopping, true);
    ig_http_quiesce(&srv);
    int64_t deadline = (ig_clock_mono_ns() / IG_NS_PER_MS) + 30000;
    while (ig_http_inflight() > 0 && (ig_clock_mono_ns() / IG_NS_PER_MS) < deadline) {
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
