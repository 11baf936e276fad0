/* catalog/purge — dropTable?purgeRequested=true deletes the table's files after the answer, not in it.
 *
 * The drop and the queue entry of each of the table's locations are one store transaction (obj_drop with its
 * purges), so the 204 goes out at once and a crash never forgets a purge.  One thread here takes the oldest
 * entry, and for it:
 *   1. holds the location exclusively (loclock.c), so no create, commit or register writes there meanwhile;
 *   2. skips it when a live table or view has or had a location equal to, inside or above it (some files there
 *      may be that object's: a table created at the location since the drop, or an overlap the operator
 *      allowed) — logged, the files stay;
 *   3. syncs the metadata files still pending (pending.c), so a restart never writes one back into the
 *      folder it is about to delete;
 *   4. deletes the folder (ig_warehouse_purge: only under the location; idempotent, a missing one is done);
 *   5. takes the entry off the queue.
 * A failure (S3 down) keeps the entry and tries again after a back-off, 1 s doubling to 5 min.  Progress is in
 * the log (a line per purge) and /metrics (icegate_purges_total{result}). */
#include "catalog/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "warehouse/warehouse.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)

/* Deletes one queued location: 0 done (purged or skipped), -1 to try again later. */
static int purge_one(ig_catalog_t *c, const char *base)
{
    ig_store_t *st = c->store;
    ig_error_t err = {0};
    char who[512], dir[IG_LOCATION_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)strlen(base) - (base[0] && base[strlen(base) - 1] == '/'), base);
    const char *bases[1] = {base};
    if (cat_loc_lock(c, bases, 1, true)) return -1;
    int64_t t0 = ig_clock_mono_ns();
    int rc = 0, o = st->ops->obj_overlap(st, base, NULL, NULL, who, sizeof who, &err);
    if (o < 0) {
        ig_warn("catalog: purge of %s postponed: %s", dir, err.message);
        rc = -1;
    } else if (o > 0) {
        ig_warn("catalog: purge of %s skipped: it overlaps the location of %s", dir, who);
        ig_metrics_purge(IG_PURGE_SKIPPED);
    } else if (cat_pending_flush(c, &err) || ig_warehouse_purge(cat_wh_of(c, dir), dir, &err)) {
        ig_warn("catalog: purge of %s failed, tried again later: %s", dir, err.message);
        ig_metrics_purge(IG_PURGE_FAILED);
        rc = -1;
    } else {
        ig_info("catalog: purged %s (%.1f ms after it was taken)", dir, (double)(ig_clock_mono_ns() - t0) / 1e6);
        ig_metrics_purge(IG_PURGE_DONE);
    }
    cat_loc_unlock(c, bases, 1);
    return rc;
}

/* Waits up to ms, or until a drop kicks or the catalog stops; false once stopping. */
static bool nap(ig_catalog_t *c, int64_t ms)
{
    struct timespec until = ig_clock_deadline(ms);
    pthread_mutex_lock(&c->purge_mu);
    while (!c->purge_stop && !c->purge_kicked &&
           pthread_cond_timedwait(&c->purge_cv, &c->purge_mu, &until) != ETIMEDOUT) {
    }
    c->purge_kicked = false;
    bool go = !c->purge_stop;
    pthread_mutex_unlock(&c->purge_mu);
    return go;
}

static void *purger(void *arg)
{
    ig_catalog_t *c = arg;
    int64_t backoff = 0;
    char base[IG_LOCATION_MAX + 1];
    do {
        for (;;) {
            int64_t seq = 0;
            ig_error_t err = {0};
            int r = c->store->ops->purge_next(c->store, &seq, base, sizeof base, &err);
            if (r == IG_STORE_NOTFOUND) break;
            if (r == 0 && purge_one(c, base) == 0 && c->store->ops->purge_done(c->store, seq, &err) == 0) {
                backoff = 0;
                continue;
            }
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : BACKOFF_MIN_MS;
            break;
        }
    } while (nap(c, backoff ? backoff : 60 * 1000));
    return NULL;
}

int cat_purge_start(ig_catalog_t *c)
{
    c->purging = pthread_create(&c->purger, NULL, purger, c) == 0;
    return c->purging ? 0 : -1;
}

void cat_purge_kick(ig_catalog_t *c)
{
    pthread_mutex_lock(&c->purge_mu);
    c->purge_kicked = true;
    pthread_cond_signal(&c->purge_cv);
    pthread_mutex_unlock(&c->purge_mu);
}

void cat_purge_stop(ig_catalog_t *c)
{
    if (!c->purging) return;
    pthread_mutex_lock(&c->purge_mu);
    c->purge_stop = true;
    pthread_cond_signal(&c->purge_cv);
    pthread_mutex_unlock(&c->purge_mu);
    pthread_join(c->purger, NULL);
    c->purging = false;
}
