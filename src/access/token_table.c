/* token_table — see token_table.h.
 *
 * The table is open addressing over the first 8 bytes of the SHA-256 (already uniform), with slots holding
 * pointers to immutable ig_token_entry_t.  Readers load slots with acquire semantics and never write; all writers
 * are serialised by one mutex (writes are admin actions, rare next to reads).  Deleting leaves a tombstone
 * so probe chains stay intact; a rebuild (on growth or when tombstones pile up) copies live entries into a
 * fresh table and swaps the table pointer.
 *
 * Reclamation is epoch based: each reading thread owns a padded slot where it publishes the global epoch on
 * entry and zero on exit.  A writer that unlinks something stamps it with the current epoch and advances the
 * epoch; it is freed once every active reader has published a later epoch.  Readers therefore pay two
 * uncontended stores per request and never wait. */
#include "access/token_table.h"
#include "access/journal.h"
#include "core/clock.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/users.h"
#include "core/log.h"
#include "core/util.h"

/* ------------------------------------------------------------------ epochs */

#define EBR_SLOTS 512

typedef struct {
    alignas(64) _Atomic uint64_t epoch; /* 0 = not reading */
    _Atomic int owned;                  /* a live thread holds this slot */
} ebr_slot_t;

static ebr_slot_t readers[EBR_SLOTS];
static _Atomic uint64_t global_epoch = 1;
static _Thread_local int my_reader = -1;
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

/* A thread's slot goes back to the pool when the thread exits, so threads may come and go freely. */
static void release_reader(void *p)
{
    int i = (int)(intptr_t)p - 1;
    atomic_store(&readers[i].epoch, 0);
    atomic_store(&readers[i].owned, 0);
}

static void make_reader_key(void)
{
    if (pthread_key_create(&reader_key, release_reader) != 0) abort();
}

void ig_token_table_read_begin(void)
{
    if (my_reader < 0) { /* first read on this thread: claim a free slot */
        pthread_once(&reader_once, make_reader_key);
        for (int i = 0; i < EBR_SLOTS && my_reader < 0; i++) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&readers[i].owned, &expected, 1)) my_reader = i;
        }
        if (my_reader < 0) {
            ig_error("fatal: more than %d threads read the token table at once", EBR_SLOTS);
            abort();
        }
        pthread_setspecific(reader_key, (void *)(intptr_t)(my_reader + 1));
    }
    atomic_store(&readers[my_reader].epoch, atomic_load(&global_epoch));
}

void ig_token_table_read_end(void)
{
    atomic_store_explicit(&readers[my_reader].epoch, 0, memory_order_release);
}

typedef struct retired {
    struct retired *next;
    uint64_t epoch;
    void *ptr;
} retired_t;

/* ------------------------------------------------------------------ table */

#define TOMB ((ig_token_entry_t *)(uintptr_t)1)

typedef struct {
    size_t cap; /* power of two */
    _Atomic(ig_token_entry_t *) slots[];
} table_t;

struct ig_token_table {
    ig_store_t *store;
    bool serving; /* in the server: keep the in-memory table (the CLI only writes the store) */
    bool rl_enabled;
    bool events; /* changes also write their webhook event (notifications.webhook.url is set) */
    pthread_mutex_t wmu; /* serialises writers */
    _Atomic(table_t *) table;
    size_t used;  /* live + tombstones */
    size_t count; /* records in the table (tombstones included) */
    size_t dead;  /* of which tombstones */
    size_t aliases; /* of which previous secrets of rotated tokens */
    bool loading;   /* ig_token_table_load is running */
    int64_t seq;  /* highest store seq applied */
    bool resync;  /* the last sync saw a change but could not read it: read again without asking changed() */
    _Atomic int64_t confirmed_ms; /* ig_token_table_confirmed_ms */
    void (*on_change)(void *ud, int64_t seq);
    void *on_change_ud;
    retired_t *retired;
    ig_token_runtime_t *free_states; /* unused states of the slabs, chained via ->stats; a state lives as long as
                                   the process (a deleted token's tombstone keeps it) */
    struct slab **slabs;
    size_t nslabs;
};

/* States come in slabs.  A slab also holds a dirty bit per state (set by the request path when a token's
 * last use changes, cleared by the flusher) and the token id of each state, so flushing last-use data visits
 * only the tokens used since the last flush instead of walking the whole table.  Slabs are aligned to
 * SLAB_ALIGN, so a state finds its slab by masking its own address. */
#define STATES_PER_SLAB 4096
#define SLAB_ALIGN (512 * 1024)
#define SLAB_ID_LEN IG_TOKEN_ID_LEN

typedef struct slab {
    ig_token_runtime_t states[STATES_PER_SLAB];
    _Atomic uint64_t dirty[STATES_PER_SLAB / 64];
    char ids[STATES_PER_SLAB][SLAB_ID_LEN];
} slab_t;
_Static_assert(sizeof(slab_t) <= SLAB_ALIGN, "a slab must fit its alignment");
_Static_assert(sizeof(ig_token_runtime_t) == 64, "a token's mutable state is one cache line");

static slab_t *slab_of(const ig_token_runtime_t *s)
{
    return (slab_t *)((uintptr_t)s & ~(uintptr_t)(SLAB_ALIGN - 1));
}

/* Caller holds wmu. */
static ig_token_runtime_t *state_alloc(ig_token_table_t *ts)
{
    if (!ts->free_states) {
        /* Pages of the slab are touched only as states are handed out. */
        slab_t *slab = aligned_alloc(SLAB_ALIGN, SLAB_ALIGN);
        slab_t **slabs = realloc(ts->slabs, (ts->nslabs + 1) * sizeof *slabs);
        if (!slab || !slabs) {
            ig_error("fatal: out of memory for token state");
            abort();
        }
        ts->slabs = slabs;
        ts->slabs[ts->nslabs++] = slab;
        for (size_t i = 0; i < STATES_PER_SLAB / 64; i++) atomic_init(&slab->dirty[i], 0);
        for (size_t i = STATES_PER_SLAB; i-- > 0;) {
            atomic_init(&slab->states[i].stats, (ig_token_history_t *)ts->free_states);
            ts->free_states = &slab->states[i];
        }
    }
    ig_token_runtime_t *s = ts->free_states;
    ts->free_states = (ig_token_runtime_t *)atomic_load(&s->stats);
    memset(s, 0, sizeof *s);
    return s;
}


