/*
 * test_problem: RFC 9457 problem objects and the one mapping from mtm's
 * error codes to HTTP statuses (lib/problem.c, with the names of lib/err.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "problem.h"

static void test_status_for_every_code(void **state)
{
    (void)state;
    static const struct {
        int err, status;
    } map[] = {
        {MTM_OK, 200},        {MTM_EINVAL, 422},     {MTM_EPARSE, 400},     {MTM_ETOOBIG, 413},
        {MTM_ENOTFOUND, 404}, {MTM_ECONFLICT, 409},  {MTM_EUNAVAIL, 503},   {MTM_ETIMEOUT, 503},
        {MTM_EAUTH, 401},     {MTM_EFORBIDDEN, 403}, {MTM_ERATELIMIT, 429}, {MTM_EDB, 500},
        {MTM_EAMQP, 503},     {MTM_EIO, 500},        {MTM_EINTERNAL, 500},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (mtm_http_status_for(map[i].err) != map[i].status)
            print_message("code %d (%s)\n", map[i].err, mtm_strerror(map[i].err));
        assert_int_equal(mtm_http_status_for(map[i].err), map[i].status);
    }
    assert_int_equal(mtm_http_status_for(-999), 500);
    assert_int_equal(mtm_http_status_for(7), 500);
}

static void test_every_code_has_a_name(void **state)
{
    (void)state;
    for (int code = MTM_OK; code >= MTM_EINTERNAL; code--) {
        const char *name = mtm_strerror(code);
        assert_non_null(name);
        if (strcmp(name, "unknown error") == 0)
            print_message("code %d has no name\n", code);
        assert_string_not_equal(name, "unknown error");
        for (int other = code - 1; other >= MTM_EINTERNAL; other--)
            assert_string_not_equal(name, mtm_strerror(other));
    }
    assert_string_equal(mtm_strerror(MTM_EINTERNAL - 1), "unknown error");
    assert_string_equal(mtm_strerror(1), "unknown error");
}

static void test_reason_phrases(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } map[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_string_equal(mtm_http_reason(map[i].status), map[i].reason);
    assert_string_equal(mtm_http_reason(418), "Unknown");
    assert_string_equal(mtm_http_reason(0), "Unknown");
    /* Every status the error mapping can produce has a real phrase. */
    for (int code = MTM_OK; code >= MTM_EINTERNAL; code--)
        assert_string_not_equal(mtm_http_reason(mtm_http_status_for(code)), "Unknown");
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void test_problem_new(void **state)
{
    (void)state;
    struct json_object *p = mtm_problem_new(422, "concurrency %d is over %d", 100, 64);
    assert_string_equal(get_str(p, "type"), "about:blank");
    assert_string_equal(get_str(p, "title"), "Unprocessable Content");
    assert_string_equal(get_str(p, "detail"), "concurrency 100 is over 64");
    struct json_object *st;
    assert_true(json_object_object_get_ex(p, "status", &st));
    assert_true(json_object_is_type(st, json_type_int));
    assert_int_equal(json_object_get_int(st), 422);
    assert_false(json_object_object_get_ex(p, "errors", NULL));
    assert_int_equal(json_object_object_length(p), 4);
    json_object_put(p);
}

static void test_problem_detail_is_text(void **state)
{
    (void)state;
    /* The detail is data, never a format: and it is escaped in JSON. */
    struct json_object *p = mtm_problem_new(400, "%s", "bad \"quote\" %s\n");
    assert_string_equal(get_str(p, "detail"), "bad \"quote\" %s\n");
    struct json_object *back = json_tokener_parse(json_object_to_json_string(p));
    assert_non_null(back);
    assert_string_equal(get_str(back, "detail"), "bad \"quote\" %s\n");
    json_object_put(back);
    json_object_put(p);

    char big[2000];
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    p = mtm_problem_new(400, "%s", big);
    assert_int_equal(strlen(get_str(p, "detail")), 1023); /* bounded */
    json_object_put(p);
}

static void test_fault_fields(void **state)
{
    (void)state;
    struct mtm_fault f = {0};
    assert_int_equal(mtm_fault_field(&f, "name", "must be 1 to %d characters", 64), MTM_EINVAL);
    mtm_fault_field(&f, "concurrency", "must be an integer");
    assert_int_equal(f.err, MTM_EINVAL);
    assert_int_equal(mtm_fault_status(&f), 422);
    struct json_object *p = mtm_fault_problem(&f);
    assert_string_equal(get_str(p, "detail"), "the request has invalid fields");
    struct json_object *errors;
    assert_true(json_object_object_get_ex(p, "errors", &errors));
    assert_int_equal(json_object_array_length(errors), 2);
    struct json_object *e0 = json_object_array_get_idx(errors, 0);
    struct json_object *e1 = json_object_array_get_idx(errors, 1);
    assert_string_equal(get_str(e0, "field"), "name");
    assert_string_equal(get_str(e0, "message"), "must be 1 to 64 characters");
    assert_string_equal(get_str(e1, "field"), "concurrency");
    json_object_put(p);
    mtm_fault_reset(&f);
    assert_int_equal(f.err, MTM_OK);
    assert_null(f.errors);

    /* A field named in a fault of another kind keeps the kind. */
    mtm_fault_set(&f, MTM_ECONFLICT, "a tenant named \"%s\" exists", "a");
    mtm_fault_field(&f, "name", "is already taken");
    assert_int_equal(mtm_fault_status(&f), 409);
    p = mtm_fault_problem(&f);
    assert_string_equal(get_str(p, "detail"), "a tenant named \"a\" exists");
    assert_true(json_object_object_get_ex(p, "errors", NULL));
    json_object_put(p);
    mtm_fault_reset(&f);
}

