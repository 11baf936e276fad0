/* catalog/pending — metadata files made durable by the store's transaction, synced to their folder later.
 *
 * With catalog.metadata_sync: journal (the default, on a file:// warehouse) a commit does not sync its new
 * metadata file before the pointer swap.  It writes the file under a temp name and renames it into place as
 * before (a reader sees it whole, at once), and its bytes go into the store (meta_pending) in the swap's own
 * transaction.  That transaction's one sync is the commit point: when the 200 goes out, the pointer and the
 * bytes it points at are both on disk, in the store.  So a commit costs one sync instead of three (file,
 * folder, store), and a create one instead of five.
 *
 *   commit   write + rename (page cache) ─▶ swap + meta_pending rows (one sync) ─▶ 200
 *   flusher  every catalog.metadata_flush_ms: last seq ─▶ syncfs(warehouse) ─▶ forget rows <= seq (one sync)
 *   start    every row left: write the file again (temp, fsync, rename, fsync folders) ─▶ forget them all
 *
 * Any row was committed after its file was renamed, so a syncfs that starts after the row was read covers the
 * file.  A file the catalog deletes (write.metadata.delete-after-commit) may still be pending: it is deleted
 * only after the next flush has forgotten the rows, so a restart never writes it back.  A purge flushes
 * first, for the same reason.  An S3 warehouse (a PUT is durable when it returns) never journals. */
#include "catalog/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "warehouse/warehouse.h"

typedef struct {
    ig_catalog_t *c;
    int64_t restored, failed;
} restore_t;

static int restore_one(void *ud, const ig_meta_file_t *f)
{
    restore_t *r = ud;
    ig_error_t err = {0};
    if (ig_warehouse_restore(cat_wh_of(r->c, f->location), f->location, f->body, f->len, &err) == 0) {
        r->restored++;
    } else {
        r->failed++;
        ig_error("catalog: cannot write the pending metadata file %s again: %s", f->location, err.message);
    }
    return 0;
}

/* Writes back every pending file, then forgets them: a file already whole is written again all the same
 * (it may only be in the page cache of a process killed before its flush). */
static int restore_all(ig_catalog_t *c, ig_error_t *err)
{
    ig_store_t *st = c->store;
    int64_t last = 0;
    restore_t r = {.c = c};
    if (st->ops->meta_pending_last(st, &last, err)) return -1;
    if (last == 0) return 0;
    if (st->ops->meta_pending_each(st, restore_one, &r, err)) return -1;
    if (r.failed)
        return ig_error_set(err, IG_E_INTERNAL,
                            "%lld metadata files committed before a crash cannot be written again (see the "
                            "log): the start stops so that no table points at a missing file",
                            (long long)r.failed);
    if (st->ops->meta_pending_done(st, last, err)) return -1;
    ig_info("catalog: wrote again %lld metadata files a crash may have lost before they were synced",
            (long long)r.restored);
    return 0;
}

static void unlink_now(ig_catalog_t *c, const char *location)
{
    ig_error_t e;
    if (ig_warehouse_remove(cat_wh_of(c, location), location, &e) && ig_error_status(&e) != 404)
        ig_warn("catalog: cannot delete old metadata file %s: %s", location, e.message);
}

int cat_pending_flush(ig_catalog_t *c, ig_error_t *err)
{
    if (!c->lazy) return 0;
    ig_store_t *st = c->store;
    pthread_mutex_lock(&c->flush_mu);
    /* The deletions asked for so far: every file among them was kept pending (if at all) before this. */
    pthread_mutex_lock(&c->pend_mu);
    char **gone = c->unlinks;
    size_t ngone = c->nunlinks;
    bool dirty = c->pend_dirty;
    c->unlinks = NULL;
    c->nunlinks = c->capunlinks = 0;
    c->pend_dirty = false;
    pthread_mutex_unlock(&c->pend_mu);
    int64_t last = 0;
    int rc = 0;
    if (dirty || ngone) {
        rc = st->ops->meta_pending_last(st, &last, err);
        if (rc == 0 && last > 0) {
            for (int i = 0; rc == 0 && i < c->nwh; i++)
                if (c->whs[i].w->lazy) rc = ig_warehouse_sync(c->whs[i].w, err);
            ig_metrics_metadata_sync(rc == 0);
            if (rc == 0) rc = st->ops->meta_pending_done(st, last, err);
        }
    }
    for (size_t i = 0; i < ngone; i++) {
        if (rc == 0) unlink_now(c, gone[i]);
        else cat_pending_unlink(c, gone[i]); /* again after the next flush */
        free(gone[i]);
    }
    free(gone);
    if (rc) {
        pthread_mutex_lock(&c->pend_mu);
        c->pend_dirty = true;
        pthread_mutex_unlock(&c->pend_mu);
    }
    pthread_mutex_unlock(&c->flush_mu);
    return rc;
}

