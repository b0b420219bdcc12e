/* Unit tests for the generation state machine (sup/gen.c): every transition of gen.h's table
 * driven with real, tiny children (tests/helpers/idle waits for a signal, ignoreterm only dies
 * of SIGKILL, `sh -c 'exit 3'` fails at once). READY=1 is handed to gen_notify() as the notify
 * receiver would, once the child said it is running (its "ready" output line): no socket, no
 * sleep. Each test checks the order of the callbacks, and that gen_replace() and gen_stop()
 * never call one themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/sig.h"
#include "net/notify.h"
#include "proc/child.h"
#include "sup/gen.h"
#include "sup/gen_int.h"
#include "testutil.h"
#include "util/strv.h"

#define WAIT_MS 20000

static char helpers[PATH_MAX + 16];

/* What the set reported, in order: "ready 2 1", "failed 1: ...", "crashed 1: ...",
 * "exited 1: ...", "stopped". Output lines are counted per generation, not recorded. */
struct rec {
	struct strv ev;
	bool in_call; /* a gen_*() call of the test is on the stack */
	int called_inside;
	int lines[16];
};

static void note(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct rec *r, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (r->in_call)
		r->called_inside++;
	strv_push(&r->ev, b);
}

static void cb_ready(struct gens *s, int id, int prev, int64_t took, void *data)
{
	(void)s;
	(void)took;
	note(data, "ready %d %d", id, prev);
}

static void cb_failed(struct gens *s, int id, const char *reason, void *data)
{
	(void)s;
	note(data, "failed %d: %s", id, reason);
}

static void cb_crashed(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	note(data, "crashed %d: %s", id, status);
}

static void cb_exited(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	note(data, "exited %d: %s", id, status);
}

static void cb_stopped(struct gens *s, void *data)
{
	(void)s;
	note(data, "stopped");
}

static void cb_output(struct gens *s, int id, int stream, const char *line, size_t len, void *data)
{
	(void)s;
	(void)stream;
	struct rec *r = data;
	if (len >= 5 && memcmp(line, "ready", 5) == 0 && id >= 0 && id < 16)
		r->lines[id]++;
}

static const struct gen_cbs cbs = {
	.ready = cb_ready,
	.failed = cb_failed,
	.crashed = cb_crashed,
	.exited = cb_exited,
	.stopped = cb_stopped,
	.output = cb_output,
};

struct fx {
	struct loop *l;
	struct child_reaper *reaper;
	struct sig *sig;
	struct gens *s;
	struct rec r;
	char cmd[PATH_MAX + 64];
};

static void on_sigchld(const struct signalfd_siginfo *si, void *data)
{
	(void)si;
	child_reap(data);
}

static const char *const child_env[] = {"PATH=/usr/bin:/bin", NULL};

static void fx_init(struct fx *f, const char *helper, const char *shell, enum ready_kind ready,
		    void (*tune)(struct gen_opts *o))
{
	memset(f, 0, sizeof(*f));
	f->l = loop_new();
	assert_non_null(f->l);
	f->reaper = child_reaper_new(true);
	assert_non_null(f->reaper);
	int sigs[] = {SIGCHLD};
	f->sig = sig_new(f->l, sigs, 1, on_sigchld, f->reaper);
	assert_non_null(f->sig);
	if (helper)
		snprintf(f->cmd, sizeof(f->cmd), "exec %s/%s", helpers, helper);
	else
		snprintf(f->cmd, sizeof(f->cmd), "%s", shell);
	struct gen_opts o = {
		.cmd = f->cmd,
		.cwd = "/",
		.env = child_env,
		.ready = ready,
		.ready_timeout_ms = 60000,
		.stop_signal = SIGTERM,
		.stop_timeout_ms = 60000,
		.overlap = true,
		.reaper = f->reaper,
	};
	if (tune)
		tune(&o);
	f->s = gen_new(f->l, &o, &cbs, &f->r);
	assert_non_null(f->s);
}

static void fx_fini(struct fx *f)
{
	gen_kill(f->s);
	gen_free(f->s);
	sig_free(f->sig);
	child_kill_orphans(f->reaper, SIGKILL);
	child_reaper_free(f->reaper);
	loop_free(f->l);
	strv_release(&f->r.ev);
}

/* gen_replace() / gen_stop() as the policies call them, watching for a callback inside. */
static int replace(struct fx *f)
{
	f->r.in_call = true;
	int e = gen_replace(f->s);
	f->r.in_call = false;
	return e;
}

static void stop(struct fx *f)
{
	f->r.in_call = true;
	gen_stop(f->s);
	f->r.in_call = false;
}

struct wait_ev {
	struct fx *f;
	size_t n;
};

static bool have_events(void *arg)
{
	struct wait_ev *w = arg;
	return w->f->r.ev.n >= w->n;
}