static void test_fault_retry_after(void **state)
{
    (void)state;
    struct mtm_fault f = {0};
    mtm_fault_set(&f, MTM_EUNAVAIL, "the database is unavailable");
    assert_int_equal(mtm_fault_status(&f), 503);
    assert_int_equal(mtm_fault_retry_after(&f), 2); /* every 503 says when to retry */
    f.retry_after = 5;
    assert_int_equal(mtm_fault_retry_after(&f), 5);
    f.retry_after = -1; /* retrying cannot help */
    assert_int_equal(mtm_fault_retry_after(&f), 0);
    mtm_fault_reset(&f);

    mtm_fault_set(&f, MTM_ERATELIMIT, "slow down");
    f.retry_after = 7;
    struct mtm_header h[MTM_FAULT_HEADERS];
    char retry[MTM_FAULT_RETRY_LEN];
    assert_int_equal(mtm_fault_headers(&f, h, retry), 1);
    assert_string_equal(h[0].name, "Retry-After");
    assert_string_equal(h[0].value, "7");
    mtm_fault_reset(&f);

    mtm_fault_set(&f, MTM_ENOTFOUND, "no tenant");
    assert_int_equal(mtm_fault_retry_after(&f), 0);
    assert_int_equal(mtm_fault_headers(&f, h, retry), 0);
    mtm_fault_reset(&f);

    /* A statement the database refused is ours to fix: 500, no retry. */
    mtm_fault_set(&f, MTM_EDB, "syntax error");
    assert_int_equal(mtm_fault_status(&f), 500);
    assert_int_equal(mtm_fault_headers(&f, h, retry), 0);
    mtm_fault_reset(&f);
}

static void test_fault_headers(void **state)
{
    (void)state;
    struct mtm_fault f = {0};
    struct mtm_header h[MTM_FAULT_HEADERS];
    char retry[MTM_FAULT_RETRY_LEN];
    mtm_fault_set(&f, MTM_EAUTH, "this route needs a bearer token");
    assert_int_equal(mtm_fault_headers(&f, h, retry), 1);
    assert_string_equal(h[0].name, "WWW-Authenticate");
    assert_string_equal(h[0].value, "Bearer realm=\"mtm\"");
    snprintf(f.challenge, sizeof(f.challenge), "Bearer realm=\"mtm\", error=\"invalid_token\"");
    assert_int_equal(mtm_fault_headers(&f, h, retry), 1);
    assert_string_equal(h[0].value, "Bearer realm=\"mtm\", error=\"invalid_token\"");
    mtm_fault_reset(&f);

    f.status = 405;
    snprintf(f.allow, sizeof(f.allow), "GET, DELETE");
    mtm_fault_set(&f, MTM_EINVAL, "PUT is not allowed");
    assert_int_equal(mtm_fault_status(&f), 405);
    assert_int_equal(mtm_fault_headers(&f, h, retry), 1);
    assert_string_equal(h[0].name, "Allow");
    assert_string_equal(h[0].value, "GET, DELETE");
    mtm_fault_reset(&f);

    /* A fault nobody filled in is a bug: 500. */
    assert_int_equal(mtm_fault_status(&f), 500);
}

static void test_fault_members(void **state)
{
    (void)state;
    struct mtm_fault f = {0};
    mtm_fault_set(&f, MTM_EUNAVAIL, "not ready: postgres down");
    mtm_fault_member(&f, "checks", json_object_new_string("x"));
    mtm_fault_member(&f, "status", json_object_new_int(200)); /* cannot replace the status */
    struct json_object *p = mtm_fault_problem(&f), *v;
    assert_string_equal(get_str(p, "checks"), "x");
    assert_true(json_object_object_get_ex(p, "status", &v));
    assert_int_equal(json_object_get_int(v), 503);
    assert_string_equal(get_str(p, "title"), "Service Unavailable");
    json_object_put(p);
    mtm_fault_reset(&f);
    assert_null(f.members);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_for_every_code),  cmocka_unit_test(test_every_code_has_a_name),
        cmocka_unit_test(test_reason_phrases),         cmocka_unit_test(test_problem_new),
        cmocka_unit_test(test_problem_detail_is_text), cmocka_unit_test(test_fault_fields),
        cmocka_unit_test(test_fault_retry_after),      cmocka_unit_test(test_fault_headers),
        cmocka_unit_test(test_fault_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
