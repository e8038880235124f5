/*
 * Unit tests for cgi-bin/allowance.c: the responder's local share of a
 * tenant's publish limit. The clock is the tests' (every call takes
 * now_ms); the shared bucket is a model of sql/0020_take_token_chunk.sql,
 * so the overshoot bound of allowance.h can be checked against several
 * simulated responder processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cgi-bin/allowance.h"
#include "../testutil.h"

#define ID_A "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b"
#define ID_B "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6c"
#define ID_C "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6d"

static int setup(void **state)
{
    struct allowance *a = malloc(sizeof(*a));
    allowance_init(a);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    allowance_cleanup(*state);
    free(*state);
    return 0;
}

/* The shared bucket as sql/0020 keeps it: tokens refilled at rate/s up to
 * burst; a take gives between need and want whole tokens, or nothing. */
struct bucket {
    double rate, burst, tokens;
    int64_t last_ms;
};

static void bucket_init(struct bucket *b, int rate, int burst, int64_t now_ms)
{
    *b = (struct bucket){.rate = rate, .burst = burst, .tokens = burst, .last_ms = now_ms};
}

/* No libm in the test link: the few helpers this model needs. */
static double dmin(double x, double y)
{
    return x < y ? x : y;
}

static double dmax(double x, double y)
{
    return x > y ? x : y;
}

static long bucket_take(struct bucket *b, long need, long want, int64_t now_ms, double *wait)
{
    if (now_ms < b->last_ms)
        now_ms = b->last_ms;
    double have = dmin(b->burst, b->tokens + (double)(now_ms - b->last_ms) / 1000.0 * b->rate);
    if (have < (double)need) {
        *wait = ((double)need - have) / b->rate;
        return 0;
    }
    long most = want > need ? want : need, whole = (long)have; /* have >= need >= 1 */
    long granted = most < whole ? most : whole;
    b->tokens = have - (double)granted;
    b->last_ms = now_ms;
    *wait = 0;
    return granted;
}

/* One publish of n through a, as messages.c take_tokens does: true if granted. */
static bool publish(struct allowance *a, struct bucket *b, const char *id, long n, int64_t now)
{
    struct allowance_draw d;
    if (allowance_spend(a, id, (int)b->rate, (int)b->burst, n, now, &d))
        return true;
    double wait;
    long granted = bucket_take(b, d.need, d.want, now, &wait);
    allowance_settle(a, &d, granted, now);
    return granted >= d.need;
}

static void test_chunk_is_a_slice_of_the_rate_within_one_and_the_burst(void **state)
{
    (void)state;
    assert_int_equal(allowance_chunk(20, 20), 2);
    assert_int_equal(allowance_chunk(1000, 2000), 100);
    assert_int_equal(allowance_chunk(1000000, 10000000), 100000);
    assert_int_equal(allowance_chunk(1000, 50), 50); /* never more than the burst */
    assert_int_equal(allowance_chunk(5, 10), 1);     /* never less than one */
    assert_int_equal(allowance_chunk(1, 1), 1);
}

static void test_first_publish_draws_a_chunk_then_spends_it_locally(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d;
    /* rate 100/s, burst 50: chunk 10 */
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 1000, &d));
    assert_true(d.refill);
    assert_int_equal(d.reserved, 0);
    assert_int_equal(d.need, 1);
    assert_int_equal(d.want, 11);
    allowance_settle(a, &d, 11, 1001);
    assert_int_equal(allowance_held(a, ID_A), 10);
    for (int i = 0; i < 10; i++)
        assert_true(allowance_spend(a, ID_A, 100, 50, 1, 1002, &d));
    assert_int_equal(allowance_held(a, ID_A), 0);
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 1003, &d));
    assert_true(d.refill);
    allowance_settle(a, &d, 0, 1003);
    assert_int_equal(atomic_load(&a->local), 10);
    assert_int_equal(atomic_load(&a->shared), 1);
    assert_int_equal(allowance_held(a, ID_B), 0);
}

static void test_a_batch_uses_what_is_held_and_draws_the_rest(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 0, &d));
    allowance_settle(a, &d, 11, 0); /* holds 10 */
    assert_true(allowance_spend(a, ID_A, 100, 50, 7, 1, &d));
    assert_int_equal(allowance_held(a, ID_A), 3);
    assert_false(allowance_spend(a, ID_A, 100, 50, 8, 2, &d));
    assert_int_equal(d.reserved, 3);
    assert_int_equal(d.need, 5);
    assert_int_equal(d.want, 15);
    assert_int_equal(allowance_held(a, ID_A), 0); /* set aside while the draw runs */
    allowance_settle(a, &d, 9, 3);                /* the bucket had 9 */
    assert_int_equal(allowance_held(a, ID_A), 4);
}

