/* console — the web console: its static files (compiled into the binary, served under a strict CSP) and the
 * session routes the console logs in with (/api/v1/session, /login, /logout).  The sessions themselves live
 * in access/sessions.h. */
#ifndef IG_CONSOLE_H
#define IG_CONSOLE_H

#include "admin/admin_api.h"
#include "http/http.h"

/* Serves a console file (GET/HEAD), or 404.  ctx is unused. */
ig_res_t ig_console_files(void *ctx, ig_req_t *r);
/* /api/v1/session (GET: who is logged in), /login (POST), /logout (POST); ctx is an ig_admin_t. */
ig_res_t ig_console_session_api(void *ctx, ig_req_t *r);

#endif
