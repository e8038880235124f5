/*
 * test_mux: a worker's mailbox (consumerd/mux.c) without a broker, and a
 * mux whose broker cannot be reached.
 *
 * The mailbox hands deliveries over in order, reports an ended consumer
 * before any delivery still queued (those come back from the broker), and
 * a poke from another thread ends a wait at once, which is what lets an idle
 * worker sleep without a timeout. Against a closed port, a consume request
 * gives up by its deadline, and a poke ends it sooner; both leave the
 * channel detached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../consumerd/mux.h"
#include "timeutil.h"

/* Puts a delivery with tag into ch's mailbox as the I/O thread would. */
static void push(struct mux_chan *ch, uint64_t tag)
{
    amqp_envelope_t env;
    memset(&env, 0, sizeof(env));
    env.delivery_tag = tag;
    env.message.body = amqp_bytes_malloc_dup(amqp_cstring_bytes("{}"));
    init_amqp_pool(&env.message.pool, 512);
    mux_chan_push(ch, &env);
}

static void test_in_order_then_timeout(void **state)
{
    (void)state;
    struct mux_chan ch;
    mux_chan_init(&ch);
    ch.state = MUX_CONSUMING;
    for (uint64_t t = 1; t <= 3; t++)
        push(&ch, t);
    for (uint64_t t = 1; t <= 3; t++) {
        amqp_envelope_t env;
        assert_int_equal(mux_next(&ch, &env, 0), 0);
        assert_int_equal(env.delivery_tag, t);
        amqp_destroy_envelope(&env);
    }
    amqp_envelope_t env;
    int64_t t0 = mtm_mono_ms();
    assert_int_equal(mux_next(&ch, &env, 50), MTM_ETIMEOUT);
    assert_true(mtm_mono_ms() - t0 >= 45);
    mux_detach(&ch);
    mux_chan_cleanup(&ch);
}

static void test_ended_before_queued(void **state)
{
    (void)state;
    struct mux_chan ch;
    mux_chan_init(&ch);
    ch.state = MUX_CONSUMING;
    push(&ch, 1);
    ch.state = MUX_ENDED;
    amqp_envelope_t env;
    assert_int_equal(mux_next(&ch, &env, 0), MTM_EUNAVAIL);
    assert_int_equal(mux_ack_upto(&ch, 1), MTM_EUNAVAIL); /* detached: nowhere to ack */
    mux_detach(&ch); /* drops the queued delivery (ASan: no leak) */
    assert_int_equal(ch.queued, 0);
    assert_int_equal(ch.state, MUX_DETACHED);
    mux_chan_cleanup(&ch);
}

static void *poke_later(void *arg)
{
    mtm_sleep_ms(100, NULL);
    mux_chan_poke(arg);
    return NULL;
}

static void test_poke_ends_wait(void **state)
{
    (void)state;
    struct mux_chan ch;
    mux_chan_init(&ch);
    ch.state = MUX_CONSUMING;
    pthread_t t;
    pthread_create(&t, NULL, poke_later, &ch);
    int64_t t0 = mtm_mono_ms();
    amqp_envelope_t env;
    assert_int_equal(mux_next(&ch, &env, 20000), MTM_ETIMEOUT);
    int64_t waited = mtm_mono_ms() - t0;
    pthread_join(t, NULL);
    if (waited > 5000)
        print_message("waited %lld ms for a poke sent after 100 ms\n", (long long)waited);
    assert_true(waited < 5000);
    /* The poke was used up: the next wait times out normally. */
    assert_int_equal(mux_next(&ch, &env, 10), MTM_ETIMEOUT);
    /* A nap ends early when poked too. */
    pthread_create(&t, NULL, poke_later, &ch);
    t0 = mtm_mono_ms();
    mux_nap(&ch, 20000);
    assert_true(mtm_mono_ms() - t0 < 5000);
    pthread_join(t, NULL);
    mux_chan_cleanup(&ch);
}

static void test_unreachable_broker(void **state)
{
    (void)state;
    struct mtm_log_ctx log = {.component = "test"};
    struct mux m;
    /* Port 1 on loopback: refused at once, so the I/O thread backs off. */
    mux_init(&m, "amqp://u:p@127.0.0.1:1/", 2, &log);
    struct mux_chan a, b, c;
    mux_chan_init(&a);
    mux_chan_init(&b);
    mux_chan_init(&c);
    char err[256];
    int64_t t0 = mtm_mono_ms();
    assert_int_equal(mux_consume(&m, &a, "q", 10, 300, err, sizeof(err)), MTM_ETIMEOUT);
    assert_true(mtm_mono_ms() - t0 >= 290);
    assert_null(a.conn);
    assert_int_equal(a.state, MUX_DETACHED);
    /* A republish on a channel that is not consuming fails at once. */
    assert_int_equal(mux_publish(&a, "q", &(amqp_basic_properties_t){0}, amqp_cstring_bytes("x"),
                                 1000, err, sizeof(err)),
                     MTM_EUNAVAIL);
    pthread_t t;
    pthread_create(&t, NULL, poke_later, &b);
    t0 = mtm_mono_ms();
    assert_int_equal(mux_consume(&m, &b, "q", 10, 20000, err, sizeof(err)), MTM_ETIMEOUT);
    assert_true(mtm_mono_ms() - t0 < 5000);
    pthread_join(t, NULL);
    size_t up = 9;
    assert_int_equal(mux_connections(&m, &up), 1);
    assert_int_equal(up, 0);
    mux_chan_cleanup(&a);
    mux_chan_cleanup(&b);
    mux_chan_cleanup(&c);
    mux_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_then_timeout),
        cmocka_unit_test(test_ended_before_queued),
        cmocka_unit_test(test_poke_ends_wait),
        cmocka_unit_test(test_unreachable_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
