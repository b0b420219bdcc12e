/* libFuzzer target: the HTTP/1.1 parser (http/h1.h). The first byte picks request or response
 * (and the request method a response answers), the second a split point; the rest is one or
 * more messages. Heads are parsed whole and at the split, bodies stepped through in pieces.
 * Invariants: spans lie inside the buffer, a head parses the same at any length past its end,
 * a prefix of a head is never complete, step consumes 0..len, payload lies inside the consumed
 * bytes, and done is sticky. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(struct h1_span s, const char *buf, size_t len)
{
	if (s.p && (s.p < buf || s.p + s.len > buf + len))
		abort();
	if (!s.p && s.len)
		abort();
}

static int parse(bool request, const char *buf, size_t len, struct h1_span m, struct h1_head *h)
{
	return request ? h1_parse_request(buf, len, 16384, h)
		       : h1_parse_response(buf, len, 16384, m, h);
}

static void check_head(const struct h1_head *h, const char *buf, size_t len, int r)
{
	if ((size_t)r != h->head_len || h->head_len > len || h->nheaders > H1_MAX_HEADERS)
		abort();
	check_span(h->method, buf, h->head_len);
	check_span(h->target, buf, h->head_len);
	check_span(h->reason, buf, h->head_len);
	check_span(h->host, buf, h->head_len);
	for (size_t k = 0; k < h->nheaders; k++) {
		check_span(h->headers[k].name, buf, h->head_len);
		check_span(h->headers[k].value, buf, h->head_len);
		if (h->headers[k].name.len == 0)
			abort();
	}
	if (h->framing == H1_BODY_LENGTH && h->content_length == 0)
		abort();
	if (h->framing == H1_BODY_EOF && h->keep_alive)
		abort();
}

/* Step through the body in pieces of step bytes; returns bytes of the message or -1. */
static long body(const struct h1_head *h, const char *buf, size_t len, size_t step)
{
	struct h1_body b;
	h1_body_init(&b, h);
	size_t off = 0;
	int idle = 0;
	while (off < len && !b.done) {
		size_t n = len - off < step ? len - off : step;
		const char *d;
		size_t dl;
		long c = h1_body_step(&b, buf + off, n, &d, &dl);
		if (c < 0)
			return -1;
		if ((size_t)c > n)
			abort();
		if (d && (d < buf + off || d + dl > buf + off + (size_t)c || dl == 0))
			abort();
		/* no progress twice in a row on a non-empty input: a stuck scanner */
		idle = c == 0 ? idle + 1 : 0;
		if (idle > 1)
			abort();
		off += (size_t)c;
	}
	if (b.done) {
		/* sticky: nothing more belongs to this message */
		if (h1_body_step(&b, buf, len, NULL, NULL) != 0 || !b.done)
			abort();
	}
	return (long)off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	bool request = data[0] & 1;
	static const char *methods[] = {"GET", "HEAD", "CONNECT", "POST"};
	const char *mname = methods[(data[0] >> 1) & 3];
	struct h1_span m = {mname, strlen(mname)};
	size_t len = size - 2;
	size_t split = len ? data[1] % (len + 1) : 0;
	/* copy so that ASan catches reads past the end */
	char *buf = malloc(len ? len : 1);
	memcpy(buf, data + 2, len);
	static struct h1_head h, h2;
	size_t off = 0;
	for (int msgs = 0; msgs < 8 && off < len; msgs++) {
		const char *p = buf + off;
		size_t n = len - off;
		int r = parse(request, p, n, m, &h);
		if (r > 0) {
			check_head(&h, p, n, r);
			/* the same head from exactly its bytes; any shorter prefix is incomplete */
			int r2 = parse(request, p, (size_t)r, m, &h2);
			if (r2 != r || h2.framing != h.framing || h2.nheaders != h.nheaders ||
			    h2.keep_alive != h.keep_alive || h2.content_length != h.content_length)
				abort();
			size_t cut = split < (size_t)r ? split : (size_t)r - 1;
			if (parse(request, p, cut, m, &h2) != H1_INCOMPLETE)
				abort();
		} else if (r < H1_E_NOT_IMPLEMENTED || r > 0) {
			abort();
		}
		if (r <= 0)
			break;
		if (h1_error_status(r) < 400 && r < 0)
			abort();
		h1_is_idempotent(&h);
		h1_find(&h, "content-type");
		off += (size_t)r;
		long whole = body(&h, buf + off, len - off, len);
		long bytes = body(&h, buf + off, len - off, 1 + split % 7);
		if (whole != bytes)
			abort();
		if (whole < 0 || h.framing == H1_BODY_EOF || h.framing == H1_BODY_TUNNEL)
			break;
		off += (size_t)whole;
	}
	free(buf);
	return 0;
}
