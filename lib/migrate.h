/*
 * migrate: applies sql/NNNN_name.sql files in order, once each.
 *
 * Applied versions are recorded in schema_migrations. Each file runs in its
 * own transaction together with its record, so a failing file leaves nothing
 * behind. A session-level advisory lock serialises concurrent runners (two
 * processes starting at once): the second waits, then finds nothing to do.
 * File names must be four digits, '_', lowercase name, ".sql"; anything else
 * in the folder is an error rather than silently skipped, and a version may
 * not appear twice.
 */
#ifndef MTM_MIGRATE_H
#define MTM_MIGRATE_H

#include <stddef.h>

#include "err.h"
#include "log.h"
#include "pg.h"

#define MTM_MIGRATE_LOCK_KEY 0x6d746d01 /* "mtm" + 1 */
#define MTM_MIGRATE_MAX_FILES 1000
#define MTM_MIGRATE_MAX_FILE_BYTES (1024 * 1024)

/* Applies what is missing; *applied (may be NULL) gets the count applied. */
int mtm_migrate(struct mtm_pg *pg, const char *dir, const struct mtm_log_ctx *log, int *applied,
                char *err, size_t errlen) MTM_MUST_CHECK;

/* Checks a migration file name; stores its version. Exposed for tests. */
int mtm_migrate_parse_name(const char *name, int *version) MTM_MUST_CHECK;

#endif
