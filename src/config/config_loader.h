/* The loader's state, shared by config_load.c (the walk) and config_check.c (the checks across
 * keys that run after it). Internal to src/config. */
#ifndef BATON_CONFIG_LOADER_H
#define BATON_CONFIG_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config_impl.h"

/* Where a key was set, for messages about it that come after the walk. */
struct seen {
	const struct config_key *k;
	int idx; /* element of [[listen]] / [[reload]] / [[tls]], else 0 */
	struct toml_pos pos;
};

struct loader {
	const char *file;
	struct config_diags *d;
	struct config *cfg;
	struct seen *seen;
	size_t nseen, capseen;
	struct toml_pos *elem_pos[4]; /* table positions of listen, reload, tls, source elements */
	size_t elem_cap[4];
	struct toml_pos table_pos[16]; /* positions of [build], [run], ... by config_tables index */
	bool watch_only;	       /* config_load_watch: what runs an app is not required */
};

/* Where key table.name of element idx was set, or NULL when it was not. */
const struct seen *ld_seen(const struct loader *ld, const char *table, const char *name, int idx);
static inline struct toml_pos ld_pos_or(const struct seen *s, struct toml_pos dflt)
{
	return s ? s->pos : dflt;
}
/* A problem at pos, as "file:line:col: message". */
void ld_diag(struct loader *ld, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* config_check.c, in this order after the walk and check_required. */
void ld_check_all(struct loader *ld);

#endif
