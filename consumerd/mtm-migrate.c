/*
 * mtm-migrate: applies the SQL migrations in MTM_SQL_DIR and exits.
 *
 * consumerd applies them by itself at start; this tool is for operators
 * and deployment scripts. Exit status: 0 applied (or nothing to do), 1 on
 * failure, 2 for a configuration error.
 */
#include <stdio.h>

#include "version.h"
#include "config.h"
#include "migrate.h"
#include "pg.h"

int main(int argc, char **argv)
{
    struct mtm_config cfg;
    struct mtm_pg pg;
    struct mtm_log_ctx log = {.component = "mtm-migrate"};
    char err[512];
    int applied = 0;
    int args = mtm_version_args(
        argc, argv, "mtm-migrate",
        "Applies the SQL migrations in MTM_SQL_DIR to MTM_PG_URL and exits.", stdout, stderr);

    if (args >= 0)
        return args;

    if (mtm_config_load_env(&cfg, MTM_PROG_TOOL, err, sizeof(err))) {
        fprintf(stderr, "mtm-migrate: %s\n", err);
        return 2;
    }
    mtm_log_set_level(cfg.log_level);
    mtm_pg_init(&pg, cfg.pg_url, 5);
    mtm_pg_set_options(&pg, MTM_PG_OPTIONS_ALL_TENANTS);
    int rc = mtm_migrate(&pg, cfg.sql_dir, &log, &applied, err, sizeof(err));
    if (rc)
        LOG_ERROR(&log, "%s", err);
    else
        LOG_INFO(&log, "%d migration(s) applied", applied);
    mtm_pg_cleanup(&pg);
    mtm_config_cleanup(&cfg);
    return rc ? 1 : 0;
}
