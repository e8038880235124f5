/*
 * itest_migrate: lib/migrate.c against a real PostgreSQL.
 *
 * Needs MTM_PG_URL and MTM_SQL_DIR (the harness sets both; without them the
 * program skips with exit 77). Each test gets a fresh, empty schema of its
 * own in that database, selected for every connection through the URL's
 * options=-csearch_path=..., and drops it afterwards: the role mtm owns its
 * database but may not CREATE DATABASE, and a schema is just as fresh for
 * migrations that name no schema. The migration files are those of
 * MTM_SQL_DIR, copied into a temporary folder when a test adds a broken one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate.h"

static const char *base_url, *sql_dir;

struct scratch {
    char schema[64];
    char url[4096 + 128];
    struct mtm_pg admin; /* on the base URL: creates and drops the schema */
};

/* The versions of the migration files in dir, sorted; returns the count. */
static int versions_in(const char *dir, int *out, int max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v;
        if (mtm_migrate_parse_name(e->d_name, &v) == 0) {
            assert_true(n < max);
            out[n++] = v;
        }
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (out[j] < out[i]) {
                int t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
    return n;
}

static int scratch_setup(void **state)
{
    static int seq;
    struct scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    /* Only [a-z0-9_]: safe to place in DDL as is. */
    snprintf(s->schema, sizeof(s->schema), "itest_migrate_%ld_%d", (long)getpid(), ++seq);
    snprintf(s->url, sizeof(s->url), "%s%coptions=-csearch_path%%3D%s", base_url,
             strchr(base_url, '?') ? '&' : '?', s->schema);
    mtm_pg_init(&s->admin, base_url, 5);
    char sql[256], err[512];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", s->schema);
    if (mtm_pg_exec_fixed(&s->admin, sql, err, sizeof(err))) {
        fprintf(stderr, "itest_migrate: %s: %s\n", sql, err);
        mtm_pg_cleanup(&s->admin);
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int scratch_teardown(void **state)
{
    struct scratch *s = *state;
    char sql[256], err[512];
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", s->schema);
    int rc = mtm_pg_exec_fixed(&s->admin, sql, err, sizeof(err));
    if (rc)
        fprintf(stderr, "itest_migrate: %s: %s\n", sql, err);
    mtm_pg_cleanup(&s->admin);
    free(s);
    return rc ? -1 : 0;
}

/* Runs one query on a fresh connection to the scratch schema; returns the
 * first column of each row joined by ','. */
static void query(const struct scratch *s, const char *sql, char *out, size_t outlen)
{
    struct mtm_pg pg;
    char err[512];
    mtm_pg_init(&pg, s->url, 5);
    int rc = mtm_pg_connect(&pg, err, sizeof(err));
    if (rc)
        print_message("connect: %s\n", err);
    assert_int_equal(rc, 0);
    PGresult *r = PQexec(pg.conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_message("%s: %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        mtm_pg_cleanup(&pg);
        fail();
    }
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
    }
    PQclear(r);
    mtm_pg_cleanup(&pg);
}

static void versions_text(const int *v, int n, char *out, size_t outlen)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%d", i ? "," : "", v[i]);
    }
}

static int migrate(const struct scratch *s, const char *dir, int *applied, char *err, size_t errlen)
{
    struct mtm_pg pg;
    mtm_pg_init(&pg, s->url, 5);
    err[0] = '\0';
    int rc = mtm_migrate(&pg, dir, NULL, applied, err, errlen);
    mtm_pg_cleanup(&pg);
    return rc;
}

static void test_fresh_schema_applies_all_then_nothing(void **state)
{
    struct scratch *s = *state;
    int want[MTM_MIGRATE_MAX_FILES];
    int n = versions_in(sql_dir, want, MTM_MIGRATE_MAX_FILES);
    assert_true(n > 0);
    char want_text[8192], got[8192], err[1024];
    versions_text(want, n, want_text, sizeof(want_text));

    int applied = -1;
    int rc = migrate(s, sql_dir, &applied, err, sizeof(err));
    if (rc)
        print_message("migrate: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(applied, n);
    query(s, "SELECT version FROM schema_migrations ORDER BY version", got, sizeof(got));
    assert_string_equal(got, want_text);
    /* It all landed in the scratch schema. */
    query(s, "SELECT current_schema()", got, sizeof(got));
    assert_string_equal(got, s->schema);
    query(s,
          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
          " AND tablename = 'schema_migrations'",
          got, sizeof(got));
    assert_string_equal(got, "1");

    /* The second run finds nothing to do. */
    applied = -1;
    rc = migrate(s, sql_dir, &applied, err, sizeof(err));
    if (rc)
        print_message("second migrate: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(applied, 0);
    query(s, "SELECT version FROM schema_migrations ORDER BY version", got, sizeof(got));
    assert_string_equal(got, want_text);
}

struct runner {
    const struct scratch *s;
    pthread_barrier_t *start;
    int rc, applied;
    char err[1024];
};

static void *run_one(void *arg)
{
    struct runner *r = arg;
    struct mtm_pg pg;
    mtm_pg_init(&pg, r->s->url, 5);
    pthread_barrier_wait(r->start);
    r->rc = mtm_migrate(&pg, sql_dir, NULL, &r->applied, r->err, sizeof(r->err));
    mtm_pg_cleanup(&pg);
    return NULL;
}

static void test_concurrent_runners_apply_each_once(void **state)
{
    struct scratch *s = *state;
    int want[MTM_MIGRATE_MAX_FILES];
    int n = versions_in(sql_dir, want, MTM_MIGRATE_MAX_FILES);
    char want_text[8192], got[8192];
    versions_text(want, n, want_text, sizeof(want_text));

    enum { RUNNERS = 4 };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RUNNERS);
    struct runner r[RUNNERS];
    pthread_t t[RUNNERS];
    for (int i = 0; i < RUNNERS; i++) {
        r[i] = (struct runner){.s = s, .start = &start, .applied = -1};
        assert_int_equal(pthread_create(&t[i], NULL, run_one, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < RUNNERS; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc)
            print_message("runner %d: %s\n", i, r[i].err);
        assert_int_equal(r[i].rc, 0);
        total += r[i].applied;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(total, n); /* each file applied by exactly one runner */
    query(s,
          "SELECT count(*) = count(DISTINCT version) AND count(*) = " /* no duplicates */
          "(SELECT count(*) FROM schema_migrations) FROM schema_migrations",
          got, sizeof(got));
    assert_string_equal(got, "t");
    query(s, "SELECT version FROM schema_migrations ORDER BY version", got, sizeof(got));
    assert_string_equal(got, want_text);
}

/* Copies the migrations of sql_dir into a new temporary folder. */
static void copy_sql_dir(char *tmp, size_t tmplen)
{
    snprintf(tmp, tmplen, "/tmp/itest-migrate-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    DIR *d = opendir(sql_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int v;
        if (mtm_migrate_parse_name(e->d_name, &v))
            continue;
        char src[4096], dst[4096];
        snprintf(src, sizeof(src), "%s/%s", sql_dir, e->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", tmp, e->d_name);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        assert_non_null(in);
        assert_non_null(out);
        char buf[8192];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), in)) > 0)
            assert_int_equal(fwrite(buf, 1, k, out), k);
        fclose(in);
        assert_int_equal(fclose(out), 0);
    }
    closedir(d);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void test_broken_migration_leaves_nothing(void **state)
{
    struct scratch *s = *state;
    int want[MTM_MIGRATE_MAX_FILES];
    int n = versions_in(sql_dir, want, MTM_MIGRATE_MAX_FILES);
    char want_text[8192], got[8192], err[1024], tmp[64];
    versions_text(want, n, want_text, sizeof(want_text));
    copy_sql_dir(tmp, sizeof(tmp));

    /* Its first statement succeeds, its second fails: the table of the
     * first must not survive, and the version must not be recorded. */
    write_file(tmp, "9999_itest_broken.sql",
               "CREATE TABLE itest_partial (id int);\n"
               "INSERT INTO itest_partial VALUES (1);\n"
               "SELECT itest_no_such_function();\n");
    int applied = -1;
    int rc = migrate(s, tmp, &applied, err, sizeof(err));
    print_message("broken: rc %d: %s\n", rc, err);
    assert_int_equal(rc, MTM_EDB);
    assert_contains(err, "9999_itest_broken.sql");
    assert_contains(err, "itest_no_such_function");
    assert_int_equal(applied, n); /* the good ones before it went in */
    query(s, "SELECT version FROM schema_migrations ORDER BY version", got, sizeof(got));
    assert_string_equal(got, want_text);
    query(s,
          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
          " AND tablename = 'itest_partial'",
          got, sizeof(got));
    assert_string_equal(got, "0");

    /* Running again fails the same way and changes nothing. */
    rc = migrate(s, tmp, &applied, err, sizeof(err));
    assert_int_equal(rc, MTM_EDB);
    assert_int_equal(applied, 0);

    /* Once fixed, it applies alone. */
    write_file(tmp, "9999_itest_broken.sql", "CREATE TABLE itest_partial (id int);\n");
    rc = migrate(s, tmp, &applied, err, sizeof(err));
    if (rc)
        print_message("fixed: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(applied, 1);
    query(s, "SELECT count(*) FROM schema_migrations WHERE version = 9999", got, sizeof(got));
    assert_string_equal(got, "1");
    query(s,
          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
          " AND tablename = 'itest_partial'",
          got, sizeof(got));
    assert_string_equal(got, "1");
    remove_dir(tmp);
}

static void test_syntax_error_midway(void **state)
{
    struct scratch *s = *state;
    char err[1024], got[256], tmp[64];
    snprintf(tmp, sizeof(tmp), "/tmp/itest-migrate-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    write_file(tmp, "0001_first.sql", "CREATE TABLE itest_first (id int);\n");
    write_file(tmp, "0002_second.sql",
               "CREATE TABLE itest_second (id int);\nCREATE TABLE itest_third (;\n");
    write_file(tmp, "0003_never.sql", "CREATE TABLE itest_never (id int);\n");
    int applied = -1;
    int rc = migrate(s, tmp, &applied, err, sizeof(err));
    assert_int_equal(rc, MTM_EDB);
    assert_contains(err, "0002_second.sql");
    assert_int_equal(applied, 1);
    query(s, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations", got,
          sizeof(got));
    assert_string_equal(got, "1");
    query(s,
          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN "
          "('itest_second', 'itest_third', 'itest_never')",
          got, sizeof(got));
    assert_string_equal(got, "0");
    /* The advisory lock was released: another run does not wait forever. */
    rc = migrate(s, tmp, &applied, err, sizeof(err));
    assert_int_equal(rc, MTM_EDB);
    remove_dir(tmp);
}

int main(void)
{
    base_url = getenv("MTM_PG_URL");
    sql_dir = getenv("MTM_SQL_DIR");
    if (!base_url || !*base_url || !sql_dir || !*sql_dir) {
        printf("itest_migrate: SKIP: MTM_PG_URL and MTM_SQL_DIR must be set "
               "(the integration harness sets them)\n");
        return 77;
    }
    mtm_log_set_level(MTM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_schema_applies_all_then_nothing, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_runners_apply_each_once, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_broken_migration_leaves_nothing, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_midway, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
