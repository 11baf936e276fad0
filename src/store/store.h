/* store — the one interface to persistent state.  Token, user, session-free catalog code calls these
 * functions only; a back end (sqlite.c embedded, postgres.c for scale-out) fills ig_store_ops_t, as curl
 * does with its TLS back ends.  No SQL dialect leaks above this line.
 *
 * Threading: every function may be called from any thread; a back end serialises internally as it needs.
 * Return convention: 0 success, IG_STORE_NOTFOUND (1) when the object does not exist, -1 error with *err
 * filled (its kind says what to answer: IG_E_COMMIT_FAILED or IG_E_ALREADY_EXISTS for conflicts, IG_E_INTERNAL
 * for I/O). */
#ifndef IG_STORE_H
#define IG_STORE_H

/* Ends a namespace key's warehouse tag (see ns_create). */
#define IG_WH_TAG '\x1d'

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/cidr.h"
#include "core/principal.h"

#define IG_STORE_NOTFOUND 1
#define IG_STORE_STALE 2 /* token_update: the row changed since the caller read it */

#define IG_NAME_MAX 100   /* token names: 1..100 printable characters */
#define IG_REASON_MAX 500
#define IG_IP_MAX 46
#define IG_TOKEN_CIDRS_MAX 16 /* allowedCidrs per token */

/* Who imposed a restriction on a token (a suspension, a Max RPS), so that a member cannot lift what an admin
 * set.  UNKNOWN: imposed before icegate recorded it (schema 3 and older), or nothing is imposed; a member may
 * lift only what is recorded as a member's. */
typedef enum { IG_SET_BY_UNKNOWN = 0, IG_SET_BY_MEMBER = 1, IG_SET_BY_ADMIN = 2 } ig_set_by_t;

typedef struct {
    char id[IG_ID_MAX];
    char name[IG_NAME_MAX * 4 + 1]; /* up to 100 UTF-8 characters */
    char owner[IG_USER_MAX + 1];
    char prefix[16];
    uint8_t hash[32];
    bool suspended;
    double max_rps;    /* 0 = unlimited (null) */
    int burst;         /* 0 = default: max(1, ceil(max_rps)) */
    int64_t expires_at_ms; /* 0 = never */
    int64_t created_at_ms, updated_at_ms, suspended_at_ms, last_used_at_ms;
    char last_used_ip[IG_IP_MAX];
    char suspend_reason[IG_REASON_MAX * 4 + 1];
    ig_set_by_t suspended_by_role;   /* who suspended it (when suspended) */
    char suspended_by[IG_USER_MAX + 1]; /* their user name ("cli" for the command line) */
    ig_set_by_t max_rps_set_by;     /* who set max_rps and burst (when max_rps > 0) */
    /* Rotation (DESIGN.md §8): hash and prefix are the current secret's; prev_hash the one it replaced, which
     * works until prev_valid_until_ms (0 when the token was never rotated). */
    unsigned scopes; /* IG_SCOPE_* (core/principal.h) */
    bool rate_limit_shadow; /* rateLimitMode: shadow (else enforce) */
    /* allowedCidrs as canonical text, comma-separated ("" = anywhere); at most IG_TOKEN_CIDRS_MAX */
    char allowed_cidrs[IG_TOKEN_CIDRS_MAX * IG_CIDR_TEXT_MAX];
    /* namespaces, packed as core/principal.h says ("" = every namespace) */
    char namespaces[IG_NS_ALLOW_MAX + 1];
    bool has_prev;
    uint8_t prev_hash[32];
    int64_t prev_valid_until_ms, rotated_at_ms;
    int64_t seq;  /* store-wide change sequence of the last write to this row */
    bool deleted; /* only ever seen through token_changes */
} ig_token_row_t;

typedef struct {
    char id[IG_ID_MAX];
    int64_t last_used_at_ms;
    char last_used_ip[IG_IP_MAX];
} ig_token_usage_t;


typedef struct {
    char name[IG_USER_MAX + 1];
    ig_role_t role;
    char password_hash[128]; /* argon2id encoded string */
    int64_t created_at_ms;
} ig_user_t;

/* Catalog objects: tables and views share one namespace of names. */
typedef enum { IG_OBJ_TABLE = 1, IG_OBJ_VIEW = 2 } ig_obj_kind_t;

