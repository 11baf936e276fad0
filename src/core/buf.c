/* buf — see buf.h. */
#include "core/buf.h"

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

void ig_buf_json_string(ig_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!reserve(b, n + 2)) return;
    b->data[b->len++] = '"';
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        ig_buf_append(b, s + run, i - run);
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t el = 2;
        if (ch < 0x20) {
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[ch >> 4], esc[5] = hex[ch & 15];
            el = 6;
        }
        ig_buf_append(b, esc, el);
        run = i + 1;
    }
    ig_buf_append(b, s + run, n - run);
    ig_buf_append(b, "\"", 1);
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
