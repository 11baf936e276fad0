/* catalog/cache — the loadTable cache.  Responses are cached fully serialized, keyed by (variant, metadata file
 * location): a location never changes content (every commit writes a new uniquely named file), so an entry
 * never goes stale and a load is a store lookup and the entry's bytes handed to the transport (shared, never
 * copied: an entry lives while a response still sends it).  The ETag is derived from the location,
 * so If-None-Match → 304 needs no cache at all.  LRU, bounded in bytes and entries, behind one mutex. */
#include "catalog/internal.h"

#include <stdlib.h>
#include <string.h>

#include "iceberg/tablemeta.h"
#include "warehouse/warehouse.h"

uint64_t cat_fnv1a(const void *p, size_t n, uint64_t h)
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
    uint64_t h = cat_fnv1a(&variant, 1, 0xcbf29ce484222325ULL);
    return cat_fnv1a(loc, strlen(loc), h);
}

static void etag_of(char variant, const char *loc, char out[40])
{
    /* Two independent 64-bit hashes: a strong validator for one version of one representation. */
    uint64_t a = key_hash(variant, loc);
    uint64_t b = cat_fnv1a(loc, strlen(loc), 0x84222325cbf29ce4ULL ^ (uint64_t)(unsigned char)variant);
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

/* The entry of (variant, loc), whose key_hash is h, or NULL; under the cache mutex. */
static centry_t *find_locked(cache_t *c, char variant, const char *loc, uint64_t h)
{
    centry_t *e = c->buckets[h % CACHE_BUCKETS];
    for (; e; e = e->hnext)
        if (e->hash == h && e->key[0] == variant && strcmp(e->key + 1, loc) == 0) break;
    return e;
}

static centry_t *cache_get(cache_t *c, char variant, const char *loc)
{
    uint64_t h = key_hash(variant, loc);
    pthread_mutex_lock(&c->mu);
    centry_t *e = find_locked(c, variant, loc, h);
    if (e) {
        e->refs++;
        lru_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

void cat_cache_release(cache_t *c, centry_t *e)
{
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    bool dead = --e->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (dead) centry_free(e);
}

/* Unlinks e; the cache's reference goes, and e joins *dead (freed after the unlock) if it was the last. */
static void evict_locked(cache_t *c, centry_t *e, centry_t **dead)
{
    cache_unlink(c, e);
    if (--e->refs == 0) {
        e->hnext = *dead;
        *dead = e;
    }
}

static void free_all(centry_t *dead)
{
    while (dead) {
        centry_t *n = dead->hnext;
        centry_free(dead);
        dead = n;
    }
}

centry_t *cat_cache_put(cache_t *c, char variant, const char *loc, char *body, size_t len, size_t meta_off,
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
    e->cache = c;
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
    while ((c->bytes > c->max_bytes || c->count > CACHE_MAX_ENTRIES) && c->tail && c->tail != e)
        evict_locked(c, c->tail, &dead);
    pthread_mutex_unlock(&c->mu);
    free_all(dead);
    return e;
}

void cat_cache_forget(cache_t *c, const char *loc)
{
    static const char variants[] = {V_TABLE_ALL, V_TABLE_REFS, V_VIEW};
    centry_t *dead = NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < sizeof variants; i++) {
        centry_t *e = find_locked(c, variants[i], loc, key_hash(variants[i], loc));
        if (e) evict_locked(c, e, &dead);
    }
    pthread_mutex_unlock(&c->mu);
    free_all(dead);
}

void cat_cache_clear(cache_t *c)
{
    while (c->head) {
        centry_t *e = c->head;
        cache_unlink(c, e);
        if (--e->refs == 0) centry_free(e);
    }
}


char *cat_build_body(const char *loc, const char *meta, size_t mlen, size_t *len, size_t *meta_off)
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

centry_t *cat_load_entry(ig_catalog_t *c, char variant, const char *loc, ig_error_t *err)
{
    centry_t *e = cache_get(&c->cache, variant, loc);
    if (e) return e;
    char *body = NULL;
    size_t len = 0, off = 0, mlen = 0;
    if (variant == V_TABLE_REFS) {
        centry_t *all = cat_load_entry(c, V_TABLE_ALL, loc, err);
        if (!all) return NULL;
        json_object *m = cat_parse_meta(all->body + all->meta_off, all->meta_len, err);
        cat_cache_release(&c->cache, all);
        if (!m) return NULL;
        json_object *t = ig_tablemeta_only_ref_snapshots(m);
        json_object_put(m);
        if (!t) {
            ig_error_set(err, IG_E_INTERNAL, "out of memory");
            return NULL;
        }
        const char *s = ig_tablemeta_to_string(t);
        mlen = strlen(s);
        body = cat_build_body(loc, s, mlen, &len, &off);
        json_object_put(t);
    } else {
        char *text = NULL;
        ig_error_t e2;
        if (ig_warehouse_read(cat_wh_of(c, loc), loc, &text, &mlen, &e2)) {
            /* Gone from under the catalog (deleted out of band): the 404 Iceberg's catalogs answer, which
             * the Java client raises as NotFoundException. */
            if (ig_error_status(&e2) == 404)
                ig_error_set(err, IG_E_NOT_FOUND, "Failed to open input stream for file: %.300s", loc);
            else
                ig_error_set(err, IG_E_INTERNAL, "cannot read metadata file %.300s: %s", loc, e2.message);
            return NULL;
        }
        body = cat_build_body(loc, text, mlen, &len, &off);
        free(text);
    }
    if (!body) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    e = cat_cache_put(&c->cache, variant, loc, body, len, off, mlen);
    if (!e) ig_error_set(err, IG_E_INTERNAL, "out of memory");
    return e;
}

static void release_sent(void *arg)
{
    centry_t *e = arg;
    cat_cache_release(e->cache, e);
}

bool cat_wants_credentials(ig_req_t *r)
{
    const char *d = ig_http_header(r, "X-Iceberg-Access-Delegation");
    return d && strstr(d, "vended-credentials");
}

/* The top-level "location" of a metadata document without parsing the rest of it (a loadTable with vended
 * credentials is as frequent as a loadTable): 0, or -1 when it is not a plain string there. */
static int meta_location(const char *m, size_t n, char *out, size_t cap)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i] == '{' || m[i] == '[') depth++;
        else if (m[i] == '}' || m[i] == ']') depth--;
        if (m[i] != '"') continue;
        size_t s = ++i;
        while (i < n && m[i] != '"') i += m[i] == '\\' ? 2 : 1;
        if (i >= n) return -1;
        size_t j = i + 1;
        while (j < n && strchr(" \t\r\n", m[j])) j++;
        if (depth != 1 || j >= n || m[j] != ':' || i - s != 8 || memcmp(m + s, "location", 8) != 0) continue;
        for (j++; j < n && strchr(" \t\r\n", m[j]); j++) {
        }
        size_t v = j + 1, e = v;
        while (e < n && m[e] != '"' && m[e] != '\\') e++;
        if (j >= n || m[j] != '"' || e >= n || m[e] != '"' || e - v >= cap) return -1;
        memcpy(out, m + v, e - v);
        out[e - v] = '\0';
        return 0;
    }
    return -1;
}

