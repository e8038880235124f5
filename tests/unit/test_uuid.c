/*
 * test_uuid: UUIDv7 generation and strict UUID text checks (lib/uuid.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uuid.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The 48-bit timestamp of a UUIDv7: its first 12 hex digits. */
static uint64_t timestamp_of(const char *u)
{
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue; /* the dash */
        int v = hexval(u[i]);
        assert_true(v >= 0);
        ms = ms << 4 | (uint64_t)v;
    }
    return ms;
}

static void test_format_known_values(void **state)
{
    (void)state;
    char out[MTM_UUID_STRLEN + 1];
    uint8_t ones[10], zeros[10] = {0};
    memset(ones, 0xff, sizeof(ones));

    mtm_uuid7_format(0x0123456789abULL, ones, out);
    assert_string_equal(out, "01234567-89ab-7fff-bfff-ffffffffffff");
    mtm_uuid7_format(0x0123456789abULL, zeros, out);
    assert_string_equal(out, "01234567-89ab-7000-8000-000000000000");

    const uint8_t rnd[10] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22};
    mtm_uuid7_format(1700000000123ULL, rnd, out); /* 0x018bcfe5687b */
    assert_string_equal(out, "018bcfe5-687b-7234-9678-9abcdef01122");
    assert_int_equal(timestamp_of(out), 1700000000123ULL);

    /* Only 48 bits of time are kept. */
    mtm_uuid7_format(0xffff000000000001ULL, zeros, out);
    assert_string_equal(out, "00000000-0001-7000-8000-000000000000");
}

static void test_new_has_version_variant_and_time(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        char u[MTM_UUID_STRLEN + 1];
        int64_t before = wall_ms();
        assert_int_equal(mtm_uuid7_new(u), 0);
        int64_t after = wall_ms();
        assert_int_equal(strlen(u), MTM_UUID_STRLEN);
        assert_true(mtm_uuid_valid(u));
        assert_int_equal(u[8], '-');
        assert_int_equal(u[13], '-');
        assert_int_equal(u[18], '-');
        assert_int_equal(u[23], '-');
        assert_int_equal(u[14], '7'); /* version */
        if (!strchr("89ab", u[19]))   /* variant 10xx */
            print_message("variant nibble %c in %s\n", u[19], u);
        assert_non_null(strchr("89ab", u[19]));
        for (int k = 0; k < MTM_UUID_STRLEN; k++)
            if (u[k] != '-')
                assert_true(hexval(u[k]) >= 0); /* lowercase hex */
        uint64_t ts = timestamp_of(u);
        assert_in_range(ts, (uint64_t)before, (uint64_t)after);
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ids_differ(void **state)
{
    (void)state;
    enum { N = 2000 };
    char(*ids)[MTM_UUID_STRLEN + 1] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        assert_int_equal(mtm_uuid7_new(ids[i]), 0);
    assert_string_not_equal(ids[0], ids[1]);
    qsort(ids, N, sizeof(*ids), cmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i], ids[i - 1]);
    free(ids);
}

static void test_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "0190b0c4-7d2e-7a00-8000-000000000001",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF",
        "123e4567-e89b-12d3-a456-426614174000",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!mtm_uuid_valid(good[i]))
            print_message("refused %s\n", good[i]);
        assert_true(mtm_uuid_valid(good[i]));
    }
    const char *bad[] = {
        "",
        "0190b0c4",
        "0190b0c4-7d2e-7a00-8000-00000000000",    /* 35 */
        "0190b0c4-7d2e-7a00-8000-0000000000011",  /* 37 */
        "0190b0c4-7d2e-7a00-8000-000000000001 ",  /* trailing space */
        " 0190b0c4-7d2e-7a00-8000-000000000001",  /* leading space */
        "0190b0c47d2e7a008000000000000001",       /* no dashes */
        "0190b0c4-7d2e-7a00-8000_000000000001",   /* wrong separator */
        "0190b0c-47d2e-7a00-8000-000000000001",   /* dash misplaced */
        "0190b0c4-7d2e-7a00-8000-00000000000g",   /* not hex */
        "{0190b0c4-7d2e-7a00-8000-000000000001}", /* braces */
        "0190b0c4-7d2e-7a00-8000-000000000001'; DROP TABLE tenants; --",
        "../../../../etc/passwd-aaaa-aaaa-aaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mtm_uuid_valid(bad[i]))
            print_message("accepted \"%s\"\n", bad[i]);
        assert_false(mtm_uuid_valid(bad[i]));
    }
    assert_false(mtm_uuid_valid(NULL));
}

static void test_canonical(void **state)
{
    (void)state;
    char id[] = "0190B0C4-7D2E-7A00-8000-00000000ABCD";
    assert_true(mtm_uuid_canonical(id));
    assert_string_equal(id, "0190b0c4-7d2e-7a00-8000-00000000abcd");
    assert_true(mtm_uuid_canonical(id)); /* idempotent */
    assert_string_equal(id, "0190b0c4-7d2e-7a00-8000-00000000abcd");
    char not_uuid[] = "ABC-DEF";
    assert_false(mtm_uuid_canonical(not_uuid));
    assert_string_equal(not_uuid, "ABC-DEF"); /* untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known_values),
        cmocka_unit_test(test_new_has_version_variant_and_time),
        cmocka_unit_test(test_ids_differ),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
