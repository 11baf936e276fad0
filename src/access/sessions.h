/* sessions — console login sessions: an opaque random id in an HttpOnly, SameSite=Strict cookie (Secure behind
 * TLS), kept in memory with its user, role, CSRF token and expiry.  Every state-changing call made with a
 * session must carry the session's CSRF token in X-CSRF-Token.
 *
 * Console users are people: at most 1,024 sessions, scanned linearly under one mutex (~10 µs), and at most 16
 * per user — a user's 17th login ends that user's oldest session, so no account can log the others out.
 * Sessions live in memory and end with the process. */
#ifndef IG_SESSIONS_H
#define IG_SESSIONS_H

#include <stdint.h>

#include "http/http.h"

#define IG_SESSION_ID_LEN 43

typedef struct ig_sessions ig_sessions_t;

typedef struct {
    char id[IG_SESSION_ID_LEN + 1];
    char csrf[IG_SESSION_ID_LEN + 1];
    char user[IG_USER_MAX + 1];
    ig_role_t role;
    int64_t expires_ms;
} ig_session_t;

/* NULL when out of memory; sessions last ttl_s seconds. */
ig_sessions_t *ig_sessions_new(int ttl_s);
void ig_sessions_free(ig_sessions_t *s);
int ig_sessions_ttl(const ig_sessions_t *s);

/* Starts a session for user (new random id and CSRF token) and copies it to *out: 0, or -1 when all 1,024
 * slots hold live sessions of other users (the login is refused, nobody is logged out). */
int ig_sessions_start(ig_sessions_t *s, const char *user, ig_role_t role, int64_t now_ms, ig_session_t *out);
/* Copies the live session with this id to *out and returns 0; -1 if there is none.  With end, also ends it. */
int ig_sessions_lookup(ig_sessions_t *s, const char *id, int64_t now_ms, bool end, ig_session_t *out);

/* The request's session cookie, or NULL. */
const char *ig_sessions_cookie(ig_req_t *r);
/* Sets (max_age > 0) or clears (id "", max_age 0) the session cookie on the response. */
void ig_sessions_set_cookie(ig_req_t *r, const char *id, int max_age);

typedef enum {
    IG_SESSION_NONE, /* no session cookie: try an access token */
    IG_SESSION_OK,   /* r->who filled */
    IG_SESSION_SENT, /* a 401/403 was queued (expired session, missing or bad CSRF token) */
} ig_session_auth_t;
/* Authenticates r by its session cookie; state-changing methods must carry the CSRF token. */
ig_session_auth_t ig_sessions_auth(ig_sessions_t *s, ig_req_t *r, ig_res_t *res);

#endif
