/* members — see members.h. */
#include "cluster/members.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/util.h"
#include "core/version.h"

#define NODES_KEY "icegate:nodes"
#define NODE_KEY "icegate:node:"

/* KEYS: the node set, this node's hash; ARGV: id, ttl ms, version, started ms, token seq, confirmed ms. */
static const char beat_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "redis.call('HSET', KEYS[2], 'version', ARGV[3], 'started', ARGV[4], 'beat', now, 'seq', ARGV[5], "
    "'confirmed', ARGV[6])\n"
    "redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "return now\n";

/* KEYS: the node set.  Returns {now, id1, {field, value, ...}, id2, ...} for the live nodes. */
static const char list_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local out = {now}\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do\n"
    "  out[#out + 1] = id\n"
    "  out[#out + 1] = redis.call('HGETALL', '" NODE_KEY "' .. id)\n"
    "end\n"
    "return out\n";

struct ig_members {
    bool shared; /* a Redis is configured */
    ig_redis_target_t where;
    char node_id[128];
    char key[sizeof NODE_KEY + 128];
    int heartbeat_ms;
    int64_t started_ms;
    void (*self)(void *ud, ig_member_self_t *out);
    void *ud;
    pthread_mutex_t mu; /* stop, cv; and the listing connection */
    pthread_cond_t cv;
    bool stop, started;
    pthread_t beater;
    redisContext *lister;
    _Atomic uint64_t beats, beat_errors;
};

static void i64(char *buf, size_t cap, int64_t v)
{
    snprintf(buf, cap, "%lld", (long long)v);
}

/* One heartbeat on *c (dialled when NULL); false with *c dropped on a failure. */
static bool beat(ig_members_t *m, redisContext **c, char *why, size_t cap)
{
    if (!*c && !(*c = ig_redis_dial(&m->where, why, cap))) return false;
    ig_member_self_t me = {0};
    m->self(m->ud, &me);
    char ttl[24], started[24], seq[24], conf[24];
    i64(ttl, sizeof ttl, 3 * (int64_t)m->heartbeat_ms);
    i64(started, sizeof started, m->started_ms);
    i64(seq, sizeof seq, me.token_seq);
    i64(conf, sizeof conf, me.confirmed_ms);
    const char *keys[2] = {NODES_KEY, m->key};
    const char *args[6] = {m->node_id, ttl, IG_VERSION, started, seq, conf};
    redisReply *rep = ig_redis_eval(*c, NULL, beat_lua, 2, keys, 6, args, why, cap);
    if (rep) {
        freeReplyObject(rep);
        return true;
    }
    redisFree(*c);
    *c = NULL;
    return false;
}

static void *beat_main(void *ud)
{
    ig_members_t *m = ud;
    redisContext *c = NULL;
    bool failing = false;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->mu);
        char why[160];
        if (beat(m, &c, why, sizeof why)) {
            atomic_fetch_add(&m->beats, 1);
            if (failing) ig_info("cluster: heartbeats reach Redis again");
            failing = false;
        } else {
            atomic_fetch_add(&m->beat_errors, 1);
            if (!failing) ig_warn("cluster: heartbeat failed (%s): other nodes stop listing this one", why);
            failing = true;
        }
        struct timespec until = ig_clock_deadline(m->heartbeat_ms);
        pthread_mutex_lock(&m->mu);
        if (!m->stop) pthread_cond_timedwait(&m->cv, &m->mu, &until);
    }
    pthread_mutex_unlock(&m->mu);
    if (c) {
        redisReply *rep = redisCommand(c, "ZREM %s %s", NODES_KEY, m->node_id);
        if (rep) freeReplyObject(rep);
        rep = redisCommand(c, "DEL %s", m->key);
        if (rep) freeReplyObject(rep);
        redisFree(c);
    }
    return NULL;
}

ig_members_t *ig_members_start(const ig_config_t *cfg, void (*self)(void *ud, ig_member_self_t *out), void *ud,
                               ig_error_t *err)
{
    ig_members_t *m = calloc(1, sizeof *m);
    if (!m) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    m->shared = cfg->redis_url[0] != '\0';
    if (m->shared && ig_redis_target_init(&m->where, cfg, err)) {
        free(m);
        return NULL;
    }
    snprintf(m->node_id, sizeof m->node_id, "%s", cfg->node_id);
    snprintf(m->key, sizeof m->key, NODE_KEY "%s", cfg->node_id);
    m->heartbeat_ms = cfg->heartbeat_ms;
    m->started_ms = ig_clock_wall_ms();
    m->self = self;
    m->ud = ud;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (m->shared) {
        m->started = pthread_create(&m->beater, NULL, beat_main, m) == 0;
        if (!m->started) ig_warn("cluster: cannot start the heartbeat thread: other nodes will not list this one");
    }
    return m;
}

/* A field of a node's HGETALL reply, as a number (0 when absent). */
static int64_t field(const redisReply *h, const char *name)
{
    if (h->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, name) == 0 &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return strtoll(h->element[i + 1]->str, NULL, 10);
    return 0;
}

