/* log — see log.h.
 *
 * The access log's rings: one per thread that logs a request, single producer (that thread) and single
 * consumer (the writer).  head and tail count bytes ever produced and consumed; the producer publishes head
 * only after a whole line is in, so the writer never sees half a line.  The writer cuts what it flushes into
 * writes of at most PIPE_BUF bytes ending at a line end, so even on a pipe (journald) an event line written by
 * another thread can never land inside an access line. */
#include "core/log.h"
#include "core/clock.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define RING_CAP ((size_t)1 << 20) /* per logging thread: ~4,000 lines, 40 ms of 100k req/s on one thread */
#define FLUSH_MS 20

static _Atomic int min_level = IG_LOG_INFO;
static _Atomic int format = IG_LOG_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error"};
static _Thread_local const char *current_request;

void ig_log_set_level(ig_log_level_t level)
{
    atomic_store(&min_level, (int)level);
}

int ig_log_parse_level(const char *s, ig_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (ig_log_level_t)i;
            return 0;
        }
    return -1;
}

bool ig_log_enabled(ig_log_level_t level)
{
    return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

void ig_log_set_format(ig_log_format_t f)
{
    atomic_store(&format, (int)f);
}

void ig_log_set_request(const char *request_id)
{
    current_request = request_id;
}

/* ------------------------------------------------------------------ formatting */

typedef struct {
    char *p;
    size_t n, cap; /* cap keeps one byte for the final '\n' */
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (n > l->cap - l->n) n = l->cap - l->n;
    memcpy(l->p + l->n, s, n);
    l->n += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

static void key(line_t *l, const char *k, bool json);

/* True for a byte that a JSON string or a bare text value can hold as it is. */
static bool plain(unsigned char c, bool json)
{
    return json ? c >= 0x20 && c != '"' && c != '\\' : c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

/* s as a JSON string, or (text) as a bare value when it needs no quotes; runs of plain bytes are copied whole. */
static void put_str(line_t *l, const char *s, bool json)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *q = (const unsigned char *)s;
    size_t run = 0;
    while (q[run] && plain(q[run], false)) run++;
    if (!json && run > 0 && !q[run]) {
        put(l, s, run);
        return;
    }
    put(l, "\"", 1);
    while (*q) {
        for (run = 0; q[run] && plain(q[run], true); run++) {}
        put(l, (const char *)q, run);
        q += run;
        if (!*q) break;
        char e[6] = {'\\', (char)*q, 0, 0, 0, 0};
        if (*q < 0x20) {
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[*q >> 4], e[5] = hex[*q & 15];
            put(l, e, 6);
        } else {
            put(l, e, 2);
        }
        q++;
    }
    put(l, "\"", 1);
}

/* key=value (text) or ,"key":value (JSON); a NULL value is null / "-". */
static void field_str(line_t *l, const char *k, const char *v, bool json)
{
    key(l, k, json);
    if (json && !v) puts_(l, "null");
    else put_str(l, v && *v ? v : "-", json);
}

/* The key of a field: " key=" (text) or ",\"key\":" (JSON). */
static void key(line_t *l, const char *k, bool json)
{
    put(l, json ? ",\"" : " ", json ? 2 : 1);
    puts_(l, k);
    put(l, json ? "\":" : "=", json ? 2 : 1);
}

/* Decimal digits of v, without printf (the access log writes several numbers per request). */
static void put_u64(line_t *l, uint64_t v)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) put(l, &d[--n], 1);
}

/* ns as milliseconds with three decimals ("0.054"). */
static void put_ms(line_t *l, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    put_u64(l, us / 1000);
    char f[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10)};
    put(l, f, 4);
}

/* "2026-12-02T01:47:30.693Z": the part up to the seconds is formatted once per second per thread. */
static void put_time(line_t *l)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = ts.tv_sec;
    }
    puts_(l, cached);
    long ms = ts.tv_nsec / 1000000;
    char f[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z'};
    put(l, f, 5);
}

/* The line's start: timestamp and level, and (JSON) the opening brace. */
static void head(line_t *l, ig_log_level_t level, bool json)
{
    static const char *const padded[] = {"debug ", "info  ", "warn  ", "error "};
    if (json) {
        puts_(l, "{\"ts\":\"");
        put_time(l);
        puts_(l, "\",\"level\":\"");
        puts_(l, names[level]);
        put(l, "\"", 1);
    } else {
        put_time(l);
        put(l, " ", 1);
        puts_(l, padded[level]);
    }
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0) return; /* nowhere to log to: nothing better to do */
        p += w;
        n -= (size_t)w;
    }
}

void ig_log(ig_log_level_t level, const char *fmt, ...)
{
    if (!ig_log_enabled(level)) return;
    char buf[LINE_MAX_BYTES], msg[LINE_MAX_BYTES];
    bool json = atomic_load_explicit(&format, memory_order_relaxed) == IG_LOG_JSON;
    line_t l = {buf, 0, sizeof buf - 1};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    head(&l, level, json);
    if (json) {
        field_str(&l, "msg", msg, true);
        if (current_request) field_str(&l, "requestId", current_request, true);
        puts_(&l, "}");
    } else {
        puts_(&l, msg);
        if (current_request) field_str(&l, "requestId", current_request, false);
    }
    buf[l.n++] = '\n';
    write_all(buf, l.n);
}

/* ------------------------------------------------------------------ the access log */

typedef struct ring {
    char *buf;
    _Atomic size_t head, tail;
    struct ring *next;
} ring_t;

static pthread_mutex_t rings_mu = PTHREAD_MUTEX_INITIALIZER; /* the list; taken once per thread, and by the writer */
static ring_t *rings;
static _Thread_local ring_t *my_ring;
static _Atomic bool writer_on;
static pthread_t writer;
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping; /* guarded by wake_mu */

