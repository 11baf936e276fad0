/* test_cidr — CIDR parsing, canonical text and matching for allowedCidrs and server.trusted_proxies: IPv4 as
 * IPv4-mapped IPv6, host bits cleared, prefixes checked against their family, boundaries exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/cidr.h"

static ig_cidr_t cidr(const char *s)
{
    ig_cidr_t c;
    if (ig_cidr_parse(s, strlen(s), &c)) fail_msg("'%s' should parse", s);
    return c;
}

static void addr(const char *s, uint8_t a[16])
{
    if (ig_addr_parse(s, strlen(s), a)) fail_msg("'%s' should parse", s);
}

static void canonical(const char *in, const char *want)
{
    char buf[IG_CIDR_TEXT_MAX];
    ig_cidr_t c = cidr(in);
    ig_cidr_format(&c, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static bool in(const char *range, const char *a)
{
    ig_cidr_t c = cidr(range);
    uint8_t x[16];
    addr(a, x);
    return ig_cidr_contains(&c, x);
}

static void test_parse_and_format(void **state)
{
    (void)state;
    canonical("10.0.0.0/8", "10.0.0.0/8");
    canonical("10.1.2.3/8", "10.0.0.0/8"); /* host bits cleared */
    canonical("192.168.1.7", "192.168.1.7/32");
    canonical("0.0.0.0/0", "0.0.0.0/0");
    canonical("2001:db8::1/32", "2001:db8::/32");
    canonical("::1", "::1/128");
    canonical("::/0", "::/0");
    static const char *const bad[] = {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "2001:db8::/129", "x", "10.0.0.0/8a",
                                      "10.0.0.0/-1", "1.2.3.4/0008", " 10.0.0.0/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_cidr_t c;
        if (ig_cidr_parse(bad[i], strlen(bad[i]), &c) == 0) fail_msg("'%s' should be refused", bad[i]);
    }
}

static void test_contains(void **state)
{
    (void)state;
    assert_true(in("10.0.0.0/8", "10.255.255.255"));
    assert_false(in("10.0.0.0/8", "11.0.0.0"));
    assert_true(in("192.168.1.0/25", "192.168.1.127"));
    assert_false(in("192.168.1.0/25", "192.168.1.128")); /* the boundary inside a byte */
    assert_true(in("127.0.0.1", "127.0.0.1"));
    assert_false(in("127.0.0.1", "127.0.0.2"));
    assert_true(in("0.0.0.0/0", "8.8.8.8"));
    assert_false(in("0.0.0.0/0", "2001:db8::1")); /* every IPv4 address, no IPv6 one */
    assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in("2001:db8::/32", "2001:db9::1"));
    assert_true(in("::/0", "10.0.0.1")); /* every address, IPv4-mapped ones too */
    assert_false(in("2001:db8::/32", "10.0.0.1"));
}

static void test_list(void **state)
{
    (void)state;
    ig_cidr_t c[3];
    assert_int_equal(ig_cidr_list_parse("10.0.0.0/8, 127.0.0.1 ,::1", c, 3), 3);
    assert_int_equal(c[1].bits, 128);
    assert_int_equal(ig_cidr_list_parse("", c, 3), 0);
    assert_int_equal(ig_cidr_list_parse("10.0.0.0/8,1.1.1.1,2.2.2.2,3.3.3.3", c, 3), -1); /* over the cap */
    assert_int_equal(ig_cidr_list_parse("10.0.0.0/8,nope", c, 3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
