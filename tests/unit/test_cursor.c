/* Unit tests for lib/cursor.c: opaque keyset cursors and base64url. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

static void test_round_trip(void **state)
{
    (void)state;
    const int64_t keys[] = {0, 1, 9, 10, 12345, INT64_MAX};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char enc[MTM_CURSOR_MAX];
        int64_t back = -1;
        assert_int_equal(mtm_cursor_encode("md", keys[i], enc, sizeof(enc)), 0);
        assert_int_equal(mtm_cursor_decode("md", enc, &back), 0);
        assert_true(back == keys[i]);
    }
}

static void test_known_encoding(void **state)
{
    (void)state;
    char enc[MTM_CURSOR_MAX];
    assert_int_equal(mtm_cursor_encode("md", 5, enc, sizeof(enc)), 0);
    assert_string_equal(enc, "bWQ6NQ"); /* base64url("md:5"), no padding */
}

static void test_other_kind_refused(void **state)
{
    (void)state;
    char enc[MTM_CURSOR_MAX];
    int64_t key;
    assert_int_equal(mtm_cursor_encode("ma", 5, enc, sizeof(enc)), 0);
    assert_int_equal(mtm_cursor_decode("md", enc, &key), MTM_EPARSE);
}

static void test_garbage_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "zzz",
        "bWQ6", /* "md:" without a key */
        "bWQ6LTE",
        /* md:-1 */ "bWQ6MDU", /* md:05, a leading zero */
        "bWQ6NQ==",
        /* padding */ "bWQ6N Q",
        "bWQ6NR",                         /* non-zero trailing bits */
        "bWQ6OTIyMzM3MjAzNjg1NDc3NTgwOA", /* md:9223372036854775808 overflows */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t key;
        if (mtm_cursor_decode("md", bad[i], &key) != MTM_EPARSE)
            fail_msg("accepted bad cursor \"%s\"", bad[i]);
    }
}

/* Regression (fuzz_cursor): "md:5\0[" decoded as 5 because the key loop
 * stopped at the embedded NUL; now every decoded byte must be a digit. */
static void test_embedded_nul_refused(void **state)
{
    (void)state;
    int64_t key;
    assert_int_equal(mtm_cursor_decode("md", "bWQ6NQBb", &key), MTM_EPARSE);
}

static void test_base64url(void **state)
{
    (void)state;
    unsigned char out[16];
    char enc[16];
    assert_int_equal(mtm_base64url_encode((const unsigned char *)"\xfb\xff", 2, enc, sizeof(enc)),
                     3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(mtm_base64url_decode("-_8", out, sizeof(out)), 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(mtm_base64url_decode("a", out, sizeof(out)), -1);
    assert_int_equal(mtm_base64url_decode("+/8", out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_known_encoding),
        cmocka_unit_test(test_other_kind_refused),   cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_embedded_nul_refused), cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
