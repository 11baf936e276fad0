/* sessions — see sessions.h. */
#include "access/sessions.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/util.h"

#define MAX_SESSIONS 1024
#define MAX_PER_USER 16 /* a user's 17th login ends that user's oldest session, nobody else's */
#define COOKIE "icegate_session"

struct ig_sessions {
    pthread_mutex_t mu;
    int ttl_s;
    ig_session_t *v; /* MAX_SESSIONS slots; a slot with id[0] == 0 is free */
};

ig_sessions_t *ig_sessions_new(int ttl_s)
{
    ig_sessions_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->v = calloc(MAX_SESSIONS, sizeof *s->v);
    if (!s->v) {
        free(s);
        return NULL;
    }
    s->ttl_s = ttl_s;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ig_sessions_free(ig_sessions_t *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    free(s->v);
    free(s);
}

int ig_sessions_ttl(const ig_sessions_t *s)
{
    return s->ttl_s;
}

/* Constant-time comparison of two NUL-terminated secrets. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The live session with this id; expired ones met on the way are freed.  Caller holds mu. */
static ig_session_t *find(ig_sessions_t *s, const char *id, int64_t now)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        ig_session_t *x = &s->v[i];
        if (!x->id[0]) continue;
        if (x->expires_ms <= now) {
            memset(x, 0, sizeof *x);
            continue;
        }
        if (same_secret(x->id, id)) return x;
    }
    return NULL;
}

/* The slot for a new session of user: a free (or expired) one, unless the user holds MAX_PER_USER already
 * (then their oldest); NULL when every slot holds a live session of someone.  Caller holds mu. */
static ig_session_t *slot_for(ig_sessions_t *s, const char *user, int64_t now_ms)
{
    ig_session_t *free_slot = NULL, *oldest_mine = NULL;
    int mine = 0;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        ig_session_t *y = &s->v[i];
        if (!y->id[0] || y->expires_ms <= now_ms) {
            if (!free_slot) free_slot = y;
        } else if (strcmp(y->user, user) == 0) {
            mine++;
            if (!oldest_mine || y->expires_ms < oldest_mine->expires_ms) oldest_mine = y;
        }
    }
    return mine >= MAX_PER_USER ? oldest_mine : free_slot;
}

int ig_sessions_start(ig_sessions_t *s, const char *user, ig_role_t role, int64_t now_ms, ig_session_t *out)
{
    ig_session_t x;
    memset(&x, 0, sizeof x);
    ig_random_base62(x.id, IG_SESSION_ID_LEN);
    ig_random_base62(x.csrf, IG_SESSION_ID_LEN);
    snprintf(x.user, sizeof x.user, "%s", user);
    x.role = role;
    x.expires_ms = now_ms + (int64_t)s->ttl_s * 1000;
    pthread_mutex_lock(&s->mu);
    ig_session_t *slot = slot_for(s, user, now_ms);
    if (slot) *slot = x;
    pthread_mutex_unlock(&s->mu);
    *out = x;
    return slot ? 0 : -1;
}

int ig_sessions_lookup(ig_sessions_t *s, const char *id, int64_t now_ms, bool end, ig_session_t *out)
{
    pthread_mutex_lock(&s->mu);
    ig_session_t *x = find(s, id, now_ms);
    if (x) {
        *out = *x;
        if (end) memset(x, 0, sizeof *x);
    }
    pthread_mutex_unlock(&s->mu);
    return x ? 0 : -1;
}

const char *ig_sessions_cookie(ig_req_t *r)
{
    return ig_http_cookie(r, COOKIE);
}

static bool over_tls(ig_req_t *r)
{
    const char *p = ig_http_header(r, "X-Forwarded-Proto");
    return p && strcasecmp(p, "https") == 0;
}

void ig_sessions_set_cookie(ig_req_t *r, const char *id, int max_age)
{
    char c[160];
    snprintf(c, sizeof c, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", id, max_age,
             over_tls(r) ? "; Secure" : "");
    ig_http_add_header(r, "Set-Cookie", c);
}

ig_session_auth_t ig_sessions_auth(ig_sessions_t *s, ig_req_t *r, ig_res_t *res)
{
    const char *id = ig_sessions_cookie(r);
    if (!id || !*id) return IG_SESSION_NONE;
    ig_session_t copy;
    if (ig_sessions_lookup(s, id, ig_clock_wall_ms(), false, &copy)) {
        /* A stale cookie with an access token alongside: let the token speak. */
        if (ig_http_header(r, "X-API-Token") || ig_http_header(r, "Authorization")) return IG_SESSION_NONE;
        ig_sessions_set_cookie(r, "", 0);
        *res = ig_http_unauthorized(r, "session expired or logged out: log in again");
        return IG_SESSION_SENT;
    }
    if (r->method != IG_GET && r->method != IG_HEAD && r->method != IG_OPTIONS) {
        const char *csrf = ig_http_header(r, "X-CSRF-Token");
        if (!csrf || !same_secret(csrf, copy.csrf)) {
            *res = ig_http_error(r, IG_E_FORBIDDEN,
                                 csrf ? "bad CSRF token (X-CSRF-Token)" : "missing CSRF token (X-CSRF-Token)");
            return IG_SESSION_SENT;
        }
    }
    r->who.ok = true;
    r->who.via_session = true;
    r->who.role = copy.role;
    snprintf(r->who.user, sizeof r->who.user, "%s", copy.user);
    r->who.token_id[0] = '\0';
    r->who.scopes = IG_SCOPES_ALL;
    r->who.net_limited = false;
    r->who.ns_allow[0] = '\0';
    return IG_SESSION_OK;
}
