/* The broken-build page (devpage.h). */
#include "sup/devpage.h"

#include <stddef.h>
#include <string.h>

#include "http/proxy.h"
#include "util/buf.h"

/* Length of the UTF-8 sequence at s (n bytes available), 0 when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (s[0] < 0xc2 || s[0] > 0xf4 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return len;
}

/* An ANSI escape sequence at s (ESC [ ... final byte, or ESC and one byte): its length. */
static size_t ansi_len(const char *s)
{
	if (s[1] != '[')
		return s[1] ? 2 : 1;
	size_t i = 2;
	while (s[i] && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x40)
		i++;
	return s[i] && (unsigned char)s[i] >= 0x40 && (unsigned char)s[i] < 0x7f ? i + 1 : i;
}

static void put_html(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x1b) {
			i += ansi_len(s + i);
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_len((const unsigned char *)s + i, n - i);
			if (len) {
				buf_append(b, s + i, len);
				i += len;
			} else {
				buf_puts(b, "\xef\xbf\xbd");
				i++;
			}
			continue;
		}
		i++;
		switch (c) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		case '\n':
		case '\t':
			buf_putc(b, (char)c);
			break;
		case '\r':
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_puts(b, "\xef\xbf\xbd");
			else
				buf_putc(b, (char)c);
		}
	}
}

char *devpage_build_error(const char *output, const char *status, int serving, bool live_reload)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		     "<title>Build failed · baton</title>\n<style>"
		     "body{font:15px system-ui,sans-serif;margin:2em;color:#222}"
		     "h1{color:#b00;font-size:1.4em}"
		     "pre{background:#f6f6f6;border-left:4px solid #b00;padding:1em;"
		     "overflow:auto;font:13px ui-monospace,monospace;white-space:pre-wrap}"
		     "</style></head>\n<body>\n<h1>Build failed");
	if (status && *status) {
		buf_puts(&b, " (");
		put_html(&b, status);
		buf_putc(&b, ')');
	}
	buf_puts(&b, "</h1>\n<p id=\"baton-serving\">");
	if (serving > 0)
		buf_printf(&b,
			   "Other requests still go to generation %d. Fix the errors and save: ",
			   serving);
	else
		buf_puts(&b, "Nothing is serving yet. Fix the errors and save: ");
	buf_puts(&b, live_reload ? "this page reloads itself when the new build is ready."
				 : "then reload this page.");
	buf_puts(&b, "</p>\n<pre id=\"baton-build-output\">");
	put_html(&b, output ? output : "");
	buf_puts(&b, "</pre>\n");
	if (live_reload)
		buf_puts(&b, "<script>(function(){var es=new EventSource(\"" PROXY_LIVE_PATH "\");"
			     "var go=function(){es.close();location.reload();};"
			     "es.onmessage=go;es.addEventListener(\"reload\",go);})();</script>\n");
	buf_puts(&b, "</body></html>\n");
	return buf_detach(&b);
}
