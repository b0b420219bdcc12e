/* Unit tests for the event loop and the signalfd module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "sig.h"
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
		cmocka_unit_test(test_signalfd),
	};
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
