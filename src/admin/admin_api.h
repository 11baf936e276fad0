/* admin_api — /api/v1/...: access-token management (DESIGN.md section 5), users, settings, and the
 * console's session routes (console.h).  Authenticated by a console session (with CSRF) or by an access token; admins
 * manage every token, members only their own (others' answer 404, not 403, so ids do not leak). */
#ifndef IG_ADMIN_API_H
#define IG_ADMIN_API_H

#include "cluster/members.h"
#include "access/login_guard.h"
#include "access/sessions.h"
#include "access/token_table.h"
#include "http/http.h"
#include "store/store.h"

/* The admin surface's context: what its routes (and the console's session routes) read and change. */
typedef struct {
    ig_token_table_t *tokens;
    ig_store_t *store;
    ig_sessions_t *sessions;
    ig_login_guard_t *logins; /* console password guessing, throttled */
    int expiry_warning_days;  /* the first of notifications.expiry_warning_days (0: none): the console's banner */
    const char *warehouse;    /* the default warehouse's name (the console's client snippets) */
    ig_members_t *members;    /* GET /api/v1/cluster */
} ig_admin_t;

/* /api/v1/... (ctx: ig_admin_t), after the router authenticated the caller by session or token. */
ig_res_t ig_admin_api_handle(void *ctx, ig_req_t *r);
/* GET /api/v1/audit (audit_api.c), called by ig_admin_api_handle with the caller's role resolved. */
ig_res_t ig_audit_api_handle(ig_admin_t *a, ig_req_t *r);

#endif
