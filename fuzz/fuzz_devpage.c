/* libFuzzer target: build output (anything a compiler, or a build script, may print) rendered
 * into the broken-build page. Checks what the page promises: nothing of the output can open a
 * tag (no '<' inside the <pre>), and the page is valid UTF-8 without control characters other
 * than newline and tab. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup/devpage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const unsigned char *s)
{
	while (*s) {
		if (*s < 0x80) {
			if ((*s < 0x20 && *s != '\n' && *s != '\t') || *s == 0x7f)
				abort();
			s++;
			continue;
		}
		size_t len = *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : 2;
		if (*s < 0xc2 || *s > 0xf4)
			abort();
		for (size_t i = 1; i < len; i++)
			if ((s[i] & 0xc0) != 0x80)
				abort();
		s += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(size + 1);
	if (!out)
		return 0;
	memcpy(out, data, size);
	out[size] = '\0';
	char *page = devpage_build_error(out, out, (int)(size % 3), size % 2);
	const char *open = "<pre id=\"baton-build-output\">";
	const char *p = strstr(page, open);
	if (!p)
		abort();
	p += strlen(open);
	const char *lt = strchr(p, '<');
	if (!lt || strncmp(lt, "</pre>", 6) != 0)
		abort();
	check_utf8((const unsigned char *)page);
	free(page);
	free(out);
	return 0;
}
