/* A rollout under `baton run`: see rollout_run.h. */
#include "sup/rollout_run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct rollout_run {
	struct loop *loop;
	struct rollout r;
	struct rollout_run_hooks h;
	void *arg;
	int prev, cur;
	bool active;
	struct loop_timer *step; /* the current step's (or keep_old's) end */
	struct loop_timer *end;	 /* reports the end from the loop */
	bool end_promoted;
	uint64_t rng;
};

void rollout_cfg_from_config(const struct config *cfg, struct rollout_cfg *out)
{
	rollout_cfg_defaults(out);
	const char *s = cfg->rollout.strategy;
	out->strategy = !s || strcmp(s, "immediate") == 0 ? ROLLOUT_IMMEDIATE
			: strcmp(s, "canary") == 0	  ? ROLLOUT_CANARY
							  : ROLLOUT_BLUE_GREEN;
	out->nsteps = cfg->rollout.steps.n;
	for (int i = 0; i < out->nsteps && i < ROLLOUT_MAX_STEPS; i++)
		out->steps[i] = cfg->rollout.steps.v[i];
	out->interval_us = cfg->rollout.interval_ms * 1000;
	out->min_requests = (uint64_t)cfg->rollout.min_requests;
	out->max_error_rate = cfg->rollout.max_error_rate;
	out->max_latency_ratio = cfg->rollout.max_latency_ratio;
	out->latency_floor_us = cfg->rollout.latency_floor_ms * 1000;
	out->fast_fail = (unsigned)cfg->rollout.fast_fail;
	s = cfg->rollout.on_no_traffic;
	out->on_no_traffic = !s || strcmp(s, "hold") == 0 ? ROLLOUT_NT_HOLD
			     : strcmp(s, "promote") == 0  ? ROLLOUT_NT_PROMOTE
							  : ROLLOUT_NT_ROLLBACK;
	out->keep_old_us = cfg->rollout.keep_old_ms * 1000;
}

static void apply_weights(struct rollout_run *rr)
{
	int w = rollout_weight(&rr->r);
	if (rr->h.weights)
		rr->h.weights(rr->arg, rr->prev, 100 - w, rr->cur, w);
}

/* The rollout is over (rollout.h's state says how): weights now, the report from the loop. */
static void finish(struct rollout_run *rr)
{
	rr->active = false;
	loop_timer_disarm(rr->step);
	rr->end_promoted = rr->r.state == ROLLOUT_PROMOTED;
	apply_weights(rr);
	loop_timer_arm_in(rr->end, 0);
}

static void arm_step(struct rollout_run *rr)
{
	int64_t at = rollout_next_deadline(&rr->r);
	if (at == INT64_MAX)
		loop_timer_disarm(rr->step);
	else
		loop_timer_arm_at(rr->step, (at + 999) / 1000);
}

static void act(struct rollout_run *rr, enum rollout_decision d)
{
	switch (d) {
	case ROLLOUT_NONE:
		return;
	case ROLLOUT_STEP:
		log_info("rollout: generation %d gets %d%% of requests%s%s", rr->cur,
			 rollout_weight(&rr->r), rr->r.reason[0] ? " — " : "", rr->r.reason);
		apply_weights(rr);
		arm_step(rr);
		return;
	case ROLLOUT_HOLD:
		log_info("rollout: %s", rr->r.reason);
		arm_step(rr);
		return;
	case ROLLOUT_PROMOTE:
	case ROLLOUT_ROLLBACK:
		finish(rr);
		return;
	}
}

static void on_step(struct loop *l, void *data)
{
	(void)l;
	struct rollout_run *rr = data;
	if (rr->active)
		act(rr, rollout_tick(&rr->r, now_us()));
}

static void on_end(struct loop *l, void *data)
{
	(void)l;
	struct rollout_run *rr = data;
	if (rr->end_promoted)
		log_info("rollout: generation %d promoted (%s)", rr->cur, rr->r.reason);
	else
		log_warn("rollout: generation %d rolled back: %s", rr->cur, rr->r.reason);
	if (rr->h.ended)
		rr->h.ended(rr->arg, rr->prev, rr->cur, rr->end_promoted, rr->r.reason);
}

