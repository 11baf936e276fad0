/* catalog/commit — commits to tables and views, alone or as a multi-table transaction.
 *
 * Load current metadata, let tablemeta/viewmeta check requirements and apply updates, write the new metadata
 * file, then swap the objects' pointers from the old files to the new ones with compare-and-set (one obj_swap
 * for a whole transaction).  When the swap loses a race the written files are removed and the whole commit is
 * re-evaluated against the newer metadata, as the reference Java catalog does: the client's requirements
 * decide whether its change still applies (409 CommitFailedException if not).  Inside one process commits to
 * a table queue on its stripe lock first, so they rarely race at all. */
#include "catalog/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "iceberg/tablemeta.h"
#include "iceberg/viewmeta.h"
#include "warehouse/warehouse.h"

/* ------------------------------------------------------------------ commits (tables and views) */


/* Gives the change's location back (loclock.c). */
static void change_release(ig_catalog_t *c, change_t *ch)
{
    const char *bases[1] = {ch->base};
    if (ch->locked) cat_loc_unlock(c, bases, 1);
    ch->locked = false;
}

void cat_change_undo(ig_catalog_t *c, change_t *ch)
{
    if (ch->written) {
        ig_error_t e;
        if (ig_warehouse_remove(ch->wh, ch->next, &e))
            ig_warn("catalog: cannot remove %s: %s", ch->next, e.message);
        ch->written = false;
    }
    change_release(c, ch);
    free(ch->body);
    ch->body = NULL;
    json_object_put(ch->drop);
    ch->drop = NULL;
}

/* The metadata files a table commit let fall off its metadata-log (write.metadata.previous-versions-max),
 * when the table asks for them to be deleted (write.metadata.delete-after-commit.enabled, as Iceberg's
 * TableOperations do): the previous current file and the old log's entries the new log no longer has. */
