/* token — see token.h. */
/* The one-shot SHA256() of OpenSSL 3 goes through EVP fetching (locks, allocation); the low-level
 * SHA256_Init/Update/Final context lives on the stack and costs ~0.2 µs for a token, so use it. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "access/token.h"

#include <openssl/sha.h>
#include <string.h>

#include "core/util.h"

static void crc_base62(const char *s, size_t len, char out[IG_TOKEN_CRC_LEN])
{
    uint32_t c = ig_crc32(s, len);
    for (int i = IG_TOKEN_CRC_LEN - 1; i >= 0; i--) {
        out[i] = ig_base62_alphabet[c % 62];
        c /= 62;
    }
}

void ig_token_generate(char out[IG_TOKEN_LEN + 1])
{
    memcpy(out, IG_TOKEN_PREFIX, 4);
    ig_random_base62(out + 4, IG_TOKEN_RANDOM_LEN);
    crc_base62(out, 4 + IG_TOKEN_RANDOM_LEN, out + 4 + IG_TOKEN_RANDOM_LEN);
    out[IG_TOKEN_LEN] = '\0';
}

static int is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

ig_token_check_t ig_token_check(const char *s, size_t len)
{
    if (len < 4 || memcmp(s, IG_TOKEN_PREFIX, 4) != 0) return IG_TOKEN_BAD_PREFIX;
    if (len != IG_TOKEN_LEN) return IG_TOKEN_BAD_LENGTH;
    for (size_t i = 4; i < len; i++)
        if (!is_base62(s[i])) return IG_TOKEN_BAD_CHARS;
    char crc[IG_TOKEN_CRC_LEN];
    crc_base62(s, 4 + IG_TOKEN_RANDOM_LEN, crc);
    if (memcmp(crc, s + 4 + IG_TOKEN_RANDOM_LEN, IG_TOKEN_CRC_LEN) != 0) return IG_TOKEN_BAD_CHECKSUM;
    return IG_TOKEN_OK;
}

const char *ig_token_check_str(ig_token_check_t r)
{
    switch (r) {
    case IG_TOKEN_OK: return "ok";
    case IG_TOKEN_BAD_PREFIX: return "it does not start with igt_";
    case IG_TOKEN_BAD_LENGTH: return "wrong length";
    case IG_TOKEN_BAD_CHARS: return "characters outside base62";
    case IG_TOKEN_BAD_CHECKSUM: return "bad checksum";
    }
    return "malformed";
}

void ig_token_hash(const char *s, size_t len, uint8_t out[32])
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, s, len);
    SHA256_Final(out, &ctx);
}

void ig_token_display_prefix(const char *s, char out[IG_TOKEN_DISPLAY_LEN + 1])
{
    memcpy(out, s, IG_TOKEN_DISPLAY_LEN);
    out[IG_TOKEN_DISPLAY_LEN] = '\0';
}
