#include "sup/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "proc/child.h"
#include "proc/env.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/notify.h"
#include "obs/events.h"
#include "sup/fdstore.h"
#include "proc/proc.h"
#include "sup/gen_int.h"
#include "sup/takeover.h"
#include "util/duration.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000 /* up this long after ready: the crash streak is over */

const char *gen_state_name(enum gen_state st)
{
	static const char *const n[] = {"starting", "ready", "draining", "exited", "failing"};
	return n[st];
}

static struct gen *find_gen(const struct gens *s, int id)
{
	for (size_t i = 0; i < s->ngen; i++)
		if (s->gen[i]->id == id)
			return s->gen[i];
	return NULL;
}

/* The generation being started (at most one): STARTING, or FAILING until it is stopped. */
static struct gen *starting_gen(const struct gens *s)
{
	for (size_t i = 0; i < s->ngen; i++)
		if (s->gen[i]->state == GEN_STARTING || s->gen[i]->state == GEN_FAILING)
			return s->gen[i];
	return NULL;
}

static void free_gen(struct gen *g)
{
	gen_forget_mainpid(g);
	gen_probe_stop(g);
	loop_timer_free(g->probe_timer);
	loop_timer_free(g->quiet_timer);
	loop_timer_free(g->timer);
	child_free(g->child);
	free(g->http_last);
	free(g->fail_reason);
	free(g);
}

void gen_emit_state(const struct gen *g)
{
	pid_t pid = g->mainfd >= 0 ? g->mainpid : child_pid(g->child);
	ev_emit(&(struct ev){.type = EV_GEN_STATE,
			     .gen = (unsigned)g->id,
			     .pid = pid > 0 ? pid : 0,
			     .state = gen_state_name(g->state),
			     .duration_us = -1});
}

static void remove_gen(struct gens *s, struct gen *g)
{
	if (g->state != GEN_EXITED) {
		g->state = GEN_EXITED;
		gen_emit_state(g);
	}
	for (size_t i = 0; i < s->ngen; i++) {
		if (s->gen[i] == g) {
			memmove(&s->gen[i], &s->gen[i + 1], (s->ngen - i - 1) * sizeof(*s->gen));
			s->ngen--;
			break;
		}
	}
	free_gen(g);
}

/* ---- reports from the loop ---- */

/* A spawn that failed: reported from the loop, never inside gen_replace(). */
struct gen_report {
	int id;
	char *reason;
};

static void check_stopped(struct gens *s)
{
	if (s->stopping && s->ngen == 0 && !s->stopped_sent && !s->nreports) {
		s->stopped_sent = true;
		if (s->cbs.stopped)
			s->cbs.stopped(s, s->data);
	}
}

void gen_report_failed_spawn(struct gens *s, int id, const char *reason)
{
	s->reports = xgrow(s->reports, &s->capreports, s->nreports + 1, sizeof(*s->reports));
	s->reports[s->nreports++] = (struct gen_report){id, xstrdup(reason)};
	loop_timer_arm_in(s->later, 0);
}

static void on_later(struct loop *l, void *data)
{
	(void)l;
	struct gens *s = data;
	while (s->nreports) {
		struct gen_report r = s->reports[0];
		memmove(&s->reports[0], &s->reports[1], --s->nreports * sizeof(*s->reports));
		if (s->cbs.failed)
			s->cbs.failed(s, r.id, r.reason, s->data);
		free(r.reason);
	}
	check_stopped(s);
}

/* ---- actions ---- */

static void stop_now(struct gens *s, struct gen *g)
{
	int r = child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
	if (r < 0 && r != -ESRCH)
		log_warn("cannot stop generation %d: %s", g->id, strerror(-r));
}

/* Quiet stop, for a generation sharing held sockets (takeover.h) with the next one: an app
 * without graceful shutdown dies on stop_signal with the requests it accepted. So its group is
 * frozen (SIGSTOP: it accepts nothing more, the next generation takes every new connection)
 * and looked at; with a request in flight (or, with a successor serving, connections still
 * queued) it is let go on for QUIET_RETRY_MS and frozen again,
 * at most QUIET_TRIES times; then stop_signal goes to the frozen group, and SIGCONT (in dev,
 * once idle, SIGKILL instead: see below). */
#define QUIET_RETRY_MS 2
#define QUIET_TRIES 50

