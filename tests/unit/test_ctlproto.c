/* Unit tests for the control protocol: request parsing, both incremental decoders (split
 * reads, several messages per read, garbage, limits) and the encoders (round trips, cleaning,
 * truncation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlproto.h"
#include "util/buf.h"

/* ctlproto_parse_request() with the reason copied to why (CTLPROTO_WHY_MAX bytes). */
static int parse_into(const char *line, size_t len, struct ctl_request *req, char *why)
{
	char *err = NULL;
	int r = ctlproto_parse_request(line, len, req, &err);
	assert_true((r < 0) == (err != NULL));
	snprintf(why, CTLPROTO_WHY_MAX, "%s", err ? err : "");
	free(err);
	return r;
}

static int parse(const char *line, struct ctl_request *req, char *why)
{
	return parse_into(line, strlen(line), req, why);
}

static void test_parse_valid(void **state)
{
	(void)state;
	struct ctl_request r;
	char why[CTLPROTO_WHY_MAX];
	assert_int_equal(parse("reload", &r, why), 0);
	assert_int_equal(r.verb, CTL_RELOAD);
	assert_int_equal(parse("stop", &r, why), 0);
	assert_int_equal(r.verb, CTL_STOP);
	assert_int_equal(parse("upgrade", &r, why), 0);
	assert_int_equal(r.verb, CTL_UPGRADE);
	assert_int_equal(parse("upgrade now", &r, why), -EINVAL);
	assert_int_equal(parse("promote", &r, why), 0);
	assert_int_equal(r.verb, CTL_PROMOTE);
	assert_int_equal(parse("abort", &r, why), 0);
	assert_int_equal(r.verb, CTL_ABORT);
	assert_int_equal(parse("rollback", &r, why), 0);
	assert_int_equal(r.verb, CTL_ROLLBACK);
	assert_int_equal(parse("rollback 3", &r, why), -EINVAL);
	assert_int_equal(parse("abor", &r, why), -EINVAL);
	assert_int_equal(parse("rollbacks", &r, why), -EINVAL);
	assert_int_equal(parse("status", &r, why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_false(r.json);
	assert_int_equal(parse("status json", &r, why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_true(r.json);
	assert_int_equal(parse("  status \t json\t ", &r, why), 0);
	assert_true(r.json);
	assert_int_equal(parse("reload\r", &r, why), 0);
	assert_int_equal(r.verb, CTL_RELOAD);
	assert_int_equal(parse("hello 1", &r, why), 0);
	assert_int_equal(r.verb, CTL_HELLO);
	assert_string_equal(r.version, "1");
	assert_int_equal(parse("hello 0.1.0-rc1+git", &r, why), 0);
	assert_string_equal(r.version, "0.1.0-rc1+git");
	assert_string_equal(ctlproto_verb_name(CTL_RELOAD), "reload");
	assert_string_equal(ctlproto_verb_name((enum ctl_verb)99), "?");
}

static void expect_err(const char *line, size_t len, int err, const char *needle)
{
	struct ctl_request r;
	char why[CTLPROTO_WHY_MAX] = "";
	int rc = parse_into(line, len, &r, why);
	if (rc != err || !strstr(why, needle))
		fail_msg("'%.*s': got %d '%s', want %d containing '%s'", (int)len, line, rc, why,
			 err, needle);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_err("relaod", 6, -EINVAL, "unknown command 'relaod'");
	expect_err("RELOAD", 6, -EINVAL, "unknown command 'RELOAD'");
	expect_err("reload now", 10, -EINVAL, "'reload' takes no argument");
	expect_err("stop it", 7, -EINVAL, "'stop' takes no argument");
	expect_err("status xml", 10, -EINVAL, "unknown status format 'xml' (expected 'json')");
	expect_err("status json please", 18, -EINVAL, "at most one argument");
	expect_err("status json a b c d", 19, -EINVAL, "at most one argument");
	expect_err("hello", 5, -EINVAL, "'hello' needs a version");
	expect_err("hello 1 2", 9, -EINVAL, "one argument");
	expect_err("hello a/b", 9, -EINVAL, "bad version 'a/b'");
	expect_err("hello 123456789012345678901234567890123", 39, -EINVAL, "bad version");
	expect_err("", 0, -ENODATA, "empty");
	expect_err(" \t ", 3, -ENODATA, "empty");
	expect_err("rel\0oad", 7, -EBADMSG, "NUL byte");
	expect_err("rel\033oad", 7, -EBADMSG, "control character 0x1b");
	expect_err("status\x7f", 7, -EBADMSG, "control character 0x7f");
	expect_err("stat\xc3", 5, -EILSEQ, "not valid UTF-8");
	expect_err("\xc0\xafstop", 6, -EILSEQ, "not valid UTF-8");     /* overlong '/' */
	expect_err("\xed\xa0\x80", 3, -EILSEQ, "not valid UTF-8");     /* surrogate */
	expect_err("\xf4\x90\x80\x80", 4, -EILSEQ, "not valid UTF-8"); /* > U+10FFFF */
	expect_err("\xe0\x80\xaf", 3, -EILSEQ, "not valid UTF-8");     /* overlong 3-byte */
	/* valid UTF-8 but unknown: quoted, long words cut */
	expect_err("r\xc3\xa9load", 7, -EINVAL, "unknown command 'r\xc3\xa9load'");
	char big[CTLPROTO_REQUEST_MAX + 10];
	memset(big, 'x', sizeof(big));
	expect_err(big, CTLPROTO_REQUEST_MAX - 1, -EINVAL, "xxx...'");
	expect_err(big, CTLPROTO_REQUEST_MAX, -EMSGSIZE, "longer than 512");
}

/* ---- request decoder ---- */

struct reqs {
	struct ctl_request v[16];
	int n;
	int err;
};

/* Feed data in chunks of `step` bytes; collect requests until an error. */
static void feed_reqs(const char *data, size_t len, size_t step, struct reqs *out)
{
	struct ctlproto_reqdec d;
	ctlproto_reqdec_init(&d);
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; off < len;) {
		size_t n = len - off < step ? len - off : step;
		size_t pos = 0;
		while (pos < n) {
			size_t used;
			int r = ctlproto_reqdec_feed(&d, data + off + pos, n - pos, &used,
						     &out->v[out->n]);
			assert_true(used <= n - pos);
			pos += used;
			if (r < 0) {
				out->err = r;
				return;
			}
			if (r > 0)
				out->n++;
			else
				assert_int_equal(pos, n);
		}
		off += n;
	}
	int r = ctlproto_reqdec_finish(&d, &out->v[out->n]);
	if (r < 0)
		out->err = r;
	else if (r > 0)
		out->n++;
}

static void test_reqdec_split(void **state)
{
	(void)state;
	const char *in = "reload\n\n  \nstatus json\r\nhello 1\nstop";
	size_t steps[] = {1, 2, 3, 7, 1000};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct reqs r;
		feed_reqs(in, strlen(in), steps[i], &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.n, 4); /* the unterminated "stop" comes from finish() */
		assert_int_equal(r.v[0].verb, CTL_RELOAD);
		assert_int_equal(r.v[1].verb, CTL_STATUS);
		assert_true(r.v[1].json);
		assert_int_equal(r.v[2].verb, CTL_HELLO);
		assert_string_equal(r.v[2].version, "1");
		assert_int_equal(r.v[3].verb, CTL_STOP);
	}
}

static void test_reqdec_used(void **state)
{
	(void)state;
	struct ctlproto_reqdec d;
	struct ctl_request req;
	size_t used;
	ctlproto_reqdec_init(&d);
	const char *in = "status\nstop\nrel";
	assert_int_equal(ctlproto_reqdec_feed(&d, in, strlen(in), &used, &req), 1);
	assert_int_equal(used, 7);
	assert_int_equal(req.verb, CTL_STATUS);
	assert_int_equal(ctlproto_reqdec_feed(&d, in + 7, strlen(in) - 7, &used, &req), 1);
	assert_int_equal(used, 5);
	assert_int_equal(req.verb, CTL_STOP);
	assert_int_equal(ctlproto_reqdec_feed(&d, in + 12, 3, &used, &req), 0);
	assert_int_equal(used, 3);
	assert_int_equal(ctlproto_reqdec_feed(&d, "oad\n", 4, &used, &req), 1);
	assert_int_equal(req.verb, CTL_RELOAD);
	assert_int_equal(ctlproto_reqdec_finish(&d, &req), 0);
}

static void test_reqdec_limits(void **state)
{
	(void)state;
	char buf[CTLPROTO_REQUEST_MAX + 2];
	struct ctlproto_reqdec d;
	struct ctl_request req;
	size_t used;

	/* 511 bytes + LF = 512: the longest acceptable line (an unknown command, but parsed) */
	memset(buf, 'a', sizeof(buf));
	buf[CTLPROTO_REQUEST_MAX - 1] = '\n';
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, buf, CTLPROTO_REQUEST_MAX, &used, &req), -EINVAL);

	/* "status" padded with spaces to 511 + LF is fine */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "status", 6);
	buf[CTLPROTO_REQUEST_MAX - 1] = '\n';
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, buf, CTLPROTO_REQUEST_MAX, &used, &req), 1);

	/* 512 bytes without LF: too long already, reported before any LF arrives */
	memset(buf, 'a', sizeof(buf));
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, buf, 300, &used, &req), 0);
	assert_int_equal(ctlproto_reqdec_feed(&d, buf, 211, &used, &req), 0);
	assert_int_equal(ctlproto_reqdec_feed(&d, buf, 1, &used, &req), -EMSGSIZE);
	assert_non_null(strstr(ctlproto_reqdec_why(&d), "longer than 512 bytes"));
	/* sticky */
	assert_int_equal(ctlproto_reqdec_feed(&d, "stop\n", 5, &used, &req), -EMSGSIZE);
	assert_int_equal(ctlproto_reqdec_finish(&d, &req), -EMSGSIZE);

	/* a NUL is reported at once, without waiting for the line's end */
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, "sta\0", 4, &used, &req), -EBADMSG);
	assert_string_equal(ctlproto_reqdec_why(&d), "NUL byte in request");

	/* an unknown verb is an error of the stream too */
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, "bogus\nstop\n", 11, &used, &req), -EINVAL);
	assert_non_null(strstr(ctlproto_reqdec_why(&d), "'bogus'"));
	assert_int_equal(ctlproto_reqdec_feed(&d, "stop\n", 5, &used, &req), -EINVAL);

	/* invalid UTF-8 split across reads */
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, "stop\xe2\x82", 6, &used, &req), 0);
	assert_int_equal(ctlproto_reqdec_feed(&d, "\n", 1, &used, &req), -EILSEQ);
	/* and valid UTF-8 split across reads is fine (then an unknown verb) */
	ctlproto_reqdec_init(&d);
	assert_int_equal(ctlproto_reqdec_feed(&d, "\xe2\x82", 2, &used, &req), 0);
	assert_int_equal(ctlproto_reqdec_feed(&d, "\xac\n", 2, &used, &req), -EINVAL);
	assert_non_null(strstr(ctlproto_reqdec_why(&d), "'\xe2\x82\xac'"));
}

