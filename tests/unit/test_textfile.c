/*
 * test_textfile: writing a file atomically (lib/textfile.c).
 *
 * In a temporary folder: the file appears with exactly the bytes given
 * (NULs and a megabyte included), replaces an older one, and leaves no
 * temporary file behind, whether it succeeded or failed. Failures (no
 * folder, a folder where the file should go, a write cut short by
 * RLIMIT_FSIZE) are MTM_EIO with the step and the path in err, and leave
 * the previous file as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "textfile.h"

/* Entries of dir other than . and .. */
static int entries(void)
{
    int n = 0;
    DIR *d = opendir(test_dir());
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The file's contents (the caller frees them) and length. */
static char *slurp(const char *name, size_t *len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", test_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    assert_int_equal(fstat(fileno(f), &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    assert_int_equal(*len, (size_t)st.st_size);
    fclose(f);
    return buf;
}

static void expect_file(const char *name, const char *want, size_t wantlen)
{
    size_t len;
    char *got = slurp(name, &len);
    assert_non_null(got);
    assert_int_equal(len, wantlen);
    if (wantlen)
        assert_memory_equal(got, want, wantlen);
    free(got);
}

static void test_write_and_replace(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "one\n", 4, err, sizeof(err)), 0);
    expect_file("a.prom", "one\n", 4);
    assert_int_equal(entries(), 1);
    /* Binary-safe: len counts, not NUL. */
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "t\0o", 3, err, sizeof(err)), 0);
    expect_file("a.prom", "t\0o", 3);
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "", 0, err, sizeof(err)), 0);
    expect_file("a.prom", "", 0);
    assert_int_equal(entries(), 1);
    assert_string_equal(err, "");
}

static void test_large(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    char err[256] = "";
    assert_int_equal(mtm_textfile_write(test_dir(), "big", big, n, err, sizeof(err)), 0);
    expect_file("big", big, n);
    free(big);
}

static void test_missing_folder(void **state)
{
    (void)state;
    char missing[128], err[256] = "";
    snprintf(missing, sizeof(missing), "%s/nope", test_dir());
    assert_int_equal(mtm_textfile_write(missing, "a.prom", "x", 1, err, sizeof(err)), MTM_EIO);
    assert_contains(err, "textfile: open ");
    assert_contains(err, missing);
    assert_int_equal(entries(), 0);
}

/* Remove: the file goes and *removed says so; a second remove (or one in a
 * missing folder) is no error and says nothing was there; a name that
 * cannot be unlinked (a non-empty folder) is MTM_EIO naming it. */
static void test_remove(void **state)
{
    (void)state;
    char err[256] = "", missing[128], sub[128], inner[160];
    bool removed = false;
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "x", 1, err, sizeof(err)), 0);
    assert_int_equal(mtm_textfile_remove(test_dir(), "a.prom", &removed, err, sizeof(err)), 0);
    assert_true(removed);
    assert_int_equal(entries(), 0);
    assert_int_equal(mtm_textfile_remove(test_dir(), "a.prom", &removed, err, sizeof(err)), 0);
    assert_false(removed);
    snprintf(missing, sizeof(missing), "%s/nope", test_dir());
    assert_int_equal(mtm_textfile_remove(missing, "a.prom", NULL, err, sizeof(err)), 0);
    snprintf(sub, sizeof(sub), "%s/d.prom", test_dir());
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(inner, sizeof(inner), "%s/keep", sub);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(mtm_textfile_remove(test_dir(), "d.prom", &removed, err, sizeof(err)),
                     MTM_EIO);
    assert_false(removed);
    assert_contains(err, "textfile: remove ");
    assert_contains(err, sub);
    unlink(inner);
}

/* rename() cannot replace a folder: the old "file" stays, no temp is left. */
static void test_rename_failure(void **state)
{
    (void)state;
    char sub[128], err[256] = "";
    snprintf(sub, sizeof(sub), "%s/a.prom", test_dir());
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "x", 1, err, sizeof(err)), MTM_EIO);
    assert_contains(err, "textfile: rename to ");
    assert_contains(err, sub);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(entries(), 1);
}

/* A write cut short (here by a file size limit, as a full disk would):
 * MTM_EIO, the old file intact, no temporary file left. */
static void test_write_failure(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(mtm_textfile_write(test_dir(), "a.prom", "old\n", 4, err, sizeof(err)), 0);

    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 16;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    char text[64];
    memset(text, 'n', sizeof(text));
    int rc = mtm_textfile_write(test_dir(), "a.prom", text, sizeof(text), err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(rc, MTM_EIO);
    assert_contains(err, "textfile: write ");
    expect_file("a.prom", "old\n", 4);
    assert_int_equal(entries(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_replace, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_large, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_folder, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_rename_failure, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_remove, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
