/* catalog — the Iceberg REST Catalog routes under /v1/ (rest-catalog-open-api.yaml).  The router calls them
 * after authentication and the rate-limit gate, with the catalog as their context. */
#ifndef IG_CATALOG_H
#define IG_CATALOG_H

#include "core/config.h"
#include "http/http.h"
#include "http/router.h"
#include "store/store.h"

typedef struct ig_catalog ig_catalog_t;

/* Opens the warehouse the config names and builds the catalog on store (borrowed).  NULL with err filled. */
ig_catalog_t *ig_catalog_new(const ig_config_t *cfg, ig_store_t *store, ig_error_t *err);
/* The default warehouse's name (what clients pass as ?warehouse= to /v1/config): the root's last segment. */
const char *ig_catalog_warehouse_name(const ig_catalog_t *c);
/* The scope a token needs for r (its route template already named by ig_catalog_route): IG_SCOPE_READ for
 * GET/HEAD and metrics reports, IG_SCOPE_WRITE for every other request. */
unsigned ig_catalog_scope(const ig_req_t *r);
/* The rate-limit class of r (ratelimiter.costs, DESIGN.md section 8), like the scope from its route template:
 * IG_COST_READ for what needs only catalog:read, IG_COST_COMMIT for updateTable and transactions/commit,
 * IG_COST_WRITE for every other mutation. */
ig_cost_class_t ig_catalog_cost(const ig_req_t *r);
void ig_catalog_free(ig_catalog_t *c);
/* Finishes the commits handed to the group commit and runs later ones on their worker threads: called before
 * the transport stops, so no request waits on a committer then. */
void ig_catalog_quiesce(ig_catalog_t *c);
/* Every /v1/ route (ctx: ig_catalog_t). */
ig_res_t ig_catalog_handle(void *ctx, ig_req_t *r);
/* The route template of a /v1/ request ("/v1/{prefix}/namespaces/{namespace}", "unmatched"): the router names
 * a request with it before authentication, so a 401 or 429 is logged and counted under its route too. */
const char *ig_catalog_route(const ig_req_t *r);
/* /v1/oauth/tokens: the deprecated OAuth2 flow, answered without a token in the OAuth2 error shape. */
ig_res_t ig_catalog_oauth(void *ctx, ig_req_t *r);

#endif
