#include "filereload/reload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/child.h"
#include "util/fingerprint.h"
#include "core/log.h"
#include "core/loop.h"
#include "filereload/check_cmd.h"
#include "filereload/reload_hash.h"
#include "filereload/reload_tls.h"
#include "util/buf.h"
#include "util/escape.h"
#include "obs/events.h"
#include "util/signame.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "watch/watch.h"

#define MISMATCH_RETRY_MIN_MS 100
#define MISMATCH_DEADLINE_MS 5000
#define MERGE_WAIT_MS 2000

enum gstate { G_IDLE, G_RETRY, G_CHECKING };

struct group {
	struct reloader *r;
	char *name; /* for messages: the [[reload]] name or the cert path, escaped */
	const char *kind;
	const struct cfg_reload *rl; /* one of rl / tls */
	const struct cfg_tls *tls;
	const struct cfg_action *action;
	struct strv paths; /* absolute */
	enum gstate state;
	uint64_t good;	 /* content hash of the last good state */
	uint64_t trying; /* content hash being validated */
	char *error;
	char *warning;
	char *missing; /* the path reported missing (reported once) */
	int64_t last_attempt;
	int64_t mismatch_since;
	int64_t retry_ms;
	unsigned applied;
	struct loop_timer *timer; /* mismatch retry */
	struct check_cmd *check;
	bool again;	   /* another change arrived while busy */
	int64_t not_after; /* [[tls]]: of the certificate being tried (0: unknown) */
};

struct reloader {
	struct loop *loop;
	const struct config *cfg;
	const char *const *env;
	struct child_reaper *reaper;
	struct reload_cbs cbs;
	void *data;
	struct watch *watch;
	struct group *g;
	int ng;
	/* actions accepted in this round, flushed when no group is busy */
	bool want_restart;
	int signals[8];
	int nsignals;
	struct strv execs;
	struct strv exec_groups; /* the name of the group that asked for execs.v[i] */
	struct buf why;
	/* held while a [[tls]] group is rejected, asked for once none is (reloader_hold_restart) */
	bool held_restart;
	uint64_t held_sigs; /* bit n: signal n (a rejected [[tls]] group's own signal action) */
};

/* Hash every path of the group; -ENOENT with *missing set when one does not exist. */
static int group_hash(struct group *g, uint64_t *out, const char **missing)
{
	return reload_hash_paths(g->paths.v, g->paths.n, out, missing);
}

/* ---- actions ---- */

/* Actions wait for groups still being validated, so that files changed together cause one
 * action; a pair waiting for its other half holds the others back at most MERGE_WAIT_MS. */
static bool any_busy(const struct reloader *r)
{
	for (int i = 0; i < r->ng; i++) {
		const struct group *g = &r->g[i];
		if (g->state == G_CHECKING ||
		    (g->state == G_RETRY && now_ms() - g->mismatch_since < MERGE_WAIT_MS))
			return true;
	}
	return false;
}

/* The first [[tls]] group whose current files were rejected: while there is one, a new
 * generation (or the signal that makes the app read its certificate again) would hand the app
 * the rejected files. */
static const struct group *holding_group(const struct reloader *r)
{
	for (int i = 0; r && i < r->ng; i++)
		if (r->g[i].tls && r->g[i].tls->act && r->g[i].error)
			return &r->g[i];
	return NULL;
}

static bool signal_held(const struct reloader *r, int sig)
{
	for (int i = 0; i < r->ng; i++) {
		const struct group *g = &r->g[i];
		if (g->tls && g->tls->act && g->error && g->action->kind == ACTION_SIGNAL &&
		    g->action->signal == sig)
			return true;
	}
	return false;
}

static void why_add(struct reloader *r, const char *what)
{
	if (r->why.len)
		buf_puts(&r->why, ", ");
	buf_puts(&r->why, what);
}

