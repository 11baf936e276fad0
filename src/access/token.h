/* token — the access-token format (DESIGN.md section 3), pure functions:
 *   igt_ + 32 base62 characters from the CSPRNG (~190 bits) + 6 base62 characters of CRC-32 over the rest.
 * The checksum lets a typo or a truncated paste be rejected without touching the token table, and the fixed
 * prefix lets secret scanners recognise a leaked token.  Only SHA-256 of the whole token is ever stored. */
#ifndef IG_TOKEN_H
#define IG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define IG_TOKEN_PREFIX "igt_"
#define IG_TOKEN_RANDOM_LEN 32
#define IG_TOKEN_CRC_LEN 6
#define IG_TOKEN_LEN (4 + IG_TOKEN_RANDOM_LEN + IG_TOKEN_CRC_LEN) /* 42 */
#define IG_TOKEN_DISPLAY_LEN 8                                     /* "igt_" + 4 random characters */

typedef enum {
    IG_TOKEN_OK = 0,
    IG_TOKEN_BAD_PREFIX,
    IG_TOKEN_BAD_LENGTH,
    IG_TOKEN_BAD_CHARS,
    IG_TOKEN_BAD_CHECKSUM,
} ig_token_check_t;

/* Mints a new token into out (IG_TOKEN_LEN chars + NUL). */
void ig_token_generate(char out[IG_TOKEN_LEN + 1]);
/* Checks the format of s[0..len) without any lookup: prefix, length, alphabet, checksum. */
ig_token_check_t ig_token_check(const char *s, size_t len);
/* A short English reason for a check result ("bad checksum", ...). */
const char *ig_token_check_str(ig_token_check_t r);
/* SHA-256 of the token bytes. No allocation. */
void ig_token_hash(const char *s, size_t len, uint8_t out[32]);
/* The display prefix "igt_XXXX" (IG_TOKEN_DISPLAY_LEN chars + NUL) of a well-formed token. */
void ig_token_display_prefix(const char *s, char out[IG_TOKEN_DISPLAY_LEN + 1]);

#endif
