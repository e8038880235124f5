#include "version.h"

#include <string.h>

#ifndef MTM_VERSION
#define MTM_VERSION "0.0.0"
#endif
#ifndef MTM_REVISION
#define MTM_REVISION "unknown"
#endif

const char *mtm_version(void)
{
    return MTM_VERSION;
}

const char *mtm_revision(void)
{
    return MTM_REVISION;
}

int mtm_version_args(int argc, char **argv, const char *prog, const char *usage, FILE *out,
                     FILE *err)
{
    if (argc <= 1)
        return -1;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        fprintf(out, "%s %s (revision %s)\n", prog, mtm_version(), mtm_revision());
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fprintf(out,
                "usage: %s [--version | --help]\n%s\n"
                "Settings come from MTM_* environment variables (README.md, "
                "\"Configuration\").\n",
                prog, usage);
        return 0;
    }
    fprintf(err, "%s: unexpected argument '%s' (try --help)\n", prog, argv[1]);
    return 2;
}