static void quiet_try(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct gens *s = g->set;
	if (g->state != GEN_DRAINING || !child_running(g->child))
		return;
	pid_t pgid = child_pid(g->child);
	if (kill(-pgid, SIGSTOP) < 0) {
		stop_now(s, g);
		return;
	}
	/* with a successor serving, also wait until it has taken the queued connections: the
	 * frozen one, let go on with stop_signal pending, could still accept one on the way out */
	bool queues = s->current > 0 && s->current != g->id;
	if (++g->quiet_tries < QUIET_TRIES &&
	    takeover_group_busy(s->o.takeover, pgid, g->id, queues) == 1) {
		kill(-pgid, SIGCONT);
		loop_timer_arm_in(g->quiet_timer, QUIET_RETRY_MS);
		return;
	}
	if (g->quiet_tries >= QUIET_TRIES) {
		log_info("generation %d still has requests in flight: stopping it now", g->id);
	} else if (!s->o.overlap) {
		/* dev: the frozen, idle build is discarded with SIGKILL (air's default too). With
		 * stop_signal it would run on its way out, and an app without graceful shutdown may
		 * accept one more connection then and die with it; SIGKILL never lets it run. */
		if (child_stop(g->child, SIGKILL, 0) == 0)
			return;
	} else {
		/* its stop signal may shut it down gracefully: it runs again, but its event loop
		 * no longer hears of new connections on the held sockets */
		takeover_group_unwatch(s->o.takeover, pgid);
	}
	stop_now(s, g);
	kill(-pgid, SIGCONT);
}

static void stop_gen(struct gens *s, struct gen *g)
{
	gen_probe_stop(g);
	loop_timer_disarm(g->timer);
	if (s->o.takeover && g->state == GEN_DRAINING && child_running(g->child) &&
	    takeover_gen_bound(s->o.takeover, g->id)) {
		if (!g->quiet_timer)
			g->quiet_timer = loop_timer_new(s->loop, quiet_try, g);
		g->quiet_tries = 0;
		quiet_try(s->loop, g);
		return;
	}
	stop_now(s, g);
}

static void enforce_max_draining(struct gens *s)
{
	if (s->o.max_draining <= 0)
		return;
	int n = 0;
	for (size_t i = s->ngen; i-- > 0;) {
		struct gen *g = s->gen[i];
		if (g->state != GEN_DRAINING)
			continue;
		if (++n > s->o.max_draining) {
			log_warn("too many draining generations: killing generation %d", g->id);
			child_signal(g->child, SIGKILL, true);
		}
	}
}

static void maybe_follow_up(struct gens *s)
{
	if (s->pending && !s->stopping) {
		s->pending = false;
		gen_replace(s);
	}
}

static void backoff_fire(struct loop *l, void *data)
{
	(void)l;
	struct gens *s = data;
	if (!s->stopping && !s->current && !starting_gen(s))
		gen_spawn(s);
}

