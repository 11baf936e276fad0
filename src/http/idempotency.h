/* idempotency — Idempotency-Key on mutations (Iceberg REST spec; iceberg-js sends one on every POST/DELETE).
 *
 * A finalized response for a key is replayed (same status and body, header Idempotent-Replayed: true) without
 * running the operation again; a request still running with the key gets 503 + Retry-After (clients retry
 * it); otherwise the operation runs and its response is stored when final (2xx, and 4xx other than 408/429:
 * the spec's "deterministic terminal" answers; 5xx never).  Keys are bound to the caller and to "METHOD
 * path": reusing one for another request is a 400.  Finalized responses live in the store, so a replay works
 * across restarts and processes; keys running right now are tracked in this process. */
#ifndef IG_IDEMPOTENCY_H
#define IG_IDEMPOTENCY_H

#include "http/http.h"
#include "store/store.h"

#define IG_IDEMPOTENCY_LIFETIME "PT30M" /* advertised in /v1/config; entries are kept twice as long */

typedef struct ig_idempotency ig_idempotency_t;

/* Replay state on store (borrowed).  NULL when out of memory. */
ig_idempotency_t *ig_idempotency_new(ig_store_t *store);
void ig_idempotency_free(ig_idempotency_t *ik);

/* Runs run(ctx, r) under the Idempotency-Key value key (the header as sent), replaying or refusing as above.
 * A key that is not a UUID is a 400. */
ig_res_t ig_idempotency_run(ig_idempotency_t *ik, ig_req_t *r, const char *key, ig_http_handler_t run, void *ctx);

#endif
