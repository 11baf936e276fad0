/* catalog — see catalog.h.  The Iceberg REST Catalog routes (rest-catalog-open-api.yaml):
 *
 *   request ──▶ route (path segments, optional warehouse prefix, method) ──▶ handler
 *   handler ──▶ store (namespaces, pointer per table/view, compare-and-set swaps)
 *           ──▶ tablemeta / viewmeta (what the next metadata document is)
 *           ──▶ warehouse (metadata files, purge; nothing outside the warehouse root)
 *
 * Commits: load current metadata, let tablemeta check requirements and apply updates, write the new
 * metadata file, then swap the object's pointer from the old file to the new one with compare-and-set (one
 * obj_swap call for a multi-table transaction).  When the swap loses a race the written file is removed and
 * the whole commit is re-evaluated against the newer metadata, as the reference Java catalog does: the
 * client's requirements decide whether its change still applies (409 CommitFailedException if not).
 *
 * loadTable: responses are cached fully serialized, keyed by the metadata file location (a location never
 * changes content: every commit writes a new uniquely named file), so a load is a store lookup plus a copy
 * of bytes; the ETag is derived from the location, so If-None-Match → 304 needs no cache at all. */
#include "catalog/catalog.h"
#include "core/clock.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iceberg/icemeta.h"
#include "core/log.h"
#include "iceberg/tablemeta.h"
#include "core/util.h"
#include "iceberg/viewmeta.h"
#include "warehouse/warehouse.h"

#define NS_MAX 1024        /* bytes of a namespace, levels joined by 0x1F */
#define LEVELS_MAX 32      /* namespace depth */
#define IDENT_MAX 255      /* bytes of one namespace level or object name */
#define PAGE_DEFAULT 100   /* page size when a client paginates without pageSize */
#define PAGE_MAX 1000      /* largest page served */
#define COMMIT_ATTEMPTS 10 /* re-evaluations of a commit that lost the pointer swap race */
#define MAX_CHANGES 100    /* tables in one transaction */
#define META_DEPTH 128     /* JSON nesting accepted in metadata files we read back */
#define CACHE_BUCKETS 1024
#define CACHE_MAX_BYTES ((size_t)128 << 20)
#define CACHE_MAX_ENTRIES 4096

/* ------------------------------------------------------------------ response cache */

typedef struct centry {
    struct centry *hnext, *prev, *next;
    uint64_t hash;
    char *key;  /* variant byte + metadata location */
    char *body; /* the whole response body */
    size_t len;
    size_t meta_off, meta_len; /* the metadata document inside body */
    int refs;                  /* the cache's own reference + borrowers; guarded by the cache mutex */
    bool linked;
} centry_t;

typedef struct {
    pthread_mutex_t mu;
    centry_t *buckets[CACHE_BUCKETS];
    centry_t *head, *tail; /* most recently used first */
    size_t bytes, count;
} cache_t;

#define COMMIT_STRIPES 64
#define IDEM_INFLIGHT 256                 /* keyed mutations running at once that we guard against duplicates */
#define IDEM_KEEP_MS (60 * 60 * 1000LL)  /* advertised lifetime PT30M, kept twice as long */

struct ig_catalog {
    ig_store_t *store;
    ig_warehouse_t *wh;
    pthread_mutex_t props_mu; /* namespace property read-modify-write */
    /* Commits to one table queue on its stripe instead of racing for the pointer swap inside this process
     * (the swap's compare-and-set still arbitrates between processes).  Not a global lock: 64 stripes. */
    pthread_mutex_t commit_mu[COMMIT_STRIPES];
    pthread_mutex_t idem_mu; /* keys of keyed mutations running now */
    char idem_busy[IDEM_INFLIGHT][37];
    cache_t cache;
    /* GET /v1/config bodies, built once: every client calls it first, often, and it never changes. */
    char *config_body, *config_body_prefixed;
    size_t config_len, config_prefixed_len;
};

/* Response variants: the ETag and the cache key both depend on them. */
enum { V_TABLE_ALL = 'A', V_TABLE_REFS = 'R', V_VIEW = 'V' };

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t key_hash(char variant, const char *loc)
{
    uint64_t h = fnv1a(&variant, 1, 0xcbf29ce484222325ULL);
    return fnv1a(loc, strlen(loc), h);
}

static void etag_of(char variant, const char *loc, char out[40])
{
    /* Two independent 64-bit hashes: a strong validator for one version of one representation. */
    uint64_t a = key_hash(variant, loc);
    uint64_t b = fnv1a(loc, strlen(loc), 0x84222325cbf29ce4ULL ^ (uint64_t)(unsigned char)variant);
    snprintf(out, 40, "\"%016llx%016llx\"", (unsigned long long)a, (unsigned long long)b);
}

static void centry_free(centry_t *e)
{
    if (!e) return;
    free(e->key);
    free(e->body);
    free(e);
}

