/* token_spec — what a token's create or PATCH body may say, and a token's JSON (DESIGN.md sections 3 and 8):
 * names, Max RPS, burst, expiry and scopes checked field by field (every refusal a 400 naming its field). */
#include "access/token_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nsallow.h"
#include "core/util.h"

/* ------------------------------------------------------------------ validation and JSON */

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {{"catalog:read", IG_SCOPE_READ}, {"catalog:write", IG_SCOPE_WRITE}, {"admin", IG_SCOPE_ADMIN}};
#define NSCOPES (sizeof scope_names / sizeof scope_names[0])

const char *ig_scope_name(unsigned bits)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (bits & scope_names[i].bit) return scope_names[i].name;
    return "none";
}

void ig_scopes_text(unsigned bits, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < NSCOPES; i++)
        if (bits & scope_names[i].bit)
            n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s%s", n ? "," : "",
                                  scope_names[i].name);
}

static int scope_bit(const char *s, size_t len, unsigned *bit)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (strlen(scope_names[i].name) == len && memcmp(scope_names[i].name, s, len) == 0) {
            *bit = scope_names[i].bit;
            return 0;
        }
    return -1;
}

int ig_scopes_parse(const char *text, unsigned *bits)
{
    *bits = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        unsigned b;
        if (scope_bit(p, n, &b)) return -1;
        *bits |= b;
        p += n;
        if (*p == ',') p++;
    }
    return *bits ? 0 : -1;
}

unsigned ig_scopes_default(ig_role_t owner_role)
{
    return owner_role == IG_ROLE_ADMIN ? IG_SCOPES_ALL : IG_SCOPE_READ | IG_SCOPE_WRITE;
}

_Static_assert(_Alignof(ig_cidr_t) == 1, "a token's CIDRs follow its names unaligned");

/* Appends CIDR text t (len bytes) to out in canonical form: 0, or -1 with a 400. */
static int add_cidr(const char *t, size_t len, char *out, size_t cap, int *n, ig_error_t *err)
{
    ig_cidr_t c;
    char canon[IG_CIDR_TEXT_MAX];
    if (len == 0 || ig_cidr_parse(t, len, &c))
        return ig_error_set(err, IG_E_BAD_REQUEST, "allowedCidrs: '%.*s' is not an IPv4 or IPv6 CIDR (e.g. "
                                                   "10.0.0.0/8, 2001:db8::/32)", (int)(len > 60 ? 60 : len), t);
    if (++*n > IG_TOKEN_CIDRS_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "allowedCidrs: at most %d entries", IG_TOKEN_CIDRS_MAX);
    ig_cidr_format(&c, canon, sizeof canon);
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s%s", used ? "," : "", canon);
    return 0;
}

int ig_token_cidrs_canonical(const char *text, char *out, size_t cap, ig_error_t *err)
{
    int n = 0;
    out[0] = '\0';
    if (strcmp(text, "none") == 0 || strcmp(text, "null") == 0) return 0;
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, ",");
        if (add_cidr(p, l, out, cap, &n, err)) return -1;
        p += l;
        if (*p == ',') p++;
    }
    return 0;
}

/* "allowedCidrs": null (anywhere) or an array of CIDR strings. */
static int cidrs_from_json(json_object *val, char *out, size_t cap, ig_error_t *err)
{
    int n = 0;
    out[0] = '\0';
    if (!val) return 0;
    if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "allowedCidrs: must be null or a non-empty array of CIDRs");
    for (size_t i = 0; i < json_object_array_length(val); i++) {
        json_object *e = json_object_array_get_idx(val, i);
        if (!json_object_is_type(e, json_type_string))
            return ig_error_set(err, IG_E_BAD_REQUEST, "allowedCidrs: each entry must be a string");
        if (add_cidr(json_object_get_string(e), (size_t)json_object_get_string_len(e), out, cap, &n, err)) return -1;
    }
    return 0;
}

/* ---- namespaces: checked as the catalog checks a namespace in a path, kept packed (core/principal.h) */

#define NS_LEVEL_MAX 255 /* bytes of one level, as the catalog allows */
#define NS_LEVELS_MAX 32 /* levels of one namespace */

static int ns_level(const char *s, size_t n, ig_error_t *err)
{
    if (n == 0 || n > NS_LEVEL_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: each level must be 1 to %d bytes", NS_LEVEL_MAX);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (*p < 0x20 || *p == 0x7f)
            return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: a level contains a control character");
        size_t l = ig_utf8_len(p, (size_t)(end - p));
        if (!l) return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: a level is not valid UTF-8");
        p += l;
    }
    return 0;
}

