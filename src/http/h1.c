/* HTTP/1.1 heads (RFC 9112 §2-§6, §9.3): the request and status lines, the fields, the framing
 * and connection semantics derived from them. One pass over the bytes with a character table,
 * no copies, no allocation; see h1.h for the rules. The body scanner is in h1_body.c. */
#include "http/h1.h"

#include <string.h>

#include "http/h1_chars.h"

/* RFC 9110 §5.6.2 tchar; VCHAR; field-value bytes (VCHAR, SP, HTAB, obs-text); HEXDIG. */
const unsigned char h1_chars[256] = {
	['\t'] = H1C_FIELD,
	[' '] = H1C_FIELD,
#define T (H1C_TCHAR | H1C_VCHAR | H1C_FIELD)
#define V (H1C_VCHAR | H1C_FIELD)
	['!'] = T,
	['"'] = V,
	['#'] = T,
	['$'] = T,
	['%'] = T,
	['&'] = T,
	['\''] = T,
	['('] = V,
	[')'] = V,
	['*'] = T,
	['+'] = T,
	[','] = V,
	['-'] = T,
	['.'] = T,
	['/'] = V,
	['0'] = T | H1C_HEX,
	['1'] = T | H1C_HEX,
	['2'] = T | H1C_HEX,
	['3'] = T | H1C_HEX,
	['4'] = T | H1C_HEX,
	['5'] = T | H1C_HEX,
	['6'] = T | H1C_HEX,
	['7'] = T | H1C_HEX,
	['8'] = T | H1C_HEX,
	['9'] = T | H1C_HEX,
	[':'] = V,
	[';'] = V,
	['<'] = V,
	['='] = V,
	['>'] = V,
	['?'] = V,
	['@'] = V,
	['A'] = T | H1C_HEX,
	['B'] = T | H1C_HEX,
	['C'] = T | H1C_HEX,
	['D'] = T | H1C_HEX,
	['E'] = T | H1C_HEX,
	['F'] = T | H1C_HEX,
	['G'] = T,
	['H'] = T,
	['I'] = T,
	['J'] = T,
	['K'] = T,
	['L'] = T,
	['M'] = T,
	['N'] = T,
	['O'] = T,
	['P'] = T,
	['Q'] = T,
	['R'] = T,
	['S'] = T,
	['T'] = T,
	['U'] = T,
	['V'] = T,
	['W'] = T,
	['X'] = T,
	['Y'] = T,
	['Z'] = T,
	['['] = V,
	['\\'] = V,
	[']'] = V,
	['^'] = T,
	['_'] = T,
	['`'] = T,
	['a'] = T | H1C_HEX,
	['b'] = T | H1C_HEX,
	['c'] = T | H1C_HEX,
	['d'] = T | H1C_HEX,
	['e'] = T | H1C_HEX,
	['f'] = T | H1C_HEX,
	['g'] = T,
	['h'] = T,
	['i'] = T,
	['j'] = T,
	['k'] = T,
	['l'] = T,
	['m'] = T,
	['n'] = T,
	['o'] = T,
	['p'] = T,
	['q'] = T,
	['r'] = T,
	['s'] = T,
	['t'] = T,
	['u'] = T,
	['v'] = T,
	['w'] = T,
	['x'] = T,
	['y'] = T,
	['z'] = T,
	['{'] = V,
	['|'] = T,
	['}'] = V,
	['~'] = T,
#undef T
#undef V
	/* obs-text: allowed in field values and reason phrases, never in tokens */
	[0x80 ... 0xff] = H1C_FIELD,
};

#define CLS(c, m) (h1_chars[(unsigned char)(c)] & (m))

/* Does buf[i..len) start like lit? 1 = yes (all of lit present), 0 = so far, -1 = no. */
static int prefix(const char *buf, size_t i, size_t len, const char *lit, size_t n)
{
	size_t have = len - i < n ? len - i : n;
	if (memcmp(buf + i, lit, have) != 0)
		return -1;
	return have == n;
}

/* "HTTP/" DIGIT "." DIGIT at buf[*i]: 1 and *i past it; H1_INCOMPLETE, H1_E_BAD or
 * H1_E_VERSION (well-formed but not 1.0 or 1.1). */
