/* Progressive delivery, the pure part: a canary's steps and their analysis, blue-green's warm
 * window, and the routing decision of one request. No I/O, no clock of its own (every call takes
 * `now`, monotonic microseconds), no allocation after rollout_init(): the supervisor feeds it the
 * outcome of each request (from the HTTP front's observer) and a tick, and applies the weights
 * and decisions it returns.
 *
 * Canary: the new generation gets steps[0] % of requests for `interval`; when the step ends its
 * window is judged against the old generation's over the same window:
 *   - fewer than min_requests new requests: inconclusive, the step is extended ("hold"); after
 *     10 minutes of holding in a row, on_no_traffic decides (hold on, promote, or roll back);
 *   - error rate (5xx or failed, in percent of the new generation's requests) > max_error_rate:
 *     roll back;
 *   - new p99 > latency_floor and > max_latency_ratio × old p99 (when the old generation had
 *     requests in the window): roll back;
 *   - else the next step; after the last one, promoted (100 %).
 * At any time, fast_fail consecutive 5xx or failed requests from the new generation roll back
 * at once. Blue-green: the new generation gets 100 % at once; the old one stays warm keep_old,
 * within which rollout_rollback() flips back and fast_fail still rolls back; then promoted.
 * p99 comes from a log-linear histogram (8 buckets per octave: at most 12.5 % above the true
 * value). */
#ifndef BATON_ROLLOUT_H
#define BATON_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLLOUT_MAX_STEPS 16
#define ROLLOUT_NO_TRAFFIC_US (600LL * 1000000) /* holding this long: on_no_traffic */

enum rollout_strategy { ROLLOUT_IMMEDIATE, ROLLOUT_CANARY, ROLLOUT_BLUE_GREEN };
enum rollout_no_traffic { ROLLOUT_NT_HOLD, ROLLOUT_NT_PROMOTE, ROLLOUT_NT_ROLLBACK };

struct rollout_cfg {
	enum rollout_strategy strategy;
	int steps[ROLLOUT_MAX_STEPS]; /* percent, increasing, 1..100 */
	int nsteps;
	int64_t interval_us;
	uint64_t min_requests;
	double max_error_rate; /* percent */
	double max_latency_ratio;
	int64_t latency_floor_us;
	unsigned fast_fail; /* 0: off */
	enum rollout_no_traffic on_no_traffic;
	int64_t keep_old_us;
};

/* The defaults of the contract: canary off (immediate), steps 10 50 100, 60 s, 100 requests,
 * 1 %, ratio 1.5 above 50 ms, fast_fail 5, hold, keep_old 30 s. */
void rollout_cfg_defaults(struct rollout_cfg *c);
/* Check a configuration: 0, or -EINVAL with a reason in *err (the caller frees). */
int rollout_cfg_check(const struct rollout_cfg *c, char **err);

#define ROLLOUT_HIST_BUCKETS 224
struct rollout_hist {
	uint64_t count;
	uint32_t b[ROLLOUT_HIST_BUCKETS];
};
void rollout_hist_add(struct rollout_hist *h, int64_t us);
/* The q-quantile (0 < q <= 1) in microseconds: the upper bound of its bucket; 0 when empty. */
int64_t rollout_hist_quantile(const struct rollout_hist *h, double q);

struct rollout_window {
	uint64_t requests;
	uint64_t errors; /* 5xx or failed (no response) */
	struct rollout_hist lat;
};
double rollout_window_error_rate(const struct rollout_window *w); /* percent; 0 when empty */

enum rollout_state {
	ROLLOUT_IDLE,	     /* no rollout: the serving generation gets everything */
	ROLLOUT_STEPPING,    /* canary steps, or blue-green's warm window */
	ROLLOUT_PROMOTED,    /* ended: the new generation serves alone */
	ROLLOUT_ROLLED_BACK, /* ended: the old generation serves alone (analysis, abort, rollback)
			      */
};

enum rollout_decision {
	ROLLOUT_NONE,	  /* nothing changes */
	ROLLOUT_STEP,	  /* a new step: apply rollout_weight() */
	ROLLOUT_HOLD,	  /* the step was extended (reason says why) */
	ROLLOUT_PROMOTE,  /* promote now: new at 100 %, drain the old */
	ROLLOUT_ROLLBACK, /* roll back now: old at 100 %, drain the new */
};

struct rollout {
	struct rollout_cfg cfg;
	enum rollout_state state;
	int step; /* index into cfg.steps */
	int64_t step_start_us;
	bool holding;	       /* the step has been extended since hold_since_us */
	int64_t hold_since_us; /* the start of the first held window */
	unsigned consecutive_failures;
	struct rollout_window old_w, new_w; /* the current step's window */
	char reason[256];		    /* why the last decision (holds, rollbacks) */
};

void rollout_init(struct rollout *r, const struct rollout_cfg *c);
/* A new generation is ready: start. ROLLOUT_STEP (canary, blue-green) or ROLLOUT_PROMOTE
 * (immediate). */
enum rollout_decision rollout_start(struct rollout *r, int64_t now);
/* The percent of new requests the new generation gets now (0..100). */
int rollout_weight(const struct rollout *r);
/* One request's outcome: status 0 = failed (no response), is_new = served by the new one.
 * Returns ROLLOUT_ROLLBACK on fast-fail, else ROLLOUT_NONE. */
enum rollout_decision rollout_observe(struct rollout *r, bool is_new, int status, int64_t dur_us,
				      int64_t now);
/* Time passes: ends steps and warm windows. */
enum rollout_decision rollout_tick(struct rollout *r, int64_t now);
/* When the next tick can decide something (absolute, for a timer); INT64_MAX when never. */
int64_t rollout_next_deadline(const struct rollout *r);
/* `baton promote`: skip the remaining steps. `baton abort`: roll back now. `baton rollback`:
 * blue-green within keep_old only (-ESRCH otherwise). Each returns 0 or -ESRCH when no rollout
 * runs. why (promote, abort): the reason, NULL for "by request". */
int rollout_promote(struct rollout *r, const char *why);
int rollout_abort(struct rollout *r, const char *why);
int rollout_rollback(struct rollout *r);

/* Routing of one request while a rollout runs. sticky_gen: the generation the client's cookie or
 * connection names (0: none); preview: the request carries the preview header; roll: uniform in
 * [0, 100). Returns true to send it to the new generation. */
bool rollout_pick_new(const struct rollout *r, bool sticky_known, bool sticky_new, bool preview,
		      double roll);

#endif
