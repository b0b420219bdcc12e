/* Canary and blue-green decisions: see rollout.h. */
#include "rollout/rollout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/xalloc.h"

void rollout_cfg_defaults(struct rollout_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->strategy = ROLLOUT_IMMEDIATE;
	c->steps[0] = 10;
	c->steps[1] = 50;
	c->steps[2] = 100;
	c->nsteps = 3;
	c->interval_us = 60LL * 1000000;
	c->min_requests = 100;
	c->max_error_rate = 1.0;
	c->max_latency_ratio = 1.5;
	c->latency_floor_us = 50LL * 1000;
	c->fast_fail = 5;
	c->on_no_traffic = ROLLOUT_NT_HOLD;
	c->keep_old_us = 30LL * 1000000;
}

static int bad(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(char **err, const char *fmt, ...)
{
	if (err) {
		char msg[200];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		*err = xstrdup(msg);
	}
	return -EINVAL;
}

int rollout_cfg_check(const struct rollout_cfg *c, char **err)
{
	if (c->strategy == ROLLOUT_CANARY) {
		if (c->nsteps < 1 || c->nsteps > ROLLOUT_MAX_STEPS)
			return bad(err, "rollout.steps: between 1 and %d steps", ROLLOUT_MAX_STEPS);
		for (int i = 0; i < c->nsteps; i++) {
			if (c->steps[i] < 1 || c->steps[i] > 100)
				return bad(err, "rollout.steps: %d is not a percent in 1..100",
					   c->steps[i]);
			if (i && c->steps[i] <= c->steps[i - 1])
				return bad(err, "rollout.steps: %d after %d: steps must increase",
					   c->steps[i], c->steps[i - 1]);
		}
	}
	if (c->interval_us <= 0)
		return bad(err, "rollout.interval must be above 0");
	if (!(c->max_error_rate >= 0 && c->max_error_rate <= 100))
		return bad(err, "rollout.max_error_rate: a percent in 0..100");
	if (!(c->max_latency_ratio >= 1))
		return bad(err, "rollout.max_latency_ratio must be at least 1");
	if (c->latency_floor_us < 0 || c->keep_old_us < 0)
		return bad(err, "rollout durations cannot be negative");
	return 0;
}

/* Log-linear buckets: values 0..7 exactly, then 8 buckets per octave up to 2^30 us. */
static unsigned hist_index(int64_t us)
{
	if (us < 8)
		return us < 0 ? 0 : (unsigned)us;
	uint64_t v = (uint64_t)us;
	unsigned o = 63 - (unsigned)__builtin_clzll(v);
	unsigned idx = 8 + (o - 3) * 8 + (unsigned)((v >> (o - 3)) & 7);
	return idx < ROLLOUT_HIST_BUCKETS ? idx : ROLLOUT_HIST_BUCKETS - 1;
}

static int64_t hist_upper(unsigned idx)
{
	if (idx < 8)
		return idx;
	unsigned o = (idx - 8) / 8 + 3, sub = (idx - 8) % 8;
	return (int64_t)(((uint64_t)(8 + sub + 1) << (o - 3)) - 1);
}

void rollout_hist_add(struct rollout_hist *h, int64_t us)
{
	h->b[hist_index(us)]++;
	h->count++;
}

int64_t rollout_hist_quantile(const struct rollout_hist *h, double q)
{
	if (!h->count)
		return 0;
	/* the smallest value with at least ceil(q * count) samples at or below it */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < ROLLOUT_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return hist_upper(i);
	}
	return hist_upper(ROLLOUT_HIST_BUCKETS - 1);
}

double rollout_window_error_rate(const struct rollout_window *w)
{
	return w->requests ? 100.0 * (double)w->errors / (double)w->requests : 0;
}

static void say(struct rollout *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct rollout *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void rollout_init(struct rollout *r, const struct rollout_cfg *c)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *c;
}

static void new_window(struct rollout *r, int64_t now)
{
	memset(&r->old_w, 0, sizeof(r->old_w));
	memset(&r->new_w, 0, sizeof(r->new_w));
	r->step_start_us = now;
}

static enum rollout_decision end(struct rollout *r, enum rollout_state st)
{
	r->state = st;
	return st == ROLLOUT_PROMOTED ? ROLLOUT_PROMOTE : ROLLOUT_ROLLBACK;
}

enum rollout_decision rollout_start(struct rollout *r, int64_t now)
{
	r->step = 0;
	r->holding = false;
	r->consecutive_failures = 0;
	r->reason[0] = 0;
	new_window(r, now);
	if (r->cfg.strategy == ROLLOUT_IMMEDIATE) {
		r->state = ROLLOUT_PROMOTED;
		return ROLLOUT_PROMOTE;
	}
	r->state = ROLLOUT_STEPPING;
	return ROLLOUT_STEP;
}

int rollout_weight(const struct rollout *r)
{
	switch (r->state) {
	case ROLLOUT_IDLE:
		return 0;
	case ROLLOUT_PROMOTED:
		return 100;
	case ROLLOUT_ROLLED_BACK:
		return 0;
	case ROLLOUT_STEPPING:
		break;
	}
	return r->cfg.strategy == ROLLOUT_BLUE_GREEN ? 100 : r->cfg.steps[r->step];
}

