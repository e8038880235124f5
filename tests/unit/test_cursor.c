/* Unit tests for lib/cursor.c: sealed keyset cursors and base64url. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define TENANT_A "0190a5f2-0000-7000-8000-000000000001"
#define TENANT_B "0190a5f2-0000-7000-8000-000000000002"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int setup_key(void **state)
{
    static struct mtm_cursor_key key;
    if (mtm_cursor_key_init(&key, SECRET, strlen(SECRET)))
        return -1;
    *state = &key;
    return 0;
}

static int teardown_key(void **state)
{
    mtm_cursor_key_cleanup(*state);
    return 0;
}

static void test_round_trip(void **state)
{
    const struct mtm_cursor_key *k = *state;
    const int64_t keys[] = {0, 1, 9, 10, 12345, INT64_MAX};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char enc[MTM_CURSOR_MAX], again[MTM_CURSOR_MAX];
        int64_t back = -1;
        assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, keys[i], enc, sizeof(enc)), 0);
        assert_int_equal(strlen(enc), 32);
        assert_int_equal(mtm_cursor_decode(k, "md", TENANT_A, enc, &back), 0);
        if (back != keys[i])
            fail_msg("key %lld came back as %lld", (long long)keys[i], (long long)back);
        /* one encoding per position */
        assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, keys[i], again, sizeof(again)), 0);
        assert_string_equal(enc, again);
    }
}

/* Pins the format (cursor.h) so that another implementation, such as the
 * test harness's (tests/harness/cursor.mjs), can make the same cursors. */
static void test_known_encoding(void **state)
{
    const struct mtm_cursor_key *k = *state;
    char enc[MTM_CURSOR_MAX];
    assert_int_equal(mtm_cursor_encode(k, "md", "all", 5, enc, sizeof(enc)), 0);
    assert_string_equal(enc, "acRlHl3qSKfTdFj6diP-HXUVfR2Mv592");
    assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, 5, enc, sizeof(enc)), 0);
    assert_string_equal(enc, "q6J2FRX7uEFR4EU8Vt6QmAmI_AtpyHHa");
}

/* The key is sealed: neighbouring keys give unrelated cursors, and the
 * plain text of the old format ("md:5") appears nowhere. */
static void test_key_hidden(void **state)
{
    const struct mtm_cursor_key *k = *state;
    char a[MTM_CURSOR_MAX], b[MTM_CURSOR_MAX];
    unsigned char ra[32], rb[32];
    assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, 1000, a, sizeof(a)), 0);
    assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, 1001, b, sizeof(b)), 0);
    assert_int_equal(mtm_base64url_decode(a, ra, sizeof(ra)), 24);
    assert_int_equal(mtm_base64url_decode(b, rb, sizeof(rb)), 24);
    int same = 0;
    for (int i = 0; i < 24; i++)
        same += ra[i] == rb[i];
    if (same > 6)
        fail_msg("cursors of keys 1000 and 1001 share %d of 24 bytes: %s %s", same, a, b);
}

/* Every single-character change of a cursor is refused. */
static void test_tamper_refused(void **state)
{
    const struct mtm_cursor_key *k = *state;
    char enc[MTM_CURSOR_MAX];
    int64_t key;
    assert_int_equal(mtm_cursor_encode(k, "ma", TENANT_A, 777, enc, sizeof(enc)), 0);
    size_t n = strlen(enc);
    for (size_t i = 0; i < n; i++) {
        for (const char *c = alphabet; *c; c++) {
            if (*c == enc[i])
                continue;
            char bad[MTM_CURSOR_MAX];
            memcpy(bad, enc, n + 1);
            bad[i] = *c;
            if (mtm_cursor_decode(k, "ma", TENANT_A, bad, &key) != MTM_EPARSE)
                fail_msg("accepted %s (%s with character %zu changed)", bad, enc, i);
        }
    }
    char longer[MTM_CURSOR_MAX + 8];
    snprintf(longer, sizeof(longer), "%sA", enc);
    assert_int_equal(mtm_cursor_decode(k, "ma", TENANT_A, longer, &key), MTM_EPARSE);
    enc[n - 1] = '\0';
    assert_int_equal(mtm_cursor_decode(k, "ma", TENANT_A, enc, &key), MTM_EPARSE);
}

static void test_wrong_scope_refused(void **state)
{
    const struct mtm_cursor_key *k = *state;
    char enc[MTM_CURSOR_MAX];
    int64_t key;
    assert_int_equal(mtm_cursor_encode(k, "md", TENANT_A, 5, enc, sizeof(enc)), 0);
    assert_int_equal(mtm_cursor_decode(k, "md", TENANT_B, enc, &key), MTM_EPARSE);
    assert_int_equal(mtm_cursor_decode(k, "md", "all", enc, &key), MTM_EPARSE);
    assert_int_equal(mtm_cursor_decode(k, "md", "", enc, &key), MTM_EPARSE);
}

