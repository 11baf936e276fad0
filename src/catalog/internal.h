/* catalog/internal — what the catalog's files share, and nothing outside src/catalog/ includes.
 *
 *   catalog.c     life cycle, routing, Idempotency-Key        config.c      /v1/config, pagination
 *   common.c      identifiers, lookups, bodies                 namespaces.c  namespaces and listings
 *   cache.c       the loadTable response cache, ETags          tables.c      table routes
 *   commit.c      commits and transactions                     views.c       view routes */
#ifndef IG_CATALOG_INTERNAL_H
#define IG_CATALOG_INTERNAL_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/buf.h"
#include "http/http.h"
#include "store/store.h"
#include "warehouse/warehouse.h"

typedef struct ig_idempotency ig_idempotency_t;

#define NS_MAX 1024        /* bytes of a namespace, levels joined by 0x1F */
#define LEVELS_MAX 32      /* namespace depth */
#define IDENT_MAX 255      /* bytes of one namespace level or object name */
#define PAGE_DEFAULT 100   /* page size when a client paginates without pageSize */
#define PAGE_MAX 1000      /* largest page served */
#define COMMIT_ATTEMPTS 10 /* re-evaluations of a commit that lost the pointer swap race */
#define MAX_CHANGES 100    /* tables in one transaction */
#define META_DEPTH 128     /* JSON nesting accepted in metadata files we read back */
#define CACHE_BUCKETS 1024
#define CACHE_MAX_ENTRIES 4096


typedef struct centry {
    struct centry *hnext, *prev, *next;
    uint64_t hash;
    char *key;  /* variant byte + metadata location */
    char *body; /* the whole response body */
    size_t len;
    size_t meta_off, meta_len; /* the metadata document inside body */
    int refs;                  /* the cache's own reference + borrowers; guarded by the cache mutex */
    struct cache *cache;       /* the cache it belongs to (a response sending it gives it back there) */
    bool linked;
} centry_t;

typedef struct cache {
    pthread_mutex_t mu;
    centry_t *buckets[CACHE_BUCKETS];
    centry_t *head, *tail; /* most recently used first */
    size_t bytes, count;
    size_t max_bytes; /* catalog.cache_bytes */
} cache_t;

#define COMMIT_STRIPES 64

/* The locations mutations hold right now (loclock.c): base points into the holder's own memory. */
typedef struct {
    const char *base;
    size_t len;
    bool excl;
} loc_hold_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    loc_hold_t *v;
    size_t n, cap;
} loclocks_t;

/* The group commit's lanes (group.c): a queue and its committer thread each; a table's commits always go to
 * the lane of its commit stripe, so two committers never wait for each other's tables. */
#define GROUP_THREADS_MAX 8
typedef struct cat_job cat_job_t;
typedef struct committer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cat_job_t *head, *tail;
    size_t count; /* queued or in a batch */
    bool stopping, running;
    pthread_t thread;
    struct ig_catalog *c;
} committer_t;

/* One warehouse the catalog serves (catalog.warehouses).  Its namespaces are its own: their keys in the store
 * carry its tag (store.h), except the first warehouse's, which carry none (so a catalog that had one
 * warehouse keeps its namespaces when it gets more). */
typedef struct {
    ig_warehouse_t *w;
    char tag[72]; /* "" for the first, else its name and IG_WH_TAG */
    size_t tag_len;
    char *config_body; /* GET /v1/config?warehouse=<name>: overrides.prefix is the name */
    size_t config_len;
} cat_wh_t;

