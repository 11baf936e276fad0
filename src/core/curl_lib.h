/* core/curl_lib — libcurl, loaded when first needed: by an S3 warehouse (warehouse/s3.c) or the webhook sender
 * (notify/webhook.c).  A server on a file:// warehouse without a webhook never maps libcurl nor the score of
 * libraries it pulls in (Kerberos, LDAP, SSH, RTMP, IDN, PSL, ...), about 1.8 MB resident from the start.
 *
 * The build compiles against <curl/curl.h> (libcurl4-openssl-dev) but does not link libcurl; the package
 * depends on libcurl4 all the same.  Call through ig_curl only after ig_curl_load returned 0. */
#ifndef IG_CORE_CURL_LIB_H
#define IG_CORE_CURL_LIB_H

#include <stddef.h>

#include <curl/curl.h>

typedef struct {
    CURL *(*init)(void);
    void (*cleanup)(CURL *h);
    void (*reset)(CURL *h);
    CURLcode (*setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*perform)(CURL *h);
    CURLcode (*getinfo)(CURL *h, CURLINFO info, ...);
    const char *(*strerror)(CURLcode cc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} ig_curl_t;

extern ig_curl_t ig_curl;

/* Loads libcurl.so.4 and runs curl_global_init, once per process whoever asks first (thread-safe): 0, or -1
 * with the reason in why. */
int ig_curl_load(char *why, size_t cap);

#endif
