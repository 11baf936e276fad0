/* warehouse/s3 — the S3 back end of warehouse.h: metadata files on an S3-compatible object store, through
 * libcurl, signed by libcurl itself (CURLOPT_AWS_SIGV4; no signing code here).
 *
 *   root       s3://bucket/path (path may be empty); a location is accepted only strictly inside it, with
 *              the same segment rules as file:// ("", ".", ".." and control bytes refused)
 *   write      PUT with If-None-Match: * (a server that knows it never overwrites; the uuid in every name
 *              makes a clash impossible anyway).  The object is whole and durable when the PUT answers 200, so
 *              stage writes it under its final name and publish has nothing left to do: until the store's
 *              compare-and-set points at it, nobody reads it, and a commit that loses drops it (unstage).
 *   retries    a 5xx (SlowDown included), a timeout or a broken connection is retried with backoff (4 tries); a
 *              PUT whose answer was lost and whose retry then meets 412 is ours when the object's ETag is the
 *              MD5 of our bytes.
 *   handles    one curl handle per thread (its connections kept alive between requests), freed at thread exit.
 *   purge      ListObjectsV2 under <location>/ and DeleteObjects in batches of 1000: only that prefix, so table
 *              t2 is never touched by a purge of t.
 *
 * Errors: a missing object is 404; anything the store answers otherwise is 503 ServiceUnavailableException naming
 * the operation, the object and S3's error code — never a key or a signature. */
#include "warehouse/warehouse.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/curl_lib.h"
#include "core/log.h"
#include "core/util.h"

#define TRIES 4        /* attempts of one request */
#define LIST_MAX 1000  /* keys per ListObjectsV2 page and per DeleteObjects batch */

typedef struct {
    ig_warehouse_t base;
    char uri[IG_LOCATION_MAX];    /* "s3://bucket" or "s3://bucket/path" */
    char name[64];
    char bucket[64];
    char path[IG_LOCATION_MAX];   /* the root's key prefix, no leading or trailing '/'; "" = the bucket */
    char base_url[512];           /* what object keys are appended to: ".../bucket/" or "https://bucket.host/" */
    char sigv4[96];               /* "aws:amz:<region>:s3" */
    char userpwd[520];            /* "<key id>:<secret>": never logged */
    long timeout_ms;
    pthread_key_t handle_key;
    bool vend_static;           /* credentials.mode static: clients get the warehouse's own keys */
    bool vend_sts;              /* credentials.mode sts: AssumeRole, a session policy per table */
    char sts_url[512], sts_sigv4[96], role_arn[256];
    int ttl_s;
    pthread_mutex_t sts_mu;     /* the sessions below */
    struct sts_session *sessions; /* STS_SESSIONS of them, NULL until the first */
    char key_id[256], secret[256], client_endpoint[256], region[64];
    bool path_style;
} s3_wh_t;

static void handle_free(void *h) { ig_curl.cleanup(h); }

static CURL *handle(s3_wh_t *w)
{
    CURL *h = pthread_getspecific(w->handle_key);
    if (!h && (h = ig_curl.init()) != NULL && pthread_setspecific(w->handle_key, h) != 0) {
        ig_curl.cleanup(h);
        h = NULL;
    }
    return h;
}

/* ------------------------------------------------------------------ locations */

/* Percent-encodes s (n bytes) for a URL path ('/' kept when keep_slash) or a query value, RFC 3986 unreserved
 * characters as they are: the form S3 signs, so what curl signs is what the server checks. */
static int url_encode(const char *s, size_t n, bool keep_slash, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (o + 4 >= cap) return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* loc -> its object key (the root's path included), 400 unless strictly inside the root. */
static int to_key(const s3_wh_t *w, const char *loc, char *key, size_t cap, ig_error_t *err)
{
    size_t ul = strlen(w->uri), len = loc ? strlen(loc) : 0;
    while (len > 0 && loc[len - 1] == '/') len--;
    if (!loc || len <= ul + 1 || strncmp(loc, w->uri, ul) != 0 || loc[ul] != '/')
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is outside the warehouse %s: %.200s", w->uri,
                            loc ? loc : "(none)");
    const char *rel = loc + ul + 1;
    size_t rl = len - ul - 1;
    if (ig_wh_check_segments(rel, rl, loc, err)) return -1;
    size_t pl = strlen(w->path);
    if (pl + 1 + rl + 1 > cap || ul + rl + 16 > IG_LOCATION_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", loc);
    size_t o = 0;
    if (pl) {
        memcpy(key, w->path, pl);
        key[pl] = '/';
        o = pl + 1;
    }
    memcpy(key + o, rel, rl);
    key[o + rl] = '\0';
    return 0;
}

static int s3_canonical(const ig_warehouse_t *wh, const char *loc, char *out, size_t cap, ig_error_t *err)
{
    const s3_wh_t *w = (const s3_wh_t *)wh;
    char key[IG_LOCATION_MAX];
    if (to_key(w, loc, key, sizeof key, err)) return -1;
    if ((size_t)snprintf(out, cap, "s3://%s/%s", w->bucket, key) >= cap)
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", loc);
    return 0;
}

/* ------------------------------------------------------------------ requests */

typedef struct {
    char *buf;
    size_t len, cap, max;
    bool over;
} sink_t;

typedef struct {
    long status;
    char etag[80];
} reply_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t k = size * n;
    if (!s) return k;
    if (s->len + k > s->max) {
        s->over = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + k + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->len + k + 1) nc *= 2;
        char *nb = realloc(s->buf, nc);
        if (!nb) return 0;
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t k = size * n;
    if (k > 5 && strncasecmp(p, "etag:", 5) == 0) {
        size_t i = 5, j = k;
        while (i < j && (p[i] == ' ' || p[i] == '"')) i++;
        while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == '"' || p[j - 1] == ' ')) j--;
        if (j - i < sizeof r->etag) {
            memcpy(r->etag, p + i, j - i);
            r->etag[j - i] = '\0';
        }
    }
    return k;
}

