/* hold — a timer for requests held to their rate-limit slot (ratelimiter.max_delay_ms).
 *
 * The transport suspends a held connection (no worker thread waits on it) and adds it here with the time its
 * slot opens; one thread sleeps until the earliest one is due and calls wake(item), which resumes it.  A
 * binary min-heap under one mutex: only requests over their token's limit come here, never the normal
 * request path.  The capacity is fixed at creation (the transport's connection limit: a held request pins a
 * connection), so an add never allocates. */
#ifndef IG_HOLD_H
#define IG_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ig_holds ig_holds_t;

/* Starts the timer thread.  NULL when out of memory or threads. */
ig_holds_t *ig_holds_new(size_t cap, void (*wake)(void *item));
/* Reserves room for one add (false when full or stopping): the transport reserves while the handler still
 * runs, and adds once the request is suspended. */
bool ig_holds_reserve(ig_holds_t *h);
/* Wakes item at due_ns (monotonic), in the room reserved before; never fails. */
void ig_holds_add(ig_holds_t *h, int64_t due_ns, void *item);
/* Gives reserved room back unused (the request was answered, or could not be suspended after all). */
void ig_holds_unreserve(ig_holds_t *h);
/* Held right now. */
size_t ig_holds_count(ig_holds_t *h);
/* Takes no more adds, wakes what is held at its due time (at most max_delay_ms away) and joins the thread
 * (NULL is fine).  ig_holds_reserve answers false from then on. */
void ig_holds_stop(ig_holds_t *h);
/* Stops h if needed and frees it (NULL is fine). */
void ig_holds_free(ig_holds_t *h);

#endif