static void cache_unlink(cache_t *c, centry_t *e)
{
    centry_t **pp = &c->buckets[e->hash % CACHE_BUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = e->hnext = NULL;
    e->linked = false;
    c->bytes -= e->len + strlen(e->key);
    c->count--;
}

static void lru_front(cache_t *c, centry_t *e)
{
    if (c->head == e) return;
    if (e->prev) e->prev->next = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static centry_t *cache_get(cache_t *c, char variant, const char *loc)
{
    uint64_t h = key_hash(variant, loc);
    pthread_mutex_lock(&c->mu);
    centry_t *e = c->buckets[h % CACHE_BUCKETS];
    for (; e; e = e->hnext)
        if (e->hash == h && e->key[0] == variant && strcmp(e->key + 1, loc) == 0) break;
    if (e) {
        e->refs++;
        lru_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

static void cache_release(cache_t *c, centry_t *e)
{
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    bool dead = --e->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (dead) centry_free(e);
}

/* Inserts (takes ownership of body) and returns a borrowed reference; an entry another thread inserted
 * first wins.  NULL on allocation failure (body freed). */
static centry_t *cache_put(cache_t *c, char variant, const char *loc, char *body, size_t len, size_t meta_off,
                           size_t meta_len)
{
    centry_t *e = calloc(1, sizeof *e);
    size_t kl = strlen(loc);
    if (e) e->key = malloc(kl + 2);
    if (!e || !e->key) {
        free(e);
        free(body);
        return NULL;
    }
    e->key[0] = variant;
    memcpy(e->key + 1, loc, kl + 1);
    e->hash = key_hash(variant, loc);
    e->body = body;
    e->len = len;
    e->meta_off = meta_off;
    e->meta_len = meta_len;
    e->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&c->mu);
    for (centry_t *o = c->buckets[e->hash % CACHE_BUCKETS]; o; o = o->hnext)
        if (o->hash == e->hash && strcmp(o->key, e->key) == 0) {
            o->refs++;
            lru_front(c, o);
            pthread_mutex_unlock(&c->mu);
            centry_free(e);
            return o;
        }
    e->hnext = c->buckets[e->hash % CACHE_BUCKETS];
    c->buckets[e->hash % CACHE_BUCKETS] = e;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
    e->linked = true;
    c->bytes += len + kl + 1;
    c->count++;
    centry_t *dead = NULL;
    while ((c->bytes > CACHE_MAX_BYTES || c->count > CACHE_MAX_ENTRIES) && c->tail && c->tail != e) {
        centry_t *t = c->tail;
        cache_unlink(c, t);
        if (--t->refs == 0) {
            t->hnext = dead;
            dead = t;
        }
    }
    pthread_mutex_unlock(&c->mu);
    while (dead) {
        centry_t *n = dead->hnext;
        centry_free(dead);
        dead = n;
    }
    return e;
}

static void cache_clear(cache_t *c)
{
    while (c->head) {
        centry_t *e = c->head;
        cache_unlink(c, e);
        if (--e->refs == 0) centry_free(e);
    }
}

/* ------------------------------------------------------------------ life cycle */

static int build_config_bodies(ig_catalog_t *c);

ig_catalog_t *ig_catalog_new(const ig_config_t *cfg, ig_store_t *store, ig_error_t *err)
{
    ig_catalog_t *c = calloc(1, sizeof *c);
    if (!c) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    c->store = store;
    c->wh = ig_warehouse_open(cfg->warehouse, err);
    if (!c->wh) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->props_mu, NULL);
    pthread_mutex_init(&c->cache.mu, NULL);
    for (int i = 0; i < COMMIT_STRIPES; i++) pthread_mutex_init(&c->commit_mu[i], NULL);
    pthread_mutex_init(&c->idem_mu, NULL);
    if (build_config_bodies(c)) {
        ig_catalog_free(c);
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    return c;
}

void ig_catalog_free(ig_catalog_t *c)
{
    if (!c) return;
    cache_clear(&c->cache);
    pthread_mutex_destroy(&c->cache.mu);
    pthread_mutex_destroy(&c->props_mu);
    for (int i = 0; i < COMMIT_STRIPES; i++) pthread_mutex_destroy(&c->commit_mu[i]);
    pthread_mutex_destroy(&c->idem_mu);
    ig_warehouse_close(c->wh);
    free(c->config_body);
    free(c->config_body_prefixed);
    free(c);
}

/* ------------------------------------------------------------------ small helpers */

typedef struct {
    ig_req_t *r;
    ig_catalog_t *c;
    ig_store_t *st;
    char ns[NS_MAX + 1];
    char name[IDENT_MAX + 1];
} call_t;

static ig_res_t fail(ig_req_t *r, const ig_error_t *e)
{
    return ig_http_error_from(r, e);
}

static ig_res_t no_content(ig_req_t *r)
{
    return ig_http_send(r, 204, NULL, "", 0, true);
}

/* ns for messages: levels joined by '.'. */
static const char *shown(const char *ns, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", ns);
    for (char *p = buf; *p; p++)
        if (*p == 0x1f) *p = '.';
    return buf;
}

static int no_namespace(ig_error_t *err, const char *ns)
{
    char b[NS_MAX + 1];
    return ig_error_set(err, IG_E_NO_SUCH_NAMESPACE, "Namespace does not exist: %s",
                        shown(ns, b, sizeof b));
}

static int no_object(ig_error_t *err, ig_obj_kind_t kind, const char *ns, const char *name)
{
    char b[NS_MAX + 1];
    if (kind == IG_OBJ_VIEW)
        return ig_error_set(err, IG_E_NO_SUCH_VIEW, "View does not exist: %s.%s",
                            shown(ns, b, sizeof b), name);
    return ig_error_set(err, IG_E_NO_SUCH_TABLE, "Table does not exist: %s.%s",
                        shown(ns, b, sizeof b), name);
}

/* Valid UTF-8 without control characters (0x1F, the level separator, included), 1..IDENT_MAX bytes. */
static int check_ident(const char *s, size_t n, const char *what, ig_error_t *err)
{
    if (n == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s must not be empty", what);
    if (n > IDENT_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s is longer than %d bytes", what, IDENT_MAX);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned char ch = *p;
        if (ch < 0x20 || ch == 0x7f)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s contains a control character", what);
        int extra = ch < 0x80             ? 0
                    : (ch & 0xe0) == 0xc0 ? 1
                    : (ch & 0xf0) == 0xe0 ? 2
                    : (ch & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0 || ch == 0xc0 || ch == 0xc1 || (size_t)(end - p) <= (size_t)extra) goto bad;
        for (int i = 1; i <= extra; i++)
            if ((p[i] & 0xc0) != 0x80) goto bad;
        if (extra == 2 && ((ch == 0xe0 && p[1] < 0xa0) || (ch == 0xed && p[1] >= 0xa0))) goto bad;
        if (extra == 3 && ((ch == 0xf0 && p[1] < 0x90) || ch > 0xf4 || (ch == 0xf4 && p[1] >= 0x90)))
            goto bad;
        p += 1 + extra;
    }
    return 0;
bad:
    return ig_error_set(err, IG_E_BAD_REQUEST, "%s is not valid UTF-8", what);
}

/* Validates a decoded namespace (levels joined by 0x1F). */
static int check_ns(const char *ns, ig_error_t *err)
{
    size_t levels = 0;
    const char *p = ns;
    for (;;) {
        const char *e = strchr(p, 0x1f);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (check_ident(p, n, "namespace level", err)) return -1;
        if (++levels > LEVELS_MAX)
            return ig_error_set(err, IG_E_BAD_REQUEST, "namespace has more than %d levels",
                                LEVELS_MAX);
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Decodes a namespace path segment ("a%1Fb"). */
static int ns_from_segment(const char *seg, size_t len, char *out, ig_error_t *err)
{
    if (ig_http_decode(seg, len, out, NS_MAX + 1))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "namespace in the path is too long or badly encoded");
    return check_ns(out, err);
}

static int name_from_segment(const char *seg, size_t len, char *out, const char *what, ig_error_t *err)
{
    if (ig_http_decode(seg, len, out, IDENT_MAX + 1))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s in the path is too long or badly encoded",
                            what);
    return check_ident(out, strlen(out), what, err);
}

/* A JSON Namespace (array of strings) → joined form. */
static int ns_from_json(json_object *arr, char *out, const char *what, ig_error_t *err)
{
    if (!arr || !json_object_is_type(arr, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an array of strings", what);
    size_t n = json_object_array_length(arr), len = 0;
    if (n == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "%s must not be empty", what);
    if (n > LEVELS_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "%s has more than %d levels", what, LEVELS_MAX);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(s, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s must be an array of strings", what);
        const char *v = json_object_get_string(s);
        size_t vl = (size_t)json_object_get_string_len(s);
        if (strlen(v) != vl)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s contains a NUL byte", what);
        if (check_ident(v, vl, "namespace level", err)) return -1;
        if (len + vl + 2 > NS_MAX)
            return ig_error_set(err, IG_E_BAD_REQUEST, "%s is longer than %d bytes", what, NS_MAX);
        if (i) out[len++] = 0x1f;
        memcpy(out + len, v, vl);
        len += vl;
    }
    out[len] = '\0';
    return 0;
}

static json_object *ns_to_json(const char *ns)
{
    json_object *a = json_object_new_array();
    const char *p = ns;
    for (;;) {
        const char *e = strchr(p, 0x1f);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_object_array_add(a, json_object_new_string_len(p, (int)n));
        if (!e) break;
        p = e + 1;
    }
    return a;
}

/* A TableIdentifier {"namespace":[...],"name":"..."} → (ns, name). */
static int ident_from_json(json_object *o, char *ns, char *name, const char *what, ig_error_t *err)
{
    json_object *jns, *jname;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "namespace", &jns) ||
        !json_object_object_get_ex(o, "name", &jname) || !json_object_is_type(jname, json_type_string))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "%s must be an object with 'namespace' and 'name'", what);
    if (ns_from_json(jns, ns, "namespace", err)) return -1;
    const char *v = json_object_get_string(jname);
    size_t vl = (size_t)json_object_get_string_len(jname);
    if (strlen(v) != vl || check_ident(v, vl, "name", err)) {
        if (strlen(v) != vl) ig_error_set(err, IG_E_BAD_REQUEST, "name contains a NUL byte");
        return -1;
    }
    memcpy(name, v, vl + 1);
    return 0;
}

static json_object *ident_to_json(const char *ns, const char *name)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", ns_to_json(ns));
    json_object_object_add(o, "name", json_object_new_string(name));
    return o;
}

/* The request body as a JSON object. */
static json_object *body_object(ig_req_t *r, ig_error_t *err)
{
    json_object *o = ig_http_body_json(r, err);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object");
        return NULL;
    }
    return o;
}

static json_object *parse_meta(const char *text, size_t len, ig_error_t *err)
{
    json_tokener *tok = json_tokener_new_ex(META_DEPTH);
    if (!tok) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success || !o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ig_error_set(err, IG_E_BAD_REQUEST, "metadata file is not a JSON object: %s",
                     e != json_tokener_success ? json_tokener_error_desc(e) : "wrong type");
        return NULL;
    }
    return o;
}

static const char *meta_str(json_object *m, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

/* {"metadata-location":loc,"config":{},"metadata":META} — metadata last so it can be found again by offset.
 * loc NULL: a staged table, no location. */
static char *build_body(const char *loc, const char *meta, size_t mlen, size_t *len, size_t *meta_off)
{
    const char *q = "";
    json_object *s = NULL;
    size_t ql = 0;
    if (loc) {
        s = json_object_new_string(loc);
        q = json_object_to_json_string_length(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                              &ql);
    }
    static const char a[] = "{\"metadata-location\":", b[] = ",\"config\":{},\"metadata\":",
                      b0[] = "{\"config\":{},\"metadata\":";
    size_t cap = sizeof a + ql + sizeof b + mlen + 2;
    char *out = malloc(cap);
    if (out) {
        size_t n = 0;
        if (loc) {
            memcpy(out, a, sizeof a - 1);
            n = sizeof a - 1;
            memcpy(out + n, q, ql);
            n += ql;
            memcpy(out + n, b, sizeof b - 1);
            n += sizeof b - 1;
        } else {
            memcpy(out, b0, sizeof b0 - 1);
            n = sizeof b0 - 1;
        }
        *meta_off = n;
        memcpy(out + n, meta, mlen);
        n += mlen;
        out[n++] = '}';
        out[n] = '\0';
        *len = n;
    }
    json_object_put(s);
    return out;
}

/* The cached response for (variant, metadata location), reading the file on a miss.  Borrowed: release with
 * cache_release. */
static centry_t *load_entry(ig_catalog_t *c, char variant, const char *loc, ig_error_t *err)
{
    centry_t *e = cache_get(&c->cache, variant, loc);
    if (e) return e;
    char *body = NULL;
    size_t len = 0, off = 0, mlen = 0;
    if (variant == V_TABLE_REFS) {
        centry_t *all = load_entry(c, V_TABLE_ALL, loc, err);
        if (!all) return NULL;
        json_object *m = parse_meta(all->body + all->meta_off, all->meta_len, err);
        cache_release(&c->cache, all);
        if (!m) return NULL;
        json_object *t = ig_tablemeta_only_ref_snapshots(m);
        json_object_put(m);
        if (!t) {
            ig_error_set(err, IG_E_INTERNAL, "out of memory");
            return NULL;
        }
        const char *s = ig_tablemeta_to_string(t);
        mlen = strlen(s);
        body = build_body(loc, s, mlen, &len, &off);
        json_object_put(t);
    } else {
        char *text = NULL;
        ig_error_t e2;
        if (ig_warehouse_read(c->wh, loc, &text, &mlen, &e2)) {
            ig_error_set(err, IG_E_INTERNAL, "cannot read metadata file %.300s: %s", loc,
                         e2.message);
            return NULL;
        }
        body = build_body(loc, text, mlen, &len, &off);
        free(text);
    }
    if (!body) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    e = cache_put(&c->cache, variant, loc, body, len, off, mlen);
    if (!e) ig_error_set(err, IG_E_INTERNAL, "out of memory");
    return e;
}

static ig_res_t send_entry(ig_req_t *r, centry_t *e, char variant, const char *loc)
{
    char etag[40];
    etag_of(variant, loc, etag);
    ig_http_add_header(r, "ETag", etag);
    return ig_http_send(r, 200, "application/json", e->body, e->len, false);
}

/* True when If-None-Match lists etag (or "*"). */
static bool etag_matches(ig_req_t *r, const char *etag)
{
    const char *h = ig_http_header(r, "If-None-Match");
    if (!h) return false;
    size_t el = strlen(etag);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t - p >= 2 && p[0] == 'W' && p[1] == '/') p += 2;
        if ((size_t)(t - p) == 1 && *p == '*') return true;
        if ((size_t)(t - p) == el && memcmp(p, etag, el) == 0) return true;
        p = e;
    }
    return false;
}

