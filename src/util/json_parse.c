#include "util/json_parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

struct parser {
	const char *s;
	size_t len;
	size_t i;
	size_t nodes;
	char *err;
};

static void fail(struct parser *p, const char *what)
{
	if (!p->err)
		p->err = xasprintf("offset %zu: %s", p->i, what);
}

static void skip_ws(struct parser *p)
{
	while (p->i < p->len) {
		char c = p->s[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->i++;
	}
}

static int hex4(struct parser *p, unsigned *out)
{
	if (p->len - p->i < 4) {
		fail(p, "truncated \\u escape");
		return -1;
	}
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i + (size_t)k];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else {
			fail(p, "bad \\u escape");
			return -1;
		}
		v = v * 16 + d;
	}
	p->i += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(b, u, n);
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		min = 0x80;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		min = 0x800;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* At the opening quote: decode into *out / *outlen (fresh). */
static int parse_string(struct parser *p, char **out, size_t *outlen)
{
	struct buf b = BUF_INIT;
	p->i++; /* the quote */
	for (;;) {
		if (p->i >= p->len) {
			fail(p, "unterminated string");
			goto bad;
		}
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '"') {
			p->i++;
			break;
		}
		if (c < 0x20) {
			fail(p, "control character in a string");
			goto bad;
		}
		if (c != '\\') {
			size_t n = utf8_len((const unsigned char *)p->s + p->i, p->len - p->i);
			if (!n) {
				fail(p, "invalid UTF-8 in a string");
				goto bad;
			}
			buf_append(&b, p->s + p->i, n);
			p->i += n;
			continue;
		}
		if (++p->i >= p->len) {
			fail(p, "unterminated string");
			goto bad;
		}
		char e = p->s[p->i++];
		switch (e) {
		case '"':
		case '\\':
		case '/':
			buf_putc(&b, e);
			break;
		case 'b':
			buf_putc(&b, '\b');
			break;
		case 'f':
			buf_putc(&b, '\f');
			break;
		case 'n':
			buf_putc(&b, '\n');
			break;
		case 'r':
			buf_putc(&b, '\r');
			break;
		case 't':
			buf_putc(&b, '\t');
			break;
		case 'u': {
			unsigned cp;
			if (hex4(p, &cp) < 0)
				goto bad;
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				fail(p, "lone low surrogate");
				goto bad;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (p->len - p->i < 2 || p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u') {
					fail(p, "high surrogate without its low half");
					goto bad;
				}
				p->i += 2;
				if (hex4(p, &lo) < 0)
					goto bad;
				if (lo < 0xDC00 || lo > 0xDFFF) {
					fail(p, "high surrogate without its low half");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			put_utf8(&b, cp);
			break;
		}
		default:
			p->i--;
			fail(p, "bad escape in a string");
			goto bad;
		}
	}
	*outlen = b.len;
	*out = b.p ? buf_detach(&b) : xstrdup("");
	return 0;
bad:
	buf_release(&b);
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p, struct json *j)
{
	size_t start = p->i;
	if (p->i < p->len && p->s[p->i] == '-')
		p->i++;
	if (p->i >= p->len || !is_digit(p->s[p->i])) {
		fail(p, "expected a digit");
		return -1;
	}
	if (p->s[p->i] == '0')
		p->i++;
	else
		while (p->i < p->len && is_digit(p->s[p->i]))
			p->i++;
	if (p->i < p->len && p->s[p->i] == '.') {
		p->i++;
		if (p->i >= p->len || !is_digit(p->s[p->i])) {
			fail(p, "expected a digit after '.'");
			return -1;
		}
		while (p->i < p->len && is_digit(p->s[p->i]))
			p->i++;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (p->i >= p->len || !is_digit(p->s[p->i])) {
			fail(p, "expected a digit in the exponent");
			return -1;
		}
		while (p->i < p->len && is_digit(p->s[p->i]))
			p->i++;
	}
	j->type = JSON_NUMBER;
	j->len = p->i - start;
	j->s = xstrndup(p->s + start, j->len);
	return 0;
}

static bool literal(struct parser *p, const char *lit)
{
	size_t n = strlen(lit);
	if (p->len - p->i < n || memcmp(p->s + p->i, lit, n) != 0)
		return false;
	p->i += n;
	return true;
}

