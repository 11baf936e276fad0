/* changes — telling the other nodes of a cluster that the token table changed (issue 12, item 3).
 *
 * The store is the truth; this is only the doorbell.  A node that writes a token change (admin API, console)
 * publishes "<node id> <seq>" on the Redis channel icegate:changes after its store commit; every other node's
 * subscriber thread hears it and calls wake(), which makes the server read the store's changes at once
 * instead of at its next poll (tokens.poll_interval_ms).  A lost message costs nothing but time: the poll
 * still reads every change by sequence, and auth.max_staleness_ms bounds how long a node that cannot reach its
 * store keeps serving on what it has (access/auth.c).  On each (re)subscription wake() is called too, since
 * messages may have been missed meanwhile.  The CLI, which writes the store directly, is heard by the poll.
 *
 * Uses the Redis of ratelimiter.redis.url (its password and timeout); started only when that is set. */
#ifndef IG_CLUSTER_CHANGES_H
#define IG_CLUSTER_CHANGES_H

#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"

typedef struct ig_changes ig_changes_t;

/* NULL with err filled only for a bad URL or password file; a Redis that is down is retried in the
 * background.  wake(ud) runs on the subscriber thread: it must only signal. */
ig_changes_t *ig_changes_start(const ig_config_t *cfg, void (*wake)(void *ud), void *ud, ig_error_t *err);
/* Announces change seq (any thread; one short round trip, never longer than ratelimiter.redis.timeout_ms). */
void ig_changes_publish(ig_changes_t *c, int64_t seq);
/* Counters for /metrics, appended to sb. */
void ig_changes_metrics(ig_changes_t *c, ig_buf_t *sb);
void ig_changes_stop(ig_changes_t *c);

#endif
