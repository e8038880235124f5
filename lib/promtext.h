/*
 * promtext: merging Prometheus text expositions family by family.
 *
 * Several processes of one kind (every consumerd sharing a metrics folder)
 * write files with the same metric families. The text format wants each
 * family once: one HELP and TYPE, then all its samples together. A merge
 * takes the files' texts in turn and keeps, per family, the first file's
 * HELP and TYPE and every file's samples, in the order the families first
 * appeared. Families are told apart by their "# HELP name" line (what
 * every writer of these files puts first); samples before any HELP, and
 * comments other than HELP and TYPE, are kept in a family of their own.
 */
#ifndef MTM_PROMTEXT_H
#define MTM_PROMTEXT_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct mtm_promtext_family;

struct mtm_promtext {
    struct mtm_promtext_family *families; /* owned */
    size_t n, cap;
    size_t limit; /* bytes of all families together */
    size_t len;
};

void mtm_promtext_init(struct mtm_promtext *m, size_t limit);
void mtm_promtext_cleanup(struct mtm_promtext *m);

/* Adds one exposition's text; MTM_ETOOBIG once the texts added together
 * would pass the limit (this one is then not added). */
int mtm_promtext_add(struct mtm_promtext *m, const char *text, size_t len) MTM_MUST_CHECK;

/* Appends the merged text to out. */
int mtm_promtext_render(const struct mtm_promtext *m, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