/* The text of the first <tag>…</tag> at or after *from (entities decoded) into out; *from moves past it.  0, or
 * -1 when there is none. */
static int xml_text(const char **from, const char *tag, char *out, size_t cap)
{
    char otag[48], ctag[48];
    snprintf(otag, sizeof otag, "<%s>", tag);
    snprintf(ctag, sizeof ctag, "</%s>", tag);
    const char *a = strstr(*from, otag);
    if (!a) return -1;
    a += strlen(otag);
    const char *b = strstr(a, ctag);
    if (!b) return -1;
    *from = b + strlen(ctag);
    size_t o = 0;
    static const struct { const char *ent; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (const char *p = a; p < b && o + 1 < cap;) {
        size_t e = 0;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0] && !e; i++)
            if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
                out[o++] = ents[i].c;
                e = strlen(ents[i].ent);
            }
        if (!e) out[o++] = *p, e = 1;
        p += e;
    }
    out[o] = '\0';
    return 0;
}

static void backoff(int attempt)
{
    unsigned char r;
    ig_random_bytes(&r, 1);
    long ms = (50L << attempt) + r % 50;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One request: method on key (NULL: the bucket) with query (already canonical: sorted, values encoded; "" for
 * none), body, extra headers; retried as the top of the file says.  The answer's status in *rep (0 when no
 * answer came), its body in *out when given.  0 when an answer came (any status), -1 with a 503 when none did. */
static int request(s3_wh_t *w, const char *method, const char *key, const char *query, const char *body,
                   size_t blen, const char *const *hdrs, sink_t *out, reply_t *rep, ig_error_t *err)
{
    CURL *h = handle(w);
    const char *what = !key && strcmp(method, "GET") == 0 ? "LIST" : method; /* for messages */
    char url[IG_LOCATION_MAX * 3 + 600];
    size_t n = (size_t)snprintf(url, sizeof url, "%s", w->base_url);
    /* The bucket itself is ".../bucket", not ".../bucket/": SeaweedFS signs the path without the slash, and a
     * signature over the other spelling does not match (versitygw took both). */
    if (!key && w->path_style && n > 1 && url[n - 1] == '/') url[--n] = '\0';
    if (key && url_encode(key, strlen(key), true, url + n, sizeof url - n - 1) != 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "object key too long");
    n = strlen(url);
    if (query && query[0]) snprintf(url + n, sizeof url - n, "?%s", query);
    if (!h) return ig_error_set(err, IG_E_INTERNAL, "out of memory (curl handle)");
    /* No "Expect:" to turn 100-continue off: libcurl 7.88 then signs an empty expect header it does not send,
     * and a server that checks SignedHeaders strictly (SeaweedFS) refuses every request. */
    struct curl_slist *hl = ig_curl.slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    for (size_t i = 0; hdrs && hdrs[i]; i++) hl = ig_curl.slist_append(hl, hdrs[i]);
    CURLcode cc = CURLE_OK;
    for (int attempt = 0; attempt < TRIES; attempt++) {
        if (attempt) backoff(attempt - 1);
        ig_curl.reset(h);
        memset(rep, 0, sizeof *rep);
        if (out) {
            out->len = 0;
            out->over = false;
            if (out->buf) out->buf[0] = '\0';
        }
        ig_curl.setopt(h, CURLOPT_URL, url);
        ig_curl.setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        ig_curl.setopt(h, CURLOPT_NOSIGNAL, 1L);
        ig_curl.setopt(h, CURLOPT_TIMEOUT_MS, w->timeout_ms);
        ig_curl.setopt(h, CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms < 5000 ? w->timeout_ms : 5000L);
        ig_curl.setopt(h, CURLOPT_AWS_SIGV4, w->sigv4);
        ig_curl.setopt(h, CURLOPT_USERPWD, w->userpwd);
        ig_curl.setopt(h, CURLOPT_HTTPHEADER, hl);
        ig_curl.setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        ig_curl.setopt(h, CURLOPT_WRITEDATA, out);
        ig_curl.setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        ig_curl.setopt(h, CURLOPT_HEADERDATA, rep);
        if (strcmp(method, "HEAD") == 0) {
            ig_curl.setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            ig_curl.setopt(h, CURLOPT_CUSTOMREQUEST, method);
            if (body) {
                ig_curl.setopt(h, CURLOPT_POSTFIELDS, body);
                ig_curl.setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
            }
        }
        cc = ig_curl.perform(h);
        if (cc == CURLE_OK) ig_curl.getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
        if (out && out->over) break; /* too big: no retry will make it smaller */
        if (cc == CURLE_OK && rep->status < 500) break;
        if (cc != CURLE_OK && cc != CURLE_OPERATION_TIMEDOUT && cc != CURLE_COULDNT_CONNECT &&
            cc != CURLE_SEND_ERROR && cc != CURLE_RECV_ERROR && cc != CURLE_GOT_NOTHING && cc != CURLE_PARTIAL_FILE)
            break;
        if (attempt + 1 < TRIES)
            ig_warn("warehouse: S3 %s %s/%s: %s, retrying", what, w->bucket, key ? key : "",
                    cc == CURLE_OK ? "server error" : ig_curl.strerror(cc));
        rep->status = cc == CURLE_OK ? rep->status : 0;
    }
    ig_curl.slist_free_all(hl);
    if (cc != CURLE_OK && !(out && out->over)) {
        return ig_error_set(err, IG_E_UNAVAILABLE, "object storage: %s s3://%s/%.300s: %s", what, w->bucket,
                            key ? key : "", ig_curl.strerror(cc));
    }
    return 0;
}