/* Once no [[tls]] group is rejected any more, what was held joins this round's actions. */
static void release_held(struct reloader *r)
{
	if ((!r->held_restart && !r->held_sigs) || holding_group(r))
		return;
	log_info("the certificates pass again — %s",
		 r->held_restart ? "starting the held reload" : "sending the held signal");
	if (r->held_restart) {
		r->want_restart = true;
		why_add(r, "the held reload");
	}
	for (int sig = 1; sig < 64; sig++) {
		if (!(r->held_sigs & (1ULL << sig)))
			continue;
		bool have = false;
		for (int i = 0; i < r->nsignals; i++)
			have |= r->signals[i] == sig;
		if (!have && r->nsignals < 8)
			r->signals[r->nsignals++] = sig;
		if (!r->held_restart)
			why_add(r, "the held signal");
	}
	r->held_restart = false;
	r->held_sigs = 0;
}

/* A group's decision on the event bus: "applied", "rejected" (a check caught bad input) or
 * "failed" (its action could not be carried out). */
static void emit_group(const char *name, const char *result, const char *reason)
{
	ev_emit(&(struct ev){.type = EV_FILE_GROUP,
			     .group = name,
			     .result = result,
			     .reason = reason,
			     .duration_us = -1});
}

static void emit_cert(const struct group *g)
{
	if (g->tls && g->not_after)
		ev_emit(&(struct ev){.type = EV_TLS_CERT,
				     .group = g->name,
				     .not_after = g->not_after,
				     .duration_us = -1});
}

static void flush_actions(struct reloader *r)
{
	if (any_busy(r))
		return;
	release_held(r);
	const char *why = buf_cstr(&r->why);
	if (r->want_restart) {
		if (r->cbs.restart)
			r->cbs.restart(why, r->data);
	} else {
		const struct group *hold = holding_group(r);
		for (int i = 0; i < r->nsignals; i++) {
			int sig = r->signals[i];
			if (hold && sig > 0 && sig < 64 && signal_held(r, sig)) {
				log_error(
					"%s: %s held — the app would read the rejected certificate "
					"\"%s\" again; it is sent once the certificate passes",
					why, signame_str(sig), hold->name);
				r->held_sigs |= 1ULL << sig;
			} else if (r->cbs.signal) {
				r->cbs.signal(sig, why, r->data);
			}
		}
	}
	for (size_t i = 0; i < r->execs.n; i++) {
		struct child_spec spec = {
			.shell_cmd = r->execs.v[i],
			.label = r->execs.v[i],
			.cwd = r->cfg->root,
			.env = r->env,
			.out = CHILD_OUT_INHERIT,
			.new_session = true,
			.reaper = r->reaper,
		};
		struct child *c = NULL;
		char *err = NULL;
		if (child_spawn(r->loop, &spec, &c, &err) < 0) {
			log_error("reload action \"exec:%s\": %s", r->execs.v[i], err);
			emit_group(r->exec_groups.v[i], "failed", err);
		} else
			child_free(c); /* runs on its own; the reaper collects it */
		free(err);
	}
	r->want_restart = false;
	r->nsignals = 0;
	strv_release(&r->execs);
	strv_release(&r->exec_groups);
	buf_reset(&r->why);
}

/* The HTTPS front takes the group's files for new handshakes; false when it could not (the
 * group is failed, the front keeps the previous certificate). */
static bool swap_into_front(struct group *g)
{
	struct reloader *r = g->r;
	if (!g->tls || !g->tls->front || !r->cbs.tls_swap)
		return true;
	char *err = NULL;
	int rc = r->cbs.tls_swap(g->tls, &err, r->data);
	if (rc == 0)
		return true;
	char *why = xasprintf("the HTTPS front cannot load it: %s", err ? err : strerror(-rc));
	free(err);
	log_error("tls \"%s\" passed its checks but %s — new handshakes keep the previous "
		  "certificate",
		  g->name, why);
	emit_group(g->name, "failed", why);
	free(g->error);
	g->error = why;
	return false;
}

