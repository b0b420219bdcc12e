/* h1dump FILE...: what baton's HTTP/1.1 parser (src/http/h1.h) decides about the first message
 * of each file, one JSON object a line, for the differential test against python3-h11
 * (tests/e2e/test_h1_diff.py). Files use the fuzz target's layout (fuzz/fuzz_h1.c): byte 0 bit 0
 * = a request (else a response), bits 1-2 pick the request method a response answers (GET, HEAD,
 * CONNECT, POST); byte 1 is ignored; the message follows. The end of the file is the peer's
 * close. Bytes are printed as JSON strings with \u00XX for anything outside printable ASCII
 * (Latin-1, as Python's bytes.decode("latin-1") reads them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

#define MAX_HEAD 65536

static void str(const char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void span(const char *key, struct h1_span s)
{
	printf(", \"%s\": ", key);
	if (s.p)
		str(s.p, s.len);
	else
		printf("null");
}

static const char *framing_name(enum h1_framing f)
{
	static const char *names[] = {"none", "length", "chunked", "eof", "tunnel"};
	return names[f];
}

static void dump(const char *buf, size_t len)
{
	static const char *methods[] = {"GET", "HEAD", "CONNECT", "POST"};
	if (len < 2) {
		printf("{\"skip\": true}\n");
		return;
	}
	bool request = buf[0] & 1;
	const char *mname = methods[(buf[0] >> 1) & 3];
	struct h1_span m = {mname, strlen(mname)};
	buf += 2;
	len -= 2;
	static struct h1_head h;
	int r = request ? h1_parse_request(buf, len, MAX_HEAD, &h)
			: h1_parse_response(buf, len, MAX_HEAD, m, &h);
	printf("{\"request\": %s, \"req_method\": \"%s\", \"result\": %d",
	       request ? "true" : "false", mname, r);
	if (r <= 0) {
		printf("}\n");
		return;
	}
	span("method", h.method);
	span("target", h.target);
	printf(", \"status\": %d, \"minor\": %d, \"headers\": [", h.status, h.minor);
	for (size_t k = 0; k < h.nheaders; k++) {
		printf(k ? ", [" : "[");
		str(h.headers[k].name.p, h.headers[k].name.len);
		printf(", ");
		str(h.headers[k].value.p, h.headers[k].value.len);
		printf("]");
	}
	printf("], \"framing\": \"%s\", \"content_length\": %llu, \"keep_alive\": %s",
	       framing_name(h.framing), (unsigned long long)h.content_length,
	       h.keep_alive ? "true" : "false");
	printf(", \"expect_continue\": %s, \"upgrade\": %s", h.expect_continue ? "true" : "false",
	       h.upgrade ? "true" : "false");
	/* the body: payload decoded until the message ends, an error, or the end of the file */
	struct h1_body b;
	h1_body_init(&b, &h);
	size_t off = (size_t)r;
	static char body[1 << 20];
	size_t blen = 0;
	const char *err = NULL;
	while (off < len && !b.done) {
		const char *d;
		size_t dl;
		long c = h1_body_step(&b, buf + off, len - off, &d, &dl);
		if (c < 0) {
			err = "bad";
			break;
		}
		if (d && blen + dl <= sizeof(body)) {
			memcpy(body + blen, d, dl);
			blen += dl;
		}
		off += (size_t)c;
	}
	const char *end = err			     ? err
			  : b.done		     ? "done"
			  : h.framing == H1_BODY_EOF ? "eof"
						     : "incomplete";
	printf(", \"body_end\": \"%s\", \"body\": ", end);
	str(body, blen);
	printf(", \"rest\": %zu}\n", len - off);
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rbe");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		dump(buf, n);
	}
	return 0;
}
