/*
 * test_buf: the capped growable buffer (lib/buf.c).
 *
 * The cap is the point of the module: an append that would cross it fails
 * with MTM_ETOOBIG and leaves the contents exactly as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Asserts the buffer holds exactly want (and is NUL-terminated after it). */
static void assert_buf(const struct mtm_buf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_string_equal(mtm_buf_cstr(b), want);
    assert_true(b->len <= b->limit);
}

static void test_init_empty(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.limit, 10);
    assert_buf(&b, "");
    mtm_buf_cleanup(&b);
    mtm_buf_cleanup(&b); /* twice is harmless */
}

static void test_append_within_limit(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 10);
    assert_int_equal(mtm_buf_append(&b, "hello", 5), 0);
    assert_buf(&b, "hello");
    assert_int_equal(mtm_buf_puts(&b, "world"), 0); /* exactly at the limit */
    assert_buf(&b, "helloworld");
    assert_int_equal(mtm_buf_append(&b, "", 0), 0); /* nothing, at the limit */
    assert_buf(&b, "helloworld");
    mtm_buf_cleanup(&b);
}

static void test_over_limit_leaves_contents(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 10);
    assert_int_equal(mtm_buf_puts(&b, "abcdefgh"), 0);
    assert_int_equal(mtm_buf_puts(&b, "xyz"), MTM_ETOOBIG);
    assert_buf(&b, "abcdefgh");
    assert_int_equal(mtm_buf_append(&b, "xyz", SIZE_MAX), MTM_ETOOBIG); /* no wrap-around */
    assert_buf(&b, "abcdefgh");
    assert_int_equal(mtm_buf_printf(&b, "%d", 123), MTM_ETOOBIG);
    assert_buf(&b, "abcdefgh");
    assert_int_equal(mtm_buf_puts(&b, "xy"), 0);
    assert_buf(&b, "abcdefghxy");
    assert_int_equal(mtm_buf_puts(&b, "!"), MTM_ETOOBIG);
    assert_buf(&b, "abcdefghxy");
    mtm_buf_cleanup(&b);
}

static void test_zero_limit(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 0);
    assert_int_equal(mtm_buf_append(&b, "", 0), 0);
    assert_buf(&b, "");
    assert_int_equal(mtm_buf_puts(&b, "x"), MTM_ETOOBIG);
    assert_buf(&b, "");
    mtm_buf_cleanup(&b);
}

static void test_grows_over_many_appends(void **state)
{
    (void)state;
    struct mtm_buf b;
    const size_t limit = 100000;
    char *want = malloc(limit + 1);
    assert_non_null(want);
    mtm_buf_init(&b, limit);
    for (size_t i = 0; i < limit; i += 7) {
        char chunk[7] = {0};
        size_t n = limit - i < 7 ? limit - i : 7;
        for (size_t j = 0; j < n; j++)
            chunk[j] = (char)('a' + (i + j) % 26);
        memcpy(want + i, chunk, n);
        assert_int_equal(mtm_buf_append(&b, chunk, n), 0);
    }
    want[limit] = '\0';
    assert_int_equal(b.len, limit);
    assert_memory_equal(b.data, want, limit + 1);
    assert_int_equal(mtm_buf_append(&b, "x", 1), MTM_ETOOBIG);
    mtm_buf_cleanup(&b);
    free(want);
}

static void test_printf_small(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 1000);
    assert_int_equal(mtm_buf_printf(&b, "%s=%d;", "a", 1), 0);
    assert_int_equal(mtm_buf_printf(&b, "%s=%.2f", "b", 2.5), 0);
    assert_buf(&b, "a=1;b=2.50");
    assert_int_equal(mtm_buf_printf(&b, "%s", ""), 0);
    assert_buf(&b, "a=1;b=2.50");
    mtm_buf_cleanup(&b);
}

/* Output of 255, 256, 257 and 5000 bytes: both sides of the 256-byte stack
 * buffer mtm_buf_printf tries first. */
