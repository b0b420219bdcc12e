/* Config and certificate hot reload ([[reload]] and [[tls]] groups): watch, validate, then
 * apply — a bad file never reaches the app.
 *
 * Every group is independent. A settled batch of changes that touches a group starts an
 * attempt for it: all its files must exist ("not yet" otherwise: wait, keep the last good
 * state, report the missing path once); the content (hash of every file) must differ from the
 * last good one; [[tls]] pairs must pass certcheck (a cert/key mismatch is retried with backoff
 * up to a deadline, since certbot and cert-manager write the two files separately); the group's
 * `check` command must exit 0 within check_timeout. Then the group's action is asked for. The
 * actions of groups accepted in one batch are merged: one restart covers everything, a signal is
 * sent once per signal. Failures are logged once and kept for status; the app is untouched.
 * A [[tls]] group that an https listener names is first swapped into the front (cbs.tls_swap);
 * it asks for its action only when one is written (cfg_tls.act), and only such groups hold
 * reloads while rejected (the front keeps serving the previous certificate).
 *
 * The reloader owns its watch, check children, timers and group state; cfg and the env strings
 * must outlive it. Its watch joins the given inotify hub (watch_hub.h; `baton dev` shares one
 * with its source-tree watch), or has one of its own when hub is NULL. */
#ifndef BATON_RELOAD_H
#define BATON_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct loop;
struct child_reaper;
struct reloader;
struct watch_hub;

struct reload_cbs {
	/* A new generation (restart), for the groups named in why. */
	void (*restart)(const char *why, void *data);
	/* Send sig to the serving generation's main process. */
	void (*signal)(int sig, const char *why, void *data);
	/* A [[tls]] group an https listener names (cfg_tls.front) passed its checks: the front
	 * loads it for new handshakes. 0, or -errno with *err set (the front keeps the previous
	 * certificate; the group counts as failed). NULL: nothing to swap. */
	int (*tls_swap)(const struct cfg_tls *t, char **err, void *data);
};

/* One group's state, for status. */
struct reload_group_info {
	const char *name;	 /* [[reload]] name, or the [[tls]] cert path */
	const char *kind;	 /* "reload" or "tls" */
	bool ok;		 /* the last attempt was applied (or nothing tried yet) */
	const char *error;	 /* why the last attempt was rejected, or NULL */
	const char *warning;	 /* e.g. certificate expiring soon, or NULL */
	uint64_t good_hash;	 /* content hash of the last good state (0: none yet) */
	int64_t last_attempt_ms; /* monotonic, 0: never */
	unsigned applied;	 /* actions asked for so far */
};

/* Whether cfg has [[reload]] or [[tls]] groups: without any, there is no reloader to make. */
bool reloader_needed(const struct config *cfg);
/* For a cfg that reloader_needed(). NULL on failure, with errno set and a fresh message in *err
 * that the caller frees (err may be NULL). */
struct reloader *reloader_new(struct loop *l, struct watch_hub *hub, const struct config *cfg,
			      const char *const *env, struct child_reaper *reaper,
			      const struct reload_cbs *cbs, void *data, char **err);
void reloader_free(struct reloader *r);
/* While a [[tls]] group's current files are rejected, no new generation may start on them: the
 * app would read the rejected files. Returns NULL when nothing holds, else why (malloc'd, the
 * caller frees): 'certificate "certs/tls.crt" rejected: expired 2 days ago (...)'. r may be
 * NULL. Signals sent as another group's action that equal a rejected [[tls]] group's own
 * signal action are held by the reloader itself. */
char *reloader_hold_reason(const struct reloader *r);
/* The caller refused a restart because of reloader_hold_reason(): the reloader asks for it
 * (cbs.restart, "the held reload") once no [[tls]] group is rejected. r may be NULL. */
void reloader_hold_restart(struct reloader *r);
int reloader_ngroups(const struct reloader *r);
void reloader_group(const struct reloader *r, int i, struct reload_group_info *out);

#endif
