/* Certificate fixtures for the TLS unit tests: a fresh temporary directory in which a shell
 * script made of `openssl` commands writes the certificates and keys (no private key is
 * committed), paths into it, and its removal. */
#ifndef BATON_TLSFIXTURE_H
#define BATON_TLSFIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tu_certs {
	char dir[64];	   /* the directory; empty until made */
	bool have_openssl; /* false: there is no openssl command, nothing was made, tests skip */
};

/* Make /tmp/baton-<tag>-XXXXXX and run `script` there under `sh -e`, its output in gen.log
 * (copied to stderr when it fails). The script may call
 *   mk NAME CN [SAN]
 * for a self-signed P-256 certificate NAME.crt with its key NAME.key, subject /CN=CN, valid 30
 * days, subjectAltName SAN (default DNS:CN). Without an openssl command it makes nothing and
 * returns 0 (c->have_openssl is false). Returns 0 or -1, for a cmocka group setup. */
static inline int tu_certs_make(struct tu_certs *c, const char *tag, const char *script)
{
	c->dir[0] = 0;
	c->have_openssl = system("command -v openssl >/dev/null 2>&1") == 0;
	if (!c->have_openssl)
		return 0;
	snprintf(c->dir, sizeof(c->dir), "/tmp/baton-%s-XXXXXX", tag);
	if (!mkdtemp(c->dir)) {
		c->dir[0] = 0;
		return -1;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/gen.sh", c->dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("mk() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	      "-keyout $1.key -out $1.crt -days 30 -subj \"/CN=$2\" "
	      "-addext subjectAltName=${3:-DNS:$2}; }\n",
	      f);
	fputs(script, f);
	fputs("\n", f);
	if (fclose(f) != 0)
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && /bin/sh -e gen.sh >gen.log 2>&1 || { cat gen.log >&2; exit 1; }",
		 c->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Remove the directory tu_certs_make made, if it made one. Returns 0 or -1. */
static inline int tu_certs_remove(struct tu_certs *c)
{
	if (!c->dir[0])
		return 0;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	int rc = system(cmd);
	c->dir[0] = 0;
	return rc == 0 ? 0 : -1;
}

/* dir/name in one of four rotating static buffers (enough for one call's arguments). */
static inline const char *tu_certs_path(const struct tu_certs *c, const char *name)
{
	static char bufs[4][300];
	static int i;
	char *p = bufs[i++ % 4];
	snprintf(p, sizeof(bufs[0]), "%s/%s", c->dir, name);
	return p;
}

#endif
