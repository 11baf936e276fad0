/* auth — see auth.h. */
#include "access/auth.h"
#include "core/clock.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access/token.h"
#include "access/token_table.h"
#include "core/metrics.h"
#include "core/util.h"

/* Finds the token text: X-API-Token first (the product's header), then Authorization: Bearer. */
static const char *find_token(ig_req_t *r, size_t *len)
{
    const char *t = ig_http_header(r, "X-API-Token");
    if (!t) {
        const char *a = ig_http_header(r, "Authorization");
        if (!a || strncasecmp(a, "Bearer", 6) != 0 || (a[6] != ' ' && a[6] != '\t')) return NULL;
        t = a + 7;
    }
    while (*t == ' ' || *t == '\t') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    *len = n;
    return n ? t : NULL;
}

static const char expiration_header[] = "X-API-Token-Expiration";

/* Expiry in band (DESIGN.md §8): on every response to a token that expires, refusals included.  Once: the
 * check before a body and the one after it see the same request. */
static void add_expiration(ig_req_t *r, const char *when)
{
    for (int i = 0; i < r->nhdr; i++)
        if (r->hdr[i].name == expiration_header) return;
    ig_http_add_header(r, expiration_header, when);
}

/* The refusal for a token that is found but may not be used now (suspended, expired), or IG_AUTH_OK. */
static ig_auth_result_t refusal(const ig_token_entry_t *m, int64_t now_ms, ig_req_t *r, ig_res_t *res)
{
    char msg[640];
    if (m->alias && now_ms >= m->alias_until_ms) {
        char when[40];
        ig_rfc3339_format(m->rotated_at_ms, when, sizeof when);
        snprintf(msg, sizeof msg,
                 "access token '%s' was rotated at %s: this is its previous secret, which no longer works; use "
                 "the new one",
                 m->name, when);
        *res = ig_http_unauthorized(r, msg);
        return IG_AUTH_ROTATED;
    }
    if (m->suspended) {
        /* Who suspended it tells the client whether its owner can lift it or must ask an admin. */
        snprintf(msg, sizeof msg, "access token '%s' is suspended%s", m->name,
                 m->suspended_by == IG_SET_BY_ADMIN ? " by an admin" : "");
        *res = ig_http_unauthorized(r, msg);
        return IG_AUTH_SUSPENDED;
    }
    if (m->expires_at_ms && m->expires_at_ms <= now_ms) {
        char when[40];
        ig_rfc3339_format(m->expires_at_ms, when, sizeof when);
        snprintf(msg, sizeof msg, "access token '%s' expired at %s", m->name, when);
        *res = ig_http_unauthorized(r, msg);
        return IG_AUTH_EXPIRED;
    }
    return IG_AUTH_OK;
}

/* 403 for a token without a scope the route needs (decided before the body and any side effect). */
static ig_auth_result_t forbidden(const ig_token_entry_t *m, unsigned missing, ig_req_t *r, ig_res_t *res)
{
    char has[64];
    ig_scopes_text(m->scopes, has, sizeof has);
    *res = ig_http_error(r, IG_E_FORBIDDEN, "access token '%s' lacks the scope %s for %s %s (it has: %s)", m->name,
                         ig_scope_name(missing), r->method_str, r->route, has[0] ? has : "none");
    return IG_AUTH_FORBIDDEN;
}

static bool trusted(const ig_auth_t *a, const uint8_t addr[16])
{
    for (int i = 0; i < a->ntrusted; i++)
        if (ig_cidr_contains(&a->trusted[i], addr)) return true;
    return false;
}

/* The client's address (DESIGN.md §8): the peer, unless it is a trusted proxy; then X-Forwarded-For walked
 * from the right past every trusted address, the first one that is not being the client (all trusted: the
 * leftmost).  A forged header from an untrusted peer is never read.  0, or -1 when it cannot be told (a
 * malformed entry on the way). */
