/* Unit tests for net/conn's plain socket transport: read, write, end of file, -EAGAIN,
 * shutdown, close with and without a reset, and the splice fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "testutil.h"

static void pair(int sv[2], int type)
{
	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
}

static void test_read_write_shutdown(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	int sv[2];
	pair(sv, SOCK_STREAM);
	struct conn a, b;
	conn_sock_init(&a, sv[0]);
	conn_sock_init(&b, sv[1]);
	assert_int_equal(conn_splice_fd(&a), sv[0]);
	char buf[16];
	assert_int_equal(conn_read(&b, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(conn_write(&a, "hello", 5), 5);
	assert_int_equal(conn_read(&b, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(conn_shutdown(&a), 0);
	assert_int_equal(conn_read(&b, buf, sizeof(buf)), 0);
	/* the other direction still works after a half-close */
	assert_int_equal(conn_write(&b, "x", 1), 1);
	assert_int_equal(conn_read(&a, buf, sizeof(buf)), 1);
	conn_close(&a, false);
	assert_int_equal(a.fd, -1);
	conn_close(&a, false); /* a no-op */
	/* the peer is gone: no SIGPIPE, an error */
	assert_int_equal(conn_write(&b, "x", 1), -EPIPE);
	conn_close(&b, false);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_write_full(void **state)
{
	(void)state;
	int sv[2];
	pair(sv, SOCK_STREAM);
	struct conn a, b;
	conn_sock_init(&a, sv[0]);
	conn_sock_init(&b, sv[1]);
	static char big[64 * 1024];
	ssize_t n;
	while ((n = conn_write(&a, big, sizeof(big))) > 0)
		;
	assert_int_equal(n, -EAGAIN);
	conn_close(&a, false);
	conn_close(&b, false);
}

/* A reset close: the TCP peer reads ECONNRESET instead of end of file. */
static void test_close_reset(void **state)
{
	(void)state;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	assert_int_equal(bind(l, (struct sockaddr *)&in, len), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&in, &len), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&in, len), 0);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	struct conn a;
	conn_sock_init(&a, s);
	conn_close(&a, true);
	char b;
	assert_int_equal(read(c, &b, 1), -1);
	assert_int_equal(errno, ECONNRESET);
	close(c);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_shutdown),
		cmocka_unit_test(test_write_full),
		cmocka_unit_test(test_close_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