static void *flusher(void *arg)
{
    ig_catalog_t *c = arg;
    pthread_mutex_lock(&c->pend_mu);
    while (!c->pend_stop) {
        struct timespec until = ig_clock_deadline(c->flush_ms);
        while (!c->pend_stop && pthread_cond_timedwait(&c->pend_cv, &c->pend_mu, &until) != ETIMEDOUT) {
        }
        if (c->pend_stop || (!c->pend_dirty && c->nunlinks == 0)) continue;
        pthread_mutex_unlock(&c->pend_mu);
        ig_error_t err = {0};
        if (cat_pending_flush(c, &err))
            ig_error("catalog: the metadata files of the last commits are not synced yet (kept in the store, "
                     "tried again): %s",
                     err.message);
        pthread_mutex_lock(&c->pend_mu);
    }
    pthread_mutex_unlock(&c->pend_mu);
    return NULL;
}

int cat_pending_start(ig_catalog_t *c, const ig_config_t *cfg, ig_error_t *err)
{
    pthread_mutex_init(&c->pend_mu, NULL);
    pthread_cond_init(&c->pend_cv, NULL);
    pthread_mutex_init(&c->flush_mu, NULL);
    c->flush_ms = cfg->metadata_flush_ms;
    if (restore_all(c, err)) return -1;
    if (strcmp(cfg->metadata_sync, "journal") != 0) return 0;
    for (int i = 0; i < c->nwh; i++) /* S3: every PUT is durable already, it stays as it is */
        c->lazy |= ig_warehouse_set_lazy(c->whs[i].w, true) == 0;
    if (!c->lazy) return 0;
    c->flushing = pthread_create(&c->flusher, NULL, flusher, c) == 0;
    if (!c->flushing) {
        for (int i = 0; i < c->nwh; i++)
            if (c->whs[i].w->lazy) ig_warehouse_set_lazy(c->whs[i].w, false);
        c->lazy = false;
        ig_warn("catalog: no metadata flusher thread: every commit syncs its files itself");
    }
    return 0;
}

void cat_pending_stop(ig_catalog_t *c)
{
    if (c->flushing) {
        pthread_mutex_lock(&c->pend_mu);
        c->pend_stop = true;
        pthread_cond_signal(&c->pend_cv);
        pthread_mutex_unlock(&c->pend_mu);
        pthread_join(c->flusher, NULL);
        c->flushing = false;
    }
    ig_error_t err = {0};
    if (c->lazy && cat_pending_flush(c, &err))
        ig_warn("catalog: last metadata flush failed (the files are written again at the next start): %s",
                err.message);
    for (size_t i = 0; i < c->nunlinks; i++) free(c->unlinks[i]);
    free(c->unlinks);
    c->unlinks = NULL;
    c->nunlinks = c->capunlinks = 0;
}

void cat_pending_note(ig_catalog_t *c)
{
    pthread_mutex_lock(&c->pend_mu);
    c->pend_dirty = true;
    pthread_mutex_unlock(&c->pend_mu);
}

void cat_pending_unlink(ig_catalog_t *c, const char *location)
{
    if (!c->lazy) {
        unlink_now(c, location);
        return;
    }
    char *dup = strdup(location);
    pthread_mutex_lock(&c->pend_mu);
    if (dup && c->nunlinks == c->capunlinks) {
        size_t cap = c->capunlinks ? c->capunlinks * 2 : 16;
        char **v = realloc(c->unlinks, cap * sizeof *v);
        if (v) {
            c->unlinks = v;
            c->capunlinks = cap;
        }
    }
    bool kept = dup && c->nunlinks < c->capunlinks;
    if (kept) c->unlinks[c->nunlinks++] = dup;
    pthread_mutex_unlock(&c->pend_mu);
    if (!kept) { /* no memory to wait: the file stays (an orphan is better than one written back later) */
        ig_warn("catalog: out of memory: old metadata file %s is not deleted", location);
        free(dup);
    }
}

size_t cat_pending_files(const ig_catalog_t *c, const change_t *chs, size_t n, ig_meta_file_t *files)
{
    size_t nf = 0;
    for (size_t i = 0; c->lazy && i < n; i++) /* an S3 warehouse's file is durable already */
        if (chs[i].wh->lazy)
            files[nf++] = (ig_meta_file_t){.location = chs[i].next, .body = chs[i].body + chs[i].meta_off,
                                           .len = chs[i].meta_len};
    return nf;
}
