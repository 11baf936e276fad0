/* login_guard — see login_guard.h. */
#include "access/login_guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096 /* a power of two */
#define PROBE 8    /* slots looked at per key */

typedef struct {
    uint64_t key; /* 0: free */
    int failures;
    int64_t last_ms;          /* the last failure */
    int64_t blocked_until_ms; /* 0: not blocked */
} entry_t;

struct ig_login_guard {
    pthread_mutex_t mu;
    entry_t e[SLOTS];
};

/* FNV-1a of a kind byte and the key's bytes; never 0. */
static uint64_t key_of(char kind, const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ (unsigned char)kind) * 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
    return h ? h : 1;
}

static bool stale(const entry_t *e, int64_t now_ms)
{
    return e->key == 0 || (now_ms - e->last_ms > IG_LOGIN_FORGET_S * 1000 && e->blocked_until_ms <= now_ms);
}

/* The entry of key, or NULL; with create, a fresh one in a free, stale or else the weakest probed slot. */
static entry_t *find(ig_login_guard_t *g, uint64_t key, int64_t now_ms, bool create)
{
    entry_t *victim = NULL;
    for (int i = 0; i < PROBE; i++) {
        entry_t *e = &g->e[(key + (uint64_t)i) & (SLOTS - 1)];
        if (e->key == key) {
            if (stale(e, now_ms)) *e = (entry_t){.key = key};
            return e;
        }
        if (!victim || stale(e, now_ms) || (!stale(victim, now_ms) && e->failures < victim->failures)) victim = e;
    }
    if (!create) return NULL;
    *victim = (entry_t){.key = key};
    return victim;
}

ig_login_guard_t *ig_login_guard_new(void)
{
    ig_login_guard_t *g = calloc(1, sizeof *g);
    if (g) pthread_mutex_init(&g->mu, NULL);
    return g;
}

void ig_login_guard_free(ig_login_guard_t *g)
{
    if (!g) return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static int64_t wait_s(const entry_t *e, int64_t now_ms)
{
    if (!e || e->blocked_until_ms <= now_ms) return 0;
    return (e->blocked_until_ms - now_ms + 999) / 1000;
}

int64_t ig_login_guard_check(ig_login_guard_t *g, const char *user, const unsigned char *addr, int64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    int64_t w = wait_s(find(g, key_of('u', user, strlen(user)), now_ms, false), now_ms);
    if (addr) {
        int64_t wa = wait_s(find(g, key_of('a', addr, 16), now_ms, false), now_ms);
        if (wa > w) w = wa;
    }
    pthread_mutex_unlock(&g->mu);
    return w;
}

/* One more failure of e: past the free ones, a block twice the last. */
static void fail(entry_t *e, int64_t now_ms)
{
    e->failures++;
    e->last_ms = now_ms;
    int over = e->failures - IG_LOGIN_FREE;
    if (over <= 0) return;
    int64_t s = over >= 11 ? IG_LOGIN_MAX_BLOCK_S : (int64_t)1 << (over - 1);
    if (s > IG_LOGIN_MAX_BLOCK_S) s = IG_LOGIN_MAX_BLOCK_S;
    e->blocked_until_ms = now_ms + s * 1000;
}

int ig_login_guard_failed(ig_login_guard_t *g, const char *user, const unsigned char *addr, int64_t now_ms,
                          int64_t *block_s)
{
    pthread_mutex_lock(&g->mu);
    entry_t *u = find(g, key_of('u', user, strlen(user)), now_ms, true);
    fail(u, now_ms);
    int n = u->failures;
    int64_t w = wait_s(u, now_ms);
    if (addr) {
        entry_t *a = find(g, key_of('a', addr, 16), now_ms, true);
        fail(a, now_ms);
        if (wait_s(a, now_ms) > w) w = wait_s(a, now_ms);
    }
    pthread_mutex_unlock(&g->mu);
    if (block_s) *block_s = w;
    return n;
}

void ig_login_guard_succeeded(ig_login_guard_t *g, const char *user, const unsigned char *addr)
{
    pthread_mutex_lock(&g->mu);
    entry_t *e = find(g, key_of('u', user, strlen(user)), 0, false);
    if (e) *e = (entry_t){0};
    if (addr && (e = find(g, key_of('a', addr, 16), 0, false)) != NULL) *e = (entry_t){0};
    pthread_mutex_unlock(&g->mu);
}