static void test_reqdec_garbage(void **state)
{
	(void)state;
	/* deterministic pseudo-random bytes: any outcome but a crash is fine, and every error
	 * has a reason */
	uint32_t x = 12345;
	for (int round = 0; round < 2000; round++) {
		char buf[700];
		size_t n = (size_t)(round % 700);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (char)(x >> 16);
			if (round % 3 == 0 && buf[i] & 1)
				buf[i] = "reload status json\n"[x % 19];
		}
		struct reqs r;
		feed_reqs(buf, n, 1 + round % 13, &r);
		if (r.err)
			assert_true(r.err == -EINVAL || r.err == -EBADMSG || r.err == -EILSEQ ||
				    r.err == -EMSGSIZE);
	}
}

/* ---- response decoder ---- */

struct resps {
	struct ctl_response v[8];
	int n;
	int err;
	char why[CTLPROTO_WHY_MAX];
};

static void feed_resps(const char *data, size_t len, size_t step, struct resps *out)
{
	struct ctlproto_respdec d;
	ctlproto_respdec_init(&d);
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; off < len && !out->err;) {
		size_t n = len - off < step ? len - off : step;
		size_t pos = 0;
		while (pos < n) {
			size_t used;
			assert_true(out->n < 8);
			int r = ctlproto_respdec_feed(&d, data + off + pos, n - pos, &used,
						      &out->v[out->n]);
			pos += used;
			if (r < 0) {
				out->err = r;
				break;
			}
			if (r > 0)
				out->n++;
		}
		off += n;
	}
	if (!out->err)
		out->err = ctlproto_respdec_finish(&d);
	if (out->err)
		snprintf(out->why, sizeof(out->why), "%s", ctlproto_respdec_why(&d));
	ctlproto_respdec_release(&d);
}