static void wait_events(struct fx *f, size_t n)
{
	struct wait_ev w = {f, n};
	tu_run_until(f->l, have_events, &w, WAIT_MS, "the set's callbacks");
}

struct wait_line {
	struct fx *f;
	int id;
};

static bool said_ready(void *arg)
{
	struct wait_line *w = arg;
	return w->f->r.lines[w->id] > 0;
}

static pid_t pid_of(struct fx *f, int id)
{
	struct gen_info gi[16];
	int n = gen_list(f->s, gi, 16);
	for (int i = 0; i < n; i++)
		if (gi[i].id == id)
			return gi[i].pid;
	fail_msg("generation %d is not listed", id);
	return -1;
}

/* The child of generation id is running (it printed "ready"): send READY=1 from it. */
static void notify_ready(struct fx *f, int id)
{
	struct wait_line w = {f, id};
	tu_run_until(f->l, said_ready, &w, WAIT_MS, "the child's ready line");
	struct notify_msg m = {.ready = true};
	gen_notify(f->s, pid_of(f, id), &m, NULL, 0);
}

static enum gen_state state_of(struct fx *f, int id)
{
	for (size_t i = 0; i < f->s->ngen; i++)
		if (f->s->gen[i]->id == id)
			return f->s->gen[i]->state;
	return GEN_EXITED;
}

static void assert_ev(struct fx *f, size_t i, const char *want)
{
	assert_true(f->r.ev.n > i);
	if (strncmp(f->r.ev.v[i], want, strlen(want)) != 0)
		fail_msg("event %zu is \"%s\", wanted \"%s...\"", i, f->r.ev.v[i], want);
}

static void stop_and_wait(struct fx *f, size_t total)
{
	stop(f);
	wait_events(f, total);
	assert_string_equal(f->r.ev.v[total - 1], "stopped");
	assert_int_equal(f->r.called_inside, 0);
}

/* starting -ready-> ready -stop-> draining -main_exit-> exited; then "stopped". */
static void test_ready_notify_then_stop(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_NOTIFY, NULL);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(f.r.ev.n, 0);
	assert_int_equal(state_of(&f, 1), GEN_STARTING);
	assert_true(gen_busy(f.s));
	notify_ready(&f, 1);
	assert_ev(&f, 0, "ready 1 0");
	assert_int_equal(gen_serving(f.s), 1);
	assert_false(gen_busy(f.s));
	stop_and_wait(&f, 3);
	assert_ev(&f, 1, "exited 1: killed by SIGTERM");
	fx_fini(&f);
}

/* starting -main_exit-> gone: failed, nothing serves. */
static void test_exit_before_ready(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL, "sh -c 'exit 3'", READY_NOTIFY, NULL);
	assert_int_equal(replace(&f), 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "failed 1: exited with status 3 before it was ready");
	assert_int_equal(gen_serving(f.s), 0);
	assert_false(gen_busy(f.s));
	stop_and_wait(&f, 2);
	fx_fini(&f);
}

static void short_timeout(struct gen_opts *o)
{
	o->ready_timeout_ms = 1;
	o->stop_timeout_ms = 1;
}

/* starting -timeout-> failing (a late READY=1 ignored, listed as starting) -main_exit,
 * group_exit-> exited: failed once it is gone. ignoreterm outlives stop_signal: SIGKILL. */
static void test_ready_timeout_failing(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "ignoreterm", NULL, READY_NOTIFY, short_timeout);
	assert_int_equal(replace(&f), 0);
	pid_t pid = pid_of(&f, 1);
	/* the deadline passed long ago: the next turn of the loop finds it */
	struct wait_ev none = {&f, 1};
	while (state_of(&f, 1) == GEN_STARTING && !have_events(&none))
		assert_true(loop_run_once(f.l, WAIT_MS) >= 0);
	if (state_of(&f, 1) == GEN_FAILING) {
		struct gen_info gi;
		assert_int_equal(gen_list(f.s, &gi, 1), 1);
		assert_int_equal(gi.state, GEN_STARTING);
		assert_true(gen_busy(f.s));
		struct notify_msg m = {.ready = true};
		gen_notify(f.s, pid, &m, NULL, 0); /* too late: ignored */
		assert_int_equal(gen_serving(f.s), 0);
	}
	wait_events(&f, 1);
	assert_ev(&f, 0, "failed 1: not ready within");
	assert_int_equal(f.r.ev.n, 1);
	assert_int_equal(gen_serving(f.s), 0);
	assert_int_equal(f.s->ngen, 0);
	stop_and_wait(&f, 2);
	fx_fini(&f);
}

