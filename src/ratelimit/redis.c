/* redis — the shared limiter back end (ratelimiter.backend: redis; DESIGN.md §4 and §7).
 *
 * Every node keeps each token's GCRA cell in one Redis key, icegate:rl:<token id>, and decides with one Lua
 * script per request (EVALSHA): the arithmetic of gcra.c, on Redis's own clock (TIME), so the nodes' clocks
 * never matter and two nodes can never both take the last slot.  The key holds the TAT as "<s> <ns>" (Lua
 * numbers are doubles: nanoseconds since the epoch would lose precision) and expires when the bucket is full
 * again, so an idle token costs Redis nothing.
 *
 * Leases.  A token fast enough that a round trip per request would cap it (at least 8 requests fit in 2 ms,
 * and its burst is at least 32) takes bucket time in leases: the script debits up to min(2 ms, a quarter of
 * the bucket) from the shared cell at once, and the worker thread spends it on its next requests without
 * asking Redis.  Debited before use, so the cluster never serves more than the shared cell granted; what a
 * lease still holds 2 ms after it was granted is dropped (so a permit is never served later than that, and
 * the only error is under-admission).  Leases are per worker thread: no lock, no shared write.  Slower tokens,
 * the ones whose limits people test by hand, are decided one request at a time, exactly.
 *
 * Outages.  A call that fails (connect, I/O, past ratelimiter.redis.timeout_ms, an error reply) switches the
 * node to ratelimiter.redis.on_error until the heartbeat thread's probe succeeds again:
 *   local  each token is decided on its in-memory cell at maxRps / N and burst / N (at least 1), N the live
 *          nodes last counted in Redis, the cell starting empty at the switch: no node grants a burst, and the
 *          nodes together never exceed the limit.  After the recovery the debt those cells hold is carried into
 *          the shared cell (the script's floor), so switching back grants no fresh burst either;
 *   deny   503 SlowDownException with Retry-After: 1.
 * The switch and the recovery are logged once each and counted in /metrics.
 *
 * Membership.  The heartbeat thread puts the node into the sorted set icegate:nodes every cluster.heartbeat_ms
 * (score: its expiry, three heartbeats on), drops the expired ones and reads the count, which is N above. */
#include "ratelimit/limiter.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/util.h"

#define KEY_PREFIX "icegate:rl:"
#define NODES_KEY "icegate:nodes"
#define LEASE_SPAN_NS (2 * IG_NS_PER_MS) /* the most bucket time a lease takes, and how long it is good for */
#define LEASE_MIN_PERMITS 8
#define LEASE_MIN_BURST 32
#define LEASE_SLOTS 64    /* leases a worker thread holds at once (direct-mapped by cell) */
#define PROBE_MS 200      /* how often an outage is probed */
/* A TAT booked in Redis is nanoseconds since the epoch (past 2001: above this); one booked on a fallback cell
 * is on the monotonic clock (the machine's uptime: below it).  ig_gcra_result_t.tat_ns carries either. */
#define EPOCH_NS INT64_C(1000000000000000000)

/* Shared by the scripts: the TAT stored as "<s> <ns>", x ns after now (s, n), expiring when it has passed. */
#define LUA_PUT                                                                                                 \
    "local function put(k, s, n, x)\n"                                                                          \
    "  local a = n + x\n"                                                                                       \
    "  redis.call('SET', k, string.format('%d %d', s + math.floor(a / 1e9), a % 1e9), 'PX', math.floor(x / "    \
    "1e6) + 1)\n"                                                                                               \
    "end\n"                                                                                                     \
    "local function debt(k, s, n)\n"                                                                            \
    "  local v = redis.call('GET', k)\n"                                                                        \
    "  if not v then return 0 end\n"                                                                            \
    "  local vs, vn = string.match(v, '^(%d+) (%d+)$')\n"                                                       \
    "  if not vs then return 0 end\n"                                                                           \
    "  local d = (tonumber(vs) - s) * 1e9 + (tonumber(vn) - n)\n"                                               \
    "  if d < 0 then return 0 end\n"                                                                            \
    "  return d\n"                                                                                              \
    "end\n"                                                                                                     \
    "local t = redis.call('TIME')\n"                                                                            \
    "local s, n = tonumber(t[1]), tonumber(t[2]) * 1000\n"