static uint64_t hkey(const uint8_t h[32])
{
    uint64_t k;
    memcpy(&k, h, sizeof k);
    return k;
}

static table_t *table_new(size_t cap)
{
    table_t *t = calloc(1, sizeof *t + cap * sizeof t->slots[0]);
    if (!t) {
        ig_error("fatal: out of memory for the token table");
        abort();
    }
    t->cap = cap;
    return t;
}

const ig_token_entry_t *ig_token_table_find(ig_token_table_t *ts, const uint8_t hash[32])
{
    table_t *t = atomic_load(&ts->table);
    size_t mask = t->cap - 1;
    for (size_t i = hkey(hash) & mask;; i = (i + 1) & mask) {
        ig_token_entry_t *m = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (!m) return NULL;
        if (m != TOMB && memcmp(m->hash, hash, 32) == 0) return m;
    }
}

/* Caller holds wmu. */
static void retire(ig_token_table_t *ts, void *ptr)
{
    retired_t *r = malloc(sizeof *r);
    if (!r) abort();
    r->ptr = ptr;
    r->epoch = atomic_load(&global_epoch);
    r->next = ts->retired;
    ts->retired = r;
    atomic_fetch_add(&global_epoch, 1);
}

void ig_token_table_reclaim(ig_token_table_t *ts)
{
    pthread_mutex_lock(&ts->wmu);
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < EBR_SLOTS; i++) {
        uint64_t e = atomic_load(&readers[i].epoch);
        if (e && e < min) min = e;
    }
    for (retired_t **pp = &ts->retired; *pp;) {
        retired_t *r = *pp;
        if (r->epoch < min) {
            *pp = r->next;
            free(r->ptr);
            free(r);
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&ts->wmu);
}

/* Rebuilds into a table sized for the live entries.  Caller holds wmu. */
static void rebuild(ig_token_table_t *ts, size_t want_live)
{
    table_t *old = atomic_load(&ts->table);
    size_t cap = 1024;
    while (cap < want_live * 2) cap <<= 1;
    table_t *nt = table_new(cap);
    for (size_t i = 0; i < old->cap; i++) {
        ig_token_entry_t *m = atomic_load(&old->slots[i]);
        if (!m || m == TOMB) continue;
        size_t j = hkey(m->hash) & (cap - 1);
        while (atomic_load(&nt->slots[j])) j = (j + 1) & (cap - 1);
        atomic_store(&nt->slots[j], m);
    }
    atomic_store(&ts->table, nt);
    ts->used = ts->count;
    retire(ts, old);
}

/* Inserts or replaces m (by hash).  Takes ownership of m.  Caller holds wmu.  Returns whether m is new. */
static bool put(ig_token_table_t *ts, ig_token_entry_t *m)
{
    table_t *t = atomic_load(&ts->table);
    size_t mask = t->cap - 1, tomb = SIZE_MAX;
    for (size_t i = hkey(m->hash) & mask;; i = (i + 1) & mask) {
        ig_token_entry_t *cur = atomic_load(&t->slots[i]);
        if (cur == TOMB) {
            if (tomb == SIZE_MAX) tomb = i;
            continue;
        }
        if (!cur) {
            if (tomb != SIZE_MAX) {
                i = tomb;
            } else {
                ts->used++;
            }
            atomic_store_explicit(&t->slots[i], m, memory_order_release);
            ts->count++;
            break;
        }
        if (memcmp(cur->hash, m->hash, 32) == 0) {
            atomic_store_explicit(&t->slots[i], m, memory_order_release);
            retire(ts, cur); /* the state is shared with m and stays */
            return false;
        }
    }
    if (ts->used * 10 > t->cap * 7) rebuild(ts, ts->count + 1);
    return true;
}

int ig_token_effective_burst(const ig_token_row_t *t)
{
    if (t->burst > 0) return t->burst;
    if (t->max_rps <= 0) return 1;
    double c = ceil(t->max_rps);
    return c < 1 ? 1 : c > 1e9 ? 1000000000 : (int)c;
}

void ig_format_rate(double r, char *buf, size_t cap)
{
    /* Fixed notation: %g would print 1000 as "1e+03" in a 429 message.  Rates are <= 1e6, so the digits fit. */
    for (int decimals = 0; decimals <= 17; decimals++) {
        snprintf(buf, cap, "%.*f", decimals, r);
        if (strtod(buf, NULL) == r) return;
    }
    snprintf(buf, cap, "%.17g", r);
}

/* Builds the in-memory version of rec, reusing state when given.  Caller holds wmu. */
static ig_token_entry_t *make_mem(ig_token_table_t *ts, const ig_token_row_t *rec, ig_token_runtime_t *state)
{
    size_t nl = strlen(rec->name) + 1, ol = strlen(rec->owner) + 1;
    ig_cidr_t cidrs[IG_TOKEN_CIDRS_MAX];
    int nc = rec->allowed_cidrs[0] ? ig_cidr_list_parse(rec->allowed_cidrs, cidrs, IG_TOKEN_CIDRS_MAX) : 0;
    if (nc < 0) { /* written canonical by this code: only a hand-edited store gets here; refuse everywhere */
        ig_warn("tokens: %s has unreadable allowedCidrs '%.100s': refused from every address", rec->id,
                rec->allowed_cidrs);
        memset(&cidrs[0], 0, sizeof cidrs[0]);
        cidrs[0].bits = 128; /* :: only, which no client has */
        nc = 1;
    }
    size_t nsl = strlen(rec->namespaces);
    ig_token_entry_t *m = malloc(sizeof *m + nl + ol + (size_t)nc * sizeof(ig_cidr_t) + (nsl ? nsl + 1 : 0));
    if (!m) {
        ig_error("fatal: out of memory for the token table");
        abort();
    }
    memset(m, 0, sizeof *m);
    bool fresh = !state;
    if (fresh) {
        state = state_alloc(ts);
        atomic_store(&state->last_used_ms, rec->last_used_at_ms);
    }
    slab_t *sl = slab_of(state);
    char *id = sl->ids[state - sl->states];
    if (fresh) ig_strlcpy(id, rec->id, SLAB_ID_LEN);
    m->id = id;
    m->state = state;
    memcpy(m->hash, rec->hash, 32);
    m->suspended = rec->suspended;
    m->suspended_by = (uint8_t)rec->suspended_by_role;
    m->max_rps_set_by = (uint8_t)rec->max_rps_set_by;
    m->expires_at_ms = rec->expires_at_ms;
    if (rec->expires_at_ms) ig_rfc3339_format(rec->expires_at_ms, m->expires_text, sizeof m->expires_text);
    m->rotated_at_ms = rec->rotated_at_ms;
    m->scopes = rec->scopes;
    m->shadow = rec->rate_limit_shadow;
    m->seq = rec->seq;
    m->limited = ts->rl_enabled && rec->max_rps > 0 &&
                 ig_gcra_params_init(&m->params, rec->max_rps, ig_token_effective_burst(rec)) == 0;
    memcpy(m->name, rec->name, nl);
    memcpy(m->name + nl, rec->owner, ol);
    m->owner = m->name + nl;
    m->ncidrs = (uint8_t)nc;
    if (nc) { /* byte-aligned, so right after the names */
        ig_cidr_t *tail = (ig_cidr_t *)(void *)(m->name + nl + ol);
        memcpy(tail, cidrs, (size_t)nc * sizeof(ig_cidr_t));
        m->cidrs = tail;
    }
    if (nsl) {
        char *ns = m->name + nl + ol + (size_t)nc * sizeof(ig_cidr_t);
        memcpy(ns, rec->namespaces, nsl + 1);
        m->ns = ns;
        m->ns_len = (uint16_t)nsl;
    }
    return m;
}

