/* Private sockets (proxy mode): the file, its mode and flags, the abstract fallback for long
 * paths, stale and live sockets in the way, and that nothing leaks on failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup/privsock.h"
#include "util/xalloc.h"

#include "testutil.h"

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/baton-privsock-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

/* A client connects through ps->addr and the listener accepts it. */
static void assert_reachable(const struct privsock *ps)
{
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (const struct sockaddr *)&ps->addr, ps->addrlen), 0);
	int a = accept4(ps->fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);
	close(a);
	close(c);
}

static void test_file_socket(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char *dir = tmpdir(), *err = NULL;
	struct privsock ps;
	assert_int_equal(privsock_open(&ps, dir, 3, 0, "http", 16, &err), 0);
	assert_null(err);
	char *want = xasprintf("%s/gen3.http.sock", dir);
	assert_string_equal(ps.path, want);
	struct stat st;
	assert_int_equal(lstat(want, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(fcntl(ps.fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(ps.fd, F_GETFL) & O_NONBLOCK); /* like the public listeners */
	assert_reachable(&ps);
	privsock_close(&ps);
	privsock_close(&ps);
	assert_int_equal(lstat(want, &st), -1);
	assert_int_equal(tu_count_fds(), before);
	free(want);
	rmdir(dir);
	free(dir);
}

static void test_stale_and_live(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char *dir = tmpdir(), *err = NULL;
	struct privsock a, b;
	assert_int_equal(privsock_open(&a, dir, 1, 0, "web", 16, &err), 0);
	/* a live socket in the way is left alone */
	assert_int_equal(privsock_open(&b, dir, 1, 0, "web", 16, &err), -EADDRINUSE);
	assert_non_null(strstr(err, "something listens there"));
	free(err);
	err = NULL;
	assert_int_equal(b.fd, -1);
	/* a stale one (its listener gone, the file left) is replaced */
	close(a.fd);
	a.fd = -1;
	assert_int_equal(privsock_open(&b, dir, 1, 0, "web", 16, &err), 0);
	assert_reachable(&b);
	privsock_close(&b);
	free(a.path); /* unlinked already by b */
	/* a directory that does not exist: an error, nothing left open */
	char *gone = xasprintf("%s/missing", dir);
	assert_true(privsock_open(&b, gone, 1, 0, "web", 16, &err) < 0);
	assert_non_null(strstr(err, "cannot bind the private socket"));
	free(err);
	free(gone);
	assert_int_equal(tu_count_fds(), before);
	rmdir(dir);
	free(dir);
}

static void test_long_path_abstract(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char *dir = tmpdir(), *err = NULL;
	char name[200];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct privsock ps;
	assert_int_equal(privsock_open(&ps, dir, 12, 2, name, 16, &err), 0);
	assert_null(ps.path);
	char *want = xasprintf("baton.%ld.gen12.2", (long)getpid());
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&ps.addr;
	assert_int_equal(sun->sun_path[0], '\0');
	assert_memory_equal(sun->sun_path + 1, want, strlen(want));
	assert_reachable(&ps);
	privsock_close(&ps);
	assert_int_equal(tu_count_fds(), before);
	free(want);
	rmdir(dir);
	free(dir);
}

/* Loopback TCP private sockets: the family asked for, listening on 127.0.0.1 / ::1, reachable
 * at ps.addr, CLOEXEC and blocking, no path; another family refused with nothing left open. */
static void test_tcp(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char *err = NULL;
	struct privsock ps;
	assert_int_equal(privsock_open_tcp(&ps, AF_INET, 16, &err), 0);
	assert_null(err);
	assert_null(ps.path);
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ps.addr;
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_true(ntohs(in->sin_port) > 0);
	assert_true(fcntl(ps.fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(ps.fd, F_GETFL) & O_NONBLOCK);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (const struct sockaddr *)&ps.addr, ps.addrlen), 0);
	int a = accept4(ps.fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);
	close(a);
	close(c);
	privsock_close(&ps);

	/* IPv6: ::1, or the v4-mapped loopback when ::1 is missing; reachable either way */
	assert_int_equal(privsock_open_tcp(&ps, AF_INET6, 16, &err), 0);
	assert_int_equal(ps.addr.ss_family, AF_INET6);
	c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (const struct sockaddr *)&ps.addr, ps.addrlen), 0);
	close(c);
	privsock_close(&ps);

	assert_int_equal(privsock_open_tcp(&ps, AF_UNIX, 16, &err), -EAFNOSUPPORT);
	assert_non_null(strstr(err, "IPv4 or IPv6"));
	free(err);
	assert_int_equal(ps.fd, -1);
	assert_int_equal(tu_count_fds(), before);
}

/* A forward port: a free one on the host asked for, released (the app binds it). */
static void test_pick_port(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char *err = NULL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons(1); /* a placeholder: replaced */
	assert_int_equal(privsock_pick_port(&ss, sizeof(*in), &err), 0);
	assert_true(ntohs(in->sin_port) > 1);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)in, sizeof(*in)), 0); /* free for the app */
	close(s);
	/* an address this machine does not have */
	in->sin_addr.s_addr = htonl(0xC0000201); /* 192.0.2.1, TEST-NET-1 */
	assert_int_equal(privsock_pick_port(&ss, sizeof(*in), &err), -EADDRNOTAVAIL);
	assert_non_null(strstr(err, "cannot pick a free port"));
	free(err);
	ss.ss_family = AF_UNIX;
	err = NULL;
	assert_int_equal(privsock_pick_port(&ss, sizeof(ss), &err), -EAFNOSUPPORT);
	free(err);
	assert_int_equal(tu_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_socket),	   cmocka_unit_test(test_stale_and_live),
		cmocka_unit_test(test_long_path_abstract), cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_pick_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