static void accept_group(struct group *g)
{
	struct reloader *r = g->r;
	if (!swap_into_front(g))
		return;
	bool act = !g->tls || g->tls->act;
	g->good = g->trying;
	free(g->error);
	g->error = NULL;
	g->applied++;
	const char *what = g->action->kind == ACTION_RESTART  ? "starting a new generation"
			   : g->action->kind == ACTION_SIGNAL ? "signalling the app"
							      : "running its action";
	if (g->tls && g->tls->front)
		log_info("%s \"%s\" changed and passed its checks — new TLS handshakes use it%s%s",
			 g->kind, g->name, act ? "; " : "", act ? what : "");
	else
		log_info("%s \"%s\" changed and passed its checks — %s", g->kind, g->name, what);
	emit_group(g->name, "applied", NULL);
	emit_cert(g);
	if (!act)
		return;
	char *label = xasprintf("%s \"%s\"", g->kind, g->name);
	why_add(r, label);
	free(label);
	switch (g->action->kind) {
	case ACTION_RESTART:
		r->want_restart = true;
		break;
	case ACTION_SIGNAL: {
		bool have = false;
		for (int i = 0; i < r->nsignals; i++)
			have |= r->signals[i] == g->action->signal;
		if (!have && r->nsignals < 8)
			r->signals[r->nsignals++] = g->action->signal;
		break;
	}
	case ACTION_EXEC:
		if (!strv_contains(&r->execs, g->action->cmd)) {
			strv_push(&r->execs, g->action->cmd);
			strv_push(&r->exec_groups, g->name);
		}
		break;
	}
}

static void reject_group(struct group *g, char *reason)
{
	bool same = g->error && strcmp(g->error, reason) == 0;
	free(g->error);
	g->error = reason;
	emit_group(g->name, "rejected", reason);
	if (!same)
		log_error("%s \"%s\" rejected: %s — %s", g->kind, g->name, reason,
			  g->tls && g->tls->front && !g->tls->act
				  ? "the HTTPS front keeps serving the previous certificate"
				  : "the app keeps the previous version");
}

/* ---- the attempt pipeline ---- */

static void attempt(struct group *g);

static void check_done(struct check_cmd *c, bool ok, char *reason, void *data)
{
	struct group *g = data;
	check_cmd_free(c);
	g->check = NULL;
	g->state = G_IDLE;
	if (g->again) {
		g->again = false;
		free(reason);
		attempt(g);
		flush_actions(g->r);
		return;
	}
	if (ok)
		accept_group(g);
	else
		reject_group(g, reason);
	flush_actions(g->r);
}

static void start_check(struct group *g)
{
	struct reloader *r = g->r;
	struct check_cmd_spec spec = {
		.cmd = g->rl->check,
		.cwd = r->cfg->root,
		.env = r->env,
		.timeout_ms = g->rl->check_timeout_ms,
		.reaper = r->reaper,
		.done = check_done,
		.data = g,
	};
	char *err = NULL;
	if (check_cmd_start(r->loop, &spec, &g->check, &err) < 0) {
		char *cmd = escape_str(g->rl->check);
		reject_group(g, xasprintf("check \"%s\": %s", cmd, err));
		free(cmd);
		free(err);
		return;
	}
	g->state = G_CHECKING;
}

static void group_timer(struct loop *l, void *data)
{
	(void)l;
	struct group *g = data;
	if (g->state == G_RETRY) {
		g->state = G_IDLE;
		attempt(g);
		flush_actions(g->r);
	}
}

