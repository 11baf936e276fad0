/* test_token — the access-token format of DESIGN.md section 3: igt_ + 32 base62 (CSPRNG) + 6 base62 of
 * CRC-32. The checksum and the hash are checked against independent implementations and published vectors, so
 * a change to the wire format (encoding order, CRC variant, what the CRC covers) fails here before it
 * invalidates every token already handed out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "access/token.h"
#include "core/util.h"

static int is_b62(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Bitwise CRC-32 (IEEE, reflected, poly 0xEDB88320), deliberately not table driven so it shares no code
 * with ig_crc32. */
static uint32_t crc32_bitwise(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Six base62 digits, most significant first (62^6 > 2^32, so the value always fits). */
static void b62_6(uint32_t v, char out[6])
{
    static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 5; i >= 0; i--) {
        out[i] = a[v % 62];
        v /= 62;
    }
}

static ig_token_check_t check(const char *s)
{
    return ig_token_check(s, strlen(s));
}

/* ---- generate ---- */

static void test_generate_is_well_formed(void **state)
{
    (void)state;
    char t[IG_TOKEN_LEN + 1];
    ig_token_generate(t);
    assert_int_equal(strlen(t), 42);
    assert_int_equal(IG_TOKEN_LEN, 42);
    assert_memory_equal(t, "igt_", 4);
    assert_int_equal(ig_token_check(t, strlen(t)), IG_TOKEN_OK);
    /* The last six characters are the CRC-32 of the first 36, computed independently here. */
    char want[6];
    b62_6(crc32_bitwise(t, 36), want);
    assert_memory_equal(t + 36, want, 6);
}

static int cmp_tok(const void *a, const void *b)
{
    return memcmp(a, b, IG_TOKEN_LEN + 1);
}

static void test_generate_1000_distinct(void **state)
{
    (void)state;
    enum { N = 1000 };
    char(*t)[IG_TOKEN_LEN + 1] = calloc(N, sizeof *t);
    assert_non_null(t);
    int seen[256] = {0};
    for (int i = 0; i < N; i++) {
        memset(t[i], 0x7f, sizeof t[i]);
        ig_token_generate(t[i]);
        assert_int_equal(t[i][IG_TOKEN_LEN], '\0');
        assert_int_equal(strlen(t[i]), IG_TOKEN_LEN);
        assert_memory_equal(t[i], IG_TOKEN_PREFIX, 4);
        for (int j = 4; j < IG_TOKEN_LEN; j++) {
            assert_true(is_b62((unsigned char)t[i][j]));
            if (j < 4 + IG_TOKEN_RANDOM_LEN) seen[(unsigned char)t[i][j]]++;
        }
        assert_int_equal(ig_token_check(t[i], IG_TOKEN_LEN), IG_TOKEN_OK);
    }
    qsort(t, N, sizeof *t, cmp_tok);
    for (int i = 1; i < N; i++)
        assert_true(memcmp(t[i - 1], t[i], IG_TOKEN_LEN) != 0);
    /* 32 000 random characters: every one of the 62 symbols shows up (expected ~516 each). */
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        if (seen[c]) {
            assert_true(is_b62((unsigned char)c));
            assert_true(seen[c] > 300 && seen[c] < 750);
            distinct++;
        }
    assert_int_equal(distinct, 62);
    free(t);
}

/* ---- check: rejections ---- */

static void test_check_bad_prefix(void **state)
{
    (void)state;
    char t[IG_TOKEN_LEN + 1];
    ig_token_generate(t);
    assert_int_equal(check(""), IG_TOKEN_BAD_PREFIX);
    assert_int_equal(check("ig"), IG_TOKEN_BAD_PREFIX);
    assert_int_equal(check("igt"), IG_TOKEN_BAD_PREFIX);
    assert_int_equal(ig_token_check(t, 0), IG_TOKEN_BAD_PREFIX);
    assert_int_equal(ig_token_check(t, 3), IG_TOKEN_BAD_PREFIX);
    const char *bad[] = {"igx_", "IGT_", "igt-", "xgt_", "_igt", " igt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char u[IG_TOKEN_LEN + 1];
        memcpy(u, t, sizeof u);
        memcpy(u, bad[i], 4);
        assert_int_equal(check(u), IG_TOKEN_BAD_PREFIX);
        /* only the prefix (no length) */
        assert_int_equal(check(bad[i]), IG_TOKEN_BAD_PREFIX);
    }
}

