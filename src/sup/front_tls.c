/* The HTTPS front's certificates (front_tls.h). */
#include "sup/front_tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tlsfront.h"
#include "util/xalloc.h"

static char *in_root(const struct config *cfg, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", cfg->root, p);
}

static int load(const struct config *cfg, const struct cfg_listen *cl, struct tls_front *set,
		const struct cfg_tls *t, char **err)
{
	char *cert = in_root(cfg, t->cert), *key = in_root(cfg, t->key), *e = NULL;
	int r = tls_front_set(set, t->name, cert, key, &e);
	if (r < 0)
		*err = xasprintf("listener '%s': [[tls]] '%s': %s", cl->name, t->name,
				 e ? e : strerror(-r));
	free(e);
	free(cert);
	free(key);
	return r;
}

static const struct cfg_tls *group(const struct config *cfg, const char *name)
{
	for (int i = 0; i < cfg->ntls; i++)
		if (cfg->tls[i].name && strcmp(cfg->tls[i].name, name) == 0)
			return &cfg->tls[i];
	return NULL;
}

int front_tls_open(const struct config *cfg, const struct cfg_listen *cl, struct tls_front **out,
		   char **err)
{
	struct tls_front *set = NULL;
	char *e = NULL;
	int r = tls_front_new(&set, &e);
	if (r < 0) {
		*err = xasprintf("listener '%s': proxy = \"https\": %s", cl->name,
				 e ? e : strerror(-r));
		free(e);
		return r;
	}
	for (size_t i = 0; i < cl->tls.n; i++) {
		const struct cfg_tls *t = group(cfg, cl->tls.v[i]);
		if (!t) { /* config_check.c refuses it: only a config built in code gets here */
			*err = xasprintf("listener '%s': no [[tls]] group is named \"%s\"",
					 cl->name, cl->tls.v[i]);
			tls_front_free(set);
			return -EINVAL;
		}
		r = load(cfg, cl, set, t, err);
		if (r < 0) {
			tls_front_free(set);
			return r;
		}
	}
	*out = set;
	return 0;
}

int front_tls_update(const struct config *cfg, const struct cfg_listen *cl, struct tls_front *set,
		     const struct cfg_tls *t, char **err)
{
	if (!set || !t->name || !strv_contains(&cl->tls, t->name))
		return 0;
	return load(cfg, cl, set, t, err);
}