/* KEYS[1] the cell; ARGV: T, tau, C (this request's cost in ns), max wait, lease (0: none), floor.  d is the
 * TAT minus now (0: a full bucket).  Returns {kind, x, d after, s, n}: kind 1 admitted (x: the delay), 0
 * refused (x: the wait), 2 a lease of x ns granted (this request included). */
static const char take_lua[] =
    LUA_PUT
    "local T, tau, C = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local w, L, fl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local d = debt(KEYS[1], s, n)\n"
    "local old, lim = d, tau + T + 1e9\n"
    "if d > lim then d = lim end\n"
    "if d < fl then d = fl end\n"
    "if L > 0 and tau + T - d >= C then\n"
    "  local g = tau + T - d\n"
    "  if g > L then g = L end\n"
    "  if g < C then g = C end\n"
    "  put(KEYS[1], s, n, d + g)\n"
    "  return {2, g, d + g, s, n}\n"
    "end\n"
    "local wait = d + C - T - tau\n"
    "if wait > 0 and wait > w then\n"
    "  if d ~= old then put(KEYS[1], s, n, d) end\n"
    "  return {0, wait, d, s, n}\n"
    "end\n"
    "if wait < 0 then wait = 0 end\n"
    "put(KEYS[1], s, n, d + C)\n"
    "return {1, wait, d + C, s, n}\n";

/* KEYS[1] the cell; ARGV: the booked TAT's s and ns, what to give back (ns).  gcra.c's ig_gcra_refund. */
static const char refund_lua[] =
    LUA_PUT
    "local b = (tonumber(ARGV[1]) - s) * 1e9 + (tonumber(ARGV[2]) - n)\n"
    "if b > tonumber(ARGV[3]) then b = tonumber(ARGV[3]) end\n"
    "if b <= 0 then return 0 end\n"
    "local d = debt(KEYS[1], s, n)\n"
    "if d <= 0 then return 0 end\n"
    "if d <= b then redis.call('DEL', KEYS[1]) return 1 end\n"
    "put(KEYS[1], s, n, d - b)\n"
    "return 1\n";

/* KEYS[1] the node set; ARGV: this node's id, how long its entry lives (ms).  Returns the live nodes. */
static const char beat_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "return redis.call('ZCARD', KEYS[1])\n";

typedef struct {
    const char *src;
    char sha[41];
} script_t;

typedef struct {
    ig_limiter_t base;
    ig_redis_target_t where; /* ratelimiter.redis.url, password, timeout */
    bool deny;          /* on_error: deny (else local) */
    char node_id[128];
    int heartbeat_ms;
    script_t take, refund, beat;
    pthread_key_t conn_key; /* each worker thread's connection */
    /* state */
    _Atomic int up;                /* 1: deciding in Redis; 0: on_error applies */
    _Atomic int64_t down_since_ns; /* monotonic: the last switch to on_error */
    _Atomic int nodes;             /* live nodes at the last heartbeat, >= 1 */
    _Atomic uint64_t calls, errors, outages, recoveries, fallbacks, leases;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool stop, started;
    pthread_t beater;
    char why[160]; /* the error that started the outage */
} rl_redis_t;

/* A lease held by one worker thread: bucket time taken from a token's shared cell, not spent yet. */
typedef struct {
    const void *cell; /* the token's (its in-memory cell: one per token for the life of the process) */
    int64_t left_ns, end_ns;
} lease_t;

static _Thread_local lease_t leases[LEASE_SLOTS];

/* ------------------------------------------------------------------ connections */

static void free_conn(void *c)
{
    redisFree(c);
}

/* ------------------------------------------------------------------ outages */

