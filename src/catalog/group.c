/* catalog/group — group commit: commits that arrive while others are being made durable share one sync.
 *
 * A commit to one table or view (POST .../tables/{t} or .../views/{v}) is parsed on its worker thread, then
 * handed to a committer thread and its request suspended (ig_http_defer_to: no worker waits).  A committer
 * takes every commit queued at that moment as one batch:
 *
 *   1. the batch's tables are locked (their commit stripes, as any commit), and for each table its commits are
 *      applied one after another in memory, each on the metadata the one before produced (its requirements
 *      checked against that, exactly as if they had come one at a time; one that fails gets its 409 or 400
 *      and the others go on from the version before it);
 *   2. every new metadata file of the batch is written, then all are made durable at once
 *      (ig_warehouse_publish: one sync of the files, one of each folder), or, with catalog.metadata_sync:
 *      journal, only renamed into place (pending.c);
 *   3. one compare-and-set in the store moves each table from the version the batch started from to its
 *      last new version (one transaction, one sync; in journal mode the batch's files' bytes are in it);
 *   4. only then is each request woken and answered with its own new version.
 *
 * So n commits cost about three syncs (one in journal mode), not 3n, and nothing is acknowledged before it
 * is durable.  What the fast path does not take — a commit that creates the table (assert-create), moves it
 * (set-location, whose location the store must check), or lost the swap to another process — runs on its
 * own as before (cat_commit_locked), still inside the batch's locks.  Each committer thread has its lane:
 * the tables of its commit stripes, so committers work side by side on different tables and never queue on
 * each other's stripes (two committers on one table took turns unfairly: a batch could wait a second for
 * the other). */
#include "catalog/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "iceberg/tablemeta.h"
#include "iceberg/viewmeta.h"
#include "warehouse/warehouse.h"

#define QUEUE_MAX 4096 /* commits queued or in a batch at once, per lane; past it a commit runs on its worker */
#define BATCH_MAX 256

struct cat_job {
    struct cat_job *next;
    change_t ch;
    ig_obj_kind_t kind;
    json_object *req; /* the request body (ch.reqs and ch.updates point into it) */
    ig_wh_staged_t *staged;
    centry_t *entry; /* the response for the new version, held until it is sent (NULL: read from the cache) */
    bool alone;      /* goes the slow way (cat_commit_locked) */
    int rc;
    ig_error_t err;
    void *ticket;
    committer_t *queue;
};

/* ------------------------------------------------------------------ one table's commits, chained */

typedef struct {
    cat_job_t *first; /* this table's jobs in the batch, in arrival order, through gnext */
    json_object *meta; /* the version the chain has reached */
    char start[IG_LOCATION_MAX], at[IG_LOCATION_MAX]; /* the version it started from, and reached */
    char base[IG_LOCATION_MAX + 1];
    bool moved, locked;
} chain_t;

static void job_fail(cat_job_t *j, const ig_error_t *err)
{
    j->rc = -1;
    j->err = *err;
}

/* Reads the table's current version; 0, or -1 when the chain cannot start (every job goes alone). */
static int chain_start(call_t *k, chain_t *g, ig_obj_kind_t kind)
{
    cat_job_t *j = g->first;
    ig_error_t err = {0};
    if (k->st->ops->obj_get(k->st, j->ch.ns, j->ch.name, kind, NULL, g->start, sizeof g->start, &err)) return -1;
    centry_t *e = cat_load_entry(k->c, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, g->start, &err);
    if (!e) return -1;
    g->meta = cat_parse_meta(e->body + e->meta_off, e->meta_len, &err);
    cat_cache_release(&k->c->cache, e);
    if (!g->meta || cat_base_of(j->ch.wh, g->meta, g->base, &err)) return -1;
    const char *bases[1] = {g->base};
    if (cat_loc_lock(k->c, bases, 1, false)) return -1;
    g->locked = true;
    snprintf(g->at, sizeof g->at, "%s", g->start);
    return 0;
}