static void test_wrong_kind_refused(void **state)
{
    const struct mtm_cursor_key *k = *state;
    const char *kinds[] = {"ma", "md", "da", "dd", "t", "k", "a"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char enc[MTM_CURSOR_MAX];
        assert_int_equal(mtm_cursor_encode(k, kinds[i], TENANT_A, 5, enc, sizeof(enc)), 0);
        for (size_t j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
            int64_t key;
            int want = i == j ? 0 : MTM_EPARSE;
            if (mtm_cursor_decode(k, kinds[j], TENANT_A, enc, &key) != want)
                fail_msg("a cursor of kind %s decoded as kind %s: expected %d", kinds[i], kinds[j],
                         want);
        }
    }
    /* The separator is part of the MAC: ("m", "d...") is not ("md", "..."). */
    char enc[MTM_CURSOR_MAX];
    int64_t key;
    assert_int_equal(mtm_cursor_encode(k, "m", "dall", 5, enc, sizeof(enc)), 0);
    assert_int_equal(mtm_cursor_decode(k, "md", "all", enc, &key), MTM_EPARSE);
}

static void test_wrong_secret_refused(void **state)
{
    const struct mtm_cursor_key *k = *state;
    struct mtm_cursor_key other;
    const char *secret2 = "0123456789abcdef0123456789abcdeF";
    assert_int_equal(mtm_cursor_key_init(&other, secret2, strlen(secret2)), 0);
    char enc[MTM_CURSOR_MAX];
    int64_t key;
    assert_int_equal(mtm_cursor_encode(&other, "md", TENANT_A, 5, enc, sizeof(enc)), 0);
    assert_int_equal(mtm_cursor_decode(k, "md", TENANT_A, enc, &key), MTM_EPARSE);
    assert_int_equal(mtm_cursor_decode(&other, "md", TENANT_A, enc, &key), 0);
    assert_int_equal(key, 5);
    mtm_cursor_key_cleanup(&other);
}

/* Finding 9: cursors of the old format, base64url("md:<seq>"), are forged
 * positions and are refused. */
static void test_old_format_refused(void **state)
{
    const struct mtm_cursor_key *k = *state;
    const char *bad[] = {
        "",
        "zzz",
        "bWQ6NQ",                             /* md:5 */
        "bWQ6NQBb",                           /* md:5\0[ (fuzz_cursor's old regression) */
        "bWQ6OTIyMzM3MjAzNjg1NDc3NTgwNw",     /* md:9223372036854775807 */
        "YWNSbEhsM3FTS2ZUZEZqNmRpUC1I",       /* 21 bytes, not 24 */
        "acRlHl3qSKfTdFj6diP-HXUVfR2Mv592==", /* padding */
        "acRlHl3qSKfTdFj6diP+HXUVfR2Mv592",   /* base64, not base64url */
        "acRlHl3qSKfTdFj6diP-HXUVfR2Mv59 ",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "________________________________",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t key;
        if (mtm_cursor_decode(k, "md", "all", bad[i], &key) != MTM_EPARSE)
            fail_msg("accepted bad cursor \"%s\"", bad[i]);
    }
    int64_t key;
    assert_int_equal(mtm_cursor_decode(k, "md", "all", "acRlHl3qSKfTdFj6diP-HXUVfR2Mv592", &key),
                     0);
}

static void test_encode_limits(void **state)
{
    const struct mtm_cursor_key *k = *state;
    char enc[MTM_CURSOR_MAX], small[32], scope[MTM_CURSOR_SCOPE_MAX + 2];
    assert_int_equal(mtm_cursor_encode(k, "md", "all", -1, enc, sizeof(enc)), MTM_EINVAL);
    assert_int_equal(mtm_cursor_encode(k, "md", "all", 1, small, sizeof(small)), MTM_ETOOBIG);
    memset(scope, 'x', sizeof(scope) - 1);
    scope[sizeof(scope) - 1] = '\0';
    assert_int_equal(mtm_cursor_encode(k, "md", scope, 1, enc, sizeof(enc)), MTM_EINVAL);
    int64_t key;
    assert_int_equal(mtm_cursor_decode(k, "md", scope, "acRlHl3qSKfTdFj6diP-HXUVfR2Mv592", &key),
                     MTM_EPARSE);
}

static void test_base64url(void **state)
{
    (void)state;
    unsigned char out[16];
    char enc[16];
    assert_int_equal(mtm_base64url_encode((const unsigned char *)"\xfb\xff", 2, enc, sizeof(enc)),
                     3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(mtm_base64url_decode("-_8", out, sizeof(out)), 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(mtm_base64url_decode("a", out, sizeof(out)), -1);
    assert_int_equal(mtm_base64url_decode("+/8", out, sizeof(out)), -1);
    assert_int_equal(mtm_base64url_decode("bWQ6NR", out, sizeof(out)), -1); /* trailing bits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_known_encoding),
        cmocka_unit_test(test_key_hidden),           cmocka_unit_test(test_tamper_refused),
        cmocka_unit_test(test_wrong_scope_refused),  cmocka_unit_test(test_wrong_kind_refused),
        cmocka_unit_test(test_wrong_secret_refused), cmocka_unit_test(test_old_format_refused),
        cmocka_unit_test(test_encode_limits),        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, setup_key, teardown_key);
}
