/* fuzz_token_spec — the token create/PATCH body parser: json_tokener_parse on arbitrary text, then
 * ig_token_spec_from_json for create and for update.  Oracles: every refusal is a 400 with a message; every
 * acceptance satisfies the documented rules (ig_token_spec_validate agrees; the name is exactly the JSON
 * string, with no bytes silently dropped, and strict UTF-8; an accepted expiresAt string lies in the
 * future). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/token_table.h"

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
