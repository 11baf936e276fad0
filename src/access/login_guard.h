/* login_guard — throttles console password guessing, per user name and per client address.
 *
 * Each key (a user name, a client address) has a failure count.  The first IG_LOGIN_FREE failures cost
 * nothing; each one after that blocks the key for twice as long as the one before (1 s, 2 s, 4 s ...,
 * at most IG_LOGIN_MAX_BLOCK_S), and a login attempt for a blocked user or from a blocked address is refused
 * with 429 and Retry-After before any password is checked.  A success clears the user's and the address's
 * counts; a key with no failure for IG_LOGIN_FORGET_S is forgotten.  The table has a fixed number of slots
 * (no allocation per attempt; an attacker cycling through names overwrites only stale or weaker entries),
 * under one mutex: the login path only, never a catalog request. */
#ifndef IG_LOGIN_GUARD_H
#define IG_LOGIN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IG_LOGIN_FREE 5
#define IG_LOGIN_MAX_BLOCK_S 900
#define IG_LOGIN_FORGET_S 900

typedef struct ig_login_guard ig_login_guard_t;

ig_login_guard_t *ig_login_guard_new(void);
void ig_login_guard_free(ig_login_guard_t *g);
/* 0 when user may try from addr (16 bytes, IPv4 mapped; NULL when unknown) at now_ms, else the seconds to
 * wait (>= 1). */
int64_t ig_login_guard_check(ig_login_guard_t *g, const char *user, const unsigned char *addr, int64_t now_ms);
/* Records a failure; returns the user's failure count after it and, in *block_s, the block it now has. */
int ig_login_guard_failed(ig_login_guard_t *g, const char *user, const unsigned char *addr, int64_t now_ms,
                          int64_t *block_s);
/* Records a success: the user's and the address's counts go. */
void ig_login_guard_succeeded(ig_login_guard_t *g, const char *user, const unsigned char *addr);

#endif
