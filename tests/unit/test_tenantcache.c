/* Unit tests for cgi-bin/tenantcache.c: the responder's tenant facts cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cgi-bin/tenantcache.h"
#include "../testutil.h"

#define ID_A "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b"
#define ID_B "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6c"

static const struct tenant_facts facts_a = {.deleting = false, .rate = 100, .burst = 200};

static int setup(void **state)
{
    struct tenant_cache *c = malloc(sizeof(*c));
    tenant_cache_init(c);
    tenant_cache_set_live(c, true);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    tenant_cache_cleanup(*state);
    free(*state);
    return 0;
}

/* Offers facts the way api_tenant_check does: generation first, then put. */
static void load(struct tenant_cache *c, const char *id, const struct tenant_facts *f, int64_t now)
{
    uint64_t g = tenant_cache_generation(c);
    tenant_cache_put(c, id, f, g, now);
}

static void test_put_then_get(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
    load(c, ID_A, &facts_a, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1001, &got));
    assert_false(got.deleting);
    assert_int_equal(got.rate, 100);
    assert_int_equal(got.burst, 200);
    assert_false(tenant_cache_get(c, ID_B, 1001, &got));
    assert_int_equal(atomic_load(&c->hits), 1);
    assert_int_equal(atomic_load(&c->misses), 2);
}

static void test_upper_case_id_is_the_same_tenant(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    load(c, "0192A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B", &facts_a, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1000, &got));
    /* A notification names it in lower case: it must be forgotten. */
    tenant_cache_forget(c, ID_A);
    assert_false(tenant_cache_get(c, "0192A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B", 1000, &got));
}

static void test_not_a_uuid_is_never_cached(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    load(c, "not-a-uuid", &facts_a, 1000);
    assert_false(tenant_cache_get(c, "not-a-uuid", 1000, &got));
    assert_int_equal(c->count, 0);
    tenant_cache_forget(c, "not-a-uuid"); /* harmless */
}

static void test_entries_expire(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    load(c, ID_A, &facts_a, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1000 + TENANT_CACHE_TTL_MS - 1, &got));
    assert_false(tenant_cache_get(c, ID_A, 1000 + TENANT_CACHE_TTL_MS, &got));
    /* Read again, it is fresh again. */
    load(c, ID_A, &facts_a, 1000 + TENANT_CACHE_TTL_MS);
    assert_true(tenant_cache_get(c, ID_A, 1000 + TENANT_CACHE_TTL_MS + 1, &got));
}

static void test_forget_drops_only_that_tenant(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    load(c, ID_A, &facts_a, 1000);
    load(c, ID_B, &facts_a, 1000);
    tenant_cache_forget(c, ID_A);
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
    assert_true(tenant_cache_get(c, ID_B, 1000, &got));
    assert_int_equal(c->count, 1);
}

/* A row read before a change must not be kept once the change is known. */
static void test_read_racing_a_change_is_not_kept(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    uint64_t before = tenant_cache_generation(c);
    tenant_cache_forget(c, ID_A); /* the notification arrives mid-read */
    tenant_cache_put(c, ID_A, &facts_a, before, 1000);
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
    /* Even a change of another tenant makes the read suspect (one
     * generation for all): it is simply read again next time. */
    before = tenant_cache_generation(c);
    tenant_cache_forget(c, ID_B);
    tenant_cache_put(c, ID_A, &facts_a, before, 1000);
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
}

static void test_not_live_means_no_cache(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    load(c, ID_A, &facts_a, 1000);
    tenant_cache_set_live(c, false); /* the watcher lost its connection */
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
    load(c, ID_A, &facts_a, 1000); /* not kept while not live */
    assert_int_equal(c->count, 0);
    tenant_cache_set_live(c, true); /* listening again: starts empty */
    assert_false(tenant_cache_get(c, ID_A, 1000, &got));
    load(c, ID_A, &facts_a, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1000, &got));
}

static void test_deleting_is_kept_as_read(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got, deleting = {.deleting = true, .rate = 0, .burst = 0};
    load(c, ID_A, &deleting, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1000, &got));
    assert_true(got.deleting);
}

static void test_full_cache_starts_afresh(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    char id[MTM_UUID_STRLEN + 1];
    for (unsigned i = 0; i < TENANT_CACHE_MAX; i++) {
        snprintf(id, sizeof(id), "00000000-0000-7000-8000-%012x", i);
        load(c, id, &facts_a, 1000);
    }
    assert_int_equal(c->count, TENANT_CACHE_MAX);
    load(c, ID_A, &facts_a, 1000);
    assert_int_equal(c->count, 1);
    assert_true(tenant_cache_get(c, ID_A, 1000, &got));
    assert_false(tenant_cache_get(c, "00000000-0000-7000-8000-000000000000", 1000, &got));
}

static void test_metrics(void **state)
{
    struct tenant_cache *c = *state;
    struct tenant_facts got;
    struct mtm_buf out;
    load(c, ID_A, &facts_a, 1000);
    assert_true(tenant_cache_get(c, ID_A, 1000, &got));
    assert_false(tenant_cache_get(c, ID_B, 1000, &got));
    assert_false(tenant_cache_get(c, ID_B, 1000, &got));
    mtm_buf_init(&out, 1 << 16);
    assert_int_equal(tenant_cache_render(c, &out), 0);
    const char *text = mtm_buf_cstr(&out);
    assert_contains(text, "mtm_api_tenant_cache_lookups_total{result=\"hit\"} 1\n");
    assert_contains(text, "mtm_api_tenant_cache_lookups_total{result=\"miss\"} 2\n");
    assert_contains(text, "mtm_api_tenant_cache_live 1\n");
    assert_contains(text, "mtm_api_tenant_cache_entries 1\n");
    mtm_buf_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_then_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upper_case_id_is_the_same_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_uuid_is_never_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_drops_only_that_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_racing_a_change_is_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_live_means_no_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleting_is_kept_as_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_cache_starts_afresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