/* The current (not alias) version of token id, or NULL: a walk of the table, only when a rotation made the
 * hash we know it by unknown (another process rotated it).  Caller holds wmu. */
static const ig_token_entry_t *find_by_id(ig_token_table_t *ts, const char *id)
{
    table_t *t = atomic_load(&ts->table);
    for (size_t i = 0; i < t->cap; i++) {
        ig_token_entry_t *m = atomic_load(&t->slots[i]);
        if (m && m != TOMB && !m->alias && strcmp(m->id, id) == 0) return m;
    }
    return NULL;
}

/* Puts a previous secret of rec's token (a copy of its current version under hash, working until until_ms;
 * a secret two rotations old gets until 0: refused at once).  Caller holds wmu. */
static void put_alias(ig_token_table_t *ts, const ig_token_row_t *rec, const uint8_t hash[32], int64_t until_ms,
                      ig_token_runtime_t *state)
{
    ig_token_entry_t *a = make_mem(ts, rec, state);
    memcpy(a->hash, hash, 32);
    a->alias = true;
    a->alias_until_ms = until_ms;
    a->deleted = rec->deleted;
    const ig_token_entry_t *was = ig_token_table_find(ts, hash); /* the token's old current version, often */
    bool counted = was && was->alias;
    put(ts, a);
    if (!counted) ts->aliases++;
}

/* After a rotation, the secrets the token had before (cur's, the version we knew) that rec no longer names
 * work no more: each is kept as an alias refused at once, so it gets "rotated", not "unknown". */
static void retire_secrets(ig_token_table_t *ts, const ig_token_row_t *rec, const ig_token_entry_t *cur,
                           const uint8_t cur_prev[32], bool cur_has_prev)
{
    const uint8_t *old[2] = {cur->hash, cur_has_prev ? cur_prev : NULL};
    ig_token_runtime_t *state = cur->state;
    for (int i = 0; i < 2; i++)
        if (old[i] && memcmp(old[i], rec->hash, 32) != 0 && !(rec->has_prev && memcmp(old[i], rec->prev_hash, 32) == 0))
            put_alias(ts, rec, old[i], 0, state);
}

/* Applies a store record (insert, update or tombstone) to the table, unless it is older than what we have.
 * Only sync() advances ts->seq: our own writes are applied here at once, but a concurrent write by another
 * process may have a lower seq that sync() has yet to read.  A rotated token is found by id when its new
 * hash is new to us; its previous secret is an alias entry sharing its state (limit cell, usage). */
static void apply(ig_token_table_t *ts, const ig_token_row_t *rec)
{
    if (!ts->serving) return;
    pthread_mutex_lock(&ts->wmu);
    const ig_token_entry_t *cur = ig_token_table_find(ts, rec->hash);
    bool rotated = false;
    /* (not while loading: every row is new then, and a walk per rotated token would make the load quadratic) */
    if (!cur && rec->rotated_at_ms && !ts->loading && (cur = find_by_id(ts, rec->id))) rotated = true;
    if (!cur || cur->seq < rec->seq) {
        uint8_t cur_prev[32];
        bool cur_has_prev = false;
        if (rotated) { /* the secrets cur knew: its own hash, and the alias it may have had */
            const ig_token_entry_t *p = NULL;
            table_t *t = atomic_load(&ts->table);
            for (size_t i = 0; !p && i < t->cap; i++) {
                ig_token_entry_t *m = atomic_load(&t->slots[i]);
                if (m && m != TOMB && m->alias && m->state == cur->state && m->alias_until_ms) p = m;
            }
            if (p) {
                memcpy(cur_prev, p->hash, 32);
                cur_has_prev = true;
            }
        }
        if (cur && cur->deleted) {
            /* deleted is final: nothing brings a token back */
        } else if (rec->deleted) {
            /* Keep a tombstone carrying the deletion's seq: a copy of the row read before the delete (by a
             * concurrent sync) is older and so cannot resurrect the token. */
            ig_token_entry_t *m = make_mem(ts, rec, cur ? cur->state : NULL);
            m->deleted = true;
            m->limited = false;
            ts->dead++;
            put(ts, m);
            if (rec->has_prev) put_alias(ts, rec, rec->prev_hash, 0, m->state);
        } else {
            ig_token_entry_t *m = make_mem(ts, rec, cur ? cur->state : NULL);
            if (cur && m->limited &&
                (!cur->limited || cur->params.emission_ns != m->params.emission_ns ||
                 cur->params.tolerance_ns != m->params.tolerance_ns))
                ig_gcra_rescale(&m->state->cell, cur->limited ? &cur->params : NULL, &m->params,
                                     ig_clock_mono_ns());
            if (rotated) retire_secrets(ts, rec, cur, cur_prev, cur_has_prev); /* cur stays readable: retired */
            ig_token_runtime_t *state = m->state;
            put(ts, m);
            /* A grace of 0 ends the old secret exactly now, whatever the coarse clock of the request path says. */
            int64_t until = rec->prev_valid_until_ms > rec->rotated_at_ms ? rec->prev_valid_until_ms : 0;
            if (rec->has_prev) put_alias(ts, rec, rec->prev_hash, until, state);
        }
    }
    pthread_mutex_unlock(&ts->wmu);
}



