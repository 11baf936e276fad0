/* server — see server.h.
 *
 * The composition root: the only file that knows every part.  Dependencies point one way — surfaces (catalog,
 * admin, console, ops) → logic (access, iceberg, ratelimit) → back ends (store, warehouse) → core — and this
 * file wires them: each surface gets its own context, and the route table below says which path goes where,
 * how it is authenticated and whether the token's Max RPS applies.
 *
 * Threads: libmicrohttpd's worker pool serves requests; the main thread waits for signals and, between them,
 * does the housekeeping that must never run on the request path: picking up token changes made by other
 * processes (every tokens.poll_interval_ms), flushing last-use data (every second), and freeing replaced
 * token records. */
#include "server.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access/auth.h"
#include "access/sessions.h"
#include "access/token_table.h"
#include "access/users.h"
#include "admin/admin_api.h"
#include "admin/console.h"
#include "admin/ops.h"
#include "catalog/catalog.h"
#include "cluster/changes.h"
#include "cluster/members.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/version.h"
#include "http/http.h"
#include "http/router.h"
#include "notify/notify.h"
#include "ratelimit/limiter.h"
#include "store/store.h"

typedef struct {
    ig_config_t cfg;
    ig_store_t *store;
    ig_token_table_t *tokens;
    ig_sessions_t *sessions;
    ig_catalog_t *catalog;
    ig_limiter_t *limiter;
    ig_http_server_t *http;
    ig_auth_t auth;   /* the router's authenticator context */
    ig_admin_t admin; /* the admin API's and the console session routes' context */
    ig_login_guard_t *logins;
    ig_ops_t ops;     /* /healthz, /readyz, /metrics */
    ig_notify_t *notify; /* events, expiry warnings, audit retention (notify.h) */
    ig_changes_t *changes; /* token changes announced to and heard from other nodes (NULL: no Redis) */
    ig_members_t *members; /* this node's heartbeat, and the list of live nodes */
    pthread_t main_thread; /* runs the housekeeping loop; SIGUSR2 to it means "sync the tokens now" */
    sigset_t stop;         /* the signals main waits for (SIGTERM, SIGINT, SIGUSR2), blocked in every thread */
} server_t;

static int64_t mono_ms(void)
{
    return ig_clock_mono_ns() / IG_NS_PER_MS;
}

/* Opens the store and builds what the routes need.  0, or -1 after logging why. */
/* The change stream heard another node: have the housekeeping loop read the store's changes now. */
static void wake_sync(void *ud)
{
    server_t *s = ud;
    pthread_kill(s->main_thread, SIGUSR2);
}

static void announce(void *ud, int64_t seq)
{
    ig_changes_publish(ud, seq);
}

/* What the heartbeat says of this node. */
static void report_self(void *ud, ig_member_self_t *out)
{
    out->token_seq = ig_token_table_seq(ud);
    out->confirmed_ms = ig_token_table_confirmed_ms(ud);
}

/* The store.  Nodes start in any order: a PostgreSQL that does not answer yet is tried again every second for
 * up to a minute (a SIGTERM or SIGINT ends the wait); then the start fails and the service manager's restart
 * takes over. */
