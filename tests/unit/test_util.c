/* test_util — RFC 3339 times, durations, checked integer parsing, bounded copies, CSPRNG base62, UUIDs,
 * CRC-32. Expected instants are written out as literals computed outside icegate (Python datetime), not
 * derived from the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/util.h"
#include "core/clock.h"

#define DAY_MS 86400000LL
/* 2027-01-31T00:00:00Z */
#define T2027 1801353600000LL

static int64_t parse_ok(const char *s)
{
    int64_t ms = 0x5a5a5a5a;
    if (ig_rfc3339_parse(s, &ms) != 0) fail_msg("rfc3339 rejected \"%s\"", s);
    return ms;
}

static void parse_bad(const char *s)
{
    int64_t ms = 0;
    if (ig_rfc3339_parse(s, &ms) == 0)
        fail_msg("rfc3339 accepted \"%s\" as %lld", s ? s : "(null)", (long long)ms);
}

/* ---- RFC 3339 parse ---- */

static void test_rfc3339_parse_utc(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2027-01-31T00:00:00Z"), T2027);
    assert_int_equal(parse_ok("2027-01-31T13:45:07Z"), T2027 + (13 * 3600 + 45 * 60 + 7) * 1000LL);
    assert_int_equal(parse_ok("2000-02-29T12:34:56.789Z"), 951827696789LL);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1000);
    assert_int_equal(parse_ok("1969-12-31T23:59:59.999Z"), -1);
    assert_int_equal(parse_ok("1900-01-01T00:00:00Z"), -2208988800000LL);
    assert_int_equal(parse_ok("2038-01-19T03:14:08Z"), 2147483648000LL); /* past 32-bit time_t */
    assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), 253402300799000LL);
    /* RFC 3339 5.6 allows lower-case t/z and a space separator. */
    assert_int_equal(parse_ok("2027-01-31t00:00:00z"), T2027);
    assert_int_equal(parse_ok("2027-01-31 00:00:00Z"), T2027);
}

static void test_rfc3339_parse_offsets(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2027-01-31T02:00:00+02:00"), T2027);
    assert_int_equal(parse_ok("2027-01-30T18:30:00-05:30"), T2027);
    assert_int_equal(parse_ok("2027-01-31T00:00:00+00:00"), T2027);
    assert_int_equal(parse_ok("2027-01-31T00:00:00-00:00"), T2027);
    assert_int_equal(parse_ok("2027-01-31T05:45:00+05:45"), T2027);
    /* An offset crossing the day/month/year boundary. */
    assert_int_equal(parse_ok("2027-01-01T01:00:00+02:00"), parse_ok("2026-12-31T23:00:00Z"));
    assert_int_equal(parse_ok("2026-12-31T23:00:00-01:00"), parse_ok("2027-01-01T00:00:00Z"));
    assert_int_equal(parse_ok("2027-01-31T02:00:00.250+02:00"), T2027 + 250);
}

static void test_rfc3339_parse_fraction(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2027-01-31T00:00:00.5Z"), T2027 + 500);
    assert_int_equal(parse_ok("2027-01-31T00:00:00.05Z"), T2027 + 50);
    assert_int_equal(parse_ok("2027-01-31T00:00:00.005Z"), T2027 + 5);
    assert_int_equal(parse_ok("2027-01-31T00:00:00.123Z"), T2027 + 123);
    assert_int_equal(parse_ok("2027-01-31T00:00:00.000Z"), T2027);
    /* Beyond milliseconds: truncated (never rounded up into the next second). */
    assert_int_equal(parse_ok("2027-01-31T00:00:00.123456Z"), T2027 + 123);
    assert_int_equal(parse_ok("2027-01-31T00:00:00.999999999Z"), T2027 + 999);
    parse_bad("2027-01-31T00:00:00.Z");
    parse_bad("2027-01-31T00:00:00.");
    parse_bad("2027-01-31T00:00:00,5Z");
}

static void test_rfc3339_parse_date_only(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2027-01-31"), T2027);
    assert_int_equal(parse_ok("1970-01-01"), 0);
    assert_int_equal(parse_ok("2024-02-29"), parse_ok("2024-02-29T00:00:00Z"));
    assert_int_equal(parse_ok("2027-02-01") - parse_ok("2027-01-31"), DAY_MS);
}

