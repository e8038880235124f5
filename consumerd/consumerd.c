/*
 * consumerd: the long-lived consumer daemon (entry point).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 for a
 * configuration error (one line on stderr naming the variable).
 */
#include <stdio.h>

#include "version.h"
#include "daemon.h"

int main(int argc, char **argv)
{
    struct mtm_config cfg;
    struct consumerd d;
    char err[512];
    int args = mtm_version_args(
        argc, argv, "consumerd",
        "The consumer daemon: every tenant's worker pool, retries, dead letters, metrics.", stdout,
        stderr);

    if (args >= 0)
        return args;

    if (mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err))) {
        fprintf(stderr, "consumerd: %s\n", err);
        return 2;
    }
    mtm_log_set_level(cfg.log_level);
    int rc = consumerd_init(&d, &cfg);
    if (!rc) {
        rc = consumerd_run(&d);
        consumerd_cleanup(&d);
    }
    mtm_config_cleanup(&cfg);
    return rc ? 1 : 0;
}
