/* webhook — see webhook.h. */
#include "notify/webhook.h"

#include "core/curl_lib.h"
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/version.h"

struct ig_webhook {
    CURL *curl;
    char *url;
    unsigned char key[256];
    size_t keylen;
    int timeout_ms;
    const _Atomic bool *stop;
};

void ig_webhook_signature(const unsigned char *key, size_t keylen, const char *body, size_t len,
                          char out[IG_SIGNATURE_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)body, len, mac, &n);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[IG_SIGNATURE_LEN] = '\0';
}

int64_t ig_webhook_backoff_ms(int failures, int64_t max_ms, uint32_t rnd)
{
    int64_t d = 1000;
    for (int i = 1; i < failures && d < max_ms; i++) d *= 2;
    if (d > max_ms) d = max_ms;
    return d - (int64_t)((uint64_t)d * (rnd % 201) / 1000); /* up to 20% less */
}

long ig_webhook_read_key(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap, f);
    int big = n == cap && fgetc(f) != EOF;
    fclose(f);
    if (big) {
        errno = EFBIG;
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    return (long)n;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n; /* the receiver's body is not read: only the status matters */
}

static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const _Atomic bool *stop = ud;
    return stop && atomic_load(stop); /* non-zero aborts the transfer: icegate is stopping */
}

ig_webhook_t *ig_webhook_new(const char *url, const unsigned char *key, size_t keylen, int timeout_ms,
                             const _Atomic bool *stop)
{
    char why[256];
    ig_webhook_t *w = ig_curl_load(why, sizeof why) ? NULL : calloc(1, sizeof *w);
    if (!w || keylen > sizeof w->key || !(w->url = strdup(url)) || !(w->curl = ig_curl.init())) {
        ig_webhook_free(w);
        return NULL;
    }
    if (keylen) memcpy(w->key, key, keylen);
    w->keylen = keylen;
    w->timeout_ms = timeout_ms;
    w->stop = stop;
    return w;
}

void ig_webhook_free(ig_webhook_t *w)
{
    if (!w) return;
    if (w->curl) ig_curl.cleanup(w->curl);
    free(w->url);
    OPENSSL_cleanse(w->key, sizeof w->key);
    free(w);
}

static void set_options(ig_webhook_t *w, const char *body, struct curl_slist *h)
{
    CURL *c = w->curl;
    ig_curl.reset(c);
    ig_curl.setopt(c, CURLOPT_URL, w->url);
    ig_curl.setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    ig_curl.setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    ig_curl.setopt(c, CURLOPT_NOSIGNAL, 1L);
    ig_curl.setopt(c, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    ig_curl.setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(w->timeout_ms < 5000 ? w->timeout_ms : 5000));
    ig_curl.setopt(c, CURLOPT_HTTPHEADER, h);
    ig_curl.setopt(c, CURLOPT_POSTFIELDS, body);
    ig_curl.setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    ig_curl.setopt(c, CURLOPT_USERAGENT, "icegate/" IG_VERSION);
    ig_curl.setopt(c, CURLOPT_WRITEFUNCTION, discard);
    ig_curl.setopt(c, CURLOPT_NOPROGRESS, 0L);
    ig_curl.setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    ig_curl.setopt(c, CURLOPT_XFERINFODATA, (void *)w->stop);
}

int ig_webhook_post(ig_webhook_t *w, const char *event_id, const char *body, char *why, size_t cap)
{
    char id[96], sig[IG_SIGNATURE_LEN + 32];
    struct curl_slist *h = ig_curl.slist_append(NULL, "Content-Type: application/json");
    h = ig_curl.slist_append(h, "Expect:"); /* no 100-continue round trip */
    snprintf(id, sizeof id, "X-Icegate-Event-Id: %s", event_id);
    h = ig_curl.slist_append(h, id);
    if (w->keylen) {
        memcpy(sig, "X-Icegate-Signature: ", 21);
        ig_webhook_signature(w->key, w->keylen, body, strlen(body), sig + 21);
        h = ig_curl.slist_append(h, sig);
    }
    set_options(w, body, h);
    CURLcode rc = ig_curl.perform(w->curl);
    long status = 0;
    if (rc == CURLE_OK) ig_curl.getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    snprintf(why, cap, "%s", rc == CURLE_OK ? "answered" : ig_curl.strerror(rc));
    ig_curl.slist_free_all(h);
    return (int)status;
}