static void test_rfc3339_calendar(void **state)
{
    (void)state;
    parse_bad("2027-13-01T00:00:00Z");
    parse_bad("2027-00-10T00:00:00Z");
    parse_bad("2027-01-00T00:00:00Z");
    parse_bad("2027-01-32T00:00:00Z");
    parse_bad("2027-02-30T00:00:00Z");
    parse_bad("2027-02-30");
    parse_bad("2027-02-29T00:00:00Z"); /* 2027 is not a leap year */
    parse_bad("2027-02-29");
    parse_bad("1900-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
    parse_bad("2100-02-29");
    parse_bad("2027-04-31T00:00:00Z");
    parse_bad("2027-06-31T00:00:00Z");
    parse_bad("2027-09-31T00:00:00Z");
    parse_bad("2027-11-31T00:00:00Z");
    (void)parse_ok("2024-02-29T00:00:00Z");
    (void)parse_ok("2000-02-29T00:00:00Z");
    (void)parse_ok("2027-12-31T23:59:59Z");
    /* Consecutive days are exactly one day apart across month and leap boundaries. */
    assert_int_equal(parse_ok("2024-03-01") - parse_ok("2024-02-29"), DAY_MS);
    assert_int_equal(parse_ok("2023-03-01") - parse_ok("2023-02-28"), DAY_MS);
    assert_int_equal(parse_ok("2000-03-01") - parse_ok("2000-02-28"), 2 * DAY_MS);
    assert_int_equal(parse_ok("1900-03-01") - parse_ok("1900-02-28"), DAY_MS);
    assert_int_equal(parse_ok("2028-01-01") - parse_ok("2027-01-01"), 365 * DAY_MS);
    assert_int_equal(parse_ok("2029-01-01") - parse_ok("2028-01-01"), 366 * DAY_MS);
    /* Leap second: accepted, clamped to :59. */
    assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), parse_ok("2016-12-31T23:59:59Z"));
}

static void test_rfc3339_parse_invalid(void **state)
{
    (void)state;
    parse_bad(NULL);
    parse_bad("");
    parse_bad("2027");
    parse_bad("2027-01");
    parse_bad("2027-01-31T");
    parse_bad("2027-01-31T00");
    parse_bad("2027-01-31T00:00");
    parse_bad("2027-01-31T00:00:00");   /* no zone */
    parse_bad("2027-01-31T00:00:00Zx"); /* trailing junk */
    parse_bad("2027-01-31T00:00:00Z ");
    parse_bad("2027-01-31x");
    parse_bad("2027-01-31Z");
    parse_bad("2027-01-31T00:00:00+02:00x");
    parse_bad("2027-01-31T00:00:00+02");
    parse_bad("2027-01-31T00:00:00+0200");
    parse_bad("2027-01-31T00:00:00+2:00");
    parse_bad("2027-01-31T00:00:00+24:00");
    parse_bad("2027-01-31T00:00:00+02:60");
    parse_bad("2027-01-31T24:00:00Z");
    parse_bad("2027-01-31T23:60:00Z");
    parse_bad("2027-01-31T23:59:61Z");
    parse_bad("2027-1-31T00:00:00Z");
    parse_bad("27-01-31T00:00:00Z");
    parse_bad("+2027-01-31T00:00:00Z");
    parse_bad(" 2027-01-31T00:00:00Z");
    parse_bad("2027/01/31");
    parse_bad("2027-01-31T0a:00:00Z");
    parse_bad("30d");
    parse_bad("now");
}

/* ---- RFC 3339 format ---- */

static void test_rfc3339_format(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(ig_rfc3339_format(0, b, sizeof b), 20);
    assert_string_equal(b, "1970-01-01T00:00:00Z");
    ig_rfc3339_format(T2027, b, sizeof b);
    assert_string_equal(b, "2027-01-31T00:00:00Z");
    assert_int_equal(ig_rfc3339_format(951827696789LL, b, sizeof b), 24);
    assert_string_equal(b, "2000-02-29T12:34:56.789Z");
    ig_rfc3339_format(T2027 + 50, b, sizeof b);
    assert_string_equal(b, "2027-01-31T00:00:00.050Z");
    ig_rfc3339_format(T2027 + 1, b, sizeof b);
    assert_string_equal(b, "2027-01-31T00:00:00.001Z");
    /* Before the epoch: floor, not truncation toward zero. */
    ig_rfc3339_format(-1, b, sizeof b);
    assert_string_equal(b, "1969-12-31T23:59:59.999Z");
    ig_rfc3339_format(-1000, b, sizeof b);
    assert_string_equal(b, "1969-12-31T23:59:59Z");
    ig_rfc3339_format(-1001, b, sizeof b);
    assert_string_equal(b, "1969-12-31T23:59:58.999Z");
    ig_rfc3339_format(2147483648000LL, b, sizeof b);
    assert_string_equal(b, "2038-01-19T03:14:08Z");
    /* "cap >= 32 is always enough" */
    char small[32];
    int n = ig_rfc3339_format(253402300799999LL, small, sizeof small);
    assert_string_equal(small, "9999-12-31T23:59:59.999Z");
    assert_int_equal(n, (int)strlen(small));
    /* Short buffer: still NUL-terminated, no overrun. */
    char tiny[12];
    memset(tiny, '#', sizeof tiny);
    ig_rfc3339_format(T2027, tiny, 8);
    assert_string_equal(tiny, "2027-01");
    assert_int_equal(tiny[8], '#');
}

