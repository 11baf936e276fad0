/* token_table — access tokens as the server sees them: the persistent records in the store, and an in-memory
 * table (SHA-256 → record) that authentication reads on every request without locks or allocation.
 *
 * Reads: a request brackets its lookups with ig_token_table_read_begin/end (epoch-based reclamation: a record or
 * table replaced while a reader holds it is freed only after every reader that could have seen it has left).
 * In-memory records are immutable; an update builds a new record and swaps the slot.  What must survive an
 * update — the rate-limit cell, usage and counters — lives in an ig_token_runtime_t shared by the versions.
 *
 * Writes: the admin API and the CLI call the ig_token_table_* operations, which validate, write the store,
 * and (in the server) apply the change to the table before returning, so the very next request sees it.
 * Changes by other processes arrive through ig_token_table_sync(), which the server calls every
 * tokens.poll_interval_ms. */
#ifndef IG_TOKEN_TABLE_H
#define IG_TOKEN_TABLE_H

#include <json-c/json.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "ratelimit/gcra.h"
#include "store/store.h"
#include "access/token.h"

#define IG_TOKEN_ID_LEN 24 /* in-memory id capacity: ids are "tok_" + 16 base62 characters (20) */
#define IG_STATS_SLOTS 300 /* per-second request counters kept per token: the last 5 minutes */

/* Per-second counters of one token: slot s holds second (v >> 32) and its count (v & 0xffffffff), so a slot
 * moves to a new second with one CAS.  Allocated on a token's first request: most tokens never need it. */
typedef struct {
    _Atomic uint64_t req[IG_STATS_SLOTS];
    _Atomic uint64_t lim[IG_STATS_SLOTS];
    _Atomic uint64_t shadow[IG_STATS_SLOTS]; /* served over the limit in shadow mode: would-be 429s */
    _Atomic uint64_t shadow_total;
} ig_token_history_t;

/* Mutable per-token state, shared by every version of a record: one cache line. */
typedef struct {
    alignas(64) ig_gcra_cell_t cell;
    _Atomic int64_t last_used_ms;
    _Atomic uint64_t ip_hi, ip_lo; /* last client address as IPv6 (IPv4 mapped) */
    _Atomic uint64_t requests;     /* authenticated requests, allowed or not */
    _Atomic uint64_t limited;      /* of which refused with 429 */
    _Atomic(ig_token_history_t *) stats;
    /* Requests held to their slot (ratelimiter.max_delay_ms): the total in the high 40 bits, those held
     * right now in the low 24, so a hold is one fetch_add (IG_HELD_ONE) and a release one fetch_sub of 1. */
    _Atomic uint64_t held;
} ig_token_runtime_t;

#define IG_HELD_ONE ((UINT64_C(1) << 24) + 1)
#define IG_HELD_NOW(v) ((int64_t)((v) & 0xffffff))
#define IG_HELD_TOTAL(v) ((v) >> 24)

/* Immutable in-memory version of a token (~150 bytes: a million fit in well under 300 MB). */
typedef struct {
    uint8_t hash[32];
    ig_token_runtime_t *state;
    ig_gcra_params_t params;
    int64_t expires_at_ms; /* 0 = never */
    int64_t seq;
    bool suspended;
    bool limited; /* has a max_rps and the limiter is enabled */
    bool deleted; /* a tombstone: remembers the deletion's seq so a stale copy never brings the token back */
    uint8_t suspended_by;   /* ig_set_by_t: who suspended it, so the 401 can say whether its owner may lift it */
    uint8_t max_rps_set_by; /* ig_set_by_t: who set the limit */
    /* A previous secret of a rotated token (same state, id and fields as the current version): it works until
     * alias_until_ms, then gets 401 "rotated".  Not a token of its own (not counted, not listed). */
    unsigned scopes; /* IG_SCOPE_* */
    uint8_t ncidrs;  /* allowedCidrs: 0 = anywhere */
    bool shadow;     /* rateLimitMode shadow: over the limit is served, counted as a would-be 429 */
    const ig_cidr_t *cidrs; /* in the same allocation, after the names */
    uint16_t ns_len;        /* namespaces: 0 = every one */
    const char *ns;         /* packed as core/principal.h says, in the same allocation, after the CIDRs */
    bool alias;
    int64_t alias_until_ms;
    int64_t rotated_at_ms;
    char expires_text[32]; /* expires_at_ms as RFC 3339, the X-API-Token-Expiration header ("" = never) */
    const char *id;    /* lives with the state (one copy per token, not per version) */
    const char *owner; /* points into name[] */
    char name[];       /* "name\0owner\0" */
} ig_token_entry_t;

typedef struct ig_token_table ig_token_table_t;

