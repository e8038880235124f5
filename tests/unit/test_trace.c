/* Unit tests for lib/trace.c: traceparent validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trace.h"

#define GOOD "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static void test_valid(void **state)
{
    (void)state;
    char id[MTM_TRACE_ID_LEN + 1] = "";
    assert_true(mtm_traceparent_parse(GOOD, id));
    assert_string_equal(id, "0af7651916cd43dd8448eb211c80319c");
    assert_true(mtm_traceparent_parse(GOOD, NULL));
}

static void test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        NULL,
        "",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  /* uppercase */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  /* version ff */
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  /* zero trace id */
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  /* zero parent id */
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", /* too long */
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  /* separator */
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  /* not hex */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char id[MTM_TRACE_ID_LEN + 1] = "untouched";
        if (mtm_traceparent_parse(bad[i], id))
            fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
        assert_string_equal(id, "untouched");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
