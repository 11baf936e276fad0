/* changes — see changes.h. */
#include "cluster/changes.h"

#include <errno.h>
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

#define CHANNEL "icegate:changes"
#define RETRY_MS 200 /* between subscription attempts while Redis is away */
#define LISTEN_S 1   /* the subscriber's read timeout: how soon it notices a stop, and pings */

struct ig_changes {
    ig_redis_target_t where;
    char node_id[128];
    void (*wake)(void *ud);
    void *ud;
    pthread_mutex_t pub_mu; /* the publisher connection: admin writes are rare, one at a time is plenty */
    redisContext *pub;
    _Atomic bool stop;
    bool started;
    pthread_t listener;
    _Atomic uint64_t published, publish_errors, heard, subscriptions;
    _Atomic int subscribed;
};

void ig_changes_publish(ig_changes_t *c, int64_t seq)
{
    if (!c) return;
    char msg[160], why[160];
    snprintf(msg, sizeof msg, "%s %lld", c->node_id, (long long)seq);
    pthread_mutex_lock(&c->pub_mu);
    for (int attempt = 0; attempt < 2; attempt++) { /* a stale connection (Redis restarted) is redialled once */
        if (!c->pub && !(c->pub = ig_redis_dial(&c->where, why, sizeof why))) break;
        redisReply *rep = ig_redis_expect(c->pub, redisCommand(c->pub, "PUBLISH %s %s", CHANNEL, msg),
                                          REDIS_REPLY_INTEGER, why, sizeof why);
        if (rep) {
            freeReplyObject(rep);
            atomic_fetch_add(&c->published, 1);
            pthread_mutex_unlock(&c->pub_mu);
            return;
        }
        redisFree(c->pub);
        c->pub = NULL;
    }
    pthread_mutex_unlock(&c->pub_mu);
    atomic_fetch_add(&c->publish_errors, 1);
    /* Not fatal: the other nodes read the change at their next poll. */
    ig_warn("cluster: cannot announce token change %lld on Redis (%s): other nodes see it at their next poll",
            (long long)seq, why);
}

/* A message from another node on the channel: wake the server.  Our own are ignored (already applied). */
static void heard(ig_changes_t *c, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 || rep->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(rep->element[0]->str, "message") != 0 || rep->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *m = rep->element[2]->str;
    size_t n = strlen(c->node_id);
    if (strncmp(m, c->node_id, n) == 0 && m[n] == ' ') return;
    atomic_fetch_add(&c->heard, 1);
    c->wake(c->ud);
}

/* One subscription: until it fails or we stop.  Returns after a failure (why filled) or a stop: true when it
 * had subscribed. */
static bool listen_once(ig_changes_t *c, bool *lost, char *why, size_t cap)
{
    redisContext *s = ig_redis_dial(&c->where, why, cap);
    if (!s) return false;
    redisSetTimeout(s, (struct timeval){LISTEN_S, 0});
    redisReply *rep = redisCommand(s, "SUBSCRIBE %s", CHANNEL);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        snprintf(why, cap, "SUBSCRIBE failed: %s", rep ? "unexpected reply" : s->errstr);
        if (rep) freeReplyObject(rep);
        redisFree(s);
        return false;
    }
    freeReplyObject(rep);
    atomic_fetch_add(&c->subscriptions, 1);
    atomic_store(&c->subscribed, 1);
    if (*lost) ig_info("cluster: change stream on Redis back: other nodes' token changes arrive at once again");
    *lost = false;
    c->wake(c->ud); /* whatever was announced while we were not listening: read it now */
    bool pinged = false;
    while (!atomic_load(&c->stop)) {
        void *r = NULL;
        if (redisGetReply(s, &r) == REDIS_OK) {
            pinged = false;
            heard(c, r);
            freeReplyObject(r);
            continue;
        }
        /* A read timeout: quiet channel.  Ask Redis whether the connection still stands; two silent seconds in
         * a row mean it does not. */
        int e = errno;
        if (!(s->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK)) || pinged) {
            snprintf(why, cap, "%s", s->err ? s->errstr : "no answer to PING");
            break;
        }
        s->err = 0;
        s->errstr[0] = '\0';
        if (redisAppendCommand(s, "PING") != REDIS_OK) break;
        pinged = true;
    }
    atomic_store(&c->subscribed, 0);
    redisFree(s);
    return true;
}

static void *listener_main(void *ud)
{
    ig_changes_t *c = ud;
    bool lost = false; /* warned about, and not back yet */
    while (!atomic_load(&c->stop)) {
        char why[160] = "";
        listen_once(c, &lost, why, sizeof why);
        if (atomic_load(&c->stop)) break;
        if (!lost) ig_warn("cluster: change stream on Redis lost (%s): other nodes' token changes arrive by the poll "
                           "(tokens.poll_interval_ms) until it is back",
                           why);
        lost = true;
        for (int i = 0; i < RETRY_MS / 20 && !atomic_load(&c->stop); i++) {
            struct timespec t = {0, 20 * 1000000L};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

ig_changes_t *ig_changes_start(const ig_config_t *cfg, void (*wake)(void *ud), void *ud, ig_error_t *err)
{
    ig_changes_t *c = calloc(1, sizeof *c);
    if (!c) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (ig_redis_target_init(&c->where, cfg, err)) {
        free(c);
        return NULL;
    }
    snprintf(c->node_id, sizeof c->node_id, "%s", cfg->node_id);
    c->wake = wake;
    c->ud = ud;
    pthread_mutex_init(&c->pub_mu, NULL);
    c->started = pthread_create(&c->listener, NULL, listener_main, c) == 0;
    if (!c->started) ig_warn("cluster: cannot start the change listener: other nodes' changes arrive by the poll");
    return c;
}

void ig_changes_metrics(ig_changes_t *c, ig_buf_t *sb)
{
    if (!c) return;
    ig_buf_printf(sb,
                  "# HELP icegate_cluster_changes_published_total Token changes this node announced on Redis.\n"
                  "# TYPE icegate_cluster_changes_published_total counter\n"
                  "icegate_cluster_changes_published_total %llu\n"
                  "# HELP icegate_cluster_changes_publish_errors_total Announcements that failed (the others "
                  "read the change at their next poll).\n# TYPE icegate_cluster_changes_publish_errors_total counter\n"
                  "icegate_cluster_changes_publish_errors_total %llu\n"
                  "# HELP icegate_cluster_changes_heard_total Other nodes' announcements heard.\n"
                  "# TYPE icegate_cluster_changes_heard_total counter\nicegate_cluster_changes_heard_total %llu\n"
                  "# HELP icegate_cluster_changes_subscribed 1 while this node listens on the change stream.\n"
                  "# TYPE icegate_cluster_changes_subscribed gauge\nicegate_cluster_changes_subscribed %d\n",
                  (unsigned long long)atomic_load(&c->published), (unsigned long long)atomic_load(&c->publish_errors),
                  (unsigned long long)atomic_load(&c->heard), atomic_load(&c->subscribed));
}

void ig_changes_stop(ig_changes_t *c)
{
    if (!c) return;
    atomic_store(&c->stop, true);
    if (c->started) pthread_join(c->listener, NULL); /* within LISTEN_S: its read times out */
    if (c->pub) redisFree(c->pub);
    pthread_mutex_destroy(&c->pub_mu);
    ig_redis_target_clear(&c->where);
    free(c);
}
