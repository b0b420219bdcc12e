/* Unit tests for the HTTP/1.1 parser (src/http/h1.h): request and response heads, every strict
 * rule of the header comment, heads split at every byte, pipelining, framing (HEAD, 1xx, 204,
 * 304, CONNECT, 101), keep-alive for 1.0 and 1.1, limits (431), Host rules, the chunked and
 * Content-Length body scanners fed in every split, and the helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

#define MAXH 65536

static struct h1_head H;

static int req(const char *s)
{
	return h1_parse_request(s, strlen(s), MAXH, &H);
}

static int resp(const char *s, const char *method)
{
	struct h1_span m = {method, strlen(method)};
	return h1_parse_response(s, strlen(s), MAXH, m, &H);
}

static bool span_is(struct h1_span s, const char *lit)
{
	return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_request_basic(void **state)
{
	(void)state;
	const char *s = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-A:  v  1 \t\r\nX-E:\r\n\r\n";
	assert_int_equal(req(s), (int)strlen(s));
	assert_true(span_is(H.method, "GET"));
	assert_true(span_is(H.target, "/a?b=c"));
	assert_int_equal(H.minor, 1);
	assert_int_equal(H.nheaders, 3);
	assert_true(span_is(H.headers[0].name, "Host"));
	assert_true(span_is(H.headers[1].value, "v  1"));
	assert_int_equal(H.headers[2].value.len, 0);
	assert_true(span_is(H.host, "example.com"));
	assert_int_equal(H.head_len, strlen(s));
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(H.keep_alive);
	assert_false(H.expect_continue);
	assert_false(H.upgrade);
	assert_false(H.te_chunked);
	/* spans point into the buffer */
	assert_ptr_equal(H.method.p, s);
}

static void test_request_incomplete_every_prefix(void **state)
{
	(void)state;
	const char *s = "\r\n\r\nPOST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
			"Transfer-Encoding-X: a\r\n\r\n";
	size_t n = strlen(s);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(h1_parse_request(s, k, MAXH, &H), H1_INCOMPLETE);
	assert_int_equal(h1_parse_request(s, n, MAXH, &H), (int)n);
	assert_int_equal(H.framing, H1_BODY_LENGTH);
	assert_int_equal(H.content_length, 5);
	assert_true(span_is(H.method, "POST"));
}

static void test_request_pipelined(void **state)
{
	(void)state;
	const char *s = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\n"
			"Content-Length: 3\r\n\r\nabcGET /3 HTTP/1.0\r\n\r\n";
	size_t n = strlen(s), off = 0;
	int r = h1_parse_request(s, n, MAXH, &H);
	assert_true(r > 0);
	assert_true(span_is(H.target, "/1"));
	off += (size_t)r;
	r = h1_parse_request(s + off, n - off, MAXH, &H);
	assert_true(r > 0);
	assert_true(span_is(H.target, "/2"));
	off += (size_t)r;
	struct h1_body b;
	h1_body_init(&b, &H);
	const char *d;
	size_t dl;
	long c = h1_body_step(&b, s + off, n - off, &d, &dl);
	assert_int_equal(c, 3);
	assert_true(b.done);
	assert_int_equal(dl, 3);
	assert_memory_equal(d, "abc", 3);
	off += (size_t)c;
	r = h1_parse_request(s + off, n - off, MAXH, &H);
	assert_int_equal(r, (int)(n - off));
	assert_true(span_is(H.target, "/3"));
	assert_int_equal(H.minor, 0);
	assert_false(H.keep_alive);
}

