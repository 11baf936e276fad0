/* http — see http.h.
 *
 * Request life in libmicrohttpd: the access handler runs once when the headers are in, then once per body
 * chunk, then once more.  A request with no body (GET, HEAD, most DELETEs) is answered on the second call
 * with the request struct on the stack: nothing is allocated for it.  A request with a body gets a buffer,
 * capped by max_body_bytes (413 as soon as Content-Length or the data exceed it).
 *
 * The listening socket is made here, not by libmicrohttpd, so that a busy port is refused with the kernel's
 * own reason (EADDRINUSE) unless the operator asked to share it (reuse_port).
 *
 * Counters are per thread (a connection stays on one worker thread), so the request path never writes a
 * cache line another core writes. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/conns.h"
#include "http/hold.h"
#include "http/offload.h"

struct ig_http_server {
    struct MHD_Daemon *daemon;
    ig_http_handler_t handler;
    void *ctx;
    int64_t max_body_bytes;
    int port;
    bool access_log;
    int64_t slow_ns;
    ig_holds_t *holds; /* requests held to their rate-limit slot; NULL when holding is off */
    ig_offload_t *offload; /* ig_http_defer's threads; NULL when there are none */
    ig_http_handler_t before_body;
    int64_t request_ns; /* server.request_timeout */
    ig_conns_t *conns;  /* every connection's deadline over its request (conns.h) */
    /* The mutation gate (ig_http_gate): slots in use, and the parked requests in arrival order (a ring with
     * room for every connection). */
    struct {
        pthread_mutex_t mu;
        int slots, in_use;
        void **ring; /* body_ctx_t * */
        size_t cap, head, n;
        bool stopping;
    } gate;
};

/* A request's state between calls: its body, and while it is held, what its response already carries. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool too_big, has_body;
    int64_t start_ns;
    bool held;
    bool parked, gate_slot; /* waiting for the mutation gate; handed a slot as it was woken */
    struct MHD_Connection *conn;
    int64_t held_since_ns;
    void (*release)(void *arg); /* ig_http_hold's, called once when the hold ends */
    void *release_arg;
    bool deferred, defer_ran; /* suspended for ig_http_defer's work; set (by the offload thread) before the resume */
    void *defer_arg;
    void (*defer_release)(void *arg);
    int nhdr;
    ig_http_hdr_t hdr[IG_MAX_EXTRA_HEADERS];
    char request_id[IG_REQUEST_ID_MAX + 1];
    ig_http_on_304_t on_304;
} body_ctx_t;

/* Markers stored in *con_cls: a request without a body, before and after it was answered. */
static char no_body_marker, answered_marker;

static ig_method_t method_of(const char *m)
{
    switch (m[0]) {
    case 'G': return strcmp(m, "GET") == 0 ? IG_GET : IG_OTHER;
    case 'H': return strcmp(m, "HEAD") == 0 ? IG_HEAD : IG_OTHER;
    case 'P':
        if (strcmp(m, "POST") == 0) return IG_POST;
        if (strcmp(m, "PUT") == 0) return IG_PUT;
        if (strcmp(m, "PATCH") == 0) return IG_PATCH;
        return IG_OTHER;
    case 'D': return strcmp(m, "DELETE") == 0 ? IG_DELETE : IG_OTHER;
    case 'O': return strcmp(m, "OPTIONS") == 0 ? IG_OPTIONS : IG_OTHER;
    }
    return IG_OTHER;
}

/* xorshift64*: request ids need to be unique, not secret; no syscall per request.  Seeded per thread. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;
    while (x == 0) ig_random_bytes(&x, sizeof x);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* The client's X-Request-Id when it is 1..128 of [A-Za-z0-9._-], else a new 16-hex-digit id. */
