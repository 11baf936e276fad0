/* test_nsallow — a token's namespaces (DESIGN.md §8): what they reach is decided level by level ("analytics2"
 * is not inside "analytics"), the way down to them is seen but not reached, the packed form the CLI and the
 * API parse to is the shortest list that reaches the same, and every bound gives a 400 naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "access/token_table.h"
#include "core/nsallow.h"

#define US "\x1f"
#define RS "\x1e"

static void test_within_level_by_level(void **state)
{
    (void)state;
    const char *allow = "analytics" RS "raw" US "events";
    assert_true(ig_ns_within(allow, "analytics"));
    assert_true(ig_ns_within(allow, "analytics" US "daily"));
    assert_true(ig_ns_within(allow, "analytics" US "daily" US "x"));
    assert_true(ig_ns_within(allow, "raw" US "events"));
    assert_true(ig_ns_within(allow, "raw" US "events" US "clicks"));
    assert_false(ig_ns_within(allow, "analytics2"));
    assert_false(ig_ns_within(allow, "analytic"));
    assert_false(ig_ns_within(allow, "raw"));
    assert_false(ig_ns_within(allow, "raw" US "events2"));
    assert_false(ig_ns_within(allow, "raw" US "other"));
    assert_false(ig_ns_within(allow, "other" US "analytics"));
    assert_true(ig_ns_within("", "anything"));
}

static void test_sees_the_way_down(void **state)
{
    (void)state;
    const char *allow = "analytics" RS "raw" US "events" US "clicks";
    assert_true(ig_ns_sees(allow, "raw"));
    assert_true(ig_ns_sees(allow, "raw" US "events"));
    assert_true(ig_ns_sees(allow, "raw" US "events" US "clicks" US "deep"));
    assert_true(ig_ns_sees(allow, "analytics" US "x"));
    assert_false(ig_ns_sees(allow, "ra"));
    assert_false(ig_ns_sees(allow, "raw" US "event"));
    assert_false(ig_ns_sees(allow, "raw" US "other"));
    assert_false(ig_ns_sees(allow, "analytics2"));
    assert_true(ig_ns_sees("", "x"));
}

static void test_text(void **state)
{
    (void)state;
    char buf[64];
    ig_ns_allow_text("analytics" RS "raw" US "events", buf, sizeof buf);
    assert_string_equal(buf, "analytics, raw.events");
    ig_ns_allow_text("abc" RS "def", buf, 6);
    assert_string_equal(buf, "abc, ");
    /* cut inside a two-byte character: the character goes whole */
    ig_ns_allow_text("ab\xc3\xa9z", buf, 4);
    assert_string_equal(buf, "ab");
    ig_ns_allow_text("ab\xc3\xa9z", buf, 5);
    assert_string_equal(buf, "ab\xc3\xa9");
}

static void parses(const char *text, const char *packed)
{
    char out[IG_NS_ALLOW_MAX + 1];
    ig_error_t err = {0};
    if (ig_token_namespaces_parse(text, out, sizeof out, &err)) fail_msg("'%s': %s", text, err.message);
    assert_string_equal(out, packed);
}

static void refused(const char *text)
{
    char out[IG_NS_ALLOW_MAX + 1];
    ig_error_t err = {0};
    if (ig_token_namespaces_parse(text, out, sizeof out, &err) == 0) fail_msg("'%.60s' should be refused", text);
    assert_int_equal(err.kind, IG_E_BAD_REQUEST);
    assert_memory_equal(err.message, "namespaces: ", 12);
}

static void test_parse(void **state)
{
    (void)state;
    parses("none", "");
    parses("analytics,raw.events", "analytics" RS "raw" US "events");
    parses("[[\"analytics\"],[\"raw\",\"events\"]]", "analytics" RS "raw" US "events");
    parses("[[\"a.b\"]]", "a.b");
    /* covered entries go, in either order; duplicates once */
    parses("raw.events,raw,analytics,analytics", "raw" RS "analytics");
    parses("raw,raw.events", "raw");
    parses("raw.events,raw.events2", "raw" US "events" RS "raw" US "events2");
    refused("a..b");
    refused("a,,b");
    refused("[]");
    refused("[[]]");
    refused("[\"a\"]");
    refused("[[\"\"]]");
    refused("[[1]]");
    refused("[[\"a\\u0001\"]]");
    refused("[[\"a\\u0000b\"]]");
    refused("[[\"\xff\"]]");
    refused("[nope");
    char many[256] = "";
    for (int i = 0; i <= IG_NS_ALLOW_COUNT; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "%sn%d", i ? "," : "", i);
    refused(many);
    char deep[256] = "";
    for (int i = 0; i <= 32; i++) strcat(deep, i ? ".l" : "l");
    refused(deep);
    char big[IG_NS_ALLOW_MAX + 64];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 200; i < sizeof big - 1; i += 201) big[i] = '.'; /* levels of 200 bytes, 1 KB in all */
    refused(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_within_level_by_level),
        cmocka_unit_test(test_sees_the_way_down),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