static void attempt(struct group *g)
{
	if (g->state == G_CHECKING) {
		g->again = true;
		return;
	}
	if (g->state == G_RETRY) {
		loop_timer_disarm(g->timer);
		g->state = G_IDLE;
	}
	uint64_t h = 0;
	const char *missing = NULL;
	int rc = group_hash(g, &h, &missing);
	if (rc < 0) {
		if (!g->missing || strcmp(g->missing, missing) != 0) {
			char *m = escape_str(missing);
			log_warn("%s \"%s\": \"%s\" %s — waiting, the app keeps the previous "
				 "version",
				 g->kind, g->name, m, rc == -ENOENT ? "is missing" : strerror(-rc));
			free(m);
			free(g->missing);
			g->missing = xstrdup(missing);
		}
		return;
	}
	if (g->missing) {
		char *m = escape_str(g->missing);
		log_info("%s \"%s\": \"%s\" is back", g->kind, g->name, m);
		free(m);
		free(g->missing);
		g->missing = NULL;
	}
	if (h == g->good && g->error && g->good) {
		/* back to what the app already has: nothing to apply, nothing rejected any more */
		log_info("%s \"%s\" is back to its last good version", g->kind, g->name);
		free(g->error);
		g->error = NULL;
		g->trying = 0;
		return;
	}
	if (h == g->good || (h == g->trying && g->error && g->state == G_IDLE))
		return; /* nothing new: same as applied, or same as already rejected */
	g->trying = h;
	g->last_attempt = now_ms();
	if (g->tls) {
		struct reload_tls_verdict v;
		reload_tls_validate(g->r->cfg, g->tls, &v);
		free(g->warning);
		g->warning = v.warning;
		if (!v.ok) {
			if (v.transient) {
				if (!g->mismatch_since) {
					g->mismatch_since = now_ms();
					g->retry_ms = MISMATCH_RETRY_MIN_MS;
				}
				if (now_ms() - g->mismatch_since < MISMATCH_DEADLINE_MS) {
					log_debug("tls \"%s\": %s — retrying in %lld ms", g->name,
						  v.message, (long long)g->retry_ms);
					free(v.message);
					g->state = G_RETRY;
					g->trying = 0;
					loop_timer_arm_in(g->timer, g->retry_ms);
					g->retry_ms *= 2;
					return;
				}
			}
			g->mismatch_since = 0;
			reject_group(g, v.message);
			return;
		}
		free(v.message);
		g->mismatch_since = 0;
		g->not_after = v.not_after;
		if (v.warning)
			log_warn("tls \"%s\": %s", g->name, v.warning);
	}
	if (g->rl && g->rl->check) {
		start_check(g);
		return;
	}
	accept_group(g);
}

static void on_batch(const struct watch_change *ch, size_t n, void *data)
{
	(void)ch;
	(void)n;
	struct reloader *r = data;
	/* Event names and paths are hints: every group compares its content with its last good
	 * state, so a group the batch did not touch does nothing. */
	for (int i = 0; i < r->ng; i++)
		attempt(&r->g[i]);
	flush_actions(r);
}

/* ---- setup ---- */

static void group_init(struct reloader *r, struct group *g)
{
	g->r = r;
	g->timer = loop_timer_new(r->loop, group_timer, g);
	uint64_t h = 0;
	const char *missing = NULL;
	if (group_hash(g, &h, &missing) == 0) {
		g->good = h;
	} else {
		g->missing = xstrdup(missing);
		char *m = escape_str(missing);
		log_warn("%s \"%s\": \"%s\" is missing — it will be applied when it appears",
			 g->kind, g->name, m);
		free(m);
	}
	if (g->tls && g->good) {
		struct reload_tls_verdict v;
		reload_tls_validate(r->cfg, g->tls, &v);
		if (!v.ok) {
			log_error("tls \"%s\": %s", g->name, v.message);
			g->error = v.message;
			g->trying = g->good; /* rejected, not good: there is no good version yet */
			g->good = 0;
		} else {
			free(v.message);
			g->not_after = v.not_after;
			emit_cert(g); /* the certificate in use from the start */
		}
		g->warning = v.warning;
	}
}

static char *abs_path(const struct config *cfg, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", cfg->root, p);
}

bool reloader_needed(const struct config *cfg)
{
	return cfg->nreload + cfg->ntls > 0;
}

