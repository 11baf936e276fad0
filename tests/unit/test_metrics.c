/* test_metrics — the per-thread (route, method, status) tables and their scrape: counts by exact labels, the
 * same template through two pointers and two threads is one series, a full table folds into route="overflow"
 * without losing a request, histograms by route, commits, store errors and build info.  Each case runs its
 * requests on fresh threads (a fresh block each) and uses its own route names, since the counters are global. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/metrics.h"

static char *scrape(void)
{
    ig_buf_t sb;
    ig_buf_init(&sb, 4096);
    ig_metrics_render(&sb);
    size_t len;
    char *t = ig_buf_take(&sb, &len);
    assert_non_null(t);
    return t;
}

/* The value of the sample line "<series> <value>", or -1 when there is none. */
static long long value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ') return strtoll(p + n + 1, NULL, 10);
    return -1;
}

static long long series_count(const char *text, const char *prefix)
{
    long long n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0) n++;
    return n;
}

typedef void (*body_fn)(void);

static void *thread_main(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

static void on_thread(body_fn fn)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_main, (void *)fn), 0);
    pthread_join(t, NULL);
}

static void basic_requests(void)
{
    for (int i = 0; i < 3; i++) ig_metrics_request_done("/t/basic", "GET", 200, 50000); /* 50 µs */
    ig_metrics_request_done("/t/basic", "GET", 404, 2000000);                           /* 2 ms */
    ig_metrics_request_done("/t/basic", "POST", 201, 10000000000LL);                    /* 10 s */
    ig_metrics_request_done(NULL, NULL, 404, 1000);
}

static void test_counts_by_labels(void **state)
{
    (void)state;
    char *t0 = scrape();
    const char *um = "icegate_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"}";
    long long unmatched0 = value(t0, um);
    free(t0);
    on_thread(basic_requests);
    char *t = scrape();
    assert_int_equal(value(t, "icegate_http_requests_total{route=\"/t/basic\",method=\"GET\",status=\"200\"}"), 3);
    assert_int_equal(value(t, "icegate_http_requests_total{route=\"/t/basic\",method=\"GET\",status=\"404\"}"), 1);
    assert_int_equal(value(t, "icegate_http_requests_total{route=\"/t/basic\",method=\"POST\",status=\"201\"}"), 1);
    assert_int_equal(value(t, um), (unmatched0 < 0 ? 0 : unmatched0) + 1);
    const char *h = "icegate_http_request_duration_seconds";
    char s[256];
    snprintf(s, sizeof s, "%s_bucket{route=\"/t/basic\",le=\"0.0001\"}", h);
    assert_int_equal(value(t, s), 3);
    snprintf(s, sizeof s, "%s_bucket{route=\"/t/basic\",le=\"0.0025\"}", h);
    assert_int_equal(value(t, s), 4);
    snprintf(s, sizeof s, "%s_bucket{route=\"/t/basic\",le=\"5\"}", h);
    assert_int_equal(value(t, s), 4);
    snprintf(s, sizeof s, "%s_bucket{route=\"/t/basic\",le=\"+Inf\"}", h);
    assert_int_equal(value(t, s), 5);
    snprintf(s, sizeof s, "%s_count{route=\"/t/basic\"}", h);
    assert_int_equal(value(t, s), 5);
    snprintf(s, sizeof s, "%s_sum{route=\"/t/basic\"}", h);
    assert_int_equal(value(t, s), 10); /* 10.00215 s, read as an integer */
    free(t);
}

/* Two distinct pointers to the same text, as two translation units' literals would be. */
static const char dup_a[] = "/t/dup", dup_b[] = "/t/dup";

static void dup_requests(void)
{
    ig_metrics_request_done(dup_a, "GET", 200, 1000);
    ig_metrics_request_done(dup_b, "GET", 200, 1000);
}

static void test_same_text_is_one_series(void **state)
{
    (void)state;
    on_thread(dup_requests);
    on_thread(dup_requests);
    char *t = scrape();
    assert_int_equal(value(t, "icegate_http_requests_total{route=\"/t/dup\",method=\"GET\",status=\"200\"}"), 4);
    assert_int_equal(series_count(t, "icegate_http_requests_total{route=\"/t/dup\""), 1);
    assert_int_equal(value(t, "icegate_http_request_duration_seconds_count{route=\"/t/dup\"}"), 4);
    assert_int_equal(series_count(t, "icegate_http_request_duration_seconds_count{route=\"/t/dup\""), 1);
    free(t);
}

