/* conns — see conns.h.
 *
 * A slot's fd is written only under the mutex (open, close, and the sweeper reading it), so the sweeper can
 * never shut down an fd that libmicrohttpd has closed and the kernel has given to another connection.  The
 * deadline and phase are atomics written by the connection's own worker thread without the lock; a sweep
 * that reads a deadline just before a worker moves it may cut a connection that was past its deadline a
 * moment ago, which is what the deadline says anyway. */
#include "http/conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define SWEEP_NS (250 * IG_NS_PER_MS)
#define LOG_EVERY_NS INT64_C(1000000000) /* at most one warn line a second, however many are cut */

/* One cache line each: neighbouring slots are written by different worker threads. */
struct ig_conn {
    _Alignas(64) _Atomic int64_t deadline_ns;
    _Atomic int phase;
    int fd; /* -1 when free; under the mutex */
    bool has_addr;
    unsigned char addr[16]; /* IPv4 mapped into IPv6 */
    ig_conn_t *next_free;
};

struct ig_conns {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: the sweeper's sleep, cut short by ig_conns_free */
    ig_conn_t *slots, *free_list;
    size_t cap;
    int64_t idle_ns, request_ns;
    bool sweeping, stopping;
    pthread_t thread;
    _Atomic uint64_t cut_total;
    /* What was cut since the last warn line (the sweeper's own; no lock needed). */
    struct {
        int64_t last_ns;
        int n, by_phase[IG_CONN_BUSY];
        bool has_addr;
        unsigned char addr[16];
    } log;
};

static void addr_of(const struct sockaddr *sa, ig_conn_t *c)
{
    c->has_addr = false;
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        memset(c->addr, 0, 10);
        c->addr[10] = c->addr[11] = 0xff;
        memcpy(c->addr + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        c->has_addr = true;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(c->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        c->has_addr = true;
    }
}

/* The network a client address belongs to and its kind, for a log line: "127.0.0.0/24 (loopback)",
 * "2001:db8::/48 (public)".  A whole address is not needed to see where a flood comes from. */
static void addr_class(const unsigned char a[16], char *out, size_t cap)
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, v4mapped, 12) == 0) {
        const unsigned char *v = a + 12;
        const char *kind = v[0] == 127                                    ? "loopback"
                           : v[0] == 10 || (v[0] == 172 && (v[1] & 0xf0) == 16) ||
                                   (v[0] == 192 && v[1] == 168)           ? "private"
                           : v[0] == 169 && v[1] == 254                   ? "link-local"
                                                                          : "public";
        snprintf(out, cap, "%u.%u.%u.0/24 (%s)", v[0], v[1], v[2], kind);
        return;
    }
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char net[16] = {0};
    memcpy(net, a, 6);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, net, text, sizeof text);
    const char *kind = memcmp(a, loop6, 16) == 0         ? "loopback"
                       : (a[0] & 0xfe) == 0xfc           ? "private"
                       : a[0] == 0xfe && (a[1] & 0xc0) == 0x80 ? "link-local"
                                                         : "public";
    snprintf(out, cap, "%s/48 (%s)", text, kind);
}

/* The warn line for what was cut since the last one. */
static void log_cuts(ig_conns_t *t)
{
    char from[80] = "an unknown address";
    if (t->log.has_addr) addr_class(t->log.addr, from, sizeof from);
    ig_warn("http: %d connection%s took longer than server.request_timeout (%lld s) to send a request: closed "
            "(%d before the request line, %d in the headers, %d in the body); the last from %s",
            t->log.n, t->log.n == 1 ? "" : "s", (long long)(t->request_ns / 1000000000),
            t->log.by_phase[IG_CONN_WAITING], t->log.by_phase[IG_CONN_HEADERS], t->log.by_phase[IG_CONN_BODY], from);
    memset(t->log.by_phase, 0, sizeof t->log.by_phase);
    t->log.n = 0;
}

int ig_conns_sweep(ig_conns_t *t, int64_t now_ns)
{
    int cut = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->cap; i++) {
        ig_conn_t *c = &t->slots[i];
        if (c->fd < 0 || atomic_load_explicit(&c->deadline_ns, memory_order_relaxed) > now_ns) continue;
        int phase = atomic_load_explicit(&c->phase, memory_order_relaxed);
        atomic_fetch_add(&t->cut_total, 1);
        /* Not closed: libmicrohttpd owns the fd.  It reads end-of-file now and closes the connection. */
        shutdown(c->fd, SHUT_RDWR);
        atomic_store_explicit(&c->deadline_ns, INT64_MAX, memory_order_relaxed);
        cut++;
        t->log.n++;
        if (phase >= 0 && phase < IG_CONN_BUSY) t->log.by_phase[phase]++;
        t->log.has_addr = c->has_addr;
        memcpy(t->log.addr, c->addr, sizeof c->addr);
    }
    pthread_mutex_unlock(&t->mu);
    if (t->log.n && now_ns - t->log.last_ns >= LOG_EVERY_NS) {
        t->log.last_ns = now_ns;
        log_cuts(t);
    }
    return cut;
}

