/*
 * itest_amqp: lib/amqp.c against a real RabbitMQ.
 *
 * Needs MTM_AMQP_URL (the harness sets it; without it the program skips
 * with exit 77). Checked here: connect and ping, a readable refusal for a
 * wrong password, failing within the timeout when nothing listens or when a
 * peer accepts the TCP connection and then says nothing, and that a broker
 * refusal drops the connection so that the next call reconnects.
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
#include <sys/socket.h>
#include <unistd.h>

#include "amqp.h"
#include "timeutil.h"

#define TIMEOUT_MS 1500

static const char *amqp_url;

static void test_connect_and_ping(void **state)
{
    (void)state;
    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, amqp_url, TIMEOUT_MS, 0);
    assert_false(mtm_amqp_is_open(&a));
    int rc = mtm_amqp_connect(&a, err, sizeof(err));
    if (rc)
        print_message("connect: %s\n", err);
    assert_int_equal(rc, 0);
    assert_true(mtm_amqp_is_open(&a));
    amqp_connection_state_t first = a.conn;
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), 0); /* open: kept */
    assert_ptr_equal(a.conn, first);
    for (int i = 0; i < 3; i++) {
        rc = mtm_amqp_ping(&a, err, sizeof(err));
        if (rc)
            print_message("ping: %s\n", err);
        assert_int_equal(rc, 0);
    }
    mtm_amqp_close(&a);
    assert_false(mtm_amqp_is_open(&a));
    mtm_amqp_close(&a); /* closed: harmless */
    /* ping connects by itself. */
    assert_int_equal(mtm_amqp_ping(&a, err, sizeof(err)), 0);
    assert_true(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
}

/* amqp_url with the password replaced (or user info added when it has none). */
static void with_password(const char *password, char *out, size_t outlen)
{
    const char *scheme = strstr(amqp_url, "://");
    assert_non_null(scheme);
    const char *auth = scheme + 3;
    const char *at = strchr(auth, '@');
    const char *slash = strchr(auth, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t userlen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        snprintf(out, outlen, "%.*s%.*s:%s%s", (int)(auth - amqp_url), amqp_url, (int)userlen, auth,
                 password, at);
    } else {
        snprintf(out, outlen, "%.*sguest:%s@%s", (int)(auth - amqp_url), amqp_url, password, auth);
    }
}

static void test_wrong_password(void **state)
{
    (void)state;
    char url[1024];
    with_password("itest-wrong-password", url, sizeof(url));
    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, url, TIMEOUT_MS, 0);
    int64_t t0 = mtm_mono_ms();
    int rc = mtm_amqp_connect(&a, err, sizeof(err));
    int64_t took = mtm_mono_ms() - t0;
    print_message("wrong password: rc %d (%s) after %lld ms: %s\n", rc, mtm_strerror(rc),
                  (long long)took, err);
    assert_int_not_equal(rc, 0);
    assert_true(rc < 0);
    assert_false(mtm_amqp_is_open(&a));
    assert_contains(err, "login");
    assert_true(strlen(err) > strlen("rabbitmq login: "));
    assert_null(strstr(err, "itest-wrong-password")); /* the password is not echoed */
    assert_true(took < TIMEOUT_MS + 1000);
    /* And again: the failed attempt left nothing behind that breaks a retry. */
    rc = mtm_amqp_ping(&a, err, sizeof(err));
    assert_true(rc < 0);
    mtm_amqp_cleanup(&a);
}

static void test_unreachable_port(void **state)
{
    (void)state;
    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, "amqp://mtm:mtm@127.0.0.1:1/", TIMEOUT_MS, 0);
    int64_t t0 = mtm_mono_ms();
    int rc = mtm_amqp_ping(&a, err, sizeof(err));
    int64_t took = mtm_mono_ms() - t0;
    print_message("unreachable: rc %d after %lld ms: %s\n", rc, (long long)took, err);
    assert_true(rc == MTM_EUNAVAIL || rc == MTM_ETIMEOUT);
    assert_true(took < 2000);
    assert_contains(err, "127.0.0.1:1");
    assert_false(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
}

static void test_silent_peer_times_out(void **state)
{
    (void)state;
    /* The kernel completes the TCP handshake from the backlog; nobody ever
     * sends the AMQP connection.start. Only the handshake timeout ends it. */
    int port;
    int s = silent_listener(&port);
    char url[128];
    snprintf(url, sizeof(url), "amqp://mtm:mtm@127.0.0.1:%d/", port);

    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, url, 1000, 0);
    int64_t t0 = mtm_mono_ms();
    int rc = mtm_amqp_connect(&a, err, sizeof(err));
    int64_t took = mtm_mono_ms() - t0;
    print_message("silent peer: rc %d after %lld ms: %s\n", rc, (long long)took, err);
    assert_true(rc == MTM_ETIMEOUT || rc == MTM_EUNAVAIL);
    assert_true(took >= 900); /* it did wait for the handshake... */
    assert_true(took < 2500); /* ...but not for ever */
    assert_false(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
    close(s);
}

static void test_bad_url(void **state)
{
    (void)state;
    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, "http://not-amqp/", TIMEOUT_MS, 0);
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), MTM_EINVAL);
    assert_contains(err, "URL");
    assert_false(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
}

static void test_refusal_drops_then_reconnects(void **state)
{
    (void)state;
    struct mtm_amqp a;
    char err[512] = "";
    mtm_amqp_init(&a, amqp_url, TIMEOUT_MS, 0);
    assert_int_equal(mtm_amqp_connect(&a, err, sizeof(err)), 0);

    /* A passive declare of a missing exchange: the broker closes the
     * channel with 404, which is MTM_ENOTFOUND and costs the connection. */
    amqp_exchange_declare(a.conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes("itest.no-such-exchange"),
                          amqp_cstring_bytes("direct"), 1, 0, 0, 0, amqp_empty_table);
    int rc =
        mtm_amqp_reply_error(&a, amqp_get_rpc_reply(a.conn), "itest declare", err, sizeof(err));
    print_message("missing exchange: rc %d: %s\n", rc, err);
    assert_int_equal(rc, MTM_ENOTFOUND);
    assert_contains(err, "404");
    assert_contains(err, "itest.no-such-exchange");
    assert_false(mtm_amqp_is_open(&a));

    rc = mtm_amqp_ping(&a, err, sizeof(err));
    if (rc)
        print_message("ping after refusal: %s\n", err);
    assert_int_equal(rc, 0);
    assert_true(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
}

int main(void)
{
    amqp_url = getenv("MTM_AMQP_URL");
    if (!amqp_url || !*amqp_url) {
        printf("itest_amqp: SKIP: MTM_AMQP_URL is not set (the integration harness sets it)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_and_ping),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_unreachable_port),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_refusal_drops_then_reconnects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
