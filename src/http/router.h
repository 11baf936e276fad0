/* router — the one entry point for a complete request: picks the surface by path (operations, catalog,
 * admin API, console), applies authentication and the per-token rate limit where they belong, and hands
 * over to the module. */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include "http/http.h"

ig_res_t ig_router_handle(ig_req_t *r);

#endif
