/* HTTP/1.1 message framing (RFC 9112), pure: bytes in, a parsed head or body events out. No
 * allocation, no I/O, no global state; every function is safe on any input (fuzzed:
 * fuzz/fuzz_h1.c) and checked against an independent parser (python3-h11) on the corpus.
 *
 * A head is parsed from a buffer that holds it whole (callers read until h1_parse_* stops saying
 * H1_INCOMPLETE, or until max_head bytes: then the answer is 431). Spans point into that buffer,
 * which must outlive the struct h1_head. Bodies are scanned as they stream (h1_body_step): the
 * caller forwards the consumed bytes verbatim (framing included) or uses the payload spans, and
 * learns where the message ends, without ever holding the body whole.
 *
 * Strict where request smuggling lives: Content-Length together with Transfer-Encoding, more than
 * one Content-Length (even equal), a Transfer-Encoding other than a final "chunked" on a request,
 * obs-fold, a bare CR or LF-only line ending inside the head, whitespace before a colon, a
 * control character or DEL in a field, a bad chunk size (empty, non-hex, over 16 hex digits or
 * 2^63) or a chunk not ended by CRLF: all are errors. A request is answered 400 and the
 * connection closed; a response from a backend is a bad gateway. */
#ifndef BATON_H1_H
#define BATON_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct h1_span {
	const char *p; /* into the caller's buffer; NULL when absent */
	size_t len;
};

struct h1_header {
	struct h1_span name; /* as sent (case kept); compare with h1_span_eqi() */
	struct h1_span value; /* leading and trailing spaces and tabs stripped */
};

#define H1_MAX_HEADERS 100 /* more fields in one head: H1_E_TOO_LARGE (431) */

enum h1_framing {
	H1_BODY_NONE,	 /* no body (no CL/TE on a request; HEAD, 1xx, 204, 304 responses) */
	H1_BODY_LENGTH,	 /* content_length bytes */
	H1_BODY_CHUNKED, /* chunked transfer coding; scan with h1_body_step */
	H1_BODY_EOF,	 /* response: until the backend closes (no CL, no TE) */
	H1_BODY_TUNNEL,	 /* after a 101 or a 2xx to CONNECT: bytes both ways until a close */
};

struct h1_head {
	/* request line */
	struct h1_span method, target;
	/* status line */
	int status; /* 100..999 */
	struct h1_span reason;
	int minor; /* HTTP/1.<minor>: 0 or 1 */

	struct h1_header headers[H1_MAX_HEADERS];
	size_t nheaders;
	size_t head_len; /* bytes of the head, the final empty line included */

	enum h1_framing framing;
	uint64_t content_length; /* with H1_BODY_LENGTH */
	/* Connection semantics (RFC 9112 §9.3): HTTP/1.1 unless "Connection: close"; HTTP/1.0 only
	 * with "Connection: keep-alive". A response framed by H1_BODY_EOF is never keep-alive. */
	bool keep_alive;
	bool expect_continue; /* request: "Expect: 100-continue" */
	bool upgrade;	      /* request: an Upgrade field named in Connection; response: 101 */
	bool te_chunked;      /* a Transfer-Encoding field was present (and final-chunked) */
	struct h1_span host;  /* request: the Host field's value (p NULL when absent) */
};

enum h1_result {
	H1_INCOMPLETE = 0,	/* need more bytes (and fewer than max_head so far) */
	H1_E_BAD = -1,		/* malformed or ambiguous: 400 / bad gateway */
	H1_E_TOO_LARGE = -2,	/* head over max_head bytes or H1_MAX_HEADERS fields: 431 */
	H1_E_VERSION = -3,	/* not HTTP/1.0 or HTTP/1.1: 505 */
	H1_E_NOT_IMPLEMENTED = -4, /* a request Transfer-Encoding baton does not know: 501 */
};

/* Parse a request head at buf[0..len). Returns head_len (> 0) with *h filled, H1_INCOMPLETE,
 * or an H1_E_* code. Empty lines before the request line are skipped (RFC 9112 §2.2) and
 * counted in head_len. A request without Host on HTTP/1.1, or with two Host fields: H1_E_BAD. */
int h1_parse_request(const char *buf, size_t len, size_t max_head, struct h1_head *h);

/* Parse a response head. req_method is the request's method (its framing depends on it: HEAD
 * and 2xx to CONNECT). 1xx other than 101 are heads of their own with H1_BODY_NONE: the caller
 * forwards them and parses again for the final response. */
int h1_parse_response(const char *buf, size_t len, size_t max_head, struct h1_span req_method,
		      struct h1_head *h);

/* The status a proxy answers for an h1_parse_request error: 400, 431, 505 or 501. */
int h1_error_status(int result);

/* Body scanner for one message (H1_BODY_LENGTH or H1_BODY_CHUNKED; the others need none). */
struct h1_body {
	enum h1_framing framing;
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in the current chunk */
	int state;	    /* private */
	size_t line_len;    /* private: bytes of the current size / trailer line */
	size_t trailer_len; /* private: trailer bytes so far (bounded) */
	bool done;	    /* the message ended */
};

void h1_body_init(struct h1_body *b, const struct h1_head *h);

/* Scan in[0..len): returns how many bytes belong to this message (0..len), which the caller
 * forwards verbatim; sets b->done when the message ends at that point (bytes after it belong to
 * the next message); or H1_E_BAD. *data / *data_len (may be NULL) give the first payload span
 * inside the consumed bytes (framing stripped; call again with the rest for more: one call
 * returns at most one payload span, consuming no further than its end). Trailer fields are
 * checked for form, bounded at 8 KiB, and passed through. */
long h1_body_step(struct h1_body *b, const char *in, size_t len, const char **data,
		  size_t *data_len);

/* Helpers on spans. */
bool h1_span_eqi(struct h1_span s, const char *lit);		/* ASCII case-insensitive */
bool h1_has_token(struct h1_span list, const char *token);	/* comma list, case-insensitive */
const struct h1_header *h1_find(const struct h1_head *h, const char *name); /* first, or NULL */
/* A method whose request may be sent twice (RFC 9110 §9.2.2 as Go's Transport): GET, HEAD,
 * OPTIONS, TRACE; or any request with an Idempotency-Key (or X-Idempotency-Key) field. */
bool h1_is_idempotent(const struct h1_head *req);

#endif
