/* Unit tests for lib/hex.c: the one hex decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

static void test_digit(void **state)
{
    (void)state;
    const char *digits = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        assert_int_equal(mtm_hex_digit(digits[i]), i);
    assert_int_equal(mtm_hex_digit('A'), 10);
    assert_int_equal(mtm_hex_digit('F'), 15);
    const char *bad = "gGzZ /:@`\x7f";
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(mtm_hex_digit(bad[i]), -1);
    assert_int_equal(mtm_hex_digit(0), -1);
    assert_int_equal(mtm_hex_digit(0xc3), -1);
}

static void test_value(void **state)
{
    (void)state;
    assert_int_equal(mtm_hex_value("00e9", 4), 0xe9);
    assert_int_equal(mtm_hex_value("D83D", 4), 0xd83d);
    assert_int_equal(mtm_hex_value("2F", 2), 0x2f);
    assert_int_equal(mtm_hex_value("ffffffff", 8), 0xffffffffL);
    /* reads exactly n characters, not to the NUL */
    assert_int_equal(mtm_hex_value("41zz", 2), 0x41);
    assert_int_equal(mtm_hex_value("4g", 2), -1);
    assert_int_equal(mtm_hex_value("4\0", 2), -1);
    assert_int_equal(mtm_hex_value("12", 0), -1);
    assert_int_equal(mtm_hex_value("123456789", 9), -1);
}

static void test_decode(void **state)
{
    (void)state;
    unsigned char out[8];
    assert_int_equal(mtm_hex_decode("7b7d00fF", 8, out), 0);
    assert_memory_equal(out, "{}\0\xff", 4);
    assert_int_equal(mtm_hex_decode("", 0, out), 0);
    assert_int_equal(mtm_hex_decode("7b7", 3, out), MTM_EPARSE);   /* odd length */
    assert_int_equal(mtm_hex_decode("7b-d", 4, out), MTM_EPARSE);  /* not a digit */
    assert_int_equal(mtm_hex_decode("\\x7b", 4, out), MTM_EPARSE); /* bytea escape form */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digit),
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
