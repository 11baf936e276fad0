/* log — one line per event on stderr: timestamp, level, message; text ("key=value") or JSON (log.format).
 *
 * Two paths.  Events (start-up, warnings, errors) are written at once, one write(2) per line, so lines from
 * different threads never interleave.  The access log — one line per request, DESIGN.md §9 — must not cost a
 * request a lock or a syscall: each thread appends its lines to a ring of its own, and one writer thread
 * flushes every ring to stderr (every 20 ms, or at once when a ring fills).  A line is written whole, by one
 * write(2), and none is dropped: a producer whose ring is full waits for the writer.  Without a writer (the
 * CLI) access lines are written at once like events.
 *
 * A thread serving a request names it (ig_log_set_request): every line the thread logs meanwhile carries its
 * requestId.  Never pass a token secret to these functions. */
#ifndef IG_LOG_H
#define IG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { IG_LOG_DEBUG, IG_LOG_INFO, IG_LOG_WARN, IG_LOG_ERROR } ig_log_level_t;
typedef enum { IG_LOG_TEXT, IG_LOG_JSON } ig_log_format_t;

void ig_log_set_level(ig_log_level_t level);
/* Parses "debug"|"info"|"warn"|"error"; returns 0 or -1. */
int ig_log_parse_level(const char *s, ig_log_level_t *out);
/* True when lines at level are written. */
bool ig_log_enabled(ig_log_level_t level);
void ig_log_set_format(ig_log_format_t format);
void ig_log(ig_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies client text s into out (cap >= 4) for a log line: control characters and bytes >= 0x7f become '?',
 * and a longer text ends in "..." — a name a client chose can neither forge a line nor flood one. */
const char *ig_log_safe(const char *s, char *out, size_t cap);

/* The request this thread is serving (NULL: none); it must stay valid until cleared. */
void ig_log_set_request(const char *request_id);

/* One completed request. */
typedef struct {
    const char *method, *route; /* a fixed method name and the route template: never client text */
    int status;
    int64_t elapsed_ns;
    int64_t held_ns;        /* of which held for a rate-limit slot (ratelimiter.max_delay_ms); 0 if not */
    uint64_t bytes_in, bytes_out;
    const char *token_id;   /* "" when no token authenticated the request */
    const char *client;     /* the peer address as text */
    const char *request_id;
    const char *type;       /* the Iceberg error type of an error response, or NULL */
    const char *message;    /* the error message, or NULL: logged for 5xx, and for 4xx at level debug */
    bool slow;              /* slower than log.slow_request_ms, held time left out: warn, with slow=true */
} ig_access_t;

/* Logs a's access line: at error for a 5xx, warn when slow, info otherwise. */
void ig_log_access(const ig_access_t *a);

/* Starts the thread that flushes the access log rings; 0 or -1.  ig_log_stop_writer flushes everything and
 * joins it (call after the last request). */
int ig_log_start_writer(void);
void ig_log_stop_writer(void);

#define ig_debug(...) ig_log(IG_LOG_DEBUG, __VA_ARGS__)
#define ig_info(...) ig_log(IG_LOG_INFO, __VA_ARGS__)
#define ig_warn(...) ig_log(IG_LOG_WARN, __VA_ARGS__)
#define ig_error(...) ig_log(IG_LOG_ERROR, __VA_ARGS__)

#endif
