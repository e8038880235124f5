/* migrate: see migrate.h. */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int mtm_migrate_parse_name(const char *name, int *version)
{
    size_t n = strlen(name);
    if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
        return MTM_EINVAL;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return MTM_EINVAL;
        v = v * 10 + (name[i] - '0');
    }
    for (size_t i = 5; i < n - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return MTM_EINVAL;
    }
    if (v == 0)
        return MTM_EINVAL;
    *version = v;
    return 0;
}

struct migration {
    int version;
    char *name;
};

static int by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static void free_list(struct migration *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].name);
    free(list);
}

static int list_dir(const char *dir, struct migration **out, size_t *count, char *err,
                    size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "migrations folder %s: %s", dir, strerror(errno));
        return MTM_EIO;
    }
    struct migration *list = xcalloc(MTM_MIGRATE_MAX_FILES, sizeof(*list));
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int v;
        if (mtm_migrate_parse_name(e->d_name, &v)) {
            size_t len = strlen(e->d_name);
            /* Only .sql files are migrations; other files (docs) may live beside. */
            if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0) {
                snprintf(err, errlen, "migration %s: name must be NNNN_lowercase_name.sql",
                         e->d_name);
                rc = MTM_EINVAL;
                break;
            }
            continue;
        }
        if (n == MTM_MIGRATE_MAX_FILES) {
            snprintf(err, errlen, "more than %d migrations", MTM_MIGRATE_MAX_FILES);
            rc = MTM_EINVAL;
            break;
        }
        list[n].version = v;
        list[n].name = xstrdup(e->d_name);
        n++;
    }
    closedir(d);
    if (!rc) {
        qsort(list, n, sizeof(*list), by_version);
        for (size_t i = 1; i < n; i++) {
            if (list[i].version == list[i - 1].version) {
                snprintf(err, errlen, "migrations %s and %s share a version", list[i - 1].name,
                         list[i].name);
                rc = MTM_EINVAL;
                break;
            }
        }
    }
    if (rc) {
        free_list(list, n);
        return rc;
    }
    *out = list;
    *count = n;
    return 0;
}

static char *read_file(const char *dir, const char *name, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) {
        snprintf(err, errlen, "migration %s: %s", name, strerror(errno));
        return NULL;
    }
    char *text = xmalloc(MTM_MIGRATE_MAX_FILE_BYTES + 1);
    size_t n = fread(text, 1, MTM_MIGRATE_MAX_FILE_BYTES + 1, f);
    int bad = ferror(f) || n > MTM_MIGRATE_MAX_FILE_BYTES;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "migration %s: unreadable or over %d bytes", name,
                 MTM_MIGRATE_MAX_FILE_BYTES);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* Runs text with PQexec; the text is one of our own migration files. */
static int exec_text(struct mtm_pg *pg, const char *text, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg->conn, text);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = mtm_pg_classify(pg, r, err, errlen);
    PQclear(r);
    return rc;
}

static int exec_params(struct mtm_pg *pg, const char *sql, int n, const char *const *params,
                       PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = mtm_pg_classify(pg, r, err, errlen);
        PQclear(r);
        return rc ? rc : MTM_EDB; /* a failure is never 0, whatever classify says */
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static int apply_one(struct mtm_pg *pg, const char *dir, const struct migration *m, char *err,
                     size_t errlen)
{
    char *text = read_file(dir, m->name, err, errlen);
    if (!text)
        return MTM_EIO;
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[] = {version, m->name};
    char detail[512];

    int rc = exec_text(pg, "BEGIN", err, errlen);
    if (!rc) {
        rc = exec_text(pg, text, detail, sizeof(detail));
        if (rc)
            snprintf(err, errlen, "migration %s: %s", m->name, detail);
    }
    if (!rc)
        rc = exec_params(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                         params, NULL, err, errlen);
    if (!rc)
        rc = exec_text(pg, "COMMIT", err, errlen);
    if (rc && pg->conn) {
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
    free(text);
    return rc;
}

static int applied_set(struct mtm_pg *pg, const struct migration *list, size_t n, char *done,
                       char *err, size_t errlen)
{
    PGresult *r;
    int rc = exec_params(pg, "SELECT version FROM schema_migrations", 0, NULL, &r, err, errlen);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples(r); row++) {
        int v = (int)strtol(PQgetvalue(r, row, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (list[i].version == v)
                done[i] = 1;
    }
    PQclear(r);
    return 0;
}

int mtm_migrate(struct mtm_pg *pg, const char *dir, const struct mtm_log_ctx *log, int *applied,
                char *err, size_t errlen)
{
    struct migration *list = NULL;
    size_t n = 0;
    int count = 0;
    char key[16];
    snprintf(key, sizeof(key), "%d", MTM_MIGRATE_LOCK_KEY);
    const char *lock_params[] = {key};

    if (applied)
        *applied = 0;
    int rc = list_dir(dir, &list, &n, err, errlen);
    if (rc)
        return rc;
    rc = mtm_pg_connect(pg, err, errlen);
    if (!rc)
        rc = exec_params(pg, "SELECT pg_advisory_lock($1::bigint)", 1, lock_params, NULL, err,
                         errlen);
    if (rc) {
        free_list(list, n);
        return rc;
    }
    rc = exec_text(pg,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   err, errlen);
    char *done = xcalloc(n ? n : 1, 1);
    if (!rc)
        rc = applied_set(pg, list, n, done, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        if (done[i])
            continue;
        rc = apply_one(pg, dir, &list[i], err, errlen);
        if (!rc) {
            count++;
            LOG_INFO(log, "applied migration %s", list[i].name);
        }
    }
    if (pg->conn) {
        char ignored[256];
        /* A failed unlock only happens when the connection is gone, which
         * releases the lock anyway. */
        (void)exec_params(pg, "SELECT pg_advisory_unlock($1::bigint)", 1, lock_params, NULL,
                          ignored, sizeof(ignored));
    }
    free(done);
    free_list(list, n);
    if (applied)
        *applied = count;
    return rc;
}