struct reloader *reloader_new(struct loop *l, struct watch_hub *hub, const struct config *cfg,
			      const char *const *env, struct child_reaper *reaper,
			      const struct reload_cbs *cbs, void *data, char **err)
{
	int ng = cfg->nreload + cfg->ntls;
	if (ng == 0) {
		if (err)
			*err = xstrdup("no [[reload]] or [[tls]] groups to watch");
		errno = EINVAL;
		return NULL;
	}
	struct reloader *r = xcalloc(1, sizeof(*r));
	r->loop = l;
	r->cfg = cfg;
	r->env = env;
	r->reaper = reaper;
	r->cbs = *cbs;
	r->data = data;
	r->g = xcalloc((size_t)ng, sizeof(*r->g));
	struct watch_opts wo;
	watch_opts_init(&wo);
	wo.root = xstrdup(cfg->root);
	wo.hub = hub;
	wo.debounce_ms = cfg->watch.debounce_ms;
	wo.poll = cfg->watch.poll == POLL_FORCE ? WATCH_POLL_FORCE
		  : cfg->watch.poll == POLL_OFF ? WATCH_POLL_OFF
						: WATCH_POLL_AUTO;
	if (cfg->watch.poll_interval_ms > 0)
		wo.poll_interval_ms = cfg->watch.poll_interval_ms;
	for (int i = 0; i < cfg->nreload; i++) {
		struct group *g = &r->g[r->ng++];
		g->rl = &cfg->reload[i];
		g->name = escape_str(g->rl->name);
		g->kind = "reload";
		g->action = &g->rl->action;
		for (size_t j = 0; j < g->rl->paths.n; j++) {
			strv_push_owned(&g->paths, abs_path(cfg, g->rl->paths.v[j]));
			strv_push(&wo.paths, g->rl->paths.v[j]);
		}
	}
	for (int i = 0; i < cfg->ntls; i++) {
		struct group *g = &r->g[r->ng++];
		g->tls = &cfg->tls[i];
		g->name = escape_str(g->tls->cert);
		g->kind = "tls";
		g->action = &g->tls->action;
		strv_push_owned(&g->paths, abs_path(cfg, g->tls->cert));
		strv_push_owned(&g->paths, abs_path(cfg, g->tls->key));
		strv_push(&wo.paths, g->tls->cert);
		strv_push(&wo.paths, g->tls->key);
		if (g->tls->ca) {
			strv_push_owned(&g->paths, abs_path(cfg, g->tls->ca));
			strv_push(&wo.paths, g->tls->ca);
		}
	}
	char *werr = NULL;
	r->watch = watch_new(l, &wo, on_batch, r, &werr);
	watch_opts_release(&wo);
	if (!r->watch || watch_start(r->watch) < 0) {
		int e = errno;
		if (err)
			*err = xasprintf("cannot watch the [[reload]]/[[tls]] files: %s",
					 werr ? werr : strerror(e));
		free(werr);
		reloader_free(r);
		errno = e;
		return NULL;
	}
	for (int i = 0; i < r->ng; i++)
		group_init(r, &r->g[i]);
	return r;
}

void reloader_free(struct reloader *r)
{
	if (!r)
		return;
	watch_free(r->watch);
	for (int i = 0; i < r->ng; i++) {
		struct group *g = &r->g[i];
		check_cmd_free(g->check);
		loop_timer_free(g->timer);
		strv_release(&g->paths);
		free(g->name);
		free(g->error);
		free(g->warning);
		free(g->missing);
	}
	free(r->g);
	strv_release(&r->execs);
	strv_release(&r->exec_groups);
	buf_release(&r->why);
	free(r);
}

char *reloader_hold_reason(const struct reloader *r)
{
	const struct group *g = holding_group(r);
	if (!g)
		return NULL;
	/* the message usually starts with the file it is about: no need to say it twice */
	const char *e = g->error;
	size_t n = strlen(g->name);
	if (e[0] == '"' && strncmp(e + 1, g->name, n) == 0 && strncmp(e + 1 + n, "\": ", 3) == 0)
		e += n + 4;
	return xasprintf("certificate \"%s\" rejected: %s", g->name, e);
}

void reloader_hold_restart(struct reloader *r)
{
	if (r)
		r->held_restart = true;
}

int reloader_ngroups(const struct reloader *r)
{
	return r ? r->ng : 0;
}

void reloader_group(const struct reloader *r, int i, struct reload_group_info *out)
{
	const struct group *g = &r->g[i];
	*out = (struct reload_group_info){
		.name = g->name,
		.kind = g->kind,
		.ok = g->error == NULL,
		.error = g->error,
		.warning = g->warning,
		.good_hash = g->good,
		.last_attempt_ms = g->last_attempt,
		.applied = g->applied,
	};
}
