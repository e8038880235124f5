/*
 * test_httpmetrics: the responder's own metrics (cgi-bin/httpmetrics.c).
 *
 * The rendered text is compared whole with a pinned copy: the integration
 * tests, the Grafana dashboard and the alert rules read these names, labels
 * and buckets, so any change to them must show up here first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../cgi-bin/httpmetrics.h"

static const struct mtm_route routes[] = {
    {"GET", "/api/health", "health", 0},
    {"POST", "/api/tenants/{id}/messages", "publish", 0},
};
#define UNMATCHED 2 /* a position past the routes added */

static void init_with_routes(struct httpmetrics *m)
{
    httpmetrics_init(m);
    httpmetrics_add_route(m, &routes[0]);
    httpmetrics_add_route(m, &routes[1]);
}

static void render_into(struct httpmetrics *m, struct mtm_buf *b)
{
    mtm_buf_init(b, 1 << 16);
    assert_int_equal(httpmetrics_render(m, b), 0);
}

static void test_render_empty(void **state)
{
    (void)state;
    struct httpmetrics m;
    init_with_routes(&m);
    struct mtm_buf b;
    render_into(&m, &b);
    assert_string_equal(mtm_buf_cstr(&b),
                        "# HELP mtm_http_requests_total HTTP requests answered.\n"
                        "# TYPE mtm_http_requests_total counter\n"
                        "# HELP mtm_http_request_duration_seconds Time to answer.\n"
                        "# TYPE mtm_http_request_duration_seconds histogram\n"
                        "# HELP mtm_messages_published_total Messages the broker confirmed.\n"
                        "# TYPE mtm_messages_published_total counter\n");
    mtm_buf_cleanup(&b);
    httpmetrics_cleanup(&m);
}

static void test_render_pinned(void **state)
{
    (void)state;
    struct httpmetrics m;
    init_with_routes(&m);
    httpmetrics_observe(&m, 0, 200, 500);
    httpmetrics_observe(&m, 0, 200, 1000);           /* on a bound: counted in it */
    httpmetrics_observe(&m, 0, 503, 7000000);        /* past the last bound */
    httpmetrics_observe(&m, 1, 202, 2501);           /* just past 0.0025 */
    httpmetrics_observe(&m, 1, 299, -5);             /* odd code, clock step back */
    httpmetrics_observe(&m, UNMATCHED, 404, 250000); /* matched no route */
    httpmetrics_published(&m, "0B5E7C3A-1111-4222-8333-944445555666", 3);
    httpmetrics_published(&m, "0b5e7c3a-1111-4222-8333-944445555666", 2);
    httpmetrics_published(&m, "aaaaaaaa-1111-4222-8333-944445555666", 1);
    struct mtm_buf b;
    render_into(&m, &b);
    assert_string_equal(
        mtm_buf_cstr(&b),
        "# HELP mtm_http_requests_total HTTP requests answered.\n"
        "# TYPE mtm_http_requests_total counter\n"
        "mtm_http_requests_total{route=\"health\",method=\"GET\",code=\"200\"} 2\n"
        "mtm_http_requests_total{route=\"health\",method=\"GET\",code=\"503\"} 1\n"
        "mtm_http_requests_total{route=\"publish\",method=\"POST\",code=\"202\"} 1\n"
        "mtm_http_requests_total{route=\"publish\",method=\"POST\",code=\"other\"} 1\n"
        "mtm_http_requests_total{route=\"unmatched\",method=\"any\",code=\"404\"} 1\n"
        "# HELP mtm_http_request_duration_seconds Time to answer.\n"
        "# TYPE mtm_http_request_duration_seconds histogram\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.001\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.0025\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.005\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.01\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.025\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.05\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.1\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"0.25\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"1\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"5\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"health\",method=\"GET\",le=\"+Inf\"} 3\n"
        "mtm_http_request_duration_seconds_sum{route=\"health\",method=\"GET\"} 7.001500\n"
        "mtm_http_request_duration_seconds_count{route=\"health\",method=\"GET\"} 3\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.001\"} "
        "1\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.0025\"} "
        "1\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.005\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.01\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.025\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.05\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.1\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"0.25\"} "
        "2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"1\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"5\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"publish\",method=\"POST\",le=\"+Inf\"} "
        "2\n"
        "mtm_http_request_duration_seconds_sum{route=\"publish\",method=\"POST\"} 0.002501\n"
        "mtm_http_request_duration_seconds_count{route=\"publish\",method=\"POST\"} 2\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.001\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.0025\"}"
        " 0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.005\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.01\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.025\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.05\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.1\"} "
        "0\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"0.25\"} "
        "1\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"1\"} 1\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"5\"} 1\n"
        "mtm_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"any\",le=\"+Inf\"} "
        "1\n"
        "mtm_http_request_duration_seconds_sum{route=\"unmatched\",method=\"any\"} 0.250000\n"
        "mtm_http_request_duration_seconds_count{route=\"unmatched\",method=\"any\"} 1\n"
        "# HELP mtm_messages_published_total Messages the broker confirmed.\n"
        "# TYPE mtm_messages_published_total counter\n"
        "mtm_messages_published_total{tenant=\"0b5e7c3a-1111-4222-8333-944445555666\"} 5\n"
        "mtm_messages_published_total{tenant=\"aaaaaaaa-1111-4222-8333-944445555666\"} 1\n");
    mtm_buf_cleanup(&b);
    httpmetrics_cleanup(&m);
}

