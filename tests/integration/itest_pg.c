/*
 * itest_pg: lib/pg.c against a real PostgreSQL.
 *
 * The harness (tests/integration/c_integration.test.mjs) runs this with
 * MTM_PG_URL pointing at a fresh database owned by the unprivileged role mtm;
 * without it the program skips (exit 77). Checked here: connecting, a named
 * statement, failing fast when the server is unreachable or silent, the
 * classification of constraint errors and of outages (disk full, read-only),
 * and recovery after the server kills
 * the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"
#include "pg.h"
#include "itestutil.h"

static const char *pg_url;

static void test_connect(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, pg_url, 5);
    assert_false(mtm_pg_connected(&pg));
    int rc = mtm_pg_connect(&pg, err, sizeof(err));
    if (rc)
        print_message("connect: %s\n", err);
    assert_int_equal(rc, 0);
    assert_true(mtm_pg_connected(&pg));
    PGconn *first = pg.conn;
    assert_int_equal(mtm_pg_connect(&pg, err, sizeof(err)), 0); /* already connected: kept */
    assert_ptr_equal(pg.conn, first);
    mtm_pg_disconnect(&pg);
    assert_false(mtm_pg_connected(&pg));
    mtm_pg_cleanup(&pg);
}

static void test_exec_ping(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, pg_url, 5);
    for (int i = 0; i < 3; i++) { /* the first prepares, the others reuse */
        PGresult *res = NULL;
        int rc = mtm_pg_exec(&pg, MTM_STMT_PING, NULL, &res, err, sizeof(err));
        if (rc)
            print_message("PING: %s\n", err);
        assert_int_equal(rc, 0);
        assert_non_null(res);
        assert_int_equal(PQntuples(res), 1);
        assert_string_equal(PQgetvalue(res, 0, 0), "1");
        PQclear(res);
        assert_true(pg.prepared & (UINT64_C(1) << MTM_STMT_PING));
        assert_string_equal(pg.sqlstate, "");
    }
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    /* A reconnect forgets what was prepared on the old connection. */
    mtm_pg_disconnect(&pg);
    assert_int_equal(pg.prepared, 0);
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    mtm_pg_cleanup(&pg);
}

static void test_unreachable_is_unavailable_fast(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    /* Nothing listens on port 1. */
    mtm_pg_init(&pg, "postgresql://mtm:mtm@127.0.0.1:1/mtm", 2);
    int64_t t0 = mtm_mono_ms();
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), MTM_EUNAVAIL);
    int64_t took = mtm_mono_ms() - t0;
    if (took >= 3000)
        print_message("took %lld ms\n", (long long)took);
    assert_true(took < 3000);
    assert_contains(err, "postgres connect");
    assert_false(mtm_pg_connected(&pg));
    assert_null(pg.conn);
    mtm_pg_cleanup(&pg);
}

static void test_silent_server_times_out(void **state)
{
    (void)state;
    /* A socket that completes the TCP handshake (the kernel does it from the
     * backlog) but never says a word: only the connect timeout ends this. */
    int port;
    int s = silent_listener(&port);
    char url[128];
    snprintf(url, sizeof(url), "postgresql://mtm:mtm@127.0.0.1:%d/mtm", port);

    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, url, 2);
    int64_t t0 = mtm_mono_ms();
    assert_int_equal(mtm_pg_connect(&pg, err, sizeof(err)), MTM_EUNAVAIL);
    int64_t took = mtm_mono_ms() - t0;
    print_message("silent server: %lld ms: %s\n", (long long)took, err);
    assert_true(took < 3000);
    mtm_pg_cleanup(&pg);
    close(s);
}

/* mtm's connection defaults apply unless the URL sets its own. */
static const char *conninfo_value(PGconn *conn, const char *key, char *out, size_t outlen)
{
    PQconninfoOption *opts = PQconninfo(conn);
    assert_non_null(opts);
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val)
            snprintf(out, outlen, "%s", o->val);
    PQconninfoFree(opts);
    return out;
}