ig_token_table_t *ig_token_table_new(ig_store_t *st, bool serving, bool ratelimiter_enabled)
{
    ig_token_table_t *ts = calloc(1, sizeof *ts);
    if (!ts) return NULL;
    ts->store = st;
    ts->serving = serving;
    ts->rl_enabled = ratelimiter_enabled;
    pthread_mutex_init(&ts->wmu, NULL);
    atomic_store(&ts->table, table_new(1024));
    return ts;
}

void ig_token_table_free(ig_token_table_t *ts)
{
    if (!ts) return;
    table_t *t = atomic_load(&ts->table);
    for (size_t i = 0; i < t->cap; i++) {
        ig_token_entry_t *m = atomic_load(&t->slots[i]);
        if (m && m != TOMB) {
            if (!m->alias) free(atomic_load(&m->state->stats)); /* an alias shares its token's */
            free(m);
        }
    }
    free(t);
    while (ts->retired) {
        retired_t *r = ts->retired;
        ts->retired = r->next;
        free(r->ptr);
        free(r);
    }
    for (size_t i = 0; i < ts->nslabs; i++) free(ts->slabs[i]);
    free(ts->slabs);
    pthread_mutex_destroy(&ts->wmu);
    free(ts);
}

void ig_token_table_set_events(ig_token_table_t *ts, bool on)
{
    ts->events = on;
}

bool ig_token_table_ratelimiter_enabled(const ig_token_table_t *ts)
{
    return ts->rl_enabled;
}

size_t ig_token_table_count(ig_token_table_t *ts)
{
    pthread_mutex_lock(&ts->wmu);
    size_t n = ts->count - ts->dead - ts->aliases;
    pthread_mutex_unlock(&ts->wmu);
    return n;
}

void ig_token_table_walk(ig_token_table_t *ts, int (*cb)(void *ud, const ig_token_entry_t *m), void *ud)
{
    ig_token_table_read_begin();
    table_t *t = atomic_load(&ts->table);
    for (size_t i = 0; i < t->cap; i++) {
        ig_token_entry_t *m = atomic_load(&t->slots[i]);
        if (m && m != TOMB && !m->deleted && !m->alias && cb(ud, m)) break;
    }
    ig_token_table_read_end();
}

static int metrics_line(void *ud, const ig_token_entry_t *m)
{
    ig_buf_t *sb = ud;
    uint64_t r = atomic_load(&m->state->requests), l = atomic_load(&m->state->limited);
    if (r == 0) return 0;
    ig_buf_printf(sb, "icegate_token_requests_total{token_id=\"%s\"} %llu\n", m->id, (unsigned long long)r);
    ig_buf_printf(sb, "icegate_token_rate_limited_total{token_id=\"%s\"} %llu\n", m->id, (unsigned long long)l);
    ig_token_history_t *hist = atomic_load(&m->state->stats);
    uint64_t sh = hist ? atomic_load(&hist->shadow_total) : 0;
    if (sh)
        ig_buf_printf(sb, "icegate_token_rate_shadow_limited_total{token_id=\"%s\"} %llu\n", m->id,
                      (unsigned long long)sh);
    uint64_t h = atomic_load(&m->state->held);
    if (h)
        ig_buf_printf(sb, "icegate_token_rate_held_total{token_id=\"%s\"} %llu\n", m->id,
                      (unsigned long long)IG_HELD_TOTAL(h));
    return 0;
}

void ig_token_table_render_metrics(ig_token_table_t *ts, ig_buf_t *sb)
{
    ig_buf_printf(sb, "# HELP icegate_access_tokens Access tokens loaded.\n# TYPE icegate_access_tokens gauge\n"
                      "icegate_access_tokens %zu\n",
                  ig_token_table_count(ts));
    ig_buf_printf(sb, "# HELP icegate_token_requests_total Authenticated requests per access token.\n"
                      "# TYPE icegate_token_requests_total counter\n"
                      "# HELP icegate_token_rate_limited_total Requests refused with 429 per access token.\n"
                      "# TYPE icegate_token_rate_limited_total counter\n"
                      "# HELP icegate_token_rate_held_total Requests held to their slot per access token "
                      "(ratelimiter.max_delay_ms).\n# TYPE icegate_token_rate_held_total counter\n"
                      "# HELP icegate_token_rate_shadow_limited_total Requests over the Max RPS of a token in shadow "
                      "mode, served (would-be 429s).\n# TYPE icegate_token_rate_shadow_limited_total counter\n");
    ig_token_table_walk(ts, metrics_line, sb);
}

static int load_cb(void *ud, const ig_token_row_t *rec)
{
    ig_token_table_t *ts = ud;
    apply(ts, rec);
    pthread_mutex_lock(&ts->wmu);
    if (rec->seq > ts->seq) ts->seq = rec->seq;
    pthread_mutex_unlock(&ts->wmu);
    return 0;
}

int64_t ig_token_table_confirmed_ms(const ig_token_table_t *ts)
{
    return atomic_load_explicit(&ts->confirmed_ms, memory_order_relaxed);
}

int64_t ig_token_table_seq(ig_token_table_t *ts)
{
    pthread_mutex_lock(&ts->wmu);
    int64_t seq = ts->seq;
    pthread_mutex_unlock(&ts->wmu);
    return seq;
}

void ig_token_table_on_change(ig_token_table_t *ts, void (*fn)(void *ud, int64_t seq), void *ud)
{
    ts->on_change_ud = ud;
    ts->on_change = fn;
}

/* A change this process wrote, committed: into the table, and announced. */
static void applied(ig_token_table_t *ts, const ig_token_row_t *rec)
{
    apply(ts, rec);
    if (ts->on_change) ts->on_change(ts->on_change_ud, rec->seq);
}

int ig_token_table_load(ig_token_table_t *ts, ig_error_t *err)
{
    int64_t max = 0, t0 = ig_clock_wall_ms();
    /* Changes since 0 = every row, tombstones included (they are skipped by apply). */
    ts->loading = true;
    int rc = ts->store->ops->token_changes(ts->store, 0, load_cb, ts, &max, err);
    ts->loading = false;
    ig_token_table_reclaim(ts);
    if (rc == 0) atomic_store_explicit(&ts->confirmed_ms, t0, memory_order_relaxed);
    return rc;
}

