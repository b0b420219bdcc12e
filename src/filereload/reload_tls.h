/* The [[tls]] check used by reload.c: certcheck (OpenSSL) applied to one configured pair, with
 * paths resolved against the config's root. */
#ifndef BATON_RELOAD_TLS_H
#define BATON_RELOAD_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct reload_tls_verdict {
	bool ok;
	bool transient;	   /* a cert/key mismatch: the other file may still be on its way */
	char *message;	   /* malloc'd: why it is bad (or a summary when ok); the caller frees */
	char *warning;	   /* malloc'd or NULL: e.g. expiring soon; the caller frees */
	int64_t not_after; /* the leaf's, seconds since the epoch; 0 when it did not parse */
};

void reload_tls_validate(const struct config *cfg, const struct cfg_tls *t,
			 struct reload_tls_verdict *v);

#endif