static void test_url_settings_win_over_defaults(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "", val[64];
    mtm_pg_init(&pg, pg_url, 3);
    assert_int_equal(mtm_pg_connect(&pg, err, sizeof(err)), 0);
    assert_string_equal(PQparameterStatus(pg.conn, "application_name"), "mtm");
    assert_string_equal(conninfo_value(pg.conn, "connect_timeout", val, sizeof(val)), "3");
    assert_string_equal(conninfo_value(pg.conn, "keepalives_idle", val, sizeof(val)), "5");
    mtm_pg_cleanup(&pg);

    char url[4096 + 128];
    snprintf(url, sizeof(url), "%s%capplication_name=itest_url&connect_timeout=7", pg_url,
             strchr(pg_url, '?') ? '&' : '?');
    mtm_pg_init(&pg, url, 3);
    int rc = mtm_pg_connect(&pg, err, sizeof(err));
    if (rc)
        print_message("connect %s: %s\n", url, err);
    assert_int_equal(rc, 0);
    assert_string_equal(PQparameterStatus(pg.conn, "application_name"), "itest_url");
    assert_string_equal(conninfo_value(pg.conn, "connect_timeout", val, sizeof(val)), "7");
    assert_string_equal(conninfo_value(pg.conn, "keepalives_idle", val, sizeof(val)), "5");
    mtm_pg_cleanup(&pg);
}

static void test_classify_constraint_errors(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, pg_url, 5);
    exec_ok(&pg, "CREATE TEMP TABLE itest_u (id int PRIMARY KEY, v int NOT NULL)");
    exec_ok(&pg, "INSERT INTO itest_u VALUES (1, 1)");

    /* unique_violation 23505 */
    assert_int_equal(mtm_pg_exec_fixed(&pg, "INSERT INTO itest_u VALUES (1, 2)", err, sizeof(err)),
                     MTM_ECONFLICT);
    assert_string_equal(pg.sqlstate, "23505");
    assert_contains(err, "duplicate key");
    assert_true(mtm_pg_connected(&pg)); /* a constraint error keeps the connection */

    /* exclusion_violation 23P01 (ranges have a built-in GiST operator class) */
    exec_ok(&pg, "CREATE TEMP TABLE itest_x (r int4range, EXCLUDE USING gist (r WITH &&))");
    exec_ok(&pg, "INSERT INTO itest_x VALUES ('[1,10)')");
    assert_int_equal(
        mtm_pg_exec_fixed(&pg, "INSERT INTO itest_x VALUES ('[5,15)')", err, sizeof(err)),
        MTM_ECONFLICT);
    assert_string_equal(pg.sqlstate, "23P01");

    /* not_null_violation 23502 and division_by_zero 22012: invalid data */
    assert_int_equal(
        mtm_pg_exec_fixed(&pg, "INSERT INTO itest_u VALUES (2, NULL)", err, sizeof(err)),
        MTM_EINVAL);
    assert_string_equal(pg.sqlstate, "23502");
    assert_int_equal(mtm_pg_exec_fixed(&pg, "SELECT 1/0", err, sizeof(err)), MTM_EINVAL);
    assert_string_equal(pg.sqlstate, "22012");

    /* syntax_error 42601 and undefined_table 42P01: anything else */
    assert_int_equal(mtm_pg_exec_fixed(&pg, "SELEC 1", err, sizeof(err)), MTM_EDB);
    assert_string_equal(pg.sqlstate, "42601");
    assert_int_equal(mtm_pg_exec_fixed(&pg, "SELECT * FROM itest_nope", err, sizeof(err)), MTM_EDB);
    assert_string_equal(pg.sqlstate, "42P01");
    assert_contains(err, "itest_nope");

    /* The connection is still good, and its temp tables with it. */
    assert_true(mtm_pg_connected(&pg));
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    exec_ok(&pg, "INSERT INTO itest_u VALUES (3, 3)");
    mtm_pg_cleanup(&pg);
}

/*
 * A database that cannot take writes for now (its disk full, a primary
 * being demoted: read-only) is an outage, not a fault of the statement:
 * MTM_EUNAVAIL, so that consumerd's workers wait it out instead of counting it against each message
 * (and dead-lettering good messages), and the API answers 503 instead of 500. Before, both came
 * back as MTM_EDB.
 */