/* serving: keep the in-memory table (the server); false for the CLI, which only writes the store. */
ig_token_table_t *ig_token_table_new(ig_store_t *st, bool serving, bool ratelimiter_enabled);
void ig_token_table_free(ig_token_table_t *ts);
/* Loads every token into memory. Returns 0 or -1. */
int ig_token_table_load(ig_token_table_t *ts, ig_error_t *err);
/* Picks up changes committed by other processes (cheap when there are none).  Returns how far the change
 * sequence moved (0 when nothing changed), or -1 when the store does not answer. */
int ig_token_table_sync(ig_token_table_t *ts);
/* The wall-clock ms of the last sync that reached the store (or of the load): up to then the table is known to
 * hold every committed change.  0 before the load. */
int64_t ig_token_table_confirmed_ms(const ig_token_table_t *ts);
/* The highest store change sequence the table has applied. */
int64_t ig_token_table_seq(ig_token_table_t *ts);
/* Called (in the writing thread, after the store committed and the table applied it) for every change this
 * process makes, so other nodes can be told at once (cluster/changes.h).  NULL: none. */
void ig_token_table_on_change(ig_token_table_t *ts, void (*fn)(void *ud, int64_t seq), void *ud);
/* Writes last-used times/addresses that changed since the last flush, in one transaction. */
void ig_token_table_flush_usage(ig_token_table_t *ts);
/* Frees replaced records that no reader can still hold. */
void ig_token_table_reclaim(ig_token_table_t *ts);
size_t ig_token_table_count(ig_token_table_t *ts);
/* Calls cb for every in-memory token (inside a read section: cb must not block). */
void ig_token_table_walk(ig_token_table_t *ts, int (*cb)(void *ud, const ig_token_entry_t *m), void *ud);
bool ig_token_table_ratelimiter_enabled(const ig_token_table_t *ts);
/* Every change is written with its audit entry (access/journal.h); with events on, suspend, activate and
 * delete also write their webhook event (token.suspended, ...) in the same transaction.  Off by default. */
void ig_token_table_set_events(ig_token_table_t *ts, bool on);
/* Appends the per-token metrics (Prometheus text: tokens loaded, requests and 429s per token id) to sb. */
void ig_token_table_render_metrics(ig_token_table_t *ts, ig_buf_t *sb);

/* ---- request path ---- */
void ig_token_table_read_begin(void);
void ig_token_table_read_end(void);
/* Looks a token up by hash; valid until ig_token_table_read_end. NULL if unknown; check ->deleted. */
const ig_token_entry_t *ig_token_table_find(ig_token_table_t *ts, const uint8_t hash[32]);
/* Counts one request a shadow-mode token let through over its limit (a would-be 429). */
void ig_token_runtime_note_shadow(ig_token_runtime_t *s, int64_t now_ms);
/* Notes one use (time, client address) and counts it, limited or not.  No allocation, no lock. */
void ig_token_runtime_note(ig_token_runtime_t *s, int64_t now_ms, const void *in6_addr16, bool limited);

/* ---- management (API and CLI) ---- */
typedef struct {
    bool has_name, has_max_rps, has_burst, has_expires, has_scopes, has_cidrs, has_mode, has_namespaces;
    bool shadow;           /* rateLimitMode (has_mode) */
    unsigned scopes;       /* IG_SCOPE_* (has_scopes) */
    char cidrs[IG_TOKEN_CIDRS_MAX * IG_CIDR_TEXT_MAX]; /* canonical, comma-separated; "" = anywhere */
    char namespaces[IG_NS_ALLOW_MAX + 1]; /* packed (core/principal.h); "" = every namespace */
    char name[IG_NAME_MAX * 4 + 1];
    double max_rps;        /* 0 = null */
    int burst;             /* 0 = null (default) */
    int64_t expires_at_ms; /* 0 = null */
} ig_token_spec_t;

/* Parses a create (for_create) or PATCH body.  400 naming the field on a wrong type, an unknown field, or an
 * invalid value. */
int ig_token_spec_from_json(json_object *body, bool for_create, int64_t now_ms, ig_token_spec_t *spec,
                            ig_error_t *err);
/* Checks values (name printable 1..100 chars, maxRps finite > 0, burst >= 1, expiry in the future). */
int ig_token_spec_validate(const ig_token_spec_t *spec, bool for_create, int64_t now_ms, ig_error_t *err);

/* Every change names who makes it (`who`: the request's principal; the CLI acts as an admin named "cli").
 * A suspension records its principal's role and name, a Max RPS its setter's role, and a member may not lift
 * what is not recorded as a member's: activating a token an admin suspended, suspending it again, or changing
 * or removing (maxRps or burst) a limit an admin set is 403 ForbiddenException saying so, nothing written.
 * Admins may do everything.  The rule is checked on the row each attempt reads and the write is a
 * compare-and-set on that row's version, so no change (from another request or the CLI) can slip in between
 * the check and the write. */

