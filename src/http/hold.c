/* hold — see hold.h. */
#include "http/hold.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"

typedef struct {
    int64_t due_ns;
    void *item;
} entry_t;

struct ig_holds {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC, like the due times */
    entry_t *heap;     /* min-heap on due_ns */
    size_t n, cap, reserved;
    bool stopping, joined;
    void (*wake)(void *item);
    pthread_t thread;
};

static bool earlier(const entry_t *a, const entry_t *b)
{
    return a->due_ns < b->due_ns;
}

static void push(ig_holds_t *h, entry_t e)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&e, &h->heap[parent])) break;
        h->heap[i] = h->heap[parent];
        i = parent;
    }
    h->heap[i] = e;
}

static entry_t pop(ig_holds_t *h)
{
    entry_t top = h->heap[0], last = h->heap[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && earlier(&h->heap[c + 1], &h->heap[c])) c++;
        if (!earlier(&h->heap[c], &last)) break;
        h->heap[i] = h->heap[c];
        i = c;
    }
    if (h->n) h->heap[i] = last;
    return top;
}

static void *run(void *arg)
{
    ig_holds_t *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        if (h->n == 0) {
            if (h->stopping && h->reserved == 0) break; /* a reserved add is on its way */
            pthread_cond_wait(&h->cv, &h->mu);
            continue;
        }
        int64_t now = ig_clock_mono_ns();
        if (h->heap[0].due_ns > now) {
            int64_t due = h->heap[0].due_ns;
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000000), .tv_nsec = (long)(due % 1000000000)};
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
            continue;
        }
        entry_t e = pop(h);
        pthread_mutex_unlock(&h->mu);
        h->wake(e.item); /* outside the lock: the transport may take its own */
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

ig_holds_t *ig_holds_new(size_t cap, void (*wake)(void *item))
{
    ig_holds_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->heap = calloc(cap ? cap : 1, sizeof *h->heap);
    h->cap = cap;
    h->wake = wake;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!h->heap || pthread_create(&h->thread, NULL, run, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h->heap);
        free(h);
        return NULL;
    }
    return h;
}

bool ig_holds_reserve(ig_holds_t *h)
{
    pthread_mutex_lock(&h->mu);
    bool ok = !h->stopping && h->n + h->reserved < h->cap;
    if (ok) h->reserved++;
    pthread_mutex_unlock(&h->mu);
    return ok;
}

void ig_holds_add(ig_holds_t *h, int64_t due_ns, void *item)
{
    pthread_mutex_lock(&h->mu);
    h->reserved--;
    bool first = h->n == 0 || due_ns < h->heap[0].due_ns;
    push(h, (entry_t){due_ns, item});
    if (first) pthread_cond_signal(&h->cv); /* the thread may sleep until a later time */
    pthread_mutex_unlock(&h->mu);
}

void ig_holds_unreserve(ig_holds_t *h)
{
    pthread_mutex_lock(&h->mu);
    h->reserved--;
    if (h->stopping) pthread_cond_signal(&h->cv); /* the thread may be waiting for this one to land */
    pthread_mutex_unlock(&h->mu);
}

size_t ig_holds_count(ig_holds_t *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void ig_holds_stop(ig_holds_t *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    bool joined = h->joined;
    h->stopping = h->joined = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (!joined) pthread_join(h->thread, NULL);
}

void ig_holds_free(ig_holds_t *h)
{
    if (!h) return;
    ig_holds_stop(h);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->heap);
    free(h);
}