static void test_rfc3339_round_trip(void **state)
{
    (void)state;
    char b[64];
    /* ms -> string -> ms over ~1900..2100, both whole seconds and fractions. */
    for (int i = 0; i < 20000; i++) {
        uint64_t r;
        ig_random_bytes(&r, sizeof r);
        int64_t ms = (int64_t)(r % 6311433600000ULL) - 2208988800000LL;
        if (i % 3 == 0) ms -= ((ms % 1000) + 1000) % 1000;
        ig_rfc3339_format(ms, b, sizeof b);
        int64_t back;
        if (ig_rfc3339_parse(b, &back) != 0) fail_msg("cannot parse own output %s", b);
        if (back != ms) fail_msg("%lld -> %s -> %lld", (long long)ms, b, (long long)back);
    }
    /* string -> ms -> string for canonical strings. */
    const char *canon[] = {"2027-01-31T00:00:00Z", "1999-12-31T23:59:59.999Z", "2024-02-29T06:07:08.100Z",
                           "1969-07-20T20:17:40Z", "2100-03-01T00:00:00.001Z"};
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        ig_rfc3339_format(parse_ok(canon[i]), b, sizeof b);
        assert_string_equal(b, canon[i]);
    }
    /* Offsets normalise to Z. */
    ig_rfc3339_format(parse_ok("2027-01-31T07:30:00.5+05:30"), b, sizeof b);
    assert_string_equal(b, "2027-01-31T02:00:00.500Z");
}

static void test_wall_ms(void **state)
{
    (void)state;
    int64_t a = ig_clock_wall_ms();
    int64_t now = (int64_t)time(NULL) * 1000;
    assert_true(a > now - 2000 && a < now + 2000);
    assert_true(ig_clock_wall_ms() >= a);
}

/* ---- durations ---- */

static int64_t dur_ok(const char *s)
{
    int64_t ms = -42;
    if (ig_duration_parse(s, &ms) != 0) fail_msg("duration rejected \"%s\"", s);
    return ms;
}

static void dur_bad(const char *s)
{
    int64_t ms = -42;
    if (ig_duration_parse(s, &ms) == 0)
        fail_msg("duration accepted \"%s\" as %lld", s ? s : "(null)", (long long)ms);
}

static void test_duration(void **state)
{
    (void)state;
    assert_int_equal(dur_ok("30d"), 30 * DAY_MS);
    assert_int_equal(dur_ok("12h"), 12 * 3600000LL);
    assert_int_equal(dur_ok("15m"), 15 * 60000LL);
    assert_int_equal(dur_ok("45s"), 45000);
    assert_int_equal(dur_ok("2w"), 14 * DAY_MS);
    assert_int_equal(dur_ok("1s"), 1000);
    assert_int_equal(dur_ok("365d"), 365 * DAY_MS);
    assert_int_equal(dur_ok("100000w"), 100000 * 7 * DAY_MS);
    assert_int_equal(dur_ok("030d"), 30 * DAY_MS);
}

static void test_duration_invalid(void **state)
{
    (void)state;
    dur_bad(NULL);
    dur_bad("");
    dur_bad("0d");
    dur_bad("0s");
    dur_bad("-1d");
    dur_bad("d");
    dur_bad("10x");
    dur_bad("10dd");
    dur_bad("10");
    dur_bad("10 d");
    dur_bad("10d ");
    dur_bad(" 10d");
    dur_bad("\t10d");
    dur_bad("\n10d");
    dur_bad("+10d");
    dur_bad("1.5h");
    dur_bad("1h30m");
    dur_bad("0x10d");
    dur_bad("10ms");
    dur_bad("99999999999999999999d"); /* strtoll overflow */
    dur_bad("9223372036854775807s");  /* fits in long long, not once in ms */
    dur_bad("2027-01-31T00:00:00Z");
}

/* ---- ig_parse_i64 ---- */