static void test_classify_outages(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, pg_url, 5);

    /* disk_full 53100, as a trigger or the storage manager raises it */
    assert_int_equal(mtm_pg_exec_fixed(&pg,
                                       "DO $$ BEGIN RAISE EXCEPTION 'could not extend file'"
                                       " USING ERRCODE = 'disk_full'; END $$",
                                       err, sizeof(err)),
                     MTM_EUNAVAIL);
    assert_string_equal(pg.sqlstate, "53100");
    assert_contains(err, "could not extend file");
    assert_true(mtm_pg_connected(&pg)); /* kept: the session is fine, the disk is not */

    /* read_only_sql_transaction 25006: a write on a read-only session */
    exec_ok(&pg, "CREATE TEMP TABLE itest_ro (id int)");
    exec_ok(&pg, "SET default_transaction_read_only = on");
    assert_int_equal(
        mtm_pg_exec_fixed(&pg, "CREATE TABLE itest_ro_refused (id int)", err, sizeof(err)),
        MTM_EUNAVAIL);
    assert_string_equal(pg.sqlstate, "25006");
    assert_false(mtm_pg_connected(&pg)); /* dropped: a new one may reach a new primary */

    /* io_error 58030 */
    assert_int_equal(mtm_pg_exec_fixed(&pg, "DO $$ BEGIN RAISE USING ERRCODE = 'io_error'; END $$",
                                       err, sizeof(err)),
                     MTM_EUNAVAIL);
    assert_string_equal(pg.sqlstate, "58030");

    /* A statement's own fault stays one: raise_exception P0001 */
    assert_int_equal(
        mtm_pg_exec_fixed(&pg, "DO $$ BEGIN RAISE EXCEPTION 'no'; END $$", err, sizeof(err)),
        MTM_EDB);
    assert_string_equal(pg.sqlstate, "P0001");
    assert_true(mtm_pg_connected(&pg));
    assert_false(mtm_pg_retryable(MTM_EDB));
    mtm_pg_cleanup(&pg);
}