static void resps_free(struct resps *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->v[i].text);
	r->n = 0;
}

static void test_respdec(void **state)
{
	(void)state;
	const char *in = "ok\n"
			 "ok generation 5 serving\n"
			 "error generation 6 exited with status 1 before it was ready\r\n"
			 "body\n"
			 "line one\n"
			 "..dotted\n"
			 "\tindented\n"
			 "\n"
			 ".\n"
			 "body\n"
			 ".\n"
			 "error\n";
	for (size_t step = 1; step < 40; step += 6) {
		struct resps r;
		feed_resps(in, strlen(in), step, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.n, 6);
		assert_int_equal(r.v[0].kind, CTL_RESP_OK);
		assert_string_equal(r.v[0].text, "");
		assert_int_equal(r.v[1].kind, CTL_RESP_OK);
		assert_string_equal(r.v[1].text, "generation 5 serving");
		assert_int_equal(r.v[2].kind, CTL_RESP_ERROR);
		assert_string_equal(r.v[2].text,
				    "generation 6 exited with status 1 before it was ready");
		assert_int_equal(r.v[3].kind, CTL_RESP_BODY);
		assert_string_equal(r.v[3].text, "line one\n.dotted\n\tindented\n\n");
		assert_int_equal(r.v[3].len, strlen(r.v[3].text));
		assert_int_equal(r.v[4].kind, CTL_RESP_BODY);
		assert_string_equal(r.v[4].text, "");
		assert_int_equal(r.v[5].kind, CTL_RESP_ERROR);
		assert_string_equal(r.v[5].text, "");
		resps_free(&r);
	}
}

