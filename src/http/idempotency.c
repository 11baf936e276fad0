/* idempotency — see idempotency.h. */
#include "http/idempotency.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

#define INFLIGHT 256                  /* keyed mutations running at once that we guard against duplicates */
#define KEEP_MS (60 * 60 * 1000LL)    /* advertised lifetime PT30M, kept twice as long */
/* What the store may hold, whatever the traffic (issue 10, item 4): the newest entries are kept.  A response
 * larger than MAX_ENTRY is not kept: a retry of it runs again (and a commit's requirements refuse a repeat). */
#define MAX_ENTRIES 100000
#define MAX_BYTES (256LL << 20)
#define MAX_ENTRY (8 << 20)

struct ig_idempotency {
    ig_store_t *store;
    pthread_mutex_t mu; /* guards busy */
    char busy[INFLIGHT][37];
};

ig_idempotency_t *ig_idempotency_new(ig_store_t *store)
{
    ig_idempotency_t *ik = calloc(1, sizeof *ik);
    if (!ik) return NULL;
    ik->store = store;
    pthread_mutex_init(&ik->mu, NULL);
    return ik;
}

void ig_idempotency_free(ig_idempotency_t *ik)
{
    if (!ik) return;
    pthread_mutex_destroy(&ik->mu);
    free(ik);
}

/* A UUID in any case → lower case in key[37]; -1 if hdr is not one. */
static int parse_key(const char *hdr, char key[37])
{
    if (strlen(hdr) != 36) return -1;
    for (size_t i = 0; i < 36; i++) {
        char ch = hdr[i];
        bool ok = i == 8 || i == 13 || i == 18 || i == 23
                      ? ch == '-'
                      : (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (!ok) return -1;
        key[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    key[36] = '\0';
    return 0;
}

/* The stored response for got, or a 400 when the key was used by someone else or for another request. */
static ig_res_t replay(ig_req_t *r, const ig_idem_t *want, ig_idem_t *got)
{
    ig_res_t res;
    if (strcmp(got->principal, want->principal) != 0 || strcmp(got->request, want->request) != 0) {
        res = ig_http_error(r, IG_E_BAD_REQUEST, "Idempotency-Key %s was already used for a different request",
                            want->key);
    } else {
        ig_http_add_header(r, "Idempotent-Replayed", "true");
        res = ig_http_send(r, got->status, got->body_len ? "application/json" : NULL, got->body, got->body_len,
                           false);
    }
    free(got->body);
    return res;
}

/* Claims key for this process while its operation runs: the slot, -1 when the table is full (the request
 * runs unguarded), or -2 when the key is running already. */
static int claim(ig_idempotency_t *ik, const char *key)
{
    int slot = -1;
    pthread_mutex_lock(&ik->mu);
    for (int i = 0; i < INFLIGHT; i++) {
        if (strcmp(ik->busy[i], key) == 0) {
            slot = -2;
            break;
        }
        if (slot == -1 && !ik->busy[i][0]) slot = i;
    }
    if (slot >= 0) memcpy(ik->busy[slot], key, 37);
    pthread_mutex_unlock(&ik->mu);
    return slot;
}

static void unclaim(ig_idempotency_t *ik, int slot)
{
    if (slot < 0) return;
    pthread_mutex_lock(&ik->mu);
    ik->busy[slot][0] = '\0';
    pthread_mutex_unlock(&ik->mu);
}

/* Keeps r's captured response for e's key when it is final. */
static void keep_if_final(ig_idempotency_t *ik, ig_req_t *r, ig_idem_t *e, int64_t now)
{
    int st = r->status;
    if (!((st >= 200 && st < 300) || (st >= 400 && st < 500 && st != 408 && st != 429))) return;
    if (r->capture.len > MAX_ENTRY) {
        ig_warn("the response for Idempotency-Key %s is %zu bytes, over %d: not kept for a replay", e->key,
                r->capture.len, MAX_ENTRY);
        return;
    }
    ig_error_t err;
    e->status = st;
    e->body = r->capture.body;
    e->body_len = r->capture.len;
    e->created_at_ms = now;
    if (ik->store->ops->idem_put(ik->store, e, now - KEEP_MS, MAX_ENTRIES, MAX_BYTES, &err))
        ig_warn("cannot store the response for Idempotency-Key %s: %s", e->key, err.message);
}

ig_res_t ig_idempotency_run(ig_idempotency_t *ik, ig_req_t *r, const char *hdr, ig_http_handler_t run, void *ctx)
{
    ig_idem_t e;
    memset(&e, 0, sizeof e);
    if (parse_key(hdr, e.key))
        return ig_http_error(r, IG_E_BAD_REQUEST, "Idempotency-Key must be a UUID (36 characters, e.g. "
                                                  "017f22e2-79b0-7cc3-98c4-dc0c0c07398f)");
    if (r->who.ns_allow[0])
        snprintf(e.principal, sizeof e.principal, "%s/%s", r->who.user, r->who.token_id);
    else
        snprintf(e.principal, sizeof e.principal, "%s", r->who.user);
    if ((size_t)snprintf(e.request, sizeof e.request, "%s %.*s", r->method_str, (int)r->path_len, r->path) >=
        sizeof e.request)
        return ig_http_error(r, IG_E_BAD_REQUEST, "path too long for an Idempotency-Key request");

    ig_error_t err;
    ig_idem_t got;
    int64_t now = ig_clock_wall_ms();
    int rc = ik->store->ops->idem_get(ik->store, e.key, now - KEEP_MS, &got, &err);
    if (rc < 0) return ig_http_error_from(r, &err);
    if (rc == 0) return replay(r, &e, &got);

    int slot = claim(ik, e.key);
    if (slot == -2) {
        ig_http_add_header(r, "Retry-After", "1");
        return ig_http_error(r, IG_E_UNAVAILABLE, "a request with Idempotency-Key %s is still in progress: retry",
                             e.key);
    }
    r->capture.on = true;
    ig_res_t res = run(ctx, r);
    keep_if_final(ik, r, &e, now);
    free(r->capture.body);
    r->capture.body = NULL;
    r->capture.on = false;
    unclaim(ik, slot);
    return res;
}