static void test_request_strict(void **state)
{
	(void)state;
	static const char *bad[] = {
		/* CL with TE, two CLs (even equal), CL lists, signs, spaces */
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: "
		"chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
		"3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		/* TE not final chunked, chunked twice, chunked with parameters, empty elements */
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
		"gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
		"chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
		/* obs-fold, bare CR, bare LF, whitespace before colon, CTL and DEL in a field */
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\tX-A: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\r\r",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX\x80"
		"A: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX(A): a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n",
		/* request line */
		"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
		" GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / http/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/11\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.x\r\nHost: h\r\n\r\n",
		"GET /\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\rHost: h\r\n\r\n",
		"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		/* Host: missing on 1.1, twice, twice on 1.0 */
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		/* strlen stops at an embedded NUL: measure with the known literal instead */
		int r = req(bad[k]);
		if (r != H1_E_BAD)
			fail_msg("case %zu: %d for %s", k, r, bad[k]);
	}
	/* a NUL byte in a value, given by length */
	const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
	assert_int_equal(h1_parse_request(nul, sizeof(nul) - 1, MAXH, &H), H1_E_BAD);
}

static void test_request_errors_early(void **state)
{
	(void)state;
	/* a bad byte is reported at once, not after the head is complete */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\nX: \x01"), H1_E_BAD);
	assert_int_equal(req("\x16\x03\x01"), H1_E_BAD); /* a TLS hello */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\n "), H1_E_BAD);
	assert_int_equal(req("GET / HTTX"), H1_E_BAD);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\nX\n"), H1_E_BAD);
}

