/*
 * test_fields: validation of request fields (lib/fields.c).
 *
 * Each check either passes (and fills its output) or appends exactly one
 * {"field","message"} to the fault's errors and returns MTM_EINVAL.
 * Types are strict: an integer field refuses "5", 5.0, true and null.
 * Strings are measured in UTF-8 code points, refuse NUL and, when a set of
 * allowed characters is given, anything else but ASCII letters and digits.
 * Query integers are plain decimal digits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <json-c/json.h>
#include <string.h>

#include "fields.h"
#include "problem.h"

struct fixture {
    struct json_object *body;
    struct mtm_fault fault;
};

static struct fixture fx(const char *json)
{
    struct fixture f = {.body = json ? json_tokener_parse(json) : NULL};
    if (json)
        assert_non_null(f.body);
    return f;
}

static void fx_free(struct fixture *f)
{
    json_object_put(f->body);
    mtm_fault_reset(&f->fault);
}

static size_t nerrors(const struct fixture *f)
{
    size_t n = f->fault.errors ? json_object_array_length(f->fault.errors) : 0;
    /* A fault with field errors is a 422 unless it is something else. */
    assert_int_equal(f->fault.err, n ? MTM_EINVAL : MTM_OK);
    return n;
}

/* Asserts that error i names field and its message contains msg. */
static void expect_error(const struct fixture *f, size_t i, const char *field, const char *msg)
{
    struct json_object *errs, *e, *v;
    errs = f->fault.errors;
    assert_non_null(errs);
    assert_true(i < json_object_array_length(errs));
    e = json_object_array_get_idx(errs, i);
    assert_true(json_object_object_get_ex(e, "field", &v));
    assert_string_equal(json_object_get_string(v), field);
    assert_true(json_object_object_get_ex(e, "message", &v));
    assert_contains(json_object_get_string(v), msg);
}

static void test_object(void **state)
{
    (void)state;
    struct fixture f = fx("{}");
    assert_int_equal(mtm_field_object(f.body, &f.fault), 0);
    assert_int_equal(nerrors(&f), 0);
    fx_free(&f);
    const char *not_objects[] = {"[]", "\"x\"", "1", "true"};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        f = fx(not_objects[i]);
        assert_int_equal(mtm_field_object(f.body, &f.fault), MTM_EINVAL);
        expect_error(&f, 0, "body", "must be a JSON object");
        fx_free(&f);
    }
    f = fx(NULL); /* the JSON null */
    assert_int_equal(mtm_field_object(f.body, &f.fault), MTM_EINVAL);
    assert_int_equal(nerrors(&f), 1);
    fx_free(&f);
}

static void test_only(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "concurrency", NULL};
    struct fixture f = fx("{\"name\":\"a\",\"concurrency\":1}");
    assert_int_equal(mtm_fields_only(f.body, allowed, &f.fault), 0);
    assert_int_equal(nerrors(&f), 0);
    fx_free(&f);
    /* Every unknown member is named, not just the first; names are exact. */
    f = fx("{\"name\":\"a\",\"Name\":1,\"extra\":null}");
    assert_int_equal(mtm_fields_only(f.body, allowed, &f.fault), MTM_EINVAL);
    assert_int_equal(nerrors(&f), 2);
    expect_error(&f, 0, "Name", "is not a known field");
    expect_error(&f, 1, "extra", "is not a known field");
    fx_free(&f);
    static const char *const none[] = {NULL};
    f = fx("{\"a\":1}");
    assert_int_equal(mtm_fields_only(f.body, none, &f.fault), MTM_EINVAL);
    fx_free(&f);
}

