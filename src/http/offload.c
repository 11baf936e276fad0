/* offload — see offload.h. */
#include "http/offload.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"

typedef struct {
    void (*work)(void *arg);
    void *arg, *item;
} job_t;

struct ig_offload {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued, or stopping */
    pthread_cond_t idle_cv; /* a reservation was used or given back (ig_offload_stop waits for them) */
    job_t *ring;            /* the queued jobs, oldest at head */
    size_t cap, head, n, running, reserved;
    bool stopping, joined;
    int nice;
    void (*done)(void *item, bool ran);
    int nthreads;
    pthread_t *threads;
};

static void *run(void *arg)
{
    ig_offload_t *q = arg;
    /* Linux applies setpriority(PRIO_PROCESS, tid) to the one thread: the hashing yields to the workers. */
    if (q->nice && setpriority(PRIO_PROCESS, (id_t)gettid(), q->nice) != 0)
        ig_warn("offload: cannot lower the hashing thread's priority (nice %d): %s", q->nice, strerror(errno));
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->n == 0) {
            if (q->stopping) break;
            pthread_cond_wait(&q->work_cv, &q->mu);
            continue;
        }
        job_t j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->running++;
        pthread_mutex_unlock(&q->mu);
        j.work(j.arg);
        q->done(j.item, true); /* outside the lock: the transport resumes the connection */
        pthread_mutex_lock(&q->mu);
        q->running--;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void destroy(ig_offload_t *q)
{
    pthread_cond_destroy(&q->work_cv);
    pthread_cond_destroy(&q->idle_cv);
    pthread_mutex_destroy(&q->mu);
    free(q->threads);
    free(q->ring);
    free(q);
}

ig_offload_t *ig_offload_new(int threads, size_t cap, int nice, void (*done)(void *item, bool ran))
{
    if (threads < 1 || cap < 1) return NULL;
    ig_offload_t *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work_cv, NULL);
    pthread_cond_init(&q->idle_cv, NULL);
    q->cap = cap;
    q->nice = nice;
    q->done = done;
    q->ring = calloc(cap, sizeof *q->ring);
    q->threads = calloc((size_t)threads, sizeof *q->threads);
    if (!q->ring || !q->threads) {
        destroy(q);
        return NULL;
    }
    for (; q->nthreads < threads; q->nthreads++)
        if (pthread_create(&q->threads[q->nthreads], NULL, run, q) != 0) {
            ig_offload_stop(q); /* joins the ones started */
            destroy(q);
            return NULL;
        }
    return q;
}

bool ig_offload_reserve(ig_offload_t *q)
{
    pthread_mutex_lock(&q->mu);
    bool ok = !q->stopping && q->n + q->running + q->reserved < q->cap;
    if (ok) q->reserved++;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void ig_offload_add(ig_offload_t *q, void (*work)(void *arg), void *arg, void *item)
{
    pthread_mutex_lock(&q->mu);
    q->reserved--;
    q->ring[(q->head + q->n) % q->cap] = (job_t){work, arg, item}; /* room: n + running + reserved < cap */
    q->n++;
    pthread_cond_signal(&q->work_cv);
    pthread_cond_broadcast(&q->idle_cv);
    pthread_mutex_unlock(&q->mu);
}

void ig_offload_unreserve(ig_offload_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->reserved--;
    pthread_cond_broadcast(&q->idle_cv);
    pthread_mutex_unlock(&q->mu);
}

size_t ig_offload_pending(ig_offload_t *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->n + q->running + q->reserved;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void ig_offload_stop(ig_offload_t *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    bool joined = q->joined;
    q->stopping = q->joined = true;
    pthread_cond_broadcast(&q->work_cv);
    while (q->reserved) pthread_cond_wait(&q->idle_cv, &q->mu); /* its add (or unreserve) is on its way */
    while (q->n) { /* never run: each is resumed to be refused */
        job_t j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        pthread_mutex_unlock(&q->mu);
        q->done(j.item, false);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    if (joined) return;
    for (int i = 0; i < q->nthreads; i++) pthread_join(q->threads[i], NULL);
}

void ig_offload_free(ig_offload_t *q)
{
    if (!q) return;
    ig_offload_stop(q);
    destroy(q);
}