/* One pointer swap of a commit: object (ns, name) moves from expected to new metadata location. */
typedef struct {
    const char *ns;   /* namespace levels joined by 0x1F */
    const char *name;
    ig_obj_kind_t kind;
    const char *expected_location; /* NULL: the object must not exist yet (it is created) */
    const char *new_location;
    /* The object's location (the table's or view's "location", canonical, with a trailing '/'), kept with
     * every earlier one while the object lives: its files may still be there.  NULL: unchanged. */
    const char *new_base;
    /* Refuse (409 AlreadyExistsException naming the other object) a new_base equal to, inside or above a
     * location another live object has or had (DESIGN.md §6; off with catalog.allow_location_overlap). */
    bool check_overlap;
} ig_obj_swap_t;

/* A metadata file a commit wrote but did not sync (catalog.metadata_sync: journal): its bytes go into the
 * store in the swap's own transaction, so the one sync of that transaction makes the commit durable; the
 * catalog's flusher syncs the files later and forgets them (meta_pending_done), and a start after a crash
 * writes again every file still pending (DESIGN.md §6 as docs/operations.md explains it). */
typedef struct {
    const char *location; /* the file's location, as the swap names it */
    const char *body;
    size_t len;
} ig_meta_file_t;
typedef int (*ig_meta_file_cb)(void *ud, const ig_meta_file_t *f);

/* A finalized catalog response kept for an Idempotency-Key (Iceberg REST spec). */
typedef struct {
    char key[37];                    /* lower-case UUID */
    /* who sent it: a key is never replayed to someone else ("user", or "user/tok_..." for a token limited to
     * namespaces, whose replays must not show what another of the user's tokens did elsewhere) */
    char principal[IG_USER_MAX + IG_ID_MAX + 2];
    char request[1024];              /* "METHOD /raw/path" */
    int status;
    char *body; /* malloc'd by idem_get; caller frees */
    size_t body_len;
    int64_t created_at_ms;
} ig_idem_t;

/* ---- the journal: audit entries and outgoing events (DESIGN.md §8) ----
 * A change to a token or a user hands the store an ig_journal_t (NULL: none) and the store writes its rows in
 * the change's own transaction: an audit entry exists exactly when its change does, and an event is never
 * lost between the change and its delivery (the events table is an outbox the notifier drains). */

/* One audit entry as written.  Strings may be NULL (stored as null); details is JSON object text. */
typedef struct {
    int64_t at_ms;
    const char *actor;          /* user name, "cli", or the name a failed login gave */
    const char *actor_token_id; /* the token the actor used, NULL for a console session or the CLI */
    const char *action;         /* "token.create", "user.create", "console.login", ... */
    const char *target;         /* a token id or a user name */
    const char *target_owner;   /* whose the target is (the token's owner, the user): members see these */
    const char *details;        /* JSON object text, never a secret or a password */
    const char *client_ip;
} ig_audit_row_t;

/* One event to deliver: body is the JSON that is POSTed, as is (its "id" is the event's id). */
typedef struct {
    const char *id;   /* "evt_" + 16 base62 */
    const char *type; /* "token.suspended", ... */
    const char *body;
    int64_t at_ms;
} ig_event_row_t;

typedef struct {
    const ig_audit_row_t *audit; /* NULL: none */
    const ig_event_row_t *event; /* NULL: none */
} ig_journal_t;

/* An audit entry as read back: the row's strings ("" for null) and its id, increasing with time. */
typedef struct {
    int64_t id, at_ms;
    char actor[IG_USER_MAX + 1], actor_token_id[IG_ID_MAX], action[48], target[IG_USER_MAX + 1];
    char target_owner[IG_USER_MAX + 1], client_ip[IG_IP_MAX];
    const char *details; /* valid during the callback only */
} ig_audit_entry_t;

/* A walk over the audit log, newest first.  NULL/0 fields do not filter. */
typedef struct {
    const char *target, *actor, *action;
    const char *visible_to; /* a member: only entries whose actor or target_owner is this user */
    int64_t since_ms;       /* entries at or after */
    int64_t before_id;      /* entries with a smaller id (paging), 0 = from the newest */
    int limit;              /* at most this many (1..1000) */
} ig_audit_query_t;

/* A pending event as read back; body is malloc'd (caller frees). */
typedef struct {
    int64_t seq; /* the outbox row */
    char id[IG_ID_MAX];
    char *body;
    int attempts;
} ig_event_t;

typedef int (*ig_audit_cb)(void *ud, const ig_audit_entry_t *e);
typedef int (*ig_token_cb)(void *ud, const ig_token_row_t *t);
typedef int (*ig_name_cb)(void *ud, const char *name);