static int client_address(const ig_auth_t *a, ig_req_t *r, uint8_t out[16])
{
    if (ig_http_client_addr(r, out) != 0) return -1;
    const char *x = a->ntrusted && trusted(a, out) ? ig_http_header(r, "X-Forwarded-For") : NULL;
    for (size_t end = x ? strlen(x) : 0; x;) {
        size_t b = end;
        while (b > 0 && x[b - 1] != ',') b--;
        size_t s = b, t = end;
        while (s < t && (x[s] == ' ' || x[s] == '\t')) s++;
        while (t > s && (x[t - 1] == ' ' || x[t - 1] == '\t')) t--;
        if (ig_addr_parse(x + s, t - s, out)) return -1;
        if (!trusted(a, out) || b == 0) return 0;
        end = b - 1;
    }
    return 0;
}

/* 403 for a token used from outside its allowedCidrs. */
static ig_auth_result_t check_cidrs(const ig_auth_t *a, const ig_token_entry_t *m, ig_req_t *r, ig_res_t *res)
{
    uint8_t addr[16];
    char text[64];
    if (client_address(a, r, addr) != 0) {
        *res = ig_http_error(r, IG_E_FORBIDDEN,
                             "access token '%s' is limited to its allowedCidrs and the client address cannot be told "
                             "(a malformed X-Forwarded-For from a trusted proxy)", m->name);
        return IG_AUTH_FORBIDDEN;
    }
    for (int i = 0; i < m->ncidrs; i++)
        if (ig_cidr_contains(&m->cidrs[i], addr)) return IG_AUTH_OK;
    ig_addr_format(addr, text, sizeof text);
    *res = ig_http_error(r, IG_E_FORBIDDEN, "access token '%s' is not allowed from %s (outside its allowedCidrs)",
                         m->name, text);
    return IG_AUTH_FORBIDDEN;
}

/* A held request's hold ended (it came back at its slot, or its client left): it holds nothing any more.  arg
 * is the token's state, which lives as long as the process. */
static void release_held(void *arg)
{
    atomic_fetch_sub_explicit((_Atomic uint64_t *)arg, 1, memory_order_relaxed);
}

static int64_t cost_of(const ig_auth_t *a, int cls)
{
    int64_t c = cls >= 0 && cls < IG_COST_CLASSES ? a->cost_milli[cls] : 0;
    return c > 0 ? c : IG_GCRA_COST_ONE;
}

/* A read answered 304 (ig_req_t.on_304): it costs not_modified, so the difference from the read it was
 * charged goes back to its token's cell.  Refunded after the fact rather than decided up front: only the
 * catalog knows, after its store lookup, whether the ETag still matches (docs/ratelimit.md).  The limiter
 * lives as long as the server and the cell as long as the process, so both outlive any request. */
static void refund_not_modified(ig_req_t *r)
{
    ig_limiter_t *l = r->on_304.ctx;
    l->ops->refund(l, r->who.token_id, r->on_304.cell, r->on_304.tat_ns, r->on_304.back_ns, ig_clock_mono_ns());
}

/* After an admission of a read: arm the refund a 304 would earn. */
static void arm_refund(const ig_auth_t *a, const ig_token_entry_t *m, ig_req_t *r, const ig_gcra_result_t *g)
{
    if (r->cost_class != IG_COST_READ) return;
    int64_t back = ig_gcra_cost_ns(&m->params, cost_of(a, IG_COST_READ)) -
                   ig_gcra_cost_ns(&m->params, cost_of(a, IG_COST_NOT_MODIFIED));
    if (back <= 0) return;
    r->on_304 = (ig_http_on_304_t){refund_not_modified, a->limiter, &m->state->cell, g->tat_ns, back};
}

/* The 429 for a request over its token's Max RPS (its RateLimit headers already added). */
static ig_auth_result_t limited(const ig_token_entry_t *m, int64_t cost, const ig_gcra_result_t *g, ig_req_t *r,
                                ig_res_t *res)
{
    char retry[24], rate[32], costs[64] = "";
    ig_format_rate(m->params.max_rps, rate, sizeof rate);
    snprintf(retry, sizeof retry, "%ld", ig_gcra_retry_after_s(g));
    ig_http_add_header(r, "Retry-After", retry);
    ig_metrics_ratelimit_refused();
    if (cost != IG_GCRA_COST_ONE) { /* say why a token with requests left is refused */
        char c[32];
        ig_format_rate((double)cost / (double)IG_GCRA_COST_ONE, c, sizeof c);
        snprintf(costs, sizeof costs, " (this request costs %s)", c);
    }
    *res = ig_http_error(r, IG_E_TOO_MANY_REQUESTS,
                         "rate limit exceeded for access token '%s': %s requests per second%s", m->name, rate, costs);
    return IG_AUTH_LIMITED;
}

