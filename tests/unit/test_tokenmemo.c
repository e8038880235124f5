/*
 * test_tokenmemo: the responder's memory of verified tokens
 * (cgi-bin/tokenmemo.c). A token verified once is answered from the memo
 * with the same claims, its times checked again at every use; a token
 * differing in any byte, a refused one, and one whose slot another token
 * took are verified in full.
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

#include "../../cgi-bin/tokenmemo.h"
#include "hash.h"
#include "token.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define TENANT "0b5e7c3a-1111-4222-8333-944445555666"
#define NOW 1700000000

static int setup(void **state)
{
    struct token_memo *m = malloc(sizeof(*m));
    token_memo_init(m);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    token_memo_cleanup(*state);
    free(*state);
    return 0;
}

/* A tenant token for TENANT with jti ...n, valid for an hour from NOW. */
static char *tenant_token(int n)
{
    struct mtm_claims c = {.role = MTM_ROLE_TENANT, .iat = NOW, .nbf = NOW, .exp = NOW + 3600};
    snprintf(c.sub, sizeof(c.sub), "tenant:%s", TENANT);
    snprintf(c.tenant_id, sizeof(c.tenant_id), TENANT);
    snprintf(c.jti, sizeof(c.jti), "11111111-2222-4333-8444-%012d", n);
    char *tok = NULL;
    char err[256];
    assert_int_equal(mtm_token_sign(&c, SECRET, &tok, err, sizeof(err)), 0);
    return tok;
}

static int verify(struct token_memo *m, const char *tok, int64_t now, struct mtm_claims *c)
{
    char err[256] = "";
    return token_memo_verify(m, tok, SECRET, now, c, err, sizeof(err));
}

static void test_verified_once_then_remembered(void **state)
{
    struct token_memo *m = *state;
    char *tok = tenant_token(1);
    struct mtm_claims first, again;
    assert_int_equal(verify(m, tok, NOW, &first), 0);
    assert_int_equal(verify(m, tok, NOW + 1, &again), 0);
    assert_int_equal(atomic_load(&m->misses), 1);
    assert_int_equal(atomic_load(&m->hits), 1);
    assert_memory_equal(&first, &again, sizeof(first));
    assert_int_equal(again.role, MTM_ROLE_TENANT);
    assert_string_equal(again.tenant_id, TENANT);
    free(tok);
}

/* A remembered token still expires, and is not valid before its nbf. */
static void test_remembered_token_times_checked_again(void **state)
{
    struct token_memo *m = *state;
    char *tok = tenant_token(2);
    struct mtm_claims c;
    char err[256] = "";
    assert_int_equal(verify(m, tok, NOW, &c), 0);
    assert_int_equal(token_memo_verify(m, tok, SECRET, NOW + 3600 + MTM_TOKEN_LEEWAY_S + 1, &c, err,
                                       sizeof(err)),
                     MTM_EAUTH);
    assert_contains(err, "expired");
    assert_string_equal(c.tenant_id, ""); /* nothing of it handed out */
    assert_int_equal(
        token_memo_verify(m, tok, SECRET, NOW - MTM_TOKEN_LEEWAY_S - 1, &c, err, sizeof(err)),
        MTM_EAUTH);
    assert_contains(err, "not valid yet");
    assert_int_equal(atomic_load(&m->hits), 2);
    assert_int_equal(verify(m, tok, NOW + 10, &c), 0); /* and valid in between */
    free(tok);
}

/* One byte changed anywhere (here the signature's last) is another token:
 * verified in full, and refused. */
static void test_altered_token_verified_in_full(void **state)
{
    struct token_memo *m = *state;
    char *tok = tenant_token(3);
    struct mtm_claims c;
    assert_int_equal(verify(m, tok, NOW, &c), 0);
    char *bad = strdup(tok);
    size_t n = strlen(bad);
    bad[n - 1] = bad[n - 1] == 'A' ? 'B' : 'A';
    for (int i = 0; i < 2; i++)
        assert_int_equal(verify(m, bad, NOW, &c), MTM_EAUTH);
    assert_int_equal(atomic_load(&m->misses), 3); /* refused tokens are not kept */
    assert_int_equal(atomic_load(&m->hits), 0);
    assert_int_equal(verify(m, tok, NOW, &c), 0); /* the good one is still remembered */
    assert_int_equal(atomic_load(&m->hits), 1);
    free(bad);
    free(tok);
}

static void test_refusals_as_verify(void **state)
{
    struct token_memo *m = *state;
    struct mtm_claims c;
    char err[256] = "";
    assert_int_equal(token_memo_verify(m, NULL, SECRET, NOW, &c, err, sizeof(err)), MTM_EAUTH);
    assert_int_equal(token_memo_verify(m, "a.b.c", SECRET, NOW, &c, err, sizeof(err)), MTM_EAUTH);
    char *huge = malloc(MTM_TOKEN_MAX + 2);
    memset(huge, 'A', MTM_TOKEN_MAX + 1);
    huge[MTM_TOKEN_MAX + 1] = '\0';
    assert_int_equal(token_memo_verify(m, huge, SECRET, NOW, &c, err, sizeof(err)), MTM_EAUTH);
    assert_contains(err, "too long");
    free(huge);
    char *tok = tenant_token(4);
    assert_int_equal(
        token_memo_verify(m, tok, "another secret of 32 bytes.......", NOW, &c, err, sizeof(err)),
        MTM_EAUTH);
    free(tok);
}

/* Two tokens in one slot: the later takes it, the earlier is verified in
 * full again (and then takes it back). */
static void test_slot_taken_by_a_later_token(void **state)
{
    struct token_memo *m = *state;
    char *a = tenant_token(5), *b = NULL;
    size_t slot = mtm_hash_str(MTM_HASH_INIT, a) % TOKEN_MEMO_SLOTS;
    for (int n = 6; n < 100000; n++) {
        b = tenant_token(n);
        if (mtm_hash_str(MTM_HASH_INIT, b) % TOKEN_MEMO_SLOTS == slot)
            break;
        free(b);
        b = NULL;
    }
    assert_non_null(b);
    struct mtm_claims c;
    assert_int_equal(verify(m, a, NOW, &c), 0);
    assert_int_equal(verify(m, b, NOW, &c), 0);
    assert_string_not_equal(c.jti, "11111111-2222-4333-8444-000000000005"); /* b's own */
    assert_int_equal(verify(m, a, NOW, &c), 0);
    assert_int_equal(atomic_load(&m->misses), 3);
    assert_int_equal(atomic_load(&m->hits), 0);
    assert_string_equal(c.jti, "11111111-2222-4333-8444-000000000005");
    free(a);
    free(b);
}

static void test_metrics(void **state)
{
    struct token_memo *m = *state;
    char *tok = tenant_token(7);
    struct mtm_claims c;
    for (int i = 0; i < 3; i++)
        assert_int_equal(verify(m, tok, NOW, &c), 0);
    struct mtm_buf out;
    mtm_buf_init(&out, 1 << 16);
    assert_int_equal(token_memo_render(m, &out), 0);
    assert_contains(mtm_buf_cstr(&out), "mtm_api_token_memo_lookups_total{result=\"hit\"} 2\n");
    assert_contains(mtm_buf_cstr(&out), "mtm_api_token_memo_lookups_total{result=\"miss\"} 1\n");
    mtm_buf_cleanup(&out);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verified_once_then_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remembered_token_times_checked_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered_token_verified_in_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_as_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_taken_by_a_later_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