static void request_id(struct MHD_Connection *c, char out[IG_REQUEST_ID_MAX + 1])
{
    const char *in = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = 0;
    if (in)
        for (; n <= IG_REQUEST_ID_MAX && in[n]; n++) {
            char ch = in[n];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-'))
                break;
        }
    if (in && n > 0 && n <= IG_REQUEST_ID_MAX && in[n] == '\0') {
        memcpy(out, in, n + 1);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t v = next_random();
    for (int i = 0; i < 16; i++) out[i] = hex[(v >> (i * 4)) & 15];
    out[16] = '\0';
}

static void init_req(ig_req_t *r, struct MHD_Connection *c, const char *url, const char *method)
{
    r->conn = c;
    r->method_str = method;
    r->method = method_of(method);
    /* A client URI with a trailing slash ("http://host/") makes iceberg-rust send "//v1/config": the leading
     * slashes are one. */
    while (url[0] == '/' && url[1] == '/') url++;
    r->path = url;
    r->path_len = strlen(url);
    r->route = "unmatched";
    r->body = NULL;
    r->body_len = 0;
    r->who.ok = false;
    r->who.token_id[0] = '\0';
    r->who.ns_allow[0] = '\0';
    r->nhdr = 0;
    r->status = 0;
    r->bytes_out = 0;
    r->cost_class = 0;
    r->on_304.fn = NULL;
    r->err_type = NULL;
    request_id(c, r->request_id);
    r->capture.on = false;
    r->capture.body = NULL;
    r->capture.len = 0;
    r->hold_ns = 0;
    r->hold_release = NULL;
    r->hold_arg = NULL;
    r->resumed = false;
    r->counted = false;
    r->gate_slot = false;
    r->parked = false;
    r->deferred = NULL;
    r->deferred_ran = false;
    r->defer_work = NULL;
    r->defer_submit = NULL;
    r->defer_release = NULL;
    r->defer_arg = NULL;
    r->deferred_release = NULL;
    r->con_cls = NULL;
    r->start_ns = 0;
    r->held_ns = 0;
    r->srv = NULL;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strcmp(cl, "0") != 0) return true;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static ig_res_t too_big(ig_http_server_t *s, ig_req_t *r)
{
    return ig_http_error(r, IG_E_TOO_LARGE, "request body larger than %lld bytes", (long long)s->max_body_bytes);
}

/* The peer address as text ("127.0.0.1", "::1"). */
static void client_text(ig_req_t *r, char *out, size_t cap)
{
    unsigned char a[16];
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ig_http_client_addr(r, a) != 0) {
        snprintf(out, cap, "-");
    } else if (memcmp(a, v4mapped, 12) == 0) { /* dotted quad by hand: inet_ntop is slow for the hot path */
        size_t n = 0;
        for (int i = 12; i < 16; i++) {
            unsigned v = a[i];
            if (v >= 100) out[n++] = (char)('0' + v / 100);
            if (v >= 10) out[n++] = (char)('0' + v / 10 % 10);
            out[n++] = (char)('0' + v % 10);
            out[n++] = i < 15 ? '.' : '\0';
        }
    } else {
        inet_ntop(AF_INET6, a, out, (socklen_t)cap);
    }
}

void ig_http_client_text(ig_req_t *r, char *out, size_t cap)
{
    client_text(r, out, cap);
}

/* A request is done: count it, and log its access line (always for a slow one or a 5xx). */
static void finish(ig_http_server_t *s, ig_req_t *r, int64_t start_ns)
{
    int64_t elapsed = ig_clock_mono_ns() - start_ns;
    ig_metrics_request_done(r->route, ig_http_method_name(r->method), r->status, elapsed);
    bool slow = elapsed - r->held_ns > s->slow_ns; /* a throttled client's wait is not the server's slowness */
    if (!s->access_log && !slow && r->status < 500) return;
    char client[INET6_ADDRSTRLEN];
    client_text(r, client, sizeof client);
    ig_access_t a = {
        .method = ig_http_method_name(r->method),
        .route = r->route,
        .status = r->status,
        .elapsed_ns = elapsed,
        .held_ns = r->held_ns,
        .bytes_in = r->body_len,
        .bytes_out = r->bytes_out,
        .token_id = r->who.token_id,
        .client = client,
        .request_id = r->request_id,
        .type = r->err_type,
        .message = r->err_type ? r->err_msg : NULL,
        .slow = slow,
    };
    ig_log_access(&a);
}

/* What r must keep while its connection is suspended (held or parked): its body context (made for a request
 * without a body) with the headers its response carries so far and its id.  NULL when out of memory. */
static body_ctx_t *keep_for_resume(ig_req_t *r)
{
    body_ctx_t *b = *r->con_cls;
    if (b == (void *)&answered_marker || b == (void *)&no_body_marker) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        b->start_ns = r->start_ns;
        *r->con_cls = b;
    }
    b->conn = r->conn;
    b->nhdr = r->nhdr;
    memcpy(b->hdr, r->hdr, sizeof b->hdr);
    memcpy(b->request_id, r->request_id, sizeof b->request_id);
    b->on_304 = r->on_304; /* a held read booked its cost before the hold */
    return b;
}

/* The handler asked to hold r (ig_http_hold): keep what the response carries so far, suspend the connection
 * (no worker thread waits on it) and have the timer resume it when its slot is due. */
static enum MHD_Result suspend(ig_http_server_t *s, ig_req_t *r)
{
    body_ctx_t *b = keep_for_resume(r);
    if (!b) {
        ig_holds_unreserve(s->holds);
        return MHD_NO;
    }
    b->held = true;
    b->held_since_ns = ig_clock_mono_ns();
    b->release = r->hold_release;
    b->release_arg = r->hold_arg;
    MHD_suspend_connection(r->conn);
    ig_holds_add(s->holds, ig_clock_mono_ns() + r->hold_ns, r->conn); /* room reserved by ig_http_hold */
    return MHD_YES;
}

static void wake(void *conn)
{
    MHD_resume_connection(conn);
}

/* ---- work deferred to the offload threads (ig_http_defer) ---- */

bool ig_http_defer(ig_req_t *r, ig_res_t *res, void (*work)(void *arg), void *arg, void (*release)(void *arg))
{
    ig_http_server_t *s = r->srv;
    if (!s || !s->offload || r->defer_work || r->defer_submit || !ig_offload_reserve(s->offload)) return false;
    r->defer_work = work;
    r->defer_arg = arg;
    r->defer_release = release;
    *res = MHD_YES;
    return true;
}

