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
	st->gens[0] = (struct gen_info){8, 4242, GEN_DRAINING, 1000, 1200};
	st->gens[1] = (struct gen_info){9, 4343, GEN_READY, 2000, 2100};
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

/* Stored fds go over in order, their names whole (spaces included); the list is released. */
static void test_round_trip_keeps_the_fd_store(void **state)
{
	(void)state;
	struct upgrade_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	upgrade_state_init(st);
	char longest[256];
	memset(longest, 'n', 255);
	longest[255] = '\0';
	upgrade_state_store(st, 20, "counter");
	upgrade_state_store(st, 3, " a name  with spaces ");
	upgrade_state_store(st, 21, "counter");
	upgrade_state_store(st, 22, longest);
	upgrade_state_store(st, 23, "bad:name"); /* not a valid FDNAME: not handed over */
	upgrade_state_store(st, 2, "stderr");	 /* not a stored fd: neither */
	for (int i = 0; i < 1100; i++)		 /* beyond any fd_store_max: grows */
		upgrade_state_store(st, 100 + i, "many");
	st->ctl_fd = 8;
	char *text = upgrade_format(st);
	assert_null(strstr(text, "bad:name"));
	assert_null(strstr(text, "stderr"));
	upgrade_state_release(st);
	assert_int_equal(st->nstore, 0);
	assert_int_equal(st->ctl_fd, -1);
	/* more than UPGRADE_MAX_STORE entries: rejected whole, nothing kept */
	assert_int_equal(upgrade_parse(text, back), -EINVAL);
	assert_int_equal(back->nstore, 0);
	assert_null(back->store);
	free(text);
	upgrade_state_store(st, 20, "counter");
	upgrade_state_store(st, 3, " a name  with spaces ");
	upgrade_state_store(st, 21, "counter");
	upgrade_state_store(st, 22, longest);
	text = upgrade_format(st);
	assert_int_equal(upgrade_parse(text, back), 0);
	assert_int_equal(back->nstore, 4);
	assert_int_equal(back->store[0].fd, 20);
	assert_string_equal(back->store[0].name, "counter");
	assert_int_equal(back->store[1].fd, 3);
	assert_string_equal(back->store[1].name, " a name  with spaces ");
	assert_int_equal(back->store[2].fd, 21);
	assert_string_equal(back->store[2].name, "counter");
	assert_int_equal(back->store[3].fd, 22);
	assert_string_equal(back->store[3].name, longest);
	free(text);
	upgrade_state_release(st);
	upgrade_state_release(back);
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
		"baton-upgrade 1\nstore 5\n",
		"baton-upgrade 1\nstore 5 \n",
		"baton-upgrade 1\nstore 2 counter\n",
		"baton-upgrade 1\nstore -1 counter\n",
		"baton-upgrade 1\nstore x counter\n",
		"baton-upgrade 1\nstore 5x counter\n",
		"baton-upgrade 1\nstore 5 a:b\n",
		"baton-upgrade 1\nstore 5 tab\there\n",
		"baton-upgrade 1\nstore 5 caf\xc3\xa9\n",
		"baton-upgrade 1\nstore 5 ok\nstore 6 ok\x7f\n",
		"baton-upgrade 1\nstore 5 ok\nctl x\n",
	};
	struct upgrade_state *st = calloc(1, sizeof(*st));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (upgrade_parse(bad[i], st) != -EINVAL || st->nstore || st->store)
			fail_msg("accepted: %s", bad[i]);
	char toolong[300];
	snprintf(toolong, sizeof(toolong), "baton-upgrade 1\nstore 5 %0256d\n", 0);
	assert_int_equal(upgrade_parse(toolong, st), -EINVAL);
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
	int stored = memfd_create("stored", MFD_CLOEXEC);
	assert_true(stored >= 3);
	upgrade_state_store(st, stored, "counter");
	int before = tu_count_fds();
	char *err = NULL;
	int r = upgrade_exec("/nonexistent/baton", st, &err);
	assert_int_equal(r, -ENOENT);
	assert_non_null(err);
	assert_non_null(strstr(err, "cannot execute \"/nonexistent/baton\""));
	free(err);
	assert_int_equal(tu_count_fds(), before);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(stored, F_GETFD) & FD_CLOEXEC);
	assert_null(getenv(UPGRADE_ENV));
	/* this process is not an upgrade */
	upgrade_state_release(st);
	assert_int_equal(upgrade_take(st), 0);
	close(fds[0]);
	close(fds[1]);
	close(stored);
	free(st);
}

static void test_take(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, 0), 0); /* as after an exec: no CLOEXEC */
	int memfd = memfd_create("t", 0);
	int stored = memfd_create("stored", 0);
	char doc[160];
	snprintf(doc, sizeof(doc), "baton-upgrade 1\nlisten 0 %d\nreply %d\nstore %d counter\n",
		 fds[0], fds[1], stored);
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
	assert_int_equal(st->nstore, 1);
	assert_int_equal(st->store[0].fd, stored);
	assert_string_equal(st->store[0].name, "counter");
	assert_true(fcntl(stored, F_GETFD) & FD_CLOEXEC);
	upgrade_state_release(st);
	close(fds[0]);
	close(fds[1]);
	close(stored);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_keeps_the_fd_store),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_failed_exec_restores),
		cmocka_unit_test(test_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
