/* users — icegate users (name, role admin|member, argon2id password hash) and the first-start bootstrap. */
#ifndef IG_USERS_H
#define IG_USERS_H

#include <stdbool.h>

#include "store/store.h"

/* On a store with no users, creates `admin` with ICEGATE_ADMIN_PASSWORD, or a generated password printed
 * once on stderr.  Returns 0 or -1. */
int ig_users_bootstrap(ig_store_t *st, ig_error_t *err);
/* Creates a user; name is 1..64 of [A-Za-z0-9._-], password at least 8 characters.  400/409 on error. */
/* The creation is audited (user.create) as who's (NULL: the system, e.g. the first start's bootstrap). */
int ig_users_create(ig_store_t *st, const ig_principal_t *who, const char *name, ig_role_t role,
                    const char *password, ig_error_t *err);
/* Checks a password; 0 with *out filled when it matches, -1 otherwise (same answer for unknown users). */
int ig_users_verify(ig_store_t *st, const char *name, const char *password, ig_user_t *out);
/* The role of a user; members when unknown. */
ig_role_t ig_users_role(ig_store_t *st, const char *name);

#endif
