#include "sup/run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/adopt.h"
#include "sup/app.h"
#include "filereload/reload.h"
#include "source/source.h"
#include "sup/run_internal.h"
#include "proc/child.h"
#include "ctl/ctl.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/notify.h"
#include "obs/events.h"
#include "sup/gen.h"
#include "util/signame.h"
#include "util/timeutil.h"
#include "sup/upgrade.h"
#include "util/xalloc.h"

/* A reload's outcome on the event bus; duration: from the request to now (the cut-over). */
static void emit_reload(const struct run *r, enum ev_type t, int id, const char *reason)
{
	ev_emit(&(struct ev){.type = t,
			     .gen = id > 0 ? (unsigned)id : 0,
			     .reason = reason,
			     .duration_us = r->reload_started_ms
						    ? (now_ms() - r->reload_started_ms) * 1000
						    : -1});
}

static void sd_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sd_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int r = notify_send(msg);
	if (r < 0)
		log_debug("cannot notify systemd: %s", strerror(-r));
}

static void answer_waiters(struct run *r, int id, bool ok, const char *msg)
{
	size_t j = 0;
	/* Copy out first: a done() callback may add waiters (a new reload request). */
	struct waiter *todo = xcalloc(r->nwaiters + 1, sizeof(*todo));
	size_t ntodo = 0;
	for (size_t i = 0; i < r->nwaiters; i++) {
		if (r->waiters[i].min_id <= id)
			todo[ntodo++] = r->waiters[i];
		else
			r->waiters[j++] = r->waiters[i];
	}
	r->nwaiters = j;
	for (size_t i = 0; i < ntodo; i++)
		todo[i].done(ok, msg, todo[i].data);
	free(todo);
}

