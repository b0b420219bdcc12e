/* Unit tests for the event loop and the signalfd module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/sig.h"
#include "util/timeutil.h"

struct ctx {
	int reads;
	int timers;
	int pipe[2];
	struct loop_src *src;
	struct loop_src *other;
	int other_pipe[2];
};

static void on_read(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ctx *c = data;
	char b[16];
	assert_true(events & EPOLLIN);
	(void)!read(fd, b, sizeof(b));
	c->reads++;
	/* delete ourselves and another ready source within the same batch: must be safe */
	loop_del(l, c->src);
	if (c->other) {
		loop_del(l, c->other);
		c->other = NULL;
	}
}

static void on_other(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct ctx *c = data;
	c->reads += 100; /* must never run: deleted by on_read first, or reads the pipe */
	char b[16];
	(void)!read(fd, b, sizeof(b));
	loop_del(l, c->other);
	c->other = NULL;
}

static void test_fd_and_deferred_free(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	assert_non_null(l);
	struct ctx c = {0};
	assert_int_equal(pipe(c.pipe), 0);
	assert_int_equal(pipe(c.other_pipe), 0);
	c.src = loop_add(l, c.pipe[0], EPOLLIN, on_read, &c);
	c.other = loop_add(l, c.other_pipe[0], EPOLLIN, on_other, &c);
	assert_non_null(c.src);
	(void)!write(c.pipe[1], "x", 1);
	(void)!write(c.other_pipe[1], "y", 1);
	int ran = loop_run_once(l, 1000);
	assert_true(ran >= 1);
	/* whichever ran first deleted the other: exactly one callback counted */
	assert_true(c.reads == 1 || c.reads == 100);
	loop_free(l);
	close(c.pipe[0]);
	close(c.pipe[1]);
	close(c.other_pipe[0]);
	close(c.other_pipe[1]);
}

static void on_timer(struct loop *l, void *data)
{
	struct ctx *c = data;
	c->timers++;
	if (c->timers == 2)
		loop_exit(l, 7);
}

static void test_timers_order_and_exit(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct ctx c = {0};
	struct loop_timer *a = loop_timer_new(l, on_timer, &c);
	struct loop_timer *b = loop_timer_new(l, on_timer, &c);
	struct loop_timer *never = loop_timer_new(l, on_timer, &c);
	int64_t t0 = now_ms();
	loop_timer_arm_in(a, 20);
	loop_timer_arm_in(b, 40);
	assert_true(loop_timer_armed(a));
	assert_false(loop_timer_armed(never));
	assert_int_equal(loop_run(l), 7);
	int64_t el = now_ms() - t0;
	assert_true(el >= 40);
	assert_int_equal(c.timers, 2);
	assert_false(loop_timer_armed(a));
	loop_timer_free(never);
	loop_free(l);
}

/* ---- many timers: the heap fires them in deadline order ---- */

#define NT 5000

struct many {
	struct loop_timer *t[NT];
	int64_t deadline[NT];
	int fired[NT];
	int64_t last; /* the previous fired deadline */
	int nfired;
	bool order_ok;
	int victim; /* freed by the first callback */
	int self_free;
	int disarmer; /* disarms 4 and frees 5 while they wait, re-armed, for the next pass */
};

struct many_ref {
	struct many *m;
	int i;
};

static struct many_ref refs[NT];

static void on_many(struct loop *l, void *data)
{
	(void)l;
	struct many_ref *r = data;
	struct many *m = r->m;
	if (m->deadline[r->i] < m->last)
		m->order_ok = false;
	m->last = m->deadline[r->i];
	m->fired[r->i]++;
	m->nfired++;
	if (m->victim >= 0) { /* free a timer still in the heap, due later in this pass */
		loop_timer_free(m->t[m->victim]);
		m->t[m->victim] = NULL;
		m->victim = -1;
	}
	if ((r->i == 1 || r->i == 4 || r->i == 5) && m->fired[r->i] == 1)
		loop_timer_arm_at(m->t[r->i], 0); /* due at once, but fires next iteration */
	if (r->i == m->disarmer) {
		assert_true(m->fired[4] == 1 && m->fired[5] == 1);
		loop_timer_disarm(m->t[4]);
		loop_timer_free(m->t[5]);
		m->t[5] = NULL;
	}
	if (r->i == m->self_free) {
		loop_timer_free(m->t[r->i]);
		m->t[r->i] = NULL;
	}
}

