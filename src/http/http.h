/* http — the HTTP transport: a libmicrohttpd thread pool, caps on headers and bodies, and small helpers to read
 * a request and queue a response.  This is the only module that names libmicrohttpd.
 *
 * The server calls one handler for every complete request, with the context it was started with (h2o's
 * on_req): ig_http_start(opts, handler, ctx).  What a path means — routes, authentication, surfaces — lives
 * above this line (http/router.c and the surfaces); nothing here knows of them.
 *
 * Paths reach handlers raw (percent-encoding kept), so "%2F" inside an identifier never splits a path;
 * handlers decode each segment themselves with ig_http_decode(). */
#ifndef IG_HTTP_H
#define IG_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/principal.h"

typedef enum {
    IG_GET = 1,
    IG_HEAD = 2,
    IG_POST = 4,
    IG_PUT = 8,
    IG_DELETE = 16,
    IG_PATCH = 32,
    IG_OPTIONS = 64,
    IG_OTHER = 128,
} ig_method_t;

#define IG_MAX_EXTRA_HEADERS 6
#define IG_REQUEST_ID_MAX 128 /* an incoming X-Request-Id is kept when it is 1..128 of [A-Za-z0-9._-] */

struct MHD_Connection;
struct ig_http_server;

typedef struct {
    const char *name;
    char value[256]; /* the console CSP is ~200 bytes */
} ig_http_hdr_t;

/* A request's hook for when a 304 is queued for it (ig_req_t.on_304); kept across a hold like its headers. */
struct ig_req;
typedef struct {
    void (*fn)(struct ig_req *r);
    void *ctx, *cell;
    int64_t tat_ns, back_ns;
} ig_http_on_304_t;

typedef struct ig_req {
    struct MHD_Connection *conn; /* the transport's own; only http.c looks inside */
    ig_method_t method;
    const char *method_str;
    const char *path; /* raw, without the query string */
    size_t path_len;
    /* The route template this request matched, for logs and metrics ("/v1/{prefix}/namespaces/{namespace}");
     * a static string, never client text.  "unmatched" until a router or handler names it. */
    const char *route;
    const char *body; /* NULL when there is none; NUL-terminated */
    size_t body_len;
    ig_principal_t who; /* filled by authentication */
    unsigned need_scope; /* IG_SCOPE_* the route needs of a token (set by the router before authentication) */
    int cost_class;      /* the route's ig_cost_class_t (http/router.h), set by the router like need_scope */
    /* Called once, when a 304 is queued for this request (fn NULL: nothing to do).  Authentication sets it for
     * a read that a 304 makes cheaper (ratelimiter.costs.not_modified); the fields are the setter's. */
    ig_http_on_304_t on_304;
    int nhdr;
    ig_http_hdr_t hdr[IG_MAX_EXTRA_HEADERS];
    int status; /* status of the response queued, 0 before */
    uint64_t bytes_out;
    /* The request's id: the client's X-Request-Id when well-formed, else made here.  Sent back on every
     * response and named in every log line about the request. */
    char request_id[IG_REQUEST_ID_MAX + 1];
    const char *err_type; /* the Iceberg type of the error response queued, or NULL */
    char err_msg[256];    /* and its message, for the log */
    /* A request held to its rate-limit slot (ratelimiter.max_delay_ms): ig_http_hold sets hold_ns, and the
     * handler runs again when it is due, with resumed set and the headers it had added kept. */
    int64_t hold_ns;
    void (*hold_release)(void *arg);
    void *hold_arg;
    bool resumed;
    bool counted;   /* authenticated and counted in an earlier pass (a request back from the mutation gate) */
    bool gate_slot; /* holds one of the mutation gate's slots (ig_http_gate); given back after the handler */
    bool parked;    /* ig_http_gate parked it: the handler queued nothing and it comes back later */
    /* A request back from ig_http_defer: the arg it deferred (its work done, or not run when deferred_ran is
     * false: the server is stopping), else NULL.  The transport releases it after the handler returns. */
    void *deferred;
    bool deferred_ran;
    /* the transport's own: what ig_http_defer was given in this pass, and who releases r->deferred */
    void (*defer_work)(void *arg);
    void (*defer_submit)(void *arg, void *ticket);
    void (*defer_release)(void *arg);
    void *defer_arg;
    void (*deferred_release)(void *arg);
    void **con_cls; /* the transport's own */
    int64_t start_ns;
    int64_t held_ns; /* a resumed request: how long it was held (the access log names it apart) */
    struct ig_http_server *srv; /* the transport's own */
    /* When set, ig_http_send also keeps a copy of the response body here (malloc'd; the caller frees). */
    struct {
        bool on;
        char *body;
        size_t len;
    } capture;
} ig_req_t;