/* Adds namespace one (levels joined by 0x1F) to the packed list out: nothing when out already reaches it,
 * and the ones it reaches itself are dropped, so the list is the shortest that reaches the same. */
static int ns_add(char *out, const char *one, ig_error_t *err)
{
    if (out[0] && ig_ns_within(out, one)) return 0;
    char keep[IG_NS_ALLOW_MAX + 1];
    size_t kl = 0, ol = strlen(one);
    int n = 0;
    for (const char *p = out; *p;) {
        size_t l = strcspn(p, "\x1e");
        char e[IG_NS_ALLOW_MAX + 1];
        memcpy(e, p, l);
        e[l] = '\0';
        if (!ig_ns_within(one, e)) {
            if (kl) keep[kl++] = IG_NS_SEP;
            memcpy(keep + kl, e, l);
            kl += l;
            n++;
        }
        p += l + (p[l] == IG_NS_SEP);
    }
    if (n + 1 > IG_NS_ALLOW_COUNT)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: at most %d entries", IG_NS_ALLOW_COUNT);
    if (kl + (kl ? 1 : 0) + ol > IG_NS_ALLOW_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: at most %d bytes in all", IG_NS_ALLOW_MAX);
    if (kl) keep[kl++] = IG_NS_SEP;
    memcpy(keep + kl, one, ol + 1);
    memcpy(out, keep, kl + ol + 1);
    return 0;
}

/* Appends level s (n bytes) to the namespace being built in one (used bytes so far). */
static int ns_push(char *one, size_t *used, int *levels, const char *s, size_t n, ig_error_t *err)
{
    if (ns_level(s, n, err)) return -1;
    if (++*levels > NS_LEVELS_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: at most %d levels in a namespace", NS_LEVELS_MAX);
    if (*used + (*used ? 1 : 0) + n > IG_NS_ALLOW_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: at most %d bytes in all", IG_NS_ALLOW_MAX);
    if (*used) one[(*used)++] = '\x1f';
    memcpy(one + *used, s, n);
    *used += n;
    one[*used] = '\0';
    return 0;
}

/* "namespaces": null (every namespace) or a non-empty array of namespaces, each a non-empty array of levels. */
static int namespaces_from_json(json_object *val, char *out, ig_error_t *err)
{
    out[0] = '\0';
    if (!val) return 0;
    if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: must be null or a non-empty array of namespaces, "
                                                   "each an array of levels (e.g. [[\"analytics\"],[\"raw\",\"events\"]])");
    for (size_t i = 0; i < json_object_array_length(val); i++) {
        json_object *ns = json_object_array_get_idx(val, i);
        if (!json_object_is_type(ns, json_type_array) || json_object_array_length(ns) == 0)
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "namespaces: each entry must be a non-empty array of levels (strings)");
        char one[IG_NS_ALLOW_MAX + 1] = "";
        size_t used = 0;
        int levels = 0;
        for (size_t j = 0; j < json_object_array_length(ns); j++) {
            json_object *lv = json_object_array_get_idx(ns, j);
            if (!json_object_is_type(lv, json_type_string))
                return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: each level must be a string");
            const char *s = json_object_get_string(lv);
            size_t n = (size_t)json_object_get_string_len(lv);
            if (strlen(s) != n) return ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: a level contains a NUL");
            if (ns_push(one, &used, &levels, s, n, err)) return -1;
        }
        if (ns_add(out, one, err)) return -1;
    }
    return 0;
}

int ig_token_namespaces_parse(const char *text, char *out, size_t cap, ig_error_t *err)
{
    if (cap < IG_NS_ALLOW_MAX + 1) return ig_error_set(err, IG_E_INTERNAL, "namespaces: buffer too small");
    out[0] = '\0';
    if (strcmp(text, "none") == 0 || strcmp(text, "null") == 0 || !text[0]) return 0;
    if (text[0] == '[') {
        json_object *v = json_tokener_parse(text);
        int rc = v ? namespaces_from_json(v, out, err)
                   : ig_error_set(err, IG_E_BAD_REQUEST, "namespaces: not valid JSON");
        json_object_put(v);
        return rc;
    }
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, ",");
        char one[IG_NS_ALLOW_MAX + 1] = "";
        size_t used = 0;
        int levels = 0;
        for (size_t i = 0; i <= l;) {
            size_t k = i;
            while (k < l && p[k] != '.') k++;
            if (ns_push(one, &used, &levels, p + i, k - i, err)) return -1;
            i = k + 1;
        }
        if (ns_add(out, one, err)) return -1;
        p += l + (p[l] == ',');
    }
    return 0;
}

