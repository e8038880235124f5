/*
 * test_router: method + raw path against a static table (lib/router.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "router.h"

static const struct mtm_route routes[] = {
    {"GET", "/api/health", "health", 0},
    {"GET", "/api/tenants", "tenants_list", 0},
    {"POST", "/api/tenants", "tenants_create", MTM_ROUTE_JSON_BODY},
    {"GET", "/api/tenants/{id}", "tenant_get", 0},
    {"DELETE", "/api/tenants/{id}", "tenant_delete", 0},
    {"PUT", "/api/tenants/{id}/config/concurrency", "tenant_concurrency", MTM_ROUTE_JSON_BODY},
    {"DELETE", "/api/tenants/{id}/tokens/{jti}", "token_revoke", 0},
    {"POST", "/api/tenants/{id}/dlq/replay", "dlq_replay", 0},
    {"GET", "/api/x/{a}/{b}/{c}/{d}/{e}", "too_many_captures", 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

struct outcome {
    enum mtm_route_result result;
    const struct mtm_route *route;
    size_t index;
    char allow[128];
    struct mtm_request r;
    char path[512];
};

static void match(struct outcome *o, const char *method, const char *path)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->path, sizeof(o->path), "%s", path);
    o->r.method = method;
    o->r.path = o->path;
    o->r.query = "";
    o->result = mtm_router_match(routes, NROUTES, sizeof(routes[0]), &o->r, &o->index, o->allow,
                                 sizeof(o->allow));
    o->route = o->result == MTM_ROUTE_FOUND ? &routes[o->index] : NULL;
}

static void expect_found(const char *method, const char *path, const char *name, struct outcome *o)
{
    match(o, method, path);
    if (o->result != MTM_ROUTE_FOUND)
        print_message("%s %s: result %d, allow \"%s\"\n", method, path, o->result, o->allow);
    assert_int_equal(o->result, MTM_ROUTE_FOUND);
    assert_non_null(o->route);
    assert_string_equal(o->route->name, name);
}

static void expect_result(const char *method, const char *path, enum mtm_route_result want)
{
    struct outcome o;
    match(&o, method, path);
    if (o.result != want)
        print_message("%s %s: result %d (route %s)\n", method, path, o.result,
                      o.route ? o.route->name : "-");
    assert_int_equal(o.result, want);
}

static void test_literal_routes(void **state)
{
    (void)state;
    struct outcome o;
    expect_found("GET", "/api/health", "health", &o);
    assert_int_equal(o.r.nparams, 0);
    expect_found("GET", "/api/tenants", "tenants_list", &o);
    expect_found("POST", "/api/tenants", "tenants_create", &o);
    assert_int_equal(o.route->flags, MTM_ROUTE_JSON_BODY);
}

static void test_capture_routes(void **state)
{
    (void)state;
    struct outcome o;
    expect_found("GET", "/api/tenants/0190b0c4-7d2e-7a00-8000-000000000001", "tenant_get", &o);
    assert_int_equal(o.r.nparams, 1);
    assert_string_equal(o.r.params[0], "0190b0c4-7d2e-7a00-8000-000000000001");

    expect_found("PUT", "/api/tenants/t1/config/concurrency", "tenant_concurrency", &o);
    assert_int_equal(o.r.nparams, 1);
    assert_string_equal(o.r.params[0], "t1");

    expect_found("DELETE", "/api/tenants/t1/tokens/j-9", "token_revoke", &o);
    assert_int_equal(o.r.nparams, 2);
    assert_string_equal(o.r.params[0], "t1");
    assert_string_equal(o.r.params[1], "j-9");

    /* Captures are raw: no decoding, so %2F stays inside the segment. */
    expect_found("GET", "/api/tenants/a%2Fb", "tenant_get", &o);
    assert_string_equal(o.r.params[0], "a%2Fb");
}

/* Finding 5: a UUID capture is canonical (lower case) whatever the client's
 * spelling, so that the tenant it names, its queue and the authorization
 * check agree; other captures stay byte for byte. */
