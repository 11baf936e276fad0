/* http — the HTTP server on libmicrohttpd: a thread pool, caps on headers and bodies, and small helpers to
 * read a request and queue a response.  Routing and everything above it live in router.c.
 *
 * Paths reach handlers raw (percent-encoding kept), so "%2F" inside an identifier never splits a path;
 * handlers decode each segment themselves with ig_http_decode(). */
#ifndef IG_HTTP_H
#define IG_HTTP_H

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "store/store.h"

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

typedef struct ig_server ig_server_t;

/* Who made the request, once authenticated. */
typedef struct {
    bool ok;
    bool via_session; /* console cookie rather than an access token */
    ig_role_t role;
    char user[IG_USER_MAX + 1];
    char token_id[IG_ID_MAX];
} ig_principal_t;

#define IG_MAX_EXTRA_HEADERS 6

typedef struct ig_req {
    struct MHD_Connection *conn;
    ig_server_t *srv;
    ig_method_t method;
    const char *method_str;
    const char *path; /* raw, without the query string */
    size_t path_len;
    const char *body; /* NULL when there is none; NUL-terminated */
    size_t body_len;
    ig_principal_t who;
    int nhdr;
    struct {
        const char *name;
        char value[256]; /* the console CSP is ~200 bytes */
    } hdr[IG_MAX_EXTRA_HEADERS];
    int status; /* status of the response queued, 0 before */
    /* When set, ig_http_send also keeps a copy of the response body here (malloc'd; the caller frees). */
    struct {
        bool on;
        char *body;
        size_t len;
    } capture;
} ig_req_t;

typedef enum MHD_Result ig_res_t;

/* Starts listening per cfg; the handler for every complete request is ig_router_handle(). 0 or -1. */
int ig_http_start(ig_server_t *srv);
/* Stops accepting new connections (in-flight requests go on). */
void ig_http_quiesce(ig_server_t *srv);
/* Requests in flight right now (sum over threads). */
int64_t ig_http_inflight(void);
/* Closes everything and joins the threads. */
void ig_http_stop(ig_server_t *srv);

/* Queues a response.  body is copied unless `persistent` (static or outliving the response). */
ig_res_t ig_http_send(ig_req_t *r, int status, const char *ctype, const void *body, size_t len, bool persistent);
/* Serialises o (and releases it) as application/json. */
ig_res_t ig_http_json(ig_req_t *r, int status, json_object *o);
/* An Iceberg error body {"error":{"message","type","code"}}. */
ig_res_t ig_http_error(ig_req_t *r, ig_errkind_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ig_res_t ig_http_error_from(ig_req_t *r, const ig_error_t *e);
/* Adds a header to the response this request will send (value copied; at most IG_MAX_EXTRA_HEADERS). */
void ig_http_add_header(ig_req_t *r, const char *name, const char *value);

/* Request header by name (case-insensitive), or NULL. */
const char *ig_http_header(ig_req_t *r, const char *name);
/* Query parameter, form-decoded ('+' is a space, as Java's URLEncoder and URLSearchParams send it; %XX):
 * 1 found, 0 absent, -1 too long or badly encoded. */
int ig_http_query(ig_req_t *r, const char *name, char *buf, size_t cap);
/* Percent-decodes a path segment src[0..len) into buf ('+' stays '+'); -1 if it does not fit, has a bad escape, or decodes to a NUL. */
int ig_http_decode(const char *src, size_t len, char *buf, size_t cap);
/* The client's address as 16 bytes (IPv4 mapped into IPv6); 0 or -1. */
int ig_http_client_addr(ig_req_t *r, unsigned char out[16]);
/* Parses the body as JSON (depth-limited); NULL with *err filled (400) if absent or malformed. */
json_object *ig_http_body_json(ig_req_t *r, ig_error_t *err);

#endif
