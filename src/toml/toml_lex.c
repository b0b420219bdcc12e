/* The TOML cursor: positions and errors, the encoding check, whitespace, comments, newlines,
 * bare keys and the four string forms with their escapes. */
#include "toml/toml_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void toml_lex_init(struct toml_lex *lx, const char *s, size_t len, struct toml_error *err)
{
	lx->s = s;
	lx->len = len;
	lx->off = 0;
	lx->line = 1;
	lx->line_start = 0;
	lx->err = err;
	err->pos.line = 0;
	err->pos.col = 0;
	err->msg[0] = '\0';
}

struct toml_pos toml_lex_pos(const struct toml_lex *lx)
{
	size_t col = lx->off - lx->line_start + 1;
	struct toml_pos p = {lx->line, col > UINT32_MAX ? UINT32_MAX : (uint32_t)col};
	return p;
}

int toml_lex_fail(struct toml_lex *lx, struct toml_pos pos, const char *fmt, ...)
{
	if (lx->err->msg[0])
		return -1; /* keep the first error */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lx->err->msg, sizeof(lx->err->msg), fmt, ap);
	va_end(ap);
	if (!lx->err->msg[0])
		snprintf(lx->err->msg, sizeof(lx->err->msg), "syntax error");
	lx->err->pos = pos;
	return -1;
}

/* Length of the UTF-8 sequence a (valid) lead byte starts. */
static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

