/*
 * test_log: JSON-lines logging (lib/log.c).
 *
 * Lines from mtm_log_format are parsed back with json-c, so "valid JSON" is
 * checked by a real parser and escaping by a round trip. Truncation is tried
 * with buffers allocated at exactly the size given, so that ASan catches a
 * byte written past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char line[MTM_LOG_LINE_MAX];

/* Parses a whole line (which must end in "}\n") with json-c's strict parser. */
static struct json_object *parse_line(const char *text, size_t len)
{
    assert_int_equal(strlen(text), len);
    assert_true(len >= 2);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(text[len - 2], '}');
    assert_null(memchr(text, '\n', len - 1)); /* one line: no raw newline inside */
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success || !o) {
        print_message("not JSON (%s): %s", json_tokener_error_desc(e), text);
        fail();
    }
    assert_true(json_object_is_type(o, json_type_object));
    return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static void test_format_all_fields(void **state)
{
    (void)state;
    struct mtm_log_ctx ctx = {.component = "consumerd",
                              .tenant = "0190b0c4-7d2e-7a00-8000-000000000001",
                              .request_id = "req-1",
                              .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"};
    size_t n = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_WARN, "queue declared");
    assert_int_equal(strncmp(line, "{\"ts\":\"", 7), 0); /* ts first */
    struct json_object *o = parse_line(line, n);
    assert_int_equal(json_object_object_length(o), 7);
    assert_string_equal(get_str(o, "level"), "warn");
    assert_string_equal(get_str(o, "component"), "consumerd");
    assert_string_equal(get_str(o, "tenant"), "0190b0c4-7d2e-7a00-8000-000000000001");
    assert_string_equal(get_str(o, "request_id"), "req-1");
    assert_string_equal(get_str(o, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(get_str(o, "msg"), "queue declared");

    /* ts: 2024-05-01T12:34:56.789Z */
    const char *ts = get_str(o, "ts");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) : ts[i] != shape[i]) {
            print_message("ts \"%s\" does not look like %s\n", ts, shape);
            fail();
        }
    }
    json_object_put(o);
}

static void test_format_optional_fields_only_when_set(void **state)
{
    (void)state;
    struct mtm_log_ctx ctx = {.component = "mtm-api"};
    size_t n = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_INFO, "hello");
    struct json_object *o = parse_line(line, n);
    assert_int_equal(json_object_object_length(o), 4);
    assert_non_null(get_str(o, "ts"));
    assert_string_equal(get_str(o, "level"), "info");
    assert_string_equal(get_str(o, "component"), "mtm-api");
    assert_string_equal(get_str(o, "msg"), "hello");
    assert_null(get_str(o, "tenant"));
    assert_null(get_str(o, "request_id"));
    assert_null(get_str(o, "trace_id"));
    json_object_put(o);

    ctx.request_id = "r2";
    n = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_ERROR, "x");
    o = parse_line(line, n);
    assert_int_equal(json_object_object_length(o), 5);
    assert_string_equal(get_str(o, "request_id"), "r2");
    assert_string_equal(get_str(o, "level"), "error");
    json_object_put(o);

    /* No context at all. */
    n = mtm_log_format(line, sizeof(line), NULL, MTM_LOG_DEBUG, "bare");
    o = parse_line(line, n);
    assert_int_equal(json_object_object_length(o), 3);
    assert_null(get_str(o, "component"));
    assert_string_equal(get_str(o, "level"), "debug");
    assert_string_equal(get_str(o, "msg"), "bare");
    json_object_put(o);
}

