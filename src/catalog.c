/* catalog — see catalog.h.  For now: GET /v1/config and the deprecated OAuth route; the namespace, table and
 * view routes arrive with the catalog issue. */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"

struct ig_catalog {
    ig_server_t *srv;
};

ig_catalog_t *ig_catalog_new(ig_server_t *srv, ig_error_t *err)
{
    ig_catalog_t *c = calloc(1, sizeof *c);
    if (!c) {
        ig_error_set(err, 500, "ServiceFailureException", "out of memory");
        return NULL;
    }
    c->srv = srv;
    return c;
}

void ig_catalog_free(ig_catalog_t *c)
{
    free(c);
}

static const char config_body[] = "{\"defaults\":{},\"overrides\":{}}";

ig_res_t ig_catalog_handle(ig_req_t *r)
{
    const char *p = r->path + 3; /* after "/v1" */
    size_t n = r->path_len - 3;
    if (n == 7 && memcmp(p, "/config", 7) == 0) {
        if (r->method != IG_GET && r->method != IG_HEAD) {
            ig_http_add_header(r, "Allow", "GET");
            return ig_http_error(r, 405, "MethodNotAllowedException", "method %s not allowed on /v1/config",
                                 r->method_str);
        }
        return ig_http_send(r, 200, "application/json", config_body, sizeof config_body - 1, true);
    }
    if (n == 13 && memcmp(p, "/oauth/tokens", 13) == 0)
        return ig_http_error(r, 400, "BadRequestException",
                             "the OAuth2 token endpoint is deprecated and not served: configure your client with an "
                             "icegate access token (token=<value>, or header.X-API-Token=<value>)");
    return ig_http_error(r, 404, "NotFoundException", "no such route: %.*s", (int)(r->path_len > 200 ? 200 : r->path_len),
                         r->path);
}
