/* journal — see journal.h. */
#include "access/journal.h"

#include <stdlib.h>
#include <string.h>

#include "access/token_table.h"
#include "core/util.h"

static char *dup_json(json_object *o)
{
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

void ig_journal_init(ig_jbuild_t *b)
{
    memset(b, 0, sizeof *b);
}

const ig_journal_t *ig_journal_get(ig_jbuild_t *b)
{
    b->j.audit = b->audit.action ? &b->audit : NULL;
    b->j.event = b->event.type && b->body ? &b->event : NULL;
    return b->j.audit || b->j.event ? &b->j : NULL;
}

void ig_journal_free(ig_jbuild_t *b)
{
    if (!b) return;
    free(b->details);
    free(b->body);
    ig_journal_init(b);
}

static json_object *time_json(int64_t ms)
{
    if (!ms) return NULL;
    char t[40];
    ig_rfc3339_format(ms, t, sizeof t);
    return json_object_new_string(t);
}

static json_object *rate_json(double r)
{
    return r > 0 ? json_object_new_double(r) : NULL;
}

static json_object *burst_json(int b)
{
    return b > 0 ? json_object_new_int(b) : NULL;
}

json_object *ig_journal_token_ref(const ig_token_row_t *t)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(t->id));
    json_object_object_add(o, "name", json_object_new_string(t->name));
    json_object_object_add(o, "owner", json_object_new_string(t->owner));
    json_object_object_add(o, "expiresAt", time_json(t->expires_at_ms));
    return o;
}

static void set_audit(ig_jbuild_t *b, const ig_principal_t *who, const char *action, const char *target,
                      const char *owner, json_object *details, int64_t now_ms)
{
    free(b->details);
    b->details = dup_json(details ? details : json_object_new_object());
    b->audit = (ig_audit_row_t){.at_ms = now_ms,
                                .actor = who ? who->user : "system",
                                .actor_token_id = who && who->token_id[0] ? who->token_id : NULL,
                                .action = action,
                                .target = target,
                                .target_owner = owner,
                                .details = b->details,
                                .client_ip = who ? who->client_ip : NULL};
}

void ig_journal_event(ig_jbuild_t *b, const char *type, const ig_token_row_t *t, json_object *details,
                      int64_t now_ms)
{
    memcpy(b->event_id, "evt_", 4);
    ig_random_base62(b->event_id + 4, 16);
    b->event_id[20] = '\0';
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(b->event_id));
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "at", time_json(now_ms));
    json_object_object_add(o, "token", ig_journal_token_ref(t));
    json_object_object_add(o, "details", details ? details : json_object_new_object());
    free(b->body);
    b->body = dup_json(o);
    b->event = (ig_event_row_t){.id = b->event_id, .type = type, .body = b->body, .at_ms = now_ms};
}

/* {"old": a, "new": b} under key when the two JSON values differ (both taken). */
static void diff(json_object *d, const char *key, json_object *a, json_object *b)
{
    if (json_object_equal(a, b)) {
        json_object_put(a);
        json_object_put(b);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "old", a);
    json_object_object_add(o, "new", b);
    json_object_object_add(d, key, o);
}

static json_object *scopes_json(unsigned bits) /* as the API shows them: ["catalog:read", ...] */
{
    json_object *a = json_object_new_array();
    for (unsigned b = 1; b <= IG_SCOPE_ADMIN; b <<= 1)
        if (bits & b) json_object_array_add(a, json_object_new_string(ig_scope_name(b)));
    return a;
}

static json_object *cidrs_json(const char *text) /* null (anywhere) or the canonical list */
{
    return text[0] ? json_object_new_string(text) : NULL;
}

