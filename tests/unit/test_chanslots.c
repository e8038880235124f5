/*
 * test_chanslots: the channel numbers of a shared broker connection
 * (consumerd/chanslots.c). A number goes back to the free list only once
 * the broker has forgotten its channel, never earlier; requests made for
 * an earlier owner (epoch) are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../consumerd/chanslots.h"

static int a, b, c; /* owners: only their addresses matter */

static void test_take_lowest_and_full(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 2);
    uint64_t e1, e2, e3;
    assert_int_equal(chanslots_take(&cs, &a, &e1), 2);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 3);
    assert_int_equal(chanslots_take(&cs, &c, &e3), 0); /* full */
    assert_int_equal(chanslots_free(&cs), 0);
    assert_ptr_equal(chanslots_owner(&cs, 2, e1), &a);
    assert_null(chanslots_owner(&cs, 2, e1 + 1));
    assert_null(chanslots_get(&cs, 1));
    assert_null(chanslots_get(&cs, 4));
    chanslots_cleanup(&cs);
}

static void test_release_unopened_frees_at_once(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1, e2;
    assert_int_equal(chanslots_take(&cs, &a, &e1), 2);
    /* The I/O thread never sent channel.open: nothing to close. */
    assert_false(chanslots_release(&cs, 2));
    assert_int_equal(chanslots_free(&cs), 1);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 2);
    assert_true(e2 > e1);
    /* The first owner's open request, still queued, is refused. */
    assert_false(chanslots_open(&cs, 2, e1));
    assert_true(chanslots_open(&cs, 2, e2));
    assert_false(chanslots_open(&cs, 2, e2)); /* once */
    chanslots_cleanup(&cs);
}

static void test_release_open_waits_for_close_ok(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1, e2;
    chanslots_take(&cs, &a, &e1);
    assert_true(chanslots_open(&cs, 2, e1));
    assert_true(chanslots_usable(&cs, 2, e1));
    assert_true(chanslots_release(&cs, 2)); /* a close must be sent */
    assert_false(chanslots_usable(&cs, 2, e1));
    assert_int_equal(chanslots_free(&cs), 0);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 0); /* not before close-ok */
    assert_true(chanslots_send_close(&cs, 2, e1));
    assert_false(chanslots_send_close(&cs, 2, e1)); /* once */
    chanslots_close_ok(&cs, 2);
    assert_int_equal(chanslots_free(&cs), 1);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 2);
    chanslots_cleanup(&cs);
}

static void test_broker_close_before_ours_went_out(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1;
    chanslots_take(&cs, &a, &e1);
    chanslots_open(&cs, 2, e1);
    assert_true(chanslots_release(&cs, 2));
    /* The broker closed it first (we answer close-ok): our queued close
     * must not go out any more, and the number is free. */
    assert_null(chanslots_closed_by_broker(&cs, 2));
    assert_false(chanslots_send_close(&cs, 2, e1));
    assert_int_equal(chanslots_free(&cs), 1);
    chanslots_cleanup(&cs);
}

static void test_closes_crossed(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1, e2;
    chanslots_take(&cs, &a, &e1);
    chanslots_open(&cs, 2, e1);
    assert_true(chanslots_release(&cs, 2));
    assert_true(chanslots_send_close(&cs, 2, e1));
    /* Both sides sent channel.close: the broker still answers ours. */
    chanslots_closed_by_broker(&cs, 2);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 0);
    chanslots_close_ok(&cs, 2);
    assert_int_equal(chanslots_take(&cs, &b, &e2), 2);
    chanslots_cleanup(&cs);
}

static void test_broker_closes_owned_channel(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1;
    chanslots_take(&cs, &a, &e1);
    chanslots_open(&cs, 2, e1);
    /* A 404 on the consumer's queue: the owner is told, keeps the number
     * until it leaves, and leaving sends nothing. */
    assert_ptr_equal(chanslots_closed_by_broker(&cs, 2), &a);
    assert_false(chanslots_usable(&cs, 2, e1));
    assert_int_equal(chanslots_free(&cs), 0);
    assert_false(chanslots_release(&cs, 2));
    assert_int_equal(chanslots_free(&cs), 1);
    chanslots_cleanup(&cs);
}

static void test_cancelled_consumer(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 1);
    uint64_t e1;
    chanslots_take(&cs, &a, &e1);
    chanslots_open(&cs, 2, e1);
    chanslots_want_close(&cs, 2);
    assert_true(chanslots_send_close(&cs, 2, 0));
    assert_false(chanslots_release(&cs, 2)); /* the close went out already */
    assert_int_equal(chanslots_free(&cs), 0);
    chanslots_close_ok(&cs, 2);
    assert_int_equal(chanslots_free(&cs), 1);
    chanslots_cleanup(&cs);
}

static void test_reset(void **state)
{
    (void)state;
    struct chanslots cs;
    chanslots_init(&cs, 2, 3);
    uint64_t e1, e2, e3;
    chanslots_take(&cs, &a, &e1);
    chanslots_take(&cs, &b, &e2);
    chanslots_take(&cs, &c, &e3);
    chanslots_open(&cs, 2, e1);
    chanslots_open(&cs, 3, e2);
    assert_true(chanslots_release(&cs, 3)); /* closing when the connection goes */
    chanslots_reset(&cs);
    /* Closing slots are free; owners keep theirs until they leave, which
     * sends nothing (nothing is open on a new connection). */
    assert_int_equal(chanslots_free(&cs), 1);
    assert_false(chanslots_usable(&cs, 2, e1));
    assert_false(chanslots_release(&cs, 2));
    assert_false(chanslots_release(&cs, 4));
    assert_int_equal(chanslots_free(&cs), 3);
    chanslots_cleanup(&cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_lowest_and_full),
        cmocka_unit_test(test_release_unopened_frees_at_once),
        cmocka_unit_test(test_release_open_waits_for_close_ok),
        cmocka_unit_test(test_broker_close_before_ours_went_out),
        cmocka_unit_test(test_closes_crossed),
        cmocka_unit_test(test_broker_closes_owned_channel),
        cmocka_unit_test(test_cancelled_consumer),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