static void test_refused_draw_gives_the_reserved_tokens_back(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 0, &d));
    allowance_settle(a, &d, 3, 0); /* holds 2 */
    assert_false(allowance_spend(a, ID_A, 100, 50, 5, 1, &d));
    assert_int_equal(d.reserved, 2);
    assert_int_equal(d.need, 3);
    allowance_settle(a, &d, 0, 2);
    assert_int_equal(allowance_held(a, ID_A), 2);
    assert_int_equal(atomic_load(&a->shared), 1); /* the refused one is not counted */
    /* a failed statement settles the same way */
    assert_false(allowance_spend(a, ID_A, 100, 50, 5, 3, &d));
    allowance_settle(a, &d, 0, 3);
    assert_int_equal(allowance_held(a, ID_A), 2);
}

static void test_one_refill_at_a_time_and_never_more_than_a_chunk_held(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d1, d2, d3;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 0, &d1));
    assert_false(allowance_spend(a, ID_A, 100, 50, 2, 0, &d2));
    assert_true(d1.refill);
    assert_false(d2.refill); /* another thread's refill is in flight: only what it needs */
    assert_int_equal(d2.want, 2);
    allowance_settle(a, &d2, 2, 1);
    assert_int_equal(allowance_held(a, ID_A), 0);
    allowance_settle(a, &d1, 11, 2);
    assert_int_equal(allowance_held(a, ID_A), 10);
    /* the refill is over: the next draw may refill again */
    for (int i = 0; i < 10; i++)
        assert_true(allowance_spend(a, ID_A, 100, 50, 1, 3, &d3));
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 4, &d3));
    assert_true(d3.refill);
    /* a grant beyond the chunk (as two overlapping refills could give) is capped */
    allowance_settle(a, &d3, 40, 5);
    assert_int_equal(allowance_held(a, ID_A), 10);
}

static void test_a_changed_limit_drops_what_was_held_under_the_old_one(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d, late;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 0, &d));
    allowance_settle(a, &d, 11, 0);
    assert_false(allowance_spend(a, ID_A, 100, 50, 20, 1, &late)); /* in flight */
    assert_false(allowance_spend(a, ID_A, 10, 50, 1, 2, &d));      /* limit lowered */
    assert_int_equal(d.reserved, 0);
    assert_true(d.refill);
    assert_int_equal(d.want, 2);       /* chunk of 10/s: 1 */
    allowance_settle(a, &late, 30, 3); /* drawn under the old limit: not kept */
    assert_int_equal(allowance_held(a, ID_A), 0);
    allowance_settle(a, &d, 2, 3);
    assert_int_equal(allowance_held(a, ID_A), 1);
}

static void test_idle_entries_are_dropped_with_their_tokens(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d, late;
    const int64_t t0 = 10000;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, t0, &d));
    allowance_settle(a, &d, 11, t0);
    assert_false(allowance_spend(a, ID_B, 100, 50, 50, t0, &late)); /* in flight */
    assert_int_equal(a->count, 2);
    /* just before the idle limit: both stay (a sweep runs here) */
    assert_true(allowance_spend(a, ID_A, 100, 50, 1, t0 + ALLOWANCE_IDLE_MS - 1, &d));
    assert_int_equal(a->count, 2);
    /* a sweep later: ID_B, unused since t0, goes; ID_A was used meanwhile */
    assert_false(allowance_spend(a, ID_C, 100, 50, 1, t0 + ALLOWANCE_IDLE_MS + 1000, &d));
    allowance_settle(a, &d, 0, t0 + ALLOWANCE_IDLE_MS + 1000);
    assert_int_equal(a->count, 2);
    allowance_settle(a, &late, 50, t0 + ALLOWANCE_IDLE_MS + 1000); /* its entry is gone */
    assert_int_equal(allowance_held(a, ID_B), 0);
    assert_int_equal(allowance_held(a, ID_A), 9);
    /* everything unused for the idle time goes, with what it held */
    assert_false(allowance_spend(a, ID_B, 100, 50, 1, t0 + 3 * ALLOWANCE_IDLE_MS, &d));
    allowance_settle(a, &d, 0, t0 + 3 * ALLOWANCE_IDLE_MS);
    assert_int_equal(a->count, 1);
    assert_int_equal(allowance_held(a, ID_A), 0);
}