static json_object *token_details(const char *action, const ig_token_row_t *x, const ig_token_row_t *t)
{
    json_object *d = json_object_new_object();
    if (!x) { /* a create: what it was made with */
        json_object_object_add(d, "name", json_object_new_string(t->name));
        json_object_object_add(d, "owner", json_object_new_string(t->owner));
        json_object_object_add(d, "maxRps", rate_json(t->max_rps));
        json_object_object_add(d, "burst", burst_json(t->burst));
        json_object_object_add(d, "expiresAt", time_json(t->expires_at_ms));
        json_object_object_add(d, "scopes", scopes_json(t->scopes));
        json_object_object_add(d, "allowedCidrs", cidrs_json(t->allowed_cidrs));
        json_object_object_add(d, "namespaces", ig_token_namespaces_json(t->namespaces));
        return d;
    }
    if (strcmp(action, "token.delete") == 0) {
        json_object_object_add(d, "name", json_object_new_string(t->name));
        json_object_object_add(d, "owner", json_object_new_string(t->owner));
        return d;
    }
    diff(d, "name", json_object_new_string(x->name), json_object_new_string(t->name));
    diff(d, "maxRps", rate_json(x->max_rps), rate_json(t->max_rps));
    diff(d, "burst", burst_json(x->burst), burst_json(t->burst));
    diff(d, "expiresAt", time_json(x->expires_at_ms), time_json(t->expires_at_ms));
    diff(d, "prefix", json_object_new_string(x->prefix), json_object_new_string(t->prefix)); /* a rotation */
    diff(d, "scopes", scopes_json(x->scopes), scopes_json(t->scopes));
    diff(d, "allowedCidrs", cidrs_json(x->allowed_cidrs), cidrs_json(t->allowed_cidrs));
    diff(d, "namespaces", ig_token_namespaces_json(x->namespaces), ig_token_namespaces_json(t->namespaces));
    diff(d, "rateLimitMode", json_object_new_string(x->rate_limit_shadow ? "shadow" : "enforce"),
         json_object_new_string(t->rate_limit_shadow ? "shadow" : "enforce"));
    diff(d, "status", json_object_new_string(x->suspended ? "suspended" : "active"),
         json_object_new_string(t->suspended ? "suspended" : "active"));
    diff(d, "suspendReason", x->suspend_reason[0] ? json_object_new_string(x->suspend_reason) : NULL,
         t->suspend_reason[0] ? json_object_new_string(t->suspend_reason) : NULL);
    return d;
}

void ig_journal_token(ig_jbuild_t *b, const ig_principal_t *who, const char *action, const ig_token_row_t *before,
                      const ig_token_row_t *after, const char *event_type, int64_t now_ms)
{
    set_audit(b, who, action, after->id, after->owner, token_details(action, before, after), now_ms);
    if (!event_type) return;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "by", json_object_new_string(who ? who->user : "system"));
    if (after->suspended && after->suspend_reason[0] && strcmp(action, "token.suspend") == 0)
        json_object_object_add(d, "reason", json_object_new_string(after->suspend_reason));
    if (strcmp(action, "token.rotate") == 0)
        json_object_object_add(d, "previousTokenValidUntil", time_json(after->prev_valid_until_ms));
    ig_journal_event(b, event_type, after, d, now_ms);
}

void ig_journal_user(ig_jbuild_t *b, const ig_principal_t *who, const char *action, const char *user,
                     json_object *details, int64_t now_ms)
{
    set_audit(b, who, action, user, user, details, now_ms);
}

void ig_journal_login(ig_jbuild_t *b, const char *name, bool ok, const char *reason, const char *client_ip,
                      int64_t now_ms)
{
    json_object *d = json_object_new_object();
    json_object_object_add(d, "result", json_object_new_string(ok ? "success" : "failure"));
    if (reason) json_object_object_add(d, "reason", json_object_new_string(reason));
    ig_strlcpy(b->name, name, sizeof b->name);
    set_audit(b, NULL, ok ? "console.login" : "console.login_failed", b->name, b->name, d, now_ms);
    b->audit.actor = b->name;
    b->audit.client_ip = client_ip;
}