struct ig_catalog {
    ig_store_t *store;
    cat_wh_t whs[IG_WAREHOUSES_MAX]; /* whs[0]: the default, served without a prefix */
    int nwh;
    pthread_mutex_t props_mu; /* namespace property read-modify-write */
    /* Commits to one table queue on its stripe instead of racing for the pointer swap inside this process
     * (the swap's compare-and-set still arbitrates between processes).  Not a global lock: 64 stripes. */
    pthread_mutex_t commit_mu[COMMIT_STRIPES];
    ig_idempotency_t *idem; /* Idempotency-Key replay (http/idempotency.h) */
    loclocks_t locs;        /* creates, commits and purges at one location are ordered (loclock.c) */
    committer_t lanes[GROUP_THREADS_MAX]; /* group commit (group.c) */
    int nlanes;
    bool allow_overlap;     /* catalog.allow_location_overlap */
    cache_t cache;
    /* GET /v1/config without ?warehouse (the default warehouse, no prefix), built once like each warehouse's:
     * every client calls it first, often, and it never changes. */
    char *config_body;
    size_t config_len;
    /* The sweep of temp files a killed process left in the warehouse, run once at start on its own thread. */
    pthread_t sweeper;
    bool sweeping;
    _Atomic bool stop_sweep;
    int64_t started_s;
    /* catalog.metadata_sync: journal (pending.c): new metadata files are synced later by the flusher, their
     * bytes kept in the store until then. */
    bool lazy;
    int flush_ms;
    pthread_t flusher;
    bool flushing;
    pthread_mutex_t pend_mu; /* the fields below */
    pthread_cond_t pend_cv;
    bool pend_stop, pend_dirty;
    char **unlinks; /* metadata files to delete once nothing pending may bring them back */
    size_t nunlinks, capunlinks;
    pthread_mutex_t flush_mu; /* one flush at a time */
    /* purge.c */
    pthread_t purger;
    bool purging;
    pthread_mutex_t purge_mu;
    pthread_cond_t purge_cv;
    bool purge_stop, purge_kicked;
};

/* Response variants: the ETag and the cache key both depend on them. */
enum { V_TABLE_ALL = 'A', V_TABLE_REFS = 'R', V_VIEW = 'V' };

/* One request to a catalog route: the request, the catalog, and the namespace/name from its path. */
typedef struct {
    ig_req_t *r;
    ig_catalog_t *c;
    ig_store_t *st;
    const cat_wh_t *wh; /* the warehouse its prefix names (the default without one) */
    char ns[NS_MAX + 1]; /* the store's key: tagged with the warehouse (cat_ns_key) */
    char name[IDENT_MAX + 1];
} call_t;


/* A list route's paging: pageToken (hex of the last name served) and pageSize. */
typedef struct {
    bool paginate;
    int limit;
    char after[NS_MAX + IDENT_MAX + 2];
} page_t;

/* Collects names for a list response (cat_collect_cb), stopping after limit and noting there is more.  The
 * entries are written as JSON text straight into out, comma-separated: a list of 10,000 tables builds no
 * json-c object per name (that was most of its time). */
typedef struct {
    ig_buf_t *out;
    const char *ns;   /* for table identifiers; NULL for namespaces */
    int count, limit; /* limit 0: no pagination */
    bool more;
    const char *sees; /* namespaces: only those a token limited to these may see (NULL: all) */
    char last[NS_MAX + IDENT_MAX + 2];
} collect_t;


/* ---- cache.c */
/* The request asks for vended credentials (X-Iceberg-Access-Delegation: vended-credentials). */
bool cat_wants_credentials(ig_req_t *r);
uint64_t cat_fnv1a(const void *p, size_t n, uint64_t h);
void cat_cache_release(cache_t *c, centry_t *e);
/* Inserts (takes ownership of body) and returns a borrowed reference; an entry another thread inserted
 * first wins.  NULL on allocation failure (body freed). */
centry_t *cat_cache_put(cache_t *c, char variant, const char *loc, char *body, size_t len, size_t meta_off,
                        size_t meta_len);
void cat_cache_clear(cache_t *c);
/* Evicts every variant of metadata location loc: a commit superseded it, and only a load that raced the
 * commit could still ask for it (it reads the file again).  A superseded version never fills the cache. */
void cat_cache_forget(cache_t *c, const char *loc);
/* {"metadata-location":loc,"config":{},"metadata":META} — metadata last so it can be found again by offset.
 * loc NULL: a staged table, no location. */
char *cat_build_body(const char *loc, const char *meta, size_t mlen, size_t *len, size_t *meta_off);
/* The cached response for (variant, metadata location), reading the file on a miss.  Borrowed: release with
 * cache_release. */