typedef struct ig_store ig_store_t;

/* What a back end can do beyond what every store does: the `supports` word of ig_store_ops_t (curl's vtls
 * model).  A back end without IG_STORE_PUSHES_CHANGES is polled with changed(). */
#define IG_STORE_PUSHES_CHANGES (1u << 0) /* tells other processes of a change itself (PostgreSQL LISTEN/NOTIFY) */

typedef struct {
    const char *name;
    unsigned supports; /* IG_STORE_* bits */
    void (*close)(ig_store_t *st);

    /* ---- tokens ---- */
    /* Inserts t (id/hash/name/owner/... filled by the caller); sets t->seq.  409 if the owner already has an
     * active token with that name. */
    int (*token_insert)(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err);
    /* Replaces the mutable fields of the live token t->id (name, suspended, max_rps, burst, expires_at,
     * suspended_at, suspend_reason, suspended_by_role, suspended_by, max_rps_set_by, updated_at, and for a
     * rotation hash, prefix, prev_hash, prev_valid_until, rotated_at) if the row is still at t->seq, the version the caller read
     * (compare-and-set, so a concurrent suspend is never overwritten); sets t->seq.  NOTFOUND if absent or
     * deleted; STALE if another write came first (read again and retry); 409 on a duplicate name.
     * Every write op's journal j (NULL: none) is written in the same transaction, only when the write is. */
    int (*token_update)(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err);
    /* Deletes a live token (kept as a tombstone so other processes learn of it); *seq gets the tombstone's
     * sequence.  NOTFOUND if absent. */
    int (*token_delete)(ig_store_t *st, const char *id, int64_t now_ms, int64_t *seq, const ig_journal_t *j,
                        ig_error_t *err);
    int (*token_get)(ig_store_t *st, const char *id, ig_token_row_t *out, ig_error_t *err);
    /* Live tokens, optionally of one owner, ordered by creation; cb returning non-zero stops the walk. */
    int (*token_list)(ig_store_t *st, const char *owner, ig_token_cb cb, void *ud, ig_error_t *err);
    /* Every row written after since_seq (tombstones included, except when since_seq is 0), in no particular
     * order (each row appears once); *max_seq gets the highest seq seen. */
    int (*token_changes)(ig_store_t *st, int64_t since_seq, ig_token_cb cb, void *ud, int64_t *max_seq,
                         ig_error_t *err);
    /* Records last use of several tokens in one transaction; does not bump seq. */
    int (*token_touch)(ig_store_t *st, const ig_token_usage_t *u, size_t n, ig_error_t *err);
    /* Cheap poll: 1 if another process or connection committed since the last call, 0 if not, -1 if the
     * store does not answer. */
    int (*changed)(ig_store_t *st);

    /* ---- users ---- */
    int (*user_get)(ig_store_t *st, const char *name, ig_user_t *out, ig_error_t *err);
    int (*user_insert)(ig_store_t *st, const ig_user_t *u, const ig_journal_t *j, ig_error_t *err); /* 409 if it exists */
    int (*user_set_password)(ig_store_t *st, const char *name, const char *hash, const ig_journal_t *j,
                             ig_error_t *err);
    int (*user_count)(ig_store_t *st, int64_t *n, ig_error_t *err);

    /* ---- catalog ---- namespaces are level strings joined by 0x1F; properties are JSON object text.  A
     * namespace key may begin with a warehouse tag, a name and 0x1D (IG_WH_TAG): the catalog gives the
     * namespaces of every warehouse but its first one their warehouse's tag, so each warehouse has namespaces
     * of its own.  The tag alone is that warehouse's root: the parent of its top-level namespaces
     * ("w\x1d" for "w\x1ddb"), which has no row; messages never show it. */
    int (*ns_create)(ig_store_t *st, const char *ns, const char *props_json, ig_error_t *err); /* 409 exists */
    /* *props_json: malloc'd JSON text, caller frees. */
    int (*ns_get)(ig_store_t *st, const char *ns, char **props_json, ig_error_t *err);
    /* Direct children of parent (NULL/"" = top level) whose name sorts after `after` (NULL = from start), at
     * most limit (0 = all). */
    int (*ns_list)(ig_store_t *st, const char *parent, const char *after, int limit, ig_name_cb cb, void *ud,
                   ig_error_t *err);
    int (*ns_set_props)(ig_store_t *st, const char *ns, const char *props_json, ig_error_t *err);
    /* 409 NamespaceNotEmptyException if it holds tables, views or child namespaces. */
    int (*ns_drop)(ig_store_t *st, const char *ns, ig_error_t *err);

    /* Current metadata location of a table/view; kind_out may be NULL.  kind 0 matches either. */
    int (*obj_get)(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, ig_obj_kind_t *kind_out,
                   char *location, size_t cap, ig_error_t *err);
    int (*obj_list)(ig_store_t *st, const char *ns, ig_obj_kind_t kind, const char *after, int limit, ig_name_cb cb,
                    void *ud, ig_error_t *err);
    /* Atomically applies every swap (compare-and-set on expected_location) or none: 409 CommitFailedException
     * naming the object when one lost a race, 409 AlreadyExistsException when a create finds the name taken,
     * 404 when the namespace is gone.  The nf files (may be 0) are kept as pending in the same transaction. */
    int (*obj_swap)(ig_store_t *st, const ig_obj_swap_t *swaps, size_t n, const ig_meta_file_t *files, size_t nf,
                    ig_error_t *err);
    /* ---- pending metadata files (ig_meta_file_t) ---- */
    /* The newest pending file's sequence number in *seq (0: none pending). */
    int (*meta_pending_last)(ig_store_t *st, int64_t *seq, ig_error_t *err);
    /* Every pending file, oldest first; cb returning non-zero stops the walk (its value returned). */
    int (*meta_pending_each)(ig_store_t *st, ig_meta_file_cb cb, void *ud, ig_error_t *err);
    /* Forgets the pending files up to seq (their files are durable now), in a synchronous transaction. */
    int (*meta_pending_done)(ig_store_t *st, int64_t seq, ig_error_t *err);
    /* Drops the object; the npurge locations in purge (may be 0) are queued for deletion in the same
     * transaction (purge_next), so a drop with purge never loses its purge to a crash. */
    int (*obj_drop)(ig_store_t *st, const char *ns, const char *name, ig_obj_kind_t kind, const char *const *purge,
                    size_t npurge, ig_error_t *err);
    /* The oldest queued purge: its sequence number and location (NOTFOUND when none is queued). */
    int (*purge_next)(ig_store_t *st, int64_t *seq, char *location, size_t cap, ig_error_t *err);
    /* The purge seq is done (or given up): it leaves the queue. */
    int (*purge_done)(ig_store_t *st, int64_t seq, ig_error_t *err);
    int (*obj_rename)(ig_store_t *st, const char *from_ns, const char *from_name, const char *to_ns,
                      const char *to_name, ig_obj_kind_t kind, ig_error_t *err);
    /* The locations (new_base of its swaps) object (ns, name) has had while live, each with a trailing '/';
     * cb returning non-zero stops the walk. */
    int (*obj_bases)(ig_store_t *st, const char *ns, const char *name, ig_name_cb cb, void *ud, ig_error_t *err);
    /* 1 when a live object other than (ex_ns, ex_name) (NULL: none excluded) has or had a location equal to,
     * inside or above base (trailing '/'), with "table ns.name at <location>" in who; 0 when none; -1. */
    int (*obj_overlap)(ig_store_t *st, const char *base, const char *ex_ns, const char *ex_name, char *who,
                       size_t cap, ig_error_t *err);

    /* ---- idempotency keys ---- */
    /* The response stored for key, if any (NOTFOUND), not older than since_ms. */
    int (*idem_get)(ig_store_t *st, const char *key, int64_t since_ms, ig_idem_t *out, ig_error_t *err);
    /* Stores e unless the key is already there (the first finalized response wins); drops entries created
     * before expire_before_ms, then the oldest ones until at most max_entries are left holding at most
     * max_bytes of bodies in all (the store never grows past that, whatever the traffic). */
    int (*idem_put)(ig_store_t *st, const ig_idem_t *e, int64_t expire_before_ms, int64_t max_entries,
                    int64_t max_bytes, ig_error_t *err);

    /* ---- journal ---- */
    /* Writes j alone (a console login, an event no change of a row carries), in one transaction. */
    int (*journal_append)(ig_store_t *st, const ig_journal_t *j, ig_error_t *err);
    /* Audit entries matching q, newest first, at most q->limit; cb returning non-zero stops the walk. */
    int (*audit_list)(ig_store_t *st, const ig_audit_query_t *q, ig_audit_cb cb, void *ud, ig_error_t *err);
    /* Deletes audit entries older than before_ms, at most max_rows per call (so a first prune of a large log
     * never holds the write lock for long); *deleted gets how many.  SQLite reuses the freed pages. */
    int (*audit_prune)(ig_store_t *st, int64_t before_ms, int max_rows, int64_t *deleted, ig_error_t *err);
    /* The oldest pending event due at now_ms (NOTFOUND when none). */
    int (*event_next)(ig_store_t *st, int64_t now_ms, ig_event_t *out, ig_error_t *err);
    /* Delivered: the outbox row goes.  Failed: it waits until next_at_ms with attempts counted. */
    int (*event_done)(ig_store_t *st, int64_t seq, ig_error_t *err);
    int (*event_retry)(ig_store_t *st, int64_t seq, int attempts, int64_t next_at_ms, ig_error_t *err);
    /* Expiry notices: records that token_id (expiring at expires_at_ms) has been warned at level (a
     * threshold in days; 0 = expired) and writes j with it, unless it already was at that level or a nearer
     * one for that same expiry (then IG_STORE_NOTFOUND, nothing written).  A new expiresAt starts afresh. */
    int (*notice_raise)(ig_store_t *st, const char *token_id, int64_t expires_at_ms, int level,
                        const ig_journal_t *j, ig_error_t *err);
} ig_store_ops_t;