static int ns_exists(call_t *k, const char *ns, ig_error_t *err)
{
    int rc = k->st->ops->ns_get(k->st, ns, NULL, err);
    if (rc == IG_STORE_NOTFOUND) return no_namespace(err, ns);
    return rc;
}

/* Current metadata location of (ns, name) of kind: 0, or -1 with 404/500 in err. */
static int obj_location(call_t *k, const char *ns, const char *name, ig_obj_kind_t kind, char *loc,
                        ig_error_t *err)
{
    int rc = k->st->ops->obj_get(k->st, ns, name, kind, NULL, loc, IG_LOCATION_MAX, err);
    if (rc == IG_STORE_NOTFOUND) return no_object(err, kind, ns, name);
    return rc;
}

/* 409 when (ns, name) is taken by a table or a view (they share one namespace of names). */
static int name_free(call_t *k, const char *ns, const char *name, ig_error_t *err)
{
    ig_obj_kind_t kind;
    int rc = k->st->ops->obj_get(k->st, ns, name, 0, &kind, NULL, 0, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        char b[NS_MAX + 1];
        return ig_error_set(err, IG_E_ALREADY_EXISTS, "%s already exists: %s.%s",
                            kind == IG_OBJ_VIEW ? "View with same name" : "Table with same name",
                            shown(ns, b, sizeof b), name);
    }
    return 0;
}

/* Default location for a new object in ns. */
static int default_location(call_t *k, const char *ns, const char *name, char *out, ig_error_t *err)
{
    char buf[NS_MAX + 1];
    const char *levels[LEVELS_MAX];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", ns);
    char *p = buf;
    for (;;) {
        levels[n++] = p;
        char *e = strchr(p, 0x1f);
        if (!e || n == LEVELS_MAX) break;
        *e = '\0';
        p = e + 1;
    }
    return ig_warehouse_default_location(k->c->wh, levels, n, name, out, IG_LOCATION_MAX, err);
}

/* ------------------------------------------------------------------ /v1/config */

static const char *const endpoints[] = {
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/unregister",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}/credentials",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/tables/rename",
    "POST /v1/{prefix}/transactions/commit",
    "GET /v1/{prefix}/namespaces/{namespace}/views",
    "POST /v1/{prefix}/namespaces/{namespace}/views",
    "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/views/rename",
    "POST /v1/{prefix}/namespaces/{namespace}/register-view",
};

/* The one warehouse is known by its name (the root's last path segment, "warehouse" by default) or by its
 * URI; naming it yields overrides.prefix = name, and every route also answers under /v1/<name>/. */
static bool warehouse_matches(ig_catalog_t *c, const char *w)
{
    if (strcmp(w, ig_warehouse_name(c->wh)) == 0) return true;
    const char *uri = ig_warehouse_uri(c->wh);
    size_t ul = strlen(uri), wl = strlen(w);
    while (wl > 0 && w[wl - 1] == '/')
        wl--;
    if (wl == ul && memcmp(w, uri, ul) == 0) return true;
    /* the bare path, or the Hadoop-style "file:/path" */
    const char *path = uri + 7;
    size_t pl = ul - 7;
    if (wl == pl && memcmp(w, path, pl) == 0) return true;
    if (wl == pl + 5 && memcmp(w, "file:", 5) == 0 && memcmp(w + 5, path, pl) == 0) return true;
    return false;
}

/* {"defaults":{},"overrides":{...},"endpoints":[...]} as text (malloc'd), with or without the prefix. */
static char *config_json(ig_catalog_t *c, bool with_prefix, size_t *len)
{
    json_object *o = json_object_new_object(), *overrides = json_object_new_object(),
                *eps = json_object_new_array();
    /* A name that is also a route word ("namespaces", ...) would make prefixed paths ambiguous: such a
     * warehouse is served without a prefix. */
    const char *name = ig_warehouse_name(c->wh);
    static const char *const words[] = {"namespaces", "tables", "views", "transactions", "config", "oauth"};
    bool clash = false;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        clash |= strcmp(name, words[i]) == 0;
    if (with_prefix && !clash) json_object_object_add(overrides, "prefix", json_object_new_string(name));
    for (size_t i = 0; i < sizeof endpoints / sizeof *endpoints; i++)
        json_object_array_add(eps, json_object_new_string(endpoints[i]));
    json_object_object_add(o, "defaults", json_object_new_object());
    json_object_object_add(o, "overrides", overrides);
    json_object_object_add(o, "endpoints", eps);
    json_object_object_add(o, "idempotency-key-lifetime", json_object_new_string("PT30M"));
    size_t n;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, text, n + 1);
        *len = n;
    }
    json_object_put(o);
    return copy;
}

static int build_config_bodies(ig_catalog_t *c)
{
    c->config_body = config_json(c, false, &c->config_len);
    c->config_body_prefixed = config_json(c, true, &c->config_prefixed_len);
    return c->config_body && c->config_body_prefixed ? 0 : -1;
}

static ig_res_t get_config(ig_req_t *r, ig_catalog_t *c)
{
    char w[IG_LOCATION_MAX];
    int q = ig_http_query(r, "warehouse", w, sizeof w);
    if (q < 0)
        return ig_http_error(r, IG_E_BAD_REQUEST, "warehouse parameter too long or badly encoded");
    if (q == 0 || !w[0]) return ig_http_send(r, 200, "application/json", c->config_body, c->config_len, true);
    if (!warehouse_matches(c, w))
        return ig_http_error(r, IG_E_NO_SUCH_WAREHOUSE,
                             "The given warehouse does not exist: %.200s (this catalog serves \"%s\", %s)", w,
                             ig_warehouse_name(c->wh), ig_warehouse_uri(c->wh));
    return ig_http_send(r, 200, "application/json", c->config_body_prefixed, c->config_prefixed_len, true);
}

/* ------------------------------------------------------------------ pagination */

typedef struct {
    bool paginate;
    int limit;
    char after[NS_MAX + IDENT_MAX + 2];
} page_t;

static int parse_page(ig_req_t *r, page_t *pg, ig_error_t *err)
{
    char tok[2 * sizeof pg->after + 4], size[24];
    memset(pg, 0, sizeof *pg);
    int q = ig_http_query(r, "pageToken", tok, sizeof tok);
    if (q < 0) return ig_error_set(err, IG_E_BAD_REQUEST, "pageToken is too long or badly encoded");
    pg->paginate = q == 1;
    size_t tl = q == 1 ? strlen(tok) : 0;
    if (tl % 2 || tl / 2 >= sizeof pg->after) goto badtok;
    for (size_t i = 0; i < tl; i += 2) {
        int h = ig_hex_digit(tok[i]), l = ig_hex_digit(tok[i + 1]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) goto badtok;
        pg->after[i / 2] = (char)(h << 4 | l);
    }
    pg->limit = PAGE_DEFAULT;
    q = ig_http_query(r, "pageSize", size, sizeof size);
    if (q != 0) {
        int64_t v;
        if (q < 0 || ig_parse_i64(size, 1, INT32_MAX, &v))
            return ig_error_set(err, IG_E_BAD_REQUEST, "pageSize must be an integer >= 1");
        pg->limit = v > PAGE_MAX ? PAGE_MAX : (int)v;
    }
    return 0;
badtok:
    return ig_error_set(err, IG_E_BAD_REQUEST, "invalid pageToken");
}

