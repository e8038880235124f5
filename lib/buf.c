/* buf: see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void mtm_buf_init(struct mtm_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->limit = limit;
}

void mtm_buf_cleanup(struct mtm_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void mtm_buf_reset(struct mtm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void reserve(struct mtm_buf *b, size_t need)
{
    if (need + 1 <= b->alloc)
        return;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need + 1)
        n *= 2;
    b->data = xrealloc(b->data, n);
    b->alloc = n;
}

int mtm_buf_append(struct mtm_buf *b, const void *data, size_t n)
{
    if (n > b->limit - b->len)
        return MTM_ETOOBIG;
    reserve(b, b->len + n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mtm_buf_puts(struct mtm_buf *b, const char *s)
{
    return mtm_buf_append(b, s, strlen(s));
}

int mtm_buf_printf(struct mtm_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return MTM_EINTERNAL;
    if ((size_t)n < sizeof(small))
        return mtm_buf_append(b, small, (size_t)n);
    if ((size_t)n > b->limit - b->len)
        return MTM_ETOOBIG;
    reserve(b, b->len + (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *mtm_buf_cstr(const struct mtm_buf *b)
{
    return b->data ? b->data : "";
}

char *mtm_buf_steal(struct mtm_buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