bool ig_http_defer_to(ig_req_t *r, ig_res_t *res, void (*submit)(void *arg, void *ticket), void *arg,
                      void (*release)(void *arg))
{
    if (!r->srv || r->defer_work || r->defer_submit || r->status != 0) return false;
    r->defer_submit = submit;
    r->defer_arg = arg;
    r->defer_release = release;
    *res = MHD_YES;
    return true;
}

/* Called by an offload thread when r's work is done (or, at stop, never ran): the handler runs again. */
static void defer_done(void *item, bool ran)
{
    body_ctx_t *b = item;
    b->defer_ran = ran; /* read after the resume, which takes libmicrohttpd's lock */
    MHD_resume_connection(b->conn);
}

/* The handler deferred work (ig_http_defer): suspend the connection, then queue the work in the room reserved. */
static enum MHD_Result defer_suspend(ig_http_server_t *s, ig_req_t *r)
{
    body_ctx_t *b = keep_for_resume(r);
    if (!b) {
        if (r->defer_work) ig_offload_unreserve(s->offload);
        if (r->defer_release) r->defer_release(r->defer_arg);
        return MHD_NO;
    }
    b->deferred = true;
    b->defer_arg = r->defer_arg;
    b->defer_release = r->defer_release;
    MHD_suspend_connection(r->conn);
    if (r->defer_submit)
        r->defer_submit(r->defer_arg, b);
    else
        ig_offload_add(s->offload, r->defer_work, r->defer_arg, b);
    return MHD_YES;
}

void ig_http_defer_done(void *ticket, bool ran)
{
    defer_done(ticket, ran);
}

/* ---- the mutation gate ---- */

/* A slot goes back: to the first parked request (woken with it), else to the pool. */
static void gate_leave(ig_http_server_t *s)
{
    body_ctx_t *next = NULL;
    pthread_mutex_lock(&s->gate.mu);
    if (s->gate.n) {
        next = s->gate.ring[s->gate.head];
        s->gate.head = (s->gate.head + 1) % s->gate.cap;
        s->gate.n--;
        next->gate_slot = true;
    } else {
        s->gate.in_use--;
    }
    pthread_mutex_unlock(&s->gate.mu);
    if (next) MHD_resume_connection(next->conn);
}

bool ig_http_gate(ig_req_t *r, ig_res_t *res)
{
    ig_http_server_t *s = r->srv;
    if (!s || !s->gate.slots || r->gate_slot) return true;
    pthread_mutex_lock(&s->gate.mu);
    bool go = s->gate.stopping || s->gate.in_use < s->gate.slots || s->gate.n == s->gate.cap;
    body_ctx_t *b = go ? NULL : keep_for_resume(r);
    if (go || !b) {
        s->gate.in_use++;
        r->gate_slot = true;
    } else { /* parked under the lock, so a slot given back now finds it */
        b->parked = true;
        MHD_suspend_connection(r->conn);
        s->gate.ring[(s->gate.head + s->gate.n) % s->gate.cap] = b;
        s->gate.n++;
        r->parked = true;
        *res = MHD_YES;
    }
    pthread_mutex_unlock(&s->gate.mu);
    return !r->parked;
}

/* Wakes every parked request (they run without a slot from then on): the server is stopping. */
static void gate_stop(ig_http_server_t *s)
{
    if (!s->gate.slots) return;
    pthread_mutex_lock(&s->gate.mu);
    s->gate.stopping = true;
    while (s->gate.n) {
        body_ctx_t *b = s->gate.ring[s->gate.head];
        s->gate.head = (s->gate.head + 1) % s->gate.cap;
        s->gate.n--;
        MHD_resume_connection(b->conn);
    }
    pthread_mutex_unlock(&s->gate.mu);
}

/* Runs the handler on a complete request; every line it logs names the request. */
static enum MHD_Result serve(ig_http_server_t *s, ig_req_t *r, int64_t start_ns, void **con_cls)
{
    r->srv = s;
    r->con_cls = con_cls;
    r->start_ns = start_ns;
    ig_log_set_request(r->request_id);
    ig_res_t res = s->handler(s->ctx, r);
    enum MHD_Result out = (enum MHD_Result)res;
    if (r->gate_slot) gate_leave(s);
    if (r->deferred && r->deferred_release) r->deferred_release(r->deferred); /* the handler has read it */
    bool deferring = r->defer_work || r->defer_submit;
    if (deferring && (r->parked || r->hold_ns > 0 || r->status != 0)) { /* answered (or parked) after all */
        if (r->defer_work) ig_offload_unreserve(s->offload);
        if (r->defer_release) r->defer_release(r->defer_arg);
        r->defer_work = NULL;
        r->defer_submit = NULL;
        deferring = false;
    }
    if (r->parked) {
        out = MHD_YES; /* comes back when the gate has a slot for it */
    } else if (deferring) {
        out = defer_suspend(s, r);
    } else if (r->hold_ns > 0 && r->status == 0) {
        out = suspend(s, r);
    } else {
        if (r->hold_ns > 0) ig_holds_unreserve(s->holds); /* answered after all: the room goes back */
        finish(s, r, start_ns);
    }
    ig_log_set_request(NULL);
    return out;
}