static void *run(void *arg)
{
    ig_conns_t *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        int64_t due = ig_clock_mono_ns() + SWEEP_NS;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000), .tv_nsec = (long)(due % 1000000000)};
        while (!t->stopping && ig_clock_mono_ns() < due) pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        bool stop = t->stopping;
        pthread_mutex_unlock(&t->mu);
        if (stop) break;
        ig_conns_sweep(t, ig_clock_mono_ns());
    }
    return NULL;
}

ig_conns_t *ig_conns_new(size_t cap, int64_t idle_ns, int64_t request_ns, bool sweep)
{
    ig_conns_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (!cap) cap = 1;
    t->slots = aligned_alloc(_Alignof(ig_conn_t), cap * sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->cap = cap;
    t->idle_ns = idle_ns;
    t->request_ns = request_ns;
    t->log.last_ns = INT64_MIN / 2;
    for (size_t i = cap; i-- > 0;) {
        ig_conn_t *c = &t->slots[i];
        memset(c, 0, sizeof *c);
        c->fd = -1;
        atomic_init(&c->deadline_ns, INT64_MAX);
        atomic_init(&c->phase, IG_CONN_BUSY);
        c->next_free = t->free_list;
        t->free_list = c;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (sweep && pthread_create(&t->thread, NULL, run, t) != 0) {
        ig_conns_free(t);
        return NULL;
    }
    t->sweeping = sweep;
    return t;
}

ig_conn_t *ig_conns_open(ig_conns_t *t, int fd, const struct sockaddr *sa, int64_t now_ns)
{
    pthread_mutex_lock(&t->mu);
    ig_conn_t *c = t->free_list;
    if (c) {
        t->free_list = c->next_free;
        c->next_free = NULL;
        c->fd = fd;
        addr_of(sa, c);
        ig_conns_set(t, c, IG_CONN_WAITING, now_ns);
    }
    pthread_mutex_unlock(&t->mu);
    return c;
}

void ig_conns_close(ig_conns_t *t, ig_conn_t *c)
{
    if (!c) return;
    pthread_mutex_lock(&t->mu);
    c->fd = -1;
    atomic_store_explicit(&c->deadline_ns, INT64_MAX, memory_order_relaxed);
    c->next_free = t->free_list;
    t->free_list = c;
    pthread_mutex_unlock(&t->mu);
}

void ig_conns_set(ig_conns_t *t, ig_conn_t *c, ig_conn_phase_t phase, int64_t now_ns)
{
    if (!c) return;
    int64_t d = INT64_MAX;
    switch (phase) {
    case IG_CONN_WAITING: d = now_ns + t->idle_ns + t->request_ns; break;
    case IG_CONN_HEADERS:
    case IG_CONN_BODY: d = now_ns + t->request_ns; break;
    case IG_CONN_BUSY: break;
    }
    atomic_store_explicit(&c->phase, (int)phase, memory_order_relaxed);
    atomic_store_explicit(&c->deadline_ns, d, memory_order_relaxed);
}

uint64_t ig_conns_cut_total(ig_conns_t *t)
{
    return atomic_load(&t->cut_total);
}

void ig_conns_free(ig_conns_t *t)
{
    if (!t) return;
    if (t->sweeping) {
        pthread_mutex_lock(&t->mu);
        t->stopping = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    if (t->log.n) log_cuts(t);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t->slots);
    free(t);
}

int ig_conns_fit_fd_limit(int conns, int reserve, long *limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        *limit = -1;
        return conns;
    }
    rlim_t need = (rlim_t)conns + (rlim_t)reserve;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit want = rl;
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
            want.rlim_cur = need;
            if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
        } else {
            /* Above the hard limit: only a privileged process (CAP_SYS_RESOURCE) may raise it, up to
             * fs.nr_open; otherwise the hard limit is the most there is. */
            want.rlim_cur = want.rlim_max = need;
            if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
                rl = want;
            } else {
                want.rlim_cur = want.rlim_max = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
            }
        }
    }
    *limit = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return conns;
    long fit = (long)rl.rlim_cur - reserve;
    return fit < 1 ? 1 : (int)fit;
}
