/*
 * test_json: strict parsing of request bodies (lib/json.c).
 *
 * A body is exactly one JSON value: malformed text, trailing data, invalid
 * UTF-8 and nesting over the cap are all MTM_EPARSE with a reason, and no
 * object is handed back on failure. Deep nesting must fail fast, not crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

static char err[256];

static int parse_n(const char *text, size_t len, struct json_object **out)
{
    err[0] = '\0';
    *out = (struct json_object *)&err; /* must be overwritten */
    return mtm_json_parse(text, len, MTM_JSON_MAX_DEPTH, out, err, sizeof(err));
}

static int parse(const char *text, struct json_object **out)
{
    return parse_n(text, strlen(text), out);
}

/* Parses text, expects success, and returns the compact text of the value. */
static void expect_ok(const char *text, const char *compact)
{
    struct json_object *o;
    int rc = parse(text, &o);
    if (rc)
        print_message("input %s: %s\n", text, err);
    assert_int_equal(rc, 0);
    assert_string_equal(mtm_json_text(o, NULL), compact);
    json_object_put(o);
}

static void expect_eparse_n(const char *text, size_t len)
{
    struct json_object *o;
    int rc = parse_n(text, len, &o);
    if (rc != MTM_EPARSE)
        print_message("input \"%.*s\" (%zu bytes) gave %d\n", (int)len, text, len, rc);
    assert_int_equal(rc, MTM_EPARSE);
    assert_null(o);
    assert_true(err[0] != '\0');
}

static void expect_eparse(const char *text)
{
    expect_eparse_n(text, strlen(text));
}

static void test_valid_documents(void **state)
{
    (void)state;
    expect_ok("{}", "{}");
    expect_ok("[]", "[]");
    expect_ok("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
              "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}");
    expect_ok(" \t\r\n{ \"a\" : [ 1 , 2 ] } \n\t ", "{\"a\":[1,2]}");
    expect_ok("[-0.5,1e3,-12,0]", "[-0.5,1e3,-12,0]");
    expect_ok("\"caf\xc3\xa9 \\u20ac \\\" \\\\ /\"", "\"caf\xc3\xa9 \xe2\x82\xac \\\" \\\\ /\"");
    expect_ok("{\"url\":\"http://x/y\"}", "{\"url\":\"http://x/y\"}"); /* no "\/" */
    expect_ok("\"\"", "\"\"");

    struct json_object *o;
    assert_int_equal(parse("{\"n\":42,\"s\":\"x\"}", &o), 0);
    assert_true(json_object_is_type(o, json_type_object));
    struct json_object *n;
    assert_true(json_object_object_get_ex(o, "n", &n));
    assert_int_equal(json_object_get_int(n), 42);
    json_object_put(o);
}

static void test_top_level_scalars(void **state)
{
    (void)state;
    expect_ok("123", "123");
    expect_ok("-7", "-7");
    expect_ok("0", "0");
    expect_ok("1.5e2", "1.5e2");
    expect_ok("true", "true");
    expect_ok("false", "false");
    expect_ok("\"s\"", "\"s\"");
    expect_ok("  42  ", "42");
    expect_ok("true\n", "true");
}