/* The 503 for a request the limiter could not decide (Redis down under ratelimiter.redis.on_error: deny), in
 * shadow mode too: nothing says the token is within its limit. */
static ig_auth_result_t undecided(const ig_token_entry_t *m, ig_req_t *r, ig_res_t *res)
{
    ig_http_add_header(r, "Retry-After", "1");
    *res = ig_http_error(r, IG_E_SLOW_DOWN,
                         "the rate limiter cannot reach its Redis to decide for access token '%s'; retry shortly",
                         m->name);
    return IG_AUTH_UNDECIDED;
}

/* Takes the request's cost (ratelimiter.costs of its route class) from the token's Max RPS and adds the
 * RateLimit headers.  A request whose slot opens
 * within ratelimiter.max_delay_ms is held to it, unless the token already has max_held_per_token held (read
 * without a write, so concurrent requests may pass the cap by at most the number of worker threads); beyond
 * that wait, the 429 is queued.  A slot booked for a hold the transport then cannot take is refused too:
 * the limiter may under-admit, never over-admit. */
static ig_auth_result_t take(const ig_auth_t *a, const ig_token_entry_t *m, ig_req_t *r, ig_res_t *res)
{
    ig_gcra_result_t g;
    int64_t wait = 0, cost = cost_of(a, r->cost_class);
    if (!m->shadow && a->max_wait_ns > 0 && ig_http_may_hold(r) &&
        IG_HELD_NOW(atomic_load_explicit(&m->state->held, memory_order_relaxed)) < a->max_held)
        wait = a->max_wait_ns;
    a->limiter->ops->take(a->limiter, m->id, &m->state->cell, &m->params, ig_clock_mono_ns(), wait, cost, &g);
    if (g.unavailable) return undecided(m, r, res);
    if (g.allowed) arm_refund(a, m, r, &g);
    if (m->shadow) { /* served at once whatever the limit says, the would-be 429 counted; no headers: the client
                      * must not behave differently before the limit is enforced */
        if (!g.allowed) ig_token_runtime_note_shadow(m->state, ig_clock_wall_coarse_ms());
        return IG_AUTH_OK;
    }
    char policy[96], rl[96];
    ig_gcra_policy_header(&m->params, policy, sizeof policy);
    ig_gcra_header(&m->params, &g, rl, sizeof rl);
    ig_http_add_header(r, "RateLimit-Policy", policy);
    ig_http_add_header(r, "RateLimit", rl);
    if (g.allowed && g.delay_ns > 0) {
        if (ig_http_hold(r, g.delay_ns, res, release_held, &m->state->held)) {
            atomic_fetch_add_explicit(&m->state->held, IG_HELD_ONE, memory_order_relaxed);
            ig_metrics_ratelimit_held(g.delay_ns);
            return IG_AUTH_HELD;
        }
        g.allowed = 0;
        g.retry_after_ns = g.delay_ns;
        r->on_304.fn = NULL; /* refused: the booked slot is not given back either */
    }
    if (g.allowed) return IG_AUTH_OK;
    return limited(m, cost, &g, r, res);
}

/* The token check; count: note the request in the token's usage (false for the check before the body, so
 * a request is counted once). */
