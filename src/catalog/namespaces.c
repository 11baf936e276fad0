/* catalog/namespaces — create, load, exists, drop and property updates of namespaces, and the listing of
 * namespaces, tables and views. */
#include "catalog/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/nsallow.h"
#include "iceberg/icemeta.h"

/* ------------------------------------------------------------------ namespaces */

ig_res_t cat_list_namespaces(call_t *k)
{
    ig_error_t err = {0};
    char parent[NS_MAX + 1];
    page_t pg;
    int q = ig_http_query(k->r, "parent", parent, sizeof parent);
    if (q < 0) return ig_http_error(k->r, IG_E_BAD_REQUEST, "parent is too long or badly encoded");
    if (q == 0) parent[0] = '\0';
    if (parent[0] && cat_check_ns(parent, &err)) return ig_http_error_from(k->r, &err);
    if (cat_parse_page(k->r, &pg, &err)) return ig_http_error_from(k->r, &err);
    /* A token limited to some namespaces sees the way down to them and what is below them; under one of them
     * it sees everything, above them only what leads there, elsewhere nothing (403). */
    const char *allow = k->r->who.ns_allow, *sees = NULL;
    if (allow[0] && !(parent[0] && ig_ns_within(allow, parent))) {
        if (parent[0] && !ig_ns_sees(allow, parent) && cat_ns_allowed(k, parent, &err))
            return ig_http_error_from(k->r, &err);
        sees = allow;
    }
    if (cat_ns_key(k, parent, &err)) return ig_http_error_from(k->r, &err); /* "" in a warehouse: its tag */
    ig_buf_t out;
    ig_buf_init(&out, 4096);
    collect_t cl = {.out = &out, .limit = pg.paginate ? pg.limit : 0, .sees = sees};
    cat_begin_list(&cl, "namespaces");
    /* filtered, the store cannot know how many rows make a page: the callback stops the walk instead */
    int want = cl.limit && !sees ? cl.limit + 1 : 0;
    ig_res_t res = k->st->ops->ns_list(k->st, parent, pg.after[0] ? pg.after : NULL, want, cat_collect_cb, &cl, &err)
                       ? ig_http_error_from(k->r, &err)
                       : cat_send_list(k->r, &cl);
    ig_buf_free(&out);
    return res;
}