static void test_check_bad_length(void **state)
{
    (void)state;
    char t[IG_TOKEN_LEN + 2];
    ig_token_generate(t);
    assert_int_equal(check("igt_"), IG_TOKEN_BAD_LENGTH);
    assert_int_equal(ig_token_check(t, 41), IG_TOKEN_BAD_LENGTH);
    assert_int_equal(ig_token_check(t, 5), IG_TOKEN_BAD_LENGTH);
    assert_int_equal(ig_token_check(t, 36), IG_TOKEN_BAD_LENGTH);
    t[42] = 'A';
    t[43] = '\0';
    assert_int_equal(ig_token_check(t, 43), IG_TOKEN_BAD_LENGTH);
    /* The same 42 bytes with a trailing extra character given by len: still checked on len, not NUL. */
    assert_int_equal(ig_token_check(t, 42), IG_TOKEN_OK);
}

static void test_check_bad_chars_every_position(void **state)
{
    (void)state;
    /* Non-base62 bytes that a paste, a URL encoder or another base64 alphabet could bring in. */
    static const unsigned char bad[] = {'-',  '_',     '+',     '/',     '=',     ' ',     '.',
                                        '%',  '\0',    '\n',    '\t',    0x7f,    0x80,    0xc3,
                                        0xff, '0' - 1, '9' + 1, 'A' - 1, 'Z' + 1, 'a' - 1, 'z' + 1};
    char t[IG_TOKEN_LEN + 1];
    ig_token_generate(t);
    /* Random part (4..35) and checksum part (36..41), every position, every bad byte. */
    for (int pos = 4; pos < IG_TOKEN_LEN; pos++)
        for (size_t b = 0; b < sizeof bad; b++) {
            char u[IG_TOKEN_LEN + 1];
            memcpy(u, t, sizeof u);
            u[pos] = (char)bad[b];
            assert_int_equal(ig_token_check(u, IG_TOKEN_LEN), IG_TOKEN_BAD_CHARS);
        }
}

static void test_check_single_change_is_bad_checksum(void **state)
{
    (void)state;
    static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int round = 0; round < 20; round++) {
        char t[IG_TOKEN_LEN + 1];
        ig_token_generate(t);
        /* Every position, every other base62 symbol: CRC-32 catches every single-character change, and the
         * checksum characters themselves must match exactly. */
        for (int pos = 4; pos < IG_TOKEN_LEN; pos++)
            for (int k = 0; k < 62; k++) {
                if (a[k] == t[pos]) continue;
                char u[IG_TOKEN_LEN + 1];
                memcpy(u, t, sizeof u);
                u[pos] = a[k];
                assert_int_equal(ig_token_check(u, IG_TOKEN_LEN), IG_TOKEN_BAD_CHECKSUM);
            }
        /* Adjacent transpositions (the typical typo) in the random part. */
        for (int pos = 4; pos < 4 + IG_TOKEN_RANDOM_LEN - 1; pos++) {
            if (t[pos] == t[pos + 1]) continue;
            char u[IG_TOKEN_LEN + 1];
            memcpy(u, t, sizeof u);
            u[pos] = t[pos + 1];
            u[pos + 1] = t[pos];
            assert_int_equal(ig_token_check(u, IG_TOKEN_LEN), IG_TOKEN_BAD_CHECKSUM);
        }
        /* Case flip, as a case-insensitive store or a shouting human would do. */
        for (int pos = 4; pos < IG_TOKEN_LEN; pos++) {
            char c = t[pos];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) continue;
            char u[IG_TOKEN_LEN + 1];
            memcpy(u, t, sizeof u);
            u[pos] = (char)(c ^ 0x20);
            assert_int_equal(ig_token_check(u, IG_TOKEN_LEN), IG_TOKEN_BAD_CHECKSUM);
        }
    }
}

static void test_check_random_flip(void **state)
{
    (void)state;
    for (int round = 0; round < 2000; round++) {
        char t[IG_TOKEN_LEN + 1];
        ig_token_generate(t);
        unsigned char r[2];
        ig_random_bytes(r, sizeof r);
        int pos = 4 + r[0] % (IG_TOKEN_LEN - 4);
        char c = (char)(r[1] ? r[1] : 1);
        if (c == t[pos]) c = (char)(c ^ 1);
        t[pos] = c;
        ig_token_check_t got = ig_token_check(t, IG_TOKEN_LEN);
        assert_int_equal(got, is_b62((unsigned char)c) ? IG_TOKEN_BAD_CHECKSUM : IG_TOKEN_BAD_CHARS);
    }
}

/* ---- check: known vectors ---- */

