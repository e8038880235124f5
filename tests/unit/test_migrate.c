/*
 * test_migrate: migration file names and the folder checks that run before
 * the database is contacted (lib/migrate.c). Applying migrations against a
 * real server is tests/integration/itest_migrate.c.
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
#include <sys/stat.h>
#include <unistd.h>

#include "migrate.h"

/* Nothing listens on port 1: a migration run that gets as far as connecting
 * fails with MTM_EUNAVAIL at once. */
#define NOWHERE_URL "postgresql://mtm:mtm@127.0.0.1:1/mtm"

static void test_accepted_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int version;
    } ok[] = {
        {"0001_tenants.sql", 1}, {"0002_messages.sql", 2}, {"0042_add_index_2.sql", 42},
        {"9999_last.sql", 9999}, {"0001_a.sql", 1},        {"1000_x_y_z.sql", 1000},
        {"0010_0.sql", 10},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int v = -1;
        int rc = mtm_migrate_parse_name(ok[i].name, &v);
        if (rc)
            print_message("refused %s\n", ok[i].name);
        assert_int_equal(rc, 0);
        assert_int_equal(v, ok[i].version);
    }
}

static void test_rejected_names(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        ".sql",
        "README.md",
        "0000_zero.sql",        /* version 0 */
        "001_short.sql",        /* three digits */
        "00001_long.sql",       /* five digits */
        "0001-dash.sql",        /* no underscore */
        "0001_Upper.sql",       /* uppercase */
        "0001_a.SQL",           /* extension case */
        "0001_.sql",            /* empty name */
        "0001_a.sql.bak",       /* not .sql */
        "0001_a.sql~",          /* editor backup */
        "abcd_name.sql",        /* not digits */
        "0001_a b.sql",         /* space */
        "0001_a-b.sql",         /* dash in name */
        "0001_a.b.sql",         /* dot in name */
        "0001_caf\xc3\xa9.sql", /* non-ASCII */
        "0001_a.sq",
        "0001_tenants",
        "-001_neg.sql",
        " 001_space.sql",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int v = -1;
        int rc = mtm_migrate_parse_name(bad[i], &v);
        if (rc != MTM_EINVAL)
            print_message("accepted \"%s\" as version %d\n", bad[i], v);
        assert_int_equal(rc, MTM_EINVAL);
        assert_int_equal(v, -1); /* untouched */
    }
}

/* ---- folder checks (no database needed) -------------------------------- */

static char dir[64];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mtm-migrate-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static void put_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int run_migrate(char *err, size_t errlen, int *applied)
{
    struct mtm_pg pg;
    mtm_pg_init(&pg, NOWHERE_URL, 1);
    err[0] = '\0';
    *applied = -1;
    int rc = mtm_migrate(&pg, dir, NULL, applied, err, errlen);
    mtm_pg_cleanup(&pg);
    return rc;
}

static void test_bad_name_in_folder(void **state)
{
    (void)state;
    char err[512];
    int applied;
    put_file("0001_ok.sql", "SELECT 1;");
    put_file("02_bad.sql", "SELECT 1;");
    assert_int_equal(run_migrate(err, sizeof(err), &applied), MTM_EINVAL);
    assert_contains(err, "02_bad.sql");
    assert_int_equal(applied, 0);
}

static void test_duplicate_version(void **state)
{
    (void)state;
    char err[512];
    int applied;
    put_file("0001_one.sql", "SELECT 1;");
    put_file("0001_uno.sql", "SELECT 1;");
    assert_int_equal(run_migrate(err, sizeof(err), &applied), MTM_EINVAL);
    assert_contains(err, "0001_one.sql");
    assert_contains(err, "0001_uno.sql");
}

static void test_other_files_ignored(void **state)
{
    (void)state;
    char err[512];
    int applied;
    /* A README and dot files are not migrations: the run gets as far as
     * connecting, which fails because nothing listens there. */
    put_file("README.md", "docs");
    put_file(".hidden.sql", "junk");
    put_file("0001_ok.sql", "SELECT 1;");
    assert_int_equal(run_migrate(err, sizeof(err), &applied), MTM_EUNAVAIL);
    assert_int_equal(applied, 0);
}

static void test_missing_folder(void **state)
{
    (void)state;
    char err[512];
    struct mtm_pg pg;
    mtm_pg_init(&pg, NOWHERE_URL, 1);
    int applied = -1;
    assert_int_equal(mtm_migrate(&pg, "/nonexistent/mtm-sql", NULL, &applied, err, sizeof(err)),
                     MTM_EIO);
    assert_contains(err, "/nonexistent/mtm-sql");
    assert_int_equal(applied, 0);
    mtm_pg_cleanup(&pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_names),
        cmocka_unit_test(test_rejected_names),
        cmocka_unit_test_setup_teardown(test_bad_name_in_folder, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_version, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_other_files_ignored, dir_setup, dir_teardown),
        cmocka_unit_test(test_missing_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