/* The 503 for an answer that is not what the operation wanted, with S3's <Code> when it sent one. */
static int s3_fail(const s3_wh_t *w, ig_error_t *err, const char *method, const char *key, const reply_t *rep,
                   const sink_t *body)
{
    char code[64] = "";
    const char *from = body && body->buf ? body->buf : "";
    if (body && body->buf) xml_text(&from, "Code", code, sizeof code);
    ig_warn("warehouse: S3 %s s3://%s/%.300s: HTTP %ld %s", method, w->bucket, key ? key : "", rep->status, code);
    return ig_error_set(err, IG_E_UNAVAILABLE, "object storage: %s s3://%s/%.300s: HTTP %ld%s%s", method, w->bucket,
                        key ? key : "", rep->status, code[0] ? " " : "", code);
}

/* ------------------------------------------------------------------ objects */

static void md5_of(const char *p, size_t n, unsigned char md[16])
{
    unsigned int len = 16;
    EVP_Digest(p, n, md, &len, EVP_md5(), NULL);
}

/* PUT of a new object: 0 when it is there with our bytes, -1 otherwise. */
static int put_new(s3_wh_t *w, const char *key, const char *body, size_t len, ig_error_t *err)
{
    static const char *const hdrs[] = {"If-None-Match: *", "Content-Type: application/json", NULL};
    reply_t rep;
    sink_t out = {.max = 1 << 16};
    int rc = request(w, "PUT", key, "", body, len, hdrs, &out, &rep, err);
    if (rc == 0 && rep.status == 412) {
        /* Exists: ours if a retried PUT's first try landed (same bytes, so the ETag is their MD5). */
        unsigned char md[16];
        char hex[33];
        md5_of(body, len, md);
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
        reply_t head;
        if (request(w, "HEAD", key, "", NULL, 0, NULL, NULL, &head, err) == 0 && head.status == 200 &&
            strcmp(head.etag, hex) == 0)
            rep.status = 200;
    }
    if (rc == 0 && rep.status != 200) rc = s3_fail(w, err, "PUT", key, &rep, &out);
    free(out.buf);
    return rc;
}

/* GET of key into *buf (NUL-terminated, malloc'd), at most max bytes: 0, 404 as IG_E_NOT_FOUND, else -1. */
static int get(s3_wh_t *w, const char *key, size_t max, char **buf, size_t *len, ig_error_t *err)
{
    reply_t rep;
    sink_t out = {.max = max};
    int rc = request(w, "GET", key, "", NULL, 0, NULL, &out, &rep, err);
    if (rc == 0 && out.over)
        rc = ig_error_set(err, IG_E_BAD_REQUEST, "metadata file s3://%s/%.300s is larger than catalog.max_metadata_bytes "
                                                 "(%zu)", w->bucket, key, max);
    else if (rc == 0 && rep.status == 404)
        rc = ig_error_set(err, IG_E_NOT_FOUND, "no such file: s3://%s/%.300s", w->bucket, key);
    else if (rc == 0 && rep.status != 200)
        rc = s3_fail(w, err, "GET", key, &rep, &out);
    if (rc) {
        free(out.buf);
        return -1;
    }
    if (!out.buf && !(out.buf = calloc(1, 1))) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    *buf = out.buf;
    *len = out.len;
    return 0;
}

static int del(s3_wh_t *w, const char *key, ig_error_t *err)
{
    reply_t rep;
    sink_t out = {.max = 1 << 16};
    int rc = request(w, "DELETE", key, "", NULL, 0, NULL, &out, &rep, err);
    if (rc == 0 && rep.status != 204 && rep.status != 200 && rep.status != 404)
        rc = s3_fail(w, err, "DELETE", key, &rep, &out);
    free(out.buf);
    return rc;
}

/* Calls cb for each key under prefix (a ListObjectsV2 walk), at most max keys in all (0: every one); cb's
 * non-zero stops it.  0, or -1 with err. */