/* Appends s (n bytes) as a path segment: RFC 3986's unreserved bytes as they are, every other one %XX. */
static void put_segment(ig_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            ig_buf_append(b, s + i, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            ig_buf_append(b, e, 3);
        }
    }
}

static void put_text(ig_buf_t *b, const char *s)
{
    ig_buf_append(b, s, strlen(s));
}

/* Session credentials expire: Iceberg's S3FileIO (VendedCredentialsProvider) asks for new ones five minutes
 * before, at client.refresh-credentials-endpoint, a path it resolves against the catalog URI and calls with the
 * catalog's own token.  Static keys do not expire, and get no endpoint (the provider would insist on a session
 * token). */
static void put_refresh_endpoint(const call_t *k, ig_buf_t *cfg)
{
    const char *ns = ig_store_ns_untagged(k->ns);
    put_text(cfg, ",\"client.refresh-credentials-endpoint\":\"/v1/");
    if (k->c->nwh > 1) {
        const char *w = ig_warehouse_name(k->wh->w);
        put_segment(cfg, w, strlen(w));
        put_text(cfg, "/");
    }
    put_text(cfg, "namespaces/");
    put_segment(cfg, ns, strlen(ns)); /* levels joined by 0x1F: %1F, as the spec's paths have them */
    put_text(cfg, "/tables/");
    put_segment(cfg, k->name, strlen(k->name));
    put_text(cfg, "/credentials\"");
}

int cat_vend(const call_t *k, const char *meta, size_t mlen, ig_buf_t *cfg, char *prefix, size_t pcap,
             ig_error_t *err)
{
    ig_catalog_t *c = k->c;
    ig_req_t *r = k->r;
    char loc[IG_LOCATION_MAX];
    if (meta_location(meta, mlen, loc, sizeof loc)) {
        json_object *m = cat_parse_meta(meta, mlen, err);
        const char *l = m ? cat_meta_str(m, "location") : NULL;
        int bad = !l || (size_t)snprintf(loc, sizeof loc, "%s", l) >= sizeof loc;
        json_object_put(m);
        if (bad) return ig_error_set(err, IG_E_INTERNAL, "the table's metadata has no location");
    }
    size_t before = cfg->len;
    int v = ig_warehouse_vend(cat_wh_of(c, loc), loc, (r->who.scopes & IG_SCOPE_WRITE) != 0, r->who.expires_at_ms,
                              cfg, prefix, pcap, err);
    if (v == 1 && cfg->data && memmem(cfg->data + before, cfg->len - before, "\"s3.session-token\"", 18))
        put_refresh_endpoint(k, cfg);
    return v;
}

