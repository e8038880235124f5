/*
 * test_amqp: lib/amqp.c without a broker: the URL list of MTM_AMQP_URL
 * (parsing, and failing over between URLs where nothing listens).
 *
 * The connection itself is tested against a real broker in
 * tests/integration/itest_amqp.c and quorum.test.mjs (a dead first URL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amqp.h"

static void free_urls(char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
}

static void test_one_url(void **state)
{
    (void)state;
    char *urls[4];
    size_t n = 99;
    assert_int_equal(mtm_amqp_url_list("amqp://u:p@mq:5672/vh", urls, 4, &n, NULL, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(urls[0], "amqp://u:p@mq:5672/vh");
    free_urls(urls, n);
}

static void test_several_urls(void **state)
{
    (void)state;
    char *urls[4];
    size_t n;
    assert_int_equal(mtm_amqp_url_list("amqp://a:1/, amqp://u:p%2Cq@b:2/x ,\tamqp://c/", urls, 4,
                                       &n, NULL, NULL),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(urls[0], "amqp://a:1/");
    assert_string_equal(urls[1], "amqp://u:p%2Cq@b:2/x");
    assert_string_equal(urls[2], "amqp://c/");
    free_urls(urls, n);
}

static void test_bad_lists(void **state)
{
    (void)state;
    static const struct {
        const char *list, *bad;
    } cases[] = {
        {"", ""},
        {"amqp://a/,", ""},
        {",amqp://a/", ""},
        {"amqp://a/,,amqp://b/", ""},
        {"amqp://a/, http://b/", "http://b/"},
        {"amqps://a/", "amqps://a/"},
        {"amqp://", "amqp://"},
        {"amqp://1/,amqp://2/,amqp://3/,amqp://4/,amqp://5/", "amqp://5/"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *urls[4];
        size_t n, badlen = 99;
        const char *bad = NULL;
        int rc = mtm_amqp_url_list(cases[i].list, urls, 4, &n, &bad, &badlen);
        free_urls(urls, n);
        if (rc != MTM_EINVAL)
            print_message("accepted \"%s\"\n", cases[i].list);
        assert_int_equal(rc, MTM_EINVAL);
        assert_non_null(bad);
        if (strlen(cases[i].bad) != badlen || strncmp(bad, cases[i].bad, badlen) != 0)
            print_message("\"%s\": bad entry \"%.*s\", expected \"%s\"\n", cases[i].list,
                          (int)badlen, bad, cases[i].bad);
        assert_int_equal(badlen, strlen(cases[i].bad));
        assert_memory_equal(bad, cases[i].bad, badlen);
    }
}

static int dead_port(void)
{
    int port;
    int s = silent_listener(&port);
    close(s);
    return port;
}

/* Two URLs where nothing listens: both are tried, the error says so, and
 * a single URL keeps its own error text. */
static void test_all_urls_dead(void **state)
{
    (void)state;
    int p1 = dead_port(), p2 = dead_port();
    char list[128], err[512] = "";
    snprintf(list, sizeof(list), "amqp://mtm:mtm@127.0.0.1:%d/,amqp://mtm:mtm@127.0.0.1:%d/", p1,
             p2);
    struct mtm_amqp a;
    mtm_amqp_init(&a, list, 500, 0);
    assert_int_equal(a.nurls, 2);
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), MTM_EUNAVAIL);
    assert_contains(err, "none of 2 URLs answered");
    assert_false(mtm_amqp_is_open(&a));
    assert_int_equal(a.cur, 0); /* a full turn: the first is tried first again */
    mtm_amqp_cleanup(&a);

    snprintf(list, sizeof(list), "amqp://mtm:mtm@127.0.0.1:%d/", p1);
    mtm_amqp_init(&a, list, 500, 0);
    assert_int_equal(a.nurls, 1);
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), MTM_EUNAVAIL);
    assert_contains(err, "rabbitmq connect 127.0.0.1:");
    mtm_amqp_cleanup(&a);
}

/* A list that does not parse is kept whole, and connecting says why. */
static void test_bad_list_fails_to_connect(void **state)
{
    (void)state;
    struct mtm_amqp a;
    char err[256] = "";
    mtm_amqp_init(&a, "ftp://a/,,amqp://b/", 500, 0);
    assert_int_equal(a.nurls, 1);
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), MTM_EINVAL);
    assert_contains(err, "bad URL");
    mtm_amqp_cleanup(&a);
    mtm_amqp_cleanup(&a); /* twice is safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_url),
        cmocka_unit_test(test_several_urls),
        cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_all_urls_dead),
        cmocka_unit_test(test_bad_list_fails_to_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
