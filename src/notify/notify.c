/* notify — see notify.h. */
#include "notify/notify.h"

#include "core/curl_lib.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/journal.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "notify/webhook.h"

#define DAY_MS (86400LL * 1000)
#define EXPIRY_CHECK_MS 5000      /* DESIGN.md: at least every 10 s */
#define RATE_EVENT_MS 60000       /* at most one token.rate_limited a minute per token */
#define PRUNE_EVERY_MS (3600 * 1000LL)
#define PRUNE_BATCH 1000
#define CANDIDATES 64 /* events one watcher round raises; the rest wait for the next round */
#define IDLE_POLL_MS 500 /* how often an empty outbox is looked at again */

/* What the watcher remembers about one token (by its runtime, which lives as long as the process). */
typedef struct {
    const ig_token_runtime_t *state;
    uint64_t limited_seen; /* the 429 count at the last token.rate_limited */
    int64_t rate_event_ms;
    int64_t notice_expires; /* the expiry and level last raised (or found raised) */
    int notice_level;
} seen_t;

/* One event the walk found; raised after it (the walk must not block). */
typedef struct {
    seen_t *seen;
    char id[IG_TOKEN_ID_LEN], name[IG_NAME_MAX * 4 + 1], owner[IG_USER_MAX + 1];
    int64_t expires_at;
    int level;          /* expiry: the level; -1 for a rate-limit event */
    uint64_t limited;   /* rate limit: the counter now */
} cand_t;

struct ig_notify {
    ig_config_t cfg;
    ig_store_t *st;
    ig_token_table_t *ts;
    ig_webhook_t *hook;
    bool events;
    _Atomic bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t watcher, sender;
    bool watcher_on, sender_on;
    seen_t *seen; /* open addressing on the state pointer; watcher thread only */
    size_t cap, used;
    cand_t cand[CANDIDATES];
    int ncand;
    int64_t now;
};

int ig_notify_expiry_level(int64_t remaining_ms, const int *days, int n)
{
    if (remaining_ms <= 0) return 0;
    int level = -1;
    for (int i = 0; i < n; i++)
        if (remaining_ms <= days[i] * DAY_MS && (level < 0 || days[i] < level)) level = days[i];
    return level;
}

/* Sleeps up to ms, or less when stopping; true when stopping. */
static bool nap(ig_notify_t *n, int64_t ms)
{
    struct timespec until = ig_clock_deadline(ms);
    pthread_mutex_lock(&n->mu);
    while (!atomic_load(&n->stop) && pthread_cond_timedwait(&n->cv, &n->mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&n->mu);
    return atomic_load(&n->stop);
}

/* ------------------------------------------------------------------ the watcher */

static size_t slot_of(const void *p, size_t cap)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 7) & (cap - 1);
}

/* The watcher's record of a token, made on first sight; NULL when out of memory. */
static seen_t *seen_get(ig_notify_t *n, const ig_token_runtime_t *s)
{
    if ((n->used + 1) * 2 > n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 1024;
        seen_t *t = calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t i = 0; i < n->cap; i++) {
            if (!n->seen[i].state) continue;
            size_t j = slot_of(n->seen[i].state, cap);
            while (t[j].state) j = (j + 1) & (cap - 1);
            t[j] = n->seen[i];
        }
        free(n->seen);
        n->seen = t;
        n->cap = cap;
    }
    size_t j = slot_of(s, n->cap);
    while (n->seen[j].state && n->seen[j].state != s) j = (j + 1) & (n->cap - 1);
    if (!n->seen[j].state) {
        n->seen[j] = (seen_t){.state = s, .notice_level = -1};
        n->used++;
    }
    return &n->seen[j];
}

static void add_cand(ig_notify_t *n, const ig_token_entry_t *m, seen_t *s, int level, uint64_t limited)
{
    cand_t *c = &n->cand[n->ncand++];
    c->seen = s;
    ig_strlcpy(c->id, m->id, sizeof c->id);
    ig_strlcpy(c->name, m->name, sizeof c->name);
    ig_strlcpy(c->owner, m->owner, sizeof c->owner);
    c->expires_at = m->expires_at_ms;
    c->level = level;
    c->limited = limited;
}

typedef struct {
    ig_notify_t *n;
    bool expiry; /* this round checks expiries too */
} walk_t;