/* Runs a one-parameter query on conn and returns the first value as a long. */
static long query_long(PGconn *conn, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *r =
        PQexecParams(conn, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_message("%s: %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        fail();
    }
    assert_int_equal(PQntuples(r), 1);
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/*
 * Waits until the session pid (victim's) is gone from the server and its
 * goodbye has reached victim's idle socket: pg_terminate_backend only
 * sends the signal.
 */
static void await_goodbye(struct mtm_pg *killer, struct mtm_pg *victim, const char *pid)
{
    int64_t deadline = mtm_mono_ms() + 5000;
    while (query_long(killer->conn, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int",
                      pid) != 0) {
        assert_true(mtm_mono_ms() < deadline);
        usleep(20000);
    }
    struct pollfd gone = {.fd = PQsocket(victim->conn), .events = POLLIN};
    assert_int_equal(poll(&gone, 1, 5000), 1);
}

/* A session the server ended while idle costs no failure: the next
 * statement notices before sending and reconnects (lib/pg.c). */
static void test_terminated_session_reconnects(void **state)
{
    (void)state;
    struct mtm_pg victim, killer;
    char err[512] = "";
    mtm_pg_init(&victim, pg_url, 5);
    mtm_pg_init(&killer, pg_url, 5);
    assert_int_equal(mtm_pg_exec(&victim, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(mtm_pg_connect(&killer, err, sizeof(err)), 0);

    char pid[16];
    snprintf(pid, sizeof(pid), "%d", PQbackendPID(victim.conn));
    /* A role may signal its own sessions: no superuser needed. */
    assert_int_equal(query_long(killer.conn, "SELECT pg_terminate_backend($1::int)::int", pid), 1);
    await_goodbye(&killer, &victim, pid);

    /* Once the server's goodbye has reached the idle connection, the
     * statement notices it before sending and goes out on a fresh one. */
    PGresult *res = NULL;
    int rc = mtm_pg_exec(&victim, MTM_STMT_PING, NULL, &res, err, sizeof(err));
    if (rc)
        print_message("after reconnect: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(PQgetvalue(res, 0, 0), "1");
    PQclear(res);
    char newpid[16];
    snprintf(newpid, sizeof(newpid), "%d", PQbackendPID(victim.conn));
    assert_string_not_equal(newpid, pid);

    mtm_pg_cleanup(&victim);
    mtm_pg_cleanup(&killer);
}

static void test_exec_fixed_after_terminate(void **state)
{
    (void)state;
    /* The same recovery through mtm_pg_exec_fixed, which LISTEN/BEGIN use. */
    struct mtm_pg victim, killer;
    char err[512] = "";
    mtm_pg_init(&victim, pg_url, 5);
    mtm_pg_init(&killer, pg_url, 5);
    exec_ok(&victim, "SELECT 1");
    assert_int_equal(mtm_pg_connect(&killer, err, sizeof(err)), 0);
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", PQbackendPID(victim.conn));
    assert_int_equal(
        query_long(killer.conn, "SELECT pg_terminate_backend($1::int, 5000)::int", pid), 1);
    await_goodbye(&killer, &victim, pid);
    assert_int_equal(mtm_pg_exec_fixed(&victim, "SELECT 1", err, sizeof(err)), 0);
    char newpid[16];
    snprintf(newpid, sizeof(newpid), "%d", PQbackendPID(victim.conn));
    assert_string_not_equal(newpid, pid);
    mtm_pg_cleanup(&victim);
    mtm_pg_cleanup(&killer);
}

/* Server notices reach stderr only as JSON log lines (libpq's default
 * would print "NOTICE:  ..." there raw). */
static void test_notices_go_to_the_json_log(void **state)
{
    (void)state;
    struct mtm_pg pg;
    mtm_pg_init(&pg, pg_url, 5);
    char err[512] = "";
    assert_int_equal(mtm_pg_connect(&pg, err, sizeof(err)), 0);

    char path[] = "/tmp/itest-pg-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    enum mtm_log_level level = mtm_log_get_level();
    mtm_log_set_level(MTM_LOG_INFO);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    int rc = mtm_pg_exec_fixed(&pg,
                               "DO $$ BEGIN RAISE NOTICE 'itest notice'; "
                               "RAISE WARNING 'itest warning'; END $$",
                               err, sizeof(err));
    dup2(saved, STDERR_FILENO);
    close(saved);
    mtm_log_set_level(level);
    assert_int_equal(rc, 0);

    char text[4096];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    assert_true(n >= 0);
    text[n] = '\0';
    print_message("stderr: %s", text);
    assert_null(strstr(text, "NOTICE:  "));
    assert_null(strstr(text, "itest notice")); /* debug, below the threshold */
    /* One JSON line: the warning. */
    assert_int_equal(text[0], '{');
    assert_contains(text, "\"level\":\"warn\"");
    assert_contains(text, "\"msg\":\"itest warning\"");
    assert_non_null(strchr(text, '\n'));
    assert_string_equal(strchr(text, '\n') + 1, "");
    mtm_pg_cleanup(&pg);
}

/* The session state in force on pg's connection, read behind mtm_pg's back. */
static void assert_scope(struct mtm_pg *pg, const char *want)
{
    PGresult *r =
        PQexec(pg->conn, "SELECT coalesce(current_setting('mtm.scope', true), '')"
                         " || '/' || coalesce(current_setting('mtm.tenant_id', true), '')");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), want);
    PQclear(r);
}

/* mtm_pg_set_session runs nothing until a statement needs it, then runs
 * before that statement, and again on every new connection. */
static void test_session_applied_before_the_next_statement(void **state)
{
    (void)state;
    struct mtm_pg pg;
    char err[512] = "";
    mtm_pg_init(&pg, pg_url, 5);
    mtm_pg_set_session(&pg, MTM_STMT_SET_SCOPE, "tenant", "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b");
    assert_false(mtm_pg_connected(&pg)); /* nothing ran */
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    assert_scope(&pg, "tenant/0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b");
    assert_false(pg.session_pending);

    /* A new state waits for the next statement. */
    mtm_pg_set_session(&pg, MTM_STMT_SET_SCOPE, "all", "");
    assert_true(pg.session_pending);
    assert_scope(&pg, "tenant/0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b");
    assert_int_equal(mtm_pg_exec_fixed(&pg, "SELECT 1", err, sizeof(err)), 0);
    assert_scope(&pg, "all/");
    assert_false(pg.session_pending);

    /* The state in force again: nothing to run. */
    mtm_pg_set_session(&pg, MTM_STMT_SET_SCOPE, "all", "");
    assert_false(pg.session_pending);

    /* Set twice before a statement: only the last one counts. */
    mtm_pg_set_session(&pg, MTM_STMT_SET_SCOPE, "tenant", "0192a3b4-c5d6-7e8f-9a0b-000000000001");
    mtm_pg_set_session(&pg, MTM_STMT_SET_SCOPE, "tenant", "0192a3b4-c5d6-7e8f-9a0b-000000000002");
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    assert_scope(&pg, "tenant/0192a3b4-c5d6-7e8f-9a0b-000000000002");

    /* A new connection starts with it. */
    mtm_pg_disconnect(&pg);
    assert_int_equal(mtm_pg_exec(&pg, MTM_STMT_PING, NULL, NULL, err, sizeof(err)), 0);
    assert_scope(&pg, "tenant/0192a3b4-c5d6-7e8f-9a0b-000000000002");
    mtm_pg_cleanup(&pg);
}

int main(void)
{
    pg_url = getenv("MTM_PG_URL");
    if (!pg_url || !*pg_url) {
        printf("itest_pg: SKIP: MTM_PG_URL is not set (the integration harness sets it)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_exec_ping),
        cmocka_unit_test(test_unreachable_is_unavailable_fast),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_url_settings_win_over_defaults),
        cmocka_unit_test(test_classify_constraint_errors),
        cmocka_unit_test(test_classify_outages),
        cmocka_unit_test(test_terminated_session_reconnects),
        cmocka_unit_test(test_exec_fixed_after_terminate),
        cmocka_unit_test(test_notices_go_to_the_json_log),
        cmocka_unit_test(test_session_applied_before_the_next_statement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
