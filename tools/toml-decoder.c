/* toml-test decoder: TOML on stdin, tagged JSON on stdout. Invalid TOML: the error on stderr
 * as "toml-decoder: LINE:COL: message" and exit status 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toml/toml.h"
#include "toml/toml_json.h"
#include "util/buf.h"
#include "util/fileio.h"

static int read_stdin(struct buf *in)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		buf_append(in, chunk, (size_t)n);
	}
}

int main(int argc, char **argv)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct toml_error err;
	int rc;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: toml-decoder < file.toml > file.json\n");
		return 2;
	}
	rc = read_stdin(&in);
	if (rc < 0) {
		fprintf(stderr, "toml-decoder: reading stdin: %s\n", strerror(-rc));
		buf_release(&in);
		return 2;
	}
	struct toml_value *root = toml_parse(in.p, in.len, &err);
	buf_release(&in);
	if (!root) {
		fprintf(stderr, "toml-decoder: %u:%u: %s\n", err.pos.line, err.pos.col, err.msg);
		return 1;
	}
	toml_json_write(&out, root);
	buf_putc(&out, '\n');
	toml_free(root);
	rc = fd_write_all(1, out.p, out.len);
	buf_release(&out);
	if (rc < 0) {
		fprintf(stderr, "toml-decoder: writing stdout: %s\n", strerror(-rc));
		return 2;
	}
	return 0;
}