static void schedule_restart(struct gens *s)
{
	int64_t d = BACKOFF_MIN_MS;
	for (int i = 1; i < s->crashes && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	char b[32];
	duration_format_ms(d, b, sizeof(b));
	log_info("restarting in %s (crash %d in a row)", b, s->crashes);
	loop_timer_arm_in(s->backoff, d);
}

/* EXITED: the generation and its whole process group are gone; report what is left to report
 * and remove it. */
static void finish_gen(struct gen *g)
{
	struct gens *s = g->set;
	int id = g->id;
	g->state = GEN_EXITED;
	gen_emit_state(g);
	if (g->remnant) {
		log_info("the processes generation %d left behind are gone", id);
		remove_gen(s, g);
	} else if (g->fail_reason) {
		/* stopped for missing ready_timeout: reported once it is gone */
		char *reason = g->fail_reason;
		g->fail_reason = NULL;
		remove_gen(s, g);
		if (s->cbs.failed)
			s->cbs.failed(s, id, reason, s->data);
		free(reason);
		maybe_follow_up(s);
	} else {
		char sb[sizeof(g->status)];
		memcpy(sb, g->status, sizeof(sb));
		remove_gen(s, g);
		if (s->cbs.exited)
			s->cbs.exited(s, id, sb, s->data);
		if (s->waiting_for == id) {
			s->waiting_for = 0;
			if (!s->stopping)
				gen_spawn(s);
		}
	}
	check_stopped(s);
}

static bool has_processes(const struct gen *g)
{
	return child_running(g->child) || child_group_alive(g->child);
}

/* Its main process exited on its own and was reported: with members of its group left, stop
 * them like a draining generation (stop_signal, SIGKILL at stop_timeout), else remove it. */
static void leave_remnant(struct gens *s, struct gen *g)
{
	if (!has_processes(g)) {
		remove_gen(s, g);
		return;
	}
	g->remnant = true;
	g->state = GEN_DRAINING;
	gen_emit_state(g);
	log_warn("generation %d's main process exited, processes of its group remain — stopping "
		 "them",
		 g->id);
	child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
}

/* ---- the state machine (gen.h's table): one switch (state) per event ---- */

static void let_go(struct gens *s, struct gen *g);

static void ev_ready(struct gen *g)
{
	struct gens *s = g->set;
	switch (g->state) {
	case GEN_STARTING:
		break;
	case GEN_FAILING: /* a late READY=1 from one being stopped for missing its deadline */
	case GEN_READY:
	case GEN_DRAINING:
	case GEN_EXITED:
		return;
	}
	g->state = GEN_READY;
	gen_emit_state(g);
	g->ready_ms = now_ms();
	gen_probe_stop(g);
	loop_timer_disarm(g->timer);
	int prev = s->current;
	s->current = g->id;
	struct gen *old = prev ? find_gen(s, prev) : NULL;
	if (s->hold && old && old->state == GEN_READY) {
		struct gen *base = s->previous ? find_gen(s, s->previous) : NULL;
		if (base && base->state == GEN_READY) {
			/* a new candidate replaces an unfinished one; the baseline stays */
			let_go(s, old);
			prev = base->id;
		} else {
			s->previous = prev;
		}
	} else if (old && old->state == GEN_READY && s->o.defer_stop) {
		old->retiring = true; /* gen_retire_id() when drained, or at stop_timeout */
		loop_timer_arm_in(old->timer, s->o.stop_timeout_ms);
	} else if (old && old->state == GEN_READY) {
		gen_event(old, GEN_EV_STOP, NULL);
	}
	enforce_max_draining(s);
	if (s->o.takeover)
		takeover_serving(s->o.takeover, g->id);
	if (s->cbs.ready)
		s->cbs.ready(s, g->id, prev, g->ready_ms - g->started_ms, s->data);
	maybe_follow_up(s);
}

/* A generation that missed ready_timeout is stopped like a draining one (stop_signal, then
 * SIGKILL at stop_timeout), not killed at once: it may already have accepted connections on
 * the shared sockets, and those would be reset. The failure is reported when it has exited. */
static void ev_timeout(struct gen *g, const char *reason)
{
	struct gens *s = g->set;
	switch (g->state) {
	case GEN_STARTING:
		break;
	case GEN_FAILING:
	case GEN_READY:
	case GEN_DRAINING:
	case GEN_EXITED:
		return;
	}
	g->state = GEN_FAILING;
	gen_emit_state(g);
	free(g->fail_reason);
	g->fail_reason = xstrdup(reason);
	gen_probe_stop(g);
	loop_timer_disarm(g->timer);
	log_warn("generation %d %s — stopping it", g->id, reason);
	int r = child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
	if (r < 0 && r != -ESRCH)
		child_stop(g->child, SIGKILL, 0);
}

static void ev_stop(struct gen *g)
{
	switch (g->state) {
	case GEN_STARTING:
	case GEN_FAILING: /* still reported as failed once it is gone */
	case GEN_READY:
		break;
	case GEN_DRAINING:
	case GEN_EXITED:
		return;
	}
	g->state = GEN_DRAINING;
	gen_emit_state(g);
	stop_gen(g->set, g);
}

/* Exited before it was ready: report the failure; nothing serves: with restart_on_crash, keep
 * trying (with backoff). */
static void main_exit_starting(struct gens *s, struct gen *g)
{
	int id = g->id;
	char *reason = xasprintf("%s before it was ready", g->status);
	bool crash_restart = !s->current && s->o.restart_on_crash && !s->stopping;
	leave_remnant(s, g);
	if (s->cbs.failed)
		s->cbs.failed(s, id, reason, s->data);
	free(reason);
	if (crash_restart && !s->pending) {
		s->crashes++;
		schedule_restart(s);
	}
	maybe_follow_up(s);
}

/* The serving generation exited on its own: a crash (unless baton is stopping). */
static void main_exit_ready(struct gens *s, struct gen *g)
{
	int id = g->id;
	if (id == s->previous) {
		/* the held one of a rollout: nothing to go back to; the policy hears of it */
		s->previous = 0;
		char status[sizeof(g->status)];
		memcpy(status, g->status, sizeof(status));
		leave_remnant(s, g);
		if (!s->stopping && s->cbs.crashed)
			s->cbs.crashed(s, id, status, s->data);
		return;
	}
	struct gen *base = s->previous ? find_gen(s, s->previous) : NULL;
	if (base && base->state == GEN_READY) {
		/* a rollout's candidate crashed: the previous one serves again */
		s->current = base->id;
		s->previous = 0;
		char status[sizeof(g->status)];
		memcpy(status, g->status, sizeof(status));
		leave_remnant(s, g);
		if (!s->stopping && s->cbs.crashed)
			s->cbs.crashed(s, id, status, s->data);
		return;
	}
	s->current = 0;
	int64_t up = now_ms() - g->ready_ms;
	char sb[sizeof(g->status)];
	memcpy(sb, g->status, sizeof(sb));
	leave_remnant(s, g);
	if (!s->stopping) {
		s->crashes = up >= STABLE_MS ? 1 : s->crashes + 1;
		if (s->cbs.crashed)
			s->cbs.crashed(s, id, sb, s->data);
		if (s->o.restart_on_crash && !starting_gen(s))
			schedule_restart(s);
	}
}

static void ev_main_exit(struct gen *g)
{
	struct gens *s = g->set;
	g->main_exited = true;
	gen_forget_mainpid(g);
	gen_probe_stop(g);
	loop_timer_disarm(g->timer);
	if (g->state == GEN_READY && g->retiring)
		g->state = GEN_DRAINING; /* replaced already: its exit is a drain */
	switch (g->state) {
	case GEN_STARTING:
		main_exit_starting(s, g);
		break;
	case GEN_READY:
		main_exit_ready(s, g);
		break;
	case GEN_FAILING:
	case GEN_DRAINING:
		if (has_processes(g)) {
			/* stopped by us: the group's deadline runs on until the group is gone */
			if (g->state != GEN_DRAINING) {
				g->state = GEN_DRAINING;
				gen_emit_state(g);
			}
			log_info("generation %d's main process %s; waiting for the rest of its "
				 "process group",
				 g->id, g->status);
			return;
		}
		finish_gen(g);
		return;
	case GEN_EXITED:
		return;
	}
	check_stopped(s);
}

static void ev_group_exit(struct gen *g)
{
	switch (g->state) {
	case GEN_FAILING:
	case GEN_DRAINING:
		finish_gen(g);
		return;
	case GEN_STARTING: /* not after its main process: that made it DRAINING or gone */
	case GEN_READY:
	case GEN_EXITED:
		return;
	}
}

void gen_event(struct gen *g, enum gen_event ev, const char *reason)
{
	switch (ev) {
	case GEN_EV_READY:
		ev_ready(g);
		break;
	case GEN_EV_TIMEOUT:
		ev_timeout(g, reason);
		break;
	case GEN_EV_STOP:
		ev_stop(g);
		break;
	case GEN_EV_MAIN_EXIT:
		ev_main_exit(g);
		break;
	case GEN_EV_GROUP_EXIT:
		ev_group_exit(g);
		break;
	}
}

struct gens *gen_new(struct loop *l, const struct gen_opts *o, const struct gen_cbs *cbs,
		     void *data)
{
	struct gens *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->o = *o;
	s->cbs = *cbs;
	s->data = data;
	s->backoff = loop_timer_new(l, backoff_fire, s);
	s->later = loop_timer_new(l, on_later, s);
	s->store = fdstore_new(o->fd_store_max > 0 ? (size_t)o->fd_store_max : 0);
	return s;
}

void gen_free(struct gens *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ngen; i++)
		free_gen(s->gen[i]);
	free(s->gen);
	loop_timer_free(s->backoff);
	loop_timer_free(s->later);
	for (size_t i = 0; i < s->nreports; i++)
		free(s->reports[i].reason);
	free(s->reports);
	fdstore_free(s->store);
	free(s);
}