static void test_int(void **state)
{
    (void)state;
    long v = -99;
    struct fixture f = fx("{\"n\":5,\"lo\":1,\"hi\":10}");
    assert_int_equal(mtm_field_int(f.body, "n", true, 1, 10, 0, &v, &f.fault), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mtm_field_int(f.body, "lo", true, 1, 10, 0, &v, &f.fault), 0);
    assert_int_equal(v, 1);
    assert_int_equal(mtm_field_int(f.body, "hi", true, 1, 10, 0, &v, &f.fault), 0);
    assert_int_equal(v, 10);
    /* Absent: the default when optional, an error when required. */
    assert_int_equal(mtm_field_int(f.body, "m", false, 1, 10, 7, &v, &f.fault), 0);
    assert_int_equal(v, 7);
    assert_int_equal(nerrors(&f), 0);
    v = -99;
    assert_int_equal(mtm_field_int(f.body, "m", true, 1, 10, 7, &v, &f.fault), MTM_EINVAL);
    assert_int_equal(v, -99);
    expect_error(&f, 0, "m", "is required");
    fx_free(&f);

    const char *bad[] = {"{\"n\":0}",
                         "{\"n\":11}",
                         "{\"n\":-5}",
                         "{\"n\":\"5\"}",
                         "{\"n\":5.0}",
                         "{\"n\":true}",
                         "{\"n\":null}",
                         "{\"n\":[5]}",
                         "{\"n\":99999999999999999999}",
                         "{\"n\":-99999999999999999999}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fx(bad[i]);
        v = -99;
        if (mtm_field_int(f.body, "n", false, 1, 10, 3, &v, &f.fault) != MTM_EINVAL)
            print_message("accepted %s\n", bad[i]);
        assert_int_equal(nerrors(&f), 1);
        expect_error(&f, 0, "n", "must be an integer from 1 to 10");
        assert_int_equal(v, -99);
        fx_free(&f);
    }
}

