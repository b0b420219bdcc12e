#include "source/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "filereload/check_cmd.h"
#include "obs/events.h"
#include "proc/child.h"
#include "source/source_fs.h"
#include "source/source_int.h"
#include "util/escape.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct source {
	struct source_set *set;
	const struct cfg_source *cfg;
	const struct source_kind *kind;
	void *impl;
	char *target; /* absolute */
	bool dir;
	/* what the kind delivered last, waiting for the debounce */
	struct source_snap want;
	bool have_want;
	int64_t revision;
	struct loop_timer *settle;  /* debounce */
	struct loop_timer *initial; /* initial_timeout */
	int64_t burst_start;	    /* the first change the settle timer waits for */
	/* the check of a staged copy */
	struct check_cmd *check;
	char *staged;
	struct source_snap trying;
	uint64_t trying_hash;
	bool again;
	/* state */
	uint64_t rejected_hash; /* the last value rejected (not tried again) */
	char *error;
	bool up;
	char *down_reason;
	bool initial_done; /* a file is in place (fresh or from an earlier run) or we gave up */
	bool had_file;	   /* a file from an earlier run was in place at start */
	bool absent_said;
	unsigned applied, rejected;
};

struct source_set {
	struct loop *loop;
	const struct config *cfg;
	const char *const *env;
	struct child_reaper *reaper;
	struct reload_cbs cbs;
	void *data;
	struct source *v;
	int n;
	bool started; /* generation 1 may run: actions are asked for */
	void (*ready)(bool ok, const char *why, void *data);
	void *ready_data;
	struct loop_timer *ready_timer; /* calls ready from the loop */
	bool ready_called;
	bool ready_ok;
	char *ready_why;
};

static void try_apply(struct source *s);

/* ---- reporting ---- */

/* One place for every outcome: "applied", "rejected" or "failed" (reason NULL when applied).
 * The log line is the caller's; status reads the fields. On the event bus, so that
 * baton_file_reloads_total{group,result}, the status page and the JSON log count sources too. */
static void report(struct source *s, const char *result, const char *reason)
{
	ev_emit(&(struct ev){.type = EV_FILE_GROUP,
			     .group = s->cfg->name,
			     .result = result,
			     .reason = reason,
			     .duration_us = -1});
}

/* ---- start-up ---- */

static void ready_fire(struct loop *l, void *data)
{
	(void)l;
	struct source_set *set = data;
	if (set->ready_called || !set->ready)
		return;
	set->ready_called = true;
	set->started = set->started || set->ready_ok;
	set->ready(set->ready_ok, set->ready_why, set->ready_data);
}

static void check_ready(struct source_set *set)
{
	if (set->ready_called || loop_timer_armed(set->ready_timer))
		return;
	for (int i = 0; i < set->n; i++)
		if (!set->v[i].initial_done)
			return;
	set->ready_ok = true;
	loop_timer_arm_in(set->ready_timer, 0);
}

static void initial_done(struct source *s)
{
	if (s->initial_done)
		return;
	s->initial_done = true;
	loop_timer_disarm(s->initial);
	check_ready(s->set);
}

/* No fresh value can go in place now (why): before generation 1, a file from an earlier run
 * is used, and that is said; without one, the source waits for initial_timeout. */
static void initial_fallback(struct source *s, const char *why)
{
	if (s->initial_done || !s->had_file)
		return;
	log_warn("source \"%s\": %s — starting with \"%s\" from an earlier run", s->cfg->name, why,
		 s->cfg->file);
	initial_done(s);
}

static void initial_expired(struct loop *l, void *data)
{
	(void)l;
	struct source *s = data;
	struct source_set *set = s->set;
	if (s->initial_done || set->ready_called)
		return;
	char *t = escape_str(s->target);
	free(set->ready_why);
	set->ready_why = xasprintf(
		"source \"%s\": no value in place after %llds (%s) and no file \"%s\" from an "
		"earlier run — not starting the app without its config",
		s->cfg->name, (long long)(s->cfg->initial_timeout_ms / 1000),
		s->error	 ? s->error
		: s->down_reason ? s->down_reason
		: s->up		 ? "the key does not exist"
				 : "not connected yet",
		t);
	free(t);
	set->ready_ok = false;
	loop_timer_arm_in(set->ready_timer, 0);
}