static void mark_down(rl_redis_t *r, const char *why)
{
    atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
    if (!atomic_load(&r->up)) return;
    /* The switch time first: a fallback decision that sees up == 0 reads it.  A racing second failure only
     * moves it later, which makes the fallback cells emptier, never fuller. */
    atomic_store(&r->down_since_ns, ig_clock_mono_ns());
    int one = 1;
    if (!atomic_compare_exchange_strong(&r->up, &one, 0)) return;
    atomic_fetch_add_explicit(&r->outages, 1, memory_order_relaxed);
    pthread_mutex_lock(&r->mu);
    snprintf(r->why, sizeof r->why, "%s", why);
    pthread_cond_signal(&r->cv); /* probe now, not at the next heartbeat */
    pthread_mutex_unlock(&r->mu);
    if (r->deny)
        ig_warn("ratelimiter: Redis failed (%s): answering 503 SlowDownException on /v1 until it is back "
                "(ratelimiter.redis.on_error: deny)",
                why);
    else
        ig_warn("ratelimiter: Redis failed (%s): deciding on this node's cells at maxRps/%d and burst/%d (the live "
                "nodes at the last heartbeat) until it is back (ratelimiter.redis.on_error: local)",
                why, atomic_load(&r->nodes), atomic_load(&r->nodes));
}

static void mark_up(rl_redis_t *r)
{
    int zero = 0;
    if (!atomic_compare_exchange_strong(&r->up, &zero, 1)) return;
    atomic_fetch_add_explicit(&r->recoveries, 1, memory_order_relaxed);
    int64_t ms = (ig_clock_mono_ns() - atomic_load(&r->down_since_ns)) / IG_NS_PER_MS;
    ig_info("ratelimiter: Redis answers again after %lld ms: deciding on the shared cells", (long long)ms);
}

/* This thread's connection (dialled when it has none); NULL with why filled. */
static redisContext *conn(rl_redis_t *r, bool *fresh, char *why, size_t cap)
{
    redisContext *c = pthread_getspecific(r->conn_key);
    *fresh = c == NULL;
    if (c) return c;
    if (!(c = ig_redis_dial(&r->where, why, cap))) return NULL;
    pthread_setspecific(r->conn_key, c);
    return c;
}

static void drop_conn(rl_redis_t *r, redisContext *c)
{
    pthread_setspecific(r->conn_key, NULL);
    redisFree(c);
}

/* Runs a script on this thread's connection.  A connection that served before and fails at once (Redis
 * restarted, a proxy dropped it) is dialled again and the call tried once more; a timeout is not.  NULL
 * after any failure, the node then switched to on_error. */
static redisReply *call(rl_redis_t *r, const script_t *sc, const char *key, int argc, const char **args)
{
    char why[160];
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh;
        redisContext *c = conn(r, &fresh, why, sizeof why);
        if (!c) break;
        atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
        redisReply *rep = ig_redis_eval(c, sc->sha, sc->src, 1, &key, argc, args, why, sizeof why);
        int e = errno;
        if (rep) return rep;
        bool io = c->err != 0, timeout = c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK);
        if (io) drop_conn(r, c);
        if (!io || fresh || timeout) break; /* an error reply, a new connection, or a timeout: it is down */
    }
    mark_down(r, why);
    return NULL;
}

/* ------------------------------------------------------------------ decisions */

/* p shared by the live nodes: maxRps / N, burst / N (at least 1).  p itself when N is 1 or the share cannot be
 * expressed. */
static ig_gcra_params_t share(const rl_redis_t *r, const ig_gcra_params_t *p)
{
    int n = atomic_load_explicit(&r->nodes, memory_order_relaxed);
    ig_gcra_params_t q = *p;
    if (n > 1 && ig_gcra_params_init(&q, p->max_rps / n, p->burst / n > 1 ? p->burst / n : 1) != 0) q = *p;
    return q;
}

/* on_error: deny refuses; local decides on the token's own cell at its share of the limit, the cell starting
 * empty at the switch (a cell used in an earlier outage may be emptier still). */