json_object *cat_dropped_files(json_object *cur, const char *cur_loc, json_object *next)
{
    json_object *props = NULL, *nlog = NULL, *olog = NULL;
    json_object_object_get_ex(next, "properties", &props);
    const char *on = cat_meta_str(props, "write.metadata.delete-after-commit.enabled");
    if (!cur || !on || strcasecmp(on, "true") != 0) return NULL;
    json_object_object_get_ex(next, "metadata-log", &nlog);
    json_object_object_get_ex(cur, "metadata-log", &olog);
    json_object *out = json_object_new_array();
    size_t olen = olog ? json_object_array_length(olog) : 0;
    for (size_t i = 0; i <= olen; i++) {
        const char *f = i < olen ? cat_meta_str(json_object_array_get_idx(olog, i), "metadata-file") : cur_loc;
        bool kept = !f;
        for (size_t j = 0; !kept && nlog && j < json_object_array_length(nlog); j++) {
            const char *g = cat_meta_str(json_object_array_get_idx(nlog, j), "metadata-file");
            kept = g && strcmp(g, f) == 0;
        }
        if (!kept) json_object_array_add(out, json_object_new_string(f));
    }
    if (json_object_array_length(out) == 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

/* After the commit is in: the files dropped_files named go (a failure is logged, never the commit's). */
void cat_delete_dropped(ig_catalog_t *c, change_t *ch)
{
    for (size_t i = 0; ch->drop && i < json_object_array_length(ch->drop); i++)
        cat_pending_unlink(c, json_object_get_string(json_object_array_get_idx(ch->drop, i)));
    json_object_put(ch->drop);
    ch->drop = NULL;
}

/* Evaluates one change against the object's current metadata and writes the next metadata file. */
static int change_prepare(call_t *k, change_t *ch, ig_obj_kind_t kind, ig_error_t *err)
{
    ig_catalog_t *c = k->c;
    json_object *cur = NULL, *next = NULL;
    int rc = k->st->ops->obj_get(k->st, ch->ns, ch->name, kind, NULL, ch->cur, sizeof ch->cur, err);
    if (rc < 0) return -1;
    ch->exists = rc == 0;
    if (ch->exists) {
        centry_t *e = cat_load_entry(c, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->cur, err);
        if (!e) return -1;
        cur = cat_parse_meta(e->body + e->meta_off, e->meta_len, err);
        cat_cache_release(&c->cache, e);
        if (!cur) {
            err->kind = IG_E_INTERNAL; /* stored metadata that no longer parses is our fault, not the client's */
            return -1;
        }
    } else if (kind == IG_OBJ_VIEW) {
        return cat_no_object(err, kind, ch->ns, ch->name);
    }
    char cur_base[IG_LOCATION_MAX + 1] = "";
    ig_error_t scratch;
    if (cur && cat_base_of(ch->wh, cur, cur_base, &scratch)) cur_base[0] = '\0';
    int64_t now = ig_clock_wall_ms();
    if (kind == IG_OBJ_VIEW)
        rc = ig_viewmeta_commit(cur, ch->reqs, ch->updates, now, &next, err);
    else
        rc = ig_tablemeta_commit(cur, ch->exists ? ch->cur : NULL, ch->reqs, ch->updates, now, &next, err);
    if (rc == 0 && kind == IG_OBJ_TABLE) ch->drop = cat_dropped_files(cur, ch->cur, next);
    json_object_put(cur);
    if (rc) {
        if (ig_error_status(err) == 404) cat_no_object(err, kind, ch->ns, ch->name);
        return -1;
    }
    const char *bases[1] = {ch->base};
    if (cat_base_of(ch->wh, next, ch->base, err) ||
        (cat_loc_lock(c, bases, 1, false) && ig_error_set(err, IG_E_INTERNAL, "out of memory"))) {
        json_object_put(next);
        return -1;
    }
    ch->locked = true;
    ch->check_overlap = !c->allow_overlap && strcmp(cur_base, ch->base) != 0;
    const char *text = ig_tablemeta_to_string(next);
    size_t tl = strlen(text);
    rc = cat_write_metadata(ch->wh, next, ig_warehouse_next_version(ch->exists ? ch->cur : NULL), text, tl, ch->next,
                            err);
    if (rc == 0) {
        ch->written = true;
        ch->body = cat_build_body(ch->next, text, tl, &ch->len, &ch->meta_off);
        ch->meta_len = tl;
        if (!ch->body) rc = ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    json_object_put(next);
    return rc;
}

/* The stripes of n changes as a bit set; taken in ascending order, so transactions never deadlock. */
uint64_t cat_stripe_bit(const char *ns, const char *name)
{
    uint64_t h = cat_fnv1a(ns, strlen(ns), 0xcbf29ce484222325ULL);
    h = cat_fnv1a(name, strlen(name) + 1, h);
    return UINT64_C(1) << (h % COMMIT_STRIPES);
}

/* Applies n changes atomically: prepare all, one swap; on a lost race re-evaluate everything.  On success
 * the new bodies are in the cache. */
static int commit_changes(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err)
{
    uint64_t set = 0;
    for (size_t i = 0; i < n; i++) set |= cat_stripe_bit(chs[i].ns, chs[i].name);
    for (int i = 0; i < COMMIT_STRIPES; i++)
        if (set >> i & 1) pthread_mutex_lock(&k->c->commit_mu[i]);
    int rc = cat_commit_locked(k, chs, n, kind, err);
    for (int i = COMMIT_STRIPES - 1; i >= 0; i--)
        if (set >> i & 1) pthread_mutex_unlock(&k->c->commit_mu[i]);
    return rc;
}

int cat_commit_locked(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err)
{
    ig_obj_swap_t *sw = calloc(n, sizeof *sw);
    ig_meta_file_t *files = calloc(n, sizeof *files);
    if (!sw || !files) {
        free(sw);
        free(files);
        return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    int rc = -1;
    for (int attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (change_prepare(k, &chs[i], kind, err)) break;
        if (i < n && attempt > 0 && ig_error_status(err) == 400) {
            /* The change applied to the metadata the client saw (attempt 0) but no longer applies to the
             * newer one a concurrent commit produced: that is a conflict the client resolves by retrying. */
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            ig_error_set(err, IG_E_COMMIT_FAILED, "Commit failed after a concurrent change: %.400s",
                         msg);
        }
        if (i < n) {
            for (size_t j = 0; j <= i && j < n; j++)
                cat_change_undo(k->c, &chs[j]);
            goto out;
        }
        for (i = 0; i < n; i++) {
            sw[i] = (ig_obj_swap_t){.ns = chs[i].ns,
                                    .name = chs[i].name,
                                    .kind = kind,
                                    .expected_location = chs[i].exists ? chs[i].cur : NULL,
                                    .new_location = chs[i].next,
                                    .new_base = chs[i].base,
                                    .check_overlap = chs[i].check_overlap};
        }
        size_t nf = cat_pending_files(k->c, chs, n, files);
        if (k->st->ops->obj_swap(k->st, sw, n, files, nf, err) == 0) {
            if (nf) cat_pending_note(k->c);
            for (i = 0; i < n; i++) {
                cat_delete_dropped(k->c, &chs[i]);
                if (chs[i].exists) cat_cache_forget(&k->c->cache, chs[i].cur);
                centry_t *e = cat_cache_put(&k->c->cache, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, chs[i].next,
                                        chs[i].body, chs[i].len, chs[i].meta_off, chs[i].meta_len);
                chs[i].body = NULL;
                chs[i].written = false;
                change_release(k->c, &chs[i]);
                cat_cache_release(&k->c->cache, e);
            }
            rc = 0;
            goto out;
        }
        for (i = 0; i < n; i++)
            cat_change_undo(k->c, &chs[i]);
        /* assert-create lost to a concurrent create: the store's "Table already exists: ns.t", as Iceberg's
         * catalogs word it (the Java client raises AlreadyExistsException with that message). */
        if (err->kind == IG_E_ALREADY_EXISTS) goto out;
        if (err->kind != IG_E_COMMIT_FAILED) goto out;
        ig_debug("catalog: commit lost a race (attempt %d), re-evaluating", attempt + 1);
    }
    ig_error_set(err, IG_E_COMMIT_FAILED, "Commit failed: too much contention, retry");
out:
    free(sw);
    free(files);
    return rc;
}

static int commit_body(json_object *req, change_t *ch, bool view, ig_error_t *err)
{
    json_object *v;
    ch->reqs = ch->updates = NULL;
    if (json_object_object_get_ex(req, "requirements", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return ig_error_set(err, IG_E_BAD_REQUEST, "'requirements' must be an array");
        ch->reqs = v;
    } else if (!view) {
        return ig_error_set(err, IG_E_BAD_REQUEST, "missing 'requirements'");
    }
    if (!json_object_object_get_ex(req, "updates", &v) || !json_object_is_type(v, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "'updates' must be an array");
    ch->updates = v;
    return 0;
}

/* Every commit request the handlers answer is counted once: applied, a 409 conflict, or failed otherwise. */
static ig_res_t commit_failed(call_t *k, const ig_error_t *err)
{
    ig_metrics_commit(err->kind == IG_E_COMMIT_FAILED ? IG_COMMIT_CONFLICT : IG_COMMIT_FAILED);
    return ig_http_error_from(k->r, err);
}

ig_res_t cat_commit_object(call_t *k, ig_obj_kind_t kind)
{
    if (k->r->deferred) return cat_group_answer(k, kind, k->r->deferred, k->r->deferred_ran);
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *id;
    if (!req) return commit_failed(k, &err);
    change_t *ch = calloc(1, sizeof *ch);
    if (!ch) {
        json_object_put(req);
        ig_error_set(&err, IG_E_INTERNAL, "out of memory");
        return commit_failed(k, &err);
    }
    ch->wh = k->wh->w;
    snprintf(ch->ns, sizeof ch->ns, "%s", k->ns);
    snprintf(ch->name, sizeof ch->name, "%s", k->name);
    if (json_object_object_get_ex(req, "identifier", &id)) { /* optional, but a null is not an identifier */
        char ns[NS_MAX + 1], name[IDENT_MAX + 1];
        if (cat_ident_from_json(k, id, ns, name, "identifier", &err)) goto bad;
        if (strcmp(ns, k->ns) != 0 || strcmp(name, k->name) != 0) {
            ig_error_set(&err, IG_E_BAD_REQUEST, "identifier in the body does not match the path");
            goto bad;
        }
    }
    if (commit_body(req, ch, kind == IG_OBJ_VIEW, &err)) goto bad;
    /* Shares its syncs with the commits around it (group.c); an Idempotency-Key's commit stays here, inside
     * the key's claim. */
    ig_res_t res;
    if (!k->r->capture.on && cat_group_offer(k, kind, req, ch, &res)) {
        free(ch);
        return res;
    }
    if (commit_changes(k, ch, 1, kind, &err)) goto bad;
    ig_metrics_commit(IG_COMMIT_OK);
    json_object_put(req);
    /* The new version is in the cache (or, evicted at once by a tiny cache, read back). */
    res = cat_send_object(k, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->next, false);
    free(ch);
    return res;
bad:
    free(ch);
    json_object_put(req);
    return commit_failed(k, &err);
}

ig_res_t cat_commit_transaction(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = cat_body_object(k->r, &err), *arr;
    change_t *chs = NULL;
    if (!req) return commit_failed(k, &err);
    if (!json_object_object_get_ex(req, "table-changes", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'table-changes' must be an array");
        goto bad;
    }
    size_t n = json_object_array_length(arr);
    if (n == 0 || n > MAX_CHANGES) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'table-changes' must hold 1 to %d changes",
                     MAX_CHANGES);
        goto bad;
    }
    chs = calloc(n, sizeof *chs);
    if (!chs) {
        ig_error_set(&err, IG_E_INTERNAL, "out of memory");
        goto bad;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *tc = json_object_array_get_idx(arr, i), *id = NULL;
        if (!json_object_is_type(tc, json_type_object) || !json_object_object_get_ex(tc, "identifier", &id) ||
            !id) {
            ig_error_set(&err, IG_E_BAD_REQUEST, "every table change needs an 'identifier'");
            goto bad;
        }
        /* a transaction that touches a namespace the token does not reach is refused whole, before any write */
        chs[i].wh = k->wh->w;
        if (cat_ident_from_json(k, id, chs[i].ns, chs[i].name, "identifier", &err) ||
            cat_ns_allowed(k, chs[i].ns, &err))
            goto bad;
        if (commit_body(tc, &chs[i], false, &err)) goto bad;
        for (size_t j = 0; j < i; j++)
            if (strcmp(chs[j].ns, chs[i].ns) == 0 && strcmp(chs[j].name, chs[i].name) == 0) {
                ig_error_set(&err, IG_E_BAD_REQUEST, "table %s appears twice in one transaction",
                             chs[i].name);
                goto bad;
            }
    }
    if (commit_changes(k, chs, n, IG_OBJ_TABLE, &err)) goto bad;
    ig_metrics_commit(IG_COMMIT_OK);
    free(chs);
    json_object_put(req);
    return ig_http_no_content(k->r);
bad:
    free(chs);
    json_object_put(req);
    return commit_failed(k, &err);
}

