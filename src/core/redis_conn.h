/* redis_conn — where icegate's Redis is and how to open a connection to it (ratelimiter.redis.*), shared by
 * the Redis limiter (ratelimit/redis.c) and the change stream (cluster/changes.c).  hiredis underneath; every
 * connection authenticates, selects its database and has the configured timeout on connect and on each read
 * and write. */
#ifndef IG_REDIS_CONN_H
#define IG_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/time.h>

#include "core/config.h"
#include "core/error.h"

typedef struct {
    char host[256];
    int port;
    char unix_path[IG_PATH_MAX];
    int db;
    char user[128];
    char password[256]; /* a secret: never logged; ig_redis_target_clear wipes it */
    struct timeval tv;  /* ratelimiter.redis.timeout_ms */
} ig_redis_target_t;

/* From ratelimiter.redis.url (redis://[[user]:password@]host[:port][/db] or unix:/path), .password_file and
 * .timeout_ms.  -1 with err filled (never quoting the URL, which may hold a password). */
int ig_redis_target_init(ig_redis_target_t *t, const ig_config_t *cfg, ig_error_t *err);
void ig_redis_target_clear(ig_redis_target_t *t);
/* "unix:/path" or "host:port", for logs. */
void ig_redis_target_where(const ig_redis_target_t *t, char *buf, size_t cap);
/* A new connection, authenticated and on its database; NULL with why filled. */
redisContext *ig_redis_dial(const ig_redis_target_t *t, char *why, size_t cap);
/* Runs a Lua script with its keys and arguments (at most 13 in all): EVALSHA sha when sha is given (and EVAL
 * once after a NOSCRIPT, which also loads it), else EVAL.  NULL with why filled for an error reply or a
 * failed connection (c->err set then). */
redisReply *ig_redis_eval(redisContext *c, const char *sha, const char *src, int nkeys, const char *const *keys,
                          int nargs, const char *const *args, char *why, size_t cap);
/* rep when it has type t (a status also passes as a string); else NULL with why filled and rep freed. */
redisReply *ig_redis_expect(redisContext *c, redisReply *rep, int t, char *why, size_t cap);

#endif