static int list(s3_wh_t *w, const char *prefix, int max, int (*cb)(void *, const char *), void *ud, ig_error_t *err)
{
    char enc[IG_LOCATION_MAX * 3], tok[1024] = "", tokenc[3 * 1024], query[sizeof enc + sizeof tokenc + 80];
    if (url_encode(prefix, strlen(prefix), false, enc, sizeof enc)) return ig_error_set(err, IG_E_BAD_REQUEST, "prefix too long");
    int seen = 0;
    for (;;) {
        /* canonical order: continuation-token, list-type, max-keys, prefix */
        int page = max && max - seen < LIST_MAX ? max - seen : LIST_MAX;
        if (tok[0]) {
            url_encode(tok, strlen(tok), false, tokenc, sizeof tokenc);
            snprintf(query, sizeof query, "continuation-token=%s&list-type=2&max-keys=%d&prefix=%s", tokenc, page, enc);
        } else {
            snprintf(query, sizeof query, "list-type=2&max-keys=%d&prefix=%s", page, enc);
        }
        reply_t rep;
        sink_t out = {.max = 16 << 20};
        if (request(w, "GET", NULL, query, NULL, 0, NULL, &out, &rep, err)) {
            free(out.buf);
            return -1;
        }
        if (rep.status != 200) {
            int rc = s3_fail(w, err, "LIST", prefix, &rep, &out);
            free(out.buf);
            return rc;
        }
        const char *from = out.buf ? out.buf : "";
        char key[IG_LOCATION_MAX];
        int stop = 0;
        while (!stop && xml_text(&from, "Key", key, sizeof key) == 0) {
            seen++;
            stop = cb(ud, key) || (max && seen >= max);
        }
        char trunc[8] = "";
        from = out.buf ? out.buf : "";
        xml_text(&from, "IsTruncated", trunc, sizeof trunc);
        from = out.buf ? out.buf : "";
        bool more = !stop && strcmp(trunc, "true") == 0 &&
                    xml_text(&from, "NextContinuationToken", tok, sizeof tok) == 0 && tok[0];
        free(out.buf);
        if (!more) return 0;
    }
}

static int count_cb(void *ud, const char *key)
{
    (void)key;
    (*(int *)ud)++;
    return 1;
}

/* 1 when some object's key starts with prefix ("<dir>/"), 0 when none, -1 with err. */
static int any_under(s3_wh_t *w, const char *prefix, ig_error_t *err)
{
    int n = 0;
    if (list(w, prefix, 1, count_cb, &n, err)) return -1;
    return n > 0;
}

/* ------------------------------------------------------------------ the ops */

static int s3_default_location(ig_warehouse_t *wh, const char *const *levels, size_t n, const char *name, char *out,
                               size_t cap, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    char rel[IG_LOCATION_MAX], key[IG_LOCATION_MAX + 16], loc[2 * IG_LOCATION_MAX + 8];
    size_t len = 0;
    if (ig_wh_default_rel(levels, n, name, rel, sizeof rel, &len)) goto toolong;
    if (strlen(w->uri) + len + 80 > IG_LOCATION_MAX) goto toolong;
    snprintf(loc, sizeof loc, "%s/%s", w->uri, rel);
    if (to_key(w, loc, key, sizeof key - 2, err)) return -1;
    size_t kl = strlen(key);
    key[kl] = '/';
    key[kl + 1] = '\0';
    int used = any_under(w, key, err); /* a table dropped without purge left files there */
    if (used < 0) return -1;
    if (used) ig_wh_suffix(rel, sizeof rel, len);
    if ((size_t)snprintf(out, cap, "%s/%s", w->uri, rel) >= cap) goto toolong;
    return 0;
toolong:
    return ig_error_set(err, IG_E_BAD_REQUEST, "identifier too long for a table location");
}

struct ig_wh_staged {
    char key[IG_LOCATION_MAX + 128];
};

static ig_wh_staged_t *s3_stage(ig_warehouse_t *wh, const char *location, int64_t version, const char *json,
                                size_t len, char *out, size_t cap, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    ig_wh_staged_t *p = malloc(sizeof *p);
    if (!p) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    char dir[IG_LOCATION_MAX], uuid[37];
    if (to_key(w, location, dir, sizeof dir, err)) goto fail;
    ig_uuid4(uuid);
    if (version < 0 || version > 99999999) version = 0;
    snprintf(p->key, sizeof p->key, "%s/%05lld-%s.metadata.json", dir, (long long)version, uuid);
    if ((size_t)snprintf(out, cap, "s3://%s/%s", w->bucket, p->key) >= cap) {
        ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", location);
        goto fail;
    }
    if (put_new(w, p->key, json, len, err)) goto fail;
    return p;
fail:
    free(p);
    return NULL;
}

static int s3_publish(ig_warehouse_t *wh, ig_wh_staged_t *const *v, size_t n, ig_error_t *err)
{
    (void)wh;
    (void)err;
    for (size_t i = 0; i < n; i++) free(v[i]); /* each was durable when its PUT answered */
    return 0;
}

static void s3_unstage(ig_warehouse_t *wh, ig_wh_staged_t *p)
{
    if (!p) return;
    ig_error_t err;
    if (del((s3_wh_t *)wh, p->key, &err)) ig_warn("warehouse: cannot remove unused %s: %s", p->key, err.message);
    free(p);
}