static void test_escaping_round_trips(void **state)
{
    (void)state;
    const char *msg = "say \"hi\" \\ back\\slash\nnew\rline\ttab \x01\x02\x1f\x7f end "
                      "caf\xc3\xa9 \xe2\x82\xac </script>";
    struct mtm_log_ctx ctx = {.component = "comp\"onent\\", .tenant = "t\n1"};
    size_t n = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_INFO, msg);
    struct json_object *o = parse_line(line, n);
    assert_string_equal(get_str(o, "msg"), msg);
    assert_string_equal(get_str(o, "component"), "comp\"onent\\");
    assert_string_equal(get_str(o, "tenant"), "t\n1");
    json_object_put(o);

    assert_contains(line, "\\\"hi\\\"");
    assert_contains(line, "back\\\\slash");
    assert_contains(line, "\\n");
    assert_contains(line, "\\r");
    assert_contains(line, "\\t");
    assert_contains(line, "\\u0001\\u0002\\u001f");
    for (size_t i = 0; i < n - 1; i++) {
        if ((unsigned char)line[i] < 0x20) {
            print_message("raw control byte 0x%02x at %zu: %s", line[i], i, line);
            fail();
        }
    }
}

static void test_every_control_byte(void **state)
{
    (void)state;
    char msg[32];
    for (int c = 1; c < 0x20; c++)
        msg[c - 1] = (char)c;
    msg[31] = '\0';
    size_t n = mtm_log_format(line, sizeof(line), NULL, MTM_LOG_INFO, msg);
    struct json_object *o = parse_line(line, n);
    assert_string_equal(get_str(o, "msg"), msg);
    json_object_put(o);
}

static void test_field_and_msg_caps(void **state)
{
    (void)state;
    static char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    struct mtm_log_ctx ctx = {.component = "c", .tenant = big};
    size_t n = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_INFO, big);
    struct json_object *o = parse_line(line, n);
    assert_int_equal(strlen(get_str(o, "tenant")), MTM_LOG_MAX_FIELD);
    assert_int_equal(strlen(get_str(o, "msg")), MTM_LOG_MAX_MSG);
    json_object_put(o);
}

static void test_worst_case_fits_line_max(void **state)
{
    (void)state;
    /* Every kept byte a control byte (6 output bytes each): the documented
     * worst case must still fit MTM_LOG_LINE_MAX, untruncated. */
    static char msg[MTM_LOG_MAX_MSG + 1], field[MTM_LOG_MAX_FIELD + 1];
    memset(msg, '\x01', MTM_LOG_MAX_MSG);
    memset(field, '\x02', MTM_LOG_MAX_FIELD);
    struct mtm_log_ctx ctx = {field, field, field, field};
    char *out = malloc(MTM_LOG_LINE_MAX);
    assert_non_null(out);
    size_t n = mtm_log_format(out, MTM_LOG_LINE_MAX, &ctx, MTM_LOG_ERROR, msg);
    assert_true(n < MTM_LOG_LINE_MAX);
    struct json_object *o = parse_line(out, n);
    assert_string_equal(get_str(o, "msg"), msg);
    assert_string_equal(get_str(o, "trace_id"), field);
    json_object_put(o);
    free(out);
}

static void test_truncation_small_buffers(void **state)
{
    (void)state;
    const char *msg = "a long message with \"quotes\" and \n newlines \x01 that will not fit";
    struct mtm_log_ctx ctx = {.component = "consumerd", .tenant = "tenant-x"};
    for (size_t outlen = 0; outlen <= 200; outlen++) {
        /* Exactly outlen bytes on the heap: ASan reports any overrun. */
        char *out = malloc(outlen ? outlen : 1);
        assert_non_null(out);
        size_t n = mtm_log_format(out, outlen, &ctx, MTM_LOG_INFO, msg);
        if (outlen == 0) {
            assert_int_equal(n, 0);
        } else if (outlen < 4) {
            assert_int_equal(n, 0);
            assert_string_equal(out, "");
        } else {
            if (n >= outlen || strlen(out) != n) {
                print_message("outlen %zu: returned %zu, strlen %zu\n", outlen, n, strlen(out));
                fail();
            }
            assert_true(n >= 2);
            assert_string_equal(out + n - 2, "}\n");
        }
        free(out);
    }
    /* A buffer big enough for this line is not truncated. */
    size_t full = mtm_log_format(line, sizeof(line), &ctx, MTM_LOG_INFO, msg);
    char *out = malloc(full + 4);
    assert_non_null(out);
    assert_int_equal(mtm_log_format(out, full + 4, &ctx, MTM_LOG_INFO, msg), full);
    json_object_put(parse_line(out, full));
    free(out);
}

