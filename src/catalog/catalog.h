/* catalog — the Iceberg REST Catalog routes under /v1/ (rest-catalog-open-api.yaml).  Called by the router
 * after authentication and the rate-limit gate. */
#ifndef IG_CATALOG_H
#define IG_CATALOG_H

#include "http/http.h"
#include "server.h"

ig_catalog_t *ig_catalog_new(ig_server_t *srv, ig_error_t *err);
void ig_catalog_free(ig_catalog_t *c);
ig_res_t ig_catalog_handle(ig_req_t *r);

#endif
