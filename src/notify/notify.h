/* notify — the background side of DESIGN.md §8's events, expiry warnings and audit retention, in two threads
 * of their own so that none of it is on a request's path:
 *
 *   the watcher (every second) walks the in-memory token table and turns what it sees into outbox rows:
 *     - token.expiring / token.expired: a token whose expiresAt is within a threshold of
 *       notifications.expiry_warning_days (checked every 5 s) gets one event for the nearest threshold
 *       crossed; the store remembers the level per expiry (notice_raise), so a restart or a second node
 *       never repeats one and a new expiresAt starts afresh;
 *     - token.rate_limited: the token's 429 counter (ig_token_runtime_t.limited, which the request path
 *       already keeps with one atomic add) moved since the last event, at most one event a minute per token:
 *       the request path itself does no I/O, takes no lock and allocates nothing for it;
 *     - audit retention: entries older than audit.retention_days are deleted at start and every hour, in
 *       batches of 1000 (SQLite puts the freed pages on its free list and reuses them for new rows).
 *   the sender takes the oldest due event from the outbox, POSTs it (webhook.h), deletes it only after a
 *     2xx, and otherwise retries with exponential backoff (1 s doubling up to
 *     notifications.webhook.max_backoff_ms).  Delivery is at least once: an event leaves the store only
 *     when acknowledged, whatever happens to the receiver or to icegate in between.
 *
 * Without notifications.webhook.url only retention runs and no events are written. */
#ifndef IG_NOTIFY_H
#define IG_NOTIFY_H

#include <stdint.h>

#include "access/token_table.h"
#include "core/config.h"
#include "store/store.h"

typedef struct ig_notify ig_notify_t;

/* Starts the threads (reads the webhook key file: a missing or unreadable file is an error naming the key).
 * NULL with err filled. */
ig_notify_t *ig_notify_start(const ig_config_t *cfg, ig_store_t *st, ig_token_table_t *ts, ig_error_t *err);
/* Stops and joins the threads (an attempt in flight is aborted); NULL is fine. */
void ig_notify_stop(ig_notify_t *n);

/* The warning level of a token that expires in remaining_ms, with thresholds days[0..n) (largest first):
 * 0 when expired, the smallest threshold it is within (the nearest crossed), or -1 when none. */
int ig_notify_expiry_level(int64_t remaining_ms, const int *days, int n);

#endif
