/* sqlite_idem — the Idempotency-Key responses (store.h idem_get / idem_put) in table idempotency (schema
 * migrations 2 and 3: its count and bytes kept in meta by triggers). */
#ifndef IG_STORE_SQLITE_IDEM_H
#define IG_STORE_SQLITE_IDEM_H

#include "store/store.h"

int ig_sqi_get(ig_store_t *st, const char *key, int64_t since_ms, ig_idem_t *out, ig_error_t *err);
int ig_sqi_put(ig_store_t *st, const ig_idem_t *e, int64_t expire_before_ms, int64_t max_entries, int64_t max_bytes,
               ig_error_t *err);

#endif
