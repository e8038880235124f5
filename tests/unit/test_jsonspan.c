/*
 * test_jsonspan: raw spans of values inside JSON text (lib/jsonspan.c).
 *
 * A span is checked by the exact text it covers, so numbers beyond 64 bits
 * and strings with escapes come back byte for byte. Members: whitespace
 * anywhere, values of every type, nested values not mistaken for members,
 * escaped keys, the last duplicate winning. Elements: empty arrays, mixed
 * values, the cap. Input that is cut short or malformed fails with
 * MTM_EPARSE; each such text is copied into a buffer of exactly its length
 * so that ASan would catch a read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jsonspan.h"

static struct mtm_span whole(const char *text)
{
    return mtm_json_trim(text, strlen(text));
}

/* The member's value text, or NULL with *rc set when there is none. */
static char *member(const char *text, const char *name, int *rc)
{
    struct mtm_span v = {0, 0};
    *rc = mtm_json_member(text, whole(text), name, &v);
    if (*rc)
        return NULL;
    assert_true(v.start <= v.end && v.end <= strlen(text));
    return strndup(text + v.start, v.end - v.start);
}

static void expect_member(const char *text, const char *name, const char *want)
{
    int rc;
    char *got = member(text, name, &rc);
    if (!got)
        print_message("member %s of %s: rc %d\n", name, text, rc);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void expect_member_rc(const char *text, const char *name, int want)
{
    /* Exactly strlen(text) bytes, no NUL after them: reads past the end fail under ASan. */
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    struct mtm_span v, all = mtm_json_trim(copy, n);
    assert_int_equal(mtm_json_member(copy, all, name, &v), want);
    free(copy);
}

static void test_trim(void **state)
{
    (void)state;
    struct mtm_span s = mtm_json_trim(" \t\r\n{\"a\":1} \n", 14);
    assert_int_equal(s.start, 4);
    assert_int_equal(s.end, 11);
    s = mtm_json_trim("[]", 2);
    assert_int_equal(s.start, 0);
    assert_int_equal(s.end, 2);
    s = mtm_json_trim("   ", 3);
    assert_int_equal(s.start, s.end);
    s = mtm_json_trim("", 0);
    assert_int_equal(s.start, 0);
    assert_int_equal(s.end, 0);
}

static void test_member_values(void **state)
{
    (void)state;
    const char *doc =
        " { \"s\" : \"a \\\" } ] , b\" , \"n\":-1.5e+10,\"big\":123456789012345678901234567890,"
        "\"t\":true,\"f\":false,\"z\":null,\"o\":{\"k\":[1,{\"x\":\"}\"}]},\"a\":[ ] } ";
    expect_member(doc, "s", "\"a \\\" } ] , b\"");
    expect_member(doc, "n", "-1.5e+10");
    expect_member(doc, "big", "123456789012345678901234567890");
    expect_member(doc, "t", "true");
    expect_member(doc, "f", "false");
    expect_member(doc, "z", "null");
    expect_member(doc, "o", "{\"k\":[1,{\"x\":\"}\"}]}");
    expect_member(doc, "a", "[ ]");
    /* Members of nested objects are not members of the outer one. */
    expect_member_rc(doc, "k", MTM_ENOTFOUND);
    expect_member_rc(doc, "x", MTM_ENOTFOUND);
    expect_member_rc(doc, "", MTM_ENOTFOUND);
    expect_member_rc("{}", "a", MTM_ENOTFOUND);
    expect_member_rc(" { } ", "a", MTM_ENOTFOUND);
}

static void test_member_keys(void **state)
{
    (void)state;
    /* The last duplicate wins, as in json-c. */
    expect_member("{\"a\":1,\"a\":2}", "a", "2");
    /* Escaped keys are compared decoded. */
    expect_member("{\"\\u0061b\":\"escaped\"}", "ab", "\"escaped\"");
    expect_member("{\"q\\\"k\":3}", "q\"k", "3");
    expect_member_rc("{\"\\u0061b\":1}", "\\u0061b", MTM_ENOTFOUND);
    /* A prefix or a longer key is another key. */
    expect_member_rc("{\"abc\":1}", "ab", MTM_ENOTFOUND);
    expect_member_rc("{\"ab\":1}", "abc", MTM_ENOTFOUND);
}

static void test_member_bad_input(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "   ",
                         "[1]",
                         "\"s\"",
                         "{",
                         "{\"a\"",
                         "{\"a\":",
                         "{\"a\":1",
                         "{\"a\":1,",
                         "{\"a\" 1}",
                         "{a:1}",
                         "{\"a\":1 \"b\":2}",
                         "{\"a\":\"unterminated}",
                         "{\"a\":{\"b\":[1,2}",
                         "{\"a\":\"x\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]);
        char *copy = malloc(n ? n : 1);
        memcpy(copy, bad[i], n);
        struct mtm_span v, all = {0, n};
        int rc = mtm_json_member(copy, all, "a", &v);
        if (rc != MTM_EPARSE)
            print_message("%s: rc %d\n", bad[i], rc);
        assert_int_equal(rc, MTM_EPARSE);
        free(copy);
    }
}

