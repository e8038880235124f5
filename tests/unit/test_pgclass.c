/*
 * test_pgclass: which PostgreSQL errors are outages (lib/pg.c,
 * mtm_pg_state_is_outage, mtm_pg_retryable).
 *
 * An outage is waited out by consumerd's workers (and answered 503 by the
 * API); anything else is a fault of the statement or of the message, which
 * a worker counts against the message and may dead-letter. A database out
 * of disk, or read-only during a failover, must be the first kind: taking
 * it for the second dead-letters good messages. tests/integration/itest_pg.c
 * checks the same against a real server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg.h"

static void test_outages(void **state)
{
    (void)state;
    static const char *const outages[] = {
        "08000", "08006", "08001", /* connection */
        "53100",                   /* disk_full */
        "53200",                   /* out_of_memory */
        "53300",                   /* too_many_connections */
        "58000", "58030",          /* system_error, io_error */
        "57P01", "57P02", "57P03", /* admin/crash shutdown, cannot connect now */
        "25006",                   /* read_only_sql_transaction */
    };
    for (size_t i = 0; i < sizeof(outages) / sizeof(outages[0]); i++) {
        if (!mtm_pg_state_is_outage(outages[i]))
            print_message("%s not taken for an outage\n", outages[i]);
        assert_true(mtm_pg_state_is_outage(outages[i]));
    }
    /* No SQLSTATE at all: libpq's own failure, a broken connection. */
    assert_true(mtm_pg_state_is_outage(NULL));
    assert_true(mtm_pg_state_is_outage(""));
}

static void test_faults_of_the_statement(void **state)
{
    (void)state;
    static const char *const faults[] = {
        "23505", "23502", "22P02", "22012", /* integrity, data */
        "42601", "42P01",                   /* syntax, undefined table */
        "P0001",                            /* raise_exception */
        "25001", "25P02",                   /* other invalid transaction states */
        "57014",                            /* query_canceled: not 57P */
        "40001", "0A000", "XX000",
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        if (mtm_pg_state_is_outage(faults[i]))
            print_message("%s taken for an outage\n", faults[i]);
        assert_false(mtm_pg_state_is_outage(faults[i]));
    }
}

static void test_retryable(void **state)
{
    (void)state;
    assert_true(mtm_pg_retryable(MTM_EUNAVAIL));
    assert_true(mtm_pg_retryable(MTM_ETIMEOUT)); /* no answer in time: fate unknown */
    assert_false(mtm_pg_retryable(0));
    assert_false(mtm_pg_retryable(MTM_EDB));
    assert_false(mtm_pg_retryable(MTM_EINVAL));
    assert_false(mtm_pg_retryable(MTM_ECONFLICT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outages),
        cmocka_unit_test(test_faults_of_the_statement),
        cmocka_unit_test(test_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