static int s3_read(ig_warehouse_t *wh, const char *loc, char **buf, size_t *len, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    char key[IG_LOCATION_MAX];
    if (to_key(w, loc, key, sizeof key, err)) return -1;
    return get(w, key, (size_t)wh->max_bytes, buf, len, err);
}

static int s3_remove(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    char key[IG_LOCATION_MAX];
    if (to_key(w, loc, key, sizeof key, err)) return -1;
    return del(w, key, err);
}

/* The keys of one DeleteObjects batch, as its XML body. */
typedef struct {
    s3_wh_t *w;
    char *xml;
    size_t len, cap;
    int n;
    int64_t removed;
    ig_error_t *err;
    int rc;
} batch_t;

static int batch_send(batch_t *b)
{
    if (!b->n) return 0;
    static const char tail[] = "</Delete>";
    if (b->len + sizeof tail > b->cap) return b->rc = ig_error_set(b->err, IG_E_INTERNAL, "purge batch too large");
    memcpy(b->xml + b->len, tail, sizeof tail);
    b->len += sizeof tail - 1;
    unsigned char md[16];
    md5_of(b->xml, b->len, md);
    char md5h[64] = "Content-MD5: ";
    EVP_EncodeBlock((unsigned char *)md5h + strlen(md5h), md, 16);
    const char *hdrs[] = {md5h, "Content-Type: application/xml", NULL};
    reply_t rep;
    sink_t out = {.max = 16 << 20};
    int rc = request(b->w, "POST", NULL, "delete=", b->xml, b->len, hdrs, &out, &rep, b->err);
    if (rc == 0 && (rep.status != 200 || (out.buf && strstr(out.buf, "<Error>"))))
        rc = s3_fail(b->w, b->err, "DeleteObjects", "", &rep, &out);
    free(out.buf);
    if (rc == 0) b->removed += b->n;
    b->n = 0;
    b->len = 0;
    return b->rc = rc;
}

static int batch_add(void *ud, const char *key)
{
    batch_t *b = ud;
    static const char head[] = "<Delete><Quiet>true</Quiet>";
    size_t need = strlen(key) * 6 + 64;
    if (b->len + need + 16 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1 << 16;
        while (nc < b->len + need + 16) nc *= 2;
        char *nx = realloc(b->xml, nc);
        if (!nx) return b->rc = ig_error_set(b->err, IG_E_INTERNAL, "out of memory");
        b->xml = nx;
        b->cap = nc;
    }
    if (!b->len) {
        memcpy(b->xml, head, sizeof head - 1);
        b->len = sizeof head - 1;
    }
    static const char obj_open[] = "<Object><Key>", obj_close[] = "</Key></Object>";
    memcpy(b->xml + b->len, obj_open, sizeof obj_open - 1);
    b->len += sizeof obj_open - 1;
    for (const char *p = key; *p; p++) { /* XML-escaped */
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;" : NULL;
        if (e) {
            memcpy(b->xml + b->len, e, strlen(e));
            b->len += strlen(e);
        } else {
            b->xml[b->len++] = *p;
        }
    }
    memcpy(b->xml + b->len, obj_close, sizeof obj_close - 1);
    b->len += sizeof obj_close - 1;
    if (++b->n == LIST_MAX) return batch_send(b) ? 1 : 0;
    return 0;
}

static int s3_purge(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    char key[IG_LOCATION_MAX + 2];
    if (to_key(w, loc, key, sizeof key - 1, err)) return -1;
    size_t kl = strlen(key);
    key[kl] = '/'; /* only under the location: t2 is not inside t */
    key[kl + 1] = '\0';
    batch_t b = {.w = w, .err = err};
    int rc = list(w, key, 0, batch_add, &b, err);
    if (rc == 0 && b.rc == 0) rc = batch_send(&b);
    if (rc == 0 && b.rc) rc = -1;
    free(b.xml);
    if (rc == 0 && b.removed) ig_info("warehouse: purged %lld objects under s3://%s/%s", (long long)b.removed, w->bucket, key);
    return rc;
}

static int s3_exists(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    char key[IG_LOCATION_MAX + 2];
    if (to_key(w, loc, key, sizeof key - 1, err)) return -1;
    reply_t rep;
    if (request(w, "HEAD", key, "", NULL, 0, NULL, NULL, &rep, err)) return -1;
    if (rep.status == 200) return 1;
    if (rep.status != 404 && rep.status != 403) return s3_fail(w, err, "HEAD", key, &rep, NULL);
    size_t kl = strlen(key);
    key[kl] = '/';
    key[kl + 1] = '\0';
    return any_under(w, key, err);
}

/* ------------------------------------------------------------------ vended credentials */

/* The members every vended config ends with: where and how to reach the store. */
static void vend_endpoint(const s3_wh_t *w, ig_buf_t *out)
{
    ig_buf_append(out, ",\"s3.endpoint\":", 15);
    ig_buf_json_string(out, w->client_endpoint, strlen(w->client_endpoint));
    ig_buf_append(out, ",\"client.region\":", 17);
    ig_buf_json_string(out, w->region, strlen(w->region));
    ig_buf_printf(out, ",\"s3.path-style-access\":\"%s\"", w->path_style ? "true" : "false");
}