bool ig_http_may_hold(const ig_req_t *r)
{
    return r->srv && r->srv->holds && !r->resumed;
}

bool ig_http_hold(ig_req_t *r, int64_t delay_ns, ig_res_t *res, void (*release)(void *arg), void *arg)
{
    if (!ig_http_may_hold(r) || !ig_holds_reserve(r->srv->holds)) return false;
    r->hold_ns = delay_ns > 0 ? delay_ns : 1;
    r->hold_release = release;
    r->hold_arg = arg;
    *res = MHD_YES;
    return true;
}

typedef struct {
    int content_lengths;
    bool lengths_differ, transfer_encoding, chunked;
    const char *first_length;
} framing_t;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    framing_t *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->content_lengths++ && strcmp(f->first_length, value ? value : "") != 0) f->lengths_differ = true;
        if (f->content_lengths == 1) f->first_length = value ? value : "";
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding = true;
        f->chunked = value && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* Why the request's framing is refused (request smuggling behind a proxy that reads it another way; a
 * transfer coding libmicrohttpd would wait on forever), or NULL. */
static const char *framing_error(struct MHD_Connection *c, const char *version)
{
    framing_t f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_header, &f);
    if (f.lengths_differ) return "conflicting Content-Length headers";
    if (f.transfer_encoding && f.content_lengths) return "both Transfer-Encoding and Content-Length";
    if (f.transfer_encoding && !f.chunked) return "unsupported Transfer-Encoding (only chunked is accepted)";
    if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
        !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
        return "an HTTP/1.1 request needs a Host header";
    return NULL;
}

/* ---- deadlines (conns.h): server.request_timeout over the request line, the headers and the body ---- */

/* The connection's slot in the deadline table (NULL when it has none). */
static ig_conn_t *conn_slot(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd calls this with STARTED as a connection is accepted and with CLOSED before it closes the fd
 * (MHD_cleanup_connections, daemon.c), which is what lets the sweeper shut the fd down safely. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    ig_http_server_t *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        ig_conns_close(s->conns, *socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *addr = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    *socket_context = fd ? ig_conns_open(s->conns, fd->connect_fd, addr ? addr->client_addr : NULL,
                                         ig_clock_mono_ns())
                         : NULL;
}

/* The request line is in (libmicrohttpd's URI log callback): the headers are due within
 * server.request_timeout.  What it returns becomes the request's *con_cls, which must start NULL. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)uri;
    ig_http_server_t *s = cls;
    ig_conns_set(s->conns, conn_slot(c), IG_CONN_HEADERS, ig_clock_mono_ns());
    return NULL;
}

/* First call, headers only.  Answering now would count as an "early response" and libmicrohttpd would close
 * the connection; so note the request and answer on the next call, except for a body announced too big. */
static enum MHD_Result on_headers(ig_http_server_t *s, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, void **con_cls)
{
    ig_metrics_request_start();
    /* The headers are in: what follows is the server's time (answering now, or running the handler next),
     * except for a body, which gets its own deadline below. */
    ig_conns_set(s->conns, conn_slot(c), IG_CONN_BUSY, 0);
    const char *bad = framing_error(c, version);
    if (bad) { /* answered at once: libmicrohttpd closes the connection after it, as it should here */
        ig_req_t r;
        int64_t start = ig_clock_mono_ns();
        *con_cls = &answered_marker;
        init_req(&r, c, url, method);
        ig_res_t res = ig_http_error(&r, IG_E_BAD_REQUEST, "%s", bad);
        finish(s, &r, start);
        return (enum MHD_Result)res;
    }
    if (!has_body(c)) {
        *con_cls = &no_body_marker;
        return MHD_YES;
    }
    int64_t start = ig_clock_mono_ns();
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > s->max_body_bytes) {
        /* Refuse before the body is sent: no "100 Continue" for a body we would throw away, and no reading of
         * it (libmicrohttpd closes the connection after this response). */
        ig_req_t r;
        *con_cls = &answered_marker;
        init_req(&r, c, url, method);
        ig_res_t res = too_big(s, &r);
        finish(s, &r, start);
        return (enum MHD_Result)res;
    }
    if (s->before_body) {
        ig_req_t r;
        init_req(&r, c, url, method);
        r.srv = s;
        ig_res_t res = s->before_body(s->ctx, &r);
        if (r.status != 0) { /* refused before the body: libmicrohttpd closes the connection after it */
            *con_cls = &answered_marker;
            finish(s, &r, start);
            return (enum MHD_Result)res;
        }
    }
    body_ctx_t *b = calloc(1, sizeof *b);
    if (!b) return MHD_NO;
    b->has_body = true;
    b->start_ns = start;
    *con_cls = b;
    ig_conns_set(s->conns, conn_slot(c), IG_CONN_BODY, start);
    return MHD_YES;
}

