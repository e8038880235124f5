/*
 * tenantshare: the cap on the request threads one tenant holds at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cgi-bin/tenantshare.h"

#define A "0b5e7c3a-1111-4222-8333-944445555666"
#define B "aaaaaaaa-1111-4222-8333-944445555666"
#define C "cccccccc-1111-4222-8333-944445555666"
#define T 5000 /* a monotonic time */

/* Another tenant asking makes the responder contended for a while. */
static void contend(struct tenant_share *s)
{
    int held;
    assert_true(tenant_share_enter(s, 0, C, T, &held));
    tenant_share_leave(s, 0);
}

static void test_default_limit_is_half(void **state)
{
    (void)state;
    struct tenant_share s;
    tenant_share_init(&s, 8, 0);
    assert_int_equal(s.limit, 4);
    tenant_share_cleanup(&s);
    tenant_share_init(&s, 1, 0);
    assert_int_equal(s.limit, 1); /* never 0: a lone thread serves everyone */
    tenant_share_cleanup(&s);
    tenant_share_init(&s, 4, 9);
    assert_int_equal(s.limit, 4); /* no more than there are */
    tenant_share_cleanup(&s);
}

static void test_a_tenant_holds_at_most_its_share_when_full(void **state)
{
    (void)state;
    struct tenant_share s;
    int held;
    tenant_share_init(&s, 4, 2);
    contend(&s);
    assert_true(tenant_share_enter(&s, 0, A, T, &held));
    assert_int_equal(held, 1);
    assert_true(tenant_share_enter(&s, 1, A, T, &held));
    assert_int_equal(held, 2);
    /* Over its limit while another thread stays free: a tenant alone may
     * use nearly the whole responder... */
    assert_true(tenant_share_enter(&s, 2, A, T, &held));
    assert_int_equal(held, 3);
    /* ...but never the last free thread: that one is for the others. */
    assert_false(tenant_share_enter(&s, 3, A, T, &held));
    assert_int_equal(held, 3);
    assert_true(tenant_share_enter(&s, 3, B, T, &held));
    assert_int_equal(held, 1);
    /* When one of A's requests is answered, the freed thread goes to A only
     * if A is under its limit or another thread is free: it is not. */
    tenant_share_leave(&s, 2);
    assert_false(tenant_share_enter(&s, 2, A, T, &held));
    assert_true(tenant_share_enter(&s, 2, B, T, &held));
    assert_int_equal(held, 2);
    /* Under its limit a tenant always gets a free thread. */
    tenant_share_leave(&s, 0);
    assert_true(tenant_share_enter(&s, 0, A, T, &held));
    assert_int_equal(held, 2);
    tenant_share_leave(&s, 3); /* leaving twice, or without a tenant, is harmless */
    tenant_share_leave(&s, 3);
    tenant_share_cleanup(&s);
}

/* A thread re-entering for its own tenant does not count itself twice. */
static void test_reentering_thread_counts_once(void **state)
{
    (void)state;
    struct tenant_share s;
    int held;
    tenant_share_init(&s, 2, 1);
    contend(&s);
    assert_true(tenant_share_enter(&s, 0, A, T, &held));
    assert_true(tenant_share_enter(&s, 0, A, T, &held));
    assert_int_equal(held, 1);
    assert_false(
        tenant_share_enter(&s, 1, A, T, &held)); /* its limit, and no thread would stay free */
    tenant_share_cleanup(&s);
}

/* A tenant alone is never refused: it may hold every thread. */
static void test_a_lone_tenant_may_hold_every_thread(void **state)
{
    (void)state;
    struct tenant_share s;
    int held;
    tenant_share_init(&s, 4, 2);
    for (int i = 0; i < 4; i++)
        assert_true(tenant_share_enter(&s, i, A, T, &held));
    assert_int_equal(held, 4);
    tenant_share_cleanup(&s);
}

/* Another tenant entering starts contention; it ends TENANT_SHARE_QUIET_MS
 * after two different tenants last took turns. */
static void test_the_cap_applies_while_tenants_take_turns(void **state)
{
    (void)state;
    struct tenant_share s;
    int held;
    tenant_share_init(&s, 4, 2);
    for (int i = 0; i < 3; i++)
        assert_true(tenant_share_enter(&s, i, A, T, &held));
    assert_true(tenant_share_enter(&s, 3, B, T + 10, &held)); /* B comes: contended */
    tenant_share_leave(&s, 3);
    assert_false(tenant_share_enter(&s, 3, A, T + 20, &held)); /* A holds 3 of 4: no more */
    assert_int_equal(held, 3);
    /* The turns last changed hands when A followed B (T + 20). */
    assert_false(tenant_share_enter(&s, 3, A, T + 20 + TENANT_SHARE_QUIET_MS - 1, &held));
    /* B has not asked for a whole window since: A is alone again. */
    assert_true(tenant_share_enter(&s, 3, A, T + 20 + TENANT_SHARE_QUIET_MS, &held));
    assert_int_equal(held, 4);
    tenant_share_cleanup(&s);
}

/* A tenant that follows one which stopped asking long ago is alone: no
 * contention from a neighbour that has gone quiet. */
static void test_a_quiet_neighbour_is_no_contention(void **state)
{
    (void)state;
    struct tenant_share s;
    int held;
    tenant_share_init(&s, 2, 1);
    assert_true(tenant_share_enter(&s, 0, B, T, &held));
    tenant_share_leave(&s, 0);
    int64_t later = T + TENANT_SHARE_QUIET_MS;
    assert_true(tenant_share_enter(&s, 0, A, later, &held));
    assert_true(tenant_share_enter(&s, 1, A, later + 1, &held)); /* past its limit of 1: alone */
    assert_int_equal(held, 2);
    tenant_share_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_limit_is_half),
        cmocka_unit_test(test_a_tenant_holds_at_most_its_share_when_full),
        cmocka_unit_test(test_reentering_thread_counts_once),
        cmocka_unit_test(test_a_lone_tenant_may_hold_every_thread),
        cmocka_unit_test(test_the_cap_applies_while_tenants_take_turns),
        cmocka_unit_test(test_a_quiet_neighbour_is_no_contention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
