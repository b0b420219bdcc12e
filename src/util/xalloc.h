/* Allocation helpers: baton treats out-of-memory as fatal (like git's xmalloc), so callers
 * never carry OOM error paths. Every x* function aborts with a message on failure. */
#ifndef BATON_UTIL_XALLOC_H
#define BATON_UTIL_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array so that index `need - 1` fits; *cap is updated. */
void *xgrow(void *p, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