typedef struct {
    json_object *arr;
    const char *ns;   /* for table identifiers; NULL for namespaces */
    int count, limit; /* limit 0: no pagination */
    bool more;
    char last[NS_MAX + IDENT_MAX + 2];
} collect_t;

static int collect_cb(void *ud, const char *name)
{
    collect_t *cl = ud;
    if (cl->limit && cl->count == cl->limit) {
        cl->more = true;
        return 1;
    }
    json_object_array_add(cl->arr, cl->ns ? ident_to_json(cl->ns, name) : ns_to_json(name));
    snprintf(cl->last, sizeof cl->last, "%s", name);
    cl->count++;
    return 0;
}

static json_object *next_token(collect_t *cl)
{
    if (!cl->more) return NULL;
    static const char hex[] = "0123456789abcdef";
    char tok[2 * sizeof cl->last + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)cl->last; *p; p++) {
        tok[n++] = hex[*p >> 4];
        tok[n++] = hex[*p & 15];
    }
    tok[n] = '\0';
    return json_object_new_string(tok);
}

/* ------------------------------------------------------------------ namespaces */

static ig_res_t list_namespaces(call_t *k)
{
    ig_error_t err = {0};
    char parent[NS_MAX + 1];
    page_t pg;
    int q = ig_http_query(k->r, "parent", parent, sizeof parent);
    if (q < 0) return ig_http_error(k->r, IG_E_BAD_REQUEST, "parent is too long or badly encoded");
    if (q == 0) parent[0] = '\0';
    if (parent[0] && check_ns(parent, &err)) return fail(k->r, &err);
    if (parse_page(k->r, &pg, &err)) return fail(k->r, &err);
    collect_t cl = {.arr = json_object_new_array(), .limit = pg.paginate ? pg.limit : 0};
    if (k->st->ops->ns_list(k->st, parent, pg.after[0] ? pg.after : NULL, cl.limit ? cl.limit + 1 : 0,
                            collect_cb, &cl, &err)) {
        json_object_put(cl.arr);
        return fail(k->r, &err);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespaces", cl.arr);
    json_object_object_add(o, "next-page-token", next_token(&cl));
    return ig_http_json(k->r, 200, o);
}

static ig_res_t create_namespace(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *jns, *props = NULL;
    if (!req) return fail(k->r, &err);
    char ns[NS_MAX + 1];
    if (!json_object_object_get_ex(req, "namespace", &jns)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "missing 'namespace'");
        goto bad;
    }
    if (ns_from_json(jns, ns, "namespace", &err)) goto bad;
    if (json_object_object_get_ex(req, "properties", &props) && props &&
        ig_icemeta_check_string_map(props, "properties", &err))
        goto bad;
    if (!props)
        props = json_object_new_object();
    else
        json_object_get(props);
    const char *text =
        json_object_to_json_string_ext(props, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (k->st->ops->ns_create(k->st, ns, text, &err)) {
        json_object_put(props);
        goto bad;
    }
    json_object_put(req);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", ns_to_json(ns));
    json_object_object_add(o, "properties", props);
    return ig_http_json(k->r, 200, o);
bad:
    json_object_put(req);
    return fail(k->r, &err);
}

/* Properties of ns as a JSON object (new reference), NULL with err. */
static json_object *ns_props(call_t *k, ig_error_t *err)
{
    char *text = NULL;
    int rc = k->st->ops->ns_get(k->st, k->ns, &text, err);
    if (rc == IG_STORE_NOTFOUND) no_namespace(err, k->ns);
    if (rc) return NULL;
    json_object *p = json_tokener_parse(text ? text : "{}");
    free(text);
    if (!p || !json_object_is_type(p, json_type_object)) {
        json_object_put(p);
        p = json_object_new_object();
    }
    return p;
}

static ig_res_t load_namespace(call_t *k)
{
    ig_error_t err = {0};
    json_object *p = ns_props(k, &err);
    if (!p) return fail(k->r, &err);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", ns_to_json(k->ns));
    json_object_object_add(o, "properties", p);
    return ig_http_json(k->r, 200, o);
}

static ig_res_t namespace_exists(call_t *k)
{
    ig_error_t err = {0};
    if (ns_exists(k, k->ns, &err)) return fail(k->r, &err);
    return no_content(k->r);
}

static ig_res_t drop_namespace(call_t *k)
{
    ig_error_t err = {0};
    int rc = k->st->ops->ns_drop(k->st, k->ns, &err);
    if (rc == IG_STORE_NOTFOUND) no_namespace(&err, k->ns);
    if (rc) return fail(k->r, &err);
    return no_content(k->r);
}

static ig_res_t update_properties(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *rem = NULL, *upd = NULL, *props = NULL;
    json_object *updated = NULL, *removed = NULL, *missing = NULL;
    if (!req) return fail(k->r, &err);
    if (json_object_object_get_ex(req, "removals", &rem) && rem) {
        if (!json_object_is_type(rem, json_type_array)) goto badrem;
        for (size_t i = 0; i < json_object_array_length(rem); i++)
            if (!json_object_is_type(json_object_array_get_idx(rem, i), json_type_string)) goto badrem;
    }
    if (json_object_object_get_ex(req, "updates", &upd) && upd &&
        ig_icemeta_check_string_map(upd, "updates", &err))
        goto bad;
    if (rem && upd)
        for (size_t i = 0; i < json_object_array_length(rem); i++) {
            const char *key = json_object_get_string(json_object_array_get_idx(rem, i));
            if (json_object_object_get_ex(upd, key, NULL)) {
                ig_error_set(
                    &err, IG_E_UNPROCESSABLE,
                    "The request cannot be processed as there is a key present multiple times: %.200s", key);
                goto bad;
            }
        }
    /* Serialised in-process so two concurrent updates do not lose each other's keys. */
    pthread_mutex_lock(&k->c->props_mu);
    props = ns_props(k, &err);
    if (!props) {
        pthread_mutex_unlock(&k->c->props_mu);
        goto bad;
    }
    updated = json_object_new_array();
    removed = json_object_new_array();
    missing = json_object_new_array();
    for (size_t i = 0; rem && i < json_object_array_length(rem); i++) {
        json_object *ks = json_object_array_get_idx(rem, i);
        const char *key = json_object_get_string(ks);
        if (json_object_object_get_ex(props, key, NULL)) {
            json_object_object_del(props, key);
            json_object_array_add(removed, json_object_get(ks));
        } else {
            json_object_array_add(missing, json_object_get(ks));
        }
    }
    if (upd) {
        json_object_object_foreach(upd, key, val)
        {
            json_object_object_add(props, key, json_object_get(val));
            json_object_array_add(updated, json_object_new_string(key));
        }
    }
    const char *text =
        json_object_to_json_string_ext(props, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = k->st->ops->ns_set_props(k->st, k->ns, text, &err);
    pthread_mutex_unlock(&k->c->props_mu);
    if (rc == IG_STORE_NOTFOUND) no_namespace(&err, k->ns);
    if (rc) goto bad;
    json_object_put(props);
    json_object_put(req);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "updated", updated);
    json_object_object_add(o, "removed", removed);
    json_object_object_add(o, "missing", missing);
    return ig_http_json(k->r, 200, o);
badrem:
    ig_error_set(&err, IG_E_BAD_REQUEST, "'removals' must be an array of strings");
bad:
    json_object_put(updated);
    json_object_put(removed);
    json_object_put(missing);
    json_object_put(props);
    json_object_put(req);
    return fail(k->r, &err);
}

/* ------------------------------------------------------------------ listing tables and views */

static ig_res_t list_objects(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    page_t pg;
    if (parse_page(k->r, &pg, &err)) return fail(k->r, &err);
    collect_t cl = {.arr = json_object_new_array(), .ns = k->ns, .limit = pg.paginate ? pg.limit : 0};
    if (k->st->ops->obj_list(k->st, k->ns, kind, pg.after[0] ? pg.after : NULL, cl.limit ? cl.limit + 1 : 0,
                             collect_cb, &cl, &err)) {
        json_object_put(cl.arr);
        return fail(k->r, &err);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "identifiers", cl.arr);
    json_object_object_add(o, "next-page-token", next_token(&cl));
    return ig_http_json(k->r, 200, o);
}

/* ------------------------------------------------------------------ commits (tables and views) */

/* One object's part of a commit. */
typedef struct {
    char ns[NS_MAX + 1];
    char name[IDENT_MAX + 1];
    json_object *reqs, *updates; /* borrowed from the request */
    bool exists;
    char cur[IG_LOCATION_MAX];
    char next[IG_LOCATION_MAX];
    bool written;
    char *body; /* the response for the new version */
    size_t len, meta_off, meta_len;
} change_t;

static void change_undo(ig_catalog_t *c, change_t *ch)
{
    if (ch->written) {
        ig_error_t e;
        if (ig_warehouse_remove(c->wh, ch->next, &e))
            ig_warn("catalog: cannot remove %s: %s", ch->next, e.message);
        ch->written = false;
    }
    free(ch->body);
    ch->body = NULL;
}

/* Evaluates one change against the object's current metadata and writes the next metadata file. */
static int change_prepare(call_t *k, change_t *ch, ig_obj_kind_t kind, ig_error_t *err)
{
    ig_catalog_t *c = k->c;
    json_object *cur = NULL, *next = NULL;
    int rc = k->st->ops->obj_get(k->st, ch->ns, ch->name, kind, NULL, ch->cur, sizeof ch->cur, err);
    if (rc < 0) return -1;
    ch->exists = rc == 0;
    if (ch->exists) {
        centry_t *e = load_entry(c, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->cur, err);
        if (!e) return -1;
        cur = parse_meta(e->body + e->meta_off, e->meta_len, err);
        cache_release(&c->cache, e);
        if (!cur) {
            err->kind = IG_E_INTERNAL; /* stored metadata that no longer parses is our fault, not the client's */
            return -1;
        }
    } else if (kind == IG_OBJ_VIEW) {
        return no_object(err, kind, ch->ns, ch->name);
    }
    int64_t now = ig_clock_wall_ms();
    if (kind == IG_OBJ_VIEW)
        rc = ig_viewmeta_commit(cur, ch->reqs, ch->updates, now, &next, err);
    else
        rc = ig_tablemeta_commit(cur, ch->exists ? ch->cur : NULL, ch->reqs, ch->updates, now, &next, err);
    json_object_put(cur);
    if (rc) {
        if (ig_error_status(err) == 404) no_object(err, kind, ch->ns, ch->name);
        return -1;
    }
    char canon[IG_LOCATION_MAX];
    const char *loc = meta_str(next, "location");
    if (!loc || ig_warehouse_canonical(c->wh, loc, canon, sizeof canon, err)) {
        if (!loc) ig_error_set(err, IG_E_BAD_REQUEST, "metadata has no location");
        json_object_put(next);
        return -1;
    }
    const char *text = ig_tablemeta_to_string(next);
    size_t tl = strlen(text);
    rc = ig_warehouse_write_metadata(c->wh, canon, ig_warehouse_next_version(ch->exists ? ch->cur : NULL),
                                     text, tl, ch->next, sizeof ch->next, err);
    if (rc == 0) {
        ch->written = true;
        ch->body = build_body(ch->next, text, tl, &ch->len, &ch->meta_off);
        ch->meta_len = tl;
        if (!ch->body) rc = ig_error_set(err, IG_E_INTERNAL, "out of memory");
    }
    json_object_put(next);
    return rc;
}

/* The stripes of n changes as a bit set; taken in ascending order, so transactions never deadlock. */
static uint64_t commit_stripes(const change_t *chs, size_t n)
{
    uint64_t set = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = fnv1a(chs[i].ns, strlen(chs[i].ns), 0xcbf29ce484222325ULL);
        h = fnv1a(chs[i].name, strlen(chs[i].name) + 1, h);
        set |= UINT64_C(1) << (h % COMMIT_STRIPES);
    }
    return set;
}

