/*
 * consumerd: the long-lived consumer daemon (entry point).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 for a
 * configuration error (one line on stderr naming the variable).
 */
#include <stdio.h>

#include "daemon.h"

int main(void)
{
    struct mtm_config cfg;
    struct consumerd d;
    char err[512];

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