static void fallback(rl_redis_t *r, ig_gcra_cell_t *cell, const ig_gcra_params_t *p, int64_t now_ns,
                     int64_t max_wait_ns, int64_t cost_milli, ig_gcra_result_t *out)
{
    atomic_fetch_add_explicit(&r->fallbacks, 1, memory_order_relaxed);
    if (r->deny) {
        *out = (ig_gcra_result_t){.retry_after_ns = 1000 * IG_NS_PER_MS, .unavailable = 1};
        return;
    }
    ig_gcra_params_t q = share(r, p);
    int64_t empty = atomic_load(&r->down_since_ns) + q.tolerance_ns + q.emission_ns;
    int64_t old = atomic_load_explicit(&cell->tat, memory_order_relaxed);
    while (old < empty && !atomic_compare_exchange_weak_explicit(&cell->tat, &old, empty, memory_order_relaxed,
                                                                 memory_order_relaxed)) {
    }
    ig_gcra_take_cost(cell, &q, now_ns, max_wait_ns, cost_milli, out);
}

/* The debt a fallback cell still holds, as bucket time of the shared cell (0: none): a cell with a fraction f
 * of its share used hands the shared cell at least f of the whole bucket. */
static int64_t fallback_debt(const rl_redis_t *r, const ig_gcra_cell_t *cell, const ig_gcra_params_t *p,
                             int64_t now_ns)
{
    int64_t tat = atomic_load_explicit(&cell->tat, memory_order_relaxed);
    if (tat <= now_ns) return 0;
    ig_gcra_params_t q = share(r, p);
    double f = (double)(tat - now_ns) / (double)(q.tolerance_ns + q.emission_ns);
    int64_t full = p->tolerance_ns + p->emission_ns;
    return f >= 1.0 ? full : (int64_t)(f * (double)full);
}

/* The lease a token may take at once (0: decided one request at a time): min(2 ms, a quarter of the bucket)
 * when that holds at least LEASE_MIN_PERMITS requests. */
static int64_t lease_size(const ig_gcra_params_t *p)
{
    if (p->burst < LEASE_MIN_BURST) return 0;
    int64_t L = (p->tolerance_ns + p->emission_ns) / 4;
    if (L > LEASE_SPAN_NS) L = LEASE_SPAN_NS;
    return L >= LEASE_MIN_PERMITS * p->emission_ns ? L : 0;
}

static lease_t *lease_of(const void *cell)
{
    return &leases[((uintptr_t)cell >> 6) % LEASE_SLOTS];
}

static int units(int64_t room, int64_t T)
{
    return room > 0 ? (int)(room / T) : 0;
}

static void fmt_i64(char *buf, size_t cap, int64_t v)
{
    snprintf(buf, cap, "%lld", (long long)v);
}

/* Fills *out from the take script's reply {kind, x, d, s, n}: 1 for a lease, 0 for a decision, -1 when the
 * reply is not that. */
static int read_take(const redisReply *rep, const ig_gcra_params_t *p, int64_t C, const void *cell, int64_t mono,
                     ig_gcra_result_t *out)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 5) return -1;
    long long v[5];
    for (int i = 0; i < 5; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER) return -1;
        v[i] = rep->element[i]->integer;
    }
    const int64_t T = p->emission_ns, full = p->tolerance_ns + T;
    int64_t d = v[2], tat = (int64_t)v[3] * 1000000000 + v[4] + d;
    if (v[0] == 2) { /* a lease: this request takes C of it, this thread keeps the rest for 2 ms */
        lease_t *e = lease_of(cell);
        *e = (lease_t){cell, v[1] - C, mono + LEASE_SPAN_NS};
        *out = (ig_gcra_result_t){.allowed = 1, .remaining = units(full - d, T) + units(e->left_ns, T), .reset_ns = d};
        return 1;
    }
    if (v[0] == 1)
        *out = (ig_gcra_result_t){.allowed = 1, .delay_ns = v[1], .remaining = units(full - d, T), .reset_ns = d,
                                  .tat_ns = tat};
    else
        *out = (ig_gcra_result_t){.remaining = units(full - d, T), .retry_after_ns = v[1], .reset_ns = d};
    return 0;
}