/* A table answer with vended credentials (DESIGN.md §7): the same metadata with the credential config in
 * "config" and in "storage-credentials" for the location it reaches.  Built per request (the secret is never
 * in the cache), and never for a request whose answer is kept for an Idempotency-Key replay (the store would
 * hold the secret): that answer goes without, and a load gets them again.  NULL: no credentials to give, or
 * (*failed set) none could be had (err). */
static char *with_credentials(const call_t *k, const centry_t *e, size_t *len, bool *failed, ig_error_t *err)
{
    ig_req_t *r = k->r;
    *failed = false;
    if (r->capture.on || !cat_wants_credentials(r)) return NULL;
    ig_buf_t cfg;
    ig_buf_init(&cfg, 512);
    char prefix[IG_LOCATION_MAX];
    int v = cat_vend(k, e->body + e->meta_off, e->meta_len, &cfg, prefix, sizeof prefix, err);
    if (v != 1) {
        *failed = v < 0;
        if (cfg.data) memset(cfg.data, 0, cfg.len);
        ig_buf_free(&cfg);
        return NULL;
    }
    static const char empty[] = "\"config\":{}";
    const char *at = strstr(e->body, empty);
    ig_buf_t out;
    ig_buf_init(&out, e->len + 2 * cfg.len + 512);
    if (at && (size_t)(at - e->body) < e->meta_off) {
        ig_buf_append(&out, e->body, (size_t)(at - e->body));
        ig_buf_printf(&out, "\"config\":{%.*s},\"storage-credentials\":[{\"prefix\":", (int)cfg.len, cfg.data);
        ig_buf_json_string(&out, prefix, strlen(prefix));
        ig_buf_printf(&out, ",\"config\":{%.*s}}]", (int)cfg.len, cfg.data);
        ig_buf_append(&out, at + sizeof empty - 1, e->len - (size_t)(at - e->body) - (sizeof empty - 1));
    }
    memset(cfg.data, 0, cfg.len);
    ig_buf_free(&cfg);
    char *body = ig_buf_take(&out, len);
    return body;
}

static void free_sent(void *arg)
{
    free(arg);
}

/* The entry's bytes go out as they are, never copied (a 1 MB metadata file to 16 clients was 16 copies of it):
 * the response holds a reference, given back once it is sent. */
static ig_res_t send_entry(call_t *k, centry_t *e, char variant, const char *loc)
{
    ig_req_t *r = k->r;
    char etag[40];
    etag_of(variant, loc, etag);
    ig_http_add_header(r, "ETag", etag);
    size_t vl = 0;
    bool failed = false;
    ig_error_t err = {0};
    char *vended = variant != V_VIEW ? with_credentials(k, e, &vl, &failed, &err) : NULL;
    if (failed) return ig_http_error_from(r, &err);
    if (vended) {
        ig_http_add_header(r, "Cache-Control", "no-store");
        return ig_http_send_shared(r, 200, "application/json", vended, vl, free_sent, vended);
    }
    pthread_mutex_lock(&e->cache->mu);
    e->refs++;
    pthread_mutex_unlock(&e->cache->mu);
    return ig_http_send_shared(r, 200, "application/json", e->body, e->len, release_sent, e);
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


ig_res_t cat_send_object(call_t *k, char variant, const char *loc, bool conditional)
{
    ig_error_t err = {0};
    if (conditional) {
        char etag[40];
        etag_of(variant, loc, etag);
        if (etag_matches(k->r, etag)) {
            ig_http_add_header(k->r, "ETag", etag);
            return ig_http_send(k->r, 304, NULL, "", 0, true);
        }
    }
    centry_t *e = cat_load_entry(k->c, variant, loc, &err);
    if (!e) return ig_http_error_from(k->r, &err);
    ig_res_t res = send_entry(k, e, variant, loc);
    cat_cache_release(&k->c->cache, e);
    return res;
}

ig_res_t cat_send_cached(call_t *k, centry_t *e, char variant)
{
    return send_entry(k, e, variant, e->key + 1);
}

ig_res_t cat_send_new(call_t *k, char variant, const char *mloc, const char *meta, size_t mlen)
{
    size_t len, off;
    char *body = cat_build_body(mloc, meta, mlen, &len, &off);
    centry_t *e = body ? cat_cache_put(&k->c->cache, variant, mloc, body, len, off, mlen) : NULL;
    if (!e) return ig_http_error(k->r, IG_E_INTERNAL, "out of memory");
    ig_res_t res = send_entry(k, e, variant, mloc);
    cat_cache_release(&k->c->cache, e);
    return res;
}