static int commit_changes_locked(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err);

/* Applies n changes atomically: prepare all, one swap; on a lost race re-evaluate everything.  On success
 * the new bodies are in the cache. */
static int commit_changes(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err)
{
    uint64_t set = commit_stripes(chs, n);
    for (int i = 0; i < COMMIT_STRIPES; i++)
        if (set >> i & 1) pthread_mutex_lock(&k->c->commit_mu[i]);
    int rc = commit_changes_locked(k, chs, n, kind, err);
    for (int i = COMMIT_STRIPES - 1; i >= 0; i--)
        if (set >> i & 1) pthread_mutex_unlock(&k->c->commit_mu[i]);
    return rc;
}

static int commit_changes_locked(call_t *k, change_t *chs, size_t n, ig_obj_kind_t kind, ig_error_t *err)
{
    ig_obj_swap_t *sw = calloc(n, sizeof *sw);
    if (!sw) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    int rc = -1;
    for (int attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (change_prepare(k, &chs[i], kind, err)) break;
        if (i < n && attempt > 0 && ig_error_status(err) == 400) {
            /* The change applied to the metadata the client saw (attempt 0) but no longer applies to the
             * newer one a concurrent commit produced: that is a conflict the client resolves by retrying. */
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            ig_error_set(err, IG_E_COMMIT_FAILED, "Commit failed after a concurrent change: %.400s",
                         msg);
        }
        if (i < n) {
            for (size_t j = 0; j <= i && j < n; j++)
                change_undo(k->c, &chs[j]);
            goto out;
        }
        for (i = 0; i < n; i++) {
            sw[i] = (ig_obj_swap_t){.ns = chs[i].ns,
                                    .name = chs[i].name,
                                    .kind = kind,
                                    .expected_location = chs[i].exists ? chs[i].cur : NULL,
                                    .new_location = chs[i].next};
        }
        if (k->st->ops->obj_swap(k->st, sw, n, err) == 0) {
            for (i = 0; i < n; i++) {
                centry_t *e = cache_put(&k->c->cache, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, chs[i].next,
                                        chs[i].body, chs[i].len, chs[i].meta_off, chs[i].meta_len);
                chs[i].body = NULL;
                chs[i].written = false;
                cache_release(&k->c->cache, e);
            }
            rc = 0;
            goto out;
        }
        for (i = 0; i < n; i++)
            change_undo(k->c, &chs[i]);
        if (err->kind == IG_E_ALREADY_EXISTS) {
            /* assert-create lost to a concurrent create */
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            ig_error_set(err, IG_E_COMMIT_FAILED, "Commit failed: %.400s", msg);
            goto out;
        }
        if (err->kind != IG_E_COMMIT_FAILED) goto out;
        ig_debug("catalog: commit lost a race (attempt %d), re-evaluating", attempt + 1);
    }
    ig_error_set(err, IG_E_COMMIT_FAILED, "Commit failed: too much contention, retry");
out:
    free(sw);
    return rc;
}

static int commit_body(json_object *req, change_t *ch, bool view, ig_error_t *err)
{
    json_object *v;
    ch->reqs = ch->updates = NULL;
    if (json_object_object_get_ex(req, "requirements", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return ig_error_set(err, IG_E_BAD_REQUEST, "'requirements' must be an array");
        ch->reqs = v;
    } else if (!view) {
        return ig_error_set(err, IG_E_BAD_REQUEST, "missing 'requirements'");
    }
    if (!json_object_object_get_ex(req, "updates", &v) || !json_object_is_type(v, json_type_array))
        return ig_error_set(err, IG_E_BAD_REQUEST, "'updates' must be an array");
    ch->updates = v;
    return 0;
}

/* POST .../tables/{t} and .../views/{v}. */
static ig_res_t commit_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *id;
    if (!req) return fail(k->r, &err);
    change_t *ch = calloc(1, sizeof *ch);
    if (!ch) {
        json_object_put(req);
        return ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
    }
    snprintf(ch->ns, sizeof ch->ns, "%s", k->ns);
    snprintf(ch->name, sizeof ch->name, "%s", k->name);
    if (json_object_object_get_ex(req, "identifier", &id) && id) {
        char ns[NS_MAX + 1], name[IDENT_MAX + 1];
        if (ident_from_json(id, ns, name, "identifier", &err)) goto bad;
        if (strcmp(ns, k->ns) != 0 || strcmp(name, k->name) != 0) {
            ig_error_set(&err, IG_E_BAD_REQUEST, "identifier in the body does not match the path");
            goto bad;
        }
    }
    if (commit_body(req, ch, kind == IG_OBJ_VIEW, &err)) goto bad;
    if (commit_changes(k, ch, 1, kind, &err)) goto bad;
    json_object_put(req);
    centry_t *e = cache_get(&k->c->cache, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->next);
    ig_res_t res;
    if (e) {
        res = send_entry(k->r, e, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->next);
        cache_release(&k->c->cache, e);
    } else {
        /* evicted at once (tiny cache, huge document): read it back */
        e = load_entry(k->c, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->next, &err);
        res =
            e ? send_entry(k->r, e, kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL, ch->next) : fail(k->r, &err);
        cache_release(&k->c->cache, e);
    }
    free(ch);
    return res;
bad:
    free(ch);
    json_object_put(req);
    return fail(k->r, &err);
}