static ring_t *ring_of_thread(void)
{
    if (my_ring) return my_ring;
    ring_t *r = calloc(1, sizeof *r);
    if (r && !(r->buf = malloc(RING_CAP))) {
        free(r);
        r = NULL;
    }
    if (!r) return NULL;
    pthread_mutex_lock(&rings_mu);
    r->next = rings;
    rings = r;
    pthread_mutex_unlock(&rings_mu);
    return my_ring = r;
}

/* Appends a whole line to this thread's ring, waiting for the writer while the ring is full. */
static void push(const char *line, size_t n)
{
    ring_t *r = atomic_load(&writer_on) ? ring_of_thread() : NULL;
    if (!r) {
        write_all(line, n);
        return;
    }
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (RING_CAP - (h - atomic_load_explicit(&r->tail, memory_order_acquire)) < n) {
        pthread_cond_signal(&wake); /* the rare slow path: a burst faster than the writer's period */
        sched_yield();
    }
    size_t at = h % RING_CAP, first = n < RING_CAP - at ? n : RING_CAP - at;
    memcpy(r->buf + at, line, first);
    memcpy(r->buf, line + first, n - first);
    atomic_store_explicit(&r->head, h + n, memory_order_release);
}

static size_t write_limit = PIPE_BUF; /* a regular file takes any size atomically (O_APPEND); a pipe PIPE_BUF */

/* Writes what r holds straight from the ring (at most two pieces, where it wraps), in writes of at most
 * write_limit bytes that end at a line end. */
static void drain(ring_t *r)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    while (t < h) {
        size_t n = h - t < write_limit ? h - t : write_limit;
        size_t at = t % RING_CAP, first = n < RING_CAP - at ? n : RING_CAP - at;
        if (t + n < h) { /* cut after the last whole line of the span */
            const char *nl = n > first ? memrchr(r->buf, '\n', n - first) : NULL;
            if (nl) n = first + (size_t)(nl - r->buf) + 1;
            else if ((nl = memrchr(r->buf + at, '\n', first)) != NULL) n = (size_t)(nl - (r->buf + at)) + 1;
            if (n < first) first = n;
        }
        write_all(r->buf + at, first);
        if (n > first) write_all(r->buf, n - first);
        t += n;
        atomic_store_explicit(&r->tail, t, memory_order_release);
    }
}

static void drain_all(void)
{
    pthread_mutex_lock(&rings_mu);
    for (ring_t *r = rings; r; r = r->next) drain(r);
    pthread_mutex_unlock(&rings_mu);
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wake_mu);
    while (!stopping) {
        struct timespec until = ig_clock_deadline(FLUSH_MS);
        pthread_cond_timedwait(&wake, &wake_mu, &until);
        pthread_mutex_unlock(&wake_mu);
        drain_all();
        pthread_mutex_lock(&wake_mu);
    }
    pthread_mutex_unlock(&wake_mu);
    return NULL;
}

int ig_log_start_writer(void)
{
    struct stat st;
    write_limit = fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? RING_CAP : PIPE_BUF;
    stopping = false;
    if (pthread_create(&writer, NULL, writer_main, NULL) != 0) return -1;
    atomic_store(&writer_on, true);
    return 0;
}

void ig_log_stop_writer(void)
{
    if (!atomic_load(&writer_on)) return;
    pthread_mutex_lock(&wake_mu);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&wake_mu);
    pthread_join(writer, NULL);
    atomic_store(&writer_on, false);
    drain_all();
    /* Every serving thread has ended (the transport stopped first): the rings can go. */
    pthread_mutex_lock(&rings_mu);
    while (rings) {
        ring_t *r = rings;
        rings = r->next;
        free(r->buf);
        free(r);
    }
    pthread_mutex_unlock(&rings_mu);
    my_ring = NULL;
}

void ig_log_access(const ig_access_t *a)
{
    ig_log_level_t level = a->status >= 500 ? IG_LOG_ERROR : a->slow ? IG_LOG_WARN : IG_LOG_INFO;
    if (!ig_log_enabled(level)) return;
    bool json = atomic_load_explicit(&format, memory_order_relaxed) == IG_LOG_JSON;
    char buf[LINE_MAX_BYTES];
    line_t l = {buf, 0, sizeof buf - 1};
    head(&l, level, json);
    puts_(&l, json ? ",\"msg\":\"access\"" : "access");
    field_str(&l, "method", a->method, json);
    field_str(&l, "route", a->route, json);
    key(&l, "status", json);
    put_u64(&l, (uint64_t)(a->status > 0 ? a->status : 0));
    key(&l, "ms", json);
    put_ms(&l, a->elapsed_ns);
    if (a->held_ns > 0) {
        key(&l, "heldMs", json);
        put_ms(&l, a->held_ns);
    }
    key(&l, "bytesIn", json);
    put_u64(&l, a->bytes_in);
    key(&l, "bytesOut", json);
    put_u64(&l, a->bytes_out);
    field_str(&l, "tokenId", a->token_id && *a->token_id ? a->token_id : NULL, json);
    field_str(&l, "client", a->client, json);
    field_str(&l, "requestId", a->request_id, json);
    if (a->type) field_str(&l, "type", a->type, json);
    if (a->slow) {
        key(&l, "slow", json);
        puts_(&l, "true");
    }
    if (a->message && (a->status >= 500 || ig_log_enabled(IG_LOG_DEBUG))) field_str(&l, "message", a->message, json);
    if (json) puts_(&l, "}");
    buf[l.n++] = '\n';
    push(buf, l.n);
}

const char *ig_log_safe(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)s[n];
        out[n] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    out[n] = '\0';
    if (s[n] && cap >= 4) memcpy(out + cap - 4, "...", 4);
    return out;
}