static const char *methods[2] = {"GET", "PUT"};
static char route_pool[200][16];

/* 1,000 distinct (method, status) keys on one route and 200 routes: more than a thread's tables hold. */
static void flood(void)
{
    for (int m = 0; m < 2; m++)
        for (int st = 100; st < 600; st++) ig_metrics_request_done("/f/flood", methods[m], st, 1000);
    for (int i = 0; i < 200; i++) {
        snprintf(route_pool[i], sizeof route_pool[i], "/f/r%d", i);
        ig_metrics_request_done(route_pool[i], "GET", 200, 1000);
    }
}

static long long sum_series(const char *text, const char *prefix)
{
    long long n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0) n += strtoll(strchr(p, ' ') + 1, NULL, 10);
    return n;
}

static void test_full_table_folds_into_overflow(void **state)
{
    (void)state;
    on_thread(flood);
    char *t = scrape();
    long long kept = sum_series(t, "icegate_http_requests_total{route=\"/f/");
    long long over = sum_series(t, "icegate_http_requests_total{route=\"overflow\",method=\"OTHER\"");
    assert_true(over > 0);
    assert_int_equal(kept + over, 1200); /* none lost */
    assert_true(series_count(t, "icegate_http_requests_total{") < 1200);
    long long hkept = sum_series(t, "icegate_http_request_duration_seconds_count{route=\"/f/r");
    long long hover = value(t, "icegate_http_request_duration_seconds_count{route=\"overflow\"}");
    assert_true(hover > 0);
    assert_true(hkept < 200);
    assert_int_equal(hkept + hover + value(t, "icegate_http_request_duration_seconds_count{route=\"/f/flood\"}"),
                     1200);
    free(t);
}

static void escape_requests(void)
{
    ig_metrics_request_done("/t/q\"uo\\te", "GET", 200, 1000);
}

static void test_label_escaping(void **state)
{
    (void)state;
    on_thread(escape_requests);
    char *t = scrape();
    /* the exposition format's escapes: \" and \\ */
    assert_int_equal(value(t, "icegate_http_requests_total{route=\"/t/q\\\"uo\\\\te\",method=\"GET\","
                              "status=\"200\"}"),
                     1);
    free(t);
}

static void test_commits_store_errors_build_info(void **state)
{
    (void)state;
    char *t0 = scrape();
    long long ok0 = value(t0, "icegate_commits_total{result=\"ok\"}");
    long long co0 = value(t0, "icegate_commits_total{result=\"conflict\"}");
    long long fa0 = value(t0, "icegate_commits_total{result=\"failed\"}");
    long long se0 = value(t0, "icegate_store_errors_total");
    free(t0);
    ig_metrics_commit(IG_COMMIT_OK);
    ig_metrics_commit(IG_COMMIT_OK);
    ig_metrics_commit(IG_COMMIT_CONFLICT);
    ig_metrics_commit(IG_COMMIT_FAILED);
    ig_metrics_store_error();
    char *t = scrape();
    assert_int_equal(value(t, "icegate_commits_total{result=\"ok\"}"), ok0 + 2);
    assert_int_equal(value(t, "icegate_commits_total{result=\"conflict\"}"), co0 + 1);
    assert_int_equal(value(t, "icegate_commits_total{result=\"failed\"}"), fa0 + 1);
    assert_int_equal(value(t, "icegate_store_errors_total"), se0 + 1);
    assert_non_null(strstr(t, "\nicegate_build_info{version=\""));
    assert_non_null(strstr(t, "\"} 1\n"));
    free(t);
}

static void inflight_requests(void)
{
    ig_metrics_request_start();
    ig_metrics_request_start();
    ig_metrics_request_end();
}

static void test_inflight(void **state)
{
    (void)state;
    int64_t before = ig_metrics_inflight();
    on_thread(inflight_requests);
    assert_int_equal(ig_metrics_inflight(), before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_labels),
        cmocka_unit_test(test_same_text_is_one_series),
        cmocka_unit_test(test_full_table_folds_into_overflow),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_commits_store_errors_build_info),
        cmocka_unit_test(test_inflight),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
