/* catalog/loclock — creates, commits and purges at one location are ordered (DESIGN.md §6).
 *
 * A purge deletes a folder; a create or commit writes a metadata file into one and then swaps the store's
 * pointer to it.  If a purge of L ran between the write and the swap of a new table at L, the table would be
 * created with its metadata file already gone.  So writers hold their location shared from before the write
 * until after the swap, and the purger (purge.c) holds a location exclusively from before its overlap check
 * until the files are gone: a writer at L waits for a purge of L (and the purge then sees the new object live and keeps L) or the
 * purge waits for the writer.  Writers never wait for each other (the store's compare-and-set orders them).
 *
 * Locations are canonical with a trailing '/', so two overlap when one is a prefix of the other.  The purger
 * takes one location at a time and never waits holding one; a writer waits only on purges; so nothing deadlocks.
 * One mutex for the whole catalog, but only mutations come here, never a load. */
#include "catalog/internal.h"

#include <stdlib.h>
#include <string.h>

static bool overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

/* True when one of bases[0..n) overlaps a held location it cannot share. */
static bool conflicts(const loclocks_t *l, const char *const *bases, size_t n, bool excl)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(bases[i]);
        for (size_t j = 0; j < l->n; j++)
            if ((excl || l->v[j].excl) && overlap(bases[i], len, l->v[j].base, l->v[j].len)) return true;
    }
    return false;
}

int cat_loc_lock(ig_catalog_t *c, const char *const *bases, size_t n, bool excl)
{
    loclocks_t *l = &c->locs;
    pthread_mutex_lock(&l->mu);
    while (conflicts(l, bases, n, excl)) pthread_cond_wait(&l->cv, &l->mu);
    if (l->n + n > l->cap) {
        size_t cap = (l->n + n) * 2;
        loc_hold_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&l->mu);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    for (size_t i = 0; i < n; i++) l->v[l->n++] = (loc_hold_t){bases[i], strlen(bases[i]), excl};
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void cat_loc_unlock(ig_catalog_t *c, const char *const *bases, size_t n)
{
    loclocks_t *l = &c->locs;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < l->n; j++)
            if (l->v[j].base == bases[i]) {
                l->v[j] = l->v[--l->n];
                break;
            }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void cat_loc_init(ig_catalog_t *c)
{
    pthread_mutex_init(&c->locs.mu, NULL);
    pthread_cond_init(&c->locs.cv, NULL);
}

void cat_loc_free(ig_catalog_t *c)
{
    pthread_mutex_destroy(&c->locs.mu);
    pthread_cond_destroy(&c->locs.cv);
    free(c->locs.v);
}

int cat_base_of(ig_warehouse_t *wh, json_object *meta, char *base, ig_error_t *err)
{
    const char *loc = cat_meta_str(meta, "location");
    if (!loc) return ig_error_set(err, IG_E_BAD_REQUEST, "metadata has no location");
    if (ig_warehouse_canonical(wh, loc, base, IG_LOCATION_MAX, err)) return -1;
    size_t n = strlen(base);
    base[n] = '/';
    base[n + 1] = '\0';
    return 0;
}