struct ig_store {
    const ig_store_ops_t *ops;
};

/* Opens the store the config names (store.c: storage.driver sqlite, under data_dir, or postgres), creating or
 * migrating the schema.  Returns NULL with a message in err. */
ig_store_t *ig_store_open(const ig_config_t *cfg, ig_error_t *err);
/* The back ends, one file each (sqlite.c; postgres.c and its postgres_*.c). */
ig_store_t *ig_store_sqlite_open(const char *path, ig_error_t *err);
/* PostgreSQL: dsn is a libpq connection string (keywords or a postgresql:// URI; it may hold a password, which
 * never appears in a message), pool_size the most connections this store opens at once (each when first
 * needed; below 1: 4), plus one of its own for changed().  Connects, and creates or migrates the schema
 * (several nodes starting together migrate once).  NULL with the reason in err (IG_E_INTERNAL) when the
 * server cannot be reached or the database's schema is newer than this binary. */
ig_store_t *ig_store_postgres_open(const char *dsn, int pool_size, ig_error_t *err);
void ig_store_close(ig_store_t *st);

/* "admin" | "member" for a recorded setter, NULL for IG_SET_BY_UNKNOWN (how back ends store it and the API
 * shows it). */
const char *ig_set_by_name(ig_set_by_t by);
/* The inverse: "admin" | "member", anything else (NULL included) is IG_SET_BY_UNKNOWN. */
ig_set_by_t ig_set_by_parse(const char *s);
/* The setter a principal of this role records. */
ig_set_by_t ig_set_by_role(ig_role_t role);

