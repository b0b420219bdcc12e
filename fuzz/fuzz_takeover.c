/* libFuzzer target: the sockaddr bytes an app passes to bind(2), read from its memory
 * (tk_addr_decode). Any bytes of any length: no crash, no read past len, a key that is printable
 * ASCII and NUL-terminated within TK_KEY_MAX when an address is held. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup/takeover_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	char key[TK_KEY_MAX];
	int r = tk_addr_decode(p, size, key);
	if (r != 1 && r != 0 && r != -EINVAL)
		abort();
	if (r == 1) {
		size_t n = strnlen(key, TK_KEY_MAX);
		if (n == 0 || n == TK_KEY_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
				abort();
	}
	free(p);
	return 0;
}