static void test_level_parse_and_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum mtm_log_level level;
    } ok[] = {{"debug", MTM_LOG_DEBUG},
              {"info", MTM_LOG_INFO},
              {"warn", MTM_LOG_WARN},
              {"error", MTM_LOG_ERROR}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        enum mtm_log_level l = MTM_LOG_ERROR + 1;
        assert_int_equal(mtm_log_level_parse(ok[i].name, &l), 0);
        assert_int_equal(l, ok[i].level);
        assert_string_equal(mtm_log_level_name(ok[i].level), ok[i].name);
    }
    const char *bad[] = {"loud", "", "warning", "info ", " info", "err", "debugx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mtm_log_level l = MTM_LOG_WARN;
        int rc = mtm_log_level_parse(bad[i], &l);
        if (rc != MTM_EINVAL)
            print_message("\"%s\" was accepted\n", bad[i]);
        assert_int_equal(rc, MTM_EINVAL);
        assert_int_equal(l, MTM_LOG_WARN); /* untouched on failure */
    }
    assert_string_equal(mtm_log_level_name((enum mtm_log_level)4), "unknown");
    assert_string_equal(mtm_log_level_name((enum mtm_log_level) - 1), "unknown");
}

/* ---- the LOG_* macros and mtm_log_write --------------------------------- */

static int evaluated;

static int side_effect(void)
{
    evaluated++;
    return 42;
}

/* Runs LOG_* with stderr redirected to a temporary file; returns its text. */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/mtm-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    fn();
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    close(fd);
    return text;
}

static void log_some(void)
{
    struct mtm_log_ctx ctx = {.component = "test", .tenant = "t1"};
    mtm_log_set_level(MTM_LOG_INFO);
    LOG_DEBUG(&ctx, "hidden %d", side_effect());
    LOG_INFO(&ctx, "shown %d and %s", side_effect(), "more");
    LOG_ERROR(&ctx, "%s", "bad \"thing\"");
}

static void test_macros_and_write(void **state)
{
    (void)state;
    enum mtm_log_level before = mtm_log_get_level();
    evaluated = 0;
    char *text = capture_stderr(log_some);
    mtm_log_set_level(before);

    assert_int_equal(evaluated, 1); /* the debug line's arguments were not evaluated */
    char *second = strchr(text, '\n');
    assert_non_null(second);
    second++;
    char first[MTM_LOG_LINE_MAX];
    snprintf(first, sizeof(first), "%.*s", (int)(second - text), text);
    struct json_object *a = parse_line(first, strlen(first));
    assert_string_equal(get_str(a, "level"), "info");
    assert_string_equal(get_str(a, "msg"), "shown 42 and more");
    assert_string_equal(get_str(a, "tenant"), "t1");
    json_object_put(a);
    struct json_object *b = parse_line(second, strlen(second));
    assert_string_equal(get_str(b, "level"), "error");
    assert_string_equal(get_str(b, "msg"), "bad \"thing\"");
    json_object_put(b);
    free(text);
}

static void test_set_get_level(void **state)
{
    (void)state;
    enum mtm_log_level before = mtm_log_get_level();
    mtm_log_set_level(MTM_LOG_ERROR);
    assert_int_equal(mtm_log_get_level(), MTM_LOG_ERROR);
    mtm_log_set_level(MTM_LOG_DEBUG);
    assert_int_equal(mtm_log_get_level(), MTM_LOG_DEBUG);
    mtm_log_set_level(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_all_fields),
        cmocka_unit_test(test_format_optional_fields_only_when_set),
        cmocka_unit_test(test_escaping_round_trips),
        cmocka_unit_test(test_every_control_byte),
        cmocka_unit_test(test_field_and_msg_caps),
        cmocka_unit_test(test_worst_case_fits_line_max),
        cmocka_unit_test(test_truncation_small_buffers),
        cmocka_unit_test(test_level_parse_and_names),
        cmocka_unit_test(test_macros_and_write),
        cmocka_unit_test(test_set_get_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
