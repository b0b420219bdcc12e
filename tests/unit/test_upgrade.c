/* Unit tests for upgrade.c: the handoff document round-trips and rejects garbage, and a failed
 * execve leaves baton as it was (fds CLOEXEC again, BATON_UPGRADE_FD unset, no fd leaked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sup/upgrade.h"

#include "testutil.h"

static void test_round_trip(void **state)
{
	(void)state;
	struct upgrade_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	upgrade_state_init(st);
	st->started_ms = 123456;
	st->first_ready = true;
	st->crashes = 2;
	st->last_id = 9;
	st->nlisten = 3;
	st->listen_fd[0] = 5;
	st->listen_fd[2] = 7;
	st->ctl_fd = 8;
	st->reply_fd = 11;
	st->notify_fd = 12;
	snprintf(st->notify, sizeof(st->notify), "@0001f");
	st->ngens = 2;
	st->gens[0] = (struct svc_gen_info){8, 4242, GEN_DRAINING, 1000, 1200};
	st->gens[1] = (struct svc_gen_info){9, 4343, GEN_READY, 2000, 2100};
	st->have_last = true;
	st->last_ok = false;
	st->last_duration_ms = 33;
	st->last_at_ms = 2200;
	st->last_at_unix_ms = 1700000000000;
	snprintf(st->last_reason, sizeof(st->last_reason), "generation 9 failed: x  y\nz");
	char *text = upgrade_format(st);
	assert_int_equal(upgrade_parse(text, back), 0);
	assert_true(back->started_ms == 123456);
	assert_true(back->first_ready);
	assert_int_equal(back->crashes, 2);
	assert_int_equal(back->last_id, 9);
	assert_int_equal(back->nlisten, 3);
	assert_int_equal(back->listen_fd[0], 5);
	assert_int_equal(back->listen_fd[1], -1);
	assert_int_equal(back->listen_fd[2], 7);
	assert_int_equal(back->ctl_fd, 8);
	assert_int_equal(back->reply_fd, 11);
	assert_string_equal(back->notify, "@0001f");
	assert_int_equal(back->notify_fd, 12);
	assert_int_equal(back->ngens, 2);
	assert_int_equal(back->gens[0].state, GEN_DRAINING);
	assert_int_equal(back->gens[1].pid, 4343);
	assert_true(back->gens[1].ready_ms == 2100);
	assert_true(back->have_last && !back->last_ok);
	assert_true(back->last_at_unix_ms == 1700000000000);
	assert_string_equal(back->last_reason, "generation 9 failed: x  y z");
	free(text);
	free(st);
	free(back);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"baton-upgrade 2\n",
		"baton-upgrade 1\nstarted x\n",
		"baton-upgrade 1\nlisten 64 3\n",
		"baton-upgrade 1\nlisten 0 -1\n",
		"baton-upgrade 1\nctl 3 4\n",
		"baton-upgrade 1\ngen 1 2 sleeping 0 0\n",
		"baton-upgrade 1\ngen 0 2 ready 0 0\n",
		"baton-upgrade 1\nlast 2 0 0 0 why\n",
		"baton-upgrade 1\nwhat\n",
	};
	struct upgrade_state *st = calloc(1, sizeof(*st));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (upgrade_parse(bad[i], st) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(upgrade_parse("baton-upgrade 1\n", st), 0);
	assert_int_equal(st->ctl_fd, -1);
	free(st);
}

static void test_failed_exec_restores(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	struct upgrade_state *st = calloc(1, sizeof(*st));
	upgrade_state_init(st);
	st->nlisten = 1;
	st->listen_fd[0] = fds[0];
	st->ctl_fd = fds[1];
	int before = tu_count_fds();
	char err[256];
	int r = upgrade_exec("/nonexistent/baton", st, err, sizeof(err));
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(err, "cannot execute \"/nonexistent/baton\""));
	assert_int_equal(tu_count_fds(), before);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	assert_null(getenv(UPGRADE_ENV));
	/* this process is not an upgrade */
	assert_int_equal(upgrade_take(st), 0);
	close(fds[0]);
	close(fds[1]);
	free(st);
}

static void test_take(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, 0), 0); /* as after an exec: no CLOEXEC */
	int memfd = memfd_create("t", 0);
	char doc[128];
	snprintf(doc, sizeof(doc), "baton-upgrade 1\nlisten 0 %d\nreply %d\n", fds[0], fds[1]);
	assert_int_equal(write(memfd, doc, strlen(doc)), (ssize_t)strlen(doc));
	lseek(memfd, 0, SEEK_SET);
	char num[16];
	snprintf(num, sizeof(num), "%d", memfd);
	setenv(UPGRADE_ENV, num, 1);
	struct upgrade_state *st = calloc(1, sizeof(*st));
	assert_int_equal(upgrade_take(st), 1);
	assert_null(getenv(UPGRADE_ENV));
	assert_int_equal(fcntl(memfd, F_GETFD), -1); /* closed */
	assert_int_equal(st->listen_fd[0], fds[0]);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_failed_exec_restores),
		cmocka_unit_test(test_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