static void test_uuid_captures_lowered(void **state)
{
    (void)state;
    struct outcome o;
    expect_found("GET", "/api/tenants/0190B0C4-7D2E-7A00-8000-00000000ABCD", "tenant_get", &o);
    assert_string_equal(o.r.params[0], "0190b0c4-7d2e-7a00-8000-00000000abcd");
    expect_found("DELETE",
                 "/api/tenants/0190b0c4-7d2e-7A00-8000-00000000ABCD/tokens/"
                 "0190B0C4-0000-7000-8000-0000000000EF",
                 "token_revoke", &o);
    assert_string_equal(o.r.params[0], "0190b0c4-7d2e-7a00-8000-00000000abcd");
    assert_string_equal(o.r.params[1], "0190b0c4-0000-7000-8000-0000000000ef");
    /* not UUIDs: untouched */
    expect_found("DELETE", "/api/tenants/ABC/tokens/0190B0C4-0000-7000-8000-0000000000EFX",
                 "token_revoke", &o);
    assert_string_equal(o.r.params[0], "ABC");
    assert_string_equal(o.r.params[1], "0190B0C4-0000-7000-8000-0000000000EFX");
    /* the path itself is not rewritten (logs show what was asked) */
    expect_found("GET", "/api/tenants/0190B0C4-7D2E-7A00-8000-00000000ABCD", "tenant_get", &o);
    assert_string_equal(o.r.path, "/api/tenants/0190B0C4-7D2E-7A00-8000-00000000ABCD");
}

