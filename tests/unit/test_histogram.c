/*
 * test_histogram: fixed-bucket Prometheus histograms (lib/histogram.c).
 *
 * Observations land in the bucket of the first bound they do not exceed
 * (a value on a bound counts in it); rendering turns the per-bucket counts
 * into the cumulative `le` series, prints bounds and the sum in seconds,
 * and leaves the braces off when there are no labels. Layouts that could
 * not render meaningfully are refused. Several threads observing at once
 * lose nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "histogram.h"

static const struct mtm_histogram_layout ms_layout = {
    .units_per_s = 1000,
    .nbounds = 3,
    .bounds = {5, 250, 2500},
};

static void test_observe_buckets_and_bounds(void **state)
{
    (void)state;
    struct mtm_histogram h;
    mtm_histogram_init(&h, &ms_layout);
    assert_int_equal(mtm_histogram_count(&h), 0);
    const int64_t values[] = {0, 5, 6, 250, 251, 2500, 2501, INT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        mtm_histogram_observe(&h, values[i]);
    assert_int_equal(atomic_load(&h.buckets[0]), 2); /* 0, 5 */
    assert_int_equal(atomic_load(&h.buckets[1]), 2); /* 6, 250 */
    assert_int_equal(atomic_load(&h.buckets[2]), 2); /* 251, 2500 */
    assert_int_equal(atomic_load(&h.buckets[3]), 2); /* 2501, INT64_MAX: +Inf */
    assert_int_equal(mtm_histogram_count(&h), 8);
}

static void test_negative_counts_as_zero(void **state)
{
    (void)state;
    struct mtm_histogram h;
    mtm_histogram_init(&h, &ms_layout);
    mtm_histogram_observe(&h, -1);
    mtm_histogram_observe(&h, INT64_MIN);
    assert_int_equal(atomic_load(&h.buckets[0]), 2);
    assert_int_equal(atomic_load(&h.sum), 0);
}

static void test_render_cumulative_with_labels(void **state)
{
    (void)state;
    struct mtm_histogram h;
    mtm_histogram_init(&h, &ms_layout);
    mtm_histogram_observe(&h, 1);
    mtm_histogram_observe(&h, 300);
    mtm_histogram_observe(&h, 300);
    mtm_histogram_observe(&h, 9000);
    struct mtm_buf b;
    mtm_buf_init(&b, 4096);
    assert_int_equal(mtm_histogram_header(&b, "t_seconds", "Some time."), 0);
    assert_int_equal(mtm_histogram_render(&h, "t_seconds", "a=\"x\",b=\"y\"", &b), 0);
    assert_string_equal(mtm_buf_cstr(&b), "# HELP t_seconds Some time.\n"
                                          "# TYPE t_seconds histogram\n"
                                          "t_seconds_bucket{a=\"x\",b=\"y\",le=\"0.005\"} 1\n"
                                          "t_seconds_bucket{a=\"x\",b=\"y\",le=\"0.25\"} 1\n"
                                          "t_seconds_bucket{a=\"x\",b=\"y\",le=\"2.5\"} 3\n"
                                          "t_seconds_bucket{a=\"x\",b=\"y\",le=\"+Inf\"} 4\n"
                                          "t_seconds_sum{a=\"x\",b=\"y\"} 9.601\n"
                                          "t_seconds_count{a=\"x\",b=\"y\"} 4\n");
    mtm_buf_cleanup(&b);
}

static void test_render_without_labels(void **state)
{
    (void)state;
    static const struct mtm_histogram_layout us = {
        .units_per_s = 1000000, .nbounds = 2, .bounds = {1000, 2500}};
    struct mtm_histogram h;
    mtm_histogram_init(&h, &us);
    mtm_histogram_observe(&h, 1500);
    struct mtm_buf b;
    mtm_buf_init(&b, 4096);
    assert_int_equal(mtm_histogram_render(&h, "d", "", &b), 0);
    assert_string_equal(mtm_buf_cstr(&b), "d_bucket{le=\"0.001\"} 0\n"
                                          "d_bucket{le=\"0.0025\"} 1\n"
                                          "d_bucket{le=\"+Inf\"} 1\n"
                                          "d_sum 0.001500\n"
                                          "d_count 1\n");
    mtm_buf_cleanup(&b);
}

/* Whole seconds: no decimal point in the sum. */
static void test_render_seconds_unit(void **state)
{
    (void)state;
    static const struct mtm_histogram_layout s = {.units_per_s = 1, .nbounds = 1, .bounds = {0}};
    struct mtm_histogram h;
    mtm_histogram_init(&h, &s);
    mtm_histogram_observe(&h, 0);
    mtm_histogram_observe(&h, 7);
    struct mtm_buf b;
    mtm_buf_init(&b, 4096);
    assert_int_equal(mtm_histogram_render(&h, "s", "", &b), 0);
    assert_string_equal(mtm_buf_cstr(&b), "s_bucket{le=\"0\"} 1\n"
                                          "s_bucket{le=\"+Inf\"} 2\n"
                                          "s_sum 7\n"
                                          "s_count 2\n");
    mtm_buf_cleanup(&b);
}