static ig_store_t *open_store(server_t *s, ig_error_t *err)
{
    static const char down[] = "cannot connect to PostgreSQL";
    for (int waited = 0;; waited++) {
        ig_store_t *st = ig_store_open(&s->cfg, err);
        if (st || strcmp(s->cfg.storage_driver, "postgres") != 0 || strncmp(err->message, down, sizeof down - 1) != 0 ||
            waited == 60)
            return st;
        if (waited == 0) ig_warn("store: %s; trying again every second for up to 60 s", err->message);
        struct timespec one = {1, 0};
        int sig = sigtimedwait(&s->stop, NULL, &one);
        if (sig == SIGTERM || sig == SIGINT) {
            ig_info("received %s while waiting for the store: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return NULL;
        }
    }
}

static int open_parts(server_t *s)
{
    ig_error_t err;
    s->store = open_store(s, &err);
    if (!s->store) {
        ig_error("cannot open the store: %s", err.message);
        return -1;
    }
    if (ig_users_bootstrap(s->store, &err)) {
        ig_error("cannot create the first user: %s", err.message);
        return -1;
    }
    s->tokens = ig_token_table_new(s->store, true, s->cfg.ratelimiter_enabled);
    int64_t t0 = mono_ms();
    if (!s->tokens || ig_token_table_load(s->tokens, &err)) {
        ig_error("cannot load access tokens: %s", s->tokens ? err.message : "out of memory");
        return -1;
    }
    ig_info("loaded %zu access tokens in %lld ms", ig_token_table_count(s->tokens), (long long)(mono_ms() - t0));
    ig_token_table_set_events(s->tokens, s->cfg.webhook_url[0] != '\0');
    if (!(s->notify = ig_notify_start(&s->cfg, s->store, s->tokens, &err))) {
        ig_error("cannot start: %s", err.message);
        return -1;
    }
    s->sessions = ig_sessions_new(s->cfg.session_ttl_s);
    s->logins = ig_login_guard_new();
    s->catalog = ig_catalog_new(&s->cfg, s->store, &err);
    if (!s->sessions || !s->catalog || !s->logins) {
        ig_error("cannot start: %s", s->catalog ? "out of memory" : err.message);
        return -1;
    }
    if (s->cfg.redis_failure_policy[0])
        ig_warn("config key ratelimiter.redis.failure_policy is the older name of ratelimiter.redis.on_error: "
                "taken as on_error: %s",
                s->cfg.redis_on_error);
    s->limiter = ig_limiter_open(&s->cfg, &err);
    if (!s->limiter) {
        ig_error("cannot start: %s", err.message);
        return -1;
    }
    if (s->cfg.redis_url[0]) {
        if (!(s->changes = ig_changes_start(&s->cfg, wake_sync, s, &err))) {
            ig_error("cannot start: %s", err.message);
            return -1;
        }
        ig_token_table_on_change(s->tokens, announce, s->changes);
    }
    if (!(s->members = ig_members_start(&s->cfg, report_self, s->tokens, &err))) {
        ig_error("cannot start: %s", err.message);
        return -1;
    }
    s->auth = (ig_auth_t){.tokens = s->tokens,
                          .sessions = s->sessions,
                          .limiter = s->limiter,
                          .max_wait_ns = (int64_t)s->cfg.ratelimit_max_delay_ms * 1000000,
                          .max_held = s->cfg.ratelimit_max_held,
                          .trusted = s->cfg.trusted_proxies,
                          .ntrusted = s->cfg.ntrusted_proxies,
                          .cost_milli = {[IG_COST_READ] = s->cfg.cost_read_milli,
                                         [IG_COST_WRITE] = s->cfg.cost_write_milli,
                                         [IG_COST_COMMIT] = s->cfg.cost_commit_milli,
                                         [IG_COST_NOT_MODIFIED] = s->cfg.cost_not_modified_milli},
                          .max_stale_ms = s->cfg.max_staleness_ms};
    s->admin = (ig_admin_t){.tokens = s->tokens,
                            .store = s->store,
                            .sessions = s->sessions,
                            .logins = s->logins,
                            .warehouse = ig_catalog_warehouse_name(s->catalog),
                            .members = s->members,
                            .expiry_warning_days = s->cfg.n_expiry_days ? s->cfg.expiry_days[0] : 0};
    /* Confirm the token table afresh just before serving: opening the catalog may have taken longer than
     * auth.max_staleness_ms since the load. */
    if (ig_token_table_sync(s->tokens) < 0) ig_warn("tokens: the store did not answer the poll before serving");
    s->ops.tokens = s->tokens;
    s->ops.store = s->store;
    s->ops.limiter = s->limiter;
    s->ops.changes = s->changes;
    s->ops.members = s->members;
    atomic_store(&s->ops.store_ok_ms, ig_clock_wall_ms());
    return 0;
}

/* The route table: first match wins.  The catalog is the only rate-limited surface (DESIGN.md §4); the admin
 * API takes a console session or a token; the console's files and login are public. */
static int start_http(server_t *s)
{
    static ig_route_t routes[12];
    static ig_router_t router;
    size_t n = 0;
    routes[n++] = (ig_route_t){"/v1/oauth/tokens", 0, IG_ROUTE_PUBLIC, false, ig_catalog_oauth, NULL, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/v1/", 0, IG_ROUTE_TOKEN, true, ig_catalog_handle, s->catalog, ig_catalog_route,
                               ig_catalog_scope, ig_catalog_cost};
    routes[n++] = (ig_route_t){"/v1", 0, IG_ROUTE_TOKEN, true, ig_catalog_handle, s->catalog, NULL, ig_catalog_scope,
                               ig_catalog_cost};
    routes[n++] = (ig_route_t){"/api/v1/session", 0, IG_ROUTE_PUBLIC, false, ig_console_session_api, &s->admin, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/api/v1/session/", 0, IG_ROUTE_PUBLIC, false, ig_console_session_api, &s->admin, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/api/", 0, IG_ROUTE_TOKEN_OR_SESSION, false, ig_admin_api_handle, &s->admin, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/healthz", 0, IG_ROUTE_PUBLIC, false, ig_ops_healthz, &s->ops, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/readyz", 0, IG_ROUTE_PUBLIC, false, ig_ops_readyz, &s->ops, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/metrics", 0, IG_ROUTE_TOKEN, false, ig_ops_metrics, &s->ops, NULL, NULL, NULL};
    routes[n++] = (ig_route_t){"/", 0, IG_ROUTE_PUBLIC, false, ig_console_files, NULL, NULL, NULL, NULL};
    ig_router_init(routes, n);
    router = (ig_router_t){
        .routes = routes, .n = n, .authenticate = ig_auth_route, .precheck = ig_auth_precheck, .auth_ctx = &s->auth};

    const ig_config_t *cfg = &s->cfg;
    ig_http_opts_t o = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .threads = cfg->threads,
        .connection_timeout_s = cfg->connection_timeout_s,
        .max_header_bytes = cfg->max_header_bytes,
        .max_body_bytes = cfg->max_body_bytes,
        .max_connections = cfg->max_connections,
        .max_connections_per_ip = cfg->max_connections_per_ip,
        .request_timeout_s = cfg->request_timeout_s,
        .reuse_port = cfg->reuse_port,
        .access_log = cfg->log_access,
        .slow_request_ms = cfg->slow_request_ms,
        .before_body = ig_router_before_body,
        .gate_slots = cfg->threads, /* catalog mutations; the pool gets one more worker than them */
        .offload_threads = cfg->login_threads, /* console password hashing (ig_http_defer) */
        .offload_queue = cfg->login_queue,
        .offload_nice = 10, /* under a CPU-saturating load the workers win (no measurable gain otherwise) */
        .hold = cfg->ratelimiter_enabled && cfg->ratelimit_max_delay_ms > 0 && cfg->ratelimit_max_held > 0,
    };
    ig_error_t err;
    s->http = ig_http_start(&o, ig_router_handle, &router, &err);
    if (!s->http) {
        ig_error("%s", err.message);
        return -1;
    }
    return 0;
}

static void log_started(const server_t *s)
{
    const ig_config_t *cfg = &s->cfg;
    ig_info("icegate %s listening on http://%s:%d (data dir %s, warehouse %s, %d threads)", IG_VERSION,
            cfg->listen_host, ig_http_port(s->http), cfg->data_dir, cfg->warehouse, cfg->threads);
    if (cfg->ratelimiter_enabled)
        ig_info("rate limiter: enabled (features.ratelimiter.enabled=true): each token's Max RPS is enforced on "
                "the Iceberg REST Catalog routes");
    else
        ig_warn("rate limiter: DISABLED (features.ratelimiter.enabled=false): Max RPS is stored but not enforced");
    if (ig_token_table_count(s->tokens) == 0)
        ig_info("no access tokens yet: create one with  bin/icegate token create --name NAME --data-dir %s",
                cfg->data_dir);
}

/* Waits for SIGTERM/SIGINT, doing the housekeeping between polls. */
static void housekeeping_loop(server_t *s, const sigset_t *stop)
{
    int poll_ms = s->cfg.token_poll_ms;
    int64_t last_flush = mono_ms();
    for (;;) {
        struct timespec wait = {poll_ms / 1000, (long)(poll_ms % 1000) * 1000000L};
        int sig = sigtimedwait(stop, NULL, &wait);
        if (sig == SIGUSR2) { /* another node changed a token: read it now, the rest on schedule */
            if (ig_token_table_sync(s->tokens) >= 0) atomic_store(&s->ops.store_ok_ms, ig_clock_wall_ms());
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            ig_info("received %s: no new connections; finishing requests in flight",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        if (ig_token_table_sync(s->tokens) >= 0) atomic_store(&s->ops.store_ok_ms, ig_clock_wall_ms());
        if (mono_ms() - last_flush >= 1000) {
            ig_token_table_flush_usage(s->tokens);
            ig_token_table_reclaim(s->tokens);
            last_flush = mono_ms();
        }
    }
}

/* Stops accepting, waits up to 30 s for requests in flight, then closes the transport. */
static void drain(server_t *s)
{
    atomic_store(&s->ops.stopping, true);
    ig_http_quiesce(s->http);
    int64_t deadline = mono_ms() + 30000, next_sync = 0;
    while (ig_http_inflight() > 0 && mono_ms() < deadline) {
        /* Requests still running (held ones are authenticated again at their slot) see token changes, and
         * the table stays confirmed for auth.max_staleness_ms. */
        if (mono_ms() >= next_sync) {
            if (ig_token_table_sync(s->tokens) >= 0) atomic_store(&s->ops.store_ok_ms, ig_clock_wall_ms());
            next_sync = mono_ms() + s->cfg.token_poll_ms;
        }
        struct timespec ms10 = {0, 10000000};
        nanosleep(&ms10, NULL);
    }
    if (ig_http_inflight() > 0) ig_warn("stopping with %lld requests still in flight", (long long)ig_http_inflight());
    ig_catalog_quiesce(s->catalog);
    ig_http_stop(s->http);
    s->http = NULL;
}

int ig_server_run(const ig_config_t *cfg)
{
    static server_t srv; /* one per process; static so signal-time code never sees a dangling pointer */
    int code = 1;
    memset(&srv, 0, sizeof srv);
    srv.cfg = *cfg;
    /* glibc gives each thread that allocates an arena of its own, up to 8 per core, each keeping what was
     * freed in it: after a load the worker, hashing and timer threads held ~5 MB more than this bound on 2
     * cores (docs/operations.md, Memory).  The request path allocates little, so contention stays low. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cpus > 2 ? (int)cpus : 2);

    /* Block the stop signals in every thread (the HTTP threads inherit this mask); main waits for them. */
    sigset_t *stop = &srv.stop;
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGUSR2); /* not a stop: wake_sync's "tokens changed elsewhere" */
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    srv.main_thread = pthread_self();
    signal(SIGPIPE, SIG_IGN);

    if (ig_log_start_writer()) {
        ig_error("cannot start the log writer thread");
        return 1;
    }
    if (open_parts(&srv) || start_http(&srv)) goto out;
    log_started(&srv);
    housekeeping_loop(&srv, stop);
    drain(&srv);
    ig_token_table_flush_usage(srv.tokens);
    code = 0;
    ig_info("stopped cleanly");
out:
    ig_http_stop(srv.http);
    ig_notify_stop(srv.notify); /* before the store and the token table it reads */
    if (srv.tokens) ig_token_table_on_change(srv.tokens, NULL, NULL);
    ig_changes_stop(srv.changes);
    ig_members_stop(srv.members);
    ig_catalog_free(srv.catalog);
    ig_sessions_free(srv.sessions);
    ig_login_guard_free(srv.logins);
    ig_limiter_close(srv.limiter);
    ig_token_table_free(srv.tokens);
    ig_store_close(srv.store);
    ig_log_stop_writer();
    return code;
}
