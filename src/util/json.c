#include "util/json.h"

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void json_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	const unsigned char *p = (const unsigned char *)s;
	buf_putc(b, '"');
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
			p++;
		} else if (c == '\n') {
			buf_puts(b, "\\n");
			p++;
		} else if (c == '\r') {
			buf_puts(b, "\\r");
			p++;
		} else if (c == '\t') {
			buf_puts(b, "\\t");
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\u%04x", c);
			p++;
		} else {
			size_t n = utf8_len(p);
			if (n == 0) {
				buf_puts(b, "\\ufffd");
				p++;
			} else {
				buf_append(b, p, n);
				p += n;
			}
		}
	}
	buf_putc(b, '"');
}

void json_time(struct buf *b, int64_t time_us)
{
	time_t sec = (time_t)(time_us / 1000000);
	long ms = (long)(time_us % 1000000) / 1000;
	if (ms < 0) {
		sec--;
		ms += 1000;
	}
	struct tm tm;
	char day[40];
	if (!gmtime_r(&sec, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		buf_puts(b, "null");
		return;
	}
	buf_printf(b, "\"%s.%03ldZ\"", day, ms);
}