void toml_quote(char *out, size_t size, const char *s, size_t n)
{
	const size_t max = 48;
	size_t o = 0, i = 0;

	if (size < 8) {
		if (size)
			out[0] = '\0';
		return;
	}
	out[o++] = '\'';
	while (i < n && o + 8 < size) {
		unsigned char c = (unsigned char)s[i];
		if (i >= max) {
			memcpy(out + o, "...", 3);
			o += 3;
			i = n;
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			out[o++] = (char)c;
			i++;
		} else {
			size_t k = utf8_len(c);
			if (i + k > n || o + k + 8 >= size)
				break;
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	if (i < n && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

const char *toml_lex_what(const struct toml_lex *lx, char *buf, size_t size)
{
	int c = toml_lex_peek(lx);
	if (c < 0)
		snprintf(buf, size, "end of file");
	else if (c == '\n' || (c == '\r' && toml_lex_peek_at(lx, 1) == '\n'))
		snprintf(buf, size, "end of line");
	else if (c < 0x20 || c == 0x7f)
		snprintf(buf, size, "control character U+%04X", (unsigned)c);
	else
		toml_quote(buf, size, lx->s + lx->off, utf8_len((unsigned char)c));
	return buf;
}

int toml_lex_check_encoding(struct toml_lex *lx)
{
	const unsigned char *s = (const unsigned char *)lx->s;
	size_t n = lx->len, i = 0, line_start = 0;
	uint32_t line = 1;

	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
		lx->off = lx->line_start = 3; /* columns count from after the BOM */
		i = line_start = 3;
	}
	while (i < n) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t k;
		if (c < 0x80) {
			if (c == '\n') {
				line++;
				line_start = i + 1;
			} else if (c == '\r' && (i + 1 >= n || s[i + 1] != '\n')) {
				struct toml_pos p = {line, (uint32_t)(i - line_start + 1)};
				return toml_lex_fail(lx, p,
						     "carriage return not followed by a newline");
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			goto bad;
		}
		if (i + k >= n)
			goto bad;
		if (s[i + 1] < lo || s[i + 1] > hi)
			goto bad;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				goto bad;
		i += k + 1;
		continue;
	bad:;
		struct toml_pos p = {line, (uint32_t)(i - line_start + 1)};
		return toml_lex_fail(lx, p, "invalid utf-8 (byte 0x%02x)", c);
	}
	return 0;
}

void toml_lex_skip_ws(struct toml_lex *lx)
{
	while (lx->off < lx->len && (lx->s[lx->off] == ' ' || lx->s[lx->off] == '\t'))
		lx->off++;
}

bool toml_lex_newline(struct toml_lex *lx)
{
	int c = toml_lex_peek(lx);
	if (c == '\r' && toml_lex_peek_at(lx, 1) == '\n')
		lx->off++;
	else if (c != '\n')
		return false;
	lx->off++;
	lx->line++;
	lx->line_start = lx->off;
	return true;
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

int toml_lex_comment(struct toml_lex *lx)
{
	lx->off++; /* '#' */
	for (;;) {
		int c = toml_lex_peek(lx);
		if (c < 0 || c == '\n' || (c == '\r' && toml_lex_peek_at(lx, 1) == '\n'))
			return 0;
		if (is_control(c))
			return toml_lex_fail(lx, toml_lex_pos(lx),
					     "control character U+%04X not allowed in comment",
					     (unsigned)c);
		lx->off++;
	}
}

int toml_lex_skip_blank(struct toml_lex *lx)
{
	for (;;) {
		toml_lex_skip_ws(lx);
		if (toml_lex_peek(lx) == '#') {
			if (toml_lex_comment(lx) < 0)
				return -1;
		}
		if (!toml_lex_newline(lx))
			return 0;
	}
}

bool toml_is_bare_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* At a backslash in a basic string. In multi-line strings a backslash that ends the line
 * (trailing whitespace allowed) swallows all whitespace and newlines after it. */
static int lex_escape(struct toml_lex *lx, struct buf *out, bool multi)
{
	struct toml_pos at = toml_lex_pos(lx);
	int c = toml_lex_peek_at(lx, 1);
	size_t ndig = 0;

	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		size_t k = 1;
		while (toml_lex_peek_at(lx, k) == ' ' || toml_lex_peek_at(lx, k) == '\t')
			k++;
		int e = toml_lex_peek_at(lx, k);
		if (e != '\n' && !(e == '\r' && toml_lex_peek_at(lx, k + 1) == '\n'))
			return toml_lex_fail(lx, at,
					     "invalid escape: a line-ending backslash must be "
					     "followed only by whitespace");
		lx->off += k;
		for (;;) {
			toml_lex_skip_ws(lx);
			if (!toml_lex_newline(lx))
				return 0;
		}
	}
	switch (c) {
	case 'b':
		buf_putc(out, '\b');
		break;
	case 't':
		buf_putc(out, '\t');
		break;
	case 'n':
		buf_putc(out, '\n');
		break;
	case 'f':
		buf_putc(out, '\f');
		break;
	case 'r':
		buf_putc(out, '\r');
		break;
	case '"':
		buf_putc(out, '"');
		break;
	case '\\':
		buf_putc(out, '\\');
		break;
	case 'u':
		ndig = 4;
		break;
	case 'U':
		ndig = 8;
		break;
	default:
		if (c > 0x20 && c < 0x7f)
			return toml_lex_fail(lx, at, "invalid escape sequence '\\%c'", c);
		return toml_lex_fail(lx, at, "invalid escape sequence");
	}
	lx->off += 2;
	if (!ndig)
		return 0;

	uint32_t cp = 0;
	for (size_t i = 0; i < ndig; i++) {
		int h = hexval(toml_lex_peek_at(lx, i));
		if (h < 0)
			return toml_lex_fail(lx, at,
					     "invalid unicode escape: '\\%c' needs %zu hex digits",
					     ndig == 4 ? 'u' : 'U', ndig);
		cp = cp << 4 | (uint32_t)h;
	}
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return toml_lex_fail(lx, at,
				     "invalid unicode escape: U+%04X is not a unicode scalar value",
				     (unsigned)cp);
	lx->off += ndig;
	put_utf8(out, cp);
	return 0;
}

/* At a run of closing-quote characters in a multi-line string: fewer than three are content;
 * three to five close the string, the extra one or two being content. */
static int lex_ml_quotes(struct toml_lex *lx, struct buf *out, char q, bool *done)
{
	size_t k = 0;
	while (toml_lex_peek_at(lx, k) == q)
		k++;
	if (k > 5)
		return toml_lex_fail(lx, toml_lex_pos(lx),
				     "too many quotes at the end of a multi-line string");
	for (size_t i = 0; i < (k < 3 ? k : k - 3); i++)
		buf_putc(out, q);
	lx->off += k;
	*done = k >= 3;
	return 0;
}

static int lex_string_body(struct toml_lex *lx, struct buf *out, char q, bool multi,
			   struct toml_pos start)
{
	bool basic = q == '"';
	for (;;) {
		size_t run = lx->off;
		int c;
		/* copy plain bytes in runs */
		while ((c = toml_lex_peek(lx)) >= 0 && c != q && !(basic && c == '\\') &&
		       c != '\n' && c != '\r' && !is_control(c))
			lx->off++;
		buf_append(out, lx->s + run, lx->off - run);
		if (c < 0)
			return toml_lex_fail(lx, start, "unterminated %sstring",
					     multi ? "multi-line " : "");
		if (c == q) {
			if (!multi) {
				lx->off++;
				return 0;
			}
			bool done = false;
			if (lex_ml_quotes(lx, out, q, &done) < 0)
				return -1;
			if (done)
				return 0;
		} else if (c == '\\') {
			if (lex_escape(lx, out, multi) < 0)
				return -1;
		} else if (c == '\n' || (c == '\r' && toml_lex_peek_at(lx, 1) == '\n')) {
			if (!multi)
				return toml_lex_fail(lx, start,
						     "unterminated string (newline before the "
						     "closing quote)");
			toml_lex_newline(lx);
			buf_putc(out, '\n');
		} else {
			return toml_lex_fail(lx, toml_lex_pos(lx),
					     "control character U+%04X not allowed in string",
					     (unsigned)c);
		}
	}
}

int toml_lex_string(struct toml_lex *lx, struct buf *out, bool allow_multi)
{
	struct toml_pos start = toml_lex_pos(lx);
	char q = lx->s[lx->off];
	bool multi = toml_lex_peek_at(lx, 1) == q && toml_lex_peek_at(lx, 2) == q;

	buf_reset(out);
	if (multi && !allow_multi)
		return toml_lex_fail(lx, start, "multi-line strings cannot be keys");
	if (!multi) {
		lx->off++;
		return lex_string_body(lx, out, q, false, start);
	}
	lx->off += 3;
	toml_lex_newline(lx); /* a newline right after the opening quotes is trimmed */
	return lex_string_body(lx, out, q, true, start);
}

int toml_lex_key_part(struct toml_lex *lx, struct buf *out)
{
	int c = toml_lex_peek(lx);
	char what[64];

	if (c == '"' || c == '\'')
		return toml_lex_string(lx, out, false);
	buf_reset(out);
	if (!toml_is_bare_key_char(c))
		return toml_lex_fail(lx, toml_lex_pos(lx), "expected a key, found %s",
				     toml_lex_what(lx, what, sizeof(what)));
	size_t start = lx->off;
	while (toml_is_bare_key_char(toml_lex_peek(lx)))
		lx->off++;
	buf_append(out, lx->s + start, lx->off - start);
	return 0;
}