static void expect_resp_err(const char *in, size_t len, int err, const char *needle)
{
	struct resps r;
	feed_resps(in, len, 3, &r);
	resps_free(&r);
	if (r.err != err || !strstr(r.why, needle))
		fail_msg("'%.*s': got %d '%s', want %d containing '%s'", (int)len, in, r.err, r.why,
			 err, needle);
}

static void test_respdec_errors(void **state)
{
	(void)state;
	expect_resp_err("okay\n", 5, -EBADMSG, "unexpected response line 'okay'");
	expect_resp_err("OK\n", 3, -EBADMSG, "unexpected response line 'OK'");
	expect_resp_err("body text\n", 10, -EBADMSG, "unexpected response line");
	expect_resp_err("\n", 1, -EBADMSG, "unexpected response line ''");
	expect_resp_err("ok \0\n", 5, -EBADMSG, "NUL byte");
	expect_resp_err("ok \033[31mred\n", 12, -EBADMSG, "control character 0x1b");
	expect_resp_err("error \xff\n", 8, -EILSEQ, "not valid UTF-8");
	expect_resp_err("body\n.oops\n.\n", 13, -EBADMSG, "single '.'");
	expect_resp_err("body\nabc\n", 9, -EPIPE, "middle of a body");
	expect_resp_err("ok partial", 10, -EPIPE, "middle of a response");

	char *big = malloc(CTLPROTO_LINE_MAX + 16);
	memcpy(big, "ok ", 3);
	memset(big + 3, 'x', CTLPROTO_LINE_MAX + 13);
	big[CTLPROTO_LINE_MAX - 1] = '\n'; /* exactly the limit */
	struct resps r;
	feed_resps(big, CTLPROTO_LINE_MAX, 4096, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].len, CTLPROTO_LINE_MAX - 4);
	resps_free(&r);
	big[CTLPROTO_LINE_MAX - 1] = 'x';
	expect_resp_err(big, CTLPROTO_LINE_MAX + 16, -EMSGSIZE, "longer than 4096");
	free(big);

	/* a body past the limit */
	size_t n = CTLPROTO_BODY_MAX + 4096;
	char *body = malloc(n);
	memcpy(body, "body\n", 5);
	for (size_t i = 5; i < n; i++)
		body[i] = i % 100 == 0 ? '\n' : 'b';
	expect_resp_err(body, n, -EMSGSIZE, "body longer than");
	/* a single huge body line is refused before it is complete */
	memset(body + 5, 'c', n - 5);
	expect_resp_err(body, n, -EMSGSIZE, "body longer than");
	free(body);
}