/* Without overlap (dev) the old generation is stopped before the new one starts: they would
 * fight over the addresses the app binds itself. Not when bind takeover holds them and ready
 * is "exec" (zero config): the new one gets the held sockets, is ready once it listens on
 * each, and only then is the old one stopped (quietly): no connection waits for a start. */
bool gen_takeover_overlap(const struct gens *s)
{
	return s->o.takeover && s->o.ready_takeover && s->o.ready == READY_EXEC && s->current > 0 &&
	       takeover_gen_bound(s->o.takeover, s->current);
}

/* Whether an unprivileged baton may set a nice value of base again once raised. */
static bool nice_restorable(int base)
{
	struct rlimit rl;
	if (geteuid() == 0)
		return true;
	return getrlimit(RLIMIT_NICE, &rl) == 0 &&
	       (rl.rlim_cur == RLIM_INFINITY || 20 - (long)rl.rlim_cur <= base);
}

void gen_lower_priority(struct gens *s, bool lower)
{
	if (lower == s->lowered)
		return;
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	if (errno || (lower && !nice_restorable(base)))
		return;
	s->lowered = lower;
	for (size_t i = 0; i < s->ngen; i++)
		if (child_running(s->gen[i]->child) &&
		    setpriority(PRIO_PGRP, (id_t)child_pid(s->gen[i]->child), lower ? 19 : base) <
			    0)
			log_debug("generation %d: setpriority: %s", s->gen[i]->id, strerror(errno));
}

