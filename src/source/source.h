/* Config sources ([[source]]): values kept in a config center (etcd today) mirrored into local
 * files through the [[reload]] discipline — a staged copy, the check run on it (BATON_FILE), an
 * atomic rename into place (a prefix is a directory swapped as a whole through a "..data"
 * symlink, as Kubernetes mounts a ConfigMap), then the action (restart / signal / exec, through
 * the same struct reload_cbs as [[reload]]). A rejected value leaves the last good one in place
 * and is reported (log, status); a value equal to what is in place does nothing; bursts settle
 * with the [watch] debounce and are applied once.
 *
 * A kind of source (source_int.h: etcd now; Consul KV could be another) only delivers
 * snapshots — every key it mirrors with its value — and says whether it is up; the pipeline
 * here does the rest.
 *
 * Before the first generation: source_set_start() reads every source and calls ready once each
 * has a file in place: a fresh value, or (the source unreachable) a file left by an earlier run,
 * which is said; with no file at all it waits up to initial_timeout and then fails.
 *
 * Ownership: the set owns its connections, check children and timers; cfg, env and reaper must
 * outlive it. Strings in a struct source_info are the set's, valid until the next loop turn. */
#ifndef BATON_SOURCE_H
#define BATON_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "filereload/reload.h"

struct loop;
struct child_reaper;
struct source_set;

struct source_info {
	const char *name;
	const char *kind;	 /* "etcd" */
	bool up;		 /* connected and watching (baton_config_source_up{source}) */
	const char *down_reason; /* why not up, or NULL */
	bool ok;		 /* the last value tried was applied (or nothing tried yet) */
	const char *error;	 /* why the last value was rejected, or NULL */
	int64_t revision;	 /* the source's revision last seen (etcd), 0: none */
	unsigned applied;	 /* values put in place since start */
	unsigned rejected;	 /* values rejected since start */
};

/* NULL when cfg has no [[source]] (not an error: *err stays NULL), or on failure with a fresh
 * message in *err. */
struct source_set *source_set_new(struct loop *l, const struct config *cfg, const char *const *env,
				  struct child_reaper *reaper, const struct reload_cbs *cbs,
				  void *data, char **err);
/* Connect every source; ready(ok, why, data) is called once (from the loop) when every source
 * has its file in place (ok), or one of them has none after its initial_timeout (!ok, why says
 * which and why). Until then actions are not run (there is no app yet), unless serving says an
 * app already runs (baton re-executed itself by `baton upgrade`). */
void source_set_start(struct source_set *s, bool serving,
		      void (*ready)(bool ok, const char *why, void *data), void *data);
void source_set_free(struct source_set *s);

int source_set_count(const struct source_set *s);
void source_set_info(const struct source_set *s, int i, struct source_info *out);
/* For metrics (baton_config_source_up{source}): 1 up, 0 down, -1 no such source. */
int source_set_up(const struct source_set *s, const char *name);

#endif