static void redis_take(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, const ig_gcra_params_t *p,
                       int64_t now_ns, int64_t max_wait_ns, int64_t cost_milli, ig_gcra_result_t *out)
{
    rl_redis_t *r = (rl_redis_t *)l;
    if (!atomic_load_explicit(&r->up, memory_order_acquire)) {
        fallback(r, cell, p, now_ns, max_wait_ns, cost_milli, out);
        return;
    }
    const int64_t C = ig_gcra_cost_ns(p, cost_milli), L = lease_size(p);
    if (L) {
        lease_t *e = lease_of(cell);
        if (e->cell == cell && e->end_ns > now_ns && e->left_ns >= C) {
            e->left_ns -= C;
            *out = (ig_gcra_result_t){.allowed = 1, .remaining = units(e->left_ns, p->emission_ns),
                                      .reset_ns = p->tolerance_ns + p->emission_ns};
            return;
        }
    }
    char key[sizeof KEY_PREFIX + 64], a[6][24];
    snprintf(key, sizeof key, KEY_PREFIX "%s", token_id);
    int64_t fl = fallback_debt(r, cell, p, now_ns);
    fmt_i64(a[0], sizeof a[0], p->emission_ns);
    fmt_i64(a[1], sizeof a[1], p->tolerance_ns);
    fmt_i64(a[2], sizeof a[2], C);
    fmt_i64(a[3], sizeof a[3], max_wait_ns);
    fmt_i64(a[4], sizeof a[4], L);
    fmt_i64(a[5], sizeof a[5], fl);
    const char *args[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
    redisReply *rep = call(r, &r->take, key, 6, args);
    if (!rep) {
        fallback(r, cell, p, now_ns, max_wait_ns, cost_milli, out);
        return;
    }
    int got = read_take(rep, p, C, cell, now_ns, out);
    freeReplyObject(rep);
    if (got < 0) {
        mark_down(r, "the take script answered something else than its five integers");
        fallback(r, cell, p, now_ns, max_wait_ns, cost_milli, out);
        return;
    }
    if (fl > 0) { /* carried into the shared cell: the fallback cell's debt is paid */
        int64_t old = atomic_load_explicit(&cell->tat, memory_order_relaxed);
        if (old > now_ns)
            atomic_compare_exchange_strong_explicit(&cell->tat, &old, 0, memory_order_relaxed, memory_order_relaxed);
    }
    if (got == 1) atomic_fetch_add_explicit(&r->leases, 1, memory_order_relaxed);
}

static void redis_refund(ig_limiter_t *l, const char *token_id, ig_gcra_cell_t *cell, int64_t booked_tat_ns,
                         int64_t back_ns, int64_t now_ns)
{
    rl_redis_t *r = (rl_redis_t *)l;
    if (booked_tat_ns <= 0) return; /* leased: spent locally, nothing booked to give back */
    if (booked_tat_ns < EPOCH_NS) {  /* booked on the fallback cell */
        ig_gcra_refund(cell, booked_tat_ns, back_ns, now_ns);
        return;
    }
    if (!atomic_load(&r->up)) return; /* under-admits: never more than was booked */
    char key[sizeof KEY_PREFIX + 64], a[3][24];
    snprintf(key, sizeof key, KEY_PREFIX "%s", token_id);
    fmt_i64(a[0], sizeof a[0], booked_tat_ns / 1000000000);
    fmt_i64(a[1], sizeof a[1], booked_tat_ns % 1000000000);
    fmt_i64(a[2], sizeof a[2], back_ns);
    const char *args[3] = {a[0], a[1], a[2]};
    redisReply *rep = call(r, &r->refund, key, 3, args);
    if (rep) freeReplyObject(rep);
}

/* ------------------------------------------------------------------ heartbeat */

/* One heartbeat on *c (dialled when NULL): the live nodes, or -1 with why filled (and *c dropped). */
static int beat(rl_redis_t *r, redisContext **c, char *why, size_t cap)
{
    if (!*c && !(*c = ig_redis_dial(&r->where, why, cap))) return -1;
    char ttl[24];
    fmt_i64(ttl, sizeof ttl, 3 * (int64_t)r->heartbeat_ms);
    const char *args[2] = {r->node_id, ttl};
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
    const char *key = NODES_KEY;
    redisReply *rep = ig_redis_eval(*c, r->beat.sha, r->beat.src, 1, &key, 2, args, why, cap);
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        if (rep) snprintf(why, cap, "the heartbeat script answered no integer");
        if (rep) freeReplyObject(rep);
        redisFree(*c);
        *c = NULL;
        return -1;
    }
    int n = rep->integer > 0 && rep->integer < 1000000 ? (int)rep->integer : 1;
    freeReplyObject(rep);
    return n;
}

