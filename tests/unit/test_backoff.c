/*
 * test_backoff: capped exponential backoff with jitter (lib/backoff.c).
 *
 * The delay before attempt n is drawn from [ceiling/2, ceiling] where the
 * ceiling is min(cap, base * 2^n); many fresh generators are tried so that
 * the bounds are checked over many random draws.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static uint64_t ceiling_of(uint32_t base, uint32_t cap, uint32_t attempt)
{
    uint64_t c = base;
    for (uint32_t i = 0; i < attempt && c < cap; i++)
        c *= 2;
    return c > cap ? cap : c;
}

static void expect_in(uint32_t delay, uint64_t ceiling, uint32_t attempt)
{
    if (delay < ceiling / 2 || delay > ceiling)
        print_message("attempt %u: delay %u outside [%llu, %llu]\n", attempt, delay,
                      (unsigned long long)(ceiling / 2), (unsigned long long)ceiling);
    assert_in_range(delay, ceiling / 2, ceiling);
}

static void test_delays_within_bounds(void **state)
{
    (void)state;
    for (int run = 0; run < 500; run++) {
        struct mtm_backoff b;
        mtm_backoff_init(&b, 100, 5000);
        for (uint32_t attempt = 0; attempt < 12; attempt++)
            expect_in(mtm_backoff_next(&b), ceiling_of(100, 5000, attempt), attempt);
    }
}

static void test_sequence_of_ceilings(void **state)
{
    (void)state;
    /* base 100, cap 1000: ceilings 100, 200, 400, 800, 1000, 1000, ... */
    const uint64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int run = 0; run < 200; run++) {
        struct mtm_backoff b;
        mtm_backoff_init(&b, 100, 1000);
        for (uint32_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            expect_in(mtm_backoff_next(&b), want[i], i);
    }
}

static void test_cap_respected_forever(void **state)
{
    (void)state;
    struct mtm_backoff b;
    mtm_backoff_init(&b, 1, 30000);
    for (uint32_t i = 0; i < 10000; i++) {
        uint32_t d = mtm_backoff_next(&b);
        assert_true(d <= 30000);
        if (i > 20)
            assert_true(d >= 15000);
    }
    /* A cap near the top of uint32_t does not overflow the ceiling. */
    mtm_backoff_init(&b, 1000, UINT32_MAX);
    for (uint32_t i = 0; i < 200; i++) {
        uint32_t d = mtm_backoff_next(&b);
        if (i > 40)
            assert_true(d >= UINT32_MAX / 2);
    }
}

static void test_reset(void **state)
{
    (void)state;
    struct mtm_backoff b;
    mtm_backoff_init(&b, 100, 10000);
    for (int i = 0; i < 10; i++)
        (void)mtm_backoff_next(&b);
    expect_in(mtm_backoff_next(&b), 10000, 10);
    mtm_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    expect_in(mtm_backoff_next(&b), 100, 0);
    expect_in(mtm_backoff_next(&b), 200, 1);
}

static void test_degenerate_parameters(void **state)
{
    (void)state;
    struct mtm_backoff b;
    mtm_backoff_init(&b, 0, 0); /* base 0 counts as 1; cap below base is base */
    assert_int_equal(b.base_ms, 1);
    assert_int_equal(b.cap_ms, 1);
    for (int i = 0; i < 100; i++)
        assert_in_range(mtm_backoff_next(&b), 0, 1);

    mtm_backoff_init(&b, 500, 100);
    assert_int_equal(b.cap_ms, 500);
    for (int i = 0; i < 100; i++)
        assert_in_range(mtm_backoff_next(&b), 250, 500);
    assert_true(b.rng != 0);
}

static void test_jitter_spreads(void **state)
{
    (void)state;
    /* At one ceiling, draws from many generators are not all the same: a
     * herd of reconnecting workers spreads out. */
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int run = 0; run < 200; run++) {
        struct mtm_backoff b;
        mtm_backoff_init(&b, 1000, 1000);
        uint32_t d = mtm_backoff_next(&b);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    if (hi - lo < 200)
        print_message("200 draws only spanned [%u, %u]\n", lo, hi);
    assert_true(hi - lo >= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays_within_bounds),  cmocka_unit_test(test_sequence_of_ceilings),
        cmocka_unit_test(test_cap_respected_forever), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_degenerate_parameters), cmocka_unit_test(test_jitter_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