/* ready (READY_EXEC: said from the loop, not inside gen_replace) -main_exit-> crashed. */
static void test_exec_ready_then_crash(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_EXEC, NULL);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(f.r.called_inside, 0);
	assert_int_equal(f.r.ev.n, 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "ready 1 0");
	struct wait_line w = {&f, 1};
	tu_run_until(f.l, said_ready, &w, WAIT_MS, "the child's ready line");
	assert_int_equal(kill(pid_of(&f, 1), SIGKILL), 0);
	wait_events(&f, 2);
	assert_ev(&f, 1, "crashed 1: killed by SIGKILL");
	assert_int_equal(gen_serving(f.s), 0);
	assert_int_equal(gen_crash_count(f.s), 1);
	stop_and_wait(&f, 3);
	fx_fini(&f);
}

/* dev's build priority: the generations' groups at nice 19 while lowered, then baton's own
 * niceness again; a generation started meanwhile inherits baton's. */
static void test_lower_priority(void **state)
{
	(void)state;
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	assert_int_equal(errno, 0);
	struct fx f;
	fx_init(&f, "idle", NULL, READY_EXEC, NULL);
	assert_int_equal(replace(&f), 0);
	wait_events(&f, 1);
	struct wait_line w = {&f, 1};
	tu_run_until(f.l, said_ready, &w, WAIT_MS, "the child's ready line");
	pid_t pid = pid_of(&f, 1);
	gen_lower_priority(f.s, true);
	if (geteuid() == 0 || f.s->lowered) {
		assert_true(f.s->lowered);
		assert_int_equal(getpriority(PRIO_PGRP, (id_t)pid), 19);
		gen_lower_priority(f.s, true); /* again: nothing changes */
		assert_int_equal(getpriority(PRIO_PGRP, (id_t)pid), 19);
		gen_lower_priority(f.s, false);
		assert_false(f.s->lowered);
	}
	assert_int_equal(getpriority(PRIO_PGRP, (id_t)pid), base);
	stop_and_wait(&f, 3);
	fx_fini(&f);
}

/* A replace during a start is coalesced: three asked, one follow-up (generation 3). */
static void test_replace_coalescing(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_NOTIFY, NULL);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 1);
	assert_int_equal(replace(&f), 0); /* generation 2 starts */
	assert_int_equal(replace(&f), 0);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(gen_last_id(f.s), 2);
	notify_ready(&f, 2); /* 1 drains, the follow-up starts 3 */
	assert_ev(&f, 1, "ready 2 1");
	assert_int_equal(gen_last_id(f.s), 3);
	assert_int_equal(state_of(&f, 1), GEN_DRAINING);
	assert_int_equal(state_of(&f, 3), GEN_STARTING);
	notify_ready(&f, 3);
	wait_events(&f, 5);
	assert_int_equal(gen_last_id(f.s), 3);
	assert_int_equal(gen_serving(f.s), 3);
	assert_false(gen_busy(f.s));
	/* ready 1, ready 2, then 1's exit, ready 3 and 2's exit in the order they happened */
	assert_true(strv_contains(&f.r.ev, "ready 3 2"));
	assert_true(strv_contains(&f.r.ev, "exited 1: killed by SIGTERM"));
	assert_true(strv_contains(&f.r.ev, "exited 2: killed by SIGTERM"));
	stop_and_wait(&f, 7);
	assert_ev(&f, 5, "exited 3: killed by SIGTERM");
	assert_int_equal(f.r.called_inside, 0);
	fx_fini(&f);
}

static void keep_draining(struct gen_opts *o)
{
	o->max_draining = 1;
}

/* Stop with a draining generation: "stopped" only once every group is gone. max_draining = 1:
 * a second draining generation gets the oldest killed. ignoreterm ignores stop_signal. */
static void test_stop_with_draining_and_max_draining(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "ignoreterm", NULL, READY_NOTIFY, keep_draining);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 1);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 2);
	assert_ev(&f, 1, "ready 2 1");
	assert_int_equal(state_of(&f, 1), GEN_DRAINING);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 3); /* 2 drains too: 1 is one too many */
	assert_ev(&f, 2, "ready 3 2");
	wait_events(&f, 4);
	assert_ev(&f, 3, "exited 1: killed by SIGKILL");
	assert_int_equal(state_of(&f, 2), GEN_DRAINING);
	/* stop: 3 drains as well; nothing reported until a group is gone */
	stop(&f);
	assert_int_equal(f.r.ev.n, 4);
	assert_true(gen_stopping(f.s));
	assert_int_equal(state_of(&f, 3), GEN_DRAINING);
	assert_int_equal(f.r.called_inside, 0);
	gen_kill(f.s); /* the second Ctrl-C */
	wait_events(&f, 7);
	assert_string_equal(f.r.ev.v[6], "stopped");
	assert_true(strv_contains(&f.r.ev, "exited 2: killed by SIGKILL"));
	assert_true(strv_contains(&f.r.ev, "exited 3: killed by SIGKILL"));
	fx_fini(&f);
}