/* What a handler returns: the transport's verdict on the queued response (MHD_YES/MHD_NO underneath). */
typedef int ig_res_t;

/* Called once per complete request, on a worker thread.  Queues exactly one response and returns its result. */
typedef ig_res_t (*ig_http_handler_t)(void *ctx, ig_req_t *r);

typedef struct {
    const char *host; /* an IP address (v4 or v6) or "localhost" */
    int port;         /* 0: the kernel picks one (ig_http_port tells which) */
    int threads;
    int connection_timeout_s;
    int max_header_bytes;
    int64_t max_body_bytes; /* 413 beyond it */
    int max_connections;
    int max_connections_per_ip;
    int request_timeout_s; /* the headers within this of the request line, the body within this of the headers */
    bool reuse_port; /* SO_REUSEPORT: share the port with other processes; off: a busy port is an error */
    bool access_log; /* one line per completed request (log.access) */
    int slow_request_ms; /* a slower request is logged at warn even with the access log off */
    bool hold;           /* requests may be held (ratelimiter.max_delay_ms > 0) */
    int gate_slots;      /* ig_http_gate's slots (0: no gate); the pool then has threads + 1 workers */
    /* ig_http_defer's threads (0: none, ig_http_defer always answers false), the jobs they take at once
     * (queued or running; beyond it ig_http_defer answers false) and their niceness (http/offload.h). */
    int offload_threads;
    int offload_queue;
    int offload_nice;
    /* Called, with the handler's ctx, once the headers of a request that has a body are in and before any of
     * the body is read (NULL: none): it may queue a refusal (a 401 for a request that will never be served),
     * so a client without a valid token cannot make the server buffer a body.  Queuing nothing lets the body
     * be read and the request go to the handler as usual. */
    ig_http_handler_t before_body;
} ig_http_opts_t;

typedef struct ig_http_server ig_http_server_t;

/* Binds and starts serving; every complete request goes to handler(ctx, r).  NULL with a message in err (e.g.
 * "address already in use") when the address cannot be bound. */
ig_http_server_t *ig_http_start(const ig_http_opts_t *o, ig_http_handler_t handler, void *ctx, ig_error_t *err);
/* The port actually bound. */
int ig_http_port(const ig_http_server_t *s);
/* Stops accepting new connections (in-flight requests go on). */
void ig_http_quiesce(ig_http_server_t *s);
/* Requests in flight right now (sum over threads). */
int64_t ig_http_inflight(void);
/* Closes everything, joins the threads and frees s (NULL is fine). */
void ig_http_stop(ig_http_server_t *s);

/* Queues a response.  body is copied unless `persistent` (static or outliving the response). */
ig_res_t ig_http_send(ig_req_t *r, int status, const char *ctype, const void *body, size_t len, bool persistent);
/* Queues a response whose body is shared, not copied (a cached loadTable response, sent as it is to every
 * client): release(arg) is called exactly once when the transport is done with it — after the last byte went
 * out or the client left, or at once when it cannot be queued. */
ig_res_t ig_http_send_shared(ig_req_t *r, int status, const char *ctype, const void *body, size_t len,
                             void (*release)(void *arg), void *arg);