/* The errors every back end and the catalog word the same way (Iceberg's Java catalogs' texts, which the
 * REST compatibility kit matches).  Namespaces are shown with '.' between levels.  Each returns -1. */
const char *ig_store_ns_shown(const char *ns, char *buf, size_t cap);
/* The parent of namespace key ns into out: its levels but the last, or the warehouse tag alone (with its
 * IG_WH_TAG) for a top level ("" for a top level of the first warehouse).  For the back ends. */
void ig_store_ns_parent(const char *ns, char *out, size_t cap);
/* ns past its warehouse tag, if it has one. */
const char *ig_store_ns_untagged(const char *ns);
int ig_store_err_no_ns(ig_error_t *err, const char *ns);
int ig_store_err_no_obj(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name);
/* Creating `wanted` where `existing` is: "Table already exists: ns.t" or "View with same name already
 * exists: ns.t". */
int ig_store_err_exists(ig_error_t *err, ig_obj_kind_t existing, ig_obj_kind_t wanted, const char *ns,
                        const char *name);
/* "Cannot rename ns.a to ns.b. Table already exists" (the kind is the one at the destination). */
/* 409: base (trailing '/') overlaps who (obj_overlap's description). */
int ig_store_err_overlap(ig_error_t *err, const char *base, const char *who);
int ig_store_err_rename_exists(ig_error_t *err, ig_obj_kind_t existing, const char *from_ns, const char *from,
                               const char *to_ns, const char *to);

#endif