static void vend_keys(ig_buf_t *out, const char *id, const char *secret)
{
    ig_buf_append(out, "\"s3.access-key-id\":", 19);
    ig_buf_json_string(out, id, strlen(id));
    ig_buf_append(out, ",\"s3.secret-access-key\":", 24);
    ig_buf_json_string(out, secret, strlen(secret));
}

/* sts: a session per table prefix and access (read, or read-write), reused while it has more than half its
 * life left, so a table loaded a thousand times costs one AssumeRole per half TTL.  At most STS_SESSIONS are
 * kept; the one used longest ago makes room. */
#define STS_SESSIONS 256
#define STS_TOKEN_MAX 8192

typedef struct sts_session {
    char prefix[IG_LOCATION_MAX]; /* the object key prefix ("" = a free slot) */
    bool write;
    char key_id[128], secret[128], token[STS_TOKEN_MAX];
    int64_t expires_ms, used_ms;
} sts_session_t;

/* The session policy: objects under prefix/ (read, or read-write), and listing only that prefix. */
static void sts_policy(const s3_wh_t *w, const char *prefix, bool write, ig_buf_t *p)
{
    ig_buf_printf(p, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"%s],"
                     "\"Resource\":[\"arn:aws:s3:::%s/%s/*\"]},{\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\"],"
                     "\"Resource\":[\"arn:aws:s3:::%s\"],\"Condition\":{\"StringLike\":{\"s3:prefix\":[\"%s\",\"%s/*\"]}}},"
                     "{\"Effect\":\"Allow\",\"Action\":[\"s3:GetBucketLocation\"],\"Resource\":[\"arn:aws:s3:::%s\"]}]}",
                  write ? ",\"s3:PutObject\",\"s3:DeleteObject\",\"s3:AbortMultipartUpload\",\"s3:ListMultipartUploadParts\""
                        : "",
                  w->bucket, prefix, w->bucket, prefix, prefix, w->bucket);
}

/* "2026-12-03T12:30:00Z" (fractions allowed) -> ms since the epoch; 0 when unparsable. */
static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!e) return 0;
    return (int64_t)timegm(&tm) * 1000;
}

/* The AssumeRole form (DESIGN.md §7): this table's session policy, duration_s, the role if one is set. */
static int sts_form(const s3_wh_t *w, const char *prefix, bool write, int duration_s, ig_buf_t *form)
{
    ig_buf_t pol;
    ig_buf_init(&pol, 1024);
    sts_policy(w, prefix, write, &pol);
    char enc[IG_LOCATION_MAX * 9], name[40];
    unsigned char r[8];
    ig_random_bytes(r, sizeof r);
    snprintf(name, sizeof name, "icegate-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
             r[7]);
    int rc = pol.data && url_encode(pol.data, pol.len, false, enc, sizeof enc) == 0 ? 0 : -1;
    ig_buf_free(&pol);
    if (rc) return -1;
    ig_buf_printf(form, "Action=AssumeRole&DurationSeconds=%d&Policy=%s&RoleSessionName=%s&Version=2011-06-15",
                  duration_s, enc, name);
    if (w->role_arn[0] && url_encode(w->role_arn, strlen(w->role_arn), false, enc, sizeof enc) == 0)
        ig_buf_printf(form, "&RoleArn=%s", enc);
    return form->data ? 0 : -1;
}

/* One AssumeRole call: the new session into *s, or -1 with a 503 (never quoting a key or a token). */
static int sts_assume(s3_wh_t *w, const char *prefix, bool write, int duration_s, sts_session_t *s,
                      ig_error_t *err)
{
    ig_buf_t form;
    ig_buf_init(&form, 2048);
    if (sts_form(w, prefix, write, duration_s, &form)) {
        ig_buf_free(&form);
        return ig_error_set(err, IG_E_INTERNAL, "cannot build the AssumeRole request for %.200s", prefix);
    }
    CURL *h = handle(w);
    sink_t out = {.max = 1 << 16};
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    struct curl_slist *hl = ig_curl.slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    for (int attempt = 0; h && hl && attempt < TRIES; attempt++) {
        if (attempt) backoff(attempt - 1);
        ig_curl.reset(h);
        out.len = 0;
        ig_curl.setopt(h, CURLOPT_URL, w->sts_url);
        ig_curl.setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        ig_curl.setopt(h, CURLOPT_NOSIGNAL, 1L);
        ig_curl.setopt(h, CURLOPT_TIMEOUT_MS, w->timeout_ms);
        ig_curl.setopt(h, CURLOPT_AWS_SIGV4, w->sts_sigv4);
        ig_curl.setopt(h, CURLOPT_USERPWD, w->userpwd);
        ig_curl.setopt(h, CURLOPT_HTTPHEADER, hl);
        ig_curl.setopt(h, CURLOPT_POSTFIELDS, form.data);
        ig_curl.setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
        ig_curl.setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        ig_curl.setopt(h, CURLOPT_WRITEDATA, &out);
        cc = ig_curl.perform(h);
        status = 0;
        if (cc == CURLE_OK) ig_curl.getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status < 500) break;
    }
    ig_curl.slist_free_all(hl);
    memset(form.data, 0, form.len);
    ig_buf_free(&form);
    const char *at = out.buf ? out.buf : "";
    int rc = 0;
    char code[64] = "", exp[64] = "";
    if (cc != CURLE_OK || status != 200) {
        xml_text(&at, "Code", code, sizeof code);
        ig_warn("warehouse: STS AssumeRole for s3://%s/%.300s: %s %ld %s", w->bucket, prefix,
                cc == CURLE_OK ? "HTTP" : ig_curl.strerror(cc), status, code);
        rc = ig_error_set(err, IG_E_UNAVAILABLE, "cannot vend credentials: STS AssumeRole for s3://%s/%.300s: %s%s%s",
                          w->bucket, prefix, cc == CURLE_OK ? "refused" : "no answer", code[0] ? " " : "", code);
    } else if (xml_text(&at, "AccessKeyId", s->key_id, sizeof s->key_id) ||
               xml_text(&at, "SecretAccessKey", s->secret, sizeof s->secret) ||
               xml_text(&at, "SessionToken", s->token, sizeof s->token) ||
               xml_text(&at, "Expiration", exp, sizeof exp) || !(s->expires_ms = iso_ms(exp))) {
        rc = ig_error_set(err, IG_E_UNAVAILABLE, "cannot vend credentials: STS answered without credentials");
    }
    if (out.buf) memset(out.buf, 0, out.len);
    free(out.buf);
    return rc;
}

