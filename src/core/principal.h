/* principal — who a request acts for, once authenticated: the shape the transport carries in each request and
 * the store keeps for users.  Kept in core so the HTTP layer and the store can both name it without either
 * depending on the other. */
#ifndef IG_PRINCIPAL_H
#define IG_PRINCIPAL_H

#include <stdbool.h>

#define IG_ID_MAX 32   /* token ids: "tok_" + 16 base62 characters, with room */
#define IG_USER_MAX 64 /* user names */

typedef enum { IG_ROLE_MEMBER = 0, IG_ROLE_ADMIN = 1 } ig_role_t;

/* A token's scopes (DESIGN.md §8), a bit set.  READ: GET/HEAD on /v1/..., metrics reports, credentials;
 * WRITE: every /v1 route; ADMIN: what an admin user may do beyond their own tokens (other owners' tokens,
 * users, /metrics).  A console session has them all (its user's role still decides admin). */
#define IG_SCOPE_READ 1u
#define IG_SCOPE_WRITE 2u
#define IG_SCOPE_ADMIN 4u
#define IG_SCOPES_ALL (IG_SCOPE_READ | IG_SCOPE_WRITE | IG_SCOPE_ADMIN)

/* A token's namespaces (DESIGN.md §8) in one string: the namespaces joined by IG_NS_SEP, the levels of each
 * by 0x1F (the catalog's own form, so a path's namespace is compared without decoding).  "" = every one. */
#define IG_NS_SEP '\x1e'
#define IG_NS_ALLOW_COUNT 16  /* namespaces per token */
#define IG_NS_ALLOW_MAX 1024  /* bytes of them all, separators included */

typedef struct {
    bool ok;          /* authenticated */
    bool via_session; /* by a console cookie rather than an access token */
    ig_role_t role;
    char user[IG_USER_MAX + 1];
    char token_id[IG_ID_MAX]; /* "" for a console session */
    unsigned scopes;          /* IG_SCOPE_* of the token (IG_SCOPES_ALL for a session) */
    long long expires_at_ms;  /* the token's expiry (0: none, or a session): vended credentials end by it */
    bool net_limited;         /* the token has allowedCidrs: it may not mint a token free of them */
    /* The token's namespaces ("" = all; core/nsallow.h asks what they reach); a session's are "".  Copied by
     * authentication only for a token that has some. */
    char ns_allow[IG_NS_ALLOW_MAX + 1];
    /* The client's address as text, for the audit log: set by the surface that makes a change (the admin
     * API) just before it, never by authentication (the request path formats no address); NULL: unknown. */
    const char *client_ip;
} ig_principal_t;

#endif