json_object *ig_token_namespaces_json(const char *packed)
{
    if (!packed[0]) return NULL;
    json_object *all = json_object_new_array(), *one = json_object_new_array();
    for (const char *p = packed;; p++) {
        size_t l = strcspn(p, "\x1e\x1f");
        json_object_array_add(one, json_object_new_string_len(p, (int)l));
        p += l;
        if (*p != '\x1f') {
            json_object_array_add(all, one);
            if (!*p) break;
            one = json_object_new_array();
        }
    }
    return all;
}

/* "scopes": a non-empty array of distinct scope names. */
static int scopes_from_json(json_object *val, unsigned *bits, ig_error_t *err)
{
    *bits = 0;
    if (!val || !json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "scopes: must be a non-empty array of \"catalog:read\", \"catalog:write\", \"admin\"");
    for (size_t i = 0; i < json_object_array_length(val); i++) {
        json_object *e = json_object_array_get_idx(val, i);
        unsigned b;
        if (!json_object_is_type(e, json_type_string) ||
            scope_bit(json_object_get_string(e), (size_t)json_object_get_string_len(e), &b))
            return ig_error_set(err, IG_E_BAD_REQUEST,
                                "scopes: unknown scope %.64s (catalog:read, catalog:write, admin)",
                                e ? json_object_to_json_string(e) : "null");
        *bits |= b;
    }
    return 0;
}

/* 1..100 Unicode characters of valid UTF-8, no control characters. */
static int check_name(const char *s, ig_error_t *err)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0 || (extra == 1 && c < 0xC2)) goto bad;
        if (c < 0x20 || c == 0x7f) goto ctl;
        unsigned cp = c & (0x7Fu >> extra);
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80) goto bad;
            cp = cp << 6 | (p[i] & 0x3Fu);
        }
        /* RFC 3629: no overlong 3/4-byte forms, no UTF-16 surrogates, nothing above U+10FFFF. */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
            cp > 0x10FFFF)
            goto bad;
        if (extra == 1 && c == 0xC2 && p[1] < 0xA0) goto ctl; /* C1 controls */
        p += 1 + extra;
        chars++;
    }
    if (chars == 0) return ig_error_set(err, IG_E_BAD_REQUEST, "name: must not be empty");
    if (chars > IG_NAME_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "name: must be at most %d characters (got %zu)",
                            IG_NAME_MAX, chars);
    if (s[0] == ' ' || s[strlen(s) - 1] == ' ')
        return ig_error_set(err, IG_E_BAD_REQUEST, "name: must not start or end with a space");
    return 0;
ctl:
    return ig_error_set(err, IG_E_BAD_REQUEST, "name: must contain only printable characters");
bad:
    return ig_error_set(err, IG_E_BAD_REQUEST, "name: is not valid UTF-8");
}

#define MAX_RPS_LIMIT 1000000.0
/* The limiter works in whole nanoseconds: emission = 1e9 / maxRps, tolerance = emission * (burst - 1), both
 * int64.  Below 0.001 (one request per 1000 s) with the largest burst that product no longer fits, and a tiny
 * maxRps such as 1e-12 overflowed at once (undefined behaviour, a crash under UBSan, on every load). */
#define MIN_RPS_LIMIT 0.001
#define BURST_LIMIT 1000000

int ig_token_spec_validate(const ig_token_spec_t *spec, bool for_create, int64_t now_ms, ig_error_t *err)
{
    if (for_create && !spec->has_name)
        return ig_error_set(err, IG_E_BAD_REQUEST, "name: is required");
    if (spec->has_name && check_name(spec->name, err)) return -1;
    if (spec->has_max_rps && spec->max_rps != 0 &&
        (!isfinite(spec->max_rps) || spec->max_rps < MIN_RPS_LIMIT || spec->max_rps > MAX_RPS_LIMIT))
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "maxRps: must be a number from %g to %.0f, or null", MIN_RPS_LIMIT, MAX_RPS_LIMIT);
    if (spec->has_max_rps && spec->max_rps < 0)
        return ig_error_set(err, IG_E_BAD_REQUEST, "maxRps: must be greater than 0, or null");
    if (spec->has_burst && spec->burst != 0 && (spec->burst < 1 || spec->burst > BURST_LIMIT))
        return ig_error_set(err, IG_E_BAD_REQUEST, "burst: must be an integer from 1 to %d, or null",
                            BURST_LIMIT);
    if (spec->has_expires && spec->expires_at_ms != 0 && spec->expires_at_ms <= now_ms)
        return ig_error_set(err, IG_E_BAD_REQUEST, "expiresAt: must be in the future");
    return 0;
}