/* ---- actions ---- */

static void run_action(struct source *s, const char *why)
{
	struct source_set *set = s->set;
	const struct cfg_action *a = &s->cfg->action;
	if (!set->started)
		return; /* before generation 1: the app reads the file when it starts */
	switch (a->kind) {
	case ACTION_RESTART:
		if (set->cbs.restart)
			set->cbs.restart(why, set->data);
		break;
	case ACTION_SIGNAL:
		if (set->cbs.signal)
			set->cbs.signal(a->signal, why, set->data);
		break;
	case ACTION_EXEC: {
		struct child_spec spec = {
			.shell_cmd = a->cmd,
			.label = a->cmd,
			.cwd = set->cfg->root,
			.env = set->env,
			.out = CHILD_OUT_INHERIT,
			.new_session = true,
			.reaper = set->reaper,
		};
		struct child *c = NULL;
		char *err = NULL;
		if (child_spawn(set->loop, &spec, &c, &err) < 0)
			log_error("source \"%s\": action \"exec:%s\": %s", s->cfg->name, a->cmd,
				  err);
		else
			child_free(c);
		free(err);
		break;
	}
	}
}

/* ---- the pipeline ---- */

static void reject(struct source *s, char *reason)
{
	s->rejected_hash = s->trying_hash;
	s->rejected++;
	log_error("source \"%s\": value at revision %lld rejected: %s — \"%s\" keeps the last good "
		  "value",
		  s->cfg->name, (long long)s->revision, reason, s->cfg->file);
	free(s->error);
	s->error = reason;
	report(s, "rejected", reason);
	initial_fallback(s, "its value was rejected");
}

static void commit(struct source *s)
{
	char *err = NULL;
	int rc = source_fs_commit(s->target, s->dir, s->staged, &s->trying, &err);
	free(s->staged);
	s->staged = NULL;
	if (rc < 0) {
		log_error("source \"%s\": %s — the app keeps the previous value", s->cfg->name,
			  err);
		free(s->error);
		s->error = err;
		report(s, "failed", err);
		return;
	}
	free(s->error);
	s->error = NULL;
	s->rejected_hash = 0;
	s->applied++;
	bool started = s->set->started;
	const struct cfg_action *a = &s->cfg->action;
	log_info("source \"%s\": revision %lld in place in \"%s\"%s", s->cfg->name,
		 (long long)s->revision, s->cfg->file,
		 !started		     ? ""
		 : a->kind == ACTION_RESTART ? " — starting a new generation"
		 : a->kind == ACTION_SIGNAL  ? " — signalling the app"
					     : " — running its action");
	report(s, "applied", NULL);
	char *why = xasprintf("source \"%s\"", s->cfg->name);
	run_action(s, why);
	free(why);
	initial_done(s);
}

static void check_done(struct check_cmd *c, bool ok, char *reason, void *data)
{
	struct source *s = data;
	check_cmd_free(c);
	s->check = NULL;
	if (s->again) {
		/* a newer value arrived meanwhile: a good one still goes in place (the app may be
		 * waiting for its first config), a bad one is moot; then the newer one */
		s->again = false;
		free(reason);
		if (ok) {
			commit(s);
		} else {
			source_fs_discard(s->dir, s->staged);
			free(s->staged);
			s->staged = NULL;
		}
		try_apply(s);
		return;
	}
	if (ok) {
		commit(s);
	} else {
		source_fs_discard(s->dir, s->staged);
		free(s->staged);
		s->staged = NULL;
		reject(s, reason);
	}
}

