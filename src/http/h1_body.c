/* HTTP/1.1 body framing as it streams (RFC 9112 §6-§7): Content-Length counting and the chunked
 * coding's size lines, extensions, data, CRLFs and trailer fields. A state machine over the
 * bytes given, so a body may arrive split anywhere; nothing is copied. */
#include "http/h1.h"

#include <limits.h>

#include "http/h1_chars.h"

enum {
	S_SIZE,	    /* chunk-size hex digits (line_len of them so far) */
	S_EXT_WS,   /* after the size: BWS, then ';' (an extension) or CR */
	S_EXT,	    /* inside chunk extensions, until CR */
	S_SIZE_LF,  /* the size line's CR seen */
	S_DATA,	    /* remaining bytes of chunk data */
	S_DATA_CR,  /* the CRLF after chunk data */
	S_DATA_LF,  /* */
	S_TRAILER,  /* start of a trailer field line, or the final CRLF */
	S_TR_NAME,  /* a trailer field name, until ':' */
	S_TR_VALUE, /* a trailer field value, until CR */
	S_TR_LF,    /* a trailer line's CR seen */
	S_END_LF,   /* the final empty line's CR seen */
	S_DONE,
	S_ERROR, /* sticky: a bad body stays bad */
};

#define SIZE_LINE_MAX 4096 /* a chunk-size line, extensions included */
#define TRAILER_MAX 8192   /* all trailer fields of a message */

#define CLS(c, m) (h1_chars[(unsigned char)(c)] & (m))

void h1_body_init(struct h1_body *b, const struct h1_head *h)
{
	b->framing = h->framing;
	b->remaining = h->framing == H1_BODY_LENGTH ? h->content_length : 0;
	b->state = S_SIZE;
	b->line_len = 0;
	b->trailer_len = 0;
	b->done = h->framing == H1_BODY_NONE ||
		  (h->framing == H1_BODY_LENGTH && h->content_length == 0);
}

static unsigned hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
}

/* The chunked coding from in[0]: bytes consumed (the one payload span in *data) or H1_E_BAD. */
static long step_chunked(struct h1_body *b, const char *in, size_t len, const char **data,
			 size_t *data_len)
{
	size_t i = 0;
	while (i < len) {
		char c = in[i];
		switch (b->state) {
		case S_SIZE:
			if (CLS(c, H1C_HEX)) {
				unsigned d = hexval(c);
				/* over 16 digits or 2^63: a smuggler's size or a broken peer */
				if (++b->line_len > 16 ||
				    b->remaining > ((uint64_t)INT64_MAX - d) >> 4)
					return H1_E_BAD;
				b->remaining = b->remaining << 4 | d;
				i++;
				break;
			}
			if (b->line_len == 0)
				return H1_E_BAD;
			b->state = S_EXT_WS;
			break;
		case S_EXT_WS:
			if (c == ' ' || c == '\t') {
				b->line_len++;
				i++;
			} else if (c == ';') {
				b->line_len++;
				b->state = S_EXT;
				i++;
			} else if (c == '\r') {
				b->state = S_SIZE_LF;
				i++;
			} else {
				return H1_E_BAD;
			}
			if (b->line_len > SIZE_LINE_MAX)
				return H1_E_BAD;
			break;
		case S_EXT: {
			/* extensions are ignored, but only field-value bytes and a CRLF end */
			size_t s = i;
			while (i < len && CLS(in[i], H1C_FIELD))
				i++;
			b->line_len += i - s;
			if (b->line_len > SIZE_LINE_MAX)
				return H1_E_BAD;
			if (i < len) {
				if (in[i] != '\r')
					return H1_E_BAD;
				b->state = S_SIZE_LF;
				i++;
			}
			break;
		}
		case S_SIZE_LF:
			if (c != '\n')
				return H1_E_BAD;
			i++;
			b->line_len = 0;
			b->state = b->remaining ? S_DATA : S_TRAILER;
			break;
		case S_DATA: {
			if (*data)
				return (long)i; /* one payload span a call */
			size_t n = len - i < b->remaining ? len - i : (size_t)b->remaining;
			if (data) {
				*data = in + i;
				*data_len = n;
			}
			i += n;
			b->remaining -= n;
			if (b->remaining == 0)
				b->state = S_DATA_CR;
			return (long)i;
		}
		case S_DATA_CR:
			if (c != '\r')
				return H1_E_BAD;
			b->state = S_DATA_LF;
			i++;
			break;
		case S_DATA_LF:
			if (c != '\n')
				return H1_E_BAD;
			b->state = S_SIZE;
			i++;
			break;
		case S_TRAILER:
			if (c == '\r') {
				b->state = S_END_LF;
				i++;
				break;
			}
			b->state = S_TR_NAME;
			b->line_len = 0;
			/* fall through */
		case S_TR_NAME: {
			size_t s = i;
			while (i < len && CLS(in[i], H1C_TCHAR))
				i++;
			b->line_len += i - s;
			b->trailer_len += i - s;
			if (b->trailer_len > TRAILER_MAX)
				return H1_E_BAD;
			if (i < len) {
				/* an empty name, obs-fold, whitespace before ':' or a stray byte */
				if (in[i] != ':' || b->line_len == 0)
					return H1_E_BAD;
				b->trailer_len++;
				b->state = S_TR_VALUE;
				i++;
			}
			break;
		}
		case S_TR_VALUE: {
			size_t s = i;
			while (i < len && CLS(in[i], H1C_FIELD))
				i++;
			b->trailer_len += i - s;
			if (b->trailer_len > TRAILER_MAX)
				return H1_E_BAD;
			if (i < len) {
				if (in[i] != '\r')
					return H1_E_BAD;
				b->state = S_TR_LF;
				i++;
			}
			break;
		}
		case S_TR_LF:
			if (c != '\n')
				return H1_E_BAD;
			b->trailer_len += 2;
			b->state = S_TRAILER;
			i++;
			break;
		case S_END_LF:
			if (c != '\n')
				return H1_E_BAD;
			b->state = S_DONE;
			b->done = true;
			return (long)(i + 1);
		default:
			return (long)i;
		}
	}
	return (long)i;
}

long h1_body_step(struct h1_body *b, const char *in, size_t len, const char **data,
		  size_t *data_len)
{
	if (data) {
		*data = NULL;
		if (data_len)
			*data_len = 0;
	} else {
		data_len = NULL;
	}
	if (len > LONG_MAX)
		len = LONG_MAX;
	if (b->done)
		return 0;
	switch (b->framing) {
	case H1_BODY_LENGTH: {
		size_t n = len < b->remaining ? len : (size_t)b->remaining;
		if (data && n) {
			*data = in;
			if (data_len)
				*data_len = n;
		}
		b->remaining -= n;
		b->done = b->remaining == 0;
		return (long)n;
	}
	case H1_BODY_CHUNKED: {
		const char *d = NULL;
		size_t dl = 0;
		if (b->state == S_ERROR)
			return H1_E_BAD;
		long r = step_chunked(b, in, len, &d, &dl);
		if (r < 0)
			b->state = S_ERROR;
		if (r >= 0 && data) {
			*data = d;
			if (data_len)
				*data_len = dl;
		}
		return r;
	}
	case H1_BODY_EOF:
	case H1_BODY_TUNNEL:
		/* until the peer closes: every byte is payload */
		if (data && len) {
			*data = in;
			if (data_len)
				*data_len = len;
		}
		return (long)len;
	default:
		b->done = true;
		return 0;
	}
}
