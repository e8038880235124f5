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

#define JTI_1 "0192a3b4-c5d6-7e8f-9a0b-000000000001"
#define JTI_2 "0192a3b4-c5d6-7e8f-9a0b-000000000002"

/* Offers a valid token the way check_tenant_token does. */
static void load_token(struct tenant_cache *c, const char *id, const char *jti, int64_t now)
{
    uint64_t g = tenant_cache_generation(c);
    tenant_cache_token_put(c, id, jti, g, now);
}

static void test_token_put_then_valid(void **state)
{
    struct tenant_cache *c = *state;
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
    load_token(c, ID_A, JTI_1, 1000);
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 1001));
    /* The same id in upper case, as a token from elsewhere may carry it. */
    assert_true(tenant_cache_token_valid(c, "0192A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B",
                                         "0192A3B4-C5D6-7E8F-9A0B-000000000001", 1001));
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_2, 1001));
    /* A jti is valid for its own tenant only. */
    assert_false(tenant_cache_token_valid(c, ID_B, JTI_1, 1001));
    assert_false(tenant_cache_token_valid(c, ID_A, "not-a-uuid", 1001));
    assert_int_equal(atomic_load(&c->token_hits), 2);
    assert_int_equal(atomic_load(&c->token_misses), 4);
    /* An entry made for a token holds no facts of the tenant. */
    struct tenant_facts got;
    assert_false(tenant_cache_get(c, ID_A, 1001, &got));
    load(c, ID_A, &facts_a, 1002);
    assert_true(tenant_cache_get(c, ID_A, 1002, &got));
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 1002)); /* kept beside the facts */
    assert_int_equal(c->count, 1);
}

static void test_tokens_expire(void **state)
{
    struct tenant_cache *c = *state;
    load(c, ID_A, &facts_a, 1000);
    load_token(c, ID_A, JTI_1, 1000);
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 1000 + TENANT_CACHE_TTL_MS - 1));
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000 + TENANT_CACHE_TTL_MS));
    /* Fresher facts do not make an old token check fresh. */
    load(c, ID_A, &facts_a, 1000 + TENANT_CACHE_TTL_MS);
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000 + TENANT_CACHE_TTL_MS));
    load_token(c, ID_A, JTI_1, 1000 + TENANT_CACHE_TTL_MS);
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 1000 + TENANT_CACHE_TTL_MS + 1));
}

/* A revocation NOTIFYs the tenant's id: forgetting it forgets its tokens. */
static void test_forget_drops_tokens(void **state)
{
    struct tenant_cache *c = *state;
    load_token(c, ID_A, JTI_1, 1000);
    load_token(c, ID_B, JTI_2, 1000);
    tenant_cache_forget(c, ID_A);
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
    assert_true(tenant_cache_token_valid(c, ID_B, JTI_2, 1000));
}

/* A check read before a revocation must not be kept once it is known. */
static void test_token_read_racing_a_revocation_is_not_kept(void **state)
{
    struct tenant_cache *c = *state;
    uint64_t before = tenant_cache_generation(c);
    tenant_cache_forget(c, ID_A);
    tenant_cache_token_put(c, ID_A, JTI_1, before, 1000);
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
    assert_int_equal(c->count, 0);
}

static void test_tokens_not_live_means_no_cache(void **state)
{
    struct tenant_cache *c = *state;
    load_token(c, ID_A, JTI_1, 1000);
    tenant_cache_set_live(c, false);
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
    load_token(c, ID_A, JTI_1, 1000);
    assert_int_equal(c->count, 0);
    tenant_cache_set_live(c, true);
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
}

/* At most TENANT_CACHE_TOKENS per tenant; the one read longest ago makes room. */
static void test_oldest_token_makes_room(void **state)
{
    struct tenant_cache *c = *state;
    char jti[MTM_UUID_STRLEN + 1];
    for (int i = 0; i < TENANT_CACHE_TOKENS; i++) {
        snprintf(jti, sizeof(jti), "0192a3b4-c5d6-7e8f-9a0b-1000000000%02u", (unsigned)i % 100u);
        load_token(c, ID_A, jti, 1000 + i);
    }
    /* Read again, the first is now the freshest; the second is the oldest. */
    load_token(c, ID_A, "0192a3b4-c5d6-7e8f-9a0b-100000000000", 2000);
    load_token(c, ID_A, JTI_1, 2001);
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 2002));
    assert_true(tenant_cache_token_valid(c, ID_A, "0192a3b4-c5d6-7e8f-9a0b-100000000000", 2002));
    assert_false(tenant_cache_token_valid(c, ID_A, "0192a3b4-c5d6-7e8f-9a0b-100000000001", 2002));
    for (int i = 2; i < TENANT_CACHE_TOKENS; i++) {
        snprintf(jti, sizeof(jti), "0192a3b4-c5d6-7e8f-9a0b-1000000000%02u", (unsigned)i % 100u);
        assert_true(tenant_cache_token_valid(c, ID_A, jti, 2002));
    }
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
    assert_contains(text, "mtm_api_token_cache_lookups_total{result=\"hit\"} 0\n");
    assert_contains(text, "mtm_api_token_cache_lookups_total{result=\"miss\"} 0\n");
    mtm_buf_cleanup(&out);
    load_token(c, ID_A, JTI_1, 1000);
    assert_true(tenant_cache_token_valid(c, ID_A, JTI_1, 1000));
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_2, 1000));
    assert_false(tenant_cache_token_valid(c, ID_A, JTI_2, 1000));
    mtm_buf_init(&out, 1 << 16);
    assert_int_equal(tenant_cache_render(c, &out), 0);
    text = mtm_buf_cstr(&out);
    assert_contains(text, "mtm_api_token_cache_lookups_total{result=\"hit\"} 1\n");
    assert_contains(text, "mtm_api_token_cache_lookups_total{result=\"miss\"} 2\n");
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
        cmocka_unit_test_setup_teardown(test_token_put_then_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_drops_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_read_racing_a_revocation_is_not_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tokens_not_live_means_no_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldest_token_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