/* Applies job j on the chain's version and stages its file: 0, or -1 with j failed or set to go alone. */
static int chain_step(chain_t *g, cat_job_t *j)
{
    json_object *next = NULL;
    char base[IG_LOCATION_MAX + 1];
    ig_error_t err = {0};
    int64_t now = ig_clock_wall_ms();
    int rc = j->kind == IG_OBJ_VIEW ? ig_viewmeta_commit(g->meta, j->ch.reqs, j->ch.updates, now, &next, &err)
                                    : ig_tablemeta_commit(g->meta, g->at, j->ch.reqs, j->ch.updates, now, &next, &err);
    if (rc) {
        if (ig_error_status(&err) == 404) cat_no_object(&err, j->kind, j->ch.ns, j->ch.name);
        job_fail(j, &err);
        return -1;
    }
    if (cat_base_of(j->ch.wh, next, base, &err) || strcmp(base, g->base) != 0) {
        j->alone = true; /* a new location: the store checks it, on the slow path */
        json_object_put(next);
        return -1;
    }
    const char *text = ig_tablemeta_to_string(next);
    size_t tl = strlen(text);
    j->staged = cat_stage_metadata(j->ch.wh, next, ig_warehouse_next_version(g->at), text, tl, j->ch.next, &err);
    if (j->staged) j->ch.body = cat_build_body(j->ch.next, text, tl, &j->ch.len, &j->ch.meta_off);
    if (!j->staged || !j->ch.body) {
        if (j->staged) ig_error_set(&err, IG_E_INTERNAL, "out of memory");
        ig_warehouse_unstage(j->ch.wh, j->staged);
        j->staged = NULL;
        job_fail(j, &err);
        json_object_put(next);
        return -1;
    }
    j->ch.meta_len = tl;
    if (j->kind == IG_OBJ_TABLE) j->ch.drop = cat_dropped_files(g->meta, g->at, next);
    snprintf(j->ch.cur, sizeof j->ch.cur, "%s", g->at);
    snprintf(g->at, sizeof g->at, "%s", j->ch.next);
    json_object_put(g->meta);
    g->meta = next;
    return 0;
}

/* ------------------------------------------------------------------ a batch */

typedef struct {
    cat_job_t *v[BATCH_MAX];
    size_t n;
    chain_t g[BATCH_MAX];
    size_t ng;
    cat_job_t *gnext[BATCH_MAX]; /* per job index: the next job of its table */
} batch_t;

static size_t index_of(const batch_t *b, const cat_job_t *j)
{
    size_t i = 0;
    while (b->v[i] != j) i++;
    return i;
}

/* Sorts the jobs into one chain per table, in arrival order. */
static void group_jobs(batch_t *b)
{
    cat_job_t *last[BATCH_MAX];
    for (size_t i = 0; i < b->n; i++) {
        cat_job_t *j = b->v[i];
        size_t g = 0;
        while (g < b->ng && !(b->g[g].first->kind == j->kind && strcmp(b->g[g].first->ch.ns, j->ch.ns) == 0 &&
                              strcmp(b->g[g].first->ch.name, j->ch.name) == 0))
            g++;
        b->gnext[i] = NULL;
        if (g == b->ng) {
            memset(&b->g[g], 0, sizeof b->g[g]);
            b->g[g].first = j;
            b->ng++;
        } else {
            b->gnext[index_of(b, last[g])] = j;
        }
        last[g] = j;
    }
}

/* Stages every chain; returns how many staged files there are (into files). */
static size_t stage_all(call_t *k, batch_t *b, ig_wh_staged_t **files)
{
    size_t nf = 0;
    for (size_t g = 0; g < b->ng; g++) {
        chain_t *c = &b->g[g];
        bool ok = chain_start(k, c, c->first->kind) == 0;
        for (cat_job_t *j = c->first; j; j = b->gnext[index_of(b, j)]) {
            if (!ok) j->alone = true;
            else if (chain_step(c, j) == 0) files[nf++] = j->staged;
        }
        c->moved = strcmp(c->at, c->start) != 0;
    }
    return nf;
}

/* Publishes the batch's files, one group per warehouse: 0, or -1 with err (every file given back; those of
 * a warehouse published before the failure are visible, for the caller to remove). */
static int publish_all(batch_t *b, ig_error_t *err)
{
    ig_wh_staged_t *part[BATCH_MAX];
    ig_warehouse_t *done[IG_WAREHOUSES_MAX];
    size_t nd = 0;
    int rc = 0;
    for (size_t i = 0; i < b->n; i++) {
        ig_warehouse_t *w = b->v[i]->ch.wh;
        size_t d = 0, np = 0;
        while (d < nd && done[d] != w) d++;
        if (!b->v[i]->staged || d < nd || nd == IG_WAREHOUSES_MAX) continue;
        done[nd++] = w;
        for (size_t j = i; j < b->n; j++)
            if (b->v[j]->staged && b->v[j]->ch.wh == w) part[np++] = b->v[j]->staged;
        if (rc == 0) rc = ig_warehouse_publish(w, part, np, err);
        else
            while (np) ig_warehouse_unstage(w, part[--np]);
    }
    return rc;
}

/* Publishes the batch's files and swaps every moved table in one store transaction: 0, or -1 with err (the
 * files are gone then; a lost race is for the slow path). */
