/* webhook — one delivery of one event to notifications.webhook.url (DESIGN.md §8, Events): an HTTP POST of
 * the event's JSON with
 *   Content-Type: application/json
 *   X-Icegate-Event-Id: evt_...          (the same on every retry: a receiver drops duplicates with it)
 *   X-Icegate-Signature: sha256=<hex>    HMAC-SHA256 of the exact body with the key from
 *                                        notifications.webhook.secret_file (absent when no key is set)
 * through libcurl, http(s) only, no redirects followed, bounded by notifications.webhook.timeout_ms.
 * Only the notifier's sender thread calls it: never a request thread. */
#ifndef IG_NOTIFY_WEBHOOK_H
#define IG_NOTIFY_WEBHOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IG_SIGNATURE_LEN (7 + 64) /* "sha256=" + 64 hex digits */

typedef struct ig_webhook ig_webhook_t;

/* url: http:// or https://; key (may be NULL/0 length: unsigned); timeout_ms per attempt; *stop aborts an
 * attempt in flight when it becomes true.  NULL when libcurl cannot start. */
ig_webhook_t *ig_webhook_new(const char *url, const unsigned char *key, size_t keylen, int timeout_ms,
                             const _Atomic bool *stop);
void ig_webhook_free(ig_webhook_t *w);
/* POSTs body; returns the HTTP status (2xx = delivered), or 0 when no answer came (connect failure,
 * timeout), with a short reason (never the URL or the key) in why. */
int ig_webhook_post(ig_webhook_t *w, const char *event_id, const char *body, char *why, size_t cap);

/* "sha256=" + the lower-case hex HMAC-SHA256 of body under key, NUL-terminated, into out. */
void ig_webhook_signature(const unsigned char *key, size_t keylen, const char *body, size_t len,
                          char out[IG_SIGNATURE_LEN + 1]);
/* The wait before retry number `failures` (1, 2, ...): 1 s doubling, capped at max_ms, with up to 20% random
 * jitter taken off so that nodes that failed together do not retry together. */
int64_t ig_webhook_backoff_ms(int failures, int64_t max_ms, uint32_t rnd);
/* Reads a key file (trailing newline trimmed) into buf; its length, or -1 with errno. */
long ig_webhook_read_key(const char *path, unsigned char *buf, size_t cap);

#endif
