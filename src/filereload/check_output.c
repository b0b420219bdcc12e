/* A check command's output and verdict: see check_output.h. */
#include "filereload/check_output.h"

#include <stdlib.h>
#include <string.h>

#include "util/escape.h"
#include "util/xalloc.h"

void check_output_line(struct buf *out, const char *line, size_t len)
{
	if (out->len >= CHECK_OUTPUT_MAX)
		return;
	buf_puts(out, "  │ ");
	escape_append(out, line, len);
	buf_putc(out, '\n');
}

char *check_output_reason(const char *cmd, int64_t timeout_ms, bool timed_out, const char *status,
			  const struct buf *out)
{
	const char *o = buf_cstr(out);
	size_t n = strlen(o);
	while (n && o[n - 1] == '\n')
		n--;
	char *c = escape_str(cmd);
	char *why = timed_out ? xasprintf("check \"%s\" did not finish within %lld ms and was "
					  "killed%s%.*s",
					  c, (long long)timeout_ms, n ? ":\n" : "", (int)n, o)
			      : xasprintf("check \"%s\" %s%s%.*s", c, status, n ? ":\n" : "",
					  (int)n, o);
	free(c);
	return why;
}
