/* Unit tests for net/unixsock: addresses (filesystem, abstract, too long for sun_path), binding
 * over a stale socket file, refusing a live one or a path that is not a socket, and addresses
 * as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "testutil.h"

struct fix {
	char dir[64];
	char path[PATH_MAX];
	int fds;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/baton-unixsock-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/s.sock", f->dir);
	f->fds = tu_count_fds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	assert_int_equal(tu_count_fds(), f->fds);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int sock(int type)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	return fd;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

/* The file at path reaches the socket fd (bound, listening if a stream socket). */
static void assert_reaches(const char *path, int fd, int type)
{
	struct unixsock_addr a;
	assert_int_equal(unixsock_addr_fill(&a, path, 0), 0);
	int c = sock(type);
	assert_int_equal(connect(c, (struct sockaddr *)&a.sun, a.len), 0);
	assert_int_equal(send(c, "x", 1, MSG_NOSIGNAL), 1);
	close(c);
	char b;
	if (type == SOCK_STREAM) {
		int s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		assert_true(s >= 0);
		assert_int_equal(recv(s, &b, 1, 0), 1);
		close(s);
	} else {
		assert_int_equal(recv(fd, &b, 1, 0), 1);
	}
}

/* A socket file whose owner closed it is replaced, for stream and datagram sockets. */
static void test_stale_replaced(void **state)
{
	struct fix *f = *state;
	int types[] = {SOCK_STREAM, SOCK_DGRAM};
	for (size_t i = 0; i < 2; i++) {
		int old = sock(types[i]);
		assert_int_equal(unixsock_bind(old, f->path, 0), 0);
		close(old);
		int fd = sock(types[i]);
		assert_int_equal(unixsock_bind(fd, f->path, 0), 0);
		if (types[i] == SOCK_STREAM)
			assert_int_equal(listen(fd, 1), 0);
		assert_reaches(f->path, fd, types[i]);
		close(fd);
		unlink(f->path);
	}
}

/* A socket somebody listens on (stream) or is bound to (datagram) stays; so does one bound by
 * another socket type. */
static void test_live_refused(void **state)
{
	struct fix *f = *state;
	int live = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(live, f->path, 0), 0);
	assert_int_equal(listen(live, 1), 0);
	ino_t ino = ino_of(f->path);
	int fd = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(fd, f->path, 0), -EADDRINUSE);
	close(fd);
	fd = sock(SOCK_DGRAM);
	assert_int_equal(unixsock_bind(fd, f->path, 0), -EADDRINUSE);
	close(fd);
	assert_true(ino_of(f->path) == ino);
	close(live);
	unlink(f->path);

	live = sock(SOCK_DGRAM);
	assert_int_equal(unixsock_bind(live, f->path, 0), 0);
	fd = sock(SOCK_DGRAM);
	assert_int_equal(unixsock_bind(fd, f->path, 0), -EADDRINUSE);
	close(fd);
	close(live);
}

/* A path that is not a socket is never removed. */
static void test_not_socket_refused(void **state)
{
	struct fix *f = *state;
	int file = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(file >= 0);
	close(file);
	int fd = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(fd, f->path, 0), -EEXIST);
	close(fd);
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* A path longer than sun_path: refused without UNIXSOCK_LONG_PATH, bound and reachable (and a
 * stale one replaced) with it, through the directory's fd. */
static void test_long_path(void **state)
{
	struct fix *f = *state;
	char sub[160];
	int n = snprintf(sub, sizeof(sub), "%s/", f->dir);
	memset(sub + n, 'd', 100);
	sub[n + 100] = '\0';
	assert_int_equal(mkdir(sub, 0700), 0);
	char path[sizeof(sub) + 16];
	snprintf(path, sizeof(path), "%s/long.sock", sub);
	assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));

	struct unixsock_addr a;
	assert_int_equal(unixsock_addr_fill(&a, path, 0), -ENAMETOOLONG);
	assert_int_equal(a.dirfd, -1);
	int fd = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(fd, path, 0), -ENAMETOOLONG);
	assert_int_equal(unixsock_bind(fd, path, UNIXSOCK_LONG_PATH), 0);
	assert_int_equal(listen(fd, 1), 0);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(unixsock_addr_fill(&a, path, UNIXSOCK_LONG_PATH), 0);
	assert_true(a.dirfd >= 0);
	int c = sock(SOCK_STREAM);
	assert_int_equal(connect(c, (struct sockaddr *)&a.sun, a.len), 0);
	unixsock_addr_release(&a);
	assert_int_equal(a.dirfd, -1);
	close(c);

	int other = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(other, path, UNIXSOCK_LONG_PATH), -EADDRINUSE);
	close(fd);
	assert_int_equal(unixsock_bind(other, path, UNIXSOCK_LONG_PATH), 0);
	close(other);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(sub), 0);
}

/* "@name": the abstract name without a trailing NUL; a second bind is refused, nothing on disk. */
static void test_abstract(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@baton-unixsock-test-%d", (int)getpid());
	struct unixsock_addr a;
	assert_int_equal(unixsock_addr_fill(&a, name, 0), 0);
	assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + strlen(name));
	assert_int_equal(a.sun.sun_path[0], '\0');
	assert_memory_equal(a.sun.sun_path + 1, name + 1, strlen(name) - 1);
	assert_int_equal(unixsock_addr_fill(&a, "@", 0), -EINVAL);
	assert_int_equal(unixsock_addr_fill(&a, "", 0), -EINVAL);
	char huge[200];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[0] = '@';
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(unixsock_addr_fill(&a, huge, UNIXSOCK_LONG_PATH), -ENAMETOOLONG);

	int fd = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(fd, name, 0), 0);
	assert_int_equal(listen(fd, 1), 0);
	int other = sock(SOCK_STREAM);
	assert_int_equal(unixsock_bind(other, name, 0), -EADDRINUSE);
	close(other);

	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	char *text = unixsock_sockaddr_text((struct sockaddr *)&ss, len);
	char want[80];
	snprintf(want, sizeof(want), "unix:%s", name);
	assert_string_equal(text, want);
	free(text);
	close(fd);
}

static void test_text(void **state)
{
	(void)state;
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	char *t = unixsock_sockaddr_text((struct sockaddr *)&in, sizeof(in));
	assert_string_equal(t, "127.0.0.1:8080");
	free(t);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	t = unixsock_sockaddr_text((struct sockaddr *)&in6, sizeof(in6));
	assert_string_equal(t, "[::1]:443");
	free(t);
	struct unixsock_addr a;
	assert_int_equal(unixsock_addr_fill(&a, "/run/app.sock", 0), 0);
	t = unixsock_sockaddr_text((struct sockaddr *)&a.sun, a.len);
	assert_string_equal(t, "unix:/run/app.sock");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stale_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_socket_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
