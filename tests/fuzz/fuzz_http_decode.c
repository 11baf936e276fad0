/* fuzz_http_decode — text that arrives from clients and the CLI: percent-decoding of path segments and query
 * values (ig_http_decode), RFC 3339 times (ig_rfc3339_parse) and durations (ig_duration_parse).  The input is
 * split at '\n' into up to three pieces, one per parser; the first byte also picks the decode buffer size.
 * Oracles: decoding never writes past cap and yields no NUL; a parsed time in years 0000..9999 formats and
 * parses back to the same instant; a parsed duration is positive. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */
#define MAX_MS (253402300799999LL) /* 9999-12-31T23:59:59.999Z */

/* A NUL-terminated heap copy of [p, p+n). */
static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t cap = (size_t)data[0] + 1; /* 1..256 */
    data++;
    size--;
    const uint8_t *piece[3] = {data, NULL, NULL};
    size_t len[3] = {size, 0, 0};
    for (int k = 0; k < 2; k++) {
        const uint8_t *nl = memchr(piece[k], '\n', len[k]);
        if (!nl) break;
        piece[k + 1] = nl + 1;
        len[k + 1] = len[k] - (size_t)(nl + 1 - piece[k]);
        len[k] = (size_t)(nl - piece[k]);
    }

    /* Exact-size heap buffers so ASan sees any overrun on either side. */
    char *src = malloc(len[0] ? len[0] : 1);
    char *buf = malloc(cap);
    if (!src || !buf) abort();
    memcpy(src, piece[0], len[0]);
    if (ig_http_decode(src, len[0], buf, cap) == 0) {
        size_t out = strlen(buf);
        if (out >= cap || out > len[0]) abort();
    }
    free(src);
    free(buf);

    if (piece[1]) {
        char *s = dup_n(piece[1], len[1]);
        int64_t ms;
        if (ig_rfc3339_parse(s, &ms) == 0 && ms >= MIN_MS && ms <= MAX_MS) {
            char text[40];
            int64_t again;
            ig_rfc3339_format(ms, text, sizeof text);
            if (ig_rfc3339_parse(text, &again) != 0 || again != ms) abort();
        }
        free(s);
    }
    if (piece[2]) {
        char *s = dup_n(piece[2], len[2]);
        int64_t ms;
        if (ig_duration_parse(s, &ms) == 0 && ms <= 0) abort();
        free(s);
    }
    return 0;
}
