/* core/curl_lib — see curl_lib.h. */
#include "core/curl_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

ig_curl_t ig_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[256];

static const struct {
    const char *name;
    size_t off;
} syms[] = {
    {"curl_easy_init", offsetof(ig_curl_t, init)},
    {"curl_easy_cleanup", offsetof(ig_curl_t, cleanup)},
    {"curl_easy_reset", offsetof(ig_curl_t, reset)},
    {"curl_easy_setopt", offsetof(ig_curl_t, setopt)},
    {"curl_easy_perform", offsetof(ig_curl_t, perform)},
    {"curl_easy_getinfo", offsetof(ig_curl_t, getinfo)},
    {"curl_easy_strerror", offsetof(ig_curl_t, strerror)},
    {"curl_slist_append", offsetof(ig_curl_t, slist_append)},
    {"curl_slist_free_all", offsetof(ig_curl_t, slist_free_all)},
};

static void load(void)
{
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(failure, sizeof failure, "cannot load libcurl (install libcurl4): %s", dlerror());
        return;
    }
    ig_curl_t c;
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p) {
            snprintf(failure, sizeof failure, "libcurl.so.4 has no %s: too old", syms[i].name);
            return;
        }
        memcpy((char *)&c + syms[i].off, &p, sizeof p); /* POSIX: a function's address fits a void * */
    }
    CURLcode (*global_init)(long) = NULL;
    void *gi = dlsym(lib, "curl_global_init");
    if (gi) memcpy(&global_init, &gi, sizeof gi);
    if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(failure, sizeof failure, "curl_global_init failed");
        return;
    }
    ig_curl = c;
}

int ig_curl_load(char *why, size_t cap)
{
    pthread_once(&once, load);
    if (ig_curl.init) return 0;
    snprintf(why, cap, "%s", failure[0] ? failure : "libcurl is not loaded");
    return -1;
}