/* A chunk of the body.  A chunked body (no Content-Length) that crosses the cap: libmicrohttpd 0.9.75 cannot
 * queue a response in the middle of an upload, so the rest is read and dropped (no memory held, bounded by
 * server.connection_timeout) and the 413 goes out at the end. */
static enum MHD_Result on_body_chunk(ig_http_server_t *s, body_ctx_t *b, const char *data, size_t n)
{
    /* server.request_timeout: a body trickled in a byte at a time would keep the connection for ever (the
     * connection timeout only counts idle time).  No response can be queued mid-upload: close it.  A body that
     * stops arriving is cut by the sweeper (conns.c) instead; this catches a late byte at once. */
    if (ig_clock_mono_ns() - b->start_ns > s->request_ns) {
        ig_warn("http: a request body took longer than server.request_timeout (%lld s): connection closed",
                (long long)(s->request_ns / 1000000000));
        return MHD_NO;
    }
    if (!b->too_big && b->len + n > (size_t)s->max_body_bytes) {
        b->too_big = true;
        free(b->buf);
        b->buf = NULL;
        b->len = b->cap = 0;
    }
    if (b->too_big) return MHD_YES;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1) ncap *= 2;
        char *nb = realloc(b->buf, ncap);
        if (!nb) return MHD_NO;
        b->buf = nb;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    ig_http_server_t *s = cls;
    ig_req_t r;
    if (*con_cls == NULL) return on_headers(s, c, url, method, version, con_cls);
    if (*con_cls == &no_body_marker) {
        int64_t start = ig_clock_mono_ns();
        *con_cls = &answered_marker;
        init_req(&r, c, url, method);
        return serve(s, &r, start, con_cls);
    }
    if (*con_cls == &answered_marker) {
        *upload_size = 0;
        return MHD_YES;
    }
    body_ctx_t *b = *con_cls;
    if (*upload_size) {
        enum MHD_Result ok = on_body_chunk(s, b, upload, *upload_size);
        *upload_size = 0;
        return ok;
    }
    ig_conns_set(s->conns, conn_slot(c), IG_CONN_BUSY, 0); /* the body is in */
    init_req(&r, c, url, method);
    if (b->held || b->parked || b->deferred) { /* its slot is due (the timer), a gate slot is its (gate_leave), or
                                                 * its deferred work is done (defer_done) */
        r.resumed = true;
        r.counted = b->parked || b->deferred; /* authenticated and counted before it was parked or deferred */
        if (b->deferred) {
            r.deferred = b->defer_arg;
            r.deferred_ran = b->defer_ran;
            r.deferred_release = b->defer_release;
            b->deferred = false;
            b->defer_release = NULL;
        }
        if (b->held) {
            if (b->release) b->release(b->release_arg);
            b->release = NULL;
            r.held_ns = ig_clock_mono_ns() - b->held_since_ns;
        }
        r.gate_slot = b->gate_slot;
        b->held = b->parked = b->gate_slot = false;
        r.nhdr = b->nhdr;
        memcpy(r.hdr, b->hdr, sizeof r.hdr);
        memcpy(r.request_id, b->request_id, sizeof r.request_id);
        r.on_304 = b->on_304;
    }
    if (b->too_big) {
        ig_res_t res = too_big(s, &r);
        finish(s, &r, b->start_ns);
        return (enum MHD_Result)res;
    }
    if (b->has_body) {
        if (b->buf) b->buf[b->len] = '\0';
        r.body = b->buf ? b->buf : "";
        r.body_len = b->len;
    }
    return serve(s, &r, b->start_ns, con_cls);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc)
{
    (void)tc;
    ig_http_server_t *s = cls;
    ig_conns_set(s->conns, conn_slot(c), IG_CONN_WAITING, ig_clock_mono_ns()); /* until the next request line */
    if (*con_cls == NULL) return; /* the request line came (on_request_line), the headers never did */
    if (*con_cls != &answered_marker && *con_cls != &no_body_marker) {
        body_ctx_t *b = *con_cls;
        if (b->held && b->release) b->release(b->release_arg); /* its client left while it was held */
        if (b->deferred && b->defer_release) b->defer_release(b->defer_arg); /* ... or before its work came back */
        if (b->gate_slot) gate_leave(cls);                       /* ... or as the gate woke it */
        free(b->buf);
        free(b);
    }
    *con_cls = NULL;
    ig_metrics_request_end();
}

/* Keep paths raw: decoding happens per segment in the handlers.  Query values are decoded by ig_http_query. */
static size_t keep_raw(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* libmicrohttpd's own messages ("Connection was closed by remote side...") go through the logger at warn,
 * at most 10 a second: a client that keeps resetting connections must not flood the log.  What was left out
 * is counted in the next line that gets through. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static _Atomic int64_t window_s;
    static _Atomic int in_window, suppressed;
    int64_t now_s = ig_clock_mono_ns() / 1000000000;
    int64_t w = atomic_load(&window_s);
    if (w != now_s && atomic_compare_exchange_strong(&window_s, &w, now_s)) atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) >= 10) {
        atomic_fetch_add(&suppressed, 1);
        return;
    }
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    int skipped = atomic_exchange(&suppressed, 0);
    if (skipped) ig_warn("http: %s (and %d more libmicrohttpd messages in the last seconds)", msg, skipped);
    else ig_warn("http: %s", msg);
}

