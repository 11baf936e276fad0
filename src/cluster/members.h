/* members — who is in the cluster (issue 12, item 4): each node announces itself in Redis every
 * cluster.heartbeat_ms, and GET /api/v1/cluster (Settings → Cluster in the console) lists the live ones.
 *
 * The node's entry is the hash icegate:node:<node id> (version, start time, last heartbeat, the highest token
 * change it applied and when its token table was last confirmed current), expiring after three heartbeats, and
 * its place in the sorted set icegate:nodes that the Redis limiter counts (score: when it expires).  Times are
 * Redis's (TIME), so the nodes' clocks do not matter.  Uses the Redis of ratelimiter.redis.url; without one
 * the list is this node alone. */
#ifndef IG_CLUSTER_MEMBERS_H
#define IG_CLUSTER_MEMBERS_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"

typedef struct ig_members ig_members_t;

/* What this node reports at each heartbeat; self() fills it (on the heartbeat thread). */
typedef struct {
    int64_t token_seq;    /* the highest token change applied */
    int64_t confirmed_ms; /* wall ms when its token table was last confirmed current */
} ig_member_self_t;

/* NULL with err filled only for a bad URL or password file (or out of memory); a Redis that is down is
 * retried. */
ig_members_t *ig_members_start(const ig_config_t *cfg, void (*self)(void *ud, ig_member_self_t *out), void *ud,
                               ig_error_t *err);
/* {"nodes": [{"id", "version", "startedAt", "uptimeSeconds", "lastHeartbeatMsAgo", "tokenSeq", "changesBehind",
 * "tokensConfirmedMsAgo", "self"}], "heartbeatMs", "shared"} into *out; -1 with err (a 503 kind) when Redis
 * does not answer.  Without Redis: this node alone, "shared": false. */
int ig_members_list(ig_members_t *m, json_object **out, ig_error_t *err);
void ig_members_metrics(ig_members_t *m, ig_buf_t *sb);
/* Leaves the set (the others count one node fewer at once) and stops. */
void ig_members_stop(ig_members_t *m);

#endif
