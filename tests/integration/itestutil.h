/*
 * itestutil: what the C integration programs share (include after
 * <cmocka.h> and pg.h).
 */
#ifndef MTM_ITESTUTIL_H
#define MTM_ITESTUTIL_H

/* Runs fixed SQL and expects success, printing the error otherwise. */
static inline void exec_ok(struct mtm_pg *pg, const char *sql)
{
    char err[512] = "";
    int rc = mtm_pg_exec_fixed(pg, sql, err, sizeof(err));
    if (rc)
        print_message("%s: %s\n", sql, err);
    assert_int_equal(rc, 0);
}

#endif
