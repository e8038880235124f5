/*
 * xalloc: allocation wrappers that abort on out-of-memory.
 *
 * mtm treats running out of memory as fatal (as lighttpd and redis do): a
 * daemon that cannot allocate a few bytes cannot make progress either, and
 * checking every allocation hides the real error paths. These wrappers never
 * return NULL; ordinary code calls them and does not test the result.
 */
#ifndef MTM_XALLOC_H
#define MTM_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a new heap string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
