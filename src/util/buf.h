/* A growable byte buffer, always NUL-terminated (like git's strbuf). */
#ifndef BATON_UTIL_BUF_H
#define BATON_UTIL_BUF_H

#include <stddef.h>

struct buf {
	char *p; /* NULL until the first append; buf_cstr() never returns NULL */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
const char *buf_cstr(const struct buf *b);
/* Hand the string to the caller (who frees it); the buffer is left empty. */
char *buf_detach(struct buf *b);

#endif