static const char *sfield(const redisReply *h, const char *name)
{
    if (h->type != REDIS_REPLY_ARRAY) return "";
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, name) == 0 &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1]->str;
    return "";
}

static json_object *node_json(const char *id, const char *version, int64_t started, int64_t beat, int64_t seq,
                              int64_t confirmed, int64_t now, bool self)
{
    json_object *o = json_object_new_object();
    char when[40];
    ig_rfc3339_format(started, when, sizeof when);
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "version", json_object_new_string(version));
    json_object_object_add(o, "startedAt", json_object_new_string(when));
    json_object_object_add(o, "uptimeSeconds", json_object_new_int64(now > started ? (now - started) / 1000 : 0));
    json_object_object_add(o, "lastHeartbeatMsAgo", beat ? json_object_new_int64(now > beat ? now - beat : 0) : NULL);
    json_object_object_add(o, "tokenSeq", json_object_new_int64(seq));
    json_object_object_add(o, "tokensConfirmedMsAgo", json_object_new_int64(now > confirmed ? now - confirmed : 0));
    json_object_object_add(o, "self", json_object_new_boolean(self));
    return o;
}

/* The nodes from the listing script's reply, each with how many token changes it is behind the furthest. */
static json_object *nodes_json(const ig_members_t *m, const redisReply *rep)
{
    json_object *arr = json_object_new_array();
    int64_t now = rep->element[0]->integer, top = 0;
    for (size_t i = 1; i + 1 < rep->elements; i += 2)
        if (field(rep->element[i + 1], "seq") > top) top = field(rep->element[i + 1], "seq");
    for (size_t i = 1; i + 1 < rep->elements; i += 2) {
        const redisReply *id = rep->element[i], *h = rep->element[i + 1];
        if (id->type != REDIS_REPLY_STRING) continue;
        json_object *o = node_json(id->str, sfield(h, "version"), field(h, "started"), field(h, "beat"),
                                   field(h, "seq"), field(h, "confirmed"), now, strcmp(id->str, m->node_id) == 0);
        json_object_object_add(o, "changesBehind", json_object_new_int64(top - field(h, "seq")));
        json_object_array_add(arr, o);
    }
    return arr;
}

int ig_members_list(ig_members_t *m, json_object **out, ig_error_t *err)
{
    json_object *arr = NULL;
    if (!m->shared) {
        ig_member_self_t me = {0};
        m->self(m->ud, &me);
        int64_t now = ig_clock_wall_ms();
        json_object *o = node_json(m->node_id, IG_VERSION, m->started_ms, 0, me.token_seq, me.confirmed_ms, now, true);
        json_object_object_add(o, "changesBehind", json_object_new_int64(0));
        arr = json_object_new_array();
        json_object_array_add(arr, o);
    } else {
        char why[160] = "";
        pthread_mutex_lock(&m->mu);
        redisReply *rep = NULL;
        for (int attempt = 0; attempt < 2 && !rep; attempt++) { /* a stale connection is redialled once */
            if (!m->lister && !(m->lister = ig_redis_dial(&m->where, why, sizeof why))) break;
            const char *keys[1] = {NODES_KEY};
            if (!(rep = ig_redis_eval(m->lister, NULL, list_lua, 1, keys, 0, NULL, why, sizeof why))) {
                redisFree(m->lister);
                m->lister = NULL;
            }
        }
        pthread_mutex_unlock(&m->mu);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
            rep->element[0]->type != REDIS_REPLY_INTEGER) {
            if (rep) freeReplyObject(rep);
            return ig_error_set(err, IG_E_UNAVAILABLE, "cannot list the cluster's nodes: Redis: %s",
                                why[0] ? why : "unexpected reply");
        }
        arr = nodes_json(m, rep);
        freeReplyObject(rep);
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "nodes", arr);
    json_object_object_add(*out, "heartbeatMs", json_object_new_int(m->heartbeat_ms));
    json_object_object_add(*out, "shared", json_object_new_boolean(m->shared));
    return 0;
}

void ig_members_metrics(ig_members_t *m, ig_buf_t *sb)
{
    if (!m || !m->shared) return;
    ig_buf_printf(sb,
                  "# HELP icegate_cluster_heartbeats_total Heartbeats this node wrote into Redis, by result.\n"
                  "# TYPE icegate_cluster_heartbeats_total counter\n"
                  "icegate_cluster_heartbeats_total{result=\"ok\"} %llu\n"
                  "icegate_cluster_heartbeats_total{result=\"failed\"} %llu\n",
                  (unsigned long long)atomic_load(&m->beats), (unsigned long long)atomic_load(&m->beat_errors));
}

void ig_members_stop(ig_members_t *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->started) pthread_join(m->beater, NULL);
    if (m->lister) redisFree(m->lister);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    ig_redis_target_clear(&m->where);
    free(m);
}