/* 204 No Content. */
ig_res_t ig_http_no_content(ig_req_t *r);
/* Serialises o (and releases it) as application/json. */
ig_res_t ig_http_json(ig_req_t *r, int status, json_object *o);
/* An Iceberg error body {"error":{"message","type","code"}} for an error kind of core/error.h. */
ig_res_t ig_http_error(ig_req_t *r, ig_errkind_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ig_res_t ig_http_error_from(ig_req_t *r, const ig_error_t *e);
/* 401 with the challenge every 401 carries (RFC 9110; DESIGN.md §3): WWW-Authenticate: Bearer.  Browsers show
 * no dialog for Bearer, only for Basic/Digest. */
ig_res_t ig_http_unauthorized(ig_req_t *r, const char *msg);
/* 405 with an Allow header naming the methods that are ("GET, POST"). */
ig_res_t ig_http_not_allowed(ig_req_t *r, const char *allow);
/* 404 "no such route" naming the path. */
ig_res_t ig_http_no_route(ig_req_t *r);
/* True when the transport holds requests at all (ratelimiter.max_delay_ms > 0) and r is not a resumed one;
 * no lock, for the request path. */
bool ig_http_may_hold(const ig_req_t *r);
/* Holds r for delay_ns without a worker thread (its connection is suspended), then runs the handler on it
 * again with r->resumed set and the headers added so far kept.  True with *res set (the handler returns it
 * and queues nothing now); false when there is no room or the server is stopping.  release(arg) is called
 * exactly once when the hold ends: as the request comes back, or when its client went away meanwhile. */
bool ig_http_hold(ig_req_t *r, int64_t delay_ns, ig_res_t *res, void (*release)(void *arg), void *arg);
/* The mutation gate: at most server.threads requests run a handler that calls this at once, so one worker
 * thread of the pool (which has one more) is always free for /healthz and every other request, however long
 * commits take.  True: r holds a slot until its handler returns.  False: r is parked without a worker
 * thread (*res set, queue nothing) and comes back to its handler when a slot frees, in arrival order. */
bool ig_http_gate(ig_req_t *r, ig_res_t *res);
/* Runs work(arg) on an offload thread (http/offload.h) instead of this worker thread: r's connection is
 * suspended meanwhile (no worker thread waits on it), and when work returns the handler runs on r again with
 * r->resumed set, r->deferred == arg and r->deferred_ran true, and the headers added so far kept.  When the
 * server stops first, the handler gets r->deferred with deferred_ran false (work never ran: answer 503).
 * True with *res set (the handler returns it and queues nothing now).  False when the queue is full or there
 * is no offload pool: nothing was taken; the handler answers (503 + Retry-After) and frees arg itself.
 * Once true, release(arg) (NULL: none) is called exactly once: after the handler's run on the result
 * returns, or when the request ends without it (its client went away).  work must not touch r. */
bool ig_http_defer(ig_req_t *r, ig_res_t *res, void (*work)(void *arg), void *arg, void (*release)(void *arg));
/* ig_http_defer for work the caller runs on threads of its own (the catalog's group commit): once r is
 * suspended, submit(arg, ticket) is called on this worker thread, and whoever does the work then calls
 * ig_http_defer_done(ticket, ran) exactly once, from any thread, touching neither arg nor ticket after it
 * (ran false: the work was refused, the server stopping).  The caller checks for room before: this never
 * refuses but when the handler already answered or r cannot be kept (false: nothing was taken). */
bool ig_http_defer_to(ig_req_t *r, ig_res_t *res, void (*submit)(void *arg, void *ticket), void *arg,
                      void (*release)(void *arg));
void ig_http_defer_done(void *ticket, bool ran);
/* Adds a header to the response this request will send (value copied; at most IG_MAX_EXTRA_HEADERS). */
void ig_http_add_header(ig_req_t *r, const char *name, const char *value);

/* Request header by name (case-insensitive), or NULL. */
const char *ig_http_header(ig_req_t *r, const char *name);
/* Cookie by name, or NULL. */
const char *ig_http_cookie(ig_req_t *r, const char *name);
/* Query parameter, form-decoded ('+' is a space, as Java's URLEncoder and URLSearchParams send it; %XX):
 * 1 found, 0 absent, -1 too long or badly encoded. */
int ig_http_query(ig_req_t *r, const char *name, char *buf, size_t cap);
/* Percent-decodes a path segment src[0..len) into buf ('+' is a space, see decode() in http.c); -1 if it does
 * not fit, has a bad escape, or decodes to a NUL. */
int ig_http_decode(const char *src, size_t len, char *buf, size_t cap);
/* The client's address as 16 bytes (IPv4 mapped into IPv6); 0 or -1. */
int ig_http_client_addr(ig_req_t *r, unsigned char out[16]);
/* The same as text ("127.0.0.1", "::1"; "-" when unknown), for logs and the audit log (cap >= 46). */
void ig_http_client_text(ig_req_t *r, char *out, size_t cap);
/* Parses the body as JSON (depth-limited); NULL with *err filled (400) if absent or malformed. */
json_object *ig_http_body_json(ig_req_t *r, ig_error_t *err);
/* The method as one of a fixed set of names ("GET" ... "OPTIONS", "OTHER" for anything else): safe as a
 * metrics label, whatever the client sent. */
const char *ig_http_method_name(ig_method_t m);
/* True if the request path is exactly p. */
bool ig_http_path_is(const ig_req_t *r, const char *p);

#endif