static ig_res_t commit_transaction(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *arr;
    change_t *chs = NULL;
    if (!req) return fail(k->r, &err);
    if (!json_object_object_get_ex(req, "table-changes", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'table-changes' must be an array");
        goto bad;
    }
    size_t n = json_object_array_length(arr);
    if (n == 0 || n > MAX_CHANGES) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'table-changes' must hold 1 to %d changes",
                     MAX_CHANGES);
        goto bad;
    }
    chs = calloc(n, sizeof *chs);
    if (!chs) {
        ig_error_set(&err, IG_E_INTERNAL, "out of memory");
        goto bad;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *tc = json_object_array_get_idx(arr, i), *id = NULL;
        if (!json_object_is_type(tc, json_type_object) || !json_object_object_get_ex(tc, "identifier", &id) ||
            !id) {
            ig_error_set(&err, IG_E_BAD_REQUEST, "every table change needs an 'identifier'");
            goto bad;
        }
        if (ident_from_json(id, chs[i].ns, chs[i].name, "identifier", &err)) goto bad;
        if (commit_body(tc, &chs[i], false, &err)) goto bad;
        for (size_t j = 0; j < i; j++)
            if (strcmp(chs[j].ns, chs[i].ns) == 0 && strcmp(chs[j].name, chs[i].name) == 0) {
                ig_error_set(&err, IG_E_BAD_REQUEST, "table %s appears twice in one transaction",
                             chs[i].name);
                goto bad;
            }
    }
    if (commit_changes(k, chs, n, IG_OBJ_TABLE, &err)) goto bad;
    free(chs);
    json_object_put(req);
    return no_content(k->r);
bad:
    free(chs);
    json_object_put(req);
    return fail(k->r, &err);
}

/* ------------------------------------------------------------------ tables */

/* Resolves a create request's location (inside the warehouse) or the default one. */
static int resolve_location(call_t *k, json_object *req, char *out, ig_error_t *err)
{
    json_object *v;
    if (json_object_object_get_ex(req, "location", &v) && v) {
        if (!json_object_is_type(v, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "'location' must be a string");
        return ig_warehouse_canonical(k->c->wh, json_object_get_string(v), out, IG_LOCATION_MAX, err);
    }
    return default_location(k, k->ns, k->name, out, err);
}

static int req_name(json_object *req, char *out, ig_error_t *err)
{
    json_object *v;
    if (!json_object_object_get_ex(req, "name", &v) || !json_object_is_type(v, json_type_string))
        return ig_error_set(err, IG_E_BAD_REQUEST, "missing or non-string 'name'");
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n) return ig_error_set(err, IG_E_BAD_REQUEST, "name contains a NUL byte");
    if (check_ident(s, n, "name", err)) return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* Writes the first metadata file of a new object and creates its pointer; responds with the object. */
static ig_res_t create_with_meta(call_t *k, ig_obj_kind_t kind, json_object *meta, const char *loc)
{
    ig_error_t err = {0};
    char mloc[IG_LOCATION_MAX];
    const char *text = ig_tablemeta_to_string(meta);
    size_t tl = strlen(text), len, off;
    if (ig_warehouse_write_metadata(k->c->wh, loc, 0, text, tl, mloc, sizeof mloc, &err))
        return fail(k->r, &err);
    ig_obj_swap_t sw = {
        .ns = k->ns, .name = k->name, .kind = kind, .expected_location = NULL, .new_location = mloc};
    if (k->st->ops->obj_swap(k->st, &sw, 1, &err)) {
        ig_error_t e2;
        ig_warehouse_remove(k->c->wh, mloc, &e2);
        return fail(k->r, &err);
    }
    char variant = kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL;
    char *body = build_body(mloc, text, tl, &len, &off);
    centry_t *e = body ? cache_put(&k->c->cache, variant, mloc, body, len, off, tl) : NULL;
    if (!e) return ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
    ig_res_t res = send_entry(k->r, e, variant, mloc);
    cache_release(&k->c->cache, e);
    return res;
}

static ig_res_t create_table(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *v, *meta = NULL;
    char loc[IG_LOCATION_MAX], uuid[37];
    if (!req) return fail(k->r, &err);
    bool stage = json_object_object_get_ex(req, "stage-create", &v) && json_object_get_boolean(v);
    if (req_name(req, k->name, &err) || ns_exists(k, k->ns, &err) || name_free(k, k->ns, k->name, &err) ||
        resolve_location(k, req, loc, &err))
        goto bad;
    ig_uuid4(uuid);
    if (ig_tablemeta_create(req, loc, uuid, ig_clock_wall_ms(), &meta, &err)) goto bad;
    json_object_put(req);
    ig_res_t res;
    if (stage) {
        /* Nothing is written: the client commits the whole creation later with assert-create. */
        size_t len, off;
        const char *text = ig_tablemeta_to_string(meta);
        char *body = build_body(NULL, text, strlen(text), &len, &off);
        res = body ? ig_http_send(k->r, 200, "application/json", body, len, false)
                   : ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
        free(body);
    } else {
        res = create_with_meta(k, IG_OBJ_TABLE, meta, loc);
    }
    json_object_put(meta);
    return res;
bad:
    json_object_put(req);
    return fail(k->r, &err);
}

static ig_res_t load_table(call_t *k)
{
    ig_error_t err = {0};
    char snaps[16], loc[IG_LOCATION_MAX], etag[40];
    char variant = V_TABLE_ALL;
    int q = ig_http_query(k->r, "snapshots", snaps, sizeof snaps);
    if (q < 0 || (q == 1 && strcmp(snaps, "all") != 0 && strcmp(snaps, "refs") != 0))
        return ig_http_error(k->r, IG_E_BAD_REQUEST, "snapshots must be 'all' or 'refs'");
    if (q == 1 && strcmp(snaps, "refs") == 0) variant = V_TABLE_REFS;
    if (obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return fail(k->r, &err);
    etag_of(variant, loc, etag);
    if (etag_matches(k->r, etag)) {
        ig_http_add_header(k->r, "ETag", etag);
        return ig_http_send(k->r, 304, NULL, "", 0, true);
    }
    centry_t *e = load_entry(k->c, variant, loc, &err);
    if (!e) return fail(k->r, &err);
    ig_res_t res = send_entry(k->r, e, variant, loc);
    cache_release(&k->c->cache, e);
    return res;
}

static ig_res_t object_exists(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (obj_location(k, k->ns, k->name, kind, loc, &err)) return fail(k->r, &err);
    return no_content(k->r);
}

/* Deletes a dropped table's directory, unless another table or view still keeps metadata below it. */
static void purge_location(call_t *k, const char *table_loc)
{
    ig_error_t err = {0};
    char canon[IG_LOCATION_MAX + 2];
    if (ig_warehouse_canonical(k->c->wh, table_loc, canon, IG_LOCATION_MAX, &err)) {
        ig_warn("catalog: purge skipped for %s: %s", table_loc, err.message);
        return;
    }
    size_t n = strlen(canon);
    canon[n] = '/';
    canon[n + 1] = '\0';
    int64_t others = 0;
    if (k->st->ops->obj_count_under(k->st, canon, &others, &err)) {
        ig_warn("catalog: purge skipped for %s: %s", table_loc, err.message);
        return;
    }
    canon[n] = '\0';
    if (others > 0) {
        ig_warn("catalog: purge of %s skipped: %lld other table(s) or view(s) live below it", canon,
                (long long)others);
        return;
    }
    if (ig_warehouse_purge(k->c->wh, canon, &err))
        ig_warn("catalog: purge of %s failed: %s", canon, err.message);
}

static ig_res_t drop_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    char q[16], loc[IG_LOCATION_MAX], table_loc[IG_LOCATION_MAX];
    bool purge = false;
    table_loc[0] = '\0';
    if (kind == IG_OBJ_TABLE) {
        int g = ig_http_query(k->r, "purgeRequested", q, sizeof q);
        if (g < 0 || (g == 1 && strcasecmp(q, "true") != 0 && strcasecmp(q, "false") != 0))
            return ig_http_error(k->r, IG_E_BAD_REQUEST, "purgeRequested must be true or false");
        purge = g == 1 && strcasecmp(q, "true") == 0;
    }
    if (obj_location(k, k->ns, k->name, kind, loc, &err)) return fail(k->r, &err);
    if (purge) {
        centry_t *e = load_entry(k->c, V_TABLE_ALL, loc, &err);
        json_object *m = e ? parse_meta(e->body + e->meta_off, e->meta_len, &err) : NULL;
        cache_release(&k->c->cache, e);
        const char *tl = m ? meta_str(m, "location") : NULL;
        if (tl)
            snprintf(table_loc, sizeof table_loc, "%s", tl);
        else
            ig_warn("catalog: purge of %s.%s: cannot read its metadata: %s", k->ns, k->name, err.message);
        json_object_put(m);
    }
    int rc = k->st->ops->obj_drop(k->st, k->ns, k->name, kind, &err);
    if (rc == IG_STORE_NOTFOUND) no_object(&err, kind, k->ns, k->name);
    if (rc) return fail(k->r, &err);
    if (purge && table_loc[0]) purge_location(k, table_loc);
    return no_content(k->r);
}

static ig_res_t rename_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *src, *dst;
    char fns[NS_MAX + 1], fname[IDENT_MAX + 1], tns[NS_MAX + 1], tname[IDENT_MAX + 1];
    if (!req) return fail(k->r, &err);
    if (!json_object_object_get_ex(req, "source", &src) ||
        !json_object_object_get_ex(req, "destination", &dst)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "'source' and 'destination' are required");
        goto bad;
    }
    if (ident_from_json(src, fns, fname, "source", &err) ||
        ident_from_json(dst, tns, tname, "destination", &err))
        goto bad;
    json_object_put(req);
    if (k->st->ops->obj_rename(k->st, fns, fname, tns, tname, kind, &err)) return fail(k->r, &err);
    return no_content(k->r);