static void start_check(struct source *s)
{
	struct source_set *set = s->set;
	char *file = xasprintf("BATON_FILE=%s", s->staged);
	const char *extra[] = {file, NULL};
	struct check_cmd_spec spec = {
		.cmd = s->cfg->check,
		.cwd = set->cfg->root,
		.env = set->env,
		.extra_env = extra,
		.timeout_ms = s->cfg->check_timeout_ms,
		.reaper = set->reaper,
		.done = check_done,
		.data = s,
	};
	char *err = NULL;
	int rc = check_cmd_start(set->loop, &spec, &s->check, &err);
	free(file);
	if (rc < 0) {
		source_fs_discard(s->dir, s->staged);
		free(s->staged);
		s->staged = NULL;
		reject(s, xasprintf("check: %s", err));
		free(err);
	}
}

static void try_apply(struct source *s)
{
	if (s->check) {
		s->again = true;
		return;
	}
	if (!s->have_want)
		return;
	s->have_want = false;
	source_snap_release(&s->trying);
	s->trying = s->want;
	memset(&s->want, 0, sizeof(s->want));
	if (!s->dir && !s->trying.present) {
		if (!s->absent_said)
			log_warn(
				"source \"%s\": key \"%s\" does not exist (revision %lld) — \"%s\" "
				"stays as it is",
				s->cfg->name, s->cfg->key, (long long)s->revision, s->cfg->file);
		s->absent_said = true;
		initial_fallback(s, "the key does not exist");
		return;
	}
	s->absent_said = false;
	uint64_t h = source_snap_hash(&s->trying), cur = 0;
	s->trying_hash = h;
	if (source_fs_in_place(s->target, s->dir, &cur) == 0 && cur == h) {
		if (s->error) {
			log_info("source \"%s\" is back to the value in place", s->cfg->name);
			free(s->error);
			s->error = NULL;
			s->rejected_hash = 0;
		}
		initial_done(s);
		return; /* equal to what is in place: nothing to do */
	}
	if (h == s->rejected_hash)
		return; /* rejected already */
	char *err = NULL;
	if (source_fs_stage(s->target, s->dir, &s->trying, &s->staged, &err) < 0) {
		log_error("source \"%s\": %s — the app keeps the previous value", s->cfg->name,
			  err);
		free(s->error);
		s->error = err;
		report(s, "failed", err);
		return;
	}
	if (s->cfg->check)
		start_check(s);
	else
		commit(s);
}

static void settle_timer(struct loop *l, void *data)
{
	(void)l;
	struct source *s = data;
	try_apply(s);
}

void source_deliver(struct source *s, const struct source_entry *e, size_t n, int64_t revision)
{
	struct source_entry *ok = n ? xcalloc(n, sizeof(*ok)) : NULL;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (s->dir && !source_name_ok(e[i].name, strlen(e[i].name))) {
			char *k = escape_str(e[i].name);
			log_warn("source \"%s\": key \"%s%s\" skipped: not usable as a file name "
				 "(empty, hidden, or with '/')",
				 s->cfg->name, s->cfg->prefix, k);
			free(k);
			continue;
		}
		ok[m++] = e[i];
	}
	source_snap_set(&s->want, ok, m);
	if (s->dir)
		s->want.present = true;
	free(ok);
	s->have_want = true;
	s->revision = revision;
	if (s->check) {
		s->again = true;
		return;
	}
	/* before generation 1 nothing waits for a quiet time: the app needs its config */
	if (!s->initial_done) {
		try_apply(s);
		return;
	}
	/* a quiet time after the last change, but never later than [watch] max_wait after the
	 * first one of the burst: a key rewritten without pause still gets applied */
	int64_t now = now_ms(), at = now + s->set->cfg->watch.debounce_ms;
	if (!loop_timer_armed(s->settle))
		s->burst_start = now;
	int64_t cap = s->set->cfg->watch.max_wait_ms;
	if (cap > 0 && at > s->burst_start + cap)
		at = s->burst_start + cap;
	loop_timer_arm_at(s->settle, at);
}

void source_set_state(struct source *s, bool up, const char *why)
{
	if (up == s->up && (up || (why && s->down_reason && !strcmp(why, s->down_reason))))
		return;
	bool was = s->up;
	s->up = up;
	free(s->down_reason);
	s->down_reason = up ? NULL : xstrdup(why ? why : "down");
	if (up && !was)
		log_info("source \"%s\": watching", s->cfg->name);
	else if (!up && was)
		log_warn("source \"%s\": %s — retrying; \"%s\" keeps its value", s->cfg->name,
			 s->down_reason, s->cfg->file);
	if (!up)
		initial_fallback(s, s->down_reason);
}

