#include "ctl/ctlproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/xalloc.h"

/* Longest user word quoted back in an error reason. */
#define QUOTE_MAX 40
/* Room kept at the end of a body for the truncation marker. */
#define BODY_SLACK 32

static const char *const verb_names[] = {
	[CTL_HELLO] = "hello", [CTL_RELOAD] = "reload",	    [CTL_STATUS] = "status",
	[CTL_STOP] = "stop",   [CTL_UPGRADE] = "upgrade",   [CTL_PROMOTE] = "promote",
	[CTL_ABORT] = "abort", [CTL_ROLLBACK] = "rollback",
};

const char *ctlproto_verb_name(enum ctl_verb v)
{
	if ((unsigned)v < sizeof(verb_names) / sizeof(verb_names[0]) && verb_names[v])
		return verb_names[v];
	return "?";
}

size_t ctlproto_utf8_seq(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t need;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		need = 2;
		cp = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		need = 3;
		cp = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		need = 4;
		cp = u[0] & 0x07;
	} else {
		return 0; /* continuation byte, 0xc0/0xc1, or past U+10FFFF */
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff)
		return 0; /* overlong or out of range */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0; /* surrogate */
	return need;
}

static bool is_ctl_char(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* 0, or -EBADMSG / -EILSEQ with a reason: a line that may travel in either direction. */
static int check_line(const char *s, size_t n, const char *what, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0) {
			snprintf(why, whylen, "NUL byte in %s", what);
			return -EBADMSG;
		}
		if (is_ctl_char(c)) {
			snprintf(why, whylen, "control character 0x%02x in %s", c, what);
			return -EBADMSG;
		}
	}
	for (size_t i = 0; i < n;) {
		size_t k = ctlproto_utf8_seq(s + i, n - i);
		if (!k) {
			snprintf(why, whylen, "%s is not valid UTF-8 (byte %zu)", what, i + 1);
			return -EILSEQ;
		}
		i += k;
	}
	return 0;
}

/* A user's word for an error message: valid UTF-8 already; cut at a character boundary. */
static void quote_word(char *out, size_t outlen, const char *w, size_t n)
{
	size_t cut = n;
	bool dots = false;
	if (cut > QUOTE_MAX) {
		cut = QUOTE_MAX;
		while (cut > 0 && ((unsigned char)w[cut] & 0xc0) == 0x80)
			cut--;
		dots = true;
	}
	snprintf(out, outlen, "'%.*s%s'", (int)cut, w, dots ? "..." : "");
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static bool version_word_ok(const char *w, size_t n)
{
	if (n == 0 || n > CTLPROTO_WORD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

#define MAX_WORDS 3

/* ctlproto_parse_request() with the reason written to why (the decoder keeps it). */
static int parse_request(const char *line, size_t len, struct ctl_request *req, char *why,
			 size_t whylen)
{
	char q[QUOTE_MAX + 8];
	if (len && line[len - 1] == '\r')
		len--;
	if (len + 1 > CTLPROTO_REQUEST_MAX) {
		snprintf(why, whylen, "request line longer than %d bytes", CTLPROTO_REQUEST_MAX);
		return -EMSGSIZE;
	}
	int r = check_line(line, len, "request", why, whylen);
	if (r < 0)
		return r;

	const char *w[MAX_WORDS];
	size_t wl[MAX_WORDS];
	int nw = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && is_space(line[i]))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !is_space(line[i]))
			i++;
		if (nw == MAX_WORDS) {
			nw++; /* "too many" is all we need to know */
			break;
		}
		w[nw] = line + start;
		wl[nw] = i - start;
		nw++;
	}
	if (nw == 0) {
		snprintf(why, whylen, "empty request");
		return -ENODATA;
	}

	memset(req, 0, sizeof(*req));
	static const enum ctl_verb bare[] = {CTL_RELOAD,  CTL_STOP,  CTL_UPGRADE,
					     CTL_PROMOTE, CTL_ABORT, CTL_ROLLBACK};
	req->verb = 0;
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++)
		if (word_is(w[0], wl[0], verb_names[bare[i]]))
			req->verb = bare[i];
	if (req->verb) {
		if (nw > 1) {
			snprintf(why, whylen, "'%s' takes no argument",
				 ctlproto_verb_name(req->verb));
			return -EINVAL;
		}
		return 0;
	}
	if (word_is(w[0], wl[0], "status")) {
		req->verb = CTL_STATUS;
		if (nw > 2) {
			snprintf(why, whylen, "'status' takes at most one argument ('json')");
			return -EINVAL;
		}
		if (nw == 2) {
			if (!word_is(w[1], wl[1], "json")) {
				quote_word(q, sizeof(q), w[1], wl[1]);
				snprintf(why, whylen, "unknown status format %s (expected 'json')",
					 q);
				return -EINVAL;
			}
			req->json = true;
		}
		return 0;
	}
	if (word_is(w[0], wl[0], "hello")) {
		req->verb = CTL_HELLO;
		if (nw < 2) {
			snprintf(why, whylen, "'hello' needs a version ('hello %d')",
				 CTLPROTO_VERSION);
			return -EINVAL;
		}
		if (nw > 2) {
			snprintf(why, whylen, "'hello' takes one argument (a version)");
			return -EINVAL;
		}
		if (!version_word_ok(w[1], wl[1])) {
			quote_word(q, sizeof(q), w[1], wl[1]);
			snprintf(why, whylen,
				 "bad version %s (at most %d letters, digits, '.', '_', '+', '-')",
				 q, CTLPROTO_WORD_MAX);
			return -EINVAL;
		}
		memcpy(req->version, w[1], wl[1]);
		req->version[wl[1]] = '\0';
		return 0;
	}
	quote_word(q, sizeof(q), w[0], wl[0]);
	snprintf(why, whylen,
		 "unknown command %s (expected reload, status [json], stop, upgrade, promote, "
		 "abort, rollback or hello VERSION)",
		 q);
	return -EINVAL;
}