bad:
    json_object_put(req);
    return fail(k->r, &err);
}

/* register (tables) and register-view: point a new object at an existing metadata file. */
static ig_res_t register_object(call_t *k, ig_obj_kind_t kind)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *v, *meta = NULL;
    char mloc[IG_LOCATION_MAX], cur[IG_LOCATION_MAX], canon[IG_LOCATION_MAX];
    char *text = NULL;
    size_t tl = 0;
    bool overwrite = false;
    if (!req) return fail(k->r, &err);
    if (req_name(req, k->name, &err)) goto bad;
    if (!json_object_object_get_ex(req, "metadata-location", &v) ||
        !json_object_is_type(v, json_type_string)) {
        ig_error_set(&err, IG_E_BAD_REQUEST, "missing or non-string 'metadata-location'");
        goto bad;
    }
    if (ig_warehouse_canonical(k->c->wh, json_object_get_string(v), mloc, sizeof mloc, &err)) goto bad;
    if (kind == IG_OBJ_TABLE && json_object_object_get_ex(req, "overwrite", &v))
        overwrite = json_object_get_boolean(v);
    if (ns_exists(k, k->ns, &err)) goto bad;
    if (ig_warehouse_read(k->c->wh, mloc, &text, &tl, &err)) {
        if (ig_error_status(&err) == 404)
            ig_error_set(&err, IG_E_BAD_REQUEST, "metadata file does not exist: %.300s", mloc);
        goto bad;
    }
    if (!(meta = parse_meta(text, tl, &err))) goto bad;
    if ((kind == IG_OBJ_VIEW ? ig_viewmeta_validate(meta, &err) : ig_tablemeta_validate(meta, &err)))
        goto bad;
    const char *loc = meta_str(meta, "location");
    if (!loc || ig_warehouse_canonical(k->c->wh, loc, canon, sizeof canon, &err)) {
        if (!loc) ig_error_set(&err, IG_E_BAD_REQUEST, "metadata has no location");
        goto bad;
    }
    ig_obj_swap_t sw = {
        .ns = k->ns, .name = k->name, .kind = kind, .expected_location = NULL, .new_location = mloc};
    if (overwrite) {
        int rc = k->st->ops->obj_get(k->st, k->ns, k->name, IG_OBJ_TABLE, NULL, cur, sizeof cur, &err);
        if (rc < 0) goto bad;
        if (rc == 0) sw.expected_location = cur;
    }
    if (k->st->ops->obj_swap(k->st, &sw, 1, &err)) goto bad;
    char variant = kind == IG_OBJ_VIEW ? V_VIEW : V_TABLE_ALL;
    size_t len, off;
    char *body = build_body(mloc, text, tl, &len, &off);
    centry_t *e = body ? cache_put(&k->c->cache, variant, mloc, body, len, off, tl) : NULL;
    free(text);
    json_object_put(meta);
    json_object_put(req);
    if (!e) return ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
    ig_res_t res = send_entry(k->r, e, variant, mloc);
    cache_release(&k->c->cache, e);
    return res;
bad:
    free(text);
    json_object_put(meta);
    json_object_put(req);
    return fail(k->r, &err);
}

static ig_res_t unregister_table(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return fail(k->r, &err);
    centry_t *e = load_entry(k->c, V_TABLE_ALL, loc, &err);
    if (!e) return fail(k->r, &err);
    int rc = k->st->ops->obj_drop(k->st, k->ns, k->name, IG_OBJ_TABLE, &err);
    if (rc == IG_STORE_NOTFOUND) no_object(&err, IG_OBJ_TABLE, k->ns, k->name);
    ig_res_t res =
        rc ? fail(k->r, &err) : ig_http_send(k->r, 200, "application/json", e->body, e->len, false);
    cache_release(&k->c->cache, e);
    return res;
}

static ig_res_t report_metrics(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    json_object *req = body_object(k->r, &err);
    if (!req) return fail(k->r, &err);
    json_object_put(req);
    if (obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return fail(k->r, &err);
    return no_content(k->r);
}

static const char no_credentials[] = "{\"storage-credentials\":[]}";

static ig_res_t load_credentials(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX];
    if (obj_location(k, k->ns, k->name, IG_OBJ_TABLE, loc, &err)) return fail(k->r, &err);
    return ig_http_send(k->r, 200, "application/json", no_credentials, sizeof no_credentials - 1, true);
}

/* ------------------------------------------------------------------ views */

static ig_res_t create_view(call_t *k)
{
    ig_error_t err = {0};
    json_object *req = body_object(k->r, &err), *meta = NULL;
    char loc[IG_LOCATION_MAX], uuid[37];
    if (!req) return fail(k->r, &err);
    if (req_name(req, k->name, &err) || ns_exists(k, k->ns, &err) || name_free(k, k->ns, k->name, &err) ||
        resolve_location(k, req, loc, &err))
        goto bad;
    ig_uuid4(uuid);
    if (ig_viewmeta_create(req, loc, uuid, ig_clock_wall_ms(), &meta, &err)) goto bad;
    json_object_put(req);
    ig_res_t res = create_with_meta(k, IG_OBJ_VIEW, meta, loc);
    json_object_put(meta);
    return res;
bad:
    json_object_put(req);
    return fail(k->r, &err);
}

static ig_res_t load_view(call_t *k)
{
    ig_error_t err = {0};
    char loc[IG_LOCATION_MAX], etag[40];
    if (obj_location(k, k->ns, k->name, IG_OBJ_VIEW, loc, &err)) return fail(k->r, &err);
    etag_of(V_VIEW, loc, etag);
    if (etag_matches(k->r, etag)) {
        ig_http_add_header(k->r, "ETag", etag);
        return ig_http_send(k->r, 304, NULL, "", 0, true);
    }
    centry_t *e = load_entry(k->c, V_VIEW, loc, &err);
    if (!e) return fail(k->r, &err);
    ig_res_t res = send_entry(k->r, e, V_VIEW, loc);
    cache_release(&k->c->cache, e);
    return res;
}

/* ------------------------------------------------------------------ routing */

#define MAX_SEGS 8

typedef struct {
    const char *p;
    size_t n;
} seg_t;

