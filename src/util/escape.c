#include "util/escape.h"

#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

static bool is_c1(const unsigned char *p, size_t left)
{
	return left >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
}

void escape_append(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else if (is_c1(p + i, n - i)) {
			buf_printf(b, "\\xc2\\x%02x", p[i + 1]);
			i++;
		} else
			buf_putc(b, (char)c);
	}
}

bool escape_needed(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f || is_c1(p + i, n - i))
			return true;
	return false;
}

char *escape_str(const char *s)
{
	if (!s)
		return NULL;
	if (!escape_needed(s))
		return xstrdup(s);
	struct buf b = BUF_INIT;
	escape_append(&b, s, strlen(s));
	return buf_detach(&b);
}