static void test_render_respects_buffer_cap(void **state)
{
    (void)state;
    struct mtm_histogram h;
    mtm_histogram_init(&h, &ms_layout);
    struct mtm_buf b;
    mtm_buf_init(&b, 60);
    assert_int_equal(mtm_histogram_render(&h, "t_seconds", "tenant=\"x\"", &b), MTM_ETOOBIG);
    assert_true(b.len <= 60);
    mtm_buf_cleanup(&b);
    /* Room for the buckets but not for _sum and _count. */
    mtm_buf_init(&b, 4096);
    assert_int_equal(mtm_histogram_render(&h, "t_seconds", "", &b), 0);
    const char *sum = strstr(mtm_buf_cstr(&b), "t_seconds_sum");
    assert_non_null(sum);
    size_t room = (size_t)(sum - mtm_buf_cstr(&b)) + 5;
    mtm_buf_cleanup(&b);
    mtm_buf_init(&b, room);
    assert_int_equal(mtm_histogram_render(&h, "t_seconds", "", &b), MTM_ETOOBIG);
    assert_contains(mtm_buf_cstr(&b), "t_seconds_bucket{le=\"+Inf\"} 0\n");
    assert_null(strstr(mtm_buf_cstr(&b), "_sum"));
    mtm_buf_cleanup(&b);
}

static void expect_invalid(const struct mtm_histogram_layout *l, const char *why)
{
    char err[160] = "";
    assert_int_equal(mtm_histogram_layout_check(l, err, sizeof(err)), MTM_EINVAL);
    assert_contains(err, why);
}

static void test_layout_check(void **state)
{
    (void)state;
    char err[160] = "";
    assert_int_equal(mtm_histogram_layout_check(&ms_layout, err, sizeof(err)), 0);
    struct mtm_histogram_layout full = {.units_per_s = 1000000000,
                                        .nbounds = MTM_HISTOGRAM_MAX_BOUNDS};
    for (size_t i = 0; i < MTM_HISTOGRAM_MAX_BOUNDS; i++)
        full.bounds[i] = (int64_t)i;
    assert_int_equal(mtm_histogram_layout_check(&full, err, sizeof(err)), 0);

    struct mtm_histogram_layout l = ms_layout;
    l.units_per_s = 0;
    expect_invalid(&l, "power of ten");
    l.units_per_s = 1024;
    expect_invalid(&l, "power of ten");
    l.units_per_s = 10000000000;
    expect_invalid(&l, "power of ten");
    l = ms_layout;
    l.nbounds = 0;
    expect_invalid(&l, "1 to 16 bounds");
    l.nbounds = MTM_HISTOGRAM_MAX_BOUNDS + 1;
    expect_invalid(&l, "1 to 16 bounds");
    l = ms_layout;
    l.bounds[1] = 5; /* equal to the one before */
    expect_invalid(&l, "bound 1 is 5");
    l = ms_layout;
    l.bounds[2] = 100; /* decreasing */
    expect_invalid(&l, "bound 2 is 100");
    l = ms_layout;
    l.bounds[0] = -1;
    expect_invalid(&l, "bound 0 is -1");
}

#define THREADS 4
#define PER_THREAD 20000

static void *observer(void *arg)
{
    struct mtm_histogram *h = arg;
    for (int i = 0; i < PER_THREAD; i++)
        mtm_histogram_observe(h, i % 3000);
    return NULL;
}

static void test_concurrent_observers_lose_nothing(void **state)
{
    (void)state;
    struct mtm_histogram h;
    mtm_histogram_init(&h, &ms_layout);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observer, &h), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(mtm_histogram_count(&h), THREADS * PER_THREAD);
    unsigned long long sum = 0;
    for (int i = 0; i < PER_THREAD; i++)
        sum += (unsigned long long)(i % 3000);
    assert_int_equal(atomic_load(&h.sum), THREADS * sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_buckets_and_bounds),
        cmocka_unit_test(test_negative_counts_as_zero),
        cmocka_unit_test(test_render_cumulative_with_labels),
        cmocka_unit_test(test_render_without_labels),
        cmocka_unit_test(test_render_seconds_unit),
        cmocka_unit_test(test_render_respects_buffer_cap),
        cmocka_unit_test(test_layout_check),
        cmocka_unit_test(test_concurrent_observers_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