/* ---- encoders ---- */

static struct ctl_response roundtrip(const char *wire, size_t len)
{
	struct resps r;
	feed_resps(wire, len, 1 << 20, &r);
	if (r.err || r.n != 1)
		fail_msg("did not decode: %d (%s), %d responses", r.err, r.why, r.n);
	return r.v[0];
}

static void test_encode_request(void **state)
{
	(void)state;
	struct ctl_request reqs[] = {
		{.verb = CTL_RELOAD},
		{.verb = CTL_STOP},
		{.verb = CTL_STATUS},
		{.verb = CTL_STATUS, .json = true},
		{.verb = CTL_HELLO, .version = "1"},
		{.verb = CTL_UPGRADE},
		{.verb = CTL_PROMOTE},
		{.verb = CTL_ABORT},
		{.verb = CTL_ROLLBACK},
	};
	const char *want[] = {"reload\n",  "stop\n",	"status\n", "status json\n", "hello 1\n",
			      "upgrade\n", "promote\n", "abort\n",  "rollback\n"};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct buf b = BUF_INIT;
		ctlproto_encode_request(&b, &reqs[i]);
		assert_string_equal(buf_cstr(&b), want[i]);
		struct reqs got;
		feed_reqs(b.p, b.len, 1, &got);
		assert_int_equal(got.err, 0);
		assert_int_equal(got.n, 1);
		assert_int_equal(got.v[0].verb, reqs[i].verb);
		assert_int_equal(got.v[0].json, reqs[i].json);
		assert_string_equal(got.v[0].version, reqs[i].version);
		buf_release(&b);
	}
	/* a bad version never reaches the wire */
	struct ctl_request bad = {.verb = CTL_HELLO, .version = "a b"};
	struct buf b = BUF_INIT;
	ctlproto_encode_request(&b, &bad);
	assert_string_equal(buf_cstr(&b), "hello 0\n");
	buf_release(&b);
}

static void test_encode_reply(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	ctlproto_encode_reply(&b, true, NULL);
	ctlproto_encode_reply(&b, true, "");
	ctlproto_encode_reply(&b, false, "bad\nthing\r\there \033[1m \xff ok \xc3\xa9");
	assert_string_equal(buf_cstr(&b), "ok\nok\nerror bad thing  here  [1m ? ok \xc3\xa9\n");
	buf_release(&b);

	/* long text: cut at a character boundary, still one decodable line */
	size_t n = CTLPROTO_LINE_MAX * 2;
	char *t = malloc(n + 1);
	for (size_t i = 0; i < n; i += 2)
		memcpy(t + i, "\xc3\xa9", 2);
	t[n] = '\0';
	ctlproto_encode_reply(&b, false, t);
	assert_true(b.len <= CTLPROTO_LINE_MAX);
	struct ctl_response r = roundtrip(b.p, b.len);
	assert_int_equal(r.kind, CTL_RESP_ERROR);
	assert_true(r.len > CTLPROTO_LINE_MAX - 20);
	assert_memory_equal(r.text + r.len - 3, "...", 3);
	free(r.text);
	free(t);
	buf_release(&b);
}

