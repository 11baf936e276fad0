/* fuzz_token — ig_token_check and ig_token_hash on arbitrary bytes (the first thing a request's token text
 * meets).  Oracle: the check never reads past len, and OK implies the documented shape: igt_ + 38 base62. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_b62(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes so ASan catches any read past the end. */
    char *s = malloc(size ? size : 1);
    if (!s) return 0;
    memcpy(s, data, size);
    ig_token_check_t r = ig_token_check(s, size);
    if (ig_token_check_str(r) == NULL) abort();
    if (r == IG_TOKEN_OK) {
        if (size != IG_TOKEN_LEN || memcmp(s, "igt_", 4) != 0) abort();
        for (size_t i = 4; i < size; i++)
            if (!is_b62((unsigned char)s[i])) abort();
        char prefix[IG_TOKEN_DISPLAY_LEN + 1];
        ig_token_display_prefix(s, prefix);
        if (strlen(prefix) != IG_TOKEN_DISPLAY_LEN) abort();
    }
    uint8_t h1[32], h2[32];
    ig_token_hash(s, size, h1);
    ig_token_hash(s, size, h2);
    if (memcmp(h1, h2, 32) != 0) abort();
    free(s);
    return 0;
}