/* ---- the set ---- */

struct source_set *source_set_new(struct loop *l, const struct config *cfg, const char *const *env,
				  struct child_reaper *reaper, const struct reload_cbs *cbs,
				  void *data, char **err)
{
	*err = NULL;
	if (cfg->nsources == 0)
		return NULL;
	struct source_set *set = xcalloc(1, sizeof(*set));
	set->loop = l;
	set->cfg = cfg;
	set->env = env;
	set->reaper = reaper;
	set->cbs = *cbs;
	set->data = data;
	set->ready_timer = loop_timer_new(l, ready_fire, set);
	set->v = xcalloc((size_t)cfg->nsources, sizeof(*set->v));
	set->n = cfg->nsources;
	for (int i = 0; i < set->n; i++) {
		struct source *s = &set->v[i];
		s->set = set;
		s->cfg = &cfg->sources[i];
		s->kind = &source_kind_etcd;
		s->dir = s->cfg->prefix != NULL;
		s->target = s->cfg->file[0] == '/' ? xstrdup(s->cfg->file)
						   : xasprintf("%s/%s", cfg->root, s->cfg->file);
		size_t tl = strlen(s->target);
		while (tl > 1 && s->target[tl - 1] == '/')
			s->target[--tl] = 0;
		s->settle = loop_timer_new(l, settle_timer, s);
		s->initial = loop_timer_new(l, initial_expired, s);
	}
	return set;
}

void source_set_start(struct source_set *set, bool serving,
		      void (*ready)(bool ok, const char *why, void *data), void *data)
{
	set->started = serving;
	set->ready = ready;
	set->ready_data = data;
	for (int i = 0; i < set->n; i++) {
		struct source *s = &set->v[i];
		uint64_t h;
		s->had_file = source_fs_in_place(s->target, s->dir, &h) == 0;
		char *err = NULL;
		s->impl = s->kind->start(set->loop, s->cfg, set->cfg->root, s, &err);
		if (!s->impl) {
			free(set->ready_why);
			set->ready_why = xasprintf("source \"%s\": %s", s->cfg->name, err);
			free(err);
			set->ready_ok = false;
			loop_timer_arm_in(set->ready_timer, 0);
			return;
		}
		loop_timer_arm_in(s->initial, s->cfg->initial_timeout_ms);
	}
	check_ready(set);
}

void source_set_free(struct source_set *set)
{
	if (!set)
		return;
	for (int i = 0; i < set->n; i++) {
		struct source *s = &set->v[i];
		if (s->impl)
			s->kind->stop(s->impl);
		check_cmd_free(s->check);
		if (s->staged)
			source_fs_discard(s->dir, s->staged);
		free(s->staged);
		loop_timer_free(s->settle);
		loop_timer_free(s->initial);
		source_snap_release(&s->want);
		source_snap_release(&s->trying);
		free(s->target);
		free(s->error);
		free(s->down_reason);
	}
	loop_timer_free(set->ready_timer);
	free(set->ready_why);
	free(set->v);
	free(set);
}

int source_set_count(const struct source_set *set)
{
	return set ? set->n : 0;
}

void source_set_info(const struct source_set *set, int i, struct source_info *out)
{
	const struct source *s = &set->v[i];
	*out = (struct source_info){
		.name = s->cfg->name,
		.kind = s->kind->name,
		.up = s->up,
		.down_reason = s->down_reason,
		.ok = s->error == NULL,
		.error = s->error,
		.revision = s->revision,
		.applied = s->applied,
		.rejected = s->rejected,
	};
}

int source_set_up(const struct source_set *set, const char *name)
{
	for (int i = 0; set && i < set->n; i++)
		if (strcmp(set->v[i].cfg->name, name) == 0)
			return set->v[i].up;
	return -1;
}