static void on_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    ig_error("libmicrohttpd panic at %s:%u: %s", file, line, reason ? reason : "");
    abort();
}

/* Fills ss from host:port; the address length, or 0 when host is not an IP address. */
static socklen_t sockaddr_of(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? sizeof *a6 : 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    return inet_pton(AF_INET, h, &a4->sin_addr) == 1 ? sizeof *a4 : 0;
}

/* Makes the listening socket: SO_REUSEADDR always (a restart must not wait out TIME_WAIT; it does not let two
 * listeners share a port on Linux), SO_REUSEPORT only when asked.  The fd, or -1 with err filled. */
static int listen_socket(const ig_http_opts_t *o, int *port, ig_error_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(o->host, o->port, &ss);
    if (!len) {
        ig_error_set(err, IG_E_INTERNAL, "config key server.listen: \"%s\" is not an IP address", o->host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)))
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024)) goto fail;
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(fd, (struct sockaddr *)&got, &gl)) goto fail;
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                            : ((struct sockaddr_in *)&got)->sin_port);
    return fd;
fail:;
    int en = errno;
    if (fd >= 0) close(fd);
    ig_error_set(err, IG_E_INTERNAL, "cannot listen on %s:%d: %s%s", o->host, o->port, strerror(en),
                 en == EADDRINUSE ? " (another process listens there; set server.reuse_port: true to share it)"
                                  : "");
    return -1;
}

/* server.max_connections connections need as many descriptors, and the default soft RLIMIT_NOFILE is often
 * 1024: the limit is raised to fit, or the connections are capped below it with a warning (past it accept()
 * fails with EMFILE, and so would every file, database or socket the server opens).  The reserve is for those:
 * the listening socket, each worker's epoll and wake-up descriptors, the store, the warehouse, logs. */
static int fit_fd_limit(const ig_http_opts_t *o)
{
    int reserve = 64 + 4 * (o->threads + 1);
    long limit;
    int fit = ig_conns_fit_fd_limit(o->max_connections, reserve, &limit);
    if (fit < o->max_connections)
        ig_warn("http: server.max_connections is %d but the open-file limit (RLIMIT_NOFILE) is %ld and cannot be "
                "raised: serving at most %d connections (%d descriptors kept for files and sockets); raise the "
                "limit (ulimit -n, systemd LimitNOFILE=) or lower server.max_connections",
                o->max_connections, limit, fit, reserve);
    return fit;
}

/* Undoes a start that failed part way (what was not made yet is NULL or -1) and says why. */
static ig_http_server_t *start_failed(ig_http_server_t *s, int fd, ig_error_t *err, const char *why)
{
    if (fd >= 0) close(fd);
    ig_holds_free(s->holds);
    ig_conns_free(s->conns);
    ig_offload_free(s->offload);
    free(s->gate.ring);
    pthread_mutex_destroy(&s->gate.mu);
    free(s);
    if (why) ig_error_set(err, IG_E_INTERNAL, "%s", why);
    return NULL;
}

ig_http_server_t *ig_http_start(const ig_http_opts_t *o, ig_http_handler_t handler, void *ctx, ig_error_t *err)
{
    ig_http_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    s->handler = handler;
    s->ctx = ctx;
    s->max_body_bytes = o->max_body_bytes;
    s->access_log = o->access_log;
    s->slow_ns = (int64_t)o->slow_request_ms * IG_NS_PER_MS;
    s->before_body = o->before_body;
    pthread_mutex_init(&s->gate.mu, NULL);
    s->gate.slots = o->gate_slots;
    s->gate.cap = (size_t)o->max_connections;
    if (s->gate.slots && !(s->gate.ring = calloc(s->gate.cap, sizeof *s->gate.ring)))
        return start_failed(s, -1, err, "out of memory");
    s->request_ns = (int64_t)o->request_timeout_s * 1000000000;
    int max_conns = fit_fd_limit(o);
    s->conns = ig_conns_new((size_t)max_conns, (int64_t)o->connection_timeout_s * 1000000000, s->request_ns, true);
    if (!s->conns) return start_failed(s, -1, err, "cannot start the request deadline sweeper");
    int fd = listen_socket(o, &s->port, err);
    if (fd < 0) return start_failed(s, -1, err, NULL);
    /* MHD_USE_ITC: MHD_quiesce_daemon() refuses to work in thread-pool mode without it (it logs "requires
     * MHD_USE_ITC" and keeps accepting), and SIGTERM must stop new connections while requests finish. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (o->hold || o->gate_slots || o->offload_threads) flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (o->offload_threads && !(s->offload = ig_offload_new(o->offload_threads, (size_t)o->offload_queue,
                                                              o->offload_nice, defer_done)))
        return start_failed(s, fd, err, "cannot start the password hashing threads");
    /* A held request pins its connection, so there are never more than max_connections of them. */
    if (o->hold && !(s->holds = ig_holds_new((size_t)o->max_connections, wake)))
        return start_failed(s, fd, err, "cannot start the rate-limit hold timer");
    if (strchr(o->host, ':')) flags |= MHD_USE_IPv6;
    MHD_set_panic_func(on_panic, NULL);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(o->threads + (o->gate_slots ? 1 : 0)), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_header_bytes + 4096, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->max_connections_per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s, MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
        MHD_OPTION_END);
    if (!s->daemon) {
        char why[160];
        snprintf(why, sizeof why, "cannot start the HTTP server on %s:%d", o->host, o->port);
        return start_failed(s, fd, err, why);
    }
    return s;
}

