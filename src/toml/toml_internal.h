/* Internals shared by the TOML parser's files; not for users of toml.h.
 *
 * toml_lex.c      the cursor over the bytes: positions, errors, encoding check, whitespace,
 *                 comments, newlines, bare keys and the four kinds of strings
 * toml_scalar.c   numbers and booleans (and dispatch of date/time tokens)
 * toml_datetime.c dates and times: parsing with range checks, formatting
 * toml_parse.c    the grammar: expressions, headers, values, and the redefinition rules
 * toml_tree.c     tables (with a key index), arrays, freeing, lookups */
#ifndef BATON_TOML_INTERNAL_H
#define BATON_TOML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toml/toml.h"
#include "util/buf.h"

/* struct toml_table.flags: how a table came to exist, which decides what may extend it. */
enum {
	TOML_TF_DEFINED = 1u << 0, /* by its own [header] */
	TOML_TF_IMPLICIT =
		1u << 1, /* as a parent in a header ([a.b] creates a); may be defined later */
	TOML_TF_DOTTED = 1u << 2, /* by (or extended through) dotted keys: a.b = 1 creates a */
	TOML_TF_INLINE = 1u << 3, /* an inline table { ... }: sealed once closed */
};

/* struct toml_array.flags */
enum {
	TOML_AF_TABLES = 1u << 0, /* an array of tables built by [[header]]s; others are static */
};

/* The cursor. Errors: the first one is kept in *err and every function returns -1 from then on
 * up the call chain; nothing is reported twice. */
struct toml_lex {
	const char *s;
	size_t len;
	size_t off;
	uint32_t line;	   /* 1-based line of s[off] */
	size_t line_start; /* offset where that line starts */
	struct toml_error *err;
};

void toml_lex_init(struct toml_lex *lx, const char *s, size_t len, struct toml_error *err);
struct toml_pos toml_lex_pos(const struct toml_lex *lx);
/* Fill the error (lowercase message, no final period) and return -1. */
int toml_lex_fail(struct toml_lex *lx, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write s[0..n) to out in quotes, printable and cut short if long ("'a\x01b'"). */
void toml_quote(char *out, size_t size, const char *s, size_t n);
/* Describe the character at the cursor for a message: "'x'", "end of line", "end of file". */
const char *toml_lex_what(const struct toml_lex *lx, char *buf, size_t size);

static inline int toml_lex_peek(const struct toml_lex *lx)
{
	return lx->off < lx->len ? (unsigned char)lx->s[lx->off] : -1;
}

static inline int toml_lex_peek_at(const struct toml_lex *lx, size_t k)
{
	return lx->off + k < lx->len ? (unsigned char)lx->s[lx->off + k] : -1;
}

/* Whole-document checks done first: valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF) and no carriage return outside a CRLF pair. Skips a leading UTF-8 BOM. */
int toml_lex_check_encoding(struct toml_lex *lx);
void toml_lex_skip_ws(struct toml_lex *lx);
/* At '#': skip the comment up to (not including) the newline; control characters fail. */
int toml_lex_comment(struct toml_lex *lx);
/* Consume one "\n" or "\r\n"; false if there is none here. */
bool toml_lex_newline(struct toml_lex *lx);
/* Skip whitespace, comments and newlines (inside arrays). */
int toml_lex_skip_blank(struct toml_lex *lx);
bool toml_is_bare_key_char(int c);
/* One key part: a bare key or a single-line quoted string, decoded into out (reset first). */
int toml_lex_key_part(struct toml_lex *lx, struct buf *out);
/* At a quote: any of the four string forms (multi-line only if allow_multi), decoded. */
int toml_lex_string(struct toml_lex *lx, struct buf *out, bool allow_multi);

/* At a character that can start a number, boolean or date/time: scan and convert it. */
int toml_scan_scalar(struct toml_lex *lx, struct toml_value *out);
bool toml_is_scalar_char(int c);

/* Parse a whole date/time token; *type is one of the four date/time types. Returns 0, or
 * -EINVAL with a fresh short reason in *err (the caller frees; err may be NULL). */
int toml_datetime_parse(const char *s, size_t n, enum toml_type *type, struct toml_datetime *dt,
			char **err);

struct toml_table *toml_table_new(unsigned flags);
struct toml_kv *toml_table_find(struct toml_table *t, const char *key, size_t keylen);
/* Append a key (ownership of key passes to the table) with a zeroed value; the caller fills it.
 * The pointer is valid until the next add to the same table. The key must not be present. */
struct toml_kv *toml_table_add(struct toml_table *t, char *key, size_t keylen,
			       struct toml_pos key_pos);
/* Append a copy of *v (the array takes over what v owns). */
void toml_array_push(struct toml_array *a, const struct toml_value *v);
/* Free what v owns (not v itself) and leave it an empty table-less value. */
void toml_value_release(struct toml_value *v);

#endif
