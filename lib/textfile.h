/*
 * textfile: writing a Prometheus textfile (or any small file) atomically.
 *
 * The text goes to a temporary file in the same folder, is fsync'd and
 * renamed over dir/name, so a reader (node_exporter's textfile collector)
 * sees the old file or the new one, never half of one.
 */
#ifndef MTM_TEXTFILE_H
#define MTM_TEXTFILE_H

#include <stddef.h>

#include "err.h"

int mtm_textfile_write(const char *dir, const char *name, const char *text, size_t len, char *err,
                       size_t errlen) MTM_MUST_CHECK;

#endif