static bool seg_is(seg_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static ig_res_t not_allowed(ig_req_t *r, const char *allow)
{
    ig_http_add_header(r, "Allow", allow);
    return ig_http_error(r, IG_E_METHOD_NOT_ALLOWED, "method %s not allowed on %.*s (allowed: %s)",
                         r->method_str, (int)(r->path_len > 200 ? 200 : r->path_len), r->path, allow);
}

static ig_res_t no_route(ig_req_t *r)
{
    return ig_http_error(r, IG_E_NOT_FOUND, "no such route: %.*s",
                         (int)(r->path_len > 200 ? 200 : r->path_len), r->path);
}

/* namespaces/{ns}/tables/{t}[/x] and namespaces/{ns}/views/{v}. */
static ig_res_t route_object(call_t *k, ig_obj_kind_t kind, seg_t *s, int n)
{
    ig_req_t *r = k->r;
    ig_error_t err = {0};
    if (name_from_segment(s[3].p, s[3].n, k->name, kind == IG_OBJ_VIEW ? "view name" : "table name", &err))
        return fail(r, &err);
    if (n == 4) {
        switch (r->method) {
        case IG_GET:
            return kind == IG_OBJ_VIEW ? load_view(k) : load_table(k);
        case IG_HEAD:
            return object_exists(k, kind);
        case IG_POST:
            return commit_object(k, kind);
        case IG_DELETE:
            return drop_object(k, kind);
        default:
            return not_allowed(r, "GET, HEAD, POST, DELETE");
        }
    }
    if (n == 5 && kind == IG_OBJ_TABLE) {
        if (seg_is(s[4], "metrics")) return r->method == IG_POST ? report_metrics(k) : not_allowed(r, "POST");
        if (seg_is(s[4], "credentials"))
            return r->method == IG_GET ? load_credentials(k) : not_allowed(r, "GET");
        if (seg_is(s[4], "unregister"))
            return r->method == IG_POST ? unregister_table(k) : not_allowed(r, "POST");
    }
    return no_route(r);
}

static ig_res_t route_namespaces(call_t *k, seg_t *s, int n)
{
    ig_req_t *r = k->r;
    ig_error_t err = {0};
    if (n == 1) {
        if (r->method == IG_GET) return list_namespaces(k);
        if (r->method == IG_POST) return create_namespace(k);
        return not_allowed(r, "GET, POST");
    }
    if (ns_from_segment(s[1].p, s[1].n, k->ns, &err)) return fail(r, &err);
    if (n == 2) {
        switch (r->method) {
        case IG_GET:
            return load_namespace(k);
        case IG_HEAD:
            return namespace_exists(k);
        case IG_DELETE:
            return drop_namespace(k);
        default:
            return not_allowed(r, "GET, HEAD, DELETE");
        }
    }
    if (n == 3) {
        if (seg_is(s[2], "properties"))
            return r->method == IG_POST ? update_properties(k) : not_allowed(r, "POST");
        if (seg_is(s[2], "tables") || seg_is(s[2], "views")) {
            ig_obj_kind_t kind = seg_is(s[2], "views") ? IG_OBJ_VIEW : IG_OBJ_TABLE;
            if (r->method == IG_GET) return list_objects(k, kind);
            if (r->method == IG_POST) return kind == IG_OBJ_VIEW ? create_view(k) : create_table(k);
            return not_allowed(r, "GET, POST");
        }
        if (seg_is(s[2], "register"))
            return r->method == IG_POST ? register_object(k, IG_OBJ_TABLE) : not_allowed(r, "POST");
        if (seg_is(s[2], "register-view"))
            return r->method == IG_POST ? register_object(k, IG_OBJ_VIEW) : not_allowed(r, "POST");
        return no_route(r);
    }
    if ((n == 4 || n == 5) && seg_is(s[2], "tables")) return route_object(k, IG_OBJ_TABLE, s, n);
    if (n == 4 && seg_is(s[2], "views")) return route_object(k, IG_OBJ_VIEW, s, n);
    return no_route(r);
}

static bool is_root_word(seg_t s)
{
    return seg_is(s, "namespaces") || seg_is(s, "tables") || seg_is(s, "views") || seg_is(s, "transactions");
}

static ig_res_t dispatch(ig_req_t *r, ig_catalog_t *c, seg_t *t, int k)
{
    call_t *call = malloc(sizeof *call);
    if (!call) return ig_http_error(r, IG_E_INTERNAL, "out of memory");
    call->r = r;
    call->c = c;
    call->st = c->store;
    call->ns[0] = call->name[0] = '\0';
    ig_res_t res;
    if (seg_is(t[0], "namespaces"))
        res = route_namespaces(call, t, k);
    else if (k == 2 && seg_is(t[0], "tables") && seg_is(t[1], "rename"))
        res = r->method == IG_POST ? rename_object(call, IG_OBJ_TABLE) : not_allowed(r, "POST");
    else if (k == 2 && seg_is(t[0], "views") && seg_is(t[1], "rename"))
        res = r->method == IG_POST ? rename_object(call, IG_OBJ_VIEW) : not_allowed(r, "POST");
    else if (k == 2 && seg_is(t[0], "transactions") && seg_is(t[1], "commit"))
        res = r->method == IG_POST ? commit_transaction(call) : not_allowed(r, "POST");
    else
        res = no_route(r);
    free(call);
    return res;
}

/* ------------------------------------------------------------------ Idempotency-Key */

/* A mutation carrying an Idempotency-Key: a finalized response for the key is replayed (same status and
 * body, header Idempotent-Replayed: true) without running the operation again; a request still running with
 * the key gets 503 + Retry-After (clients retry it); otherwise the operation runs and its response is stored
 * when final (2xx, and 4xx other than 408/429: the spec's "deterministic terminal" answers; 5xx never).
 * Keys are bound to the caller and to "METHOD path": reusing one for another request is a 400. */
static ig_res_t idempotent(ig_req_t *r, ig_catalog_t *c, const char *hdr, seg_t *t, int k)
{
    char key[37];
    size_t hl = strlen(hdr);
    bool ok = hl == 36;
    for (size_t i = 0; ok && i < 36; i++) {
        char ch = hdr[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) ok = ch == '-';
        else ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        key[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    if (!ok)
        return ig_http_error(r, IG_E_BAD_REQUEST,
                             "Idempotency-Key must be a UUID (36 characters, e.g. 017f22e2-79b0-7cc3-98c4-dc0c0c07398f)");
    key[36] = '\0';
    ig_idem_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.key, sizeof e.key, "%s", key);
    snprintf(e.principal, sizeof e.principal, "%s", r->who.user);
    if ((size_t)snprintf(e.request, sizeof e.request, "%s %.*s", r->method_str, (int)r->path_len, r->path) >=
        sizeof e.request)
        return ig_http_error(r, IG_E_BAD_REQUEST, "path too long for an Idempotency-Key request");

    ig_error_t err;
    ig_idem_t got;
    int64_t now = ig_clock_wall_ms();
    int rc = c->store->ops->idem_get(c->store, key, now - IDEM_KEEP_MS, &got, &err);
    if (rc < 0) return fail(r, &err);
    if (rc == 0) {
        ig_res_t res;
        if (strcmp(got.principal, e.principal) != 0 || strcmp(got.request, e.request) != 0) {
            res = ig_http_error(r, IG_E_BAD_REQUEST,
                                "Idempotency-Key %s was already used for a different request", key);
        } else {
            ig_http_add_header(r, "Idempotent-Replayed", "true");
            res = ig_http_send(r, got.status, got.body_len ? "application/json" : NULL, got.body, got.body_len,
                               false);
        }
        free(got.body);
        return res;
    }

    /* Not finalized: claim the key for this process while the operation runs. */
    int slot = -1;
    pthread_mutex_lock(&c->idem_mu);
    for (int i = 0; i < IDEM_INFLIGHT; i++) {
        if (strcmp(c->idem_busy[i], key) == 0) {
            pthread_mutex_unlock(&c->idem_mu);
            ig_http_add_header(r, "Retry-After", "1");
            return ig_http_error(r, IG_E_UNAVAILABLE,
                                 "a request with Idempotency-Key %s is still in progress: retry", key);
        }
        if (slot < 0 && !c->idem_busy[i][0]) slot = i;
    }
    if (slot >= 0) memcpy(c->idem_busy[slot], key, sizeof key);
    pthread_mutex_unlock(&c->idem_mu);

    r->capture.on = true;
    ig_res_t res = dispatch(r, c, t, k);
    int st = r->status;
    if ((st >= 200 && st < 300) || (st >= 400 && st < 500 && st != 408 && st != 429)) {
        e.status = st;
        e.body = r->capture.body;
        e.body_len = r->capture.len;
        e.created_at_ms = now;
        if (c->store->ops->idem_put(c->store, &e, now - IDEM_KEEP_MS, &err))
            ig_warn("catalog: cannot store the response for Idempotency-Key %s: %s", key, err.message);
    }
    free(r->capture.body);
    r->capture.body = NULL;
    r->capture.on = false;
    if (slot >= 0) {
        pthread_mutex_lock(&c->idem_mu);
        c->idem_busy[slot][0] = '\0';
        pthread_mutex_unlock(&c->idem_mu);
    }
    return res;
}

ig_res_t ig_catalog_oauth(void *ctx, ig_req_t *r)
{
    (void)ctx;
    /* The OAuth2 error shape the spec defines for this route (RFC 6749 §5.2), not the Iceberg error model. */
    static const char body[] =
        "{\"error\":\"unsupported_grant_type\",\"error_description\":\"icegate does not issue OAuth2 tokens (the "
        "/v1/oauth/tokens endpoint is deprecated in the Iceberg REST spec): configure your client with an icegate "
        "access token, as the property token=<value> (sent as Authorization: Bearer) or "
        "header.X-API-Token=<value>\"}";
    ig_http_add_header(r, "Cache-Control", "no-store");
    return ig_http_send(r, 400, "application/json", body, sizeof body - 1, true);
}

ig_res_t ig_catalog_handle(void *ctx, ig_req_t *r)
{
    ig_catalog_t *c = ctx;
    const char *p = r->path + 3; /* after "/v1" */
    size_t len = r->path_len - 3;
    if (len == 7 && memcmp(p, "/config", 7) == 0) {
        if (r->method != IG_GET && r->method != IG_HEAD) return not_allowed(r, "GET");
        return get_config(r, c);
    }
    seg_t s[MAX_SEGS + 1];
    int n = 0;
    while (len > 0) {
        if (*p != '/' || n == MAX_SEGS) return no_route(r);
        p++;
        len--;
        const char *e = memchr(p, '/', len);
        size_t sl = e ? (size_t)(e - p) : len;
        s[n++] = (seg_t){p, sl};
        p += sl;
        len -= sl;
    }
    if (n == 0) return no_route(r);
    int base = 0;
    if (!is_root_word(s[0])) {
        /* /v1/{prefix}/...: the prefix names the warehouse */
        char pre[IG_LOCATION_MAX];
        if (n < 2 || !is_root_word(s[1])) return no_route(r);
        if (ig_http_decode(s[0].p, s[0].n, pre, sizeof pre) || strcmp(pre, ig_warehouse_name(c->wh)) != 0)
            return ig_http_error(r, IG_E_NO_SUCH_WAREHOUSE,
                                 "The given warehouse does not exist: %.*s",
                                 (int)(s[0].n > 200 ? 200 : s[0].n), s[0].p);
        base = 1;
    }
    seg_t *t = s + base;
    int k = n - base;
    const char *ik = r->method == IG_POST || r->method == IG_DELETE ? ig_http_header(r, "Idempotency-Key") : NULL;
    if (ik) return idempotent(r, c, ik, t, k);
    return dispatch(r, c, t, k);
}