int gen_replace(struct gens *s)
{
	if (s->stopping)
		return -ESHUTDOWN;
	if (starting_gen(s) || s->waiting_for) {
		s->pending = true;
		return 0;
	}
	loop_timer_disarm(s->backoff);
	struct gen *cur = s->current ? find_gen(s, s->current) : NULL;
	if (cur && !s->o.overlap && !gen_takeover_overlap(s)) {
		s->waiting_for = cur->id;
		s->current = 0;
		gen_event(cur, GEN_EV_STOP, NULL);
		return 0;
	}
	gen_spawn(s);
	return 0;
}

void gen_stop(struct gens *s)
{
	s->stopping = true;
	s->pending = false;
	s->waiting_for = 0;
	loop_timer_disarm(s->backoff);
	for (size_t i = 0; i < s->ngen; i++)
		gen_event(s->gen[i], GEN_EV_STOP, NULL);
	loop_timer_arm_in(s->later, 0); /* cbs.stopped, if nothing is left, from the loop */
}

void gen_kill(struct gens *s)
{
	for (size_t i = 0; i < s->ngen; i++)
		child_signal(s->gen[i]->child, SIGKILL, true);
}

void gen_hold_previous(struct gens *s, bool on)
{
	s->hold = on;
}

int gen_previous(const struct gens *s)
{
	return s->previous;
}

/* A ready generation that no longer serves: stopped now, or with defer_stop kept until its
 * front has drained it (gen_retire_id) or stop_timeout. */
static void let_go(struct gens *s, struct gen *g)
{
	if (s->o.defer_stop) {
		g->retiring = true;
		loop_timer_arm_in(g->timer, s->o.stop_timeout_ms);
	} else {
		gen_event(g, GEN_EV_STOP, NULL);
	}
}

int gen_retire(struct gens *s)
{
	struct gen *g = s->previous ? find_gen(s, s->previous) : NULL;
	s->previous = 0;
	if (!g || g->state != GEN_READY)
		return -ESRCH;
	let_go(s, g);
	enforce_max_draining(s);
	return 0;
}

int gen_retire_id(struct gens *s, int id)
{
	struct gen *g = find_gen(s, id);
	if (!g || g->state != GEN_READY || !g->retiring)
		return -ESRCH;
	gen_event(g, GEN_EV_STOP, NULL);
	enforce_max_draining(s);
	return 0;
}

int gen_revert(struct gens *s)
{
	struct gen *base = s->previous ? find_gen(s, s->previous) : NULL;
	struct gen *cur = s->current ? find_gen(s, s->current) : NULL;
	if (!base || base->state != GEN_READY)
		return -ESRCH;
	s->previous = 0;
	s->current = base->id;
	if (cur && cur->state == GEN_READY)
		let_go(s, cur);
	enforce_max_draining(s);
	return 0;
}

int gen_signal_serving(struct gens *s, int sig)
{
	struct gen *g = s->current ? find_gen(s, s->current) : NULL;
	if (!g)
		return -ESRCH;
	return gen_signal_main(g, sig);
}

bool gen_busy(const struct gens *s)
{
	return starting_gen(s) || s->pending || s->waiting_for;
}

int gen_serving(const struct gens *s)
{
	return s->current;
}

bool gen_stopping(const struct gens *s)
{
	return s->stopping;
}

int gen_last_id(const struct gens *s)
{
	return s->last_id;
}

void gen_set_last_id(struct gens *s, int id)
{
	if (id > s->last_id)
		s->last_id = id;
}

const struct fdstore *gen_fdstore(const struct gens *s)
{
	return s->store;
}

int gen_fdstore_adopt(struct gens *s, int fd, const char *name)
{
	return fdstore_add(s->store, fd, name, strlen(name));
}

int gen_crash_count(const struct gens *s)
{
	return s->crashes;
}

int gen_list(const struct gens *s, struct gen_info *out, int max)
{
	int n = 0;
	for (size_t i = 0; i < s->ngen && n < max; i++) {
		const struct gen *g = s->gen[i];
		enum gen_state st = g->state == GEN_FAILING ? GEN_STARTING : g->state;
		out[n++] =
			(struct gen_info){g->id, g->mainfd >= 0 ? g->mainpid : child_pid(g->child),
					  st, g->started_ms, g->ready_ms};
	}
	return n;
}