centry_t *cat_load_entry(ig_catalog_t *c, char variant, const char *loc, ig_error_t *err);
/* Answers with the object whose metadata is at loc: 304 when conditional and If-None-Match has its ETag,
 * else the (cached) LoadTableResult/LoadViewResult with its ETag. */
ig_res_t cat_send_object(call_t *k, char variant, const char *loc, bool conditional);
/* Caches and sends the first response of an object just created or registered with metadata meta at mloc. */
/* Sends a cached entry (ETag, shared bytes) held by the caller. */
ig_res_t cat_send_cached(call_t *k, centry_t *e, char variant);
ig_res_t cat_send_new(call_t *k, char variant, const char *mloc, const char *meta, size_t mlen);

/* ---- common.c */
int cat_no_namespace(ig_error_t *err, const char *ns);
int cat_no_object(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name);
/* Valid UTF-8 without control characters (0x1F, the level separator, included), 1..IDENT_MAX bytes. */
int cat_check_ident(const char *s, size_t n, const char *what, ig_error_t *err);
/* Validates a decoded namespace (levels joined by 0x1F). */
int cat_check_ns(const char *ns, ig_error_t *err);
/* 0 when the request's token reaches ns (its namespaces, DESIGN.md §8), else -1 with a 403 naming them. */
int cat_ns_allowed(const call_t *k, const char *ns, ig_error_t *err);
/* Decodes a namespace path segment ("a%1Fb"). */
int cat_ns_from_segment(const call_t *k, const char *seg, size_t len, char *out, ig_error_t *err);
/* Makes the namespace ns (NS_MAX + 1 bytes) the store's key of it in the call's warehouse: its tag first. */
int cat_ns_key(const call_t *k, char *ns, ig_error_t *err);
/* The warehouse that holds location loc (a location from the store: a table's, a file's), else the first. */
ig_warehouse_t *cat_wh_of(const ig_catalog_t *c, const char *loc);
int cat_name_from_segment(const char *seg, size_t len, char *out, const char *what, ig_error_t *err);
/* A JSON Namespace (array of strings) → joined form. */
int cat_ns_from_json(const call_t *k, json_object *arr, char *out, const char *what, ig_error_t *err);
json_object *cat_ns_to_json(const char *ns);
/* A TableIdentifier {"namespace":[...],"name":"..."} → (ns, name). */
int cat_ident_from_json(const call_t *k, json_object *o, char *ns, char *name, const char *what, ig_error_t *err);
json_object *cat_ident_to_json(const char *ns, const char *name);
/* The request body as a JSON object. */
json_object *cat_body_object(ig_req_t *r, ig_error_t *err);
json_object *cat_parse_meta(const char *text, size_t len, ig_error_t *err);
const char *cat_meta_str(json_object *m, const char *key);
/* Writes text (len bytes; meta is the document it came from) as meta's next metadata file, version
 * `version`, into the folder its write.metadata.path property names (a location inside the warehouse like
 * any other) or else <location>/metadata; puts the new file's location in out (IG_LOCATION_MAX), spelled as
 * that folder is (Iceberg's catalogs keep "file:/x" as "file:/x"). */
int cat_write_metadata(ig_warehouse_t *wh, json_object *meta, int64_t version, const char *text, size_t len,
                       char *out, ig_error_t *err);
/* cat_write_metadata's first half (ig_warehouse_stage): published with others in one group commit. */
ig_wh_staged_t *cat_stage_metadata(ig_warehouse_t *wh, json_object *meta, int64_t version, const char *text,
                                   size_t len, char *out, ig_error_t *err);
int cat_ns_exists(call_t *k, const char *ns, ig_error_t *err);
/* Current metadata location of (ns, name) of kind: 0, or -1 with 404/500 in err. */
int cat_obj_location(call_t *k, const char *ns, const char *name, ig_obj_kind_t kind, char *loc, ig_error_t *err);
/* 409 when (ns, name) is taken by a table or a view (they share one namespace of names). */
int cat_name_free(call_t *k, const char *ns, const char *name, ig_obj_kind_t wanted, ig_error_t *err);
/* Default location for a new object in ns. */
int cat_default_location(call_t *k, const char *ns, const char *name, char *out, ig_error_t *err);

