#include "filereload/reload_tls.h"

#include <stdlib.h>

#include "tls/certcheck.h"
#include "util/xalloc.h"

void reload_tls_validate(const struct config *cfg, const struct cfg_tls *t,
			 struct reload_tls_verdict *v)
{
	struct certcheck_opts o = {
		.cert = t->cert,
		.key = t->key,
		.root = cfg->root,
		.hostnames = (const char *const *)t->hostnames.v,
		.ca = t->ca,
	};
	struct certcheck_result res;
	certcheck_pair(&o, &res);
	v->ok = res.ok;
	v->transient = !res.ok && certcheck_mismatch_is_transient(&res);
	if (res.ok)
		v->message = xasprintf("serial %s, sha256 %.16s…", res.serial, res.sha256);
	else
		v->message = xstrdup(res.msg ? res.msg : "invalid certificate");
	v->warning = res.warning ? xstrdup(res.warning) : NULL;
	v->not_after = res.have_leaf ? (int64_t)res.not_after : 0;
	certcheck_result_release(&res);
}