ig_res_t cat_create_namespace(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *jns, *props = NULL;
    if (!req) return ig_http_error_from(k->r, &err);
    char ns[NS_MAX + 1];
    if (!json_object_object_get_ex(req, "namespace", &jns)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "missing 'namespace'");
        goto bad;
    }
    if (cat_ns_from_json(k, jns, ns, "namespace", &err) || cat_ns_allowed(k, ns, &err)) goto bad;
    if (json_object_object_get_ex(req, "properties", &props) && props &&
        ig_icemeta_check_string_map(props, "properties", &err))
        goto bad;
    if (!props)
        props = json_object_new_object();
    else
        json_object_get(props);
    const char *text =
        json_object_to_json_string_ext(props, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (k->st->ops->ns_create(k->st, ns, text, &err)) {
        json_object_put(props);
        goto bad;
    }
    json_object_put(req);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", cat_ns_to_json(ns));
    json_object_object_add(o, "properties", props);
    return ig_http_json(k->r, 200, o);
bad:
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

/* Properties of ns as a JSON object (new reference), NULL with err. */
static json_object *ns_props(call_t *k, ig_error_t *err)
{
    char *text = NULL;
    int rc = k->st->ops->ns_get(k->st, k->ns, &text, err);
    if (rc == IG_STORE_NOTFOUND) cat_no_namespace(err, k->ns);
    if (rc) return NULL;
    json_object *p = json_tokener_parse(text ? text : "{}");
    free(text);
    if (!p || !json_object_is_type(p, json_type_object)) {
        json_object_put(p);
        p = json_object_new_object();
    }
    return p;
}

ig_res_t cat_load_namespace(call_t *k)
{
    ig_error_t err = {0};
    json_object *p = ns_props(k, &err);
    if (!p) return ig_http_error_from(k->r, &err);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", cat_ns_to_json(k->ns));
    json_object_object_add(o, "properties", p);
    return ig_http_json(k->r, 200, o);
}

ig_res_t cat_namespace_exists(call_t *k)
{
    ig_error_t err = {0};
    if (cat_ns_exists(k, k->ns, &err)) return ig_http_error_from(k->r, &err);
    return ig_http_no_content(k->r);
}

ig_res_t cat_drop_namespace(call_t *k)
{
    ig_error_t err = {0};
    int rc = k->st->ops->ns_drop(k->st, k->ns, &err);
    if (rc == IG_STORE_NOTFOUND) cat_no_namespace(&err, k->ns);
    if (rc) return ig_http_error_from(k->r, &err);
    return ig_http_no_content(k->r);
}

ig_res_t cat_update_properties(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *rem = NULL, *upd = NULL, *props = NULL;
    json_object *updated = NULL, *removed = NULL, *missing = NULL;
    if (!req) return ig_http_error_from(k->r, &err);
    if (json_object_object_get_ex(req, "removals", &rem) && rem) {
        if (!json_object_is_type(rem, json_type_array)) goto badrem;
        for (size_t i = 0; i < json_object_array_length(rem); i++)
            if (!json_object_is_type(json_object_array_get_idx(rem, i), json_type_string)) goto badrem;
    }
    if (json_object_object_get_ex(req, "updates", &upd) && upd &&
        ig_icemeta_check_string_map(upd, "updates", &err))
        goto bad;
    if (rem && upd)
        for (size_t i = 0; i < json_object_array_length(rem); i++) {
            const char *key = json_object_get_string(json_object_array_get_idx(rem, i));
            if (json_object_object_get_ex(upd, key, NULL)) {
                ig_error_set(
                    &err, IG_E_UNPROCESSABLE,
                    "The request cannot be processed as there is a key present multiple times: %.200s", key);
                goto bad;
            }
        }
    /* Serialised in-process so two concurrent updates do not lose each other's keys. */
    pthread_mutex_lock(&k->c->props_mu);
    props = ns_props(k, &err);
    if (!props) {
        pthread_mutex_unlock(&k->c->props_mu);
        goto bad;
    }
    updated = json_object_new_array();
    removed = json_object_new_array();
    missing = json_object_new_array();
    for (size_t i = 0; rem && i < json_object_array_length(rem); i++) {
        json_object *ks = json_object_array_get_idx(rem, i);
        const char *key = json_object_get_string(ks);
        if (json_object_object_get_ex(props, key, NULL)) {
            json_object_object_del(props, key);
            json_object_array_add(removed, json_object_get(ks));
        } else {
            json_object_array_add(missing, json_object_get(ks));
        }
    }
    if (upd) {
        json_object_object_foreach(upd, key, val)
        {
            json_object_object_add(props, key, json_object_get(val));
            json_object_array_add(updated, json_object_new_string(key));
        }
    }
    const char *text =
        json_object_to_json_string_ext(props, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = k->st->ops->ns_set_props(k->st, k->ns, text, &err);
    pthread_mutex_unlock(&k->c->props_mu);
    if (rc == IG_STORE_NOTFOUND) cat_no_namespace(&err, k->ns);
    if (rc) goto bad;
    json_object_put(props);
    json_object_put(req);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "updated", updated);
    json_object_object_add(o, "removed", removed);
    json_object_object_add(o, "missing", missing);
    return ig_http_json(k->r, 200, o);
badrem:
    ig_error_set(&err, IG_E_BAD_REQUEST, "'removals' must be an array of strings");
bad:
    json_object_put(updated);
    json_object_put(removed);
    json_object_put(missing);
    json_object_put(props);
    json_object_put(req);
    return ig_http_error_from(k->r, &err);
}

/* ------------------------------------------------------------------ listing tables and views */

ig_res_t cat_list_objects(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    page_t pg;
    if (cat_parse_page(k->r, &pg, &err)) return ig_http_error_from(k->r, &err);
    ig_buf_t out;
    ig_buf_init(&out, 16384);
    collect_t cl = {.out = &out, .ns = k->ns, .limit = pg.paginate ? pg.limit : 0};
    cat_begin_list(&cl, "identifiers");
    ig_res_t res = k->st->ops->obj_list(k->st, k->ns, kind, pg.after[0] ? pg.after : NULL,
                                        cl.limit ? cl.limit + 1 : 0, cat_collect_cb, &cl, &err)
                       ? ig_http_error_from(k->r, &err)
                       : cat_send_list(k->r, &cl);
    ig_buf_free(&out);
    return res;
}