static int walk_cb(void *ud, const ig_token_entry_t *m)
{
    walk_t *w = ud;
    ig_notify_t *n = w->n;
    if (n->ncand + 2 > CANDIDATES) return 1;
    uint64_t lim = atomic_load_explicit(&m->state->limited, memory_order_relaxed);
    int level = w->expiry && m->expires_at_ms
                    ? ig_notify_expiry_level(m->expires_at_ms - n->now, n->cfg.expiry_days, n->cfg.n_expiry_days)
                    : -1;
    if (lim == 0 && level < 0) return 0; /* the common case: nothing to look up */
    seen_t *s = seen_get(n, m->state);
    if (!s) return 1;
    if (lim > s->limited_seen && n->now - s->rate_event_ms >= RATE_EVENT_MS) add_cand(n, m, s, -1, lim);
    bool known = s->notice_expires == m->expires_at_ms && s->notice_level >= 0 && s->notice_level <= level;
    if (level >= 0 && !known) add_cand(n, m, s, level, 0);
    return 0;
}

/* Raises one candidate: an outbox row (and, for an expiry, the notice that keeps it from repeating). */
static void raise_cand(ig_notify_t *n, cand_t *c)
{
    ig_token_row_t *t = calloc(1, sizeof *t);
    if (!t) return;
    ig_strlcpy(t->id, c->id, sizeof t->id);
    ig_strlcpy(t->name, c->name, sizeof t->name);
    ig_strlcpy(t->owner, c->owner, sizeof t->owner);
    t->expires_at_ms = c->expires_at;
    json_object *d = json_object_new_object();
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_error_t err;
    int rc;
    if (c->level < 0) {
        json_object_object_add(d, "limitedRequests", json_object_new_int64((int64_t)(c->limited - c->seen->limited_seen)));
        ig_journal_event(&jb, "token.rate_limited", t, d, n->now);
        rc = n->st->ops->journal_append(n->st, ig_journal_get(&jb), &err);
        if (rc == 0) c->seen->limited_seen = c->limited, c->seen->rate_event_ms = n->now;
    } else {
        if (c->level > 0) json_object_object_add(d, "thresholdDays", json_object_new_int(c->level));
        json_object_object_add(d, "expiresInSeconds", json_object_new_int64((c->expires_at - n->now) / 1000));
        ig_journal_event(&jb, c->level > 0 ? "token.expiring" : "token.expired", t, d, n->now);
        rc = n->st->ops->notice_raise(n->st, c->id, c->expires_at, c->level, ig_journal_get(&jb), &err);
        if (rc >= 0) c->seen->notice_expires = c->expires_at, c->seen->notice_level = c->level;
    }
    if (rc < 0) ig_warn("notify: cannot record an event for token %s: %s", c->id, err.message);
    ig_journal_free(&jb);
    free(t);
}

static void prune(ig_notify_t *n)
{
    int64_t cut = ig_clock_wall_ms() - (int64_t)n->cfg.audit_retention_days * DAY_MS, gone = 0, total = 0;
    ig_error_t err;
    do {
        if (n->st->ops->audit_prune(n->st, cut, PRUNE_BATCH, &gone, &err)) {
            ig_warn("audit: retention: %s", err.message);
            return;
        }
        total += gone;
    } while (gone == PRUNE_BATCH && !atomic_load(&n->stop));
    if (total) ig_info("audit: deleted %lld entries older than %d days", (long long)total, n->cfg.audit_retention_days);
}

static void *watcher_main(void *arg)
{
    ig_notify_t *n = arg;
    int64_t last_prune = 0, last_expiry = 0;
    do {
        n->now = ig_clock_wall_ms();
        if (n->now - last_prune >= PRUNE_EVERY_MS) prune(n), last_prune = n->now;
        if (!n->events) continue;
        walk_t w = {n, n->now - last_expiry >= EXPIRY_CHECK_MS};
        if (w.expiry) last_expiry = n->now;
        n->ncand = 0;
        ig_token_table_walk(n->ts, walk_cb, &w);
        for (int i = 0; i < n->ncand; i++) raise_cand(n, &n->cand[i]);
        if (n->ncand == CANDIDATES - 1 || n->ncand == CANDIDATES) last_expiry = 0; /* more to do: soon again */
    } while (!nap(n, 1000));
    return NULL;
}

