/* principal — who a request acts for, once authenticated: the shape the transport carries in each request and
 * the store keeps for users.  Kept in core so the HTTP layer and the store can both name it without either
 * depending on the other. */
#ifndef IG_PRINCIPAL_H
#define IG_PRINCIPAL_H

#include <stdbool.h>

#define IG_ID_MAX 32   /* token ids: "tok_" + 16 base62 characters, with room */
#define IG_USER_MAX 64 /* user names */

typedef enum { IG_ROLE_MEMBER = 0, IG_ROLE_ADMIN = 1 } ig_role_t;

typedef struct {
    bool ok;          /* authenticated */
    bool via_session; /* by a console cookie rather than an access token */
    ig_role_t role;
    char user[IG_USER_MAX + 1];
    char token_id[IG_ID_MAX]; /* "" for a console session */
    /* The client's address as text, for the audit log: set by the surface that makes a change (the admin
     * API) just before it, never by authentication (the request path formats no address); NULL: unknown. */
    const char *client_ip;
} ig_principal_t;

#endif
