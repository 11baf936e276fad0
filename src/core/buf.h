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
/* Writes s[0..n) into out as a JSON string, quotes included, and returns its length: '"', '\\' and control
 * characters escaped, whole UTF-8 sequences as they are, any other byte as U+FFFD (so the text is always
 * valid UTF-8, even for a message that cut client text inside a character).  Stops early rather than
 * overflow cap (>= 3).  No allocation: error bodies are written with it on the stack. */
size_t ig_json_quote(const char *s, size_t n, char *out, size_t cap);
/* Appends s[0..n) as ig_json_quote writes it. */
void ig_buf_json_string(ig_buf_t *b, const char *s, size_t n);
/* Hands the text to the caller (who frees it) and its length; NULL if any append failed (nothing to free). */
char *ig_buf_take(ig_buf_t *b, size_t *len);
void ig_buf_free(ig_buf_t *b);

#endif