static int publish_and_swap(call_t *k, batch_t *b, ig_error_t *err)
{
    ig_obj_swap_t sw[BATCH_MAX];
    ig_meta_file_t pend[BATCH_MAX];
    size_t ns = 0, np = 0;
    int rc = publish_all(b, err);
    for (size_t i = 0; k->c->lazy && i < b->n; i++)
        if (b->v[i]->staged) np += cat_pending_files(k->c, &b->v[i]->ch, 1, &pend[np]);
    for (size_t g = 0; g < b->ng; g++)
        if (b->g[g].moved)
            sw[ns++] = (ig_obj_swap_t){.ns = b->g[g].first->ch.ns, .name = b->g[g].first->ch.name,
                                       .kind = b->g[g].first->kind, .expected_location = b->g[g].start,
                                       .new_location = b->g[g].at, .new_base = b->g[g].base};
    if (rc == 0 && (ns == 0 || k->st->ops->obj_swap(k->st, sw, ns, pend, np, err) == 0)) {
        if (np) cat_pending_note(k->c);
        return 0;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i]->staged) {
            ig_error_t e;
            ig_warehouse_remove(b->v[i]->ch.wh, b->v[i]->ch.next, &e);
        }
    return -1;
}

/* After the swap: old metadata files go, the new versions go to the cache (each job keeps its own to answer
 * with; only the last of a chain stays cached), the versions superseded are forgotten. */
static void settle(call_t *k, batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        cat_job_t *j = b->v[i];
        if (!j->staged) continue;
        j->staged = NULL;
        cat_delete_dropped(k->c, &j->ch);
        j->entry = cat_cache_put(&k->c->cache, j->kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, j->ch.next, j->ch.body,
                                 j->ch.len, j->ch.meta_off, j->ch.meta_len);
        j->ch.body = NULL;
        cat_cache_forget(&k->c->cache, j->ch.cur);
    }
    for (size_t g = 0; g < b->ng; g++)
        for (cat_job_t *j = b->g[g].first; j; j = b->gnext[index_of(b, j)])
            if (j->entry && strcmp(j->ch.next, b->g[g].at) != 0) cat_cache_forget(&k->c->cache, j->ch.next);
}

static void release_chains(call_t *k, batch_t *b)
{
    for (size_t g = 0; g < b->ng; g++) {
        const char *bases[1] = {b->g[g].base};
        if (b->g[g].locked) cat_loc_unlock(k->c, bases, 1);
        json_object_put(b->g[g].meta);
    }
}

static void run_batch(ig_catalog_t *c, batch_t *b)
{
    call_t k = {.c = c, .st = c->store};
    ig_wh_staged_t *files[BATCH_MAX];
    uint64_t set = 0;
    for (size_t i = 0; i < b->n; i++) set |= cat_stripe_bit(b->v[i]->ch.ns, b->v[i]->ch.name);
    for (int i = 0; i < COMMIT_STRIPES; i++)
        if (set >> i & 1) pthread_mutex_lock(&c->commit_mu[i]);
    group_jobs(b);
    size_t nf = stage_all(&k, b, files);
    ig_error_t err = {0};
    int rc = publish_and_swap(&k, b, &err);
    if (rc == 0) settle(&k, b);
    if (rc == 0 && nf) ig_metrics_commit_batch(nf);
    release_chains(&k, b);
    for (size_t i = 0; i < b->n; i++) {
        cat_job_t *j = b->v[i];
        if (rc && j->staged) { /* the batch's files are gone: a lost race goes alone, anything else fails */
            j->staged = NULL;
            free(j->ch.body);
            j->ch.body = NULL;
            json_object_put(j->ch.drop);
            j->ch.drop = NULL;
            if (err.kind == IG_E_COMMIT_FAILED) j->alone = true;
            else job_fail(j, &err);
        }
        if (j->alone && j->rc == 0) j->rc = cat_commit_locked(&k, &j->ch, 1, j->kind, &j->err);
    }
    for (int i = COMMIT_STRIPES - 1; i >= 0; i--)
        if (set >> i & 1) pthread_mutex_unlock(&c->commit_mu[i]);
}

/* ------------------------------------------------------------------ the committer threads */

