/* catalog/views — create and load of views (commit, drop, rename and register are shared with tables). */
#include "catalog/internal.h"

#include "core/clock.h"
#include "core/util.h"
#include "iceberg/viewmeta.h"

/* ------------------------------------------------------------------ views */

ig_res_t cat_create_view(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *meta = NULL;
    char loc[IG_LOCATION_MAX], shown[IG_LOCATION_MAX], uuid[37];
    if (!req) return ig_http_error_from(k->r, &err);
    if (cat_create_target(k, req, IG_OBJ_VIEW, loc, shown, &err)) goto bad;
    ig_uuid4(uuid);
    if (ig_viewmeta_create(req, shown, uuid, ig_clock_wall_ms(), &meta, &err)) goto bad;
    json_object_put(req);
    ig_res_t res = cat_create_with_meta(k, IG_OBJ_VIEW, meta);
    json_object_put(meta);
    return res;
bad:
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

ig_res_t cat_load_view(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (cat_obj_location(k, k->ns, k->name, IG_OBJ_VIEW, loc, &err)) return ig_http_error_from(k->r, &err);
    return cat_send_object(k, V_VIEW, loc, true);
}
