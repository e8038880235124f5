/*
 * test_password: password hashing and checking (lib/password.c).
 *
 * Hashes are yescrypt with a fresh salt each time; a check accepts the
 * password and nothing else (not a prefix, not an extension, not another
 * case); hashes that are empty, missing or not crypt settings never match;
 * the constant-time comparison is still a correct comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "password.h"

static void test_hash_and_check(void **state)
{
    (void)state;
    char *h = NULL;
    assert_int_equal(mtm_password_hash("correct horse", &h), 0);
    assert_non_null(h);
    assert_memory_equal(h, "$y$", 3);
    assert_null(strstr(h, "correct horse"));
    assert_true(mtm_password_check("correct horse", h));
    assert_false(mtm_password_check("correct hors", h));
    assert_false(mtm_password_check("correct horse ", h));
    assert_false(mtm_password_check("Correct horse", h));
    assert_false(mtm_password_check("", h));
    free(h);
}

static void test_fresh_salt_each_time(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    assert_int_equal(mtm_password_hash("same", &a), 0);
    assert_int_equal(mtm_password_hash("same", &b), 0);
    assert_string_not_equal(a, b);
    assert_true(mtm_password_check("same", a));
    assert_true(mtm_password_check("same", b));
    free(a);
    free(b);
}

static void test_empty_and_long_passwords(void **state)
{
    (void)state;
    char *h = NULL;
    assert_int_equal(mtm_password_hash("", &h), 0);
    assert_true(mtm_password_check("", h));
    assert_false(mtm_password_check("x", h));
    free(h);
    /* crypt's limit: MTM_PASSWORD_MAX bytes hash, one more is refused. */
    char longpw[MTM_PASSWORD_MAX + 2];
    memset(longpw, 'p', MTM_PASSWORD_MAX);
    longpw[MTM_PASSWORD_MAX] = '\0';
    assert_int_equal(mtm_password_hash(longpw, &h), 0);
    assert_true(mtm_password_check(longpw, h));
    longpw[MTM_PASSWORD_MAX - 1] = 'q'; /* differs in the last byte only */
    assert_false(mtm_password_check(longpw, h));
    longpw[MTM_PASSWORD_MAX - 1] = 'p';
    longpw[MTM_PASSWORD_MAX] = 'p';
    longpw[MTM_PASSWORD_MAX + 1] = '\0';
    assert_false(mtm_password_check(longpw, h));
    free(h);
    h = (char *)"untouched";
    assert_int_equal(mtm_password_hash(longpw, &h), MTM_EINVAL);
    assert_null(h);
}

static void test_bad_hashes_never_match(void **state)
{
    (void)state;
    assert_false(mtm_password_check("x", NULL));
    assert_false(mtm_password_check("", NULL));
    assert_false(mtm_password_check("", ""));
    assert_false(mtm_password_check("x", "*0"));
    assert_false(mtm_password_check("x", "not a hash"));
    assert_false(mtm_password_check("x", "$y$"));
    assert_false(mtm_password_check("x", "$unknown$salt$hash"));
    /* The dummy check returns nothing and must simply not crash or leak. */
    mtm_password_check_dummy("whatever");
    mtm_password_check_dummy("");
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(mtm_password_equal("", ""));
    assert_true(mtm_password_equal("secret", "secret"));
    assert_false(mtm_password_equal("secret", "secreT"));
    assert_false(mtm_password_equal("Secret", "secret"));
    assert_false(mtm_password_equal("secret", "secret2"));
    assert_false(mtm_password_equal("secret2", "secret"));
    assert_false(mtm_password_equal("", "a"));
    assert_false(mtm_password_equal("a", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_check),
        cmocka_unit_test(test_fresh_salt_each_time),
        cmocka_unit_test(test_empty_and_long_passwords),
        cmocka_unit_test(test_bad_hashes_never_match),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