static ig_auth_result_t check_token(const ig_auth_t *a, ig_req_t *r, bool rate_limit, bool count, ig_res_t *res)
{
    size_t len = 0;
    const char *tok = find_token(r, &len);
    if (!tok) {
        *res = ig_http_unauthorized(r, "missing access token: send it in the X-API-Token header or as Authorization: "
                                       "Bearer");
        return IG_AUTH_MISSING;
    }
    ig_token_check_t chk = ig_token_check(tok, len);
    if (chk != IG_TOKEN_OK) {
        char msg[96];
        snprintf(msg, sizeof msg, "malformed access token: %s", ig_token_check_str(chk));
        *res = ig_http_unauthorized(r, msg);
        return IG_AUTH_MALFORMED;
    }
    uint8_t hash[32];
    ig_token_hash(tok, len, hash);
    int64_t now_ms = ig_clock_wall_coarse_ms();
    if (a->max_stale_ms > 0 && now_ms - ig_token_table_confirmed_ms(a->tokens) > a->max_stale_ms) {
        /* The store has not answered the polls: a suspend made on another node may be missing here, so no
         * token is trusted on what this node last saw (DESIGN.md §7, auth.max_staleness_ms). */
        ig_http_add_header(r, "Retry-After", "1");
        *res = ig_http_error(r, IG_E_UNAVAILABLE,
                             "this node cannot confirm its access tokens are current (its store has not answered for "
                             "%lld ms); retry shortly",
                             (long long)(now_ms - ig_token_table_confirmed_ms(a->tokens)));
        return IG_AUTH_UNDECIDED;
    }
    unsigned char addr[16];
    bool have_addr = ig_http_client_addr(r, addr) == 0;

    ig_token_table_read_begin();
    const ig_token_entry_t *m = ig_token_table_find(a->tokens, hash);
    if (!m || m->deleted) {
        ig_token_table_read_end();
        *res = ig_http_unauthorized(r, "unknown access token (deleted, or never issued here)");
        return IG_AUTH_UNKNOWN;
    }
    /* The token is known from here on: its id names the request in the access log even when it is refused
     * (suspended, expired, over its limit), so an operator sees who keeps trying. */
    ig_strlcpy(r->who.token_id, m->id, sizeof r->who.token_id);
    if (m->expires_text[0]) add_expiration(r, m->expires_text);
    ig_auth_result_t out = refusal(m, now_ms, r, res);
    if (out == IG_AUTH_OK && (r->need_scope & ~m->scopes)) out = forbidden(m, r->need_scope & ~m->scopes, r, res);
    if (out == IG_AUTH_OK && m->ncidrs) out = check_cidrs(a, m, r, res);
    if (out == IG_AUTH_OK) {
        if (rate_limit && m->limited && !r->resumed) out = take(a, m, r, res);
        /* counted when served: a held request is noted when it comes back */
        if (out != IG_AUTH_HELD && count && !r->counted)
            ig_token_runtime_note(m->state, now_ms, have_addr ? addr : NULL, out == IG_AUTH_LIMITED);
        if (out == IG_AUTH_OK) {
            r->who.ok = true;
            r->who.via_session = false;
            ig_strlcpy(r->who.user, m->owner, sizeof r->who.user); /* snprintf was ~570 instructions here */
            r->who.role = IG_ROLE_MEMBER; /* the admin API resolves the owner's role when it needs it */
            r->who.scopes = m->scopes;
            r->who.expires_at_ms = m->expires_at_ms;
            r->who.net_limited = m->ncidrs > 0;
            if (m->ns_len) memcpy(r->who.ns_allow, m->ns, (size_t)m->ns_len + 1u);
            else r->who.ns_allow[0] = '\0';
        }
    }
    ig_token_table_read_end();
    return out;
}

ig_auth_result_t ig_auth_token(const ig_auth_t *a, ig_req_t *r, bool rate_limit, ig_res_t *res)
{
    return check_token(a, r, rate_limit, true, res);
}

/* A route's authentication: a session and then a token for IG_ROUTE_TOKEN_OR_SESSION, a token for
 * IG_ROUTE_TOKEN.  0, or -1 with the refusal queued. */
static int route_auth(const ig_auth_t *a, ig_req_t *r, ig_route_auth_t kind, bool rate_limit, bool count,
                      ig_res_t *res)
{
    if (kind == IG_ROUTE_PUBLIC) return 0;
    if (kind == IG_ROUTE_TOKEN_OR_SESSION) {
        ig_session_auth_t s = ig_sessions_auth(a->sessions, r, res);
        if (s == IG_SESSION_SENT) return -1;
        if (s == IG_SESSION_OK) return 0;
    }
    return check_token(a, r, rate_limit, count, res) == IG_AUTH_OK ? 0 : -1;
}

int ig_auth_precheck(void *ctx, ig_req_t *r, ig_route_auth_t kind, ig_res_t *res)
{
    return route_auth(ctx, r, kind, false, false, res);
}

int ig_auth_route(void *ctx, ig_req_t *r, ig_route_auth_t kind, bool rate_limit, ig_res_t *res)
{
    return route_auth(ctx, r, kind, rate_limit, true, res);
}
