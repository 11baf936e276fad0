/* error — the Iceberg error model shared by every module:
 *   {"error":{"message":"...","type":"BadRequestException","code":400}}
 * Logic modules fill an ig_error_t; the HTTP layer turns it into the response. */
#ifndef IG_ERROR_H
#define IG_ERROR_H

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    int code;          /* HTTP status: 400, 404, 409, ... */
    char type[64];     /* "BadRequestException", "CommitFailedException", ... */
    char message[512]; /* human-readable; never contains a token secret */
} ig_error_t;

/* Fills err (if not NULL) and returns -1, so callers can write `return ig_error_set(err, ...)`. */
static inline int ig_error_set(ig_error_t *err, int code, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int ig_error_set(ig_error_t *err, int code, const char *type, const char *fmt, ...)
{
    if (!err) return -1;
    err->code = code;
    snprintf(err->type, sizeof err->type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

#endif