static void test_crc32_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(crc32_bitwise("123456789", 9), 0xCBF43926u);
    assert_int_equal(ig_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(ig_crc32("", 0), 0u);
    assert_int_equal(ig_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    const char *body = "igt_0123456789ABCDEFGHIJKLMNOPQRSTUV";
    assert_int_equal(strlen(body), 36);
    assert_int_equal(ig_crc32(body, 36), crc32_bitwise(body, 36));
    assert_int_equal(ig_crc32(body, 36), 0x1658d782u); /* zlib.crc32 */
}

static void test_check_known_tokens(void **state)
{
    (void)state;
    /* Checksums computed outside icegate (Python zlib.crc32, base62 most significant digit first). */
    assert_int_equal(check("igt_0123456789ABCDEFGHIJKLMNOPQRSTUV0PN86M"), IG_TOKEN_OK);
    assert_int_equal(check("igt_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz3SOLIx"), IG_TOKEN_OK);
    assert_int_equal(check("igt_000000000000000000000000000000004IMr5N"), IG_TOKEN_OK);
    assert_int_equal(check("igt_0123456789ABCDEFGHIJKLMNOPQRSTUV0PN86N"), IG_TOKEN_BAD_CHECKSUM);
    assert_int_equal(check("igt_0123456789ABCDEFGHIJKLMNOPQRSTUVM68NP0"), IG_TOKEN_BAD_CHECKSUM);
    assert_int_equal(check("igt_1123456789ABCDEFGHIJKLMNOPQRSTUV0PN86M"), IG_TOKEN_BAD_CHECKSUM);

    /* The same computation done here with the bitwise CRC over random bodies. */
    for (int i = 0; i < 200; i++) {
        char t[IG_TOKEN_LEN + 1];
        memcpy(t, "igt_", 4);
        ig_random_base62(t + 4, IG_TOKEN_RANDOM_LEN);
        b62_6(crc32_bitwise(t, 36), t + 36);
        t[42] = '\0';
        assert_int_equal(ig_token_check(t, 42), IG_TOKEN_OK);
    }
}

static void test_check_str(void **state)
{
    (void)state;
    const ig_token_check_t all[] = {IG_TOKEN_OK, IG_TOKEN_BAD_PREFIX, IG_TOKEN_BAD_LENGTH, IG_TOKEN_BAD_CHARS,
                                    IG_TOKEN_BAD_CHECKSUM};
    for (size_t i = 0; i < 5; i++) {
        const char *s = ig_token_check_str(all[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, ig_token_check_str(all[j]));
    }
    assert_non_null(strstr(ig_token_check_str(IG_TOKEN_BAD_CHECKSUM), "checksum"));
    assert_non_null(ig_token_check_str((ig_token_check_t)99));
}

/* ---- hash and display prefix ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = "0123456789abcdef"[b[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void test_hash_sha256_vectors(void **state)
{
    (void)state;
    uint8_t h[32];
    char x[65];
    ig_token_hash("abc", 3, h);
    hex(h, 32, x);
    assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ig_token_hash("", 0, h);
    hex(h, 32, x);
    assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ig_token_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
    hex(h, 32, x);
    assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* Only len bytes are hashed. */
    ig_token_hash("abcdef", 3, h);
    hex(h, 32, x);
    assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hash_distinguishes_tokens(void **state)
{
    (void)state;
    char a[IG_TOKEN_LEN + 1], b[IG_TOKEN_LEN + 1];
    ig_token_generate(a);
    memcpy(b, a, sizeof b);
    b[10] = b[10] == 'A' ? 'B' : 'A';
    uint8_t ha[32], ha2[32], hb[32];
    ig_token_hash(a, IG_TOKEN_LEN, ha);
    ig_token_hash(a, IG_TOKEN_LEN, ha2);
    ig_token_hash(b, IG_TOKEN_LEN, hb);
    assert_memory_equal(ha, ha2, 32);
    assert_memory_not_equal(ha, hb, 32);
}

static void test_display_prefix(void **state)
{
    (void)state;
    char t[IG_TOKEN_LEN + 1];
    ig_token_generate(t);
    char out[IG_TOKEN_DISPLAY_LEN + 8];
    memset(out, '#', sizeof out);
    ig_token_display_prefix(t, out);
    assert_int_equal(IG_TOKEN_DISPLAY_LEN, 8);
    assert_int_equal(strlen(out), 8);
    assert_memory_equal(out, t, 8);
    assert_memory_equal(out, "igt_", 4);
    for (size_t i = IG_TOKEN_DISPLAY_LEN + 1; i < sizeof out; i++)
        assert_int_equal(out[i], '#');
    ig_token_display_prefix("igt_0123456789ABCDEFGHIJKLMNOPQRSTUV0PN86M", out);
    assert_string_equal(out, "igt_0123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_is_well_formed),
        cmocka_unit_test(test_generate_1000_distinct),
        cmocka_unit_test(test_check_bad_prefix),
        cmocka_unit_test(test_check_bad_length),
        cmocka_unit_test(test_check_bad_chars_every_position),
        cmocka_unit_test(test_check_single_change_is_bad_checksum),
        cmocka_unit_test(test_check_random_flip),
        cmocka_unit_test(test_crc32_known_vectors),
        cmocka_unit_test(test_check_known_tokens),
        cmocka_unit_test(test_check_str),
        cmocka_unit_test(test_hash_sha256_vectors),
        cmocka_unit_test(test_hash_distinguishes_tokens),
        cmocka_unit_test(test_display_prefix),
    };
    return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