static void test_string(void **state)
{
    (void)state;
    const char *s = "unset";
    struct fixture f = fx("{\"name\":\"orders-eu_1\",\"e\":\"\u00e9t\u00e9\",\"nul\":\"a\\u0000b\","
                          "\"n\":5,\"empty\":\"\"}");
    assert_int_equal(mtm_field_string(f.body, "name", true, 1, 64, "-_", &s, &f.fault), 0);
    assert_string_equal(s, "orders-eu_1");
    /* Optional and absent: NULL, no error. */
    assert_int_equal(mtm_field_string(f.body, "absent", false, 1, 64, NULL, &s, &f.fault), 0);
    assert_null(s);
    /* Three code points in five bytes: exactly 3..3 fits. */
    assert_int_equal(mtm_field_string(f.body, "e", true, 3, 3, NULL, &s, &f.fault), 0);
    assert_string_equal(s, "\u00e9t\u00e9");
    assert_int_equal(mtm_field_string(f.body, "empty", true, 0, 3, NULL, &s, &f.fault), 0);
    assert_string_equal(s, "");
    assert_int_equal(nerrors(&f), 0);

    assert_int_equal(mtm_field_string(f.body, "absent", true, 1, 64, NULL, &s, &f.fault),
                     MTM_EINVAL);
    expect_error(&f, 0, "absent", "is required");
    assert_int_equal(mtm_field_string(f.body, "e", true, 4, 10, NULL, &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 1, "e", "must be 4 to 10 characters long");
    assert_int_equal(mtm_field_string(f.body, "e", true, 1, 2, NULL, &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 2, "e", "must be 1 to 2 characters long");
    assert_int_equal(mtm_field_string(f.body, "nul", true, 1, 64, NULL, &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 3, "nul", "must not contain NUL");
    assert_null(s);
    assert_int_equal(mtm_field_string(f.body, "n", true, 1, 64, NULL, &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 4, "n", "must be a string");
    /* With a character set: non-ASCII letters are refused too. */
    assert_int_equal(mtm_field_string(f.body, "e", true, 1, 64, "-_", &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 5, "e", "may contain only letters, digits and \"-_\"");
    assert_int_equal(mtm_field_string(f.body, "name", true, 1, 64, "-", &s, &f.fault), MTM_EINVAL);
    expect_error(&f, 6, "name", "may contain only letters, digits and \"-\"");
    assert_int_equal(nerrors(&f), 7);
    fx_free(&f);

    f = fx("{\"name\":\"a b\"}");
    assert_int_equal(mtm_field_string(f.body, "name", true, 1, 64, "-_", &s, &f.fault), MTM_EINVAL);
    assert_int_equal(mtm_field_string(f.body, "name", true, 1, 64, NULL, &s, &f.fault), 0);
    assert_string_equal(s, "a b");
    fx_free(&f);
}

static void test_query_int(void **state)
{
    (void)state;
    struct fixture f = fx("{}");
    long v = -99;
    assert_int_equal(mtm_query_int("limit=10&x=y", "limit", 1, 100, 50, &v, &f.fault), 0);
    assert_int_equal(v, 10);
    assert_int_equal(mtm_query_int("x=y&limit=%31%30%30", "limit", 1, 100, 50, &v, &f.fault), 0);
    assert_int_equal(v, 100);
    assert_int_equal(mtm_query_int("x=y", "limit", 1, 100, 50, &v, &f.fault), 0);
    assert_int_equal(v, 50);
    assert_int_equal(mtm_query_int("", "limit", 1, 100, 50, &v, &f.fault), 0);
    assert_int_equal(v, 50);
    assert_int_equal(mtm_query_int("limits=3", "limit", 1, 100, 50, &v, &f.fault), 0);
    assert_int_equal(v, 50);
    assert_int_equal(nerrors(&f), 0);
    fx_free(&f);

    const char *bad[] = {"limit=",
                         "limit",
                         "limit=0",
                         "limit=101",
                         "limit=-1",
                         "limit=+5",
                         "limit=1e2",
                         "limit=5 ",
                         "limit=0x10",
                         "limit=%zz",
                         "limit=1%002",
                         "limit=1234567890123456789",
                         "limit=99999999999999999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fx("{}");
        v = -99;
        if (mtm_query_int(bad[i], "limit", 1, 100, 50, &v, &f.fault) != MTM_EINVAL)
            print_message("accepted %s\n", bad[i]);
        assert_int_equal(nerrors(&f), 1);
        expect_error(&f, 0, "limit", "must be an integer from 1 to 100");
        assert_int_equal(v, -99);
        fx_free(&f);
    }
    /* 18 digits is the longest accepted. */
    f = fx("{}");
    assert_int_equal(
        mtm_query_int("n=999999999999999999", "n", 0, 999999999999999999L, 0, &v, &f.fault), 0);
    assert_int_equal(v, 999999999999999999L);
    fx_free(&f);
}

/* A table of rules: every mistake of the body at once, outputs filled
 * (defaults included) when there is none. */
static void test_read_table(void **state)
{
    (void)state;
    long n = -1;
    const char *name = "untouched";
    const struct mtm_field_rule rules[] = {
        {"name", MTM_FIELD_STRING, true, 1, 8, 0, "-", &name},
        {"n", MTM_FIELD_INT, false, 1, 10, 5, NULL, &n},
    };

    struct fixture f = fx("{\"name\":\"a-b\"}");
    assert_int_equal(mtm_fields_read(f.body, rules, 2, &f.fault), 0);
    assert_string_equal(name, "a-b");
    assert_int_equal(n, 5); /* absent: the default */
    assert_int_equal(nerrors(&f), 0);
    fx_free(&f);

    f = fx("{\"extra\":1,\"n\":11}");
    assert_int_equal(mtm_fields_read(f.body, rules, 2, &f.fault), MTM_EINVAL);
    assert_int_equal(nerrors(&f), 3);
    expect_error(&f, 0, "extra", "is not a known field");
    expect_error(&f, 1, "name", "is required");
    expect_error(&f, 2, "n", "from 1 to 10");
    fx_free(&f);

    f = fx("[1]");
    assert_int_equal(mtm_fields_read(f.body, rules, 2, &f.fault), MTM_EINVAL);
    assert_int_equal(nerrors(&f), 1); /* nothing else is checked in a non-object */
    expect_error(&f, 0, "body", "object");
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object),    cmocka_unit_test(test_only),
        cmocka_unit_test(test_int),       cmocka_unit_test(test_string),
        cmocka_unit_test(test_query_int), cmocka_unit_test(test_read_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