static void test_many_timers(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	static struct many m;
	memset(&m, 0, sizeof(m));
	m.order_ok = true;
	for (int i = 0; i < NT; i++) {
		refs[i] = (struct many_ref){&m, i};
		m.t[i] = loop_timer_new(l, on_many, &refs[i]);
		/* a permutation of 1..NT, all in the past: everything is due in one pass */
		m.deadline[i] = (int64_t)((i * 7919) % NT) + 1;
		loop_timer_arm_at(m.t[i], m.deadline[i]);
	}
	/* re-arm: moves a timer to its new place */
	m.deadline[11] = NT + 5;
	loop_timer_arm_at(m.t[11], m.deadline[11]);
	/* disarm every 10th, free every 7th before running */
	for (int i = 0; i < NT; i += 10)
		loop_timer_disarm(m.t[i]);
	for (int i = 3; i < NT; i += 7) {
		loop_timer_free(m.t[i]);
		m.t[i] = NULL;
	}
	assert_false(loop_timer_armed(m.t[20]));
	assert_int_equal(loop_timer_deadline(m.t[20]), -1);
	/* the timer with the earliest deadline frees the one with the latest */
	int latest = -1, second = -1;
	for (int i = 0; i < NT; i++) {
		if (!m.t[i] || !loop_timer_armed(m.t[i]))
			continue;
		if (latest < 0 || m.deadline[i] > m.deadline[latest]) {
			second = latest;
			latest = i;
		} else if (second < 0 || m.deadline[i] > m.deadline[second]) {
			second = i;
		}
	}
	assert_int_equal(latest, 11);
	m.victim = latest;
	m.disarmer = second;
	assert_true(m.deadline[1] < m.deadline[second] && m.deadline[4] < m.deadline[second] &&
		    m.deadline[5] < m.deadline[second]);
	m.self_free = 2;
	m.last = 0;

	int ran = loop_run_once(l, 0);
	assert_true(ran > 0);
	assert_true(m.order_ok);
	int expect = 0;
	for (int i = 0; i < NT; i++) {
		bool armed = (i % 10 != 0 && (i < 3 || (i - 3) % 7 != 0));
		if (i == 11)
			assert_int_equal(m.fired[i], 0); /* freed by the first callback */
		else
			assert_int_equal(m.fired[i], armed ? 1 : 0);
		expect += armed && i != 11;
	}
	assert_int_equal(m.nfired, expect);
	assert_int_equal(ran, expect);
	/* of the timers re-armed for "now" in the pass, the one still armed fires on the next
	 * iteration, alone */
	assert_true(loop_timer_armed(m.t[1]));
	assert_false(loop_timer_armed(m.t[4]));
	assert_null(m.t[5]);
	m.last = 0;
	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(m.fired[1], 2);
	assert_false(loop_timer_armed(m.t[1]));
	assert_null(m.t[2]);
	/* nothing armed: a zero wait runs nothing */
	assert_int_equal(loop_run_once(l, 0), 0);
	loop_free(l); /* frees the timers still allocated */
}

static void on_sig(const struct signalfd_siginfo *si, void *data)
{
	int *got = data;
	*got = (int)si->ssi_signo;
}

static void test_signalfd(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int got = 0;
	int sigs[] = {SIGUSR1, SIGHUP};
	struct sig *s = sig_new(l, sigs, 2, on_sig, &got);
	assert_non_null(s);
	kill(getpid(), SIGUSR1);
	assert_true(loop_run_once(l, 1000) >= 1);
	assert_int_equal(got, SIGUSR1);
	sig_free(s);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_and_deferred_free),
		cmocka_unit_test(test_timers_order_and_exit),
		cmocka_unit_test(test_many_timers),
		cmocka_unit_test(test_signalfd),
	};
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