static void no_overlap(struct gen_opts *o)
{
	o->overlap = false;
}

/* No overlap (dev): the serving one is stopped first, the next starts once it is gone. */
static void test_no_overlap_replace(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_NOTIFY, no_overlap);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 1);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(gen_last_id(f.s), 1);
	assert_int_equal(state_of(&f, 1), GEN_DRAINING);
	assert_true(gen_busy(f.s));
	wait_events(&f, 2);
	assert_ev(&f, 1, "exited 1: killed by SIGTERM");
	assert_int_equal(gen_last_id(f.s), 2);
	notify_ready(&f, 2);
	assert_ev(&f, 2, "ready 2 0");
	stop_and_wait(&f, 5);
	fx_fini(&f);
}

static void bad_cwd(struct gen_opts *o)
{
	o->cwd = "/nonexistent/baton-test-gen";
}

/* A spawn that fails is reported from the loop, not inside gen_replace(); stop with nothing
 * left reports "stopped" from the loop too. */
static void test_spawn_failure_and_stop_deferred(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_NOTIFY, bad_cwd);
	assert_int_equal(replace(&f), 0);
	assert_int_equal(f.r.ev.n, 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "failed 1: cannot change directory");
	stop(&f);
	assert_int_equal(f.r.ev.n, 1);
	wait_events(&f, 2);
	assert_string_equal(f.r.ev.v[1], "stopped");
	assert_int_equal(f.r.called_inside, 0);
	fx_fini(&f);
}

/* Rollouts: the previous generation stays ready until retired (promote) or reverted to. */
static void test_hold_retire_revert(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "idle", NULL, READY_NOTIFY, NULL);
	gen_hold_previous(f.s, true);
	assert_int_equal(gen_retire(f.s), -ESRCH);
	assert_int_equal(gen_revert(f.s), -ESRCH);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 1);
	assert_int_equal(gen_previous(f.s), 0);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 2);
	assert_ev(&f, 1, "ready 2 1");
	assert_int_equal(gen_serving(f.s), 2);
	assert_int_equal(gen_previous(f.s), 1);
	assert_int_equal(state_of(&f, 1), GEN_READY);
	/* promote: 1 drains */
	assert_int_equal(gen_retire(f.s), 0);
	assert_int_equal(gen_previous(f.s), 0);
	assert_int_equal(state_of(&f, 1), GEN_DRAINING);
	wait_events(&f, 3);
	assert_ev(&f, 2, "exited 1");
	/* roll back: 3 drains, 2 serves again */
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 3);
	assert_int_equal(gen_previous(f.s), 2);
	assert_int_equal(gen_revert(f.s), 0);
	assert_int_equal(gen_serving(f.s), 2);
	assert_int_equal(gen_previous(f.s), 0);
	assert_int_equal(state_of(&f, 3), GEN_DRAINING);
	wait_events(&f, 5);
	assert_ev(&f, 4, "exited 3");
	/* a new candidate replaces an unfinished one, the baseline stays */
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 4);
	assert_int_equal(replace(&f), 0);
	notify_ready(&f, 5);
	assert_ev(&f, 6, "ready 5 2");
	assert_int_equal(gen_previous(f.s), 2);
	assert_int_equal(state_of(&f, 4), GEN_DRAINING);
	assert_int_equal(state_of(&f, 2), GEN_READY);
	wait_events(&f, 8);
	/* the candidate crashes: the previous serves again, nothing restarts */
	assert_int_equal(kill(pid_of(&f, 5), SIGKILL), 0);
	wait_events(&f, 9);
	assert_true(strv_contains(&f.r.ev, "crashed 5: killed by SIGKILL"));
	assert_int_equal(gen_serving(f.s), 2);
	assert_int_equal(gen_previous(f.s), 0);
	assert_false(gen_busy(f.s));
	stop_and_wait(&f, 11);
	fx_fini(&f);
}

int main(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	/* BUILD/unit/test_gen -> BUILD/helpers */
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(helpers, sizeof(helpers), "%s/helpers", exe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_notify_then_stop),
		cmocka_unit_test(test_exit_before_ready),
		cmocka_unit_test(test_ready_timeout_failing),
		cmocka_unit_test(test_exec_ready_then_crash),
		cmocka_unit_test(test_lower_priority),
		cmocka_unit_test(test_replace_coalescing),
		cmocka_unit_test(test_stop_with_draining_and_max_draining),
		cmocka_unit_test(test_no_overlap_replace),
		cmocka_unit_test(test_spawn_failure_and_stop_deferred),
		cmocka_unit_test(test_hold_retire_revert),
	};
	return cmocka_run_group_tests_name("gen", tests, NULL, NULL);
}