/* The session for prefix: a kept one with more than half its life left (and not past not_after_ms), else a
 * new one in the slot used longest ago.  Copied into *s; 0, or -1 with err. */
static int sts_session(s3_wh_t *w, const char *prefix, bool write, int64_t not_after_ms, sts_session_t *s,
                       ig_error_t *err)
{
    int64_t now = (int64_t)time(NULL) * 1000;
    int64_t life = (int64_t)w->ttl_s * 1000;
    if (not_after_ms && not_after_ms - now < life) life = not_after_ms - now; /* never beyond the token */
    if (life < 900 * 1000) /* STS's shortest session: the token expires sooner than any credential would */
        return ig_error_set(err, IG_E_FORBIDDEN, "no credentials: the token expires in less than the 15 minutes "
                                                 "of the shortest storage session");
    pthread_mutex_lock(&w->sts_mu);
    if (!w->sessions) w->sessions = calloc(STS_SESSIONS, sizeof *w->sessions);
    sts_session_t *v = w->sessions, *hit = NULL, *lru = v;
    for (size_t i = 0; v && i < STS_SESSIONS && !hit; i++) {
        if (v[i].prefix[0] && v[i].write == write && strcmp(v[i].prefix, prefix) == 0 &&
            v[i].expires_ms - now > (int64_t)w->ttl_s * 500 && v[i].expires_ms <= now + life)
            hit = &v[i];
        else if (v[i].used_ms < lru->used_ms)
            lru = &v[i];
    }
    if (hit) {
        hit->used_ms = now;
        *s = *hit;
    }
    pthread_mutex_unlock(&w->sts_mu);
    if (hit) return 0;
    if (!v) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    memset(s, 0, sizeof *s);
    if (sts_assume(w, prefix, write, (int)(life / 1000), s, err)) return -1;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->write = write;
    s->used_ms = now;
    pthread_mutex_lock(&w->sts_mu);
    *lru = *s;
    pthread_mutex_unlock(&w->sts_mu);
    return 0;
}

/* static: the warehouse's keys, for development, prefix the root; sts: a session for the table's location
 * (DESIGN.md §7). */
static int s3_vend(ig_warehouse_t *wh, const char *location, bool write, int64_t not_after_ms, ig_buf_t *out,
                   char *prefix, size_t pcap, ig_error_t *err)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    if (w->vend_static) {
        vend_keys(out, w->key_id, w->secret);
        vend_endpoint(w, out);
        snprintf(prefix, pcap, "%s", w->uri);
        return 1;
    }
    if (!w->vend_sts) return 0;
    char key[IG_LOCATION_MAX];
    if (to_key(w, location, key, sizeof key, err)) return -1;
    sts_session_t *s = malloc(sizeof *s);
    if (!s) return ig_error_set(err, IG_E_INTERNAL, "out of memory");
    int rc = sts_session(w, key, write, not_after_ms, s, err);
    if (rc == 0) {
        vend_keys(out, s->key_id, s->secret);
        ig_buf_append(out, ",\"s3.session-token\":", 20);
        ig_buf_json_string(out, s->token, strlen(s->token));
        ig_buf_printf(out, ",\"s3.session-token-expires-at-ms\":\"%lld\"", (long long)s->expires_ms);
        vend_endpoint(w, out);
        snprintf(prefix, pcap, "s3://%s/%s", w->bucket, key);
    }
    memset(s, 0, sizeof *s);
    free(s);
    return rc ? -1 : 1;
}

