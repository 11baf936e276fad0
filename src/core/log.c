/* log — see log.h.
 *
 * The access log's rings: one per thread that logs a request, single producer (that thread) and single
 * consumer (the writer).  head and tail count bytes ever produced and consumed; the producer publishes head
 * only after a whole line is in, so the writer never sees half a line.  The writer cuts what it flushes into
 * writes of at most PIPE_BUF bytes ending at a line end, so even on a pipe (journald) an event line written by
 * another thread can never land inside an access line. */
#include "core/log.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void putf(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->p + l->n, l->cap - l->n + 1, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k > l->cap - l->n ? l->cap - l->n : (size_t)k;
}

/* s as a JSON string, or (text) as a bare value when it needs no quotes. */
static void put_str(line_t *l, const char *s, bool json)
{
    static const char hex[] = "0123456789abcdef";
    bool bare = !json && *s;
    for (const char *q = s; bare && *q; q++)
        bare = *q > ' ' && *q != '"' && *q != '=' && *q != '\\' && (unsigned char)*q < 0x7f;
    if (bare) {
        puts_(l, s);
        return;
    }
    put(l, "\"", 1);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            char e[2] = {'\\', (char)*q};
            put(l, e, 2);
        } else if (*q < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[*q >> 4], hex[*q & 15]};
            put(l, e, 6);
        } else {
            put(l, (const char *)q, 1);
        }
    }
    put(l, "\"", 1);
}

/* key=value (text) or ,"key":value (JSON); a NULL value is null / "-". */
static void field_str(line_t *l, const char *key, const char *v, bool json)
{
    if (json) {
        putf(l, ",\"%s\":", key);
        if (v) put_str(l, v, true);
        else puts_(l, "null");
    } else {
        putf(l, " %s=", key);
        put_str(l, v && *v ? v : "-", false);
    }
}

static void field_raw(line_t *l, const char *key, const char *v, bool json)
{
    putf(l, json ? ",\"%s\":%s" : " %s=%s", key, v);
}

/* The line's start: timestamp and level, and (JSON) the opening brace. */
static void head(line_t *l, ig_log_level_t level, bool json)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char t[64];
    snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (json) putf(l, "{\"ts\":\"%s\",\"level\":\"%s\"", t, names[level]);
    else putf(l, "%s %-5s ", t, names[level]);
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

/* Writes what r holds, in writes of at most PIPE_BUF bytes that end at a line end. */
static void drain(ring_t *r)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    char chunk[PIPE_BUF];
    while (t < h) {
        size_t n = h - t < sizeof chunk ? h - t : sizeof chunk;
        for (size_t i = 0; i < n; i++) chunk[i] = r->buf[(t + i) % RING_CAP];
        size_t cut = n;
        if (t + n < h)
            while (cut > 0 && chunk[cut - 1] != '\n') cut--;
        if (cut == 0) cut = n; /* cannot happen: lines are shorter than PIPE_BUF */
        write_all(chunk, cut);
        t += cut;
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
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
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
    char buf[LINE_MAX_BYTES], num[32];
    line_t l = {buf, 0, sizeof buf - 1};
    head(&l, level, json);
    puts_(&l, json ? ",\"msg\":\"access\"" : "access");
    field_str(&l, "method", a->method, json);
    field_str(&l, "route", a->route, json);
    snprintf(num, sizeof num, "%d", a->status);
    field_raw(&l, "status", num, json);
    snprintf(num, sizeof num, "%.3f", (double)a->elapsed_ns / 1e6);
    field_raw(&l, "ms", num, json);
    snprintf(num, sizeof num, "%llu", (unsigned long long)a->bytes_in);
    field_raw(&l, "bytesIn", num, json);
    snprintf(num, sizeof num, "%llu", (unsigned long long)a->bytes_out);
    field_raw(&l, "bytesOut", num, json);
    field_str(&l, "tokenId", a->token_id && *a->token_id ? a->token_id : NULL, json);
    field_str(&l, "client", a->client, json);
    field_str(&l, "requestId", a->request_id, json);
    if (a->type) field_str(&l, "type", a->type, json);
    if (a->slow) field_raw(&l, "slow", "true", json);
    if (a->message && (a->status >= 500 || ig_log_enabled(IG_LOG_DEBUG))) field_str(&l, "message", a->message, json);
    if (json) puts_(&l, "}");
    buf[l.n++] = '\n';
    push(buf, l.n);
}
