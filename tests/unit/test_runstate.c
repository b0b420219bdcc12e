/* Unit tests for runstate.c: the state file's format round-trips, malformed files are rejected
 * (a later `baton run` must never adopt on a misread), /proc/PID/stat parsing, pid liveness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/runstate.h"

static void test_round_trip(void **state)
{
	(void)state;
	struct runstate *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	st->baton_pid = 1200;
	st->baton_start = 123456789012ULL;
	st->ngens = 2;
	st->gens[0] = (struct runstate_gen){.id = 4, .pid = 1300, .start = 99, .nfds = 2};
	snprintf(st->gens[0].state, sizeof(st->gens[0].state), "ready");
	st->gens[0].fds[0].fd = 3;
	snprintf(st->gens[0].fds[0].name, RUNSTATE_NAME_MAX, "http");
	st->gens[0].fds[1].fd = 4;
	snprintf(st->gens[0].fds[1].name, RUNSTATE_NAME_MAX, "a b=%%\n");
	st->gens[1] = (struct runstate_gen){.id = 5, .pid = 1301, .start = 100};
	snprintf(st->gens[1].state, sizeof(st->gens[1].state), "starting");
	char *text = runstate_format(st);
	assert_non_null(strstr(text, "3=http 4=a%20b%3D%25%0A"));
	assert_int_equal(runstate_parse(text, back), 0);
	assert_int_equal(back->baton_pid, 1200);
	assert_true(back->baton_start == 123456789012ULL);
	assert_int_equal(back->ngens, 2);
	assert_int_equal(back->gens[0].id, 4);
	assert_int_equal(back->gens[0].pid, 1300);
	assert_int_equal(back->gens[0].nfds, 2);
	assert_int_equal(back->gens[0].fds[1].fd, 4);
	assert_string_equal(back->gens[0].fds[1].name, "a b=%\n");
	assert_string_equal(back->gens[1].state, "starting");
	assert_int_equal(back->gens[1].nfds, 0);
	free(text);
	free(st);
	free(back);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"baton-state 2\nbaton 1 1\n",
		"baton-state 1\n",
		"baton-state 1\nbaton 0 1\n",
		"baton-state 1\nbaton -5 1\n",
		"baton-state 1\nbaton 12 x\n",
		"baton-state 1\nbaton 12 1\nbaton 13 1\n",
		"baton-state 1\nbaton 12 1\ngen 1 2 3\n",
		"baton-state 1\nbaton 12 1\ngen 1 2 3 ready 2=http\n",
		"baton-state 1\nbaton 12 1\ngen 1 2 3 ready 3http\n",
		"baton-state 1\nbaton 12 1\ngen 1 2 3 ready 3=a%zz\n",
		"baton-state 1\nbaton 12 1\ngen 1 2 3 ready 3=a/b\n",
		"baton-state 1\nbaton 12 1\ngen 1 99999999999 3 ready\n",
		"baton-state 1\nbaton 12 1\nwhat 1\n",
	};
	struct runstate *st = calloc(1, sizeof(*st));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (runstate_parse(bad[i], st) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	free(st);
}

static void test_stat(void **state)
{
	(void)state;
	char st;
	unsigned long long start = 0;
	const char *text = "42 (we ird) (x)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			   "777123 1000 10 18446744073709551615\n";
	assert_int_equal(runstate_parse_stat(text, &st, &start), 0);
	assert_int_equal(st, 'S');
	assert_true(start == 777123ULL);
	assert_int_equal(runstate_parse_stat("42 (x) S 1 2", &st, &start), -EINVAL);
	assert_int_equal(runstate_parse_stat("no paren", &st, &start), -EINVAL);
	unsigned long long mine;
	assert_int_equal(runstate_proc_start(getpid(), &mine), 0);
	assert_true(runstate_alive(getpid(), mine));
	assert_false(runstate_alive(getpid(), mine + 1));
	assert_false(runstate_alive(0, 0));
}

static void test_write_read(void **state)
{
	(void)state;
	char dir[] = "/tmp/baton-runstate-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/s.state", dir);
	struct runstate *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	st->baton_pid = 7;
	st->baton_start = 8;
	assert_int_equal(runstate_read(path, back), -ENOENT);
	assert_int_equal(runstate_write(path, st), 0);
	assert_int_equal(runstate_read(path, back), 0);
	assert_int_equal(back->baton_pid, 7);
	unlink(path);
	/* the path is a directory: the write fails, nothing is left behind */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(runstate_write(path, st) < 0);
	rmdir(path);
	assert_int_equal(rmdir(dir), 0);
	free(st);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_write_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