static void test_encode_body(void **state)
{
	(void)state;
	const char *doc =
		".starts with a dot\n..two dots\n.\nmiddle . dot\n\ttab\x01 ctl\n\xfe\nlast";
	struct buf b = BUF_INIT;
	ctlproto_encode_body(&b, doc, strlen(doc));
	assert_string_equal(buf_cstr(&b), "body\n"
					  "..starts with a dot\n"
					  "...two dots\n"
					  "..\n"
					  "middle . dot\n"
					  "\ttab  ctl\n"
					  "?\n"
					  "last\n"
					  ".\n");
	struct ctl_response r = roundtrip(b.p, b.len);
	assert_int_equal(r.kind, CTL_RESP_BODY);
	assert_string_equal(r.text,
			    ".starts with a dot\n..two dots\n.\nmiddle . dot\n\ttab  ctl\n?\n"
			    "last\n");
	free(r.text);
	buf_release(&b);

	ctlproto_encode_body(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "body\n.\n");
	buf_release(&b);

	/* JSON with a pretty layout goes through unchanged */
	const char *json = "{\n  \"a\": [1, 2],\n  \"b\": \"x\\ny\"\n}\n";
	ctlproto_encode_body(&b, json, strlen(json));
	r = roundtrip(b.p, b.len);
	assert_string_equal(r.text, json);
	free(r.text);
	buf_release(&b);

	/* an oversized body is cut at a line boundary and still decodes */
	size_t n = CTLPROTO_BODY_MAX + 100000;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 80 == 79 ? '\n' : (i % 80 == 0 ? '.' : 'z');
	ctlproto_encode_body(&b, big, n);
	r = roundtrip(b.p, b.len);
	assert_int_equal(r.kind, CTL_RESP_BODY);
	assert_true(r.len <= CTLPROTO_BODY_MAX);
	assert_non_null(strstr(r.text, "\n(truncated)\n"));
	free(r.text);
	free(big);
	buf_release(&b);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_int_equal(ctlproto_utf8_seq("a", 1), 1);
	assert_int_equal(ctlproto_utf8_seq("\xc3\xa9", 2), 2);
	assert_int_equal(ctlproto_utf8_seq("\xc3\xa9", 1), 0);
	assert_int_equal(ctlproto_utf8_seq("\xe2\x82\xac", 3), 3);
	assert_int_equal(ctlproto_utf8_seq("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(ctlproto_utf8_seq("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
	assert_int_equal(ctlproto_utf8_seq("\xf0\x8f\xbf\xbf", 4), 0); /* overlong */
	assert_int_equal(ctlproto_utf8_seq("\xc1\xbf", 2), 0);
	assert_int_equal(ctlproto_utf8_seq("\x80", 1), 0);
	assert_int_equal(ctlproto_utf8_seq("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(ctlproto_utf8_seq("\xed\x9f\xbf", 3), 3); /* U+D7FF */
	assert_int_equal(ctlproto_utf8_seq("\xed\xbf\xbf", 3), 0); /* U+DFFF */
	assert_int_equal(ctlproto_utf8_seq("\xe2\x28\xa1", 3), 0);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_reqdec_split),
		cmocka_unit_test(test_reqdec_used),
		cmocka_unit_test(test_reqdec_limits),
		cmocka_unit_test(test_reqdec_garbage),
		cmocka_unit_test(test_respdec),
		cmocka_unit_test(test_respdec_errors),
		cmocka_unit_test(test_encode_request),
		cmocka_unit_test(test_encode_reply),
		cmocka_unit_test(test_encode_body),
		cmocka_unit_test(test_utf8),
	};
	/* clang-format on */
	return cmocka_run_group_tests_name("ctlproto", tests, NULL, NULL);
}
