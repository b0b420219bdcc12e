/* Certificates for the TLS unit tests: a temporary directory of self-signed P-256 pairs made
 * with the openssl command. Without the command, tu_certs.have is false and the tests that
 * need certificates skip. */
#ifndef BATON_TLSCERTS_H
#define BATON_TLSCERTS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct tu_certs {
	char dir[64];
	bool have;
};

/* Make the directory /tmp/baton-NAME-XXXXXX and in it, for each "mk PAIR CN SAN;" of mks,
 * PAIR.crt and PAIR.key (SAN such as "DNS:a.test,IP:127.0.0.1"). 0, or -1 (see gen.log). */
static inline int tu_certs_make(struct tu_certs *c, const char *name, const char *mks)
{
	c->have = system("command -v openssl >/dev/null 2>&1") == 0;
	if (!c->have)
		return 0;
	snprintf(c->dir, sizeof(c->dir), "/tmp/baton-%s-XXXXXX", name);
	if (!mkdtemp(c->dir))
		return -1;
	char cmd[2048];
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && exec >gen.log 2>&1 && set -e && "
		"mk() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"-keyout $1.key -out $1.crt -days 30 -subj /CN=$2 -addext subjectAltName=$3; }; %s",
		c->dir, mks);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int tu_certs_remove(struct tu_certs *c)
{
	if (!c->have)
		return 0;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* c's dir/file; the last four results stay valid. */
static inline const char *tu_certs_path(const struct tu_certs *c, const char *file)
{
	static char bufs[4][300];
	static int i;
	char *p = bufs[i++ % 4];
	snprintf(p, sizeof(bufs[0]), "%s/%s", c->dir, file);
	return p;
}

#endif
