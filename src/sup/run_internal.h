/* Internals of `baton run` shared by run.c (the policy) and run_ctl.c (the control socket
 * glue). Not for other modules. */
#ifndef BATON_RUN_INTERNAL_H
#define BATON_RUN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sup/app.h"

struct run_ctl;
struct child;
struct ctl_client;
struct upgrade_state;
struct source_set;

/* A reload requester waiting for the generation that covers its request. */
struct waiter {
	int min_id; /* any generation >= this one that becomes ready (or fails) answers it */
	void (*done)(bool ok, const char *msg, void *data);
	void *data;
};

struct run {
	struct app app;
	const struct config *cfg;
	struct waiter *waiters;
	size_t nwaiters, capwaiters;
	bool first_ready; /* systemd has been told READY=1 */
	bool reloading;	  /* a reload is in progress (for RELOADING=1 / READY=1 pairing) */
	int64_t reload_started_ms;
	int64_t started_ms;
	/* last reload result, for status */
	bool last_ok;
	bool have_last;
	char last_reason[600];
	int64_t last_duration_ms;
	int64_t last_at_ms;	 /* monotonic */
	int64_t last_at_unix_ms; /* wall clock */
	int exit_code;
	struct run_ctl *ctl;
	struct reloader *reloader;
	struct source_set *sources; /* [[source]] (config sources), or NULL */
	/* the state file (run_state.c) and the generations adopted from a killed baton */
	char *state_path;
	bool state_written; /* ours now: removed at a clean exit */
	bool state_warned;  /* its last write failed and that was logged */
	struct adopt *orphans;
	bool orphans_draining;
	/* re-executing in place (run_upgrade.c) */
	char *exe;			   /* baton's binary as resolved at start-up */
	struct child *preflight;	   /* the new binary's --version run */
	struct ctl_client *upgrade_client; /* the `baton upgrade` waiting for the answer */
	char upgrade_version[128];	   /* what the new binary says it is */
	struct upgrade_state *inherit;	   /* this image was exec'd by an upgrade */
};

/* Ask for a reload; done (may be NULL) gets the result of the reload that covers it. */
void run_request_reload(struct run *r, const char *who,
			void (*done)(bool ok, const char *msg, void *data), void *data);
/* Graceful stop of every generation, then exit. */
void run_request_stop(struct run *r, const char *who);

/* The state file (run_state.c): adopt what a killed baton left (before app_init), record the
 * live generations after each change (a failure is logged once and never stops serving), and
 * remove it at a clean exit. */
struct listen_adopted *run_state_adopt(struct run *r);
void run_state_save(struct run *r);
void run_state_fini(struct run *r);

/* Upgrade in place (run_upgrade.c): c (may be NULL) gets the answer. The new image takes the
 * inherited listening sockets (before app_init) and restores the rest (after app_start_gens). */
void run_upgrade(struct run *r, struct ctl_client *c, const char *who);
/* The binary an upgrade executes: the path baton was started as (argv[0], made absolute at
 * start-up; symlinks kept), else /proc/self/exe resolved now. Fresh string or NULL. */
char *run_upgrade_exe(void);
struct listen_adopted *run_upgrade_sockets(struct run *r);
void run_upgrade_restore(struct run *r);

/* The control socket (run_ctl.c): NULL after logging the reason. Serves on the inherited socket
 * after an upgrade. */
struct run_ctl *run_ctl_new(struct run *r);
void run_ctl_free(struct run_ctl *c);
int run_ctl_fd(const struct run_ctl *c);

#endif
