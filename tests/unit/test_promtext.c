/*
 * test_promtext: merging several consumerd's textfiles family by family
 * (lib/promtext.c), as GET /api/metrics serves them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "promtext.h"

static char *merge(const char *const *texts, size_t n, size_t limit, int *rc_out)
{
    struct mtm_promtext m;
    mtm_promtext_init(&m, limit);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = mtm_promtext_add(&m, texts[i], strlen(texts[i]));
    *rc_out = rc;
    struct mtm_buf out;
    mtm_buf_init(&out, 1 << 20);
    assert_int_equal(mtm_promtext_render(&m, &out), 0);
    mtm_promtext_cleanup(&m);
    return mtm_buf_steal(&out);
}

/* Each family once, HELP and TYPE from the first file, samples of every
 * file together, families in the order they first appeared. */
static void test_two_files_merge_by_family(void **state)
{
    (void)state;
    const char *a =
        "# HELP up Running.\n# TYPE up gauge\nup{consumerd=\"a\"} 1\n"
        "# HELP depth Ready.\n# TYPE depth gauge\n"
        "depth{tenant=\"t1\",consumerd=\"a\"} 4\ndepth{tenant=\"t2\",consumerd=\"a\"} 0\n";
    const char *b =
        "# HELP up Running (b).\n# TYPE up gauge\nup{consumerd=\"b\"} 1\n"
        "# HELP only_b Later.\n# TYPE only_b counter\nonly_b{consumerd=\"b\"} 7\n"
        "# HELP depth Ready.\n# TYPE depth gauge\ndepth{tenant=\"t3\",consumerd=\"b\"} 9\n";
    const char *texts[] = {a, b};
    int rc;
    char *out = merge(texts, 2, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "# HELP up Running.\n# TYPE up gauge\n"
                             "up{consumerd=\"a\"} 1\nup{consumerd=\"b\"} 1\n"
                             "# HELP depth Ready.\n# TYPE depth gauge\n"
                             "depth{tenant=\"t1\",consumerd=\"a\"} 4\n"
                             "depth{tenant=\"t2\",consumerd=\"a\"} 0\n"
                             "depth{tenant=\"t3\",consumerd=\"b\"} 9\n"
                             "# HELP only_b Later.\n# TYPE only_b counter\n"
                             "only_b{consumerd=\"b\"} 7\n");
    free(out);
}

/* A histogram's _bucket, _sum and _count samples stay with their family;
 * a last line without its newline gets one; empty lines are dropped. */
static void test_histogram_and_ragged_input(void **state)
{
    (void)state;
    const char *a =
        "# HELP h Time.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n\nh_sum 0.5\nh_count 1";
    const char *b =
        "# HELP h Time.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n";
    const char *texts[] = {a, b};
    int rc;
    char *out = merge(texts, 2, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "# HELP h Time.\n# TYPE h histogram\n"
                             "h_bucket{le=\"1\"} 1\nh_sum 0.5\nh_count 1\n"
                             "h_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n");
    free(out);
}

/* Samples before any HELP are kept, in a group of their own. */
static void test_samples_without_help(void **state)
{
    (void)state;
    const char *texts[] = {"loose 1\n# HELP x X.\n# TYPE x gauge\nx 2\n", "loose 3\n"};
    int rc;
    char *out = merge(texts, 2, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "loose 1\nloose 3\n# HELP x X.\n# TYPE x gauge\nx 2\n");
    free(out);
}

/* Past the limit a text is refused whole; what was added stays. */
static void test_limit(void **state)
{
    (void)state;
    const char *texts[] = {"# HELP a A.\na 1\n", "# HELP b B.\nb 1\n"};
    int rc;
    char *out = merge(texts, 2, 20, &rc);
    assert_int_equal(rc, MTM_ETOOBIG);
    assert_string_equal(out, "# HELP a A.\na 1\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_files_merge_by_family),
        cmocka_unit_test(test_histogram_and_ragged_input),
        cmocka_unit_test(test_samples_without_help),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
