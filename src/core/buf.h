/* buf — a growable text buffer for responses built piece by piece (/metrics, JSON bodies assembled by hand).
 * Allocation failure is sticky: later appends do nothing and ig_buf_take() returns NULL. */
#ifndef IG_BUF_H
#define IG_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated while not failed */
    size_t len, cap;
    bool failed;
} ig_buf_t;

/* Starts an empty buffer with room for cap bytes; 0, or -1 (out of memory: the buffer is failed). */
int ig_buf_init(ig_buf_t *b, size_t cap);
void ig_buf_printf(ig_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ig_buf_append(ig_buf_t *b, const void *p, size_t n);
/* Appends s[0..n) as a JSON string, quotes included ('"', '\\' and control characters escaped; other bytes,
 * UTF-8 included, as they are). */
void ig_buf_json_string(ig_buf_t *b, const char *s, size_t n);
/* Hands the text to the caller (who frees it) and its length; NULL if any append failed (nothing to free). */
char *ig_buf_take(ig_buf_t *b, size_t *len);
void ig_buf_free(ig_buf_t *b);

#endif
