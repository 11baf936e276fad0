/* console — the web console: its static files (compiled into the binary) and its login sessions.
 *
 * Sessions: an opaque random id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), kept in memory
 * with its user, role, CSRF token and expiry.  Every state-changing call made with a session must carry the
 * session's CSRF token in X-CSRF-Token. */
#ifndef IG_CONSOLE_H
#define IG_CONSOLE_H

#include "http/http.h"
#include "server.h"

ig_sessions_t *ig_sessions_new(int ttl_s);
void ig_sessions_free(ig_sessions_t *s);

/* Serves a console file (GET/HEAD), or 404. */
ig_res_t ig_console_handle(ig_req_t *r);
/* /api/v1/session, /api/v1/session/login, /api/v1/session/logout. */
ig_res_t ig_console_session_api(ig_req_t *r, const char *rest);

typedef enum {
    IG_SESSION_NONE,  /* no session cookie: try an access token */
    IG_SESSION_OK,    /* r->who filled */
    IG_SESSION_SENT,  /* a 401/403 was queued (expired session, missing or bad CSRF token) */
} ig_session_auth_t;
/* Authenticates r by its session cookie; state-changing methods must carry the CSRF token. */
ig_session_auth_t ig_console_session_auth(ig_req_t *r, ig_res_t *res);

#endif
