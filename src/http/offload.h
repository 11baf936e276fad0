/* offload — a few threads for work too slow for a request's worker thread (argon2 password hashing), behind
 * a bounded queue.
 *
 * The transport suspends the connection of a request that defers work (ig_http_defer: no worker thread waits
 * on it) and adds a job here; one of the offload threads runs work(arg), then done(item, true), which resumes
 * the connection so the handler runs again with the result.  The queue has a fixed capacity, taken at
 * creation: a job that finds it full is refused at once (the caller answers 503 + Retry-After), so a login
 * flood queues at most `cap` hashes and never blocks a worker.  The threads run at a lower CPU priority
 * (nice), so under a flood the catalog's worker threads keep the CPU and the hashing takes what is left.
 *
 * Like hold.h, room is reserved while the handler still runs and the job added once the connection is
 * suspended, so an add never fails.  On stop, jobs still queued are not run: done(item, false) resumes each
 * (the handler answers 503), the running ones finish, and the threads are joined. */
#ifndef IG_OFFLOAD_H
#define IG_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ig_offload ig_offload_t;

/* Starts `threads` threads (>= 1) at niceness `nice` (0: the process's own; an error setting it is only
 * logged) with room for `cap` jobs (queued or running).  done(item, ran) is called once per job, from an
 * offload thread, or from the caller of ig_offload_stop for a job that never ran.  NULL when out of memory
 * or threads. */
ig_offload_t *ig_offload_new(int threads, size_t cap, int nice, void (*done)(void *item, bool ran));
/* Reserves room for one job: false when full or stopping (refuse the request; nothing to give back). */
bool ig_offload_reserve(ig_offload_t *q);
/* Queues work(arg) in the room reserved before, done(item, ...) after it; never fails. */
void ig_offload_add(ig_offload_t *q, void (*work)(void *arg), void *arg, void *item);
/* Gives reserved room back unused. */
void ig_offload_unreserve(ig_offload_t *q);
/* Jobs queued, running or reserved right now. */
size_t ig_offload_pending(ig_offload_t *q);
/* Takes no more jobs, calls done(item, false) for each queued one, lets the running ones finish and joins the
 * threads (NULL is fine; a second call does nothing).  A reservation still out is waited for. */
void ig_offload_stop(ig_offload_t *q);
/* Stops q if needed and frees it (NULL is fine). */
void ig_offload_free(ig_offload_t *q);

#endif