static void s3_close(ig_warehouse_t *wh)
{
    s3_wh_t *w = (s3_wh_t *)wh;
    if (!w) return;
    CURL *h = pthread_getspecific(w->handle_key); /* the other threads' handles go with their threads */
    if (h) {
        pthread_setspecific(w->handle_key, NULL);
        ig_curl.cleanup(h);
    }
    pthread_key_delete(w->handle_key);
    memset(w->userpwd, 0, sizeof w->userpwd);
    memset(w->secret, 0, sizeof w->secret);
    if (w->sessions) {
        memset(w->sessions, 0, STS_SESSIONS * sizeof *w->sessions);
        free(w->sessions);
    }
    pthread_mutex_destroy(&w->sts_mu);
    free(w);
}

static const ig_warehouse_ops_t s3_ops = {
    .scheme = "s3",
    .supports = IG_WAREHOUSE_CONDITIONAL_PUT,
    .close = s3_close,
    .canonical = s3_canonical,
    .default_location = s3_default_location,
    .stage = s3_stage,
    .publish = s3_publish,
    .unstage = s3_unstage,
    .read = s3_read,
    .remove = s3_remove,
    .purge = s3_purge,
    .exists = s3_exists,
    .sweep_temps = NULL,
    .vend = s3_vend,
};

ig_warehouse_t *ig_warehouse_s3_open(const ig_warehouse_cfg_t *c, ig_error_t *err)
{
    const char *loc = c->location;
    if (strncmp(loc, "s3://", 5) != 0) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouses: %s is not an s3:// location", loc);
        return NULL;
    }
    char why[256];
    if (ig_curl_load(why, sizeof why)) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouses: %s", why);
        return NULL;
    }
    s3_wh_t *w = calloc(1, sizeof *w);
    if (!w || pthread_key_create(&w->handle_key, handle_free) != 0) {
        free(w);
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->sts_mu, NULL);
    const char *b = loc + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    /* bucket names: 3..63 of lower-case letters, digits, '.', '-' (the rules S3 has) */
    if (bl < 3 || bl >= sizeof w->bucket || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouses: %s: not a valid bucket name", loc);
        goto fail;
    }
    memcpy(w->bucket, b, bl);
    const char *path = slash ? slash + 1 : "";
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/') pl--;
    if (pl >= sizeof w->path || (pl && ig_wh_check_segments(path, pl, loc, err))) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouses: %s: not a normalised location", loc);
        goto fail;
    }
    memcpy(w->path, path, pl);
    snprintf(w->uri, sizeof w->uri, pl ? "s3://%s/%s" : "s3://%s", w->bucket, w->path);
    snprintf(w->name, sizeof w->name, "%s", c->name);
    char ep[256];
    snprintf(ep, sizeof ep, "%s", c->endpoint);
    size_t el = strlen(ep);
    while (el > 0 && ep[el - 1] == '/') ep[--el] = '\0';
    if (c->path_style) {
        snprintf(w->base_url, sizeof w->base_url, "%s/%s/", ep, w->bucket);
    } else { /* virtual-hosted: https://bucket.host/ */
        const char *host = strstr(ep, "://");
        host = host ? host + 3 : ep;
        snprintf(w->base_url, sizeof w->base_url, "%.*s%s.%s/", (int)(host - ep), ep, w->bucket, host);
    }
    snprintf(w->sigv4, sizeof w->sigv4, "aws:amz:%s:s3", c->region);
    snprintf(w->userpwd, sizeof w->userpwd, "%s:%s", c->access_key_id, c->secret_access_key);
    w->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    w->vend_static = strcmp(c->credentials_mode, "static") == 0;
    w->vend_sts = strcmp(c->credentials_mode, "sts") == 0;
    snprintf(w->sts_url, sizeof w->sts_url, "%s", c->sts_endpoint[0] ? c->sts_endpoint : ep);
    snprintf(w->sts_sigv4, sizeof w->sts_sigv4, "aws:amz:%s:sts", c->region);
    snprintf(w->role_arn, sizeof w->role_arn, "%s", c->sts_role_arn);
    w->ttl_s = c->credentials_ttl_s >= 900 ? c->credentials_ttl_s : 900;
    w->path_style = c->path_style;
    snprintf(w->key_id, sizeof w->key_id, "%s", c->access_key_id);
    snprintf(w->secret, sizeof w->secret, "%s", c->secret_access_key);
    snprintf(w->client_endpoint, sizeof w->client_endpoint, "%s", c->client_endpoint[0] ? c->client_endpoint : ep);
    snprintf(w->region, sizeof w->region, "%s", c->region);
    w->base = (ig_warehouse_t){.ops = &s3_ops, .uri = w->uri, .name = w->name, .max_bytes = IG_WAREHOUSE_MAX_FILE};
    /* The bucket must answer now: a typo in the endpoint or the keys stops the start, not the first commit. */
    reply_t rep;
    sink_t out = {.max = 1 << 16};
    char q[40];
    snprintf(q, sizeof q, "list-type=2&max-keys=1");
    if (request(w, "GET", NULL, q, NULL, 0, NULL, &out, &rep, err) ||
        (rep.status != 200 && s3_fail(w, err, "LIST", "", &rep, &out))) {
        free(out.buf);
        goto fail;
    }
    free(out.buf);
    return &w->base;
fail:
    s3_close(&w->base);
    return NULL;
}
