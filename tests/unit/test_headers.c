/* Unit tests for lib/headers.c: producer header limits, shared by the API's
 * publish and consumerd's judging of foreign deliveries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "json.h"

static struct json_object *parse(const char *text)
{
    char err[128];
    struct json_object *o = NULL;
    if (mtm_json_parse(text, strlen(text), 4, &o, err, sizeof(err)))
        fail_msg("fixture is not JSON: %s", err);
    return o;
}

static void expect(const char *text, bool ok, const char *why_part)
{
    struct json_object *h = parse(text);
    const char *why = NULL;
    int rc = mtm_headers_check(h, &why);
    if (ok && rc)
        fail_msg("refused %.80s: %s", text, why);
    if (!ok && (rc != MTM_EINVAL || !why || !strstr(why, why_part)))
        fail_msg("%.80s: rc %d, why %s, want \"%s\"", text, rc, why ? why : "(none)", why_part);
    json_object_put(h);
}

static void test_shapes(void **state)
{
    (void)state;
    expect("{}", true, NULL);
    expect("{\"a\":\"b\",\"X-Trace\":\"\"}", true, NULL);
    expect("[]", false, "object");
    expect("\"s\"", false, "object");
    expect("{\"a\":1}", false, "strings");
    expect("{\"a\":null}", false, "strings");
    expect("{\"a\":\"x\\u0000y\"}", false, "\\u0000");
    expect("{\"\":\"v\"}", false, "1 to 128");
}

/* One object of n entries, each named nNN with a value of vlen bytes. */
static char *object_of(int n, size_t vlen, size_t nlen)
{
    size_t cap = (size_t)n * (vlen + nlen + 16) + 4;
    char *s = malloc(cap), *p = s;
    *p++ = '{';
    for (int i = 0; i < n; i++) {
        p += snprintf(p, cap - (size_t)(p - s), "%s\"%0*d\":\"", i ? "," : "", (int)nlen, i);
        memset(p, 'v', vlen);
        p += vlen;
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    char *s = object_of(MTM_HEADERS_MAX, 10, 3);
    expect(s, true, NULL);
    free(s);
    s = object_of(MTM_HEADERS_MAX + 1, 10, 3);
    expect(s, false, "64 entries");
    free(s);
    s = object_of(1, MTM_HEADER_VALUE_MAX, 3);
    expect(s, true, NULL);
    free(s);
    s = object_of(1, MTM_HEADER_VALUE_MAX + 1, 3);
    expect(s, false, "4096 bytes");
    free(s);
    s = object_of(1, 1, MTM_HEADER_NAME_MAX);
    expect(s, true, NULL);
    free(s);
    s = object_of(1, 1, MTM_HEADER_NAME_MAX + 1);
    expect(s, false, "1 to 128");
    free(s);
    /* 16 x (4 + 4096) = 65,600 bytes: over the 65,536-byte total. */
    s = object_of(16, MTM_HEADER_VALUE_MAX, 4);
    expect(s, false, "65536 bytes");
    free(s);
    /* 15 x 4100 = 61,500: within. */
    s = object_of(15, MTM_HEADER_VALUE_MAX, 4);
    expect(s, true, NULL);
    free(s);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(mtm_utf8_valid("", 0));
    assert_true(mtm_utf8_valid("plain", 5));
    assert_true(mtm_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false(mtm_utf8_valid("\xff\xfe", 2));
    assert_false(mtm_utf8_valid("a\0b", 3));
    assert_false(mtm_utf8_valid("\xc3", 1));             /* cut */
    assert_false(mtm_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(mtm_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(mtm_utf8_valid("\xf4\x90\x80\x80", 4)); /* over U+10FFFF */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_utf8_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
