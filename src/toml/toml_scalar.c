/* Unquoted scalar values: booleans, integers (decimal, 0x, 0o, 0b), floats (with inf and nan),
 * and the dispatch of date/time tokens to toml_datetime.c.
 *
 * A scalar is scanned as one token of [A-Za-z0-9_.+-:] (plus the space of "1979-05-27 07:32:00")
 * and then classified, so "1.2.3", "12abc" or "tru" are one bad token with one clear message. */
#include "toml/toml_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool toml_is_scalar_char(int c)
{
	return toml_is_bare_key_char(c) || c == '.' || c == '+' || c == ':';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int digit_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

static const char no_digits[] = "expected digits";

/* Digits of `base` with single underscores between them; NULL or why not. */
static const char *check_digits(const char *p, const char *end, int base)
{
	bool prev_digit = false;
	if (p == end)
		return no_digits;
	for (; p < end; p++) {
		if (*p == '_') {
			if (!prev_digit)
				return "underscores must be between digits";
			prev_digit = false;
		} else if (digit_value((unsigned char)*p) < base) {
			prev_digit = true;
		} else {
			return "unexpected character";
		}
	}
	return prev_digit ? NULL : "underscores must be between digits";
}

/* Value of checked digits; false on overflow past limit. */
static bool accumulate(const char *p, const char *end, int base, uint64_t limit, uint64_t *out)
{
	uint64_t v = 0;
	for (; p < end; p++) {
		if (*p == '_')
			continue;
		uint64_t d = (uint64_t)digit_value((unsigned char)*p);
		if (v > (limit - d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return true;
}

struct token {
	struct toml_lex *lx;
	struct toml_pos pos;
	const char *s;
	size_t n;
};

static int bad(const struct token *t, const char *what, const char *why)
{
	char q[80];
	toml_quote(q, sizeof(q), t->s, t->n);
	return toml_lex_fail(t->lx, t->pos, "invalid %s %s: %s", what, q, why);
}

static int scan_integer(const struct token *t, struct toml_value *out)
{
	const char *p = t->s, *end = t->s + t->n;
	bool neg = false, sign = false;
	int base = 10;
	const char *why;
	uint64_t v;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		sign = true;
		p++;
	}
	if (end - p > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
		base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
		if (sign)
			return bad(t, "integer",
				   "a sign is not allowed with a 0x, 0o or 0b prefix");
		p += 2;
	}
	why = check_digits(p, end, base);
	if (why)
		return bad(t, "integer", why);
	if (base == 10 && p[0] == '0' && end - p > 1)
		return bad(t, "integer", "leading zeros are not allowed");
	if (!accumulate(p, end, base, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v))
		return bad(t, "integer", "out of range for a 64-bit integer");
	out->type = TOML_INTEGER;
	if (!neg)
		out->u.i = (int64_t)v;
	else /* -(2^63) has no positive counterpart */
		out->u.i = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
	return 0;
}

static int scan_float(const struct token *t, struct toml_value *out)
{
	const char *p = t->s, *end = t->s + t->n, *q, *why;

	if (*p == '+' || *p == '-')
		p++;
	for (q = p; q < end && *q != '.' && *q != 'e' && *q != 'E'; q++)
		;
	why = check_digits(p, q, 10);
	if (why)
		return bad(t, "float",
			   why == no_digits ? "expected digits before the decimal point" : why);
	if (p[0] == '0' && q - p > 1)
		return bad(t, "float", "leading zeros are not allowed");
	if (q < end && *q == '.') {
		const char *f = ++q;
		for (; q < end && *q != 'e' && *q != 'E'; q++)
			;
		why = check_digits(f, q, 10);
		if (why)
			return bad(t, "float",
				   why == no_digits ? "expected digits after the decimal point"
						    : why);
	}
	if (q < end) { /* at 'e' or 'E' */
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		why = check_digits(q, end, 10);
		if (why)
			return bad(t, "float",
				   why == no_digits ? "expected digits in the exponent" : why);
	}

	/* strtod without the underscores (the decimal point is '.': baton keeps the C locale) */
	struct buf clean = BUF_INIT;
	for (p = t->s; p < end; p++)
		if (*p != '_')
			buf_putc(&clean, *p);
	char *stop;
	out->type = TOML_FLOAT;
	out->u.f = strtod(buf_cstr(&clean), &stop);
	bool ok = *stop == '\0';
	buf_release(&clean);
	if (!ok)
		return bad(t, "float", "not a number");
	return 0;
}

static bool token_is(const struct token *t, const char *w)
{
	return t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

/* Digits and then a '-': no number looks like that, so it is a (maybe broken) date. */
static bool looks_like_date(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_digit(s[i]))
		i++;
	return i > 0 && i < n && s[i] == '-';
}

int toml_scan_scalar(struct toml_lex *lx, struct toml_value *out)
{
	struct token t = {lx, toml_lex_pos(lx), lx->s + lx->off, 0};
	size_t start = lx->off;
	char what[64];

	while (toml_is_scalar_char(toml_lex_peek(lx)))
		lx->off++;
	/* a date, a space and a time: "1979-05-27 07:32:00" */
	if (lx->off - start == 10 && t.s[4] == '-' && looks_like_date(t.s, 10) &&
	    toml_lex_peek(lx) == ' ' && is_digit(toml_lex_peek_at(lx, 1)) &&
	    is_digit(toml_lex_peek_at(lx, 2)) && toml_lex_peek_at(lx, 3) == ':') {
		lx->off++;
		while (toml_is_scalar_char(toml_lex_peek(lx)))
			lx->off++;
	}
	t.n = lx->off - start;
	if (!t.n)
		return toml_lex_fail(lx, t.pos, "expected a value, found %s",
				     toml_lex_what(lx, what, sizeof(what)));
	out->pos = t.pos;

	if (token_is(&t, "true") || token_is(&t, "false")) {
		out->type = TOML_BOOL;
		out->u.b = t.s[0] == 't';
		return 0;
	}
	const char *body = t.s + (t.s[0] == '+' || t.s[0] == '-');
	size_t bn = t.n - (size_t)(body - t.s);
	if (!bn)
		return bad(&t, "value", "expected digits after the sign");
	if (bn == 3 && (memcmp(body, "inf", 3) == 0 || memcmp(body, "nan", 3) == 0)) {
		double v = body[0] == 'i' ? __builtin_inf() : __builtin_nan("");
		out->type = TOML_FLOAT;
		out->u.f = t.s[0] == '-' ? -v : v;
		return 0;
	}
	if (memchr(t.s, ':', t.n) || looks_like_date(t.s, t.n)) {
		char *why = NULL;
		if (toml_datetime_parse(t.s, t.n, &out->type, &out->u.dt, &why) < 0) {
			int r = bad(&t, "date/time", why);
			free(why);
			return r;
		}
		return 0;
	}
	if (!is_digit(body[0]) && body[0] != '.') {
		char q[80];
		toml_quote(q, sizeof(q), t.s, t.n);
		if (body == t.s)
			return toml_lex_fail(lx, t.pos, "invalid value %s (strings need quotes)",
					     q);
		return toml_lex_fail(lx, t.pos, "invalid value %s", q);
	}
	bool prefixed =
		bn > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o' || body[1] == 'b');
	if (!prefixed && (memchr(t.s, '.', t.n) || memchr(t.s, 'e', t.n) || memchr(t.s, 'E', t.n)))
		return scan_float(&t, out);
	return scan_integer(&t, out);
}
