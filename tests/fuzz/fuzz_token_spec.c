/* fuzz_token_spec — the token create/PATCH body parser: json_tokener_parse on arbitrary text, then
 * ig_token_spec_from_json for create and for update.  Oracles: every refusal is a 400 with a message; every
 * acceptance satisfies the documented rules (ig_token_spec_validate agrees; the name is exactly the JSON
 * string, with no bytes silently dropped, and strict UTF-8; an accepted expiresAt string lies in the
 * future; accepted namespaces reach exactly what was asked: every namespace asked for is within the packed
 * list, every packed one was asked for, at most IG_NS_ALLOW_COUNT of them, no level empty or with a control
 * character). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/token_table.h"
#include "core/nsallow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1800000000000LL /* 2027-01-15 */

/* RFC 3629 UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), written independently of
 * token_table.c's check_name. */
static bool utf8_strict(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* The levels of JSON array ns joined by 0x1F into out (cap bytes); false when it does not fit. */
static bool joined(json_object *ns, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t j = 0; j < json_object_array_length(ns); j++) {
        json_object *lv = json_object_array_get_idx(ns, j);
        size_t l = (size_t)json_object_get_string_len(lv);
        if (n + l + 2 > cap) return false;
        if (j) out[n++] = '\x1f';
        memcpy(out + n, json_object_get_string(lv), l);
        n += l;
    }
    out[n] = '\0';
    return true;
}

static void check_namespaces(json_object *asked, const char *packed)
{
    if (!asked) {
        if (packed[0]) abort();
        return;
    }
    if (!packed[0] || strlen(packed) > IG_NS_ALLOW_MAX) abort();
    char one[IG_NS_ALLOW_MAX + 2];
    for (size_t i = 0; i < json_object_array_length(asked); i++) /* everything asked for is reached */
        if (!joined(json_object_array_get_idx(asked, i), one, sizeof one) || !ig_ns_within(packed, one)) abort();
    json_object *back = ig_token_namespaces_json(packed);
    size_t n = json_object_array_length(back);
    if (n == 0 || n > IG_NS_ALLOW_COUNT) abort();
    for (size_t i = 0; i < n; i++) { /* and nothing that was not */
        json_object *ns = json_object_array_get_idx(back, i);
        bool found = false;
        for (size_t k = 0; k < json_object_array_length(asked) && !found; k++)
            found = json_object_equal(ns, json_object_array_get_idx(asked, k));
        if (!found) abort();
        for (size_t j = 0; j < json_object_array_length(ns); j++) {
            const unsigned char *lv = (const unsigned char *)json_object_get_string(json_object_array_get_idx(ns, j));
            if (!lv[0]) abort();
            for (; *lv; lv++)
                if (*lv < 0x20 || *lv == 0x7f) abort();
        }
    }
    json_object_put(back);
}

static void check(json_object *body, bool for_create)
{
    ig_token_spec_t spec;
    ig_error_t err;
    memset(&err, 0, sizeof err);
    int rc = ig_token_spec_from_json(body, for_create, NOW_MS, &spec, &err);
    if (rc != 0) {
        if (rc != -1 || ig_error_status(&err) != 400 || err.message[0] == '\0') abort();
        return;
    }
    if (ig_token_spec_validate(&spec, for_create, NOW_MS, &err) != 0) abort();
    if (for_create && !spec.has_name) abort();
    json_object *v;
    if (spec.has_name) {
        if (!json_object_object_get_ex(body, "name", &v)) abort();
        size_t len = (size_t)json_object_get_string_len(v);
        if (strlen(spec.name) != len || memcmp(spec.name, json_object_get_string(v), len) != 0) abort();
        if (!utf8_strict((const unsigned char *)spec.name, len)) abort();
    }
    if (spec.has_expires && json_object_object_get_ex(body, "expiresAt", &v) &&
        json_object_is_type(v, json_type_string) && spec.expires_at_ms <= NOW_MS)
        abort();
    if (spec.has_max_rps && spec.max_rps != 0 && !(spec.max_rps > 0 && spec.max_rps <= 1e6)) abort();
    if (spec.has_burst && (spec.burst < 0 || spec.burst > 1000000)) abort();
    if (spec.has_namespaces) {
        if (!json_object_object_get_ex(body, "namespaces", &v)) abort();
        check_namespaces(v, spec.namespaces);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    json_object *body = json_tokener_parse(s);
    check(body, true);
    check(body, false);
    json_object_put(body);
    free(s);
    return 0;
}
