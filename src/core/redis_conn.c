/* redis_conn — see redis_conn.h. */
#include "core/redis_conn.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

redisReply *ig_redis_expect(redisContext *c, redisReply *rep, int t, char *why, size_t cap)
{
    if (!rep) {
        snprintf(why, cap, "%s", c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (rep->type == t || (t == REDIS_REPLY_STATUS && rep->type == REDIS_REPLY_STRING)) return rep;
    snprintf(why, cap, "%.*s", rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 16,
             rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return NULL;
}

redisContext *ig_redis_dial(const ig_redis_target_t *t, char *why, size_t cap)
{
    redisContext *c = t->unix_path[0] ? redisConnectUnixWithTimeout(t->unix_path, t->tv)
                                      : redisConnectWithTimeout(t->host, t->port, t->tv);
    if (!c || c->err) {
        snprintf(why, cap, "cannot connect: %s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, t->tv);
    redisReply *rep = NULL;
    if (t->password[0]) {
        rep = t->user[0] ? redisCommand(c, "AUTH %s %s", t->user, t->password) : redisCommand(c, "AUTH %s", t->password);
        if (!(rep = ig_redis_expect(c, rep, REDIS_REPLY_STATUS, why, cap))) goto fail;
        freeReplyObject(rep);
    }
    if (t->db) {
        if (!(rep = ig_redis_expect(c, redisCommand(c, "SELECT %d", t->db), REDIS_REPLY_STATUS, why, cap))) goto fail;
        freeReplyObject(rep);
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}

/* ratelimiter.redis.url: redis://[[user]:password@]host[:port][/db] or unix:/path (unix:///path). */
static int parse_url(ig_redis_target_t *r, const char *url, ig_error_t *err)
{
    if (strncmp(url, "unix:", 5) == 0) {
        const char *p = url + 5;
        if (strncmp(p, "//", 2) == 0) p += 2;
        if (*p != '/' || strlen(p) >= sizeof r->unix_path)
            return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: unix: needs an absolute path");
        snprintf(r->unix_path, sizeof r->unix_path, "%s", p);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return ig_error_set(err, IG_E_INTERNAL,
                            "config key ratelimiter.redis.url: expected redis://host[:port][/db] or unix:/path");
    const char *p = url + 8, *at = strchr(p, '@');
    if (at) { /* user:password or :password; the password is a secret, so errors never quote the URL */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : 0, pl = colon ? (size_t)(at - colon - 1) : (size_t)(at - p);
        if (ul >= sizeof r->user || pl >= sizeof r->password)
            return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: user or password too long");
        memcpy(r->user, p, ul);
        memcpy(r->password, colon ? colon + 1 : p, pl);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (*p == '[') hl = strcspn(p, "]") + 1;
    if (hl < (*p == '[' ? 3u : 1u) || hl >= sizeof r->host)
        return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: no host");
    memcpy(r->host, *p == '[' ? p + 1 : p, *p == '[' ? hl - 2 : hl);
    p += hl;
    r->port = 6379;
    int64_t v;
    if (*p == ':') {
        size_t nl = strcspn(++p, "/");
        char num[8] = "";
        if (nl < sizeof num) memcpy(num, p, nl);
        if (nl >= sizeof num || ig_parse_i64(num, 1, 65535, &v))
            return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: bad port");
        r->port = (int)v;
        p += nl;
    }
    if (*p == '/' && p[1]) {
        if (ig_parse_i64(p + 1, 0, 10000, &v))
            return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: bad database number");
        r->db = (int)v;
    } else if (*p && strcmp(p, "/") != 0) {
        return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.url: unexpected text after the host");
    }
    return 0;
}

static int read_password(ig_redis_target_t *r, const char *path, ig_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.password_file: cannot read %s: %s", path,
                            strerror(errno));
    size_t n = fread(r->password, 1, sizeof r->password - 1, f);
    bool big = n == sizeof r->password - 1 && fgetc(f) != EOF;
    fclose(f);
    if (big) return ig_error_set(err, IG_E_INTERNAL, "config key ratelimiter.redis.password_file: over 255 bytes");
    while (n > 0 && (r->password[n - 1] == '\n' || r->password[n - 1] == '\r')) n--;
    r->password[n] = '\0';
    return 0;
}

int ig_redis_target_init(ig_redis_target_t *t, const ig_config_t *cfg, ig_error_t *err)
{
    memset(t, 0, sizeof *t);
    if (parse_url(t, cfg->redis_url, err) ||
        (cfg->redis_password_file[0] && read_password(t, cfg->redis_password_file, err))) {
        ig_redis_target_clear(t);
        return -1;
    }
    t->tv = (struct timeval){cfg->redis_timeout_ms / 1000, cfg->redis_timeout_ms % 1000 * 1000};
    return 0;
}

void ig_redis_target_clear(ig_redis_target_t *t)
{
    OPENSSL_cleanse(t->password, sizeof t->password);
}

void ig_redis_target_where(const ig_redis_target_t *t, char *buf, size_t cap)
{
    if (t->unix_path[0]) snprintf(buf, cap, "unix:%s", t->unix_path);
    else snprintf(buf, cap, "%s:%d", t->host, t->port);
}

redisReply *ig_redis_eval(redisContext *c, const char *sha, const char *src, int nkeys, const char *const *keys,
                          int nargs, const char *const *args, char *why, size_t cap)
{
    enum { MAX = 16 };
    const char *argv[MAX];
    size_t lens[MAX];
    char nk[12];
    snprintf(nk, sizeof nk, "%d", nkeys);
    int n = 0;
    argv[n++] = sha ? "EVALSHA" : "EVAL", argv[n++] = sha ? sha : src, argv[n++] = nk;
    for (int i = 0; i < nkeys && n < MAX; i++) argv[n++] = keys[i];
    for (int i = 0; i < nargs && n < MAX; i++) argv[n++] = args[i];
    for (int i = 0; i < n; i++) lens[i] = strlen(argv[i]);
    redisReply *rep = redisCommandArgv(c, n, argv, lens);
    if (sha && rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", argv[1] = src;
        lens[0] = 4, lens[1] = strlen(src);
        rep = redisCommandArgv(c, n, argv, lens);
    }
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "%.*s", (int)rep->len, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    if (!rep) snprintf(why, cap, "%s", c->errstr[0] ? c->errstr : "no reply");
    return rep;
}