/* ---- config.c */
int cat_build_config_bodies(ig_catalog_t *c);
ig_res_t cat_get_config(ig_req_t *r, ig_catalog_t *c);
int cat_parse_page(ig_req_t *r, page_t *pg, ig_error_t *err);
int cat_collect_cb(void *ud, const char *name);
/* Starts cl->out (ig_buf_init'ed) as {"<key>":[ — the entries follow. */
void cat_begin_list(collect_t *cl, const char *key);
/* Ends it with ],"next-page-token":<token or null>} and sends it. */
ig_res_t cat_send_list(ig_req_t *r, collect_t *cl);

/* ---- namespaces.c */
/* ------------------------------------------------------------------ namespaces */
ig_res_t cat_list_namespaces(call_t *k);
ig_res_t cat_create_namespace(call_t *k);
ig_res_t cat_load_namespace(call_t *k);
ig_res_t cat_namespace_exists(call_t *k);
ig_res_t cat_drop_namespace(call_t *k);
ig_res_t cat_update_properties(call_t *k);
/* ------------------------------------------------------------------ listing tables and views */
ig_res_t cat_list_objects(call_t *k, ig_obj_kind_t kind);

/* ---- tables.c */
/* The 'name' of a create or register request, checked as an identifier, into out (IDENT_MAX + 1). */
int cat_req_name(json_object *req, char *out, ig_error_t *err);
/* The name, namespace and location of a create request (tables and views): k->name set, the namespace
 * exists, the name is free; the location (requested, inside the warehouse, or the default one) canonical in
 * loc and as the metadata shows it in shown (both IG_LOCATION_MAX).  0, or -1 with err. */
int cat_create_target(call_t *k, json_object *req, ig_obj_kind_t kind, char *loc, char *shown, ig_error_t *err);
/* Writes the first metadata file of a new object (at the location meta names) and creates its pointer;
 * responds with the object. */
ig_res_t cat_create_with_meta(call_t *k, ig_obj_kind_t kind, json_object *meta);
ig_res_t cat_create_table(call_t *k);
ig_res_t cat_load_table(call_t *k);
ig_res_t cat_object_exists(call_t *k, ig_obj_kind_t kind);
ig_res_t cat_drop_object(call_t *k, ig_obj_kind_t kind);
ig_res_t cat_rename_object(call_t *k, ig_obj_kind_t kind);
/* register (tables) and register-view: point a new object at an existing metadata file. */
ig_res_t cat_register_object(call_t *k, ig_obj_kind_t kind);
ig_res_t cat_unregister_table(call_t *k);
ig_res_t cat_report_metrics(call_t *k);
ig_res_t cat_load_credentials(call_t *k);

/* ---- views.c */
/* ------------------------------------------------------------------ views */
ig_res_t cat_create_view(call_t *k);
ig_res_t cat_load_view(call_t *k);

/* ---- loclock.c */
/* Holds bases[0..n) (canonical locations with a trailing '/', kept alive by the caller until the unlock):
 * shared for a writer (waits only while an overlapping purge runs), exclusive for a purge (waits until nothing
 * overlapping is held).  -1 when out of memory, nothing held. */
int cat_loc_lock(ig_catalog_t *c, const char *const *bases, size_t n, bool excl);
void cat_loc_unlock(ig_catalog_t *c, const char *const *bases, size_t n);
void cat_loc_init(ig_catalog_t *c);
void cat_loc_free(ig_catalog_t *c);
/* The canonical "location" of metadata meta with a trailing '/', into base (IG_LOCATION_MAX + 1 bytes). */
int cat_base_of(ig_warehouse_t *wh, json_object *meta, char *base, ig_error_t *err);

/* ---- commit.c */
/* One object's part of a commit. */
typedef struct {
    ig_warehouse_t *wh; /* the object's: its namespace's warehouse, which every one of its files is in */
    char ns[NS_MAX + 1];
    char name[IDENT_MAX + 1];
    json_object *reqs, *updates; /* borrowed from the request */
    bool exists;
    char cur[IG_LOCATION_MAX];
    char next[IG_LOCATION_MAX];
    bool written;
    char base[IG_LOCATION_MAX + 1]; /* the new version's location (trailing '/'), held from write to swap */
    bool locked;
    bool check_overlap; /* a create or a set-location: the store checks base against other objects */
    char *body; /* the response for the new version */
    size_t len, meta_off, meta_len;
    json_object *drop; /* metadata files to delete once the commit is in (strings), or NULL */
} change_t;