static void record_result(struct run *r, bool ok, const char *reason)
{
	r->have_last = true;
	r->last_ok = ok;
	snprintf(r->last_reason, sizeof(r->last_reason), "%s", reason);
	r->last_duration_ms = r->reload_started_ms ? now_ms() - r->reload_started_ms : 0;
	r->last_at_ms = now_ms();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->last_at_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A rejected [[tls]] pair holds every new generation (and the reload signal) while one serves:
 * answer the request with why, and let the reloader start it once the files pass. */
static bool reload_held(struct run *r, const char *who,
			void (*done)(bool ok, const char *msg, void *data), void *data)
{
	int cur = gen_serving(r->app.gens);
	char *why = reloader_hold_reason(r->reloader);
	if (!why)
		return false;
	if (!cur) {
		log_warn("%s — nothing is serving: starting a generation on it anyway", why);
		free(why);
		return false;
	}
	char msg[600];
	snprintf(msg, sizeof(msg), "%s — reload held, generation %d keeps serving", why, cur);
	free(why);
	log_error("reload (%s): %s", who, msg);
	ev_emit(&(struct ev){.type = EV_RELOAD_FAILED, .reason = msg, .duration_us = 0});
	reloader_hold_restart(r->reloader);
	record_result(r, false, msg);
	if (done)
		done(false, msg, data);
	return true;
}

/* Ask for a reload; done (may be NULL) gets the result. */
void run_request_reload(struct run *r, const char *who,
			void (*done)(bool ok, const char *msg, void *data), void *data)
{
	const struct config *cfg = r->cfg;
	if (gen_stopping(r->app.gens)) {
		if (done)
			done(false, "baton is stopping", data);
		return;
	}
	ev_emit(&(struct ev){.type = EV_RELOAD_REQUESTED, .reason = who, .duration_us = -1});
	if (reload_held(r, who, done, data))
		return;
	if (cfg->run.reload_signal) {
		int e = gen_signal_serving(r->app.gens, cfg->run.reload_signal);
		char msg[160];
		if (e < 0)
			snprintf(msg, sizeof(msg), "cannot send %s: %s",
				 signame_str(cfg->run.reload_signal),
				 e == -ESRCH ? "no generation is serving" : strerror(-e));
		else
			snprintf(msg, sizeof(msg), "sent %s to generation %d",
				 signame_str(cfg->run.reload_signal), gen_serving(r->app.gens));
		log_info("reload (%s): %s", who, msg);
		ev_emit(&(struct ev){.type = e == 0 ? EV_RELOAD_SUCCEEDED : EV_RELOAD_FAILED,
				     .gen = e == 0 ? (unsigned)gen_serving(r->app.gens) : 0,
				     .reason = e == 0 ? NULL : msg,
				     .duration_us = 0});
		if (done)
			done(e == 0, msg, data);
		return;
	}
	int min_id = gen_last_id(r->app.gens) + 1;
	if (done) {
		r->waiters =
			xgrow(r->waiters, &r->capwaiters, r->nwaiters + 1, sizeof(*r->waiters));
		r->waiters[r->nwaiters++] = (struct waiter){min_id, done, data};
	}
	if (!r->reloading && gen_serving(r->app.gens)) {
		r->reloading = true;
		r->reload_started_ms = now_ms();
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sd_send("RELOADING=1\nMONOTONIC_USEC=%llu\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS="
			"reloading",
			(unsigned long long)ts.tv_sec * 1000000ULL +
				(unsigned long long)ts.tv_nsec / 1000,
			(unsigned long long)(cfg->run.ready_timeout_ms + cfg->run.stop_timeout_ms) *
				1000ULL);
	}
	log_info("reload requested (%s)%s", who,
		 gen_busy(r->app.gens) ? ": one is in progress, a follow-up will cover it" : "");
	gen_replace(r->app.gens);
	run_state_save(r);
}

static void orphans_drained(void *data)
{
	run_state_save(data);
}

/* Generations adopted from a killed baton drain once one of ours serves. */
static void drain_orphans(struct run *r, void (*done)(void *data))
{
	if (!r->orphans)
		return;
	r->orphans_draining = true;
	adopt_drain(r->orphans, r->app.loop, r->cfg->run.stop_signal, r->cfg->run.stop_timeout_ms,
		    done, r);
}

/* ---- what the generations report ---- */

static void on_ready(struct gens *s, int id, int prev, int64_t took, void *data)
{
	(void)s;
	struct run *r = data;
	app_kick_forwards(&r->app);
	char msg[160];
	if (prev)
		snprintf(msg, sizeof(msg), "generation %d serving (ready in %lld ms), draining %d",
			 id, (long long)took, prev);
	else
		snprintf(msg, sizeof(msg), "generation %d serving (ready in %lld ms)", id,
			 (long long)took);
	log_info("%s", msg);
	if (!r->first_ready) {
		r->first_ready = true;
		sd_send("READY=1\nSTATUS=serving generation %d", id);
	} else if (r->reloading) {
		sd_send("READY=1\nSTATUS=serving generation %d", id);
	}
	if (r->reloading || r->nwaiters) {
		record_result(r, true, msg);
		emit_reload(r, EV_RELOAD_SUCCEEDED, id, NULL);
	}
	r->reloading = false;
	r->reload_started_ms = 0;
	if (!r->orphans_draining)
		drain_orphans(r, orphans_drained);
	run_state_save(r);
	answer_waiters(r, id, true, msg);
}

static void on_failed(struct gens *s, int id, const char *reason, void *data)
{
	struct run *r = data;
	int cur = gen_serving(s);
	char msg[512];
	if (cur)
		snprintf(msg, sizeof(msg),
			 "generation %d failed: %s — rolled back, generation %d "
			 "keeps serving",
			 id, reason, cur);
	else
		snprintf(msg, sizeof(msg), "generation %d failed: %s", id, reason);
	log_error("%s", msg);
	if (r->reloading || r->nwaiters) { /* not a first start nor a crash restart */
		/* the old generation keeps serving; "rolled back" is a rollout's verdict */
		emit_reload(r, EV_RELOAD_FAILED, id, reason);
	}
	if (r->reloading && !gen_busy(s)) {
		sd_send("READY=1\nSTATUS=reload failed: %s", reason);
		r->reloading = false;
	}
	record_result(r, false, msg);
	r->reload_started_ms = 0;
	run_state_save(r);
	answer_waiters(r, id, false, msg);
}

/* A rollout sent every request back to generation kept: the reload did not go out. */
static void on_rolled_back(struct gens *s, int id, int kept, const char *reason, void *data)
{
	(void)s;
	struct run *r = data;
	char msg[600];
	snprintf(msg, sizeof(msg), "generation %d rolled back: %s — generation %d keeps serving", id,
		 reason, kept);
	log_error("%s", msg);
	emit_reload(r, EV_RELOAD_ROLLED_BACK, id, reason);
	if (r->reloading) {
		sd_send("READY=1\nSTATUS=rolled back: %s", reason);
		r->reloading = false;
	}
	record_result(r, false, msg);
	r->reload_started_ms = 0;
	run_state_save(r);
	answer_waiters(r, id, false, msg);
}

static void on_crashed(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	struct run *r = data;
	log_error("generation %d %s while serving%s", id, status,
		  r->cfg->run.restart_on_crash ? ""
					       : " — not restarting (restart_on_crash = false)");
	sd_send("STATUS=generation %d %s; restarting", id, status);
	if (r->cfg->run.restart_on_crash)
		ev_emit(&(struct ev){.type = EV_CRASH_RESTART,
				     .gen = (unsigned)id,
				     .reason = status,
				     .duration_us = -1});
	char *held = r->cfg->run.restart_on_crash ? reloader_hold_reason(r->reloader) : NULL;
	if (held) /* holding it would leave nothing serving: restart, and say so */
		log_warn("%s — restarting generation %d on it anyway: nothing else can serve", held,
			 id);
	free(held);
	if (!r->cfg->run.restart_on_crash) {
		r->exit_code = 1;
		gen_stop(s);
	}
	run_state_save(r);
}

static void on_exited(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	log_info("generation %d drained (%s)", id, status);
	run_state_save(data);
}

static void exit_now(void *data)
{
	struct run *r = data;
	log_info("stopped");
	loop_exit(r->app.loop, r->exit_code);
}

static void on_stopped(struct gens *s, void *data)
{
	(void)s;
	struct run *r = data;
	child_kill_orphans(r->app.reaper, SIGKILL);
	answer_waiters(r, 1 << 30, false, "baton stopped");
	if (adopt_alive(r->orphans)) {
		/* adopted generations still draining (or never drained): they go too */
		r->orphans_draining = true;
		adopt_drain(r->orphans, r->app.loop, r->cfg->run.stop_signal,
			    r->cfg->run.stop_timeout_ms, exit_now, r);
		return;
	}
	exit_now(r);
}

static void run_stop(struct run *r, const char *why)
{
	if (gen_stopping(r->app.gens))
		return;
	log_info("%s: stopping every generation (stop_timeout applies)", why);
	sd_send("STOPPING=1\nSTATUS=stopping");
	gen_stop(r->app.gens);
}

void run_request_stop(struct run *r, const char *who)
{
	run_stop(r, who);
}

/* ---- what the app asks (app.h's policy) ---- */

static void policy_reload(struct app *a, const char *why)
{
	run_request_reload(a->owner, why, NULL, NULL);
}

static void policy_stop(struct app *a, const char *why)
{
	run_stop(a->owner, why);
}

static void policy_kill(struct app *a, const char *why)
{
	struct run *r = a->owner;
	log_info("%s again: killing every generation", why);
	adopt_kill(r->orphans);
}

static void policy_other(struct app *a, int sig)
{
	if (sig == SIGUSR2)
		run_upgrade(a->owner, NULL, "SIGUSR2");
	else /* SIGUSR1: for the app */
		gen_signal_serving(a->gens, sig);
}

static const struct app_policy run_policy = {
	.reload = policy_reload,
	.restart = policy_reload,
	.stop = policy_stop,
	.kill = policy_kill,
	.other = policy_other,
};

static bool has_forward(const struct config *cfg)
{
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].forward)
			return true;
	return false;
}