int ig_http_port(const ig_http_server_t *s)
{
    return s->port;
}

void ig_http_quiesce(ig_http_server_t *s)
{
    if (!s || !s->daemon) return;
    /* The listening socket is handed back to us: until it is closed the kernel keeps completing handshakes
     * into its backlog, and those clients hang until exit instead of being refused. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void ig_http_stop(ig_http_server_t *s)
{
    if (!s) return;
    /* Held requests are resumed at their slots first (at most max_delay_ms): libmicrohttpd must not be
     * stopped with suspended connections, and each of them is served as it would have been. */
    gate_stop(s);
    ig_holds_stop(s->holds);
    ig_offload_stop(s->offload); /* deferred requests still queued come back refused; none stays suspended */
    if (s->daemon) MHD_stop_daemon(s->daemon);
    ig_conns_free(s->conns); /* after the daemon: closing its connections tells the table */
    ig_holds_free(s->holds);
    ig_offload_free(s->offload);
    free(s->gate.ring);
    pthread_mutex_destroy(&s->gate.mu);
    free(s);
}

int64_t ig_http_inflight(void)
{
    return ig_metrics_inflight();
}

/* ------------------------------------------------------------------ responses */

/* Adds the headers every response carries and queues resp (destroyed here). */
static ig_res_t queue(ig_req_t *r, int status, const char *ctype, struct MHD_Response *resp, const void *body,
                      size_t len)
{
    if (ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (int i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hdr[i].name, r->hdr[i].value);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    r->status = status;
    r->bytes_out = len;
    if (status == 304 && r->on_304.fn) {
        void (*fn)(ig_req_t *) = r->on_304.fn;
        r->on_304.fn = NULL; /* once, whatever happens next */
        fn(r);
    }
    if (r->capture.on && !r->capture.body && (r->capture.body = malloc(len + 1)) != NULL) {
        memcpy(r->capture.body, body, len);
        r->capture.body[len] = '\0';
        r->capture.len = len;
    }
    ig_res_t res = (ig_res_t)MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return res;
}

ig_res_t ig_http_send(ig_req_t *r, int status, const char *ctype, const void *body, size_t len, bool persistent)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)body, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    return queue(r, status, ctype, resp, body, len);
}

ig_res_t ig_http_send_shared(ig_req_t *r, int status, const char *ctype, const void *body, size_t len,
                             void (*release)(void *arg), void *arg)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)(uintptr_t)body, release, arg);
    if (!resp) {
        release(arg);
        return MHD_NO;
    }
    return queue(r, status, ctype, resp, body, len);
}

ig_res_t ig_http_no_content(ig_req_t *r)
{
    return ig_http_send(r, 204, NULL, "", 0, true);
}

ig_res_t ig_http_json(ig_req_t *r, int status, json_object *o)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    ig_res_t res = ig_http_send(r, status, "application/json", s, len, false);
    json_object_put(o);
    return res;
}

/* The Iceberg error body for kind with message msg. */
static ig_res_t send_error(ig_req_t *r, ig_errkind_t kind, const char *msg)
{
    char quoted[1400], body[1600];
    int status = ig_error_kind_status(kind);
    r->err_type = ig_error_kind_type(kind);
    snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
    size_t q = ig_json_quote(msg, strlen(msg), quoted, sizeof quoted);
    int n = snprintf(body, sizeof body, "{\"error\":{\"message\":%.*s,\"type\":\"%s\",\"code\":%d}}", (int)q, quoted,
                     ig_error_kind_type(kind), status);
    if (n < 0 || (size_t)n >= sizeof body) n = (int)strlen(body);
    return ig_http_send(r, status, "application/json", body, (size_t)n, false);
}

ig_res_t ig_http_error(ig_req_t *r, ig_errkind_t kind, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_error(r, kind, msg);
}

ig_res_t ig_http_error_from(ig_req_t *r, const ig_error_t *e)
{
    return send_error(r, e->kind, e->message);
}

/* The path as shown in messages: at most 200 bytes of it. */
#define SHOWN_PATH(r) (int)((r)->path_len > 200 ? 200 : (r)->path_len), (r)->path