static void i64_ok(const char *s, int64_t min, int64_t max, int64_t want)
{
    int64_t v = 0;
    if (ig_parse_i64(s, min, max, &v) != 0) fail_msg("parse_i64 rejected \"%s\"", s);
    assert_int_equal(v, want);
}

static void i64_bad(const char *s, int64_t min, int64_t max)
{
    int64_t v = 0;
    if (ig_parse_i64(s, min, max, &v) == 0)
        fail_msg("parse_i64 accepted \"%s\" as %lld", s ? s : "(null)", (long long)v);
}

static void test_parse_i64(void **state)
{
    (void)state;
    i64_ok("0", 0, 10, 0);
    i64_ok("10", 0, 10, 10);
    i64_ok("5", 5, 5, 5);
    i64_ok("-3", -5, 5, -3);
    i64_ok("007", 0, 10, 7);
    i64_ok("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
    i64_ok("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);
    i64_bad("11", 0, 10);
    i64_bad("-1", 0, 10);
    i64_bad("4", 5, 5);
    i64_bad("9223372036854775808", INT64_MIN, INT64_MAX);
    i64_bad("-9223372036854775809", INT64_MIN, INT64_MAX);
    i64_bad("99999999999999999999999", 0, INT64_MAX);
    i64_bad(NULL, 0, 10);
    i64_bad("", 0, 10);
    i64_bad("-", -10, 10);
    i64_bad("a", 0, 10);
    i64_bad("1a", 0, 10);
    i64_bad("a1", 0, 10);
    i64_bad("1.0", 0, 10);
    i64_bad("1e1", 0, 100);
    i64_bad("0x5", 0, 10);
    i64_bad("+5", 0, 10);
    i64_bad(" 5", 0, 10);
    i64_bad("5 ", 0, 10);
    i64_bad("\t5", 0, 10);
    i64_bad("\n5", 0, 10);
    i64_bad("--5", -10, 10);
    i64_bad("- 5", -10, 10);
}

/* ---- ig_strlcpy ---- */

static void test_strlcpy(void **state)
{
    (void)state;
    char b[16];
    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "abc", 4), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(b[4], '#');

    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "abcd", 4), -1);
    assert_string_equal(b, "abc");
    assert_int_equal(b[4], '#');

    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "hello world", 6), -1);
    assert_string_equal(b, "hello");
    for (int i = 6; i < 16; i++)
        assert_int_equal(b[i], '#');

    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "x", 1), -1);
    assert_string_equal(b, "");
    assert_int_equal(b[1], '#');

    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "", 1), 0);
    assert_string_equal(b, "");

    memset(b, '#', sizeof b);
    assert_int_equal(ig_strlcpy(b, "abc", 0), -1);
    assert_int_equal(b[0], '#');

    assert_int_equal(ig_strlcpy(b, "0123456789abcde", sizeof b), 0);
    assert_string_equal(b, "0123456789abcde");
    assert_int_equal(ig_strlcpy(b, "0123456789abcdef", sizeof b), -1);
    assert_string_equal(b, "0123456789abcde");
}

/* ---- randomness ---- */

static void test_random_base62_distribution(void **state)
{
    (void)state;
    enum { N = 100000 };
    char *s = malloc(N + 2);
    assert_non_null(s);
    s[N + 1] = '#';
    ig_random_base62(s, N);
    assert_int_equal(s[N], '\0');
    assert_int_equal(s[N + 1], '#');
    long count[256] = {0};
    for (int i = 0; i < N; i++)
        count[(unsigned char)s[i]]++;
    int distinct = 0;
    for (int c = 0; c < 256; c++) {
        if (!count[c]) continue;
        if (!memchr(ig_base62_alphabet, c, 62)) fail_msg("symbol 0x%02x outside base62", c);
        distinct++;
        /* Expected 1613 each, sd ~40: +-15% is > 6 sd, yet catches a modulo bias (+25% on 8 symbols). */
        if (count[c] < 1371 || count[c] > 1855)
            fail_msg("symbol %c appeared %ld times of %d", c, count[c], N);
    }
    assert_int_equal(distinct, 62);
    /* Not stuck: two draws differ. */
    char a[33], b[33];
    ig_random_base62(a, 32);
    ig_random_base62(b, 32);
    assert_string_not_equal(a, b);
    /* n == 0 just terminates. */
    a[0] = 'x';
    ig_random_base62(a, 0);
    assert_int_equal(a[0], '\0');
    free(s);
}