/* A span inside a larger text: only that part is read. */
static void test_member_within_span(void **state)
{
    (void)state;
    const char *text = "[{\"a\":1},{\"a\":2}]";
    struct mtm_span second = {9, 16}, v;
    assert_int_equal(mtm_json_member(text, second, "a", &v), 0);
    assert_int_equal(v.start, 14);
    assert_int_equal(v.end, 15);
    struct mtm_span cut = {1, 6}; /* {"a": */
    assert_int_equal(mtm_json_member(text, cut, "a", &v), MTM_EPARSE);
}

static void test_elements(void **state)
{
    (void)state;
    struct mtm_span out[8];
    size_t count = 99;
    const char *empty = " [ \n ] ";
    assert_int_equal(mtm_json_elements(empty, whole(empty), out, 8, &count), 0);
    assert_int_equal(count, 0);

    const char *arr = "[ 1 , \"a,]\" ,{\"b\":[2,3]},[[]],null,-0.5e3 ]";
    assert_int_equal(mtm_json_elements(arr, whole(arr), out, 8, &count), 0);
    assert_int_equal(count, 6);
    const char *want[] = {"1", "\"a,]\"", "{\"b\":[2,3]}", "[[]]", "null", "-0.5e3"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out[i].end - out[i].start, strlen(want[i]));
        assert_memory_equal(arr + out[i].start, want[i], strlen(want[i]));
    }
    /* Exactly max elements fit; one more is MTM_ETOOBIG. */
    assert_int_equal(mtm_json_elements(arr, whole(arr), out, 6, &count), 0);
    assert_int_equal(count, 6);
    count = 99;
    assert_int_equal(mtm_json_elements(arr, whole(arr), out, 5, &count), MTM_ETOOBIG);
    assert_int_equal(count, 0);
    assert_int_equal(mtm_json_elements("[1]", whole("[1]"), out, 0, &count), MTM_ETOOBIG);
}

static void test_elements_bad_input(void **state)
{
    (void)state;
    const char *bad[] = {"", "{}", "1", "[", "[1", "[1,", "[1 2]", "[,1]", "[\"a]", "[{]"};
    struct mtm_span out[4];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]), count = 99;
        char *copy = malloc(n ? n : 1);
        memcpy(copy, bad[i], n);
        struct mtm_span all = {0, n};
        int rc = mtm_json_elements(copy, all, out, 4, &count);
        if (rc != MTM_EPARSE)
            print_message("%s: rc %d\n", bad[i], rc);
        assert_int_equal(rc, MTM_EPARSE);
        assert_int_equal(count, 0);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_member_values),
        cmocka_unit_test(test_member_keys),
        cmocka_unit_test(test_member_bad_input),
        cmocka_unit_test(test_member_within_span),
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_elements_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