static void test_upper_case_is_the_same_tenant_and_non_uuids_draw_exactly(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d;
    assert_false(allowance_spend(a, ID_A, 100, 50, 1, 0, &d));
    allowance_settle(a, &d, 11, 0);
    assert_true(allowance_spend(a, "0192A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B", 100, 50, 1, 0, &d));
    assert_false(allowance_spend(a, "nope", 100, 50, 3, 0, &d));
    assert_int_equal(d.need, 3);
    assert_int_equal(d.want, 3);
    assert_false(d.refill);
    allowance_settle(a, &d, 3, 0);
    assert_int_equal(a->count, 1);
}

static void test_full_table_draws_exactly_what_each_request_needs(void **state)
{
    struct allowance *a = *state;
    struct allowance_draw d;
    char id[MTM_UUID_STRLEN + 1];
    for (int i = 0; i < ALLOWANCE_MAX; i++) {
        snprintf(id, sizeof(id), "0192a3b4-c5d6-7e8f-9a0b-%012x", i);
        assert_false(allowance_spend(a, id, 100, 50, 1, 0, &d));
        allowance_settle(a, &d, 0, 0);
    }
    assert_int_equal(a->count, ALLOWANCE_MAX);
    assert_false(allowance_spend(a, ID_A, 100, 50, 2, 1, &d));
    assert_int_equal(d.serial, 0);
    assert_int_equal(d.want, 2);
    allowance_settle(a, &d, 2, 1);
    assert_int_equal(allowance_held(a, ID_A), 0);
    /* once the others are idle, they are swept and ID_A gets an entry */
    assert_false(allowance_spend(a, ID_A, 100, 50, 2, ALLOWANCE_IDLE_MS, &d));
    assert_true(d.refill);
    allowance_settle(a, &d, 12, ALLOWANCE_IDLE_MS);
    assert_int_equal(a->count, 1);
    assert_int_equal(allowance_held(a, ID_A), 10);
}

static void test_metrics(void **state)
{
    struct allowance *a = *state;
    struct bucket b;
    bucket_init(&b, 100, 50, 0);
    for (int i = 0; i < 12; i++)
        assert_true(publish(a, &b, ID_A, 1, 0));
    struct mtm_buf out;
    mtm_buf_init(&out, 1 << 16);
    assert_int_equal(allowance_render(a, &out), 0);
    assert_contains(mtm_buf_cstr(&out),
                    "mtm_api_publish_limit_checks_total{granted_by=\"local\"} 10\n");
    assert_contains(mtm_buf_cstr(&out),
                    "mtm_api_publish_limit_checks_total{granted_by=\"shared\"} 2\n");
    assert_contains(mtm_buf_cstr(&out), "mtm_api_publish_limit_allowances 1\n");
    mtm_buf_cleanup(&out);
}

/*
 * The bound is reached: every process holds a full chunk and the bucket is
 * full when a flood starts; at that instant burst + P × chunk are accepted,
 * and not one more.
 */
static void test_worst_case_overshoot_is_one_chunk_per_process(void **state)
{
    (void)state;
    enum { P = 3, RATE = 100, BURST = 20 };
    long chunk = allowance_chunk(RATE, BURST);
    assert_int_equal(chunk, 10);
    struct allowance procs[P];
    struct bucket b;
    bucket_init(&b, RATE, BURST, 0);
    int64_t now = 0;
    for (int p = 0; p < P; p++) {
        allowance_init(&procs[p]);
        assert_true(publish(&procs[p], &b, ID_A, 1, now));
        assert_int_equal(allowance_held(&procs[p], ID_A), chunk);
        now += 1000; /* the bucket refills */
    }
    long accepted = 0;
    for (int round = 0; round < 100; round++)
        for (int p = 0; p < P; p++)
            accepted += publish(&procs[p], &b, ID_A, 1, now);
    print_message("accepted at one instant: %ld, bound burst + P x chunk = %ld\n", accepted,
                  BURST + P * chunk);
    assert_int_equal(accepted, BURST + P * chunk);
    for (int p = 0; p < P; p++)
        allowance_cleanup(&procs[p]);
}

/*
 * P processes of T threads flood one tenant in phases, with a trickle in
 * between; each draw from the bucket takes 1..4 ms. In every window of w ms (w from 1 ms to 5 s, at
 * every start), accepted <= burst + rate × w + P × chunk; no process ever
 * holds more than a chunk; and the flood is not starved: every phase gets
 * what the bucket gave in it but at most P × chunk held at its end.
 */