static void test_base62_alphabet(void **state)
{
    (void)state;
    assert_int_equal(strlen(ig_base62_alphabet), 62);
    for (int i = 0; i < 62; i++)
        for (int j = 0; j < i; j++)
            assert_true(ig_base62_alphabet[i] != ig_base62_alphabet[j]);
    assert_string_equal(ig_base62_alphabet, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    ig_random_bytes(a, sizeof a);
    ig_random_bytes(b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    ig_random_bytes(a, 0);
}

static int is_lhex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int cmp37(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static void test_uuid4(void **state)
{
    (void)state;
    enum { N = 1000 };
    char(*u)[37] = calloc(N, sizeof *u);
    assert_non_null(u);
    int variant[256] = {0}, nib15[256] = {0};
    for (int i = 0; i < N; i++) {
        ig_uuid4(u[i]);
        assert_int_equal(strlen(u[i]), 36);
        for (int j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(u[i][j], '-');
            else if (!is_lhex(u[i][j]))
                fail_msg("uuid %s: char %d is not lower-case hex", u[i], j);
        }
        assert_int_equal(u[i][14], '4'); /* version */
        char v = u[i][19];               /* variant 10xx */
        assert_true(v == '8' || v == '9' || v == 'a' || v == 'b');
        variant[(unsigned char)v]++;
        nib15[(unsigned char)u[i][15]]++;
    }
    /* The variant keeps its two random bits; the nibble after the version is fully random. */
    assert_true(variant['8'] && variant['9'] && variant['a'] && variant['b']);
    int d = 0;
    for (int c = 0; c < 256; c++)
        d += nib15[c] != 0;
    assert_int_equal(d, 16);
    qsort(u, N, sizeof *u, cmp37);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(u[i - 1], u[i]);
    free(u);
}

/* ---- CRC-32 ---- */

static uint32_t crc32_bitwise(const unsigned char *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(ig_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(ig_crc32("", 0), 0);
    assert_int_equal(ig_crc32("a", 1), 0xE8B7BE43u);
    unsigned char buf[1024];
    for (int len = 0; len <= 1024; len += 37) {
        ig_random_bytes(buf, sizeof buf);
        assert_int_equal(ig_crc32(buf, (size_t)len), crc32_bitwise(buf, (size_t)len));
    }
    /* All byte values, including the high ones (sign-extension mistakes). */
    for (int i = 0; i < 256; i++)
        buf[i] = (unsigned char)(255 - i);
    assert_int_equal(ig_crc32(buf, 256), crc32_bitwise(buf, 256));
}

/* ig_buf_json_string: what json-c would parse back to the same bytes. */
static void test_buf_json_string(void **state)
{
    (void)state;
    ig_buf_t b;
    assert_int_equal(ig_buf_init(&b, 4), 0);
    const char in[] = "a\"b\\c\x01\x1f d/\xc3\xa9";
    ig_buf_json_string(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u0001\\u001f d/\xc3\xa9\"");
    json_object *o = json_tokener_parse(b.data);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(o), in);
    json_object_put(o);
    ig_buf_json_string(&b, "", 0); /* appends "" */
    assert_int_equal(b.data[b.len - 1], '"');
    assert_int_equal(b.data[b.len - 2], '"');
    ig_buf_free(&b);
}

static void test_utf8_len(void **state)
{
    (void)state;
    const unsigned char *u = (const unsigned char *)"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    assert_int_equal(ig_utf8_len(u, 10), 1);
    assert_int_equal(ig_utf8_len(u + 1, 9), 2);
    assert_int_equal(ig_utf8_len(u + 3, 7), 3);
    assert_int_equal(ig_utf8_len(u + 6, 4), 4);
    assert_int_equal(ig_utf8_len(u + 1, 1), 0);                                  /* cut short */
    assert_int_equal(ig_utf8_len((const unsigned char *)"\xa9", 1), 0);          /* stray continuation */
    assert_int_equal(ig_utf8_len((const unsigned char *)"\xc0\x80", 2), 0);      /* overlong NUL */
    assert_int_equal(ig_utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0);  /* a surrogate */
    assert_int_equal(ig_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(ig_utf8_len(u, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_parse_utc),
        cmocka_unit_test(test_rfc3339_parse_offsets),
        cmocka_unit_test(test_rfc3339_parse_fraction),
        cmocka_unit_test(test_rfc3339_parse_date_only),
        cmocka_unit_test(test_rfc3339_calendar),
        cmocka_unit_test(test_rfc3339_parse_invalid),
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_round_trip),
        cmocka_unit_test(test_wall_ms),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_random_base62_distribution),
        cmocka_unit_test(test_base62_alphabet),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_buf_json_string),
        cmocka_unit_test(test_utf8_len),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
