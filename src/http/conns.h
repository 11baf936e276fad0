/* conns — every open connection's deadline (server.request_timeout over a whole request, headers and body),
 * and a sweeper thread that cuts the connections past theirs; and the file-descriptor budget they need.
 *
 * libmicrohttpd's connection timeout counts idle time only, and it has no hook while headers arrive: a client
 * that sends one byte before each timeout keeps a connection for ever.  So the transport registers each
 * connection here as it opens (a slot from a free list fixed at creation, under a mutex taken only at connect
 * and close, never per request) and moves its deadline as the request goes on: waiting for a request line,
 * the request line in (the headers must follow within server.request_timeout), the headers in (so must the
 * body, counted from the headers), a handler running or the connection suspended or a response going out (no
 * deadline: those are the server's time, not the client's).  Each move is one atomic store: the request path
 * takes no lock and allocates nothing.  Four times a second the sweeper calls shutdown(2) — never close(2):
 * the fd stays libmicrohttpd's — on each connection past its deadline, under the mutex, so the transport's
 * ig_conns_close (called before libmicrohttpd closes the fd) cannot let the fd be reused meanwhile.
 * libmicrohttpd then reads end-of-file and closes the connection itself. */
#ifndef IG_CONNS_H
#define IG_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct ig_conns ig_conns_t;
typedef struct ig_conn ig_conn_t;

/* Where a connection's request is; each sets its deadline from now_ns (see ig_conns_set). */
typedef enum {
    IG_CONN_WAITING, /* no request yet, or between two: idle + request timeout (the idle one cuts it first) */
    IG_CONN_HEADERS, /* the request line is in: the headers are due within the request timeout */
    IG_CONN_BODY,    /* the headers are in (now_ns is when): the body is due within the request timeout */
    IG_CONN_BUSY,    /* a handler runs, the request is held or parked, or a response is going out: none */
} ig_conn_phase_t;

/* A table for cap connections, with libmicrohttpd's idle timeout and server.request_timeout.  The sweeper
 * thread starts when sweep is true (tests call ig_conns_sweep themselves).  NULL when out of memory or
 * threads. */
ig_conns_t *ig_conns_new(size_t cap, int64_t idle_ns, int64_t request_ns, bool sweep);
/* Registers connection fd from address sa (may be NULL), waiting for its first request.  Its slot, or NULL
 * when the table is full (the connection then has no deadline; cannot happen with cap >= the connection
 * limit). */
ig_conn_t *ig_conns_open(ig_conns_t *t, int fd, const struct sockaddr *sa, int64_t now_ns);
/* Gives c's slot back (NULL is fine).  Must be called before the fd is closed. */
void ig_conns_close(ig_conns_t *t, ig_conn_t *c);
/* Moves c (NULL is fine) to phase: one atomic store, no lock. */
void ig_conns_set(ig_conns_t *t, ig_conn_t *c, ig_conn_phase_t phase, int64_t now_ns);
/* Shuts down every connection whose deadline is before now_ns and logs them (at most one warn line a
 * second); the number cut.  The sweeper thread calls it; tests may too. */
int ig_conns_sweep(ig_conns_t *t, int64_t now_ns);
/* Connections cut so far. */
uint64_t ig_conns_cut_total(ig_conns_t *t);
/* Stops the sweeper and frees t (NULL is fine).  Call after the last connection closed. */
void ig_conns_free(ig_conns_t *t);

/* Makes room for conns connections plus reserve other descriptors under RLIMIT_NOFILE, as Redis's
 * adjustOpenFilesLimit does: raises the soft limit towards the hard one (and the hard one when privileged).
 * Returns how many connections fit: conns when all do, else fewer (at least 1); *limit is the soft limit in
 * force afterwards. */
int ig_conns_fit_fd_limit(int conns, int reserve, long *limit);

#endif
