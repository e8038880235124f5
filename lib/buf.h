/*
 * buf: a growable byte buffer with a hard cap fixed at creation.
 *
 * Every buffer that grows from input (request bodies, AMQP bodies, rendered
 * responses) is a struct mtm_buf whose limit is set by mtm_buf_init; an append
 * that would cross the limit fails with MTM_ETOOBIG and leaves the buffer as
 * it was. The data is always NUL-terminated (the NUL is not counted in len,
 * nor against the limit).
 */
#ifndef MTM_BUF_H
#define MTM_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct mtm_buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the NUL */
    size_t alloc; /* bytes allocated */
    size_t limit; /* hard cap on len */
};

void mtm_buf_init(struct mtm_buf *b, size_t limit);
void mtm_buf_cleanup(struct mtm_buf *b);
void mtm_buf_reset(struct mtm_buf *b); /* len = 0; keeps memory */
int mtm_buf_append(struct mtm_buf *b, const void *data, size_t n) MTM_MUST_CHECK;
int mtm_buf_puts(struct mtm_buf *b, const char *s) MTM_MUST_CHECK;
int mtm_buf_printf(struct mtm_buf *b, const char *fmt, ...) MTM_MUST_CHECK
    __attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" when empty); borrowed. */
const char *mtm_buf_cstr(const struct mtm_buf *b);
/* Hands the contents to the caller (who frees them) and empties b. */
char *mtm_buf_steal(struct mtm_buf *b);

#endif