static void release(struct json *j)
{
	for (size_t k = 0; k < j->n; k++)
		release(&j->items[k]);
	free(j->items);
	free(j->s);
	free(j->key);
}

static int parse_value(struct parser *p, struct json *j, int depth);

static int parse_container(struct parser *p, struct json *j, int depth, bool object)
{
	char close = object ? '}' : ']';
	size_t cap = 0;
	j->type = object ? JSON_OBJECT : JSON_ARRAY;
	p->i++;
	skip_ws(p);
	if (p->i < p->len && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (j->n == cap) {
			cap = cap ? cap * 2 : 4;
			j->items = xrealloc(j->items, cap * sizeof(*j->items));
		}
		struct json *m = &j->items[j->n];
		memset(m, 0, sizeof(*m));
		j->n++;
		if (object) {
			if (p->i >= p->len || p->s[p->i] != '"') {
				fail(p, "expected a member name");
				return -1;
			}
			if (parse_string(p, &m->key, &m->keylen) < 0)
				return -1;
			skip_ws(p);
			if (p->i >= p->len || p->s[p->i] != ':') {
				fail(p, "expected ':'");
				return -1;
			}
			p->i++;
			skip_ws(p);
		}
		if (parse_value(p, m, depth + 1) < 0)
			return -1;
		skip_ws(p);
		if (p->i < p->len && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->len && p->s[p->i] == close) {
			p->i++;
			return 0;
		}
		fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
		return -1;
	}
}

static int parse_value(struct parser *p, struct json *j, int depth)
{
	if (depth > JSON_MAX_DEPTH) {
		fail(p, "nested too deeply");
		return -1;
	}
	if (++p->nodes > JSON_MAX_NODES) {
		fail(p, "too many values");
		return -1;
	}
	if (p->i >= p->len) {
		fail(p, "expected a value");
		return -1;
	}
	switch (p->s[p->i]) {
	case '{':
		return parse_container(p, j, depth, true);
	case '[':
		return parse_container(p, j, depth, false);
	case '"':
		j->type = JSON_STRING;
		return parse_string(p, &j->s, &j->len);
	case 't':
	case 'f':
	case 'n':
		if (literal(p, "true")) {
			j->type = JSON_BOOL;
			j->b = true;
		} else if (literal(p, "false")) {
			j->type = JSON_BOOL;
		} else if (literal(p, "null")) {
			j->type = JSON_NULL;
		} else {
			fail(p, "expected a value");
			return -1;
		}
		return 0;
	default:
		return parse_number(p, j);
	}
}

struct json *json_parse(const char *s, size_t len, char **err)
{
	struct parser p = {.s = s, .len = len};
	struct json *j = xcalloc(1, sizeof(*j));
	skip_ws(&p);
	if (parse_value(&p, j, 1) == 0) {
		skip_ws(&p);
		if (p.i != p.len)
			fail(&p, "trailing characters after the value");
	}
	if (p.err) {
		json_free(j);
		if (err)
			*err = p.err;
		else
			free(p.err);
		return NULL;
	}
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	release(j);
	free(j);
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	size_t n = strlen(key);
	for (size_t k = 0; k < obj->n; k++)
		if (obj->items[k].keylen == n && memcmp(obj->items[k].key, key, n) == 0)
			return &obj->items[k];
	return NULL;
}

const char *json_get_str(const struct json *obj, const char *key, size_t *len)
{
	const struct json *v = json_get(obj, key);
	if (!v || v->type != JSON_STRING)
		return NULL;
	if (len)
		*len = v->len;
	return v->s;
}

int json_get_i64(const struct json *obj, const char *key, int64_t dflt, int64_t *out)
{
	const struct json *v = json_get(obj, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (v->type != JSON_NUMBER && v->type != JSON_STRING)
		return -EINVAL;
	const char *s = v->s;
	bool neg = s[0] == '-';
	size_t i = neg;
	if (i >= v->len)
		return -EINVAL;
	uint64_t acc = 0;
	for (; i < v->len; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return -EINVAL;
		acc = acc * 10 + d;
	}
	if (acc > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
		return -EINVAL;
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}
