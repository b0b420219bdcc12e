/* The control protocol: the wire format between `baton run` (ctl.c) and `baton reload|status|
 * stop` (cmd/ctlclient.c). Pure: no I/O, no globals; bytes in, messages out, so it is unit-tested
 * and fuzzed on its own. docs/control.md describes it for users.
 *
 * Transport: an AF_UNIX stream socket. Text is UTF-8; lines end in LF (a CR right before the LF
 * is dropped); no line may hold a NUL byte or a control character other than tab.
 *
 * Requests (client -> server), one line each, at most CTLPROTO_REQUEST_MAX bytes with the LF.
 * Words are separated by spaces or tabs; blank lines are ignored; verbs are lowercase.
 *
 *     reload          start a new generation; answered once it serves (ok) or failed (error)
 *     status          the status document as a text table (a body)
 *     status json     the status document as one JSON document (a body)
 *     stop            graceful stop of baton and every generation
 *     upgrade         re-execute baton's binary in place (same pid, generations kept); answered
 *                     by the new image (ok) or, when the exec failed, by the old one (error)
 *     promote         a running rollout skips its remaining steps (rollout.h); ok or error
 *     abort           a running rollout rolls back now; ok or error
 *     rollback        blue-green, within keep_old: traffic back to the old generation; ok/error
 *     hello VERSION   optional handshake; VERSION is the client's protocol version
 *                     (the server answers "ok protocol CTLPROTO_VERSION")
 *
 * A line without LF right before the client shuts down its write side counts as a request
 * (ctlproto_reqdec_finish), so `printf status | socat - UNIX:...` works.
 *
 * Responses (server -> client): exactly one per request, in request order, each one of
 *
 *     ok[ TEXT]LF        success; TEXT is one line, may be absent
 *     error[ TEXT]LF     failure; TEXT says why
 *     bodyLF             a document follows: its lines, each ending in LF, where a line that
 *     LINE LF ...        starts with '.' is sent with one more '.' in front (dot-stuffing),
 *     .LF                then a line holding a single '.' ends it
 *
 * ok/error lines are at most CTLPROTO_LINE_MAX bytes with the LF; a body holds at most
 * CTLPROTO_BODY_MAX bytes on the wire. Before closing a connection on its own (permission
 * denied, too many clients, malformed request, idle timeout) the server may send one error line
 * nobody asked for. A client may send another request once the previous one is answered. */
#ifndef BATON_CTLPROTO_H
#define BATON_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define CTLPROTO_VERSION 1
#define CTLPROTO_REQUEST_MAX 512     /* request line, LF included */
#define CTLPROTO_LINE_MAX 4096	     /* ok/error response line, LF included */
#define CTLPROTO_BODY_MAX (1u << 20) /* body on the wire, "body" and "." lines excluded */
#define CTLPROTO_WORD_MAX 32	     /* the hello VERSION word */
#define CTLPROTO_WHY_MAX 160	     /* decoder error reasons, NUL included */

enum ctl_verb {
	CTL_HELLO = 1,
	CTL_RELOAD,
	CTL_STATUS,
	CTL_STOP,
	CTL_UPGRADE,
	CTL_PROMOTE,
	CTL_ABORT,
	CTL_ROLLBACK
};

struct ctl_request {
	enum ctl_verb verb;
	bool json;			     /* CTL_STATUS: "status json" */
	char version[CTLPROTO_WORD_MAX + 1]; /* CTL_HELLO: the client's version word */
};

enum ctl_response_kind { CTL_RESP_OK = 1, CTL_RESP_ERROR, CTL_RESP_BODY };

struct ctl_response {
	enum ctl_response_kind kind;
	/* OK/ERROR: the text ("" when absent). BODY: the document with dot-stuffing undone, each
	 * line ending in LF. Always NUL-terminated; owned by the caller (free()). */
	char *text;
	size_t len;
};

/* The verb as sent on the wire ("reload", ...). */
const char *ctlproto_verb_name(enum ctl_verb v);

/* Parse one request line (without its LF; a trailing CR is allowed). Returns 0, -ENODATA for a
 * blank line, or -EBADMSG (NUL or control character), -EILSEQ (invalid UTF-8), -EMSGSIZE
 * (too long), -EINVAL (unknown verb, bad arguments), with *err (if err is not NULL) set to a
 * reason the caller frees. */
int ctlproto_parse_request(const char *line, size_t len, struct ctl_request *req, char **err);

/* ---- incremental decoders ----
 * Feed whatever read() returned. A call consumes bytes up to the end of the first complete
 * message and reports how many in *used (all n when no message completes); feed the rest again.
 * Returns 1 with a message, 0 when more input is needed, or a negative errno with the reason in
 * ctlproto_*dec_why(). Errors are sticky: the stream cannot be resynchronised, every later call
 * returns the same error. */

struct ctlproto_reqdec {
	char line[CTLPROTO_REQUEST_MAX];
	size_t len;
	int error;
	char why[CTLPROTO_WHY_MAX];
};

void ctlproto_reqdec_init(struct ctlproto_reqdec *d);
/* Errors: -EMSGSIZE (line over CTLPROTO_REQUEST_MAX), -EBADMSG, -EILSEQ, -EINVAL as
 * ctlproto_parse_request(). A NUL or an oversized line is reported as soon as it arrives. */
int ctlproto_reqdec_feed(struct ctlproto_reqdec *d, const void *data, size_t n, size_t *used,
			 struct ctl_request *req);
/* The peer shut down its write side: a pending line without LF is parsed as a request (1);
 * 0 when nothing is pending; or an error. */
int ctlproto_reqdec_finish(struct ctlproto_reqdec *d, struct ctl_request *req);
const char *ctlproto_reqdec_why(const struct ctlproto_reqdec *d);

/* Holds buffers: ctlproto_respdec_release() releases them. */
struct ctlproto_respdec {
	struct buf line;
	struct buf body;
	bool in_body;
	size_t wire; /* body bytes on the wire so far */
	int error;
	char why[CTLPROTO_WHY_MAX];
};

void ctlproto_respdec_init(struct ctlproto_respdec *d);
void ctlproto_respdec_release(struct ctlproto_respdec *d);
/* On 1, *resp is filled and resp->text is the caller's to free. Errors: -EMSGSIZE (line or body
 * too long), -EBADMSG (NUL, control character, a line that is not ok/error/body, a body line
 * starting with a single '.'), -EILSEQ (invalid UTF-8). */
int ctlproto_respdec_feed(struct ctlproto_respdec *d, const void *data, size_t n, size_t *used,
			  struct ctl_response *resp);
/* The server closed the connection: -EPIPE with a reason when a response was cut short, else 0. */
int ctlproto_respdec_finish(struct ctlproto_respdec *d);
const char *ctlproto_respdec_why(const struct ctlproto_respdec *d);

/* ---- encoders ----
 * Append one message to out. They never fail and always produce what the decoders accept:
 * control characters in text become spaces (tab is kept in bodies), invalid UTF-8 bytes become
 * '?', text too long for its limit is cut at a character boundary and ends in "...". */

void ctlproto_encode_request(struct buf *out, const struct ctl_request *req);
/* "ok TEXT" or "error TEXT"; text may be NULL or "". */
void ctlproto_encode_reply(struct buf *out, bool ok, const char *text);
/* "body", the document's lines (a missing final LF is added), ".". */
void ctlproto_encode_body(struct buf *out, const char *body, size_t len);

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 when the bytes there
 * are not valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF included). */
size_t ctlproto_utf8_seq(const char *s, size_t n);

#endif