static void *committer(void *arg)
{
    committer_t *q = arg;
    ig_catalog_t *c = q->c;
    batch_t *b = malloc(sizeof *b);
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping) pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        size_t n = 0;
        cat_job_t *taken[BATCH_MAX];
        while (q->head && n < (b ? BATCH_MAX : 1)) {
            taken[n++] = q->head;
            q->head = q->head->next;
        }
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        if (b) {
            memcpy(b->v, taken, n * sizeof taken[0]);
            b->n = n;
            b->ng = 0;
            run_batch(c, b);
        } else { /* no memory for a batch: one at a time, the slow way */
            call_t k = {.c = c, .st = c->store};
            taken[0]->rc = cat_commit_locked(&k, &taken[0]->ch, 1, taken[0]->kind, &taken[0]->err);
        }
        pthread_mutex_lock(&q->mu);
        q->count -= n;
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; i < n; i++) ig_http_defer_done(taken[i]->ticket, true); /* never touched after */
    }
    free(b);
    return NULL;
}

int cat_group_start(ig_catalog_t *c, int threads)
{
    if (threads > GROUP_THREADS_MAX) threads = GROUP_THREADS_MAX;
    for (int i = 0; i < threads; i++) {
        committer_t *q = &c->lanes[i];
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->cv, NULL);
        q->c = c;
        c->nlanes++;
        q->running = pthread_create(&q->thread, NULL, committer, q) == 0;
        if (!q->running) q->stopping = true; /* a lane without its thread takes nothing */
    }
    return c->nlanes > 0 && c->lanes[0].running ? 0 : -1;
}

void cat_group_stop(ig_catalog_t *c)
{
    for (int i = 0; i < c->nlanes; i++) {
        committer_t *q = &c->lanes[i];
        pthread_mutex_lock(&q->mu);
        q->stopping = true;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    for (int i = 0; i < c->nlanes; i++)
        if (c->lanes[i].running) {
            pthread_join(c->lanes[i].thread, NULL);
            c->lanes[i].running = false;
        }
}

void cat_group_free(ig_catalog_t *c)
{
    cat_group_stop(c);
    for (int i = 0; i < c->nlanes; i++) {
        pthread_mutex_destroy(&c->lanes[i].mu);
        pthread_cond_destroy(&c->lanes[i].cv);
    }
    c->nlanes = 0;
}

/* ------------------------------------------------------------------ the request's side */

static void submit(void *arg, void *ticket)
{
    cat_job_t *j = arg;
    committer_t *q = j->queue;
    j->ticket = ticket;
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    bool stopping = q->stopping;
    if (stopping) {
        q->count--;
    } else {
        if (q->tail) q->tail->next = j;
        else q->head = j;
        q->tail = j;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (stopping) ig_http_defer_done(ticket, false);
}

static void job_release(void *arg)
{
    cat_job_t *j = arg;
    json_object_put(j->req);
    free(j->ch.body);
    json_object_put(j->ch.drop);
    if (j->entry) cat_cache_release(j->entry->cache, j->entry);
    free(j);
}

bool cat_group_offer(call_t *k, ig_obj_kind_t kind, json_object *req, const change_t *ch, ig_res_t *res)
{
    if (k->c->nlanes == 0) return false;
    uint64_t bit = cat_stripe_bit(ch->ns, ch->name);
    committer_t *q = &k->c->lanes[(size_t)__builtin_ctzll(bit) % (size_t)k->c->nlanes];
    pthread_mutex_lock(&q->mu);
    bool room = !q->stopping && q->count < QUEUE_MAX;
    if (room) q->count++;
    pthread_mutex_unlock(&q->mu);
    cat_job_t *j = room ? calloc(1, sizeof *j) : NULL;
    if (j) {
        j->ch = *ch;
        j->kind = kind;
        j->req = req;
        j->queue = q;
        if (ig_http_defer_to(k->r, res, submit, j, job_release)) return true;
        free(j);
    }
    if (room) {
        pthread_mutex_lock(&q->mu);
        q->count--;
        pthread_mutex_unlock(&q->mu);
    }
    return false;
}

ig_res_t cat_group_answer(call_t *k, ig_obj_kind_t kind, void *deferred, bool ran)
{
    cat_job_t *j = deferred;
    char variant = kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL;
    if (!ran) {
        ig_metrics_commit(IG_COMMIT_FAILED);
        ig_http_add_header(k->r, "Retry-After", "1");
        return ig_http_error(k->r, IG_E_UNAVAILABLE, "the server is stopping: the commit was not applied, retry");
    }
    if (j->rc) {
        ig_metrics_commit(j->err.kind == IG_E_COMMIT_FAILED ? IG_COMMIT_CONFLICT : IG_COMMIT_FAILED);
        return ig_http_error_from(k->r, &j->err);
    }
    ig_metrics_commit(IG_COMMIT_OK);
    return j->entry ? cat_send_cached(k, j->entry, variant) : cat_send_object(k, variant, j->ch.next, false);
}