static void test_null_is_success_with_null_object(void **state)
{
    (void)state;
    struct json_object *o;
    int rc = parse("null", &o);
    if (rc)
        print_message("null: %s\n", err);
    assert_int_equal(rc, 0);
    assert_null(o);
    assert_int_equal(parse(" null \n", &o), 0);
    assert_null(o);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",          " \n ",      "{",          "[",          "}",       "[1,]",
        "{\"a\":}",  "{\"a\" 1}", "{\"a\":1,}", "{a:1}",      "['a']",   "{\"a\":'b'}",
        "nul",       "tru",       "nulll",      "True",       "-",       "01",
        "[.5]",      "[+1]",      "1e",         "\"unclosed", "[1",      "{\"a\":1",
        "\"\\x41\"", "\"\\u12\"", "undefined",  "/* c */ {}", "{} // c", "[1 2]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_eparse(bad[i]);
    assert_int_equal(parse("{", &(struct json_object *){NULL}), MTM_EPARSE);
    assert_contains(err, "end");
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"{} x", "[1] [2]", "1 2", "{}}", "\"a\"\"b\"", "null null", "true,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_eparse(bad[i]);
    /* An embedded NUL after the value is data too, not an end. */
    expect_eparse_n("{}\0", 3);
    expect_eparse_n("{}\0 ", 4);
    expect_eparse_n("1\0", 2);
    /* len bounds the input: bytes beyond it are not looked at. */
    struct json_object *o;
    assert_int_equal(parse_n("{}garbage", 2, &o), 0);
    assert_string_equal(mtm_json_text(o, NULL), "{}");
    json_object_put(o);
    assert_int_equal(parse("{} x", &o), MTM_EPARSE);
    assert_contains(err, "byte 3");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *bad[] = {
        "\"\xff\"",              /* never valid */
        "\"\xc3\"",              /* truncated two-byte sequence */
        "\"\xe2\x82\"",          /* truncated three-byte sequence */
        "\"\x80\"",              /* lone continuation byte */
        "{\"k\xfe\":1}",         /* in a key */
        "[\"ok\",\"\xc3\x28\"]", /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_eparse(bad[i]);
    struct json_object *o;
    assert_int_equal(parse("\"\xff\"", &o), MTM_EPARSE);
    assert_contains(err, "utf-8");
}

static char *repeat(const char *unit, size_t count, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(ul * count + tl + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * ul, unit, ul);
    memcpy(s + ul * count, tail, tl + 1);
    return s;
}

static void test_nesting_cap(void **state)
{
    (void)state;
    struct json_object *o;
    /* Exactly at the cap: accepted. */
    char *open = repeat("[", MTM_JSON_MAX_DEPTH, "");
    char *close = repeat("]", MTM_JSON_MAX_DEPTH, "");
    char *doc = malloc(2 * MTM_JSON_MAX_DEPTH + 1);
    assert_non_null(doc);
    memcpy(doc, open, MTM_JSON_MAX_DEPTH);
    memcpy(doc + MTM_JSON_MAX_DEPTH, close, MTM_JSON_MAX_DEPTH + 1);
    int rc = parse(doc, &o);
    if (rc)
        print_message("depth %d: %s\n", MTM_JSON_MAX_DEPTH, err);
    assert_int_equal(rc, 0);
    json_object_put(o);
    free(doc);
    free(open);
    free(close);

    /* One deeper: refused, saying why. */
    open = repeat("[", MTM_JSON_MAX_DEPTH + 1, "");
    close = repeat("]", MTM_JSON_MAX_DEPTH + 1, "");
    doc = malloc(2 * (MTM_JSON_MAX_DEPTH + 1) + 1);
    assert_non_null(doc);
    memcpy(doc, open, MTM_JSON_MAX_DEPTH + 1);
    memcpy(doc + MTM_JSON_MAX_DEPTH + 1, close, MTM_JSON_MAX_DEPTH + 2);
    assert_int_equal(parse(doc, &o), MTM_EPARSE);
    assert_null(o);
    assert_contains(err, "deeper");
    free(doc);
    free(open);
    free(close);
}

static void test_hostile_nesting(void **state)
{
    (void)state;
    struct json_object *o;
    char *arr = repeat("[", 100000, "");
    assert_int_equal(parse(arr, &o), MTM_EPARSE);
    assert_null(o);
    assert_contains(err, "deeper");
    free(arr);

    char *obj = repeat("{\"a\":", 100000, "1");
    assert_int_equal(parse(obj, &o), MTM_EPARSE);
    assert_null(o);
    free(obj);

    char *closed = repeat("[", 100000, "");
    char *all = malloc(200001);
    assert_non_null(all);
    memcpy(all, closed, 100000);
    memset(all + 100000, ']', 100000);
    all[200000] = '\0';
    assert_int_equal(parse(all, &o), MTM_EPARSE);
    assert_null(o);
    free(all);
    free(closed);
}

/* json-c counts every value as a level, scalars included: "[[1]]" is three
 * deep, "[[]]" two. */
static void test_caller_depth(void **state)
{
    (void)state;
    struct json_object *o;
    assert_int_equal(mtm_json_parse("[[]]", 4, 1, &o, err, sizeof(err)), MTM_EPARSE);
    assert_null(o);
    assert_int_equal(mtm_json_parse("[[]]", 4, 2, &o, err, sizeof(err)), 0);
    json_object_put(o);
    assert_int_equal(mtm_json_parse("[[1]]", 5, 2, &o, err, sizeof(err)), MTM_EPARSE);
    assert_null(o);
    assert_int_equal(mtm_json_parse("[[1]]", 5, 3, &o, err, sizeof(err)), 0);
    json_object_put(o);
}

static void test_oversized_length_refused(void **state)
{
    (void)state;
    struct json_object *o;
    /* Refused before a byte is read: json-c takes an int length. */
    assert_int_equal(mtm_json_parse("{}", (size_t)INT32_MAX + 1, 32, &o, err, sizeof(err)),
                     MTM_EPARSE);
    assert_null(o);
}

static void test_text_length(void **state)
{
    (void)state;
    struct json_object *o;
    assert_int_equal(parse("{ \"a\" : [ 1, \"x\" ] }", &o), 0);
    size_t len = 0;
    const char *t = mtm_json_text(o, &len);
    assert_string_equal(t, "{\"a\":[1,\"x\"]}");
    assert_int_equal(len, strlen(t));
    json_object_put(o);
}

/* Not JSON (RFC 8259), yet json-c 0.16 accepts each even in strict mode;
 * PostgreSQL's jsonb refuses them all, so the second pass must. */
static void test_not_json_that_json_c_accepts(void **state)
{
    (void)state;
    const char *not_json[] = {
        "[NaN]",
        "[Infinity]",
        "[-Infinity]",
        "NaN",
        "[1.]",
        "-01",
        "[-010.25E-3]",
        "1.",
        "{'a':1}",
        "{\"a\":{'b':1}}",
        "[\"tab\there\"]",
        "[\"nl\nhere\"]",
        "\"\x1f\"",
        "\"\xc0\xaf\"",         /* overlong encoding of '/' */
        "\"\xc1\xbf\"",         /* overlong two-byte form */
        "\"\xe0\x80\xaf\"",     /* overlong three-byte form */
        "\"\xf0\x80\x80\xaf\"", /* overlong four-byte form */
        "\"\xed\xa0\x80\"",     /* an encoded UTF-16 surrogate */
        "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xf5\x80\x80\x80\"", /* never a lead byte */
        "\"\\ud800\"",          /* unpaired high surrogate */
        "\"\\udc00\"",          /* unpaired low surrogate */
        "\"\\ud800\\u0041\"",   /* high surrogate, then not a low one */
        "\"\\ud800x\"",
    };
    for (size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++)
        expect_eparse(not_json[i]);
    struct json_object *o;
    assert_int_equal(parse("{\"a\":[1.]}", &o), MTM_EPARSE);
    assert_contains(err, "byte 6"); /* where the number starts */
    assert_contains(err, "number");
}

/* Edge cases of the second pass that are JSON and must stay accepted. */
static void test_strict_pass_accepts_json(void **state)
{
    (void)state;
    expect_ok("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""); /* a surrogate pair */
    expect_ok("\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\"");
    expect_ok("\"\xc2\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"",
              "\"\xc2\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"");
    expect_ok("\"\x7f\"", "\"\x7f\"");
    expect_ok("\"\\u0041\\u00e9\"", "\"A\xc3\xa9\"");
    expect_ok("[0.0e-0,1E+2,-1.25e10,10]", "[0.0e-0,1E+2,-1.25e10,10]");
    expect_ok("-0", "0");
    expect_ok("{\"\":\"\",\"a\":[{},[],\"\\b\\f\\n\\r\\t\\/\\\\\\\"\"]}",
              "{\"\":\"\",\"a\":[{},[],\"\\b\\f\\n\\r\\t/\\\\\\\"\"]}");
}

/* \u0000 is JSON, but PostgreSQL's jsonb cannot hold it: in a value it
 * parses (callers answer 422 for the field, via mtm_json_contains_nul); in a
 * member name, which json-c would silently cut at the NUL, it is refused. */
static void test_nul_escape(void **state)
{
    (void)state;
    struct json_object *o;
    assert_int_equal(parse("{\"a\":[\"x\\u0000y\"]}", &o), 0);
    assert_true(mtm_json_contains_nul(o));
    json_object_put(o);
    assert_int_equal(parse("{\"a\":[\"xy\",{\"b\":\"\\u0001\"}]}", &o), 0);
    assert_false(mtm_json_contains_nul(o));
    json_object_put(o);
    assert_int_equal(parse("{\"a\\u0000b\":1}", &o), MTM_EPARSE);
    assert_contains(err, "member name");
}

/* PostgreSQL's json_build_object text, compacted: whitespace between
 * tokens goes, whitespace and escapes inside strings stay. */
static void test_compact(void **state)
{
    (void)state;
    struct mtm_buf b;
    mtm_buf_init(&b, 1024);
    const char *in = "{\"id\" : \"a b\", \"n\" : 1,\n \"s\" : \"x \\\" : y\\\\\", "
                     "\"o\" : {\"k\" : [1, 2]}}";
    assert_int_equal(mtm_json_compact_append(&b, in, strlen(in)), 0);
    assert_string_equal(mtm_buf_cstr(&b),
                        "{\"id\":\"a b\",\"n\":1,\"s\":\"x \\\" : y\\\\\",\"o\":{\"k\":[1,2]}}");
    /* The result parses to the same value. */
    struct json_object *a = json_tokener_parse(in), *c = json_tokener_parse(mtm_buf_cstr(&b));
    assert_non_null(a);
    assert_non_null(c);
    assert_true(json_object_equal(a, c));
    json_object_put(a);
    json_object_put(c);
    /* A cap on the buffer is reported, not overrun. */
    struct mtm_buf small;
    mtm_buf_init(&small, 4);
    assert_int_not_equal(mtm_json_compact_append(&small, in, strlen(in)), 0);
    mtm_buf_cleanup(&small);
    mtm_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_top_level_scalars),
        cmocka_unit_test(test_null_is_success_with_null_object),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nesting_cap),
        cmocka_unit_test(test_hostile_nesting),
        cmocka_unit_test(test_caller_depth),
        cmocka_unit_test(test_oversized_length_refused),
        cmocka_unit_test(test_text_length),
        cmocka_unit_test(test_not_json_that_json_c_accepts),
        cmocka_unit_test(test_strict_pass_accepts_json),
        cmocka_unit_test(test_nul_escape),
        cmocka_unit_test(test_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
