/* libFuzzer target: the control protocol (ctlproto.h). Request and response streams come from
 * other processes; neither decoder may crash, leak, read out of bounds or accept what it should
 * not, and the encoders' output must always decode back to what was meant.
 * The first input byte picks the mode and how the rest is cut into reads:
 *   mode 0  request stream -> ctlproto_reqdec_*; every request re-encodes to itself
 *   mode 1  response stream -> ctlproto_respdec_*; every response re-encodes to itself
 *   mode 2  arbitrary text through the encoders -> must decode to one clean message */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlproto.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool clean_utf8(const char *s, size_t n, bool allow_lf)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' && allow_lf) {
			i++;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
		size_t k = ctlproto_utf8_seq(s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Chunk sizes 1..16 taken from a seed, so splits land everywhere. */
static size_t next_chunk(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 16;
}

static void check_request(const struct ctl_request *req)
{
	check(req->verb == CTL_HELLO || req->verb == CTL_RELOAD || req->verb == CTL_STATUS ||
	      req->verb == CTL_STOP);
	if (req->verb != CTL_STATUS)
		check(!req->json);
	if (req->verb == CTL_HELLO)
		check(req->version[0] && strlen(req->version) <= CTLPROTO_WORD_MAX);
	/* it re-encodes to a line that parses to the same request */
	struct buf b = BUF_INIT;
	ctlproto_encode_request(&b, req);
	struct ctl_request again;
	check(b.len >= 2 && b.p[b.len - 1] == '\n');
	check(ctlproto_parse_request(b.p, b.len - 1, &again, NULL) == 0);
	check(again.verb == req->verb && again.json == req->json);
	check(strcmp(again.version, req->version) == 0);
	buf_release(&b);
}

static void fuzz_requests(const char *buf, size_t len, uint32_t seed)
{
	struct ctlproto_reqdec d;
	struct ctl_request req;
	ctlproto_reqdec_init(&d);
	int err = 0;
	for (size_t off = 0; off < len && !err;) {
		size_t n = next_chunk(&seed);
		if (n > len - off)
			n = len - off;
		size_t pos = 0;
		while (pos < n) {
			size_t used = 12345;
			int r = ctlproto_reqdec_feed(&d, buf + off + pos, n - pos, &used, &req);
			check(used <= n - pos);
			pos += used;
			if (r < 0) {
				check(d.why[0] != '\0');
				check(strlen(d.why) < CTLPROTO_WHY_MAX);
				err = r;
				break;
			}
			if (r == 0)
				check(pos == n);
			else
				check_request(&req);
		}
		off += n;
	}
	if (err) {
		/* sticky */
		size_t used;
		check(ctlproto_reqdec_feed(&d, "stop\n", 5, &used, &req) == err);
		check(ctlproto_reqdec_finish(&d, &req) == err);
		return;
	}
	int r = ctlproto_reqdec_finish(&d, &req);
	if (r > 0)
		check_request(&req);
	check(d.len < CTLPROTO_REQUEST_MAX);
}

/* Decode a whole wire image in one go: exactly one message, nothing left over. */
static struct ctl_response decode_one(const char *wire, size_t n)
{
	struct ctlproto_respdec d;
	struct ctl_response resp = {0};
	size_t used;
	ctlproto_respdec_init(&d);
	check(ctlproto_respdec_feed(&d, wire, n, &used, &resp) == 1);
	check(used == n);
	check(ctlproto_respdec_finish(&d) == 0);
	ctlproto_respdec_release(&d);
	return resp;
}

static void check_response(const struct ctl_response *resp)
{
	check(resp->kind == CTL_RESP_OK || resp->kind == CTL_RESP_ERROR ||
	      resp->kind == CTL_RESP_BODY);
	check(resp->text && strlen(resp->text) == resp->len);
	check(clean_utf8(resp->text, resp->len, resp->kind == CTL_RESP_BODY));
	struct buf b = BUF_INIT;
	if (resp->kind == CTL_RESP_BODY) {
		check(resp->len == 0 || resp->text[resp->len - 1] == '\n');
		check(resp->len <= CTLPROTO_BODY_MAX);
		if (resp->len > CTLPROTO_BODY_MAX / 2) {
			buf_release(&b);
			return;
		}
		ctlproto_encode_body(&b, resp->text, resp->len);
		struct ctl_response again = decode_one(b.p, b.len);
		check(again.kind == CTL_RESP_BODY);
		check(again.len == resp->len && memcmp(again.text, resp->text, resp->len) == 0);
		free(again.text);
	} else {
		check(resp->len + 4 <= CTLPROTO_LINE_MAX);
		ctlproto_encode_reply(&b, resp->kind == CTL_RESP_OK, resp->text);
		struct ctl_response again = decode_one(b.p, b.len);
		check(again.kind == resp->kind);
		/* the encoder turns tabs into spaces; nothing else changes */
		check(again.len == resp->len);
		for (size_t i = 0; i < resp->len; i++)
			check(again.text[i] == (resp->text[i] == '\t' ? ' ' : resp->text[i]));
		free(again.text);
	}
	buf_release(&b);
}

static void fuzz_responses(const char *buf, size_t len, uint32_t seed)
{
	struct ctlproto_respdec d;
	struct ctl_response resp;
	ctlproto_respdec_init(&d);
	int err = 0;
	for (size_t off = 0; off < len && !err;) {
		size_t n = next_chunk(&seed);
		if (n > len - off)
			n = len - off;
		size_t pos = 0;
		while (pos < n) {
			size_t used = 12345;
			int r = ctlproto_respdec_feed(&d, buf + off + pos, n - pos, &used, &resp);
			check(used <= n - pos);
			pos += used;
			if (r < 0) {
				check(d.why[0] != '\0');
				err = r;
				break;
			}
			if (r == 0) {
				check(pos == n);
				continue;
			}
			check_response(&resp);
			free(resp.text);
		}
		off += n;
	}
	if (err) {
		size_t used;
		check(ctlproto_respdec_feed(&d, "ok\n", 3, &used, &resp) == err);
	} else {
		int r = ctlproto_respdec_finish(&d);
		check(r == 0 || r == -EPIPE);
	}
	ctlproto_respdec_release(&d);
}

static void fuzz_encoders(const char *buf, size_t len, uint32_t seed)
{
	/* text as a C string: up to the first NUL */
	char *text = malloc(len + 1);
	memcpy(text, buf, len);
	text[len] = '\0';
	bool ok = seed & 1;

	struct buf b = BUF_INIT;
	ctlproto_encode_reply(&b, ok, text);
	check(b.len <= CTLPROTO_LINE_MAX);
	struct ctl_response r = decode_one(b.p, b.len);
	check(r.kind == (ok ? CTL_RESP_OK : CTL_RESP_ERROR));
	check(clean_utf8(r.text, r.len, false));
	if (clean_utf8(text, strlen(text), false) && !strchr(text, '\t') &&
	    strlen(text) + 7 <= CTLPROTO_LINE_MAX)
		check(strcmp(r.text, text) == 0);
	free(r.text);

	buf_reset(&b);
	ctlproto_encode_body(&b, buf, len); /* bodies may hold NULs: they are cleaned */
	r = decode_one(b.p, b.len);
	check(r.kind == CTL_RESP_BODY);
	check(clean_utf8(r.text, r.len, true));
	if (clean_utf8(buf, len, true)) {
		bool lf = len && buf[len - 1] == '\n';
		check(r.len == len + (len && !lf));
		check(memcmp(r.text, buf, len) == 0);
	}
	free(r.text);
	buf_release(&b);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* copy so that ASan catches reads past the end */
	size_t len = size - 1;
	char *buf = malloc(len ? len : 1);
	memcpy(buf, data + 1, len);
	uint32_t seed = data[0] >> 2;
	switch (data[0] % 3) {
	case 0:
		fuzz_requests(buf, len, seed);
		break;
	case 1:
		fuzz_responses(buf, len, seed);
		break;
	default:
		fuzz_encoders(buf, len, seed);
		break;
	}
	free(buf);
	return 0;
}