/* ---- request decoder ---- */

void ctlproto_reqdec_init(struct ctlproto_reqdec *d)
{
	memset(d, 0, sizeof(*d));
}

static int reqdec_fail(struct ctlproto_reqdec *d, int err)
{
	d->error = err;
	d->len = 0;
	return err;
}

__attribute__((format(printf, 3, 4))) static int reqdec_failf(struct ctlproto_reqdec *d, int err,
							      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return reqdec_fail(d, err);
}

int ctlproto_parse_request(const char *line, size_t len, struct ctl_request *req, char **err)
{
	char why[CTLPROTO_WHY_MAX] = "";
	int r = parse_request(line, len, req, why, sizeof(why));
	if (r < 0 && err)
		*err = xstrdup(why[0] ? why : strerror(-r));
	return r;
}

/* The line in d is complete: 1 with a request, 0 for a blank line, or an error. */
static int reqdec_line(struct ctlproto_reqdec *d, struct ctl_request *req)
{
	size_t len = d->len;
	d->len = 0;
	int r = parse_request(d->line, len, req, d->why, sizeof(d->why));
	if (r == -ENODATA) {
		d->why[0] = '\0';
		return 0;
	}
	if (r < 0)
		return reqdec_fail(d, r);
	return 1;
}

int ctlproto_reqdec_feed(struct ctlproto_reqdec *d, const void *data, size_t n, size_t *used,
			 struct ctl_request *req)
{
	const char *p = data;
	size_t i = 0;
	*used = n;
	if (d->error)
		return d->error;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t chunk = nl ? (size_t)(nl - (p + i)) : n - i;
		if (memchr(p + i, '\0', chunk))
			return reqdec_failf(d, -EBADMSG, "NUL byte in request");
		/* the line and its LF must fit, whether or not the LF has arrived yet */
		if (d->len + chunk + 1 > CTLPROTO_REQUEST_MAX)
			return reqdec_failf(d, -EMSGSIZE, "request line longer than %d bytes",
					    CTLPROTO_REQUEST_MAX);
		memcpy(d->line + d->len, p + i, chunk);
		d->len += chunk;
		i += chunk;
		if (!nl)
			break;
		i++; /* the LF */
		int r = reqdec_line(d, req);
		if (r != 0) {
			*used = r > 0 ? i : n;
			return r;
		}
	}
	return 0;
}

int ctlproto_reqdec_finish(struct ctlproto_reqdec *d, struct ctl_request *req)
{
	if (d->error)
		return d->error;
	if (d->len == 0)
		return 0;
	return reqdec_line(d, req);
}

