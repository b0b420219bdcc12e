/* libFuzzer target: notify datagrams (notify_parse) and env files (env_file_parse). Both are
 * pure parsers fed by other processes or users; neither may crash, leak or read out of bounds.
 * The first input byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/env.h"
#include "net/notify.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_notify(const char *buf, size_t len)
{
	struct notify_msg m;
	if (notify_parse(buf, len, &m) < 0)
		return;
	if (m.has_status) {
		/* the status points into the datagram and holds no control characters */
		if (m.status < buf || m.status + m.status_len > buf + len)
			abort();
		for (size_t i = 0; i < m.status_len; i++)
			if ((unsigned char)m.status[i] < 0x20 && m.status[i] != '\t')
				abort();
	}
	if (m.has_mainpid && m.mainpid <= 0)
		abort();
	if (m.has_errno && m.errno_value < 0)
		abort();
	if (m.has_fdname) {
		/* the name points into the datagram and is a valid FDNAME */
		if (m.fdname < buf || m.fdname + m.fdname_len > buf + len)
			abort();
		if (!notify_fdname_valid(m.fdname, m.fdname_len))
			abort();
	}
}

static void check_env_file(const char *buf, size_t len)
{
	struct strv out = STRV_INIT;
	char *err = NULL;
	int r = env_file_parse("fuzz.env", buf, len, &out, &err);
	if (r < 0 && !err)
		abort();
	if (r == 0) {
		if (err)
			abort();
		for (size_t i = 0; i < out.n; i++) {
			const char *eq = strchr(out.v[i], '=');
			if (!eq || !env_name_valid(out.v[i], (size_t)(eq - out.v[i])))
				abort();
		}
	}
	free(err);
	strv_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* copy so that ASan catches reads past the end */
	size_t len = size - 1;
	char *buf = malloc(len ? len : 1);
	memcpy(buf, data + 1, len);
	if (data[0] & 1)
		check_env_file(buf, len);
	else
		check_notify(buf, len);
	free(buf);
	return 0;
}