/* Creates a token owned by owner; secret receives the only copy of the token value. */
int ig_token_table_create(ig_token_table_t *ts, const ig_principal_t *who, const char *owner,
                         const ig_token_spec_t *spec, char secret[IG_TOKEN_LEN + 1], ig_token_row_t *out,
                         ig_error_t *err);
int ig_token_table_update(ig_token_table_t *ts, const ig_principal_t *who, const char *id,
                         const ig_token_spec_t *spec, ig_token_row_t *out, ig_error_t *err);
int ig_token_table_suspend(ig_token_table_t *ts, const ig_principal_t *who, const char *id, const char *reason,
                          ig_token_row_t *out, ig_error_t *err);
int ig_token_table_activate(ig_token_table_t *ts, const ig_principal_t *who, const char *id, ig_token_row_t *out,
                           ig_error_t *err);
int ig_token_table_delete(ig_token_table_t *ts, const ig_principal_t *who, const char *id, ig_error_t *err);
/* Gives token id a new secret (into secret, its only copy); the old one keeps working for grace_ms (0: not at
 * all), then gets 401 "rotated".  Same id, settings, limit cell and usage.  A rotation during an earlier one's
 * grace ends that earlier secret at once.  400 for a grace outside 0..IG_ROTATE_GRACE_MAX_MS. */
#define IG_ROTATE_GRACE_MAX_MS (30LL * 24 * 3600 * 1000)
int ig_token_table_rotate(ig_token_table_t *ts, const ig_principal_t *who, const char *id, int64_t grace_ms,
                          char secret[IG_TOKEN_LEN + 1], ig_token_row_t *out, ig_error_t *err);
/* Reads a token, with last-use fresh from memory when live.  404 NoSuchAccessTokenException if absent. */
/* The 404 NoSuchAccessTokenException for id (also what members get for someone else's token); returns -1. */
int ig_token_table_not_found(ig_error_t *err, const char *id);
int ig_token_table_get(ig_token_table_t *ts, const char *id, ig_token_row_t *out, ig_error_t *err);
/* Lists live tokens (of one owner when owner != NULL, of one status when status != NULL). */
int ig_token_table_list(ig_token_table_t *ts, const char *owner, const char *status, ig_token_cb cb, void *ud,
                       ig_error_t *err);

/* "catalog:read" | "catalog:write" | "admin" for one IG_SCOPE_* bit (the lowest set in bits). */
const char *ig_scope_name(unsigned bits);
/* The scopes of bits as "catalog:read,catalog:write" ("" for none). */
void ig_scopes_text(unsigned bits, char *buf, size_t cap);
/* Parses "catalog:read,admin" (the CLI's --scopes): 0 with *bits, or -1. */
int ig_scopes_parse(const char *text, unsigned *bits);
/* Parses allowedCidrs text (comma-separated CIDRs, at most IG_TOKEN_CIDRS_MAX; "none"/"" = anywhere) into
 * canonical text: 0, or -1 with a 400 naming the bad entry. */
int ig_token_cidrs_canonical(const char *text, char *out, size_t cap, ig_error_t *err);
/* Parses the CLI's --namespaces: "none" (every namespace), a JSON array of level arrays
 * ('[["analytics"],["raw","events"]]'), or namespaces separated by commas with levels joined by '.'
 * ("analytics,raw.events"), into the packed form (core/principal.h): 0, or -1 with a 400. */
int ig_token_namespaces_parse(const char *text, char *out, size_t cap, ig_error_t *err);
/* The packed namespaces as the API shows them: null for every namespace, else an array of level arrays. */
json_object *ig_token_namespaces_json(const char *packed);
/* The scopes a new token of an owner of this role gets when none are asked for. */
unsigned ig_scopes_default(ig_role_t owner_role);

/* Shortest decimal text that reads back as r ("5", "0.5", "1000"). */
void ig_format_rate(double r, char *buf, size_t cap);
/* Effective burst: burst, or max(1, ceil(max_rps)). */
int ig_token_effective_burst(const ig_token_row_t *t);
/* "active" | "suspended" | "expired" at now_ms. */
const char *ig_token_status(const ig_token_row_t *t, int64_t now_ms);
/* The API's JSON for a token (DESIGN.md section 3).  secret is added as "token" when not NULL. */
json_object *ig_token_to_json(const ig_token_row_t *t, bool enforced, const char *secret, int64_t now_ms);
/* Per-second counters for the last `seconds` seconds (oldest first) as JSON
 * {"intervalSeconds":1,"start":<unix s>,"requests":[...],"limited":[...],"totalRequests":n,"totalLimited":n}. */
json_object *ig_token_table_stats_json(ig_token_table_t *ts, const char *id, int seconds, int64_t now_ms);

#endif