const char *ctlproto_reqdec_why(const struct ctlproto_reqdec *d)
{
	return d->why;
}

/* ---- response decoder ---- */

void ctlproto_respdec_init(struct ctlproto_respdec *d)
{
	memset(d, 0, sizeof(*d));
	d->line = (struct buf)BUF_INIT;
	d->body = (struct buf)BUF_INIT;
}

void ctlproto_respdec_release(struct ctlproto_respdec *d)
{
	buf_release(&d->line);
	buf_release(&d->body);
}

__attribute__((format(printf, 3, 4))) static int respdec_failf(struct ctlproto_respdec *d, int err,
							       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	d->error = err;
	buf_release(&d->line);
	buf_release(&d->body);
	d->in_body = false;
	return err;
}

static void respdec_emit(struct ctl_response *resp, enum ctl_response_kind kind, struct buf *text)
{
	resp->kind = kind;
	resp->len = text->len;
	resp->text = buf_detach(text);
}

/* A complete line (LF stripped) is in d->line: 1 with a response, 0 for more, or an error. */
static int respdec_line(struct ctlproto_respdec *d, struct ctl_response *resp)
{
	const char *s = d->line.p ? d->line.p : "";
	size_t n = d->line.len;
	char q[QUOTE_MAX + 8];
	char why[CTLPROTO_WHY_MAX];
	if (n && s[n - 1] == '\r')
		n--;
	int r = check_line(s, n, "response", why, sizeof(why));
	if (r < 0)
		return respdec_failf(d, r, "%s", why);

	if (d->in_body) {
		if (n == 1 && s[0] == '.') {
			d->in_body = false;
			buf_reset(&d->line);
			respdec_emit(resp, CTL_RESP_BODY, &d->body);
			return 1;
		}
		if (d->wire + d->line.len + 1 > CTLPROTO_BODY_MAX)
			return respdec_failf(d, -EMSGSIZE, "response body longer than %u bytes",
					     CTLPROTO_BODY_MAX);
		d->wire += d->line.len + 1;
		if (n && s[0] == '.') {
			if (n < 2 || s[1] != '.')
				return respdec_failf(d, -EBADMSG,
						     "body line starts with a single '.'");
			s++;
			n--;
		}
		buf_append(&d->body, s, n);
		buf_putc(&d->body, '\n');
		buf_reset(&d->line);
		return 0;
	}

	enum ctl_response_kind kind;
	size_t skip;
	if (n >= 2 && memcmp(s, "ok", 2) == 0 && (n == 2 || s[2] == ' ')) {
		kind = CTL_RESP_OK;
		skip = 2;
	} else if (n >= 5 && memcmp(s, "error", 5) == 0 && (n == 5 || s[5] == ' ')) {
		kind = CTL_RESP_ERROR;
		skip = 5;
	} else if (n == 4 && memcmp(s, "body", 4) == 0) {
		d->in_body = true;
		d->wire = 0;
		buf_reset(&d->line);
		buf_reset(&d->body);
		return 0;
	} else {
		quote_word(q, sizeof(q), s, n);
		return respdec_failf(d, -EBADMSG,
				     "unexpected response line %s (expected ok, error or body)", q);
	}
	if (n > skip)
		skip++; /* the space */
	struct buf text = BUF_INIT;
	buf_append(&text, s + skip, n - skip);
	buf_reset(&d->line);
	respdec_emit(resp, kind, &text);
	return 1;
}

int ctlproto_respdec_feed(struct ctlproto_respdec *d, const void *data, size_t n, size_t *used,
			  struct ctl_response *resp)
{
	const char *p = data;
	size_t i = 0;
	*used = n;
	if (d->error)
		return d->error;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t chunk = nl ? (size_t)(nl - (p + i)) : n - i;
		size_t have = d->line.len + chunk + 1; /* with its LF */
		if (d->in_body) {
			/* the closing "." line may still come once the body is full */
			size_t cap = CTLPROTO_BODY_MAX - d->wire;
			if (have > cap && have > 2)
				return respdec_failf(d, -EMSGSIZE,
						     "response body longer than %u bytes",
						     CTLPROTO_BODY_MAX);
		} else if (have > CTLPROTO_LINE_MAX) {
			return respdec_failf(d, -EMSGSIZE, "response line longer than %d bytes",
					     CTLPROTO_LINE_MAX);
		}
		buf_append(&d->line, p + i, chunk);
		i += chunk;
		if (!nl)
			break;
		i++;
		int r = respdec_line(d, resp);
		if (r != 0) {
			*used = r > 0 ? i : n;
			return r;
		}
	}
	return 0;
}