struct sim_thread {
    bool busy;
    int64_t done_ms; /* when its draw returns */
    long n;
    struct allowance_draw d;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void simulate(int rate, int burst)
{
    enum { P = 3, T = 4, DURATION_MS = 20000, PHASE_MS = 8000, ON_MS = 3000 };
    long chunk = allowance_chunk(rate, burst);
    struct allowance procs[P];
    struct sim_thread th[P][T];
    memset(th, 0, sizeof(th));
    struct bucket b;
    bucket_init(&b, rate, burst, 0);
    long *acc = calloc(DURATION_MS + 1, sizeof(long));
    assert_non_null(acc);
    for (int p = 0; p < P; p++)
        allowance_init(&procs[p]);
    for (int64_t now = 0; now < DURATION_MS; now++) {
        bool on = now % PHASE_MS < ON_MS;
        for (int p = 0; p < P; p++) {
            for (int k = 0; k < T; k++) {
                struct sim_thread *s = &th[p][k];
                if (s->busy && s->done_ms == now) {
                    double wait;
                    long granted = bucket_take(&b, s->d.need, s->d.want, now, &wait);
                    allowance_settle(&procs[p], &s->d, granted, now);
                    if (granted >= s->d.need)
                        acc[now] += s->n;
                    else
                        assert_true(wait > 0);
                    s->busy = false;
                }
                /* Flooding: each thread asks in one ms of four. Between floods a
                 * trickle keeps every process holding tokens while the bucket
                 * fills up again: the worst case for the next flood. */
                bool trickle = !on && k == 0 && (now + 300 * p) % 2500 == 0;
                if (s->busy || (on ? rng() % 4 != 0 : !trickle))
                    continue;
                s->n = trickle ? 1 : 1 + (long)(rng() % 3);
                if (s->n > burst)
                    s->n = burst;
                if (allowance_spend(&procs[p], ID_A, rate, burst, s->n, now, &s->d)) {
                    acc[now] += s->n;
                } else {
                    s->busy = true;
                    s->done_ms = now + 1 + rng() % 4;
                }
            }
            assert_true(allowance_held(&procs[p], ID_A) <= chunk);
        }
    }
    long *sum = calloc(DURATION_MS + 1, sizeof(long)); /* sum[i]: accepted before ms i */
    assert_non_null(sum);
    for (int i = 0; i < DURATION_MS; i++)
        sum[i + 1] = sum[i] + acc[i];
    static const int windows[] = {1, 10, 100, 250, 1000, 3000, 5000};
    double worst = 0;
    for (size_t wi = 0; wi < sizeof(windows) / sizeof(windows[0]); wi++) {
        int w = windows[wi];
        double bound = burst + rate * (double)w / 1000.0 + P * chunk;
        for (int start = 0; start + w <= DURATION_MS; start++) {
            long got = sum[start + w] - sum[start];
            if (got > bound)
                print_message("rate %d burst %d: %ld accepted in [%d, %d) ms > bound %.1f\n", rate,
                              burst, got, start, start + w, bound);
            assert_true(got <= bound);
            worst = dmax(worst, got - (burst + rate * (double)w / 1000.0));
        }
    }
    for (int64_t phase = 0; phase < DURATION_MS; phase += PHASE_MS) {
        long got = sum[phase + ON_MS + 5] - sum[phase]; /* + the last draws' return */
        /* All the bucket gave but what the processes still hold, what the
         * bucket kept below one request (< 3) and a token of rounding. */
        double floor_ = burst + rate * ON_MS / 1000.0 - P * chunk - 4;
        if (got < floor_)
            print_message("rate %d burst %d: phase at %lld ms accepted %ld < %.1f\n", rate, burst,
                          (long long)phase, got, floor_);
        assert_true(got >= floor_);
    }
    print_message("rate %d burst %d chunk %ld: accepted %ld; largest excess over burst + rate x w: "
                  "%.1f (bound P x chunk = %ld)\n",
                  rate, burst, chunk, sum[DURATION_MS], worst, P * chunk);
    for (int p = 0; p < P; p++)
        allowance_cleanup(&procs[p]);
    free(sum);
    free(acc);
}

static void test_simulated_processes_stay_within_the_bound(void **state)
{
    (void)state;
    simulate(20, 20);    /* the integration test's limit: chunk 2 */
    simulate(1000, 200); /* chunk 100 */
    simulate(50, 5);     /* chunk capped by the burst */
    simulate(3, 3);      /* chunk 1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_is_a_slice_of_the_rate_within_one_and_the_burst),
        cmocka_unit_test_setup_teardown(test_first_publish_draws_a_chunk_then_spends_it_locally,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_uses_what_is_held_and_draws_the_rest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_draw_gives_the_reserved_tokens_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_refill_at_a_time_and_never_more_than_a_chunk_held,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_changed_limit_drops_what_was_held_under_the_old_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_entries_are_dropped_with_their_tokens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_upper_case_is_the_same_tenant_and_non_uuids_draw_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table_draws_exactly_what_each_request_needs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test(test_worst_case_overshoot_is_one_chunk_per_process),
        cmocka_unit_test(test_simulated_processes_stay_within_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
