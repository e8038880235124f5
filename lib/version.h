/*
 * version: what every binary prints for --version.
 *
 * MTM_VERSION is the Makefile's VERSION, MTM_REVISION the git revision the
 * binary was built from (`git describe --always --dirty`, or what the image
 * build passes); both are compiled into lib/version.c alone, which make
 * rebuilds whenever either changes.
 */
#ifndef MTM_VERSION_H
#define MTM_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *mtm_version(void);
/* "0f9aa93f2575", "0f9aa93f2575-dirty" or "unknown" */
const char *mtm_revision(void);

/*
 * The command line of a program that takes no arguments but --version and
 * --help: prints to out and returns 0 when main should exit 0 at once,
 * returns 2 (after a line on err) for anything else it was given, -1 when
 * there were no arguments and the program should run. usage is one line
 * saying what the program does.
 */
int mtm_version_args(int argc, char **argv, const char *prog, const char *usage, FILE *out,
                     FILE *err);

#endif