int ctlproto_respdec_finish(struct ctlproto_respdec *d)
{
	if (d->error)
		return d->error;
	if (d->in_body)
		return respdec_failf(d, -EPIPE, "connection closed in the middle of a body");
	if (d->line.len)
		return respdec_failf(d, -EPIPE, "connection closed in the middle of a response");
	return 0;
}

const char *ctlproto_respdec_why(const struct ctlproto_respdec *d)
{
	return d->why;
}

/* ---- encoders ---- */

/* Append s[0..n) with control characters as spaces (tab kept when keep_tab) and invalid UTF-8
 * bytes as '?'. LF is a control character here: callers split lines first. */
static void put_clean(struct buf *out, const char *s, size_t n, bool keep_tab)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (c == '\t' && keep_tab)
				buf_putc(out, '\t');
			else
				buf_putc(out, is_ctl_char(c) || c == '\t' ? ' ' : (char)c);
			i++;
			continue;
		}
		size_t k = ctlproto_utf8_seq(s + i, n - i);
		if (!k) {
			buf_putc(out, '?');
			i++;
			continue;
		}
		buf_append(out, s + i, k);
		i += k;
	}
}

/* Cut the valid UTF-8 in b to at most max bytes, ending in "..." when cut (max > 3). */
static void cut_to(struct buf *b, size_t max)
{
	if (b->len <= max)
		return;
	size_t k = max - 3;
	while (k > 0 && ((unsigned char)b->p[k] & 0xc0) == 0x80)
		k--;
	b->len = k;
	b->p[k] = '\0';
	buf_puts(b, "...");
}

void ctlproto_encode_request(struct buf *out, const struct ctl_request *req)
{
	switch (req->verb) {
	case CTL_HELLO: {
		size_t n = strnlen(req->version, CTLPROTO_WORD_MAX);
		bool ok = version_word_ok(req->version, n);
		buf_printf(out, "hello %.*s\n", ok ? (int)n : 1, ok ? req->version : "0");
		break;
	}
	case CTL_STATUS:
		buf_puts(out, req->json ? "status json\n" : "status\n");
		break;
	case CTL_STOP:
		buf_puts(out, "stop\n");
		break;
	case CTL_UPGRADE:
	case CTL_PROMOTE:
	case CTL_ABORT:
	case CTL_ROLLBACK:
		buf_printf(out, "%s\n", verb_names[req->verb]);
		break;
	case CTL_RELOAD:
	default:
		buf_puts(out, "reload\n");
		break;
	}
}

void ctlproto_encode_reply(struct buf *out, bool ok, const char *text)
{
	const char *word = ok ? "ok" : "error";
	buf_puts(out, word);
	if (!text || !*text) {
		buf_putc(out, '\n');
		return;
	}
	struct buf t = BUF_INIT;
	put_clean(&t, text, strlen(text), false);
	cut_to(&t, CTLPROTO_LINE_MAX - 2 - strlen(word)); /* space and LF */
	buf_putc(out, ' ');
	buf_append(out, t.p, t.len);
	buf_putc(out, '\n');
	buf_release(&t);
}

void ctlproto_encode_body(struct buf *out, const char *body, size_t len)
{
	struct buf line = BUF_INIT;
	size_t wire = 0;
	bool truncated = false;
	buf_puts(out, "body\n");
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (body + i)) : len - i;
		buf_reset(&line);
		if (n && body[i] == '.')
			buf_putc(&line, '.');
		put_clean(&line, body + i, n, true);
		if (wire + line.len + 1 > CTLPROTO_BODY_MAX - BODY_SLACK) {
			truncated = true;
			break;
		}
		buf_append(out, line.p, line.len);
		buf_putc(out, '\n');
		wire += line.len + 1;
		i += n + (nl ? 1 : 0);
	}
	if (truncated)
		buf_puts(out, "(truncated)\n");
	buf_puts(out, ".\n");
	buf_release(&line);
}
