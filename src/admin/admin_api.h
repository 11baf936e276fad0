/* admin_api — /api/v1/...: access-token management (DESIGN.md section 5), users, settings, and the
 * console's session routes.  Authenticated by a console session (with CSRF) or by an access token; admins
 * manage every token, members only their own (others' answer 404, not 403, so ids do not leak). */
#ifndef IG_ADMIN_API_H
#define IG_ADMIN_API_H

#include "http/http.h"

ig_res_t ig_admin_api_handle(ig_req_t *r);

#endif
