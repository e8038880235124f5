/*
 * textfile: writing a Prometheus textfile (or any small file) atomically.
 *
 * The text goes to a temporary file in the same folder, is fsync'd and
 * renamed over dir/name, so a reader (node_exporter's textfile collector)
 * sees the old file or the new one, never half of one.
 */
#ifndef MTM_TEXTFILE_H
#define MTM_TEXTFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

int mtm_textfile_write(const char *dir, const char *name, const char *text, size_t len, char *err,
                       size_t errlen) MTM_MUST_CHECK;

/* Removes dir/name; a file that is not there is no error. *removed (when
 * not NULL) says whether there was one. */
int mtm_textfile_remove(const char *dir, const char *name, bool *removed, char *err,
                        size_t errlen) MTM_MUST_CHECK;

#endif