/* ------------------------------------------------------------------ the sender */

/* Delivers one due event; returns true when it was (or there was none), false after a failure. */
static bool send_one(ig_notify_t *n, int *failures, bool *idle)
{
    ig_event_t ev;
    ig_error_t err;
    int rc = n->st->ops->event_next(n->st, ig_clock_wall_ms(), &ev, &err);
    *idle = rc != 0;
    if (rc) return rc == IG_STORE_NOTFOUND;
    char why[128];
    int status = ig_webhook_post(n->hook, ev.id, ev.body, why, sizeof why);
    free(ev.body);
    if (status >= 200 && status < 300) {
        if (*failures) ig_info("webhook: delivering again after %d failed attempts", *failures);
        *failures = 0;
        if (n->st->ops->event_done(n->st, ev.seq, &err)) ig_warn("webhook: %s", err.message);
        return true;
    }
    ++*failures;
    uint32_t rnd;
    ig_random_bytes(&rnd, sizeof rnd);
    int64_t wait = ig_webhook_backoff_ms(*failures, n->cfg.webhook_max_backoff_ms, rnd);
    if (status) ig_warn("webhook: event %s answered HTTP %d (attempt %d); retrying in %lld ms", ev.id, status,
                        ev.attempts + 1, (long long)wait);
    else ig_warn("webhook: event %s not delivered: %s (attempt %d); retrying in %lld ms", ev.id, why,
                 ev.attempts + 1, (long long)wait);
    if (n->st->ops->event_retry(n->st, ev.seq, ev.attempts + 1, ig_clock_wall_ms() + wait, &err))
        ig_warn("webhook: %s", err.message);
    nap(n, wait);
    return false;
}

static void *sender_main(void *arg)
{
    ig_notify_t *n = arg;
    int failures = 0;
    while (!atomic_load(&n->stop)) {
        bool idle = false;
        if (send_one(n, &failures, &idle) && idle) nap(n, IDLE_POLL_MS);
    }
    return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

static int open_hook(ig_notify_t *n, ig_error_t *err)
{
    unsigned char key[256];
    long kl = 0;
    const char *kf = n->cfg.webhook_secret_file;
    if (kf[0] && (kl = ig_webhook_read_key(kf, key, sizeof key)) < 0)
        return ig_error_set(err, IG_E_INTERNAL, "config key notifications.webhook.secret_file: cannot read %s: %s",
                            kf, strerror(errno));
    if (!kf[0]) ig_warn("notifications.webhook.secret_file is not set: webhook events are sent unsigned");
    n->hook = ig_webhook_new(n->cfg.webhook_url, key, (size_t)kl, n->cfg.webhook_timeout_ms, &n->stop);
    explicit_bzero(key, sizeof key);
    return n->hook ? 0 : ig_error_set(err, IG_E_INTERNAL, "cannot start libcurl for the webhook");
}

ig_notify_t *ig_notify_start(const ig_config_t *cfg, ig_store_t *st, ig_token_table_t *ts, ig_error_t *err)
{
    err->message[0] = '\0';
    ig_notify_t *n = calloc(1, sizeof *n);
    if (!n) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    n->cfg = *cfg;
    n->st = st;
    n->ts = ts;
    n->events = cfg->webhook_url[0] != '\0';
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    char why[256];
    if (n->events && ig_curl_load(why, sizeof why)) {
        ig_error_set(err, IG_E_INTERNAL, "notifications.webhook.url: %s", why);
        goto fail;
    }
    if (n->events && open_hook(n, err)) goto fail;
    if (pthread_create(&n->watcher, NULL, watcher_main, n)) goto nothread;
    n->watcher_on = true;
    if (n->events) {
        if (pthread_create(&n->sender, NULL, sender_main, n)) goto nothread;
        n->sender_on = true;
    }
    return n;
nothread:
    ig_error_set(err, IG_E_INTERNAL, "cannot start the notifier threads");
fail:
    ig_notify_stop(n);
    return NULL;
}

void ig_notify_stop(ig_notify_t *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->stop, true);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->watcher_on) pthread_join(n->watcher, NULL);
    if (n->sender_on) pthread_join(n->sender, NULL);
    ig_webhook_free(n->hook);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n->seen);
    free(n);
}
