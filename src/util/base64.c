#include "util/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct buf *out, const void *in, size_t n)
{
	const unsigned char *p = in;
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = alphabet[(v >> 18) & 63];
		q[1] = alphabet[(v >> 12) & 63];
		q[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? alphabet[v & 63] : '=';
		buf_append(out, q, 4);
	}
}

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(struct buf *out, const char *s, size_t n)
{
	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int a = val(s[i]), b = val(s[i + 1]);
		int c = s[i + 2] == '=' && last && s[i + 3] == '=' ? -2 : val(s[i + 2]);
		int d = s[i + 3] == '=' && last ? -2 : val(s[i + 3]);
		if (a < 0 || b < 0 || c == -1 || d == -1)
			return -EINVAL;
		char o[3];
		o[0] = (char)((a << 2) | (b >> 4));
		if (c == -2) {
			if (b & 15)
				return -EINVAL; /* not canonical */
			buf_append(out, o, 1);
			continue;
		}
		o[1] = (char)(((b & 15) << 4) | (c >> 2));
		if (d == -2) {
			if (c & 3)
				return -EINVAL;
			buf_append(out, o, 2);
			continue;
		}
		o[2] = (char)(((c & 3) << 6) | d);
		buf_append(out, o, 3);
	}
	return 0;
}