static void *beat_main(void *ud)
{
    rl_redis_t *r = ud;
    redisContext *c = NULL;
    char why[160];
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        int n = beat(r, &c, why, sizeof why);
        if (n > 0) {
            atomic_store(&r->nodes, n);
            mark_up(r);
        } else {
            mark_down(r, why);
        }
        int wait = atomic_load(&r->up) ? r->heartbeat_ms : (r->heartbeat_ms < PROBE_MS ? r->heartbeat_ms : PROBE_MS);
        struct timespec until = ig_clock_deadline(wait);
        pthread_mutex_lock(&r->mu);
        if (!r->stop) pthread_cond_timedwait(&r->cv, &r->mu, &until);
    }
    pthread_mutex_unlock(&r->mu);
    if (c) { /* leave the set, so the others count one node fewer at once */
        redisReply *rep = redisCommand(c, "ZREM %s %s", NODES_KEY, r->node_id);
        if (rep) freeReplyObject(rep);
        redisFree(c);
    }
    return NULL;
}

/* ------------------------------------------------------------------ status, metrics, open, close */

static int redis_status(ig_limiter_t *l, char *buf, size_t cap)
{
    rl_redis_t *r = (rl_redis_t *)l;
    if (atomic_load(&r->up)) {
        snprintf(buf, cap, "ok (%d live nodes)", atomic_load(&r->nodes));
        return 0;
    }
    int64_t ms = (ig_clock_mono_ns() - atomic_load(&r->down_since_ns)) / IG_NS_PER_MS;
    snprintf(buf, cap, "Redis unreachable for %lld ms: %s", (long long)ms,
             r->deny ? "refusing /v1 requests (on_error: deny)" : "deciding on local cells (on_error: local)");
    return r->deny ? -1 : 1;
}

