/* buf — see buf.h. */
#include "core/buf.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ig_buf_init(ig_buf_t *b, size_t cap)
{
    b->len = 0;
    b->cap = cap ? cap : 256;
    b->data = malloc(b->cap);
    b->failed = b->data == NULL;
    if (b->data) b->data[0] = '\0';
    return b->failed ? -1 : 0;
}

/* Makes room for n more bytes plus the NUL. */
static bool reserve(ig_buf_t *b, size_t n)
{
    if (b->failed) return false;
    if (b->len + n + 1 <= b->cap) return true;
    size_t ncap = b->cap * 2 + n + 1;
    char *nd = realloc(b->data, ncap);
    if (!nd) {
        b->failed = true;
        return false;
    }
    b->data = nd;
    b->cap = ncap;
    return true;
}

void ig_buf_printf(ig_buf_t *b, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !b->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->data[b->len] = '\0';
        if (!reserve(b, (size_t)n)) return;
    }
}

void ig_buf_append(ig_buf_t *b, const void *p, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

size_t ig_json_quote(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t o = 0;
    if (cap < 3) return 0;
    out[o++] = '"';
    while (p < end && o + 7 < cap) {
        unsigned char ch = *p;
        if (ch >= 0x80) {
            size_t len = ig_utf8_len(p, (size_t)(end - p));
            if (len && o + len + 1 < cap) {
                memcpy(out + o, p, len);
                o += len;
                p += len;
                continue;
            }
            memcpy(out + o, "\\ufffd", 6); /* not a whole UTF-8 sequence: the body stays valid UTF-8 */
            o += 6;
        } else if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[ch >> 4];
            out[o + 5] = hex[ch & 15];
            o += 6;
        } else {
            out[o++] = (char)ch;
        }
        p++;
    }
    out[o++] = '"';
    return o;
}

void ig_buf_json_string(ig_buf_t *b, const char *s, size_t n)
{
    size_t cap = 6 * n + 8; /* every byte escaped at worst, the quotes, and ig_json_quote's margin */
    if (!reserve(b, cap)) return;
    b->len += ig_json_quote(s, n, b->data + b->len, cap);
    b->data[b->len] = '\0';
}

char *ig_buf_take(ig_buf_t *b, size_t *len)
{
    if (b->failed) {
        ig_buf_free(b);
        return NULL;
    }
    char *d = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void ig_buf_free(ig_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
