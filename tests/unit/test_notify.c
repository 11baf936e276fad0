/* test_notify — the pure parts of events and expiry warnings: which threshold a token is at (the nearest
 * crossed, expired, none), the signature header's format (RFC 4231's HMAC-SHA256 vector), the retry backoff,
 * the key file's trailing newline, and notifications.expiry_warning_days as config parses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "notify/notify.h"
#include "notify/webhook.h"

#define H (3600LL * 1000)
#define D (24 * H)

static void test_expiry_level(void **state)
{
    (void)state;
    const int days[] = {7, 1};
    assert_int_equal(ig_notify_expiry_level(30 * D, days, 2), -1);
    assert_int_equal(ig_notify_expiry_level(7 * D + 1, days, 2), -1);
    assert_int_equal(ig_notify_expiry_level(7 * D, days, 2), 7);
    assert_int_equal(ig_notify_expiry_level(2 * D, days, 2), 7);
    assert_int_equal(ig_notify_expiry_level(12 * H, days, 2), 1); /* both crossed: the nearest */
    assert_int_equal(ig_notify_expiry_level(1, days, 2), 1);
    assert_int_equal(ig_notify_expiry_level(0, days, 2), 0); /* expired */
    assert_int_equal(ig_notify_expiry_level(-5 * D, days, 2), 0);
    assert_int_equal(ig_notify_expiry_level(2 * D, days, 0), -1); /* no thresholds: only "expired" */
    assert_int_equal(ig_notify_expiry_level(-1, days, 0), 0);
    const int odd[] = {30, 14, 3};
    assert_int_equal(ig_notify_expiry_level(10 * D, odd, 3), 14);
}

static void test_signature_rfc4231(void **state)
{
    (void)state;
    char sig[IG_SIGNATURE_LEN + 1];
    const char *body = "what do ya want for nothing?";
    ig_webhook_signature((const unsigned char *)"Jefe", 4, body, strlen(body), sig);
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    ig_webhook_signature((const unsigned char *)"Jefe!", 5, body, strlen(body), sig);
    assert_string_not_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(ig_webhook_backoff_ms(1, 60000, 0), 1000);
    assert_int_equal(ig_webhook_backoff_ms(2, 60000, 0), 2000);
    assert_int_equal(ig_webhook_backoff_ms(5, 60000, 0), 16000);
    assert_int_equal(ig_webhook_backoff_ms(7, 60000, 0), 60000); /* capped */
    assert_int_equal(ig_webhook_backoff_ms(1000, 60000, 0), 60000);
    assert_int_equal(ig_webhook_backoff_ms(3, 500, 0), 500);
    assert_int_equal(ig_webhook_backoff_ms(1, 60000, 200), 800); /* at most 20% off */
    assert_int_equal(ig_webhook_backoff_ms(1, 60000, 201), 1000);
}

static void test_key_file(void **state)
{
    (void)state;
    char path[] = "/tmp/icegate-key-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\r\n", 8), 8);
    close(fd);
    unsigned char k[16];
    assert_int_equal(ig_webhook_read_key(path, k, sizeof k), 6);
    assert_memory_equal(k, "s3cret", 6);
    assert_int_equal(ig_webhook_read_key(path, k, 4), -1); /* larger than the buffer: refused, not cut */
    unlink(path);
    assert_int_equal(ig_webhook_read_key(path, k, sizeof k), -1);
}

static void test_config_days(void **state)
{
    (void)state;
    ig_config_t c;
    char err[512];
    ig_config_defaults(&c);
    assert_int_equal(c.n_expiry_days, 2);
    assert_int_equal(c.expiry_days[0], 7);
    assert_int_equal(c.expiry_days[1], 1);
    assert_int_equal(ig_config_set(&c, "notifications.expiry_warning_days", "1,30,7", "test", err, sizeof err), 0);
    assert_int_equal(c.n_expiry_days, 3);
    assert_int_equal(c.expiry_days[0], 30); /* largest first */
    assert_int_equal(c.expiry_days[2], 1);
    assert_int_equal(ig_config_set(&c, "notifications.expiry_warning_days", "", "test", err, sizeof err), 0);
    assert_int_equal(c.n_expiry_days, 0);
    static const char *const bad[] = {"7,7", "0", "x", "7,,1", "1,2,3,4,5,6,7,8,9", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ig_config_set(&c, "notifications.expiry_warning_days", bad[i], "test", err, sizeof err), -1);
    assert_non_null(strstr(err, "notifications.expiry_warning_days"));
    assert_int_equal(ig_config_set(&c, "notifications.webhook.url", "file:///etc/passwd", "test", err, sizeof err), 0);
    assert_int_equal(ig_config_finish(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "notifications.webhook.url"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_level), cmocka_unit_test(test_signature_rfc4231),
        cmocka_unit_test(test_backoff),      cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_config_days),
    };
    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