static void start_first(void *data)
{
	struct run *r = data;
	if (!gen_serving(r->app.gens) && !gen_busy(r->app.gens) && !gen_stopping(r->app.gens))
		gen_replace(r->app.gens);
	run_state_save(r);
}

static void first_generation(struct run *r)
{
	if (gen_serving(r->app.gens)) {
		/* re-exec'd in place: the generations serve on */
	} else if (r->orphans && has_forward(r->cfg)) {
		/* the orphan holds the forward target's port the app binds: it goes first, the
		 * forwarders hold connections until the new generation is ready */
		drain_orphans(r, start_first);
	} else {
		gen_replace(r->app.gens);
	}
	run_state_save(r);
}

static void sources_ready(bool ok, const char *why, void *data)
{
	struct run *r = data;
	if (!ok) {
		log_error("%s", why);
		loop_exit(r->app.loop, 1);
		return;
	}
	first_generation(r);
}

int run_main(const struct config *cfg, char **extra_args)
{
	struct run *r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->started_ms = now_ms();
	int rc = 1;
	struct upgrade_state *up = xcalloc(1, sizeof(*up));
	if (upgrade_take(up) > 0)
		r->inherit = up;
	else
		free(up);
	r->exe = run_upgrade_exe();
	struct app_handover h = {.socks = run_state_adopt(r), .notify_fd = -1};
	if (r->inherit) {
		h.socks = run_upgrade_sockets(r);
		h.notify_fd = r->inherit->notify_fd;
		h.notify_name = r->inherit->notify;
	}
	if (app_init_adopting(&r->app, cfg, extra_args, &h) < 0)
		goto out;
	r->app.policy = &run_policy;
	static const struct gen_cbs cbs = {
		.ready = on_ready,
		.failed = on_failed,
		.rolled_back = on_rolled_back,
		.crashed = on_crashed,
		.exited = on_exited,
		.stopped = on_stopped,
	};
	app_start_gens(&r->app, true, true, &cbs, r);
	gen_set_last_id(r->app.gens, adopt_last_id(r->orphans));
	if (r->inherit)
		run_upgrade_restore(r);
	r->ctl = run_ctl_new(r);
	if (!r->ctl)
		goto out;
	if (reloader_needed(cfg)) {
		char *err = NULL;
		r->reloader =
			reloader_new(r->app.loop, NULL, cfg, (const char *const *)r->app.env.v,
				     r->app.reaper, &app_reload_cbs, &r->app, &err); /* its only watch: own hub */
		if (!r->reloader) {
			log_error("%s", err ? err : strerror(errno));
			free(err);
			goto out;
		}
	}
	char *ls = app_listeners_str(&r->app);
	log_info("running \"%s\"%s%s", cfg->run.cmd, *ls ? " · listening on " : "", ls);
	free(ls);
	/* [[source]]: their files are in place before generation 1 starts */
	char *serr = NULL;
	r->sources = source_set_new(r->app.loop, cfg, (const char *const *)r->app.env.v,
				    r->app.reaper, &app_reload_cbs, &r->app, &serr);
	if (serr) {
		log_error("%s", serr);
		free(serr);
		goto out;
	}
	if (r->sources)
		source_set_start(r->sources, gen_serving(r->app.gens) > 0, sources_ready, r);
	else
		first_generation(r);
	int e = loop_run(r->app.loop);
	rc = e < 0 ? 1 : e;
out:
	answer_waiters(r, 1 << 30, false, "baton is stopping");
	run_ctl_free(r->ctl);
	reloader_free(r->reloader);
	source_set_free(r->sources);
	run_state_fini(r); /* before app_fini: the orphans' pidfds are on the loop */
	if (r->preflight)
		child_free(r->preflight);
	if (r->upgrade_client)
		ctl_client_unref(r->upgrade_client);
	app_fini(&r->app);
	free(r->exe);
	if (r->inherit)
		upgrade_state_release(r->inherit);
	free(r->inherit);
	free(r->waiters);
	free(r);
	return rc;
}