static void test_request_version(void **state)
{
	(void)state;
	assert_int_equal(req("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), H1_E_VERSION);
	assert_int_equal(req("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), H1_E_VERSION);
	assert_int_equal(req("GET / HTTP/0.9\r\n\r\n"), H1_E_VERSION);
	assert_int_equal(req("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), H1_E_VERSION);
	assert_int_equal(h1_error_status(H1_E_VERSION), 505);
	assert_int_equal(h1_error_status(H1_E_BAD), 400);
	assert_int_equal(h1_error_status(H1_E_TOO_LARGE), 431);
	assert_int_equal(h1_error_status(H1_E_NOT_IMPLEMENTED), 501);
}

static void test_request_te(void **state)
{
	(void)state;
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_true(H.te_chunked);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") >
		    0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
			"Transfer-Encoding: chunked\r\n\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_int_equal(
		req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n"),
		H1_E_NOT_IMPLEMENTED);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"),
			 H1_E_NOT_IMPLEMENTED);
	/* chunked on HTTP/1.0: read, then close */
	assert_true(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
			"Connection: keep-alive\r\n\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_false(H.keep_alive);
	/* Content-Length: 0 has no body */
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 0009223372036854775807\r\n"
			"\r\n") > 0);
	assert_int_equal(H.framing, H1_BODY_LENGTH);
	assert_int_equal(H.content_length, INT64_MAX);
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	assert_true(H.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") > 0);
	assert_false(H.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n") > 0);
	assert_false(H.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n") > 0);
	assert_true(H.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\n\r\n") > 0);
	assert_false(H.keep_alive);
	assert_true(span_is(H.host, "") == false && H.host.p == NULL);
	assert_true(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
	assert_true(H.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") > 0);
	assert_false(H.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "GET") > 0);
	assert_true(H.keep_alive);
	assert_true(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET") > 0);
	assert_false(H.keep_alive);
	assert_true(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
			 "GET") > 0);
	assert_true(H.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
			 "GET") > 0);
	assert_false(H.keep_alive);
	/* a body until close is never keep-alive */
	assert_true(resp("HTTP/1.1 200 OK\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_EOF);
	assert_false(H.keep_alive);
}

static void test_expect_upgrade(void **state)
{
	(void)state;
	assert_true(req("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
			"Content-Length: 10\r\n\r\n") > 0);
	assert_true(H.expect_continue);
	assert_true(req("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue-x\r\n\r\n") > 0);
	assert_false(H.expect_continue);
	assert_true(req("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
			"Connection: keep-alive, Upgrade\r\n\r\n") > 0);
	assert_true(H.upgrade);
	/* Upgrade not named in Connection: not an upgrade (a proxy drops it as hop-by-hop) */
	assert_true(req("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n") > 0);
	assert_false(H.upgrade);
	assert_true(req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n") > 0);
	assert_false(H.upgrade);
}

static void test_limits(void **state)
{
	(void)state;
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t n = strlen(s);
	assert_int_equal(h1_parse_request(s, n, n, &H), (int)n);
	assert_int_equal(h1_parse_request(s, n, n - 1, &H), H1_E_TOO_LARGE);
	/* incomplete at max_head bytes: 431; fewer: wait */
	assert_int_equal(h1_parse_request(s, n - 1, n - 1, &H), H1_E_TOO_LARGE);
	assert_int_equal(h1_parse_request(s, n - 1, n, &H), H1_INCOMPLETE);
	/* H1_MAX_HEADERS fields pass, one more is 431 */
	char big[8192];
	size_t off = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int k = 1; k < H1_MAX_HEADERS; k++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "X-%d: %d\r\n", k, k);
	memcpy(big + off, "\r\n", 3);
	assert_true(req(big) > 0);
	assert_int_equal(H.nheaders, H1_MAX_HEADERS);
	off += (size_t)snprintf(big + off, sizeof(big) - off, "X-last: 1\r\n\r\n");
	assert_int_equal(req(big), H1_E_TOO_LARGE);
	/* the response parser has the same limits */
	struct h1_span get = {"GET", 3};
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(h1_parse_response(r, strlen(r), 10, get, &H), H1_E_TOO_LARGE);
}

static void test_host(void **state)
{
	(void)state;
	assert_true(req("GET / HTTP/1.1\r\nhOsT: a.b:8080\r\n\r\n") > 0);
	assert_true(span_is(H.host, "a.b:8080"));
	assert_true(req("GET / HTTP/1.1\r\nHost:\r\n\r\n") > 0); /* empty is allowed */
	assert_non_null(H.host.p);
	assert_int_equal(H.host.len, 0);
	assert_true(req("GET / HTTP/1.0\r\n\r\n") > 0);
	assert_null(H.host.p);
	assert_true(req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	assert_true(span_is(H.target, "*"));
	assert_true(req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") > 0);
	assert_true(span_is(H.target, "example.com:443"));
	assert_int_equal(H.framing, H1_BODY_NONE);
}

static void test_leading_empty_lines(void **state)
{
	(void)state;
	const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	assert_int_equal(req(s), (int)strlen(s));
	assert_int_equal(H.head_len, strlen(s));
	assert_true(span_is(H.method, "GET"));
	assert_int_equal(req("\r\n"), H1_INCOMPLETE);
	assert_int_equal(req("\r"), H1_INCOMPLETE);
}

static void test_response_framing(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: x\r\n\r\n";
	assert_int_equal(resp(s, "GET"), (int)strlen(s));
	assert_int_equal(H.status, 200);
	assert_true(span_is(H.reason, "OK"));
	assert_int_equal(H.framing, H1_BODY_LENGTH);
	assert_int_equal(H.content_length, 12);
	/* HEAD, 204, 304: no body whatever the fields say */
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(H.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(resp("HTTP/1.1 204 No Content\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(H.keep_alive);
	assert_true(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	/* 1xx: a head of its own; 101: a tunnel */
	assert_true(resp("HTTP/1.1 100 Continue\r\n\r\n", "POST") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_int_equal(H.status, 100);
	assert_true(resp("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", "GET") >
		    0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	assert_true(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\n\r\n",
			 "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_TUNNEL);
	assert_true(H.upgrade);
	/* CONNECT: 2xx is a tunnel, anything else is a normal response */
	assert_true(resp("HTTP/1.1 200 Connection Established\r\n\r\n", "CONNECT") > 0);
	assert_int_equal(H.framing, H1_BODY_TUNNEL);
	assert_true(resp("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\n", "CONNECT") > 0);
	assert_int_equal(H.framing, H1_BODY_LENGTH);
	/* chunked; a TE not final chunked reads until close */
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_CHUNKED);
	assert_true(H.te_chunked);
	assert_true(H.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_EOF);
	assert_false(H.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET") > 0);
	assert_int_equal(H.framing, H1_BODY_NONE);
	/* the reason phrase is optional, obs-text allowed */
	assert_true(resp("HTTP/1.1 200\r\n\r\n", "GET") > 0);
	assert_int_equal(H.reason.len, 0);
	assert_true(resp("HTTP/1.1 404 \r\n\r\n", "GET") > 0);
	assert_true(resp("HTTP/1.1 200 \xc3\xa9t\xc3\xa9 ok\r\n\r\n", "GET") > 0);
	assert_int_equal(H.status, 200);
	assert_true(resp("HTTP/1.1 999 X\r\n\r\n", "GET") > 0);
	assert_int_equal(H.status, 999);
}

static void test_response_strict(void **state)
{
	(void)state;
	static const char *bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\nX: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\rX: a\r\n\r\n",
		"HTTX/1.1 200 OK\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		/* the connection is already in error for 1xx and 304 too */
		"HTTP/1.1 304 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int r = resp(bad[k], "GET");
		if (r != H1_E_BAD)
			fail_msg("case %zu: %d for %s", k, r, bad[k]);
	}
	assert_int_equal(resp("HTTP/2.0 200 OK\r\n\r\n", "GET"), H1_E_VERSION);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Le", "GET"), H1_INCOMPLETE);
	assert_int_equal(resp("HTTP/1.1 20", "GET"), H1_INCOMPLETE);
	assert_int_equal(resp("HTTP/1.1 200", "GET"), H1_INCOMPLETE);
	assert_int_equal(resp("", "GET"), H1_INCOMPLETE);
}

static void test_split_every_offset(void **state)
{
	(void)state;
	const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n";
	size_t n = strlen(r);
	struct h1_span get = {"GET", 3};
	for (size_t k = 0; k < n; k++)
		assert_int_equal(h1_parse_response(r, k, MAXH, get, &H), H1_INCOMPLETE);
	assert_int_equal(h1_parse_response(r, n, MAXH, get, &H), (int)n);
}

/* Feed a whole message body split at cut (and again with one byte a call), collecting the
 * payload: returns bytes consumed or the error. */
static long feed(struct h1_body *b, const char *in, size_t len, size_t cut, char *out,
		 size_t *out_len)
{
	size_t off = 0;
	*out_len = 0;
	while (off < len && !b->done) {
		size_t end = off < cut ? cut : len;
		if (cut == 0)
			end = off + 1;
		const char *d;
		size_t dl;
		long c = h1_body_step(b, in + off, end - off, &d, &dl);
		if (c < 0)
			return c;
		if (d) {
			assert_true(d >= in + off && d + dl <= in + off + (size_t)c);
			assert_true(d + dl == in + off + (size_t)c);
			memcpy(out + *out_len, d, dl);
			*out_len += dl;
		}
		if (c == 0 && end > off && !b->done)
			fail_msg("no progress at %zu", off);
		off += (size_t)c;
	}
	return (long)off;
}

static struct h1_head chunked_head(void)
{
	struct h1_head h;
	memset(&h, 0, sizeof(h));
	h.framing = H1_BODY_CHUNKED;
	return h;
}

static void test_chunked_every_split(void **state)
{
	(void)state;
	const char *body = "5\r\nhello\r\n1;ext=1;q=\"a b\"\r\n \r\nA  \r\n0123456789\r\n"
			   "0\r\nX-Trailer: t\r\nY:\r\n\r\nNEXT";
	size_t n = strlen(body) - 4;
	struct h1_head h = chunked_head();
	for (size_t cut = 0; cut <= n; cut++) {
		struct h1_body b;
		h1_body_init(&b, &h);
		char out[64];
		size_t ol;
		long c = feed(&b, body, n + 4, cut, out, &ol);
		assert_int_equal(c, (long)n);
		assert_true(b.done);
		assert_int_equal(ol, 16);
		assert_memory_equal(out, "hello 0123456789", 16);
		/* done is sticky */
		assert_int_equal(h1_body_step(&b, "NEXT", 4, NULL, NULL), 0);
		assert_true(b.done);
	}
}

static long chunked(const char *s)
{
	struct h1_head h = chunked_head();
	struct h1_body b;
	h1_body_init(&b, &h);
	char out[256];
	size_t ol;
	long r = feed(&b, s, strlen(s), strlen(s), out, &ol);
	if (r >= 0 && !b.done)
		return 0;
	return r;
}

static void test_chunked_bad(void **state)
{
	(void)state;
	static const char *bad[] = {
		"\r\n",				 /* empty size */
		"x\r\n",			 /* non-hex */
		"-1\r\n",			 /* sign */
		"0x5\r\nhello\r\n0\r\n\r\n",	 /* 0x prefix */
		"11111111111111111\r\n",	 /* 17 digits */
		"00000000000000001\r\n",	 /* 17 digits, even with leading zeros */
		"8000000000000000\r\n",		 /* 2^63 */
		"5\nhello\r\n0\r\n\r\n",	 /* bare LF after the size */
		"5\r\nhello\n0\r\n\r\n",	 /* bare LF after the data */
		"5\r\nhelloX\r\n0\r\n\r\n",	 /* data longer than the size */
		"5\r\nhello\r\r\n",		 /* CR CR */
		"5 x\r\nhello\r\n0\r\n\r\n",	 /* junk after the size */
		"5;a\nb\r\nhello\r\n0\r\n\r\n",	 /* LF inside an extension */
		"5;a\x01\r\nhello\r\n0\r\n\r\n", /* CTL inside an extension */
		"0\r\nX: a\n\r\n",		 /* trailer with bare LF */
		"0\r\n X: a\r\n\r\n",		 /* trailer obs-fold */
		"0\r\nX : a\r\n\r\n",		 /* space before colon */
		"0\r\n: a\r\n\r\n",		 /* empty trailer name */
		"0\r\nX: \x7f\r\n\r\n",		 /* DEL */
		"0\r\n\n",			 /* final bare LF */
		"0\r\n\r\r",			 /* final CR CR */
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		long r = chunked(bad[k]);
		if (r != H1_E_BAD)
			fail_msg("case %zu: %ld for %s", k, r, bad[k]);
	}
	assert_true(chunked("7fffffffffffffff\r\n") == 0); /* the largest size: waits for data */
	assert_true(chunked("0000000000000000\r\n\r\n") > 0);
	assert_true(chunked("0 \t\r\n\r\n") > 0);
	assert_true(chunked("0 ; a = b\r\n\r\n") > 0);
	/* a bad body stays bad */
	struct h1_head h = chunked_head();
	struct h1_body b;
	h1_body_init(&b, &h);
	assert_int_equal(h1_body_step(&b, "z", 1, NULL, NULL), H1_E_BAD);
	assert_int_equal(h1_body_step(&b, "0\r\n\r\n", 5, NULL, NULL), H1_E_BAD);
	assert_false(b.done);
}

static void test_chunked_trailer_limit(void **state)
{
	(void)state;
	static char s[20000];
	size_t off = (size_t)snprintf(s, sizeof(s), "0\r\n");
	while (off < 9000)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "X-Pad: %0100d\r\n", 0);
	snprintf(s + off, sizeof(s) - off, "\r\n");
	assert_int_equal(chunked(s), H1_E_BAD);
	/* under the bound: passes */
	off = (size_t)snprintf(s, sizeof(s), "0\r\n");
	while (off < 7000)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "X-Pad: %0100d\r\n", 0);
	snprintf(s + off, sizeof(s) - off, "\r\n");
	assert_true(chunked(s) > 0);
	/* a size line with extensions past 4 KiB */
	off = (size_t)snprintf(s, sizeof(s), "1;");
	while (off < 5000)
		s[off++] = 'a';
	snprintf(s + off, sizeof(s) - off, "\r\nx\r\n0\r\n\r\n");
	assert_int_equal(chunked(s), H1_E_BAD);
}

static void test_length_body(void **state)
{
	(void)state;
	struct h1_head h;
	const char *put = "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
	const char *get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	assert_true(h1_parse_request(put, strlen(put), MAXH, &h) > 0);
	struct h1_body b;
	h1_body_init(&b, &h);
	assert_false(b.done);
	const char *d;
	size_t dl;
	assert_int_equal(h1_body_step(&b, "0123", 4, &d, &dl), 4);
	assert_int_equal(dl, 4);
	assert_false(b.done);
	assert_int_equal(b.remaining, 6);
	assert_int_equal(h1_body_step(&b, "456789GET", 9, &d, &dl), 6);
	assert_int_equal(dl, 6);
	assert_memory_equal(d, "456789", 6);
	assert_true(b.done);
	assert_int_equal(h1_body_step(&b, "GET", 3, &d, &dl), 0);
	assert_null(d);
	/* no body: done at once */
	assert_true(h1_parse_request(get, strlen(get), MAXH, &h) > 0);
	h1_body_init(&b, &h);
	assert_true(b.done);
	/* until close: every byte is payload, never done */
	assert_true(resp("HTTP/1.1 200 OK\r\n\r\n", "GET") > 0);
	h1_body_init(&b, &H);
	assert_int_equal(h1_body_step(&b, "abc", 3, &d, &dl), 3);
	assert_int_equal(dl, 3);
	assert_false(b.done);
}

static void test_helpers(void **state)
{
	(void)state;
	struct h1_span s = {"Keep-Alive", 10};
	assert_true(h1_span_eqi(s, "keep-alive"));
	assert_false(h1_span_eqi(s, "keep-aliv"));
	assert_false(h1_span_eqi(s, "keep-alive2"));
	assert_false(h1_span_eqi((struct h1_span){NULL, 0}, ""));
	assert_true(h1_span_eqi((struct h1_span){"", 0}, ""));
	struct h1_span l = {" a ,b,, Upgrade\t, close ", 24};
	assert_true(h1_has_token(l, "upgrade"));
	assert_true(h1_has_token(l, "CLOSE"));
	assert_true(h1_has_token(l, "a"));
	assert_false(h1_has_token(l, "up"));
	assert_false(h1_has_token(l, ""));
	assert_false(h1_has_token((struct h1_span){NULL, 0}, "a"));

	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n") > 0);
	const struct h1_header *f = h1_find(&H, "X-A");
	assert_non_null(f);
	assert_true(span_is(f->value, "1"));
	assert_null(h1_find(&H, "X-B"));
	assert_true(h1_is_idempotent(&H));
	static const char *yes[] = {"HEAD", "OPTIONS", "TRACE"};
	for (size_t k = 0; k < 3; k++) {
		char b[128];
		snprintf(b, sizeof(b), "%s / HTTP/1.1\r\nHost: h\r\n\r\n", yes[k]);
		assert_true(req(b) > 0);
		assert_true(h1_is_idempotent(&H));
	}
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n") > 0);
	assert_false(h1_is_idempotent(&H));
	assert_true(req("get / HTTP/1.1\r\nHost: h\r\n\r\n") > 0); /* methods are case-sensitive */
	assert_false(h1_is_idempotent(&H));
	assert_true(req("PUT / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	assert_false(h1_is_idempotent(&H));
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nidempotency-key: \r\n\r\n") > 0);
	assert_true(h1_is_idempotent(&H));
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nX-Idempotency-Key: 7\r\n\r\n") > 0);
	assert_true(h1_is_idempotent(&H));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_basic),
		cmocka_unit_test(test_request_incomplete_every_prefix),
		cmocka_unit_test(test_request_pipelined),
		cmocka_unit_test(test_request_strict),
		cmocka_unit_test(test_request_errors_early),
		cmocka_unit_test(test_request_version),
		cmocka_unit_test(test_request_te),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_expect_upgrade),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_response_strict),
		cmocka_unit_test(test_split_every_offset),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_chunked_bad),
		cmocka_unit_test(test_chunked_trailer_limit),
		cmocka_unit_test(test_length_body),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
