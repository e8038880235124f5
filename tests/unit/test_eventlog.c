/* Unit tests for cgi-bin/eventlog.c: ids, framing, resume points across the
 * ring's wrap, and who sees which event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../cgi-bin/eventlog.h"

#define EPOCH 1764633600000LL
#define T1 "0190b7a1-0000-7000-8000-000000000001"
#define T2 "0190b7a1-0000-7000-8000-000000000002"

static void test_frames_and_ids(void **state)
{
    (void)state;
    struct eventlog l;
    eventlog_init(&l, 4, EPOCH);
    const struct event *e = eventlog_append(&l, T1, "tenant", "{\"id\":\"x\"}");
    assert_int_equal(e->seq, 1);
    assert_string_equal(e->frame, "id: 1764633600000-1\nevent: tenant\ndata: {\"id\":\"x\"}\n\n");
    assert_int_equal(e->len, strlen(e->frame));
    e = eventlog_append(&l, NULL, "overview", "{}");
    assert_int_equal(e->seq, 2);
    assert_string_equal(e->tenant, "");
    eventlog_cleanup(&l);
}

static void test_resume_points(void **state)
{
    (void)state;
    struct eventlog l;
    eventlog_init(&l, 4, EPOCH);
    for (int i = 0; i < 3; i++)
        eventlog_append(&l, T1, "tenant", "{}");
    uint64_t after = 0;
    assert_true(eventlog_resume_point(&l, "1764633600000-1", &after));
    assert_int_equal(after, 1);
    assert_true(eventlog_resume_point(&l, "1764633600000-3", &after)); /* the newest */
    assert_int_equal(after, 3);
    assert_false(eventlog_resume_point(&l, "1764633600000-4", &after)); /* not made yet */
    assert_false(eventlog_resume_point(&l, "1764633600001-1", &after)); /* another process */
    assert_false(eventlog_resume_point(&l, "garbage", &after));
    assert_false(eventlog_resume_point(&l, "1764633600000-", &after));
    assert_false(eventlog_resume_point(&l, "1764633600000-1x", &after));
    assert_false(eventlog_resume_point(&l, "-1", &after));
    assert_false(eventlog_resume_point(&l, NULL, &after));

    /* Wrap: 10 events in a ring of 4 keep 7..10. */
    for (int i = 0; i < 7; i++)
        eventlog_append(&l, T1, "tenant", "{}");
    assert_null(eventlog_get(&l, 6));
    assert_non_null(eventlog_get(&l, 7));
    assert_int_equal(eventlog_get(&l, 10)->seq, 10);
    assert_null(eventlog_get(&l, 11));
    assert_false(eventlog_resume_point(&l, "1764633600000-5", &after)); /* 6 is gone: a gap */
    assert_true(eventlog_resume_point(&l, "1764633600000-6", &after));  /* 7 is the next: fine */
    assert_int_equal(after, 6);
    eventlog_cleanup(&l);
}

static void test_visibility(void **state)
{
    (void)state;
    struct eventlog l;
    eventlog_init(&l, 8, EPOCH);
    const struct event *mine = eventlog_append(&l, T1, "tenant", "{}");
    assert_true(eventlog_visible(mine, true, NULL));
    assert_true(eventlog_visible(mine, false, T1));
    assert_false(eventlog_visible(mine, false, T2));
    assert_false(eventlog_visible(mine, false, NULL));
    const struct event *global = eventlog_append(&l, "", "overview", "{}");
    assert_true(eventlog_visible(global, true, NULL));
    assert_false(eventlog_visible(global, false, T1));
    assert_false(eventlog_visible(global, false, ""));
    eventlog_cleanup(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_and_ids),
        cmocka_unit_test(test_resume_points),
        cmocka_unit_test(test_visibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
