/* journal — what a change to a token or a user writes beside itself: its audit entry (DESIGN.md §8, Audit
 * log) and, for the changes a webhook hears of, its event (§8, Events).  This module only builds the rows;
 * the store writes them in the change's own transaction (store.h, ig_journal_t).
 *
 * Audit details say what changed — for an update {"field": {"old": x, "new": y}} per field that moved — and
 * never hold a secret: no token value, no hash, no password.  Events are the JSON the webhook receives:
 * {"id", "type", "at", "token": {"id", "name", "owner", "expiresAt"}, "details"}. */
#ifndef IG_ACCESS_JOURNAL_H
#define IG_ACCESS_JOURNAL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "store/store.h"

/* A journal under construction: the rows and the text they point to.  Zero it (or ig_journal_init), fill it
 * with the functions below, pass ig_journal_get() to the store, then ig_journal_free().  Strings taken from the
 * arguments (principal, rows) are pointed to, not copied: they must outlive the store call. */
typedef struct {
    ig_audit_row_t audit;
    ig_event_row_t event;
    ig_journal_t j;
    char *details, *body;
    char event_id[IG_ID_MAX];
    char name[IG_USER_MAX + 1]; /* a login's user name, copied (client text, cut to a user name's length) */
} ig_jbuild_t;

void ig_journal_init(ig_jbuild_t *b);
/* NULL when nothing was built (so a store call writes nothing). */
const ig_journal_t *ig_journal_get(ig_jbuild_t *b);
void ig_journal_free(ig_jbuild_t *b);

/* A token change by who: action "token.create" (before NULL), "token.update", "token.suspend",
 * "token.activate", "token.rotate", "token.delete"; event_type (NULL: none) also builds that event about `after`. */
void ig_journal_token(ig_jbuild_t *b, const ig_principal_t *who, const char *action, const ig_token_row_t *before,
                      const ig_token_row_t *after, const char *event_type, int64_t now_ms);
/* A user change: action "user.create" or "user.password"; details is taken (may be NULL). */
void ig_journal_user(ig_jbuild_t *b, const ig_principal_t *who, const char *action, const char *user,
                     json_object *details, int64_t now_ms);
/* A console login by the user name given (never the password), from client_ip. */
void ig_journal_login(ig_jbuild_t *b, const char *name, bool ok, const char *reason, const char *client_ip,
                      int64_t now_ms);
/* An event without an audit entry (expiry warnings, rate limiting): type about t, details taken. */
void ig_journal_event(ig_jbuild_t *b, const char *type, const ig_token_row_t *t, json_object *details,
                      int64_t now_ms);

/* The `token` object of an event: {"id","name","owner","expiresAt"}. */
json_object *ig_journal_token_ref(const ig_token_row_t *t);

#endif
