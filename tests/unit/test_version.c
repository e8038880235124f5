/* Unit tests for lib/version.c: --version and --help of every binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "version.h"

struct out {
    char out[512], err[512];
};

static int call(struct out *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    FILE *out = fmemopen(o->out, sizeof(o->out) - 1, "w");
    FILE *err = fmemopen(o->err, sizeof(o->err) - 1, "w");
    assert_non_null(out);
    assert_non_null(err);
    int rc = mtm_version_args(argc, argv, "prog", "Does things.", out, err);
    fclose(out);
    fclose(err);
    return rc;
}

static void test_no_arguments_runs(void **state)
{
    (void)state;
    struct out o;
    char *argv[] = {"prog", NULL};
    assert_int_equal(call(&o, 1, argv), -1);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "");
}

static void test_version(void **state)
{
    (void)state;
    struct out o;
    char *argv[] = {"prog", "--version", NULL};
    char want[256];
    assert_int_equal(call(&o, 2, argv), 0);
    snprintf(want, sizeof(want), "prog %s (revision %s)\n", mtm_version(), mtm_revision());
    assert_string_equal(o.out, want);
    assert_true(strlen(mtm_version()) > 0);
    assert_true(strlen(mtm_revision()) > 0);
}

static void test_help(void **state)
{
    (void)state;
    struct out o;
    char *argv[] = {"prog", "--help", NULL};
    assert_int_equal(call(&o, 2, argv), 0);
    assert_non_null(strstr(o.out, "usage: prog [--version | --help]\nDoes things.\n"));
}

static void test_anything_else_is_refused(void **state)
{
    (void)state;
    struct out o;
    char *bad[] = {"prog", "--verbose", NULL};
    assert_int_equal(call(&o, 2, bad), 2);
    assert_string_equal(o.err, "prog: unexpected argument '--verbose' (try --help)\n");
    char *two[] = {"prog", "--version", "extra", NULL};
    assert_int_equal(call(&o, 3, two), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_arguments_runs),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_anything_else_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