static int parse_version(const char *buf, size_t len, size_t *i, int *minor)
{
	int r = prefix(buf, *i, len, "HTTP/", 5);
	if (r < 0)
		return H1_E_BAD;
	if (r == 0)
		return H1_INCOMPLETE;
	size_t j = *i + 5;
	for (size_t k = 0; k < 3; k++) {
		if (j + k >= len)
			return H1_INCOMPLETE;
		char c = buf[j + k];
		if (k == 1 ? c != '.' : (c < '0' || c > '9'))
			return H1_E_BAD;
	}
	if (buf[j] != '1' || buf[j + 2] > '1')
		return H1_E_VERSION;
	*minor = buf[j + 2] - '0';
	*i = j + 3;
	return 1;
}

/* CRLF at buf[*i]: 1 and *i past it, H1_INCOMPLETE or H1_E_BAD. */
static int parse_crlf(const char *buf, size_t len, size_t *i)
{
	if (*i >= len)
		return H1_INCOMPLETE;
	if (buf[*i] != '\r')
		return H1_E_BAD;
	if (*i + 1 >= len)
		return H1_INCOMPLETE;
	if (buf[*i + 1] != '\n')
		return H1_E_BAD;
	*i += 2;
	return 1;
}

/* The field lines from buf[i] through the empty line. Returns head_len or an error. */
static int parse_fields(const char *buf, size_t len, size_t i, struct h1_head *h)
{
	h->nheaders = 0;
	for (;;) {
		if (i >= len)
			return H1_INCOMPLETE;
		char c = buf[i];
		if (c == '\r') {
			int r = parse_crlf(buf, len, &i);
			return r <= 0 ? r : (int)i;
		}
		/* a field name is a token; obs-fold (a line starting with SP or HTAB), a bare LF
		 * or any other byte here is an error */
		size_t name = i;
		while (i < len && CLS(buf[i], H1C_TCHAR))
			i++;
		if (i >= len)
			return H1_INCOMPLETE;
		if (i == name || buf[i] != ':')
			return H1_E_BAD;
		size_t name_len = i - name;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		size_t val = i;
		while (i < len && CLS(buf[i], H1C_FIELD))
			i++;
		size_t end = i;
		int r = parse_crlf(buf, len, &i);
		if (r <= 0)
			return r;
		while (end > val && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
			end--;
		if (h->nheaders == H1_MAX_HEADERS)
			return H1_E_TOO_LARGE;
		struct h1_header *f = &h->headers[h->nheaders++];
		f->name.p = buf + name;
		f->name.len = name_len;
		f->value.p = buf + val;
		f->value.len = end - val;
	}
}

static bool is_digits(struct h1_span s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* 1*DIGIT up to 2^63-1. */
static bool parse_length(struct h1_span s, uint64_t *out)
{
	if (!is_digits(s))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		uint64_t d = (uint64_t)(s.p[i] - '0');
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool method_is(struct h1_span m, const char *lit)
{
	size_t n = strlen(lit);
	return m.p && m.len == n && memcmp(m.p, lit, n) == 0;
}

/* What the fields say about framing and the connection, before the message kind decides. */
struct fields {
	const struct h1_header *cl, *host;
	size_t ncl, nhost;
	/* transfer codings over every Transfer-Encoding field, in order */
	bool te, te_last_chunked, te_bad, te_unknown;
	size_t te_nchunked;
	bool conn_close, conn_keep_alive, conn_upgrade, has_upgrade, expect_continue;
};

static bool coding_known(struct h1_span c)
{
	return h1_span_eqi(c, "gzip") || h1_span_eqi(c, "x-gzip") || h1_span_eqi(c, "deflate") ||
	       h1_span_eqi(c, "compress") || h1_span_eqi(c, "x-compress");
}

/* One Transfer-Encoding field: a comma list of codings, each a token with optional parameters
 * after ';' (none on chunked). An empty element is an error: strict where smuggling lives. */
static void scan_te(struct fields *f, struct h1_span v)
{
	f->te = true;
	size_t i = 0;
	for (;;) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		size_t s = i;
		while (i < v.len && CLS(v.p[i], H1C_TCHAR))
			i++;
		struct h1_span c = {v.p + s, i - s};
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		bool params = i < v.len && v.p[i] == ';';
		if (i < v.len && v.p[i] != ',' && !params)
			f->te_bad = true;
		while (i < v.len && v.p[i] != ',')
			i++;
		if (c.len == 0) {
			f->te_bad = true;
		} else if (h1_span_eqi(c, "chunked")) {
			f->te_nchunked++;
			f->te_last_chunked = true;
			f->te_bad |= params;
		} else {
			f->te_last_chunked = false;
			f->te_unknown |= !coding_known(c);
		}
		if (i >= v.len)
			return;
		i++; /* the comma */
	}
}

static void scan_fields(const struct h1_head *h, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t k = 0; k < h->nheaders; k++) {
		const struct h1_header *x = &h->headers[k];
		switch (x->name.len) {
		case 4:
			if (h1_span_eqi(x->name, "host")) {
				f->host = f->host ? f->host : x;
				f->nhost++;
			}
			break;
		case 6:
			if (h1_span_eqi(x->name, "expect") && h1_span_eqi(x->value, "100-continue"))
				f->expect_continue = true;
			break;
		case 7:
			if (h1_span_eqi(x->name, "upgrade"))
				f->has_upgrade = true;
			break;
		case 10:
			if (h1_span_eqi(x->name, "connection")) {
				f->conn_close |= h1_has_token(x->value, "close");
				f->conn_keep_alive |= h1_has_token(x->value, "keep-alive");
				f->conn_upgrade |= h1_has_token(x->value, "upgrade");
			}
			break;
		case 14:
			if (h1_span_eqi(x->name, "content-length")) {
				f->cl = f->cl ? f->cl : x;
				f->ncl++;
			}
			break;
		case 17:
			if (h1_span_eqi(x->name, "transfer-encoding"))
				scan_te(f, x->value);
			break;
		}
	}
	if (f->te_nchunked > 1)
		f->te_bad = true;
}

static void init_head(struct h1_head *h)
{
	h->method = (struct h1_span){NULL, 0};
	h->target = (struct h1_span){NULL, 0};
	h->status = 0;
	h->reason = (struct h1_span){NULL, 0};
	h->minor = 0;
	h->nheaders = 0;
	h->head_len = 0;
	h->framing = H1_BODY_NONE;
	h->content_length = 0;
	h->keep_alive = false;
	h->expect_continue = false;
	h->upgrade = false;
	h->te_chunked = false;
	h->host = (struct h1_span){NULL, 0};
}

static int limit(int r, size_t len, size_t max_head)
{
	if (r == H1_INCOMPLETE && len >= max_head)
		return H1_E_TOO_LARGE;
	if (r > 0 && (size_t)r > max_head)
		return H1_E_TOO_LARGE;
	return r;
}

static int request_line(const char *buf, size_t len, struct h1_head *h)
{
	size_t i = 0;
	/* empty lines before the request line (RFC 9112 §2.2): CRLF only */
	while (i < len && buf[i] == '\r') {
		int r = parse_crlf(buf, len, &i);
		if (r <= 0)
			return r;
	}
	size_t m = i;
	while (i < len && CLS(buf[i], H1C_TCHAR))
		i++;
	if (i >= len)
		return H1_INCOMPLETE;
	if (i == m || buf[i] != ' ')
		return H1_E_BAD;
	h->method = (struct h1_span){buf + m, i - m};
	size_t t = ++i;
	while (i < len && CLS(buf[i], H1C_VCHAR))
		i++;
	if (i >= len)
		return H1_INCOMPLETE;
	if (i == t || buf[i] != ' ')
		return H1_E_BAD;
	h->target = (struct h1_span){buf + t, i - t};
	i++;
	int r = parse_version(buf, len, &i, &h->minor);
	if (r > 0)
		r = parse_crlf(buf, len, &i);
	if (r <= 0)
		return r;
	return parse_fields(buf, len, i, h);
}

int h1_parse_request(const char *buf, size_t len, size_t max_head, struct h1_head *h)
{
	init_head(h);
	int r = limit(request_line(buf, len, h), len, max_head);
	if (r <= 0)
		return r;
	struct fields f;
	scan_fields(h, &f);
	if (h->minor == 1 && f.nhost != 1)
		return H1_E_BAD;
	if (f.nhost > 1)
		return H1_E_BAD;
	if (f.ncl > 1 || (f.cl && f.te))
		return H1_E_BAD;
	if (f.te) {
		if (f.te_unknown)
			return H1_E_NOT_IMPLEMENTED;
		if (f.te_bad || !f.te_last_chunked)
			return H1_E_BAD;
		h->framing = H1_BODY_CHUNKED;
		h->te_chunked = true;
	} else if (f.cl) {
		if (!parse_length(f.cl->value, &h->content_length))
			return H1_E_BAD;
		h->framing = h->content_length ? H1_BODY_LENGTH : H1_BODY_NONE;
	}
	if (f.host)
		h->host = f.host->value;
	h->keep_alive = h->minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	/* chunked on HTTP/1.0 is faulty framing (RFC 9112 §6.1): read it, then close */
	if (f.te && h->minor == 0)
		h->keep_alive = false;
	h->expect_continue = f.expect_continue && h->minor == 1;
	h->upgrade = f.conn_upgrade && f.has_upgrade;
	h->head_len = (size_t)r;
	return r;
}

static int status_line(const char *buf, size_t len, struct h1_head *h)
{
	size_t i = 0;
	int r = parse_version(buf, len, &i, &h->minor);
	if (r <= 0)
		return r;
	if (i >= len)
		return H1_INCOMPLETE;
	if (buf[i++] != ' ')
		return H1_E_BAD;
	int status = 0;
	for (size_t k = 0; k < 3; k++, i++) {
		if (i >= len)
			return H1_INCOMPLETE;
		if (buf[i] < '0' || buf[i] > '9')
			return H1_E_BAD;
		status = status * 10 + (buf[i] - '0');
	}
	if (status < 100)
		return H1_E_BAD;
	h->status = status;
	if (i >= len)
		return H1_INCOMPLETE;
	/* the reason phrase is optional (some servers omit even the space before it) */
	size_t s = i;
	if (buf[i] == ' ') {
		s = ++i;
		while (i < len && CLS(buf[i], H1C_FIELD))
			i++;
	}
	h->reason = (struct h1_span){buf + s, i - s};
	r = parse_crlf(buf, len, &i);
	if (r <= 0)
		return r;
	return parse_fields(buf, len, i, h);
}

int h1_parse_response(const char *buf, size_t len, size_t max_head, struct h1_span req_method,
		      struct h1_head *h)
{
	init_head(h);
	int r = limit(status_line(buf, len, h), len, max_head);
	if (r <= 0)
		return r;
	struct fields f;
	scan_fields(h, &f);
	if (f.ncl > 1 || (f.cl && f.te) || (f.te && f.te_bad))
		return H1_E_BAD;
	uint64_t cl = 0;
	if (f.cl && !parse_length(f.cl->value, &cl))
		return H1_E_BAD;
	h->head_len = (size_t)r;
	int st = h->status;
	bool connect = method_is(req_method, "CONNECT");
	if (st == 101) {
		h->framing = H1_BODY_TUNNEL;
		h->upgrade = true;
		return r;
	}
	if (st < 200)
		return r; /* an interim response: no body, the final one follows */
	if (connect && st < 300) {
		h->framing = H1_BODY_TUNNEL;
		return r;
	}
	h->keep_alive = h->minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	bool head = method_is(req_method, "HEAD");
	if (head || st == 204 || st == 304)
		return r;
	if (f.te && f.te_last_chunked) {
		h->framing = H1_BODY_CHUNKED;
		h->te_chunked = true;
	} else if (f.te || !f.cl) {
		h->framing = H1_BODY_EOF;
		h->keep_alive = false;
	} else {
		h->content_length = cl;
		h->framing = cl ? H1_BODY_LENGTH : H1_BODY_NONE;
	}
	return r;
}

int h1_error_status(int result)
{
	switch (result) {
	case H1_E_TOO_LARGE:
		return 431;
	case H1_E_VERSION:
		return 505;
	case H1_E_NOT_IMPLEMENTED:
		return 501;
	default:
		return 400;
	}
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

bool h1_span_eqi(struct h1_span s, const char *lit)
{
	size_t i = 0;
	if (!s.p)
		return false;
	for (; i < s.len; i++)
		if (!lit[i] || lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return false;
	return lit[i] == '\0';
}

bool h1_has_token(struct h1_span list, const char *token)
{
	size_t i = 0;
	while (list.p && i < list.len) {
		while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ','))
			i++;
		size_t s = i;
		while (i < list.len && list.p[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (list.p[e - 1] == ' ' || list.p[e - 1] == '\t'))
			e--;
		if (e > s && h1_span_eqi((struct h1_span){list.p + s, e - s}, token))
			return true;
	}
	return false;
}

const struct h1_header *h1_find(const struct h1_head *h, const char *name)
{
	for (size_t k = 0; k < h->nheaders; k++)
		if (h1_span_eqi(h->headers[k].name, name))
			return &h->headers[k];
	return NULL;
}

bool h1_is_idempotent(const struct h1_head *req)
{
	if (method_is(req->method, "GET") || method_is(req->method, "HEAD") ||
	    method_is(req->method, "OPTIONS") || method_is(req->method, "TRACE"))
		return true;
	return h1_find(req, "Idempotency-Key") || h1_find(req, "X-Idempotency-Key");
}