struct rollout_run *rollout_run_new(struct loop *l, const struct rollout_cfg *c,
				    const struct rollout_run_hooks *h, void *arg)
{
	struct rollout_run *rr = xcalloc(1, sizeof(*rr));
	rr->loop = l;
	rollout_init(&rr->r, c);
	rr->h = *h;
	rr->arg = arg;
	rr->step = loop_timer_new(l, on_step, rr);
	rr->end = loop_timer_new(l, on_end, rr);
	rr->rng = (uint64_t)now_us() * 0x9E3779B97F4A7C15ull | 1;
	return rr;
}

void rollout_run_free(struct rollout_run *rr)
{
	if (!rr)
		return;
	loop_timer_free(rr->step);
	loop_timer_free(rr->end);
	free(rr);
}

bool rollout_run_wanted(const struct rollout_run *rr)
{
	return rr->r.cfg.strategy != ROLLOUT_IMMEDIATE;
}

bool rollout_run_active(const struct rollout_run *rr)
{
	return rr->active;
}

void rollout_run_begin(struct rollout_run *rr, int prev, int cur)
{
	loop_timer_disarm(rr->end);
	rr->prev = prev;
	rr->cur = cur;
	rr->active = true;
	act(rr, rollout_start(&rr->r, now_us()));
}

void rollout_run_observe(struct rollout_run *rr, int gen, int status, int64_t dur_us)
{
	if (!rr->active || (gen != rr->cur && gen != rr->prev))
		return;
	act(rr, rollout_observe(&rr->r, gen == rr->cur, status, dur_us, now_us()));
}

/* xorshift64*: a uniform roll in [0, 100) for the weighted choice. */
static double roll(struct rollout_run *rr)
{
	rr->rng ^= rr->rng >> 12;
	rr->rng ^= rr->rng << 25;
	rr->rng ^= rr->rng >> 27;
	return (double)((rr->rng * 0x2545F4914F6CDD1Dull) >> 11) / (double)(1ull << 53) * 100.0;
}

int rollout_run_route(struct rollout_run *rr, int sticky, bool preview)
{
	if (!rr->active)
		return 0;
	bool known = sticky == rr->cur || sticky == rr->prev;
	bool to_new = rollout_pick_new(&rr->r, known, sticky == rr->cur, preview, roll(rr));
	return to_new ? rr->cur : rr->prev;
}

int rollout_run_promote(struct rollout_run *rr, const char *why)
{
	if (!rr->active || rollout_promote(&rr->r, why) < 0)
		return -ESRCH;
	finish(rr);
	return 0;
}

int rollout_run_abort(struct rollout_run *rr, const char *why)
{
	if (!rr->active || rollout_abort(&rr->r, why) < 0)
		return -ESRCH;
	finish(rr);
	return 0;
}

int rollout_run_rollback(struct rollout_run *rr)
{
	if (!rr->active || rollout_rollback(&rr->r) < 0)
		return -ESRCH;
	finish(rr);
	return 0;
}

static void figures(const struct rollout_window *w, int gen, struct rollout_gen_figures *out)
{
	out->gen = gen;
	out->requests = w->requests;
	out->errors = w->errors;
	out->error_rate = rollout_window_error_rate(w);
	out->p99_ms = (double)rollout_hist_quantile(&w->lat, 0.99) / 1000.0;
}

void rollout_run_status(const struct rollout_run *rr, struct rollout_status *out)
{
	static const char *const strategies[] = {"immediate", "canary", "blue-green"};
	static const char *const states[] = {"idle", "stepping", "promoted", "rolled back"};
	memset(out, 0, sizeof(*out));
	out->strategy = strategies[rr->r.cfg.strategy];
	out->state = states[rr->r.state];
	out->step = rr->r.step + 1;
	out->nsteps = rr->r.cfg.strategy == ROLLOUT_CANARY ? rr->r.cfg.nsteps : 1;
	out->weight = rollout_weight(&rr->r);
	int64_t at = rollout_next_deadline(&rr->r);
	out->step_left_ms = at == INT64_MAX ? 0 : (at - now_us()) / 1000;
	if (out->step_left_ms < 0)
		out->step_left_ms = 0;
	figures(&rr->r.old_w, rr->prev, &out->prev);
	figures(&rr->r.new_w, rr->cur, &out->cur);
	out->reason = rr->r.reason;
}