static void redis_metrics(ig_limiter_t *l, ig_buf_t *sb)
{
    rl_redis_t *r = (rl_redis_t *)l;
    ig_buf_printf(sb,
                  "# HELP icegate_ratelimit_redis_up 1 while rate-limit decisions are taken in Redis, 0 while "
                  "ratelimiter.redis.on_error applies.\n# TYPE icegate_ratelimit_redis_up gauge\n"
                  "icegate_ratelimit_redis_up %d\n"
                  "# HELP icegate_ratelimit_redis_calls_total Scripts run in Redis (decisions, leases, refunds, "
                  "heartbeats).\n# TYPE icegate_ratelimit_redis_calls_total counter\n"
                  "icegate_ratelimit_redis_calls_total %llu\n"
                  "# HELP icegate_ratelimit_redis_errors_total Calls to Redis that failed.\n"
                  "# TYPE icegate_ratelimit_redis_errors_total counter\nicegate_ratelimit_redis_errors_total %llu\n"
                  "# HELP icegate_ratelimit_redis_outages_total Switches to ratelimiter.redis.on_error.\n"
                  "# TYPE icegate_ratelimit_redis_outages_total counter\nicegate_ratelimit_redis_outages_total %llu\n"
                  "# HELP icegate_ratelimit_redis_recoveries_total Switches back to the shared cells.\n"
                  "# TYPE icegate_ratelimit_redis_recoveries_total counter\n"
                  "icegate_ratelimit_redis_recoveries_total %llu\n"
                  "# HELP icegate_ratelimit_redis_fallback_decisions_total Requests decided by "
                  "ratelimiter.redis.on_error.\n# TYPE icegate_ratelimit_redis_fallback_decisions_total counter\n"
                  "icegate_ratelimit_redis_fallback_decisions_total{policy=\"%s\"} %llu\n"
                  "# HELP icegate_ratelimit_redis_leases_total Leases of bucket time taken for fast tokens.\n"
                  "# TYPE icegate_ratelimit_redis_leases_total counter\nicegate_ratelimit_redis_leases_total %llu\n"
                  "# HELP icegate_cluster_nodes Live nodes at the last heartbeat.\n"
                  "# TYPE icegate_cluster_nodes gauge\nicegate_cluster_nodes %d\n",
                  atomic_load(&r->up), (unsigned long long)atomic_load(&r->calls),
                  (unsigned long long)atomic_load(&r->errors), (unsigned long long)atomic_load(&r->outages),
                  (unsigned long long)atomic_load(&r->recoveries), r->deny ? "deny" : "local",
                  (unsigned long long)atomic_load(&r->fallbacks), (unsigned long long)atomic_load(&r->leases),
                  atomic_load(&r->nodes));
}

static void redis_close(ig_limiter_t *l)
{
    rl_redis_t *r = (rl_redis_t *)l;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started) pthread_join(r->beater, NULL);
    redisContext *c = pthread_getspecific(r->conn_key);
    if (c) drop_conn(r, c);
    pthread_key_delete(r->conn_key);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    ig_redis_target_clear(&r->where);
    free(r);
}

static const ig_limiter_ops_t redis_ops = {
    .name = "redis",
    .supports = IG_LIMITER_SHARED,
    .take = redis_take,
    .refund = redis_refund,
    .status = redis_status,
    .metrics = redis_metrics,
    .close = redis_close,
};

static void sha1_hex(const char *src, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(src, strlen(src), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n && i < 20; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

ig_limiter_t *ig_limiter_redis_open(const ig_config_t *cfg, ig_error_t *err)
{
    rl_redis_t *r = calloc(1, sizeof *r);
    if (!r) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    r->base.ops = &redis_ops;
    if (ig_redis_target_init(&r->where, cfg, err)) {
        free(r);
        return NULL;
    }
    r->deny = strcmp(cfg->redis_on_error, "deny") == 0;
    snprintf(r->node_id, sizeof r->node_id, "%s", cfg->node_id);
    r->heartbeat_ms = cfg->heartbeat_ms;
    r->take.src = take_lua, r->refund.src = refund_lua, r->beat.src = beat_lua;
    sha1_hex(take_lua, r->take.sha);
    sha1_hex(refund_lua, r->refund.sha);
    sha1_hex(beat_lua, r->beat.sha);
    atomic_init(&r->nodes, 1);
    atomic_init(&r->up, 1);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_key_create(&r->conn_key, free_conn);
    char where[IG_PATH_MAX + 8];
    ig_redis_target_where(&r->where, where, sizeof where);
    ig_info("ratelimiter: Redis back end at %s (db %d, timeout %d ms, on_error %s), node %s", where, r->where.db,
            cfg->redis_timeout_ms, cfg->redis_on_error, r->node_id);
    /* The first heartbeat before the first request: up, and N counted, if Redis answers; else an outage
     * from the start (the node serves under on_error and recovers when Redis comes). */
    redisContext *c = NULL;
    char why[160];
    int n = beat(r, &c, why, sizeof why);
    if (n > 0) atomic_store(&r->nodes, n);
    else mark_down(r, why);
    if (c) redisFree(c);
    r->started = pthread_create(&r->beater, NULL, beat_main, r) == 0;
    if (!r->started) ig_warn("ratelimiter: cannot start the Redis heartbeat thread: an outage will not end");
    return &r->base;
}
