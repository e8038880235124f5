/*
 * itest_groupstore: consumerd/groupstore.c against a real PostgreSQL.
 *
 * The harness (tests/integration/c_integration.test.mjs) gives this program
 * a fresh database (MTM_PG_URL, as mtm; MTM_TEST_PG_SUPER_URL, as the
 * superuser) and the migrations (MTM_SQL_DIR); without them it skips (exit
 * 77). To make batches wait for a transaction deterministically, a test
 * holds the per-tenant lock mtm_store_messages takes for one tenant from a
 * connection of its own: the group that stores that tenant then runs until
 * the lock is released, and every batch handed over meanwhile waits.
 *
 * Checked: batches that wait are stored together, one transaction for all
 * of them, each worker told its own count; a tenant's second batch waits
 * for the next transaction; a transaction the database refuses is run again
 * batch by batch, so only the bad batch fails; a batch stored again
 * (a redelivery) counts no new row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../consumerd/dbpool.h"
#include "../../consumerd/groupstore.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"
#include "itestutil.h"
#include "timeutil.h"

#define TENANTS 23
#define MSGS 3

static const char *pg_url, *super_url, *sql_dir;
static char tenant[TENANTS][40]; /* made once, with their partitions */

/* The one value of a query run as the superuser. */
static long long super_count(const char *sql)
{
    PGconn *c = PQconnectdb(super_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        print_message("%s: %s\n", sql, PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

static long long stored(int t)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages WHERE tenant_id = '%s'", tenant[t]);
    return super_count(sql);
}

/* A batch of MSGS messages for tenant t as a worker renders it; tag makes
 * its ids; bad: one id longer than the table allows (the CHECK refuses). */
static void batch_json(char *out, size_t outlen, int t, const char *tag, bool bad)
{
    size_t len = (size_t)snprintf(out, outlen, "[");
    for (int i = 0; i < MSGS; i++) {
        char id[300];
        if (bad && i == 1) {
            memset(id, 'x', 257);
            id[257] = '\0';
        } else {
            snprintf(id, sizeof(id), "%s-%d-%d", tag, t, i);
        }
        len += (size_t)snprintf(out + len, outlen - len,
                                "%s{\"payload\":{\"i\":%d},\"id\":\"%s\",\"headers\":{},"
                                "\"published_at_ms\":1700000000000,\"attempts\":1,"
                                "\"trace_id\":null,\"size\":9}",
                                i ? "," : "", i, id);
    }
    snprintf(out + len, outlen - len, "]");
}

struct call {
    struct group_store *g;
    int t;
    char batch[2048];
    long long inserted;
    int rc;
    char err[512];
    pthread_t tid;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    c->rc = group_store_exec(c->g, tenant[c->t], c->batch, &c->inserted, c->err, sizeof(c->err));
    return NULL;
}

static void start(struct call *c, struct group_store *g, int t, const char *tag, bool bad)
{
    memset(c, 0, sizeof(*c));
    c->g = g;
    c->t = t;
    c->inserted = -1;
    batch_json(c->batch, sizeof(c->batch), t, tag, bad);
    assert_int_equal(pthread_create(&c->tid, NULL, call_main, c), 0);
}

static void wait_until(struct group_store *g, int running, int waiting)
{
    struct group_store_figures f;
    for (int i = 0; i < 1000; i++) {
        group_store_figures(g, &f);
        if (f.running == running && f.waiting == waiting)
            return;
        mtm_sleep_ms(10, NULL);
    }
    print_message("running %d waiting %d, expected %d and %d\n", f.running, f.waiting, running,
                  waiting);
    fail();
}

/* Holds tenant t's store lock from a connection of its own until released. */
static void hold(struct mtm_pg *locker, int t)
{
    char sql[200];
    exec_ok(locker, "BEGIN");
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(7170029, hashtext('%s'))", tenant[t]);
    exec_ok(locker, sql);
}

struct fixture {
    struct dbpool db;
    struct group_store g;
    struct mtm_pg locker;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    dbpool_init(&f->db, pg_url, 4);
    group_store_init(&f->g, &f->db, 1);
    mtm_pg_init(&f->locker, pg_url, 5);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    group_store_cleanup(&f->g);
    dbpool_cleanup(&f->db);
    mtm_pg_cleanup(&f->locker);
    free(f);
    return 0;
}

static void test_waiting_batches_share_one_transaction(void **state)
{
    struct fixture *f = *state;
    struct call c[16];
    hold(&f->locker, 0);
    start(&c[0], &f->g, 0, "share", false); /* leads, then waits for the lock */
    wait_until(&f->g, 1, 0);
    for (int i = 1; i < 16; i++)
        start(&c[i], &f->g, i, "share", false);
    wait_until(&f->g, 1, 15);
    exec_ok(&f->locker, "COMMIT");
    for (int i = 0; i < 16; i++) {
        pthread_join(c[i].tid, NULL);
        if (c[i].rc)
            print_message("tenant %d: %s\n", i, c[i].err);
        assert_int_equal(c[i].rc, 0);
        assert_int_equal(c[i].inserted, MSGS);
        assert_int_equal(stored(i), MSGS);
    }
    struct group_store_figures fig;
    group_store_figures(&f->g, &fig);
    assert_int_equal(fig.groups, 2); /* the one that waited for the lock, then all the others */
    assert_int_equal(fig.batches, 16);
    assert_int_equal(fig.running, 0);
    assert_int_equal(fig.waiting, 0);
}

static void test_a_tenant_once_per_transaction(void **state)
{
    struct fixture *f = *state;
    struct call c[4];
    hold(&f->locker, 16);
    start(&c[0], &f->g, 16, "once", false);
    wait_until(&f->g, 1, 0);
    start(&c[1], &f->g, 17, "once-a", false);
    wait_until(&f->g, 1, 1);
    start(&c[2], &f->g, 17, "once-b", false); /* the same tenant: the next transaction */
    wait_until(&f->g, 1, 2);
    start(&c[3], &f->g, 18, "once", false);
    wait_until(&f->g, 1, 3);
    exec_ok(&f->locker, "COMMIT");
    for (int i = 0; i < 4; i++) {
        pthread_join(c[i].tid, NULL);
        assert_int_equal(c[i].rc, 0);
        assert_int_equal(c[i].inserted, MSGS);
    }
    assert_int_equal(stored(17), 2 * MSGS);
    struct group_store_figures fig;
    group_store_figures(&f->g, &fig);
    assert_int_equal(fig.groups, 3); /* {16}, {17, 18}, {17} */
    assert_int_equal(fig.batches, 4);
}

static void test_a_refused_transaction_answers_each_batch(void **state)
{
    struct fixture *f = *state;
    struct call c[4];
    long long before13 = stored(13), before14 = stored(14), before15 = stored(15);
    hold(&f->locker, 19);
    start(&c[0], &f->g, 19, "refused", false);
    wait_until(&f->g, 1, 0);
    start(&c[1], &f->g, 13, "refused", false);
    start(&c[2], &f->g, 14, "refused", true); /* one id too long */
    start(&c[3], &f->g, 15, "refused", false);
    wait_until(&f->g, 1, 3);
    exec_ok(&f->locker, "COMMIT");
    for (int i = 0; i < 4; i++)
        pthread_join(c[i].tid, NULL);
    assert_int_equal(c[1].rc, 0);
    assert_int_equal(c[1].inserted, MSGS);
    assert_int_not_equal(c[2].rc, 0);
    assert_false(mtm_pg_retryable(c[2].rc)); /* the worker then stores it message by message */
    assert_contains(c[2].err, "check");
    assert_int_equal(c[3].rc, 0);
    assert_int_equal(c[3].inserted, MSGS);
    assert_int_equal(stored(13), before13 + MSGS);
    assert_int_equal(stored(14), before14); /* nothing of the refused batch */
    assert_int_equal(stored(15), before15 + MSGS);
}

static void test_a_redelivered_batch_counts_no_row(void **state)
{
    struct fixture *f = *state;
    struct call c[3];
    start(&c[0], &f->g, 22, "again", false);
    pthread_join(c[0].tid, NULL);
    assert_int_equal(c[0].rc, 0);
    assert_int_equal(c[0].inserted, MSGS);
    /* The same batch again, alone, then together with a new one. */
    start(&c[0], &f->g, 22, "again", false);
    pthread_join(c[0].tid, NULL);
    assert_int_equal(c[0].rc, 0);
    assert_int_equal(c[0].inserted, 0);
    hold(&f->locker, 20);
    start(&c[0], &f->g, 20, "again", false);
    wait_until(&f->g, 1, 0);
    start(&c[1], &f->g, 22, "again", false);
    start(&c[2], &f->g, 21, "again", false);
    wait_until(&f->g, 1, 2);
    exec_ok(&f->locker, "COMMIT");
    for (int i = 0; i < 3; i++) {
        pthread_join(c[i].tid, NULL);
        assert_int_equal(c[i].rc, 0);
    }
    assert_int_equal(c[1].inserted, 0);
    assert_int_equal(c[2].inserted, MSGS);
    assert_int_equal(stored(22), MSGS);
}

/* Migrates the database and makes the tenants with their partitions. */
static int prepare(void)
{
    struct mtm_pg pg;
    char err[512] = "";
    int applied = 0;
    struct mtm_log_ctx log = {.component = "itest"};
    mtm_pg_init(&pg, pg_url, 5);
    int rc = mtm_migrate(&pg, sql_dir, &log, &applied, err, sizeof(err));
    if (rc) {
        printf("migrate: %s\n", err);
        mtm_pg_cleanup(&pg);
        return rc;
    }
    mtm_pg_cleanup(&pg);
    PGconn *c = PQconnectdb(pg_url); /* as mtm, which owns what it makes */
    for (int t = 0; t < TENANTS && PQstatus(c) == CONNECTION_OK; t++) {
        char sql[200];
        snprintf(
            sql, sizeof(sql),
            "WITH t AS (INSERT INTO tenants (name, concurrency) VALUES ('g%d', 1) RETURNING id)"
            " SELECT id, mtm_create_partition(id) FROM t",
            t);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            printf("%s: %s\n", sql, PQerrorMessage(c));
            PQclear(r);
            break;
        }
        snprintf(tenant[t], sizeof(tenant[t]), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    rc = PQstatus(c) == CONNECTION_OK && tenant[TENANTS - 1][0] ? 0 : 1;
    PQfinish(c);
    return rc;
}

int main(void)
{
    pg_url = getenv("MTM_PG_URL");
    super_url = getenv("MTM_TEST_PG_SUPER_URL");
    sql_dir = getenv("MTM_SQL_DIR");
    if (!pg_url || !*pg_url || !super_url || !*super_url || !sql_dir || !*sql_dir) {
        printf("itest_groupstore: SKIP: MTM_PG_URL, MTM_TEST_PG_SUPER_URL and MTM_SQL_DIR must be "
               "set (the integration harness sets them)\n");
        return 77;
    }
    mtm_log_set_level(MTM_LOG_WARN);
    if (prepare())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waiting_batches_share_one_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_tenant_once_per_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_refused_transaction_answers_each_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_redelivered_batch_counts_no_row, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
