/* error — the one error table, in the manner of libuv's UV_ERRNO_MAP.
 *
 * Every error icegate can answer with is a kind listed once below, with its HTTP status and its Iceberg error
 * type; the body on the wire is the Iceberg error model
 *   {"error":{"message":"...","type":"BadRequestException","code":400}}
 * Call sites name the kind (IG_E_BAD_REQUEST, IG_E_COMMIT_FAILED, ...) and a message; nobody types a status or
 * a type by hand, so two places can no longer disagree on what "internal error" is called.  Logic modules fill
 * an ig_error_t; the HTTP layer turns it into the response. */
#ifndef IG_ERROR_H
#define IG_ERROR_H

#include <stdarg.h>
#include <stdio.h>

/* XX(kind, HTTP status, Iceberg type) */
#define IG_ERROR_MAP(XX)                                                   \
    XX(BAD_REQUEST, 400, "BadRequestException")                            \
    XX(INVALID_ARGUMENT, 400, "IllegalArgumentException")                  \
    XX(NOT_AUTHORIZED, 401, "NotAuthorizedException")                      \
    XX(FORBIDDEN, 403, "ForbiddenException")                               \
    XX(NOT_FOUND, 404, "NotFoundException")                                \
    XX(NO_SUCH_NAMESPACE, 404, "NoSuchNamespaceException")                 \
    XX(NO_SUCH_TABLE, 404, "NoSuchTableException")                         \
    XX(NO_SUCH_VIEW, 404, "NoSuchViewException")                           \
    XX(NO_SUCH_WAREHOUSE, 404, "NoSuchWarehouseException")                 \
    XX(NO_SUCH_TOKEN, 404, "NoSuchAccessTokenException")                   \
    XX(METHOD_NOT_ALLOWED, 405, "MethodNotAllowedException")               \
    XX(ALREADY_EXISTS, 409, "AlreadyExistsException")                      \
    XX(COMMIT_FAILED, 409, "CommitFailedException")                        \
    XX(NAMESPACE_NOT_EMPTY, 409, "NamespaceNotEmptyException")             \
    XX(TOO_LARGE, 413, "BadRequestException")                              \
    XX(UNSUPPORTED_MEDIA, 415, "BadRequestException")                      \
    XX(UNPROCESSABLE, 422, "UnprocessableEntityException")                 \
    XX(TOO_MANY_REQUESTS, 429, "TooManyRequestsException")                 \
    XX(INTERNAL, 500, "ServiceFailureException")                           \
    XX(UNAVAILABLE, 503, "ServiceUnavailableException")                   \
    XX(SLOW_DOWN, 503, "SlowDownException")

typedef enum {
    IG_E_NONE = 0, /* a zeroed ig_error_t; answered as IG_E_INTERNAL if it ever reaches a response */
#define IG_ERROR_ENUM(k, status, type) IG_E_##k,
    IG_ERROR_MAP(IG_ERROR_ENUM)
#undef IG_ERROR_ENUM
        IG_E_COUNT
} ig_errkind_t;

typedef struct {
    ig_errkind_t kind;
    char message[512]; /* human-readable; never contains a token secret */
} ig_error_t;

/* The HTTP status and the Iceberg type of a kind (IG_E_NONE and out-of-range kinds: those of IG_E_INTERNAL). */
int ig_error_kind_status(ig_errkind_t kind);
const char *ig_error_kind_type(ig_errkind_t kind);

/* The status of a filled error (500 for a zeroed one). */
static inline int ig_error_status(const ig_error_t *e)
{
    return ig_error_kind_status(e->kind);
}

/* Fills err (if not NULL) and returns -1, so callers can write `return ig_error_set(err, IG_E_..., ...)`. */
int ig_error_set(ig_error_t *err, ig_errkind_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