int ig_token_table_sync(ig_token_table_t *ts)
{
    /* changed() consumes the change it reports (SQLite's data_version is read once), so a read that fails
     * (the store busy or down) must be retried at the next poll, or the change would wait for the next one. */
    int64_t t0 = ig_clock_wall_ms();
    int changed = ts->resync ? 1 : ts->store->ops->changed(ts->store);
    if (changed == 0) atomic_store_explicit(&ts->confirmed_ms, t0, memory_order_relaxed);
    if (changed <= 0) return changed;
    ig_error_t err;
    int64_t since;
    pthread_mutex_lock(&ts->wmu);
    since = ts->seq;
    pthread_mutex_unlock(&ts->wmu);
    int64_t max = since;
    if (ts->store->ops->token_changes(ts->store, since, load_cb, ts, &max, &err)) {
        ig_warn("tokens: cannot read changes: %s", err.message);
        ts->resync = true;
        return -1;
    }
    ts->resync = false;
    atomic_store_explicit(&ts->confirmed_ms, t0, memory_order_relaxed);
    return (int)(max - since);
}

/* ------------------------------------------------------------------ usage */

static void format_ip(uint64_t hi, uint64_t lo, char *buf, size_t cap)
{
    unsigned char b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(hi >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
    ig_addr_format(b, buf, cap); /* dotted IPv4, or RFC 5952 IPv6 ("::1") as other tools print it */
}

static void count_second(_Atomic uint64_t *ring, uint64_t sec)
{
    _Atomic uint64_t *slot = &ring[sec % IG_STATS_SLOTS];
    uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed);
    for (;;) {
        if ((cur >> 32) == (sec & 0xffffffffu)) {
            atomic_fetch_add_explicit(slot, 1, memory_order_relaxed);
            return;
        }
        if (atomic_compare_exchange_weak_explicit(slot, &cur, (sec << 32) | 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

/* The token's per-second counters, made on its first request (one allocation, raced by CAS so exactly one ring
 * survives); NULL when out of memory. */
static ig_token_history_t *history_of(ig_token_runtime_t *s)
{
    ig_token_history_t *st = atomic_load_explicit(&s->stats, memory_order_acquire);
    if (st) return st;
    ig_token_history_t *fresh = calloc(1, sizeof *fresh), *expected = NULL;
    if (!fresh) return NULL;
    if (atomic_compare_exchange_strong(&s->stats, &expected, fresh)) return fresh;
    free(fresh);
    return expected;
}

void ig_token_runtime_note_shadow(ig_token_runtime_t *s, int64_t now_ms)
{
    ig_token_history_t *st = history_of(s);
    if (!st) return;
    atomic_fetch_add_explicit(&st->shadow_total, 1, memory_order_relaxed);
    count_second(st->shadow, (uint64_t)(now_ms / 1000));
}

void ig_token_runtime_note(ig_token_runtime_t *s, int64_t now_ms, const void *addr16, bool limited)
{
    /* Store only on change so clients hammering one token do not bounce the cache line more than needed. */
    if (atomic_load_explicit(&s->last_used_ms, memory_order_relaxed) != now_ms) {
        /* Store, then mark dirty (both seq_cst; the flusher clears the mark, then loads): either the flusher
         * loads this time, or this thread sees the mark cleared and sets it again for the next flush. */
        atomic_store(&s->last_used_ms, now_ms);
        slab_t *sl = slab_of(s);
        size_t k = (size_t)(s - sl->states);
        uint64_t bit = UINT64_C(1) << (k % 64);
        if (!(atomic_load(&sl->dirty[k / 64]) & bit)) atomic_fetch_or(&sl->dirty[k / 64], bit);
    }
    if (addr16) {
        uint64_t hi = 0, lo = 0;
        const unsigned char *b = addr16;
        for (int i = 0; i < 8; i++) {
            hi = hi << 8 | b[i];
            lo = lo << 8 | b[8 + i];
        }
        if (atomic_load_explicit(&s->ip_lo, memory_order_relaxed) != lo)
            atomic_store_explicit(&s->ip_lo, lo, memory_order_relaxed);
        if (atomic_load_explicit(&s->ip_hi, memory_order_relaxed) != hi)
            atomic_store_explicit(&s->ip_hi, hi, memory_order_relaxed);
    }
    uint64_t sec = (uint64_t)(now_ms / 1000);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    ig_token_history_t *st = history_of(s);
    if (!st) return;
    count_second(st->req, sec);
    if (limited) {
        atomic_fetch_add_explicit(&s->limited, 1, memory_order_relaxed);
        count_second(st->lim, sec);
    }
}

void ig_token_table_flush_usage(ig_token_table_t *ts)
{
    if (!ts->serving) return;
    size_t cap = 256, n = 0;
    ig_token_usage_t *u = malloc(cap * sizeof *u);
    if (!u) return;
    /* wmu keeps the slab list still; the request path never takes it. */
    pthread_mutex_lock(&ts->wmu);
    for (size_t i = 0; i < ts->nslabs; i++) {
        slab_t *sl = ts->slabs[i];
        for (size_t w = 0; w < STATES_PER_SLAB / 64; w++) {
            if (!atomic_load_explicit(&sl->dirty[w], memory_order_relaxed)) continue;
            uint64_t bits = atomic_exchange(&sl->dirty[w], 0);
            while (bits) {
                size_t k = w * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (n == cap) {
                    ig_token_usage_t *bigger = realloc(u, cap * 2 * sizeof *u);
                    if (!bigger) { /* keep the mark so the next flush retries */
                        atomic_fetch_or(&sl->dirty[k / 64], UINT64_C(1) << (k % 64));
                        continue;
                    }
                    u = bigger;
                    cap *= 2;
                }
                ig_token_runtime_t *s = &sl->states[k];
                memcpy(u[n].id, sl->ids[k], SLAB_ID_LEN);
                u[n].id[SLAB_ID_LEN - 1] = '\0';
                u[n].last_used_at_ms = atomic_load(&s->last_used_ms);
                format_ip(atomic_load(&s->ip_hi), atomic_load(&s->ip_lo), u[n].last_used_ip,
                          sizeof u[n].last_used_ip);
                n++;
            }
        }
    }
    pthread_mutex_unlock(&ts->wmu);
    if (n) {
        ig_error_t err;
        if (ts->store->ops->token_touch(ts->store, u, n, &err))
            ig_warn("tokens: cannot record last use of %zu tokens: %s", n, err.message);
    }
    free(u);
}

/* Overlays fresh last-use data from memory onto a record read from the store. */
static void overlay_usage(ig_token_table_t *ts, ig_token_row_t *rec)
{
    if (!ts->serving) return;
    ig_token_table_read_begin();
    const ig_token_entry_t *m = ig_token_table_find(ts, rec->hash);
    if (m && !m->deleted) {
        int64_t used = atomic_load(&m->state->last_used_ms);
        if (used > rec->last_used_at_ms) {
            rec->last_used_at_ms = used;
            format_ip(atomic_load(&m->state->ip_hi), atomic_load(&m->state->ip_lo), rec->last_used_ip,
                      sizeof rec->last_used_ip);
        }
    }
    ig_token_table_read_end();
}

json_object *ig_token_table_stats_json(ig_token_table_t *ts, const char *id, int seconds, int64_t now_ms)
{
    ig_token_row_t rec;
    ig_error_t err;
    if (ts->store->ops->token_get(ts->store, id, &rec, &err) != 0) return NULL;
    if (seconds < 1) seconds = 1;
    if (seconds > IG_STATS_SLOTS - 1) seconds = IG_STATS_SLOTS - 1;
    json_object *o = json_object_new_object(), *req = json_object_new_array(), *lim = json_object_new_array();
    json_object *shw = json_object_new_array();
    uint64_t now_s = (uint64_t)(now_ms / 1000), tot_r = 0, tot_l = 0, tot_s = 0;
    ig_token_table_read_begin();
    const ig_token_entry_t *m = ig_token_table_find(ts, rec.hash);
    for (int i = seconds - 1; i >= 0; i--) {
        uint64_t sec = now_s - (uint64_t)i, r = 0, l = 0, w = 0;
        ig_token_history_t *st = m ? atomic_load(&m->state->stats) : NULL;
        if (st) {
            uint64_t a = atomic_load(&st->req[sec % IG_STATS_SLOTS]);
            uint64_t b = atomic_load(&st->lim[sec % IG_STATS_SLOTS]);
            uint64_t c = atomic_load(&st->shadow[sec % IG_STATS_SLOTS]);
            if ((a >> 32) == (sec & 0xffffffffu)) r = a & 0xffffffffu;
            if ((b >> 32) == (sec & 0xffffffffu)) l = b & 0xffffffffu;
            if ((c >> 32) == (sec & 0xffffffffu)) w = c & 0xffffffffu;
        }
        json_object_array_add(req, json_object_new_int64((int64_t)r));
        json_object_array_add(lim, json_object_new_int64((int64_t)l));
        json_object_array_add(shw, json_object_new_int64((int64_t)w));
    }
    if (m) {
        ig_token_history_t *st = atomic_load(&m->state->stats);
        tot_r = atomic_load(&m->state->requests);
        tot_l = atomic_load(&m->state->limited);
        tot_s = st ? atomic_load(&st->shadow_total) : 0;
    }
    ig_token_table_read_end();
    json_object_object_add(o, "id", json_object_new_string(rec.id));
    json_object_object_add(o, "intervalSeconds", json_object_new_int(1));
    json_object_object_add(o, "start", json_object_new_int64((int64_t)(now_s - (uint64_t)seconds + 1)));
    json_object_object_add(o, "requests", req);
    json_object_object_add(o, "limited", lim);
    json_object_object_add(o, "totalRequests", json_object_new_int64((int64_t)tot_r));
    json_object_object_add(o, "totalLimited", json_object_new_int64((int64_t)tot_l));
    json_object_object_add(o, "shadowLimited", shw); /* would-be 429s of a shadow-mode token, served */
    json_object_object_add(o, "totalShadowLimited", json_object_new_int64((int64_t)tot_s));
    return o;
}

/* ------------------------------------------------------------------ management */

/* The scopes a token of owner may have, and the caller may give: an admin scope only on an admin user's token;
 * through a token, nothing that token lacks itself (a read-only token cannot mint a writer), and nothing at all
 * about networks or namespaces from a token limited to some (limits_kept false: a create, or a change of
 * allowedCidrs or namespaces), which would otherwise mint a token that works from anywhere, on everything. */
static int check_scopes(ig_token_table_t *ts, const ig_principal_t *who, const char *owner, unsigned bits,
                        bool limits_kept, ig_error_t *err)
{
    if ((bits & IG_SCOPE_ADMIN) && ig_users_role(ts->store, owner) != IG_ROLE_ADMIN)
        return ig_error_set(err, IG_E_BAD_REQUEST, "scopes: admin is only for tokens of admin users ('%.64s' is a "
                                                   "member)", owner);
    bool by_token = !who->via_session && who->token_id[0];
    if (by_token && who->net_limited && !limits_kept)
        return ig_error_set(err, IG_E_FORBIDDEN,
                            "allowedCidrs: a token limited to networks (%s) cannot make a token or change networks or "
                            "namespaces; use the console or a token without allowedCidrs",
                            who->token_id);
    if (by_token && who->ns_allow[0] && !limits_kept)
        return ig_error_set(err, IG_E_FORBIDDEN,
                            "namespaces: a token limited to namespaces (%s) cannot make a token or change networks or "
                            "namespaces; use the console or a token without namespaces",
                            who->token_id);
    if (!who->via_session && who->token_id[0] && (bits & ~who->scopes)) {
        char has[64];
        ig_scopes_text(who->scopes, has, sizeof has);
        return ig_error_set(err, IG_E_FORBIDDEN, "scopes: a token can only grant scopes it has itself (%s has: %s)",
                            who->token_id, has);
    }
    return 0;
}


int ig_token_table_not_found(ig_error_t *err, const char *id)
{
    return ig_error_set(err, IG_E_NO_SUCH_TOKEN, "access token '%.40s' does not exist", id);
}

int ig_token_table_create(ig_token_table_t *ts, const ig_principal_t *who, const char *owner,
                         const ig_token_spec_t *spec, char secret[IG_TOKEN_LEN + 1], ig_token_row_t *out,
                         ig_error_t *err)
{
    int64_t now = ig_clock_wall_ms();
    if (ig_token_spec_validate(spec, true, now, err)) return -1;
    ig_token_row_t *t = out;
    memset(t, 0, sizeof *t);
    memcpy(t->id, "tok_", 4);
    ig_random_base62(t->id + 4, 16);
    ig_token_generate(secret);
    ig_token_hash(secret, IG_TOKEN_LEN, t->hash);
    ig_token_display_prefix(secret, t->prefix);
    snprintf(t->name, sizeof t->name, "%s", spec->name);
    snprintf(t->owner, sizeof t->owner, "%s", owner);
    t->max_rps = spec->has_max_rps ? spec->max_rps : 0;
    t->burst = spec->has_burst ? spec->burst : 0;
    if (t->max_rps > 0) t->max_rps_set_by = ig_set_by_role(who->role);
    t->expires_at_ms = spec->has_expires ? spec->expires_at_ms : 0;
    t->scopes = spec->has_scopes ? spec->scopes : ig_scopes_default(ig_users_role(ts->store, owner));
    if (spec->has_cidrs) snprintf(t->allowed_cidrs, sizeof t->allowed_cidrs, "%s", spec->cidrs);
    if (spec->has_namespaces) snprintf(t->namespaces, sizeof t->namespaces, "%s", spec->namespaces);
    t->rate_limit_shadow = spec->has_mode && spec->shadow;
    if (check_scopes(ts, who, owner, t->scopes, false, err)) return -1;
    t->created_at_ms = t->updated_at_ms = now;
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_token(&jb, who, "token.create", NULL, t, NULL, now);
    int rc = ts->store->ops->token_insert(ts->store, t, ig_journal_get(&jb), err);
    ig_journal_free(&jb);
    if (rc) {
        memset(secret, 0, IG_TOKEN_LEN + 1);
        return -1;
    }
    applied(ts, t);
    return 0;
}

/* Read-modify-write of one token: fetch, let `change` check and edit, write, apply.  The write is a
 * compare-and-set on the version read, so a change committed in between (a suspend from the CLI or another
 * request) is never overwritten with stale fields, and a check `change` made (may this principal lift it?)
 * is never acted on after the row moved: read again, check and redo the change on top of it. */
typedef int (*change_fn)(ig_token_row_t *t, const ig_principal_t *who, const void *arg, ig_error_t *err);

/* What a change is called in the audit log, and the event it raises (NULL: none). */
typedef struct {
    change_fn change;
    const char *action, *event;
} change_t;

/* One attempt's write: the row with its audit entry (old -> new, from the version read) and event. */
static int write_change(ig_token_table_t *ts, const ig_principal_t *who, const change_t *c,
                        const ig_token_row_t *before, ig_token_row_t *out, ig_error_t *err)
{
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_token(&jb, who, c->action, before, out, ts->events ? c->event : NULL, out->updated_at_ms);
    int rc = ts->store->ops->token_update(ts->store, out, ig_journal_get(&jb), err);
    ig_journal_free(&jb);
    return rc;
}

static int modify(ig_token_table_t *ts, const ig_principal_t *who, const char *id, ig_token_row_t *out,
                  ig_error_t *err, const change_t *c, const void *arg)
{
    int rc = IG_STORE_STALE;
    ig_token_row_t *before = malloc(sizeof *before);
    if (!before) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    for (int attempt = 0; rc == IG_STORE_STALE && attempt < 16; attempt++) {
        rc = ts->store->ops->token_get(ts->store, id, out, err);
        if (rc == 0) {
            *before = *out;
            rc = c->change(out, who, arg, err) ? -1 : 0;
        }
        if (rc) break;
        out->updated_at_ms = ig_clock_wall_ms();
        rc = write_change(ts, who, c, before, out, err);
    }
    free(before);
    if (rc == IG_STORE_NOTFOUND) return ig_token_table_not_found(err, id);
    if (rc == IG_STORE_STALE)
        return ig_error_set(err, IG_E_COMMIT_FAILED,
                            "access token '%.40s' is being changed concurrently; try again", id);
    if (rc) return -1;
    applied(ts, out);
    overlay_usage(ts, out);
    return 0;
}

/* A member may lift only what is recorded as a member's; an admin's, or one from before icegate recorded
 * who (unknown), only an admin. */
static bool may_lift(const ig_principal_t *who, ig_set_by_t by)
{
    return who->role == IG_ROLE_ADMIN || by == IG_SET_BY_MEMBER;
}

static const char *imposer(ig_set_by_t by)
{
    return by == IG_SET_BY_ADMIN ? "by an admin" : "before icegate recorded by whom";
}

static int change_spec(ig_token_row_t *t, const ig_principal_t *who, const void *arg, ig_error_t *err)
{
    const ig_token_spec_t *s = arg;
    if (ig_token_spec_validate(s, false, ig_clock_wall_ms(), err)) return -1;
    bool limit_moves = (s->has_max_rps && s->max_rps != t->max_rps) || (s->has_burst && s->burst != t->burst);
    if (limit_moves && t->max_rps > 0 && !may_lift(who, t->max_rps_set_by))
        return ig_error_set(err, IG_E_FORBIDDEN,
                            "the Max RPS of access token '%.40s' was set %s: only an admin can change or "
                            "remove it",
                            t->id, imposer(t->max_rps_set_by));
    if (s->has_name) snprintf(t->name, sizeof t->name, "%s", s->name);
    if (s->has_max_rps) t->max_rps = s->max_rps;
    if (s->has_burst) t->burst = s->burst;
    if (s->has_expires) t->expires_at_ms = s->expires_at_ms;
    if (s->has_scopes) t->scopes = s->scopes; /* checked by ig_token_table_update */
    if (s->has_cidrs) snprintf(t->allowed_cidrs, sizeof t->allowed_cidrs, "%s", s->cidrs);
    if (s->has_namespaces) snprintf(t->namespaces, sizeof t->namespaces, "%s", s->namespaces);
    if (s->has_mode) t->rate_limit_shadow = s->shadow;
    /* The setter is whoever last moved the limit; a PATCH that repeats it (a rename from the console) keeps
     * the one recorded. */
    if (limit_moves) t->max_rps_set_by = t->max_rps > 0 ? ig_set_by_role(who->role) : IG_SET_BY_UNKNOWN;
    return 0;
}

static int change_suspend(ig_token_row_t *t, const ig_principal_t *who, const void *arg, ig_error_t *err)
{
    const char *reason = arg;
    /* Suspending again rewrites the reason and the suspender: a member doing that to an admin's suspension
     * would then be able to activate it. */
    if (t->suspended && !may_lift(who, t->suspended_by_role))
        return ig_error_set(err, IG_E_FORBIDDEN,
                            "access token '%.40s' was suspended %s: only an admin can change its suspension",
                            t->id, imposer(t->suspended_by_role));
    if (!t->suspended) t->suspended_at_ms = ig_clock_wall_ms();
    t->suspended = true;
    snprintf(t->suspend_reason, sizeof t->suspend_reason, "%s", reason ? reason : "");
    t->suspended_by_role = ig_set_by_role(who->role);
    snprintf(t->suspended_by, sizeof t->suspended_by, "%s", who->user);
    return 0;
}

static int change_activate(ig_token_row_t *t, const ig_principal_t *who, const void *arg, ig_error_t *err)
{
    (void)arg;
    if (t->suspended && !may_lift(who, t->suspended_by_role))
        return ig_error_set(err, IG_E_FORBIDDEN,
                            "access token '%.40s' was suspended %s: only an admin can activate it", t->id,
                            imposer(t->suspended_by_role));
    t->suspended = false;
    t->suspended_at_ms = 0;
    t->suspend_reason[0] = '\0';
    t->suspended_by_role = IG_SET_BY_UNKNOWN;
    t->suspended_by[0] = '\0';
    return 0;
}

int ig_token_table_update(ig_token_table_t *ts, const ig_principal_t *who, const char *id,
                         const ig_token_spec_t *spec, ig_token_row_t *out, ig_error_t *err)
{
    if (spec->has_scopes || spec->has_cidrs || spec->has_namespaces) { /* the owner never changes: check once */
        int rc = ts->store->ops->token_get(ts->store, id, out, err);
        if (rc == IG_STORE_NOTFOUND) return ig_token_table_not_found(err, id);
        if (rc || check_scopes(ts, who, out->owner, spec->has_scopes ? spec->scopes : out->scopes & who->scopes,
                               !spec->has_cidrs && !spec->has_namespaces, err))
            return -1;
    }
    static const change_t c = {change_spec, "token.update", NULL};
    return modify(ts, who, id, out, err, &c, spec);
}

int ig_token_table_suspend(ig_token_table_t *ts, const ig_principal_t *who, const char *id, const char *reason,
                          ig_token_row_t *out, ig_error_t *err)
{
    if (reason && strlen(reason) > IG_REASON_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "reason: must be at most %d characters", IG_REASON_MAX);
    if (reason) {
        for (const unsigned char *p = (const unsigned char *)reason; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return ig_error_set(err, IG_E_BAD_REQUEST, "reason: must contain only printable characters");
    }
    static const change_t c = {change_suspend, "token.suspend", "token.suspended"};
    return modify(ts, who, id, out, err, &c, reason);
}

int ig_token_table_activate(ig_token_table_t *ts, const ig_principal_t *who, const char *id, ig_token_row_t *out,
                           ig_error_t *err)
{
    static const change_t c = {change_activate, "token.activate", "token.activated"};
    return modify(ts, who, id, out, err, &c, NULL);
}

int ig_token_table_delete(ig_token_table_t *ts, const ig_principal_t *who, const char *id, ig_error_t *err)
{
    ig_token_row_t t;
    int rc = ts->store->ops->token_get(ts->store, id, &t, err);
    if (rc == IG_STORE_NOTFOUND) return ig_token_table_not_found(err, id);
    if (rc) return -1;
    int64_t now = ig_clock_wall_ms();
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_token(&jb, who, "token.delete", &t, &t, ts->events ? "token.deleted" : NULL, now);
    rc = ts->store->ops->token_delete(ts->store, id, now, &t.seq, ig_journal_get(&jb), err);
    ig_journal_free(&jb);
    if (rc == IG_STORE_NOTFOUND) return ig_token_table_not_found(err, id);
    if (rc) return -1;
    t.deleted = true;
    applied(ts, &t);
    return 0;
}

typedef struct {
    int64_t grace_ms;
    char *secret;
} rotate_arg_t;

static int change_rotate(ig_token_row_t *t, const ig_principal_t *who, const void *arg, ig_error_t *err)
{
    (void)who;
    (void)err;
    const rotate_arg_t *r = arg;
    int64_t now = ig_clock_wall_ms();
    /* The secret being replaced is the one that keeps working; one from an earlier rotation still in its
     * grace is dropped here, so it ends at once. */
    memcpy(t->prev_hash, t->hash, 32);
    t->has_prev = true;
    t->prev_valid_until_ms = now + r->grace_ms;
    t->rotated_at_ms = now;
    ig_token_generate(r->secret);
    ig_token_hash(r->secret, IG_TOKEN_LEN, t->hash);
    ig_token_display_prefix(r->secret, t->prefix);
    return 0;
}

int ig_token_table_rotate(ig_token_table_t *ts, const ig_principal_t *who, const char *id, int64_t grace_ms,
                          char secret[IG_TOKEN_LEN + 1], ig_token_row_t *out, ig_error_t *err)
{
    if (grace_ms < 0 || grace_ms > IG_ROTATE_GRACE_MAX_MS)
        return ig_error_set(err, IG_E_BAD_REQUEST, "gracePeriod: must be from 0 to %lld seconds",
                            IG_ROTATE_GRACE_MAX_MS / 1000);
    rotate_arg_t arg = {grace_ms, secret};
    static const change_t c = {change_rotate, "token.rotate", "token.rotated"};
    if (modify(ts, who, id, out, err, &c, &arg) == 0) return 0;
    memset(secret, 0, IG_TOKEN_LEN + 1);
    return -1;
}

int ig_token_table_get(ig_token_table_t *ts, const char *id, ig_token_row_t *out, ig_error_t *err)
{
    int rc = ts->store->ops->token_get(ts->store, id, out, err);
    if (rc == IG_STORE_NOTFOUND) return ig_token_table_not_found(err, id);
    if (rc) return -1;
    overlay_usage(ts, out);
    return 0;
}

typedef struct {
    ig_token_table_t *ts;
    const char *status;
    int64_t now;
    ig_token_cb cb;
    void *ud;
} list_ctx_t;

static int list_cb(void *ud, const ig_token_row_t *t)
{
    list_ctx_t *c = ud;
    if (c->status && strcmp(ig_token_status(t, c->now), c->status) != 0) return 0;
    ig_token_row_t copy = *t;
    overlay_usage(c->ts, &copy);
    return c->cb(c->ud, &copy);
}

int ig_token_table_list(ig_token_table_t *ts, const char *owner, const char *status, ig_token_cb cb, void *ud,
                       ig_error_t *err)
{
    if (status && strcmp(status, "active") && strcmp(status, "suspended") && strcmp(status, "expired"))
        return ig_error_set(err, IG_E_BAD_REQUEST, "status: must be active, suspended or expired");
    list_ctx_t c = {ts, status, ig_clock_wall_ms(), cb, ud};
    return ts->store->ops->token_list(ts->store, owner, list_cb, &c, err);
}
