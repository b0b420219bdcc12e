/* A rollout under `baton run`: drives the pure decisions of rollout/rollout.h with the loop's
 * clock, takes each request's outcome from the HTTP front, and tells the run policy what to
 * apply — weights for the two generations, and the end (promoted or rolled back). The policy
 * holds the previous generation ready meanwhile (gen_hold_previous) and retires or reverts to it
 * when the rollout ends.
 *
 * Callbacks: hooks.weights runs inside rollout_run_begin() and the commands (the caller applies
 * them at once); hooks.ended always runs from the loop, never inside the call that caused it
 * (a fast-fail seen in the front's observer, a command). */
#ifndef BATON_ROLLOUT_RUN_H
#define BATON_ROLLOUT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "rollout/rollout.h"

struct loop;
struct rollout_run;

struct rollout_run_hooks {
	/* The share of new requests (percent) for the previous and the current generation. */
	void (*weights)(void *arg, int prev, int prev_pct, int cur, int cur_pct);
	/* The rollout ended: promoted (the previous may go) or rolled back (back to it). */
	void (*ended)(void *arg, int prev, int cur, bool promoted, const char *reason);
};

/* The [rollout] table as rollout.h's settings. */
void rollout_cfg_from_config(const struct config *cfg, struct rollout_cfg *out);

struct rollout_run *rollout_run_new(struct loop *l, const struct rollout_cfg *c,
				    const struct rollout_run_hooks *h, void *arg);
void rollout_run_free(struct rollout_run *rr);
/* Not immediate: a ready generation must be held while it is analysed. */
bool rollout_run_wanted(const struct rollout_run *rr);
bool rollout_run_active(const struct rollout_run *rr);
/* Generation cur is ready, prev (held) served until now: start. */
void rollout_run_begin(struct rollout_run *rr, int prev, int cur);
/* One request's outcome on generation gen (status 0: failed, no response). */
void rollout_run_observe(struct rollout_run *rr, int gen, int status, int64_t dur_us);
/* Send this request to the new generation? sticky: the generation the client is pinned to (its
 * cookie or connection; 0 none); preview: it carries the preview header. Returns the generation
 * to use, or 0 when no rollout runs (route by weight). */
int rollout_run_route(struct rollout_run *rr, int sticky, bool preview);
/* The commands: 0, or -ESRCH with nothing running (rollback: not blue-green within keep_old).
 * why (promote, abort): the reason, NULL for "by request". */
int rollout_run_promote(struct rollout_run *rr, const char *why);
int rollout_run_abort(struct rollout_run *rr, const char *why);
int rollout_run_rollback(struct rollout_run *rr);

/* For `baton status`, the status page and metrics. */
struct rollout_gen_figures {
	int gen;
	uint64_t requests, errors;
	double error_rate; /* percent */
	double p99_ms;
};
struct rollout_status {
	const char *strategy; /* "immediate", "canary", "blue-green" */
	const char *state;    /* "idle", "stepping", "promoted", "rolled back" */
	int step, nsteps;     /* canary: 1-based */
	int weight;	      /* percent to the new generation */
	int64_t step_left_ms; /* until the current step (or keep_old) ends */
	struct rollout_gen_figures prev, cur;
	const char *reason; /* the last decision's explanation, "" if none */
};
void rollout_run_status(const struct rollout_run *rr, struct rollout_status *out);

#endif