static void test_printf_beyond_small_buffer(void **state)
{
    (void)state;
    const size_t sizes[] = {255, 256, 257, 1000, 5000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k], m = n - 2; /* "%s|%d" prints m + 2 = n bytes */
        char *s = malloc(m + 1);
        assert_non_null(s);
        for (size_t i = 0; i < m; i++)
            s[i] = (char)('A' + i % 26);
        s[m] = '\0';

        struct mtm_buf b;
        mtm_buf_init(&b, 10000);
        assert_int_equal(mtm_buf_puts(&b, "<"), 0);
        assert_int_equal(mtm_buf_printf(&b, "%s|%d", s, 7), 0);
        assert_int_equal(b.len, 1 + n);
        assert_int_equal(mtm_buf_puts(&b, ">"), 0);
        assert_int_equal(b.len, n + 2);
        assert_int_equal(b.data[0], '<');
        assert_memory_equal(b.data + 1, s, m);
        assert_string_equal(b.data + 1 + m, "|7>");
        mtm_buf_cleanup(&b);
        free(s);
    }
}

static void test_printf_long_over_limit(void **state)
{
    (void)state;
    char s[600];
    memset(s, 'z', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    struct mtm_buf b;
    mtm_buf_init(&b, 700);
    assert_int_equal(mtm_buf_puts(&b, "head"), 0);
    assert_int_equal(mtm_buf_printf(&b, "%s%s", s, s), MTM_ETOOBIG);
    assert_buf(&b, "head");
    assert_int_equal(mtm_buf_printf(&b, "%s", s), 0);
    assert_int_equal(b.len, 4 + 599);
    /* 603 used, 97 left: 300 bytes do not fit, 97 do. */
    assert_int_equal(mtm_buf_printf(&b, "%.300s", s), MTM_ETOOBIG);
    assert_int_equal(b.len, 603);
    assert_int_equal(mtm_buf_printf(&b, "%.97s", s), 0);
    assert_int_equal(b.len, 700);
    assert_int_equal(b.data[700], '\0');
    mtm_buf_cleanup(&b);

    /* The long path may fill the buffer exactly to its cap. */
    mtm_buf_init(&b, 300);
    assert_int_equal(mtm_buf_printf(&b, "%.300s", s), 0);
    assert_int_equal(b.len, 300);
    assert_int_equal(b.data[300], '\0');
    assert_int_equal(mtm_buf_printf(&b, "%s", "x"), MTM_ETOOBIG);
    mtm_buf_cleanup(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 100);
    assert_int_equal(mtm_buf_puts(&b, "something"), 0);
    char *data = b.data;
    size_t alloc = b.alloc;
    mtm_buf_reset(&b);
    assert_buf(&b, "");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.alloc, alloc);
    assert_int_equal(mtm_buf_puts(&b, "again"), 0);
    assert_buf(&b, "again");
    mtm_buf_cleanup(&b);

    mtm_buf_init(&b, 100);
    mtm_buf_reset(&b); /* never allocated */
    assert_buf(&b, "");
    mtm_buf_cleanup(&b);
}

static void test_steal(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 100);
    assert_int_equal(mtm_buf_puts(&b, "take me"), 0);
    char *s = mtm_buf_steal(&b);
    assert_string_equal(s, "take me");
    assert_null(b.data);
    assert_buf(&b, "");
    assert_int_equal(b.limit, 100); /* still usable, same cap */
    assert_int_equal(mtm_buf_puts(&b, "next"), 0);
    assert_buf(&b, "next");
    assert_string_equal(s, "take me"); /* independent of the buffer now */
    free(s);
    mtm_buf_cleanup(&b);

    mtm_buf_init(&b, 100);
    s = mtm_buf_steal(&b); /* empty: a fresh "" the caller frees */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    mtm_buf_cleanup(&b);
}

static void test_binary_data(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 16);
    const char bin[] = {'a', '\0', 'b', '\xff'};
    assert_int_equal(mtm_buf_append(&b, bin, sizeof(bin)), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, bin, 4);
    assert_int_equal(b.data[4], '\0');
    mtm_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_append_within_limit),
        cmocka_unit_test(test_over_limit_leaves_contents),
        cmocka_unit_test(test_zero_limit),
        cmocka_unit_test(test_grows_over_many_appends),
        cmocka_unit_test(test_printf_small),
        cmocka_unit_test(test_printf_beyond_small_buffer),
        cmocka_unit_test(test_printf_long_over_limit),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_binary_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
