/* Between the pipeline (source.c) and the kinds of source (etcd.c; Consul KV would be a second):
 * a kind watches its config center and hands over complete snapshots; the pipeline stages,
 * checks, applies and reports. Not for other modules. */
#ifndef BATON_SOURCE_INT_H
#define BATON_SOURCE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct loop;
struct source;

/* One key in a snapshot: name is the file name (key mode: "" — the value is the file; prefix
 * mode: the key with the prefix removed). Borrowed for the call. */
struct source_entry {
	const char *name;
	const char *value;
	size_t len;
};

struct source_kind {
	const char *name; /* "etcd" */
	/* Start watching (never blocks); relative paths in cfg are relative to root. NULL with a
	 * fresh message in *err. */
	void *(*start)(struct loop *l, const struct cfg_source *cfg, const char *root,
		       struct source *s, char **err);
	void (*stop)(void *impl);
};

extern const struct source_kind source_kind_etcd;

/* A new complete view (n == 0 in key mode: the key does not exist) at the kind's revision. */
void source_deliver(struct source *s, const struct source_entry *e, size_t n, int64_t revision);
/* Up (watching) or down with why (a full round of endpoints failed, the stream dropped...). */
void source_set_state(struct source *s, bool up, const char *why);

#endif