/* The metadata files a table commit from cur (at cur_loc) to next lets go (write.metadata.delete-after-commit),
 * or NULL; deleted by cat_delete_dropped once the commit is in. */
json_object *cat_dropped_files(json_object *cur, const char *cur_loc, json_object *next);
void cat_delete_dropped(ig_catalog_t *c, change_t *ch);
/* Removes what a change wrote and gives its location back. */
void cat_change_undo(ig_catalog_t *c, change_t *ch);
/* The commit stripe of object (ns, name) as a bit (commit_mu[i] for bit i; several taken in ascending order). */
uint64_t cat_stripe_bit(const char *ns, const char *name);
/* Applies n changes atomically, their stripes held by the caller: prepare all, one swap, re-evaluated on a
 * lost race; on success the new bodies are in the cache. */
int cat_commit_locked(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err);

/* POST .../tables/{t} and .../views/{v}. */
ig_res_t cat_commit_object(call_t *k, ig_obj_kind_t kind);
ig_res_t cat_commit_transaction(call_t *k);

/* ---- group.c */
/* Starts the committer threads (0 or -1: none, every commit then runs on its worker thread). */
int cat_group_start(ig_catalog_t *c, int threads);
/* Lets the queued commits finish, refuses new ones (they run on their worker thread), joins the threads. */
void cat_group_stop(ig_catalog_t *c);
void cat_group_free(ig_catalog_t *c);
/* Hands a parsed commit of one object to the group commit: true with *res set and req taken (the request
 * comes back to its handler with r->deferred set: answer it with cat_group_answer); false when there is no
 * room (or no committer): nothing taken, commit it here. */
bool cat_group_offer(call_t *k, ig_obj_kind_t kind, json_object *req, const change_t *ch, ig_res_t *res);
ig_res_t cat_group_answer(call_t *k, ig_obj_kind_t kind, void *deferred, bool ran);

/* Vended credentials (cache.c) for the call's table, whose metadata document is meta: ig_warehouse_vend's 1 /
 * 0 / -1, for the request's token (its write scope, its expiry); a session's with the path to refresh it. */
int cat_vend(const call_t *k, const char *meta, size_t mlen, ig_buf_t *cfg, char *prefix, size_t pcap,
             ig_error_t *err);

/* ---- purge.c: the deletion of dropped tables' files, off the request path */
/* Starts the purger thread (it first finishes what an earlier process queued); -1 when it cannot start. */
int cat_purge_start(ig_catalog_t *c);
/* Stops it once the purge in hand is done (the rest stay queued for the next start). */
void cat_purge_stop(ig_catalog_t *c);
/* A drop queued a purge. */
void cat_purge_kick(ig_catalog_t *c);

/* ---- pending.c: lazily synced metadata files (catalog.metadata_sync: journal) */
/* Writes again every file a crash may have lost, then (journal mode) starts the flusher; -1 with err. */
int cat_pending_start(ig_catalog_t *c, const ig_config_t *cfg, ig_error_t *err);
/* Stops the flusher after a last flush. */
void cat_pending_stop(ig_catalog_t *c);
/* A swap kept files pending: the flusher has work. */
void cat_pending_note(ig_catalog_t *c);
/* Deletes a metadata file now, or (journal mode) after the next flush, so a restart never writes it again. */
void cat_pending_unlink(ig_catalog_t *c, const char *location);
/* Makes every file pending so far durable and forgets it; 0, or -1 with err (they stay pending). */
int cat_pending_flush(ig_catalog_t *c, ig_error_t *err);
/* The swap's files for n changes (their new locations and bodies) into files, when the catalog is lazy:
 * how many (0 when not lazy). */
size_t cat_pending_files(const ig_catalog_t *c, const change_t *chs, size_t n, ig_meta_file_t *files);

#endif
