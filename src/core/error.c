/* error — see error.h. */
#include "core/error.h"

static const struct {
    int status;
    const char *type;
} table[IG_E_COUNT] = {
    [IG_E_NONE] = {.status = 500, .type = "ServiceFailureException"},
#define IG_ERROR_ROW(k, st, ty) [IG_E_##k] = {.status = st, .type = ty},
    IG_ERROR_MAP(IG_ERROR_ROW)
#undef IG_ERROR_ROW
};

int ig_error_kind_status(ig_errkind_t kind)
{
    return kind > IG_E_NONE && kind < IG_E_COUNT ? table[kind].status : 500;
}

const char *ig_error_kind_type(ig_errkind_t kind)
{
    return kind > IG_E_NONE && kind < IG_E_COUNT ? table[kind].type : table[IG_E_INTERNAL].type;
}

int ig_error_set(ig_error_t *err, ig_errkind_t kind, const char *fmt, ...)
{
    if (!err) return -1;
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}