int ig_token_spec_from_json(json_object *body, bool for_create, int64_t now_ms, ig_token_spec_t *spec,
                            ig_error_t *err)
{
    memset(spec, 0, sizeof *spec);
    if (!body || !json_object_is_type(body, json_type_object))
        return ig_error_set(err, IG_E_BAD_REQUEST, "request body must be a JSON object");
    json_object_object_foreach(body, key, val)
    {
        json_type t = val ? json_object_get_type(val) : json_type_null;
        if (strcmp(key, "name") == 0) {
            if (t != json_type_string)
                return ig_error_set(err, IG_E_BAD_REQUEST, "name: must be a string");
            if (json_object_get_string_len(val) >= (int)sizeof spec->name)
                return ig_error_set(err, IG_E_BAD_REQUEST, "name: must be at most %d characters",
                                    IG_NAME_MAX);
            /* "\u0000" is valid JSON: refuse it rather than let the copy below cut the name short. */
            if (strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
                return ig_error_set(err, IG_E_BAD_REQUEST,
                                    "name: must contain only printable characters");
            spec->has_name = true;
            snprintf(spec->name, sizeof spec->name, "%s", json_object_get_string(val));
        } else if (strcmp(key, "maxRps") == 0) {
            spec->has_max_rps = true;
            if (t == json_type_null) {
                spec->max_rps = 0;
            } else if (t == json_type_int || t == json_type_double) {
                spec->max_rps = json_object_get_double(val);
                if (!(spec->max_rps > 0))
                    return ig_error_set(err, IG_E_BAD_REQUEST,
                                        "maxRps: must be a number greater than 0, or null");
            } else {
                return ig_error_set(err, IG_E_BAD_REQUEST, "maxRps: must be a number or null");
            }
        } else if (strcmp(key, "burst") == 0) {
            spec->has_burst = true;
            if (t == json_type_null) {
                spec->burst = 0;
            } else if (t == json_type_int) {
                int64_t b = json_object_get_int64(val);
                if (b < 1 || b > BURST_LIMIT)
                    return ig_error_set(err, IG_E_BAD_REQUEST,
                                        "burst: must be an integer from 1 to %d, or null", BURST_LIMIT);
                spec->burst = (int)b;
            } else {
                return ig_error_set(err, IG_E_BAD_REQUEST, "burst: must be an integer or null");
            }
        } else if (strcmp(key, "rateLimitMode") == 0) {
            const char *v = t == json_type_string ? json_object_get_string(val) : "";
            if (strcmp(v, "enforce") != 0 && strcmp(v, "shadow") != 0)
                return ig_error_set(err, IG_E_BAD_REQUEST, "rateLimitMode: must be \"enforce\" or \"shadow\"");
            spec->has_mode = true;
            spec->shadow = strcmp(v, "shadow") == 0;
        } else if (strcmp(key, "allowedCidrs") == 0) {
            spec->has_cidrs = true;
            if (cidrs_from_json(val, spec->cidrs, sizeof spec->cidrs, err)) return -1;
        } else if (strcmp(key, "namespaces") == 0) {
            spec->has_namespaces = true;
            if (namespaces_from_json(val, spec->namespaces, err)) return -1;
        } else if (strcmp(key, "scopes") == 0) {
            spec->has_scopes = true;
            if (scopes_from_json(val, &spec->scopes, err)) return -1;
        } else if (strcmp(key, "expiresAt") == 0) {
            spec->has_expires = true;
            if (t == json_type_null) {
                spec->expires_at_ms = 0;
            } else if (t == json_type_string) {
                if (ig_rfc3339_parse(json_object_get_string(val), &spec->expires_at_ms))
                    return ig_error_set(err, IG_E_BAD_REQUEST,
                                        "expiresAt: must be an RFC 3339 date-time such as 2027-01-31T00:00:00Z");
                /* Checked here, not only in validate: the epoch itself parses to 0, which means "never". */
                if (spec->expires_at_ms <= now_ms)
                    return ig_error_set(err, IG_E_BAD_REQUEST, "expiresAt: must be in the future");
            } else {
                return ig_error_set(err, IG_E_BAD_REQUEST, "expiresAt: must be a string or null");
            }
        } else {
            return ig_error_set(err, IG_E_BAD_REQUEST, "unknown field '%.64s'", key);
        }
    }
    return ig_token_spec_validate(spec, for_create, now_ms, err);
}

const char *ig_token_status(const ig_token_row_t *t, int64_t now_ms)
{
    if (t->suspended) return "suspended";
    if (t->expires_at_ms && t->expires_at_ms <= now_ms) return "expired";
    return "active";
}

static json_object *time_or_null(int64_t ms)
{
    if (!ms) return NULL;
    char buf[40];
    ig_rfc3339_format(ms, buf, sizeof buf);
    return json_object_new_string(buf);
}

json_object *ig_token_to_json(const ig_token_row_t *t, bool enforced, const char *secret, int64_t now_ms)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(t->id));
    json_object_object_add(o, "name", json_object_new_string(t->name));
    json_object_object_add(o, "owner", json_object_new_string(t->owner));
    json_object_object_add(o, "prefix", json_object_new_string(t->prefix));
    json_object_object_add(o, "status", json_object_new_string(ig_token_status(t, now_ms)));
    json_object_object_add(o, "maxRps", t->max_rps > 0 ? json_object_new_double(t->max_rps) : NULL);
    json_object_object_add(o, "burst",
                           t->max_rps > 0 || t->burst > 0 ? json_object_new_int(ig_token_effective_burst(t)) : NULL);
    json_object_object_add(o, "expiresAt", time_or_null(t->expires_at_ms));
    json_object_object_add(o, "createdAt", time_or_null(t->created_at_ms));
    json_object_object_add(o, "updatedAt", time_or_null(t->updated_at_ms));
    json_object_object_add(o, "lastUsedAt", time_or_null(t->last_used_at_ms));
    json_object_object_add(o, "lastUsedIp", t->last_used_ip[0] ? json_object_new_string(t->last_used_ip) : NULL);
    json_object_object_add(o, "suspendedAt", t->suspended ? time_or_null(t->suspended_at_ms) : NULL);
    json_object_object_add(o, "suspendReason",
                           t->suspended && t->suspend_reason[0] ? json_object_new_string(t->suspend_reason) : NULL);
    json_object *by = NULL;
    if (t->suspended && t->suspended_by_role != IG_SET_BY_UNKNOWN) {
        by = json_object_new_object();
        json_object_object_add(by, "role", json_object_new_string(ig_set_by_name(t->suspended_by_role)));
        json_object_object_add(by, "user", t->suspended_by[0] ? json_object_new_string(t->suspended_by) : NULL);
    }
    json_object_object_add(o, "suspendedBy", by);
    const char *set_by = t->max_rps > 0 ? ig_set_by_name(t->max_rps_set_by) : NULL;
    json_object_object_add(o, "maxRpsSetBy", set_by ? json_object_new_string(set_by) : NULL);
    json_object_object_add(o, "rateLimitEnforced", json_object_new_boolean(enforced && t->max_rps > 0));
    json_object *sc = json_object_new_array();
    for (size_t i = 0; i < NSCOPES; i++)
        if (t->scopes & scope_names[i].bit) json_object_array_add(sc, json_object_new_string(scope_names[i].name));
    json_object_object_add(o, "scopes", sc);
    json_object *cid = NULL;
    if (t->allowed_cidrs[0]) {
        cid = json_object_new_array();
        for (const char *p = t->allowed_cidrs; *p;) {
            size_t l = strcspn(p, ",");
            json_object_array_add(cid, json_object_new_string_len(p, (int)l));
            p += l + (p[l] == ',');
        }
    }
    json_object_object_add(o, "allowedCidrs", cid);
    json_object_object_add(o, "namespaces", ig_token_namespaces_json(t->namespaces));
    json_object_object_add(o, "rateLimitMode", json_object_new_string(t->rate_limit_shadow ? "shadow" : "enforce"));
    json_object_object_add(o, "rotatedAt", time_or_null(t->rotated_at_ms));
    json_object_object_add(o, "previousTokenValidUntil", t->has_prev ? time_or_null(t->prev_valid_until_ms) : NULL);
    if (secret) json_object_object_add(o, "token", json_object_new_string(secret));
    return o;
}

