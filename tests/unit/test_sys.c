/* Unit tests for the syscall seam itself (util/sys.h): the countdown, persistence, reset, and
 * that a wrapper with nothing armed is the plain call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/sys.h"

static int reset(void **state)
{
	(void)state;
	sys_fail_reset();
	return 0;
}

static void test_unarmed_is_the_plain_call(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(sys_pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
	int fd = sys_openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sys_calls(SYS_CALL_PIPE2), 1);
	assert_int_equal(sys_calls(SYS_CALL_OPEN), 1);
}

static void test_nth_call_fails_once(void **state)
{
	(void)state;
	sys_fail_nth(SYS_CALL_OPEN, 3, EMFILE, false);
	for (int i = 1; i <= 5; i++) {
		errno = 0;
		int fd = sys_openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
		if (i == 3) {
			assert_int_equal(fd, -1);
			assert_int_equal(errno, EMFILE);
		} else {
			assert_true(fd >= 0);
			close(fd);
		}
	}
	assert_int_equal(sys_calls(SYS_CALL_OPEN), 5);
}

static void test_persistent_failure_until_reset(void **state)
{
	(void)state;
	sys_fail_nth(SYS_CALL_PIPE2, 2, ENFILE, true);
	int p[2];
	assert_int_equal(sys_pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	close(p[1]);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sys_pipe2(p, O_CLOEXEC), -1);
		assert_int_equal(errno, ENFILE);
	}
	sys_fail_reset();
	assert_int_equal(sys_pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	close(p[1]);
}

static void test_calls_are_independent(void **state)
{
	(void)state;
	sys_fail_nth(SYS_CALL_BIND, 1, EADDRINUSE, false);
	int fd = sys_openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sys_bind(-1, NULL, 0), -1);
	assert_int_equal(errno, EADDRINUSE);
	/* disarmed after its one failure: the real call runs (and fails on fd -1 by itself) */
	assert_int_equal(sys_bind(-1, NULL, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_string_equal(sys_call_name(SYS_CALL_INOTIFY_ADD_WATCH), "inotify_add_watch");
}

static void test_failed_fork_makes_no_child(void **state)
{
	(void)state;
	sys_fail_nth(SYS_CALL_FORK, 1, EAGAIN, false);
	assert_int_equal(sys_fork(), -1);
	assert_int_equal(errno, EAGAIN);
	pid_t pid = sys_fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(sys_calls(SYS_CALL_FORK), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_unarmed_is_the_plain_call, reset),
		cmocka_unit_test_setup(test_nth_call_fails_once, reset),
		cmocka_unit_test_setup(test_persistent_failure_until_reset, reset),
		cmocka_unit_test_setup(test_calls_are_independent, reset),
		cmocka_unit_test_setup(test_failed_fork_makes_no_child, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
