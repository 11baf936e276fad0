/* users — see users.h.  Password hashes are argon2id (RFC 9106) in the encoded string form, with the
 * OWASP-recommended cost (19 MiB, 2 passes). */
#include "access/users.h"
#include "core/clock.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/journal.h"
#include "core/log.h"
#include "core/util.h"

#define T_COST 2
#define M_COST 19456
#define PARALLEL 1

static int hash_password(const char *pw, char *out, size_t cap)
{
    unsigned char salt[16];
    ig_random_bytes(salt, sizeof salt);
    return argon2id_hash_encoded(T_COST, M_COST, PARALLEL, pw, strlen(pw), salt, sizeof salt, 32, out, cap) ==
                   ARGON2_OK
               ? 0
               : -1;
}

int ig_users_create(ig_store_t *st, const ig_principal_t *who, const char *name, ig_role_t role,
                    const char *password, ig_error_t *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > IG_USER_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "name: must be 1 to %d characters", IG_USER_MAX);
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return ig_error_set(err, IG_E_BAD_REQUEST, "name: only letters, digits, '.', '_' and '-'");
    if (!password || strlen(password) < 8 || strlen(password) > 1024)
        return ig_error_set(err, IG_E_BAD_REQUEST, "password: must be 8 to 1024 characters");
    ig_user_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    u.role = role;
    u.created_at_ms = ig_clock_wall_ms();
    if (hash_password(password, u.password_hash, sizeof u.password_hash))
        return ig_error_set(err, IG_E_INTERNAL, "cannot hash the password");
    json_object *d = json_object_new_object();
    json_object_object_add(d, "role", json_object_new_string(role == IG_ROLE_ADMIN ? "admin" : "member"));
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_user(&jb, who, "user.create", u.name, d, u.created_at_ms);
    int rc = st->ops->user_insert(st, &u, ig_journal_get(&jb), err);
    ig_journal_free(&jb);
    explicit_bzero(u.password_hash, sizeof u.password_hash);
    return rc;
}

int ig_users_bootstrap(ig_store_t *st, ig_error_t *err)
{
    int64_t n = 0;
    if (st->ops->user_count(st, &n, err)) return -1;
    if (n > 0) return 0;
    const char *pw = getenv("ICEGATE_ADMIN_PASSWORD");
    char gen[25];
    bool generated = !pw || !*pw;
    if (generated) {
        ig_random_base62(gen, 24);
        pw = gen;
    }
    int rc = ig_users_create(st, NULL, "admin", IG_ROLE_ADMIN, pw, err);
    if (rc == -1 && ig_error_status(err) == 409) return 0; /* another process bootstrapped first */
    if (rc) return -1;
    if (generated)
        fprintf(stderr,
                "\n  Created the first user: admin / %s\n"
                "  (shown once; set ICEGATE_ADMIN_PASSWORD before the first start to choose it)\n\n",
                gen);
    else
        ig_info("created the first user 'admin' with the password from ICEGATE_ADMIN_PASSWORD");
    return 0;
}

int ig_users_verify(ig_store_t *st, const char *name, const char *password, ig_user_t *out)
{
    ig_error_t err;
    /* A fixed dummy hash keeps the time of "no such user" close to "wrong password". */
    static const char dummy[] =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2yDp3Xbq9x0T4Fk5Yy4m7mU8q7o3xqU3b4m0J1Lq0nE";
    int rc = st->ops->user_get(st, name, out, &err);
    if (rc != 0) {
        argon2id_verify(dummy, password, strlen(password));
        return -1;
    }
    return argon2id_verify(out->password_hash, password, strlen(password)) == ARGON2_OK ? 0 : -1;
}

ig_role_t ig_users_role(ig_store_t *st, const char *name)
{
    ig_user_t u;
    ig_error_t err;
    return st->ops->user_get(st, name, &u, &err) == 0 ? u.role : IG_ROLE_MEMBER;
}