ig_res_t ig_http_unauthorized(ig_req_t *r, const char *msg)
{
    ig_http_add_header(r, "WWW-Authenticate", "Bearer realm=\"icegate\"");
    return ig_http_error(r, IG_E_NOT_AUTHORIZED, "%s", msg);
}

ig_res_t ig_http_not_allowed(ig_req_t *r, const char *allow)
{
    ig_http_add_header(r, "Allow", allow);
    return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "method %s not allowed on %.*s (allowed: %s)", r->method_str,
                         SHOWN_PATH(r), allow);
}

ig_res_t ig_http_no_route(ig_req_t *r)
{
    return ig_http_error(r, IG_E_NOT_FOUND, "no such route: %.*s", SHOWN_PATH(r));
}

void ig_http_add_header(ig_req_t *r, const char *name, const char *value)
{
    if (r->nhdr >= IG_MAX_EXTRA_HEADERS) return;
    r->hdr[r->nhdr].name = name;
    size_t n = strlen(value), cap = sizeof r->hdr[r->nhdr].value;
    if (n >= cap) n = cap - 1;
    memcpy(r->hdr[r->nhdr].value, value, n);
    r->hdr[r->nhdr].value[n] = '\0';
    r->nhdr++;
}

/* ------------------------------------------------------------------ request */

const char *ig_http_header(ig_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *ig_http_cookie(ig_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *ig_http_method_name(ig_method_t m)
{
    switch (m) {
    case IG_GET: return "GET";
    case IG_HEAD: return "HEAD";
    case IG_POST: return "POST";
    case IG_PUT: return "PUT";
    case IG_DELETE: return "DELETE";
    case IG_PATCH: return "PATCH";
    case IG_OPTIONS: return "OPTIONS";
    case IG_OTHER: break;
    }
    return "OTHER";
}

bool ig_http_path_is(const ig_req_t *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}


/* Shared by path segments and query values: '+' is a space in both.  In query values that is form encoding;
 * in path segments it is what Iceberg's Java client up to 1.11 sends for a space (RESTUtil.encodeString uses
 * URLEncoder), and a literal '+' arrives as %2B from every client (Java, PyIceberg, iceberg-js), so reading
 * '+' as a space never changes a name a client meant. */
static int decode(const char *src, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '%') {
            if (i + 2 >= len) return -1;
            int h = ig_hex_digit(src[i + 1]), l = ig_hex_digit(src[i + 2]);
            if (h < 0 || l < 0) return -1;
            ch = (char)(h << 4 | l);
            if (ch == '\0') return -1;
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (n + 1 >= cap) return -1;
        buf[n++] = ch;
    }
    buf[n] = '\0';
    return 0;
}

int ig_http_decode(const char *src, size_t len, char *buf, size_t cap)
{
    return decode(src, len, buf, cap);
}

int ig_http_query(ig_req_t *r, const char *name, char *buf, size_t cap)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) return 0;
    return decode(v, strlen(v), buf, cap) ? -1 : 1;
}

int ig_http_client_addr(ig_req_t *r, unsigned char out[16])
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return -1;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out, &a6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

/* True if the JSON text has a \u0000 escape.  It decodes to a NUL inside a string, and C code then sees only
 * what comes before it: {"name": "a\u0000b"} was stored as "a", a key "name\u0000x" acted as "name", and a
 * password was silently cut short.  Valid JSON has backslashes only inside strings, so a scan of the raw
 * text that skips each escaped character ("\\u0000" is text) finds every such escape. */
static bool has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0) return true;
        i++;
    }
    return false;
}

json_object *ig_http_body_json(ig_req_t *r, ig_error_t *err)
{
    if (!r->body || r->body_len == 0) {
        ig_error_set(err, IG_E_BAD_REQUEST, "request body is required (JSON)");
        return NULL;
    }
    if (has_nul_escape(r->body, r->body_len)) {
        ig_error_set(err, IG_E_BAD_REQUEST, "request body must not contain NUL characters (\\u0000)");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (e == json_tokener_continue) {
        /* The whole body was read and the tokener wants more: a top-level number or literal ("42", "null")
         * ends only when something follows it.  Tell it the input is over. */
        o = json_tokener_parse_ex(tok, " ", 1);
        e = json_tokener_get_error(tok);
        end = r->body_len;
    }
    if (e == json_tokener_success && !o) {
        ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object (got null)");
        json_tokener_free(tok);
        return NULL;
    }
    if (e != json_tokener_success || end != r->body_len) {
        /* trailing whitespace is fine */
        bool only_ws = e == json_tokener_success;
        for (size_t i = end; only_ws && i < r->body_len; i++)
            if (r->body[i] != ' ' && r->body[i] != '\n' && r->body[i] != '\r' && r->body[i] != '\t') only_ws = false;
        if (!only_ws) {
            ig_error_set(err, IG_E_BAD_REQUEST, "malformed JSON body: %s at offset %zu",
                         e == json_tokener_success    ? "trailing data"
                         : e == json_tokener_continue ? "unexpected end of input"
                                                      : json_tokener_error_desc(e),
                         end);
            json_object_put(o);
            o = NULL;
        }
    }
    json_tokener_free(tok);
    return o;
}
