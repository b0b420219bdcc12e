/* The HTTPS front's certificates (`[[listen]] proxy = "https"`): per listener, a set
 * (tls/tlsfront.h) holding the [[tls]] groups it names, in its order (the first is the
 * default). Used by front.c; the reloader's checks decide when a group is loaded again. */
#ifndef BATON_FRONT_TLS_H
#define BATON_FRONT_TLS_H

#include "config/config.h"

struct tls_front;

/* Listener cl's set with every group it names loaded. 0, or -errno with *err set (caller
 * frees): libssl missing, a group's files unreadable, or its key not matching. */
int front_tls_open(const struct config *cfg, const struct cfg_listen *cl, struct tls_front **out,
		   char **err);
/* Group t again into cl's set, when cl names it (else nothing, 0). 0 or -errno with *err set;
 * on an error the set keeps what it had. */
int front_tls_update(const struct config *cfg, const struct cfg_listen *cl, struct tls_front *set,
		     const struct cfg_tls *t, char **err);

#endif