static void test_not_found(void **state)
{
    (void)state;
    expect_result("GET", "/api/nope", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api/healthz", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api/health/", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api/healt", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/API/health", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api/tenants/t1/config", MTM_ROUTE_NOT_FOUND);
    expect_result("PUT", "/api/tenants/t1/config/concurrency/x", MTM_ROUTE_NOT_FOUND);
    /* 404 leaves allow empty. */
    struct outcome o;
    match(&o, "GET", "/api/nope");
    assert_string_equal(o.allow, "");
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    struct outcome o;
    match(&o, "PATCH", "/api/tenants");
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
    assert_string_equal(o.allow, "GET, POST");

    match(&o, "DELETE", "/api/health");
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
    assert_string_equal(o.allow, "GET");

    match(&o, "POST", "/api/tenants/t1");
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
    assert_string_equal(o.allow, "GET, DELETE");

    match(&o, "GET", "/api/tenants/t1/dlq/replay");
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
    assert_string_equal(o.allow, "POST");

    match(&o, "get", "/api/health"); /* methods are case-sensitive */
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
}

static void test_head_matches_get(void **state)
{
    (void)state;
    struct outcome o;
    expect_found("HEAD", "/api/health", "health", &o);
    expect_found("HEAD", "/api/tenants/t1", "tenant_get", &o);
    assert_string_equal(o.r.params[0], "t1");
    /* HEAD is not a way around a POST-only route. */
    match(&o, "HEAD", "/api/tenants/t1/dlq/replay");
    assert_int_equal(o.result, MTM_ROUTE_BAD_METHOD);
    assert_string_equal(o.allow, "POST");
}

static void test_capture_never_spans_slash(void **state)
{
    (void)state;
    expect_result("GET", "/api/tenants/a/b", MTM_ROUTE_NOT_FOUND);
    expect_result("DELETE", "/api/tenants/a/b", MTM_ROUTE_NOT_FOUND);
    expect_result("GET", "/api/tenants/t1/", MTM_ROUTE_NOT_FOUND);
    expect_result("DELETE", "/api/tenants/t1/tokens/j/k", MTM_ROUTE_NOT_FOUND);
}

static void test_empty_segment(void **state)
{
    (void)state;
    expect_result("GET", "/api/tenants/", MTM_ROUTE_NOT_FOUND);
    expect_result("PUT", "/api/tenants//config/concurrency", MTM_ROUTE_NOT_FOUND);
    expect_result("DELETE", "/api/tenants/t1/tokens/", MTM_ROUTE_NOT_FOUND);
    expect_result("DELETE", "/api/tenants//tokens/j", MTM_ROUTE_NOT_FOUND);
}

static void test_capture_length_cap(void **state)
{
    (void)state;
    char path[512];
    char seg[200];
    struct mtm_request dummy;
    size_t cap = sizeof(dummy.params[0]) - 1; /* 127 bytes and the NUL */

    memset(seg, 'a', cap);
    seg[cap] = '\0';
    snprintf(path, sizeof(path), "/api/tenants/%s", seg);
    struct outcome o;
    expect_found("GET", path, "tenant_get", &o);
    assert_int_equal(strlen(o.r.params[0]), cap);

    memset(seg, 'a', cap + 1);
    seg[cap + 1] = '\0';
    snprintf(path, sizeof(path), "/api/tenants/%s", seg);
    expect_result("GET", path, MTM_ROUTE_NOT_FOUND);
    snprintf(path, sizeof(path), "/api/tenants/%s/config/concurrency", seg);
    expect_result("PUT", path, MTM_ROUTE_NOT_FOUND);
}

static void test_capture_count_cap(void **state)
{
    (void)state;
    /* Five captures where a request holds MTM_HTTP_MAX_PARAMS (4). */
    expect_result("GET", "/api/x/1/2/3/4/5", MTM_ROUTE_NOT_FOUND);
}

static void test_small_allow_buffer(void **state)
{
    (void)state;
    char path[] = "/api/tenants";
    struct mtm_request r = {0};
    r.method = "PATCH";
    r.path = path;
    size_t index = 99;
    char allow[6];
    memset(allow, 'Z', sizeof(allow));
    assert_int_equal(
        mtm_router_match(routes, NROUTES, sizeof(routes[0]), &r, &index, allow, sizeof(allow)),
        MTM_ROUTE_BAD_METHOD);
    assert_int_equal(index, 99);         /* only a match sets it */
    assert_string_equal(allow, "GET, "); /* truncated, terminated, in bounds */

    char none[1] = {'Z'};
    assert_int_equal(mtm_router_match(routes, NROUTES, sizeof(routes[0]), &r, &index, none, 0),
                     MTM_ROUTE_BAD_METHOD);
    assert_int_equal(none[0], 'Z'); /* allowlen 0: untouched */
}

/* An application's own route type, struct mtm_route first: the router
 * steps over the whole entries and reports the position of the match. */
struct app_route {
    struct mtm_route match;
    int access;
    const char *extra;
};

static void test_application_route_table(void **state)
{
    (void)state;
    static const struct app_route app[] = {
        {{"GET", "/api/health", "health", 0}, 1, "first"},
        {{"GET", "/api/tenants/{id}", "tenant", 0}, 2, "second"},
        {{"DELETE", "/api/tenants/{id}", "tenant", 0}, 3, "third"},
    };
    char path[] = "/api/tenants/abc";
    struct mtm_request r = {0};
    r.method = "DELETE";
    r.path = path;
    r.query = "";
    size_t index = 99;
    char allow[32];
    assert_int_equal(
        mtm_router_match(&app[0].match, 3, sizeof(app[0]), &r, &index, allow, sizeof(allow)),
        MTM_ROUTE_FOUND);
    assert_int_equal(index, 2);
    assert_string_equal(app[index].extra, "third");
    assert_string_equal(r.params[0], "abc");

    r.method = "PUT";
    assert_int_equal(
        mtm_router_match(&app[0].match, 3, sizeof(app[0]), &r, &index, allow, sizeof(allow)),
        MTM_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, DELETE");
}

static void test_params_from_winning_route_only(void **state)
{
    (void)state;
    struct outcome o;
    /* DELETE /api/tenants/{id} is tried after GET /api/tenants/{id} matched
     * the path but not the method; its captures are the ones kept. */
    expect_found("DELETE", "/api/tenants/zz", "tenant_delete", &o);
    assert_int_equal(o.r.nparams, 1);
    assert_string_equal(o.r.params[0], "zz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_routes),
        cmocka_unit_test(test_capture_routes),
        cmocka_unit_test(test_uuid_captures_lowered),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head_matches_get),
        cmocka_unit_test(test_capture_never_spans_slash),
        cmocka_unit_test(test_empty_segment),
        cmocka_unit_test(test_capture_length_cap),
        cmocka_unit_test(test_capture_count_cap),
        cmocka_unit_test(test_small_allow_buffer),
        cmocka_unit_test(test_application_route_table),
        cmocka_unit_test(test_params_from_winning_route_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