enum rollout_decision rollout_observe(struct rollout *r, bool is_new, int status, int64_t dur_us,
				      int64_t now)
{
	(void)now;
	if (r->state != ROLLOUT_STEPPING)
		return ROLLOUT_NONE;
	struct rollout_window *w = is_new ? &r->new_w : &r->old_w;
	bool failed = status == 0 || status >= 500;
	w->requests++;
	w->errors += failed;
	rollout_hist_add(&w->lat, dur_us);
	if (!is_new)
		return ROLLOUT_NONE;
	r->consecutive_failures = failed ? r->consecutive_failures + 1 : 0;
	if (r->cfg.fast_fail && r->consecutive_failures >= r->cfg.fast_fail) {
		say(r, "%u consecutive failed requests from the new generation (fast_fail = %u)",
		    r->consecutive_failures, r->cfg.fast_fail);
		return end(r, ROLLOUT_ROLLED_BACK);
	}
	return ROLLOUT_NONE;
}

/* The step's window is over: judge it. */
static enum rollout_decision judge(struct rollout *r, int64_t now)
{
	const struct rollout_cfg *c = &r->cfg;
	const struct rollout_window *nw = &r->new_w, *ow = &r->old_w;
	if (nw->requests < c->min_requests) {
		if (!r->holding) {
			r->holding = true;
			r->hold_since_us = r->step_start_us;
		}
		if (now - r->hold_since_us >= ROLLOUT_NO_TRAFFIC_US &&
		    c->on_no_traffic != ROLLOUT_NT_HOLD) {
			say(r, "no conclusive traffic for %lld s (on_no_traffic = %s)",
			    (long long)((now - r->hold_since_us) / 1000000),
			    c->on_no_traffic == ROLLOUT_NT_PROMOTE ? "promote" : "rollback");
			return end(r, c->on_no_traffic == ROLLOUT_NT_PROMOTE ? ROLLOUT_PROMOTED
									     : ROLLOUT_ROLLED_BACK);
		}
		say(r,
		    "step %d%%: %llu requests to the new generation, min_requests is %llu: holding",
		    c->steps[r->step], (unsigned long long)nw->requests,
		    (unsigned long long)c->min_requests);
		r->step_start_us = now; /* extend; the window keeps accumulating */
		return ROLLOUT_HOLD;
	}
	r->holding = false;
	double er = rollout_window_error_rate(nw);
	if (er > c->max_error_rate) {
		say(r,
		    "step %d%%: error rate %.2f%% (%llu of %llu) > max_error_rate %.2f%% (old: "
		    "%.2f%%)",
		    c->steps[r->step], er, (unsigned long long)nw->errors,
		    (unsigned long long)nw->requests, c->max_error_rate,
		    rollout_window_error_rate(ow));
		return end(r, ROLLOUT_ROLLED_BACK);
	}
	int64_t np99 = rollout_hist_quantile(&nw->lat, 0.99);
	int64_t op99 = rollout_hist_quantile(&ow->lat, 0.99);
	if (ow->requests && np99 > c->latency_floor_us &&
	    (double)np99 > c->max_latency_ratio * (double)op99) {
		say(r, "step %d%%: p99 %.1f ms > %.2f x old p99 %.1f ms (latency_floor %.1f ms)",
		    c->steps[r->step], (double)np99 / 1000, c->max_latency_ratio,
		    (double)op99 / 1000, (double)c->latency_floor_us / 1000);
		return end(r, ROLLOUT_ROLLED_BACK);
	}
	if (r->step + 1 >= c->nsteps || c->steps[r->step] >= 100) {
		say(r, "step %d%% passed: promoted", c->steps[r->step]);
		return end(r, ROLLOUT_PROMOTED);
	}
	say(r, "step %d%% passed (%llu requests, %.2f%% errors, p99 %.1f ms): next %d%%",
	    c->steps[r->step], (unsigned long long)nw->requests, er, (double)np99 / 1000,
	    c->steps[r->step + 1]);
	r->step++;
	new_window(r, now);
	return ROLLOUT_STEP;
}

int64_t rollout_next_deadline(const struct rollout *r)
{
	if (r->state != ROLLOUT_STEPPING)
		return INT64_MAX;
	return r->step_start_us +
	       (r->cfg.strategy == ROLLOUT_BLUE_GREEN ? r->cfg.keep_old_us : r->cfg.interval_us);
}

enum rollout_decision rollout_tick(struct rollout *r, int64_t now)
{
	if (r->state != ROLLOUT_STEPPING || now < rollout_next_deadline(r))
		return ROLLOUT_NONE;
	if (r->cfg.strategy == ROLLOUT_BLUE_GREEN) {
		say(r, "keep_old elapsed: promoted");
		return end(r, ROLLOUT_PROMOTED);
	}
	return judge(r, now);
}

int rollout_promote(struct rollout *r, const char *why)
{
	if (r->state != ROLLOUT_STEPPING)
		return -ESRCH;
	if (why)
		say(r, "promoted: %s", why);
	else
		say(r, "promoted by request");
	end(r, ROLLOUT_PROMOTED);
	return 0;
}

int rollout_abort(struct rollout *r, const char *why)
{
	if (r->state != ROLLOUT_STEPPING)
		return -ESRCH;
	say(r, "aborted: %s", why ? why : "by request");
	end(r, ROLLOUT_ROLLED_BACK);
	return 0;
}

int rollout_rollback(struct rollout *r)
{
	if (r->state != ROLLOUT_STEPPING || r->cfg.strategy != ROLLOUT_BLUE_GREEN)
		return -ESRCH;
	say(r, "rolled back by request");
	end(r, ROLLOUT_ROLLED_BACK);
	return 0;
}

bool rollout_pick_new(const struct rollout *r, bool sticky_known, bool sticky_new, bool preview,
		      double roll)
{
	if (r->state != ROLLOUT_STEPPING)
		return r->state == ROLLOUT_PROMOTED;
	if (preview)
		return true;
	if (sticky_known)
		return sticky_new;
	return roll < (double)rollout_weight(r);
}
