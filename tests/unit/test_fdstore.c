/* The fd store: names, the bound, removal by name, ownership (no fd leaks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sup/fdstore.h"

#include "testutil.h"

static int new_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_names_and_order(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct fdstore *st = fdstore_new(8);
	int a = new_fd(), b = new_fd(), c = new_fd();
	assert_int_equal(fdstore_add(st, a, "counter", 7), 0);
	assert_int_equal(fdstore_add(st, b, NULL, 0), 0);
	assert_int_equal(fdstore_add(st, c, "counterX", 7), 0); /* len bounds the name */
	assert_int_equal(fdstore_count(st), 3);
	assert_int_equal(fdstore_fd(st, 0), a);
	assert_string_equal(fdstore_name(st, 0), "counter");
	assert_string_equal(fdstore_name(st, 1), "stored");
	assert_string_equal(fdstore_name(st, 2), "counter");
	assert_int_equal(fdstore_add(st, 1000, "x", 1), -EBADF); /* not open */

	/* FDSTOREREMOVE: every fd of that name, closed */
	assert_int_equal(fdstore_remove(st, "counter", 7), 2);
	assert_int_equal(fcntl(a, F_GETFD), -1);
	assert_int_equal(fcntl(c, F_GETFD), -1);
	assert_int_equal(fdstore_count(st), 1);
	assert_int_equal(fdstore_fd(st, 0), b);
	assert_int_equal(fdstore_remove(st, "nothing", 7), 0);
	fdstore_free(st);
	assert_int_equal(tu_count_fds(), before);
}

static void test_bound(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct fdstore *st = fdstore_new(2);
	assert_int_equal(fdstore_max(st), 2);
	assert_int_equal(fdstore_add(st, new_fd(), "a", 1), 0);
	assert_int_equal(fdstore_add(st, new_fd(), "b", 1), 0);
	int extra = new_fd();
	assert_int_equal(fdstore_add(st, extra, "c", 1), -EXFULL);
	assert_true(fcntl(extra, F_GETFD) >= 0); /* refused: still the caller's */
	close(extra);
	assert_int_equal(fdstore_count(st), 2);
	/* room again after a removal */
	assert_int_equal(fdstore_remove(st, "a", 1), 1);
	assert_int_equal(fdstore_add(st, new_fd(), "c", 1), 0);
	fdstore_free(st);

	/* fd_store_max = 0: everything refused */
	st = fdstore_new(0);
	extra = new_fd();
	assert_int_equal(fdstore_add(st, extra, NULL, 0), -EXFULL);
	close(extra);
	fdstore_free(st);
	assert_int_equal(tu_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_order),
		cmocka_unit_test(test_bound),
	};
	return cmocka_run_group_tests_name("fdstore", tests, NULL, NULL);
}