/* A position past the routes added counts as unmatched, however far. */
static void test_foreign_route_is_unmatched(void **state)
{
    (void)state;
    struct httpmetrics m;
    init_with_routes(&m);
    httpmetrics_observe(&m, 1000, 200, 1);
    struct mtm_buf b;
    render_into(&m, &b);
    assert_non_null(strstr(mtm_buf_cstr(&b), "mtm_http_requests_total{route=\"unmatched\","
                                             "method=\"any\",code=\"200\"} 1\n"));
    mtm_buf_cleanup(&b);
    httpmetrics_cleanup(&m);
}

static void test_render_respects_buffer_cap(void **state)
{
    (void)state;
    struct httpmetrics m;
    init_with_routes(&m);
    httpmetrics_observe(&m, 0, 200, 1);
    struct mtm_buf b;
    mtm_buf_init(&b, 300);
    assert_int_equal(httpmetrics_render(&m, &b), MTM_ETOOBIG);
    assert_true(b.len <= 300);
    mtm_buf_cleanup(&b);
    httpmetrics_cleanup(&m);
}

/* The publish counts of a deleted tenant: a churn of tenants must not grow
 * the table (the soak creates and deletes one every 20 s). */
static void test_forget_deleted_tenants(void **state)
{
    (void)state;
    struct httpmetrics m;
    init_with_routes(&m);
    char id[MTM_UUID_STRLEN + 1];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "%08x-1111-4222-8333-944445555666", (unsigned)i);
        httpmetrics_published(&m, id, 1);
        httpmetrics_forget(&m, id);
    }
    assert_int_equal(m.ntenants, 0);
    httpmetrics_published(&m, "aaaaaaaa-1111-4222-8333-944445555666", 1);
    httpmetrics_published(&m, "bbbbbbbb-1111-4222-8333-944445555666", 2);
    httpmetrics_published(&m, "cccccccc-1111-4222-8333-944445555666", 3);
    httpmetrics_forget(&m, "BBBBBBBB-1111-4222-8333-944445555666"); /* any case, as published */
    httpmetrics_forget(&m, "dddddddd-1111-4222-8333-944445555666"); /* never published: ignored */
    struct mtm_buf b;
    render_into(&m, &b);
    const char *text = mtm_buf_cstr(&b);
    assert_null(strstr(text, "bbbbbbbb"));
    /* the others stay, in the order they came */
    const char *a = strstr(
        text, "mtm_messages_published_total{tenant=\"aaaaaaaa-1111-4222-8333-944445555666\"} 1\n");
    const char *c = strstr(
        text, "mtm_messages_published_total{tenant=\"cccccccc-1111-4222-8333-944445555666\"} 3\n");
    assert_non_null(a);
    assert_non_null(c);
    assert_true(a < c);
    mtm_buf_cleanup(&b);
    /* published again after a forget: counts afresh */
    httpmetrics_published(&m, "bbbbbbbb-1111-4222-8333-944445555666", 1);
    render_into(&m, &b);
    assert_non_null(
        strstr(mtm_buf_cstr(&b), "{tenant=\"bbbbbbbb-1111-4222-8333-944445555666\"} 1\n"));
    mtm_buf_cleanup(&b);
    httpmetrics_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_empty),
        cmocka_unit_test(test_render_pinned),
        cmocka_unit_test(test_foreign_route_is_unmatched),
        cmocka_unit_test(test_render_respects_buffer_cap),
        cmocka_unit_test(test_forget_deleted_tenants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
