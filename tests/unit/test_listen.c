/* Unit tests for the listen module: TCP v4/v6/dual-stack, port 0, unix path and abstract
 * sockets, stale socket files, errors, matching across reloads, systemd adoption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/listen.h"

static char err[256];

/* listen_open() with its message copied to err. */
static int open_msg(const char *name, const char *addr, const struct listen_opts *o,
		    struct listener **out)
{
	char *msg = NULL;
	int r = listen_open(name, addr, o, out, &msg);
	snprintf(err, sizeof(err), "%s", msg ? msg : "");
	assert_true((r < 0) == (msg != NULL));
	free(msg);
	return r;
}

static struct listener *open_ok(const char *name, const char *addr, const struct listen_opts *o)
{
	struct listener *ls = NULL;
	int r = open_msg(name, addr, o, &ls);
	if (r < 0)
		fail_msg("listen_open(%s): %d %s", addr, r, err);
	assert_non_null(ls);
	assert_true(ls->fd >= 0);
	assert_true(fcntl(ls->fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(ls->fd, F_GETFL) & O_NONBLOCK);
	int v = 0;
	socklen_t l = sizeof(v);
	assert_int_equal(getsockopt(ls->fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), 0);
	assert_int_equal(v, 1);
	return ls;
}

/* Connect to the listener over family/host and accept the connection. */
static void check_connect(const struct listener *ls, int family, const char *host)
{
	int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)ls->port);
		inet_pton(AF_INET, host, &s->sin_addr);
		len = sizeof(*s);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)ls->port);
		inet_pton(AF_INET6, host, &s->sin6_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_un *s = (struct sockaddr_un *)&ss;
		s->sun_family = AF_UNIX;
		size_t n = strlen(host);
		memcpy(s->sun_path, host, n);
		if (host[0] == '@')
			s->sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				  (host[0] == '@' ? 0 : 1));
	}
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	int a = accept4(ls->fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);
	close(a);
	close(c);
}

static void test_tcp(void **state)
{
	(void)state;
	char want[160];
	struct listener *v4 = open_ok("http", "127.0.0.1:0", NULL);
	assert_int_equal(v4->family, AF_INET);
	assert_true(v4->port > 0);
	snprintf(want, sizeof(want), "127.0.0.1:%d", v4->port);
	assert_string_equal(v4->bound, want);
	assert_string_equal(v4->name, "http");
	assert_string_equal(v4->address, "127.0.0.1:0");
	assert_false(v4->adopted);
	check_connect(v4, AF_INET, "127.0.0.1");

	/* the same port again: in use */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", v4->port);
	struct listener *dup = NULL;
	assert_int_equal(open_msg("x", addr, NULL, &dup), -EADDRINUSE);
	assert_null(dup);
	snprintf(want, sizeof(want), "cannot listen on \"%s\": Address already in use", addr);
	assert_string_equal(err, want);

	struct listener *v6 = open_ok("v6", "[::1]:0", NULL);
	assert_int_equal(v6->family, AF_INET6);
	snprintf(want, sizeof(want), "[::1]:%d", v6->port);
	assert_string_equal(v6->bound, want);
	check_connect(v6, AF_INET6, "::1");

	/* ":0": every address, both families on one socket */
	struct listener *any = open_ok("any", ":0", NULL);
	snprintf(want, sizeof(want), ":%d", any->port);
	assert_string_equal(any->bound, want);
	check_connect(any, AF_INET, "127.0.0.1");
	if (any->family == AF_INET6)
		check_connect(any, AF_INET6, "::1");

	struct listener *any4 = open_ok("any4", "0.0.0.0:0", NULL);
	assert_int_equal(any4->family, AF_INET);
	snprintf(want, sizeof(want), "0.0.0.0:%d", any4->port);
	assert_string_equal(any4->bound, want);

	struct listener *lh = open_ok("lh", "localhost:0", NULL);
	assert_int_equal(lh->family, AF_INET);
	snprintf(want, sizeof(want), "127.0.0.1:%d", lh->port);
	assert_string_equal(lh->bound, want);
	check_connect(lh, AF_INET, "127.0.0.1");

	struct listener *v6any = open_ok("v6any", "[::]:0", NULL);
	assert_int_equal(v6any->family, AF_INET6);
	check_connect(v6any, AF_INET, "127.0.0.1"); /* dual-stack too */

	listen_close(v4);
	listen_close(v6);
	listen_close(any);
	listen_close(any4);
	listen_close(lh);
	listen_close(v6any);
}

static void test_errors(void **state)
{
	(void)state;
	struct listener *ls = NULL;
	assert_int_equal(open_msg("x", "8080", NULL, &ls), -EINVAL);
	assert_non_null(strstr(err, "invalid listen address \"8080\": "));
	assert_null(ls);
	assert_int_equal(open_msg("x", "[::1:80", NULL, &ls), -EINVAL);
	/* an address this host does not have */
	int r = open_msg("x", "192.0.2.1:0", NULL, &ls);
	assert_int_equal(r, -EADDRNOTAVAIL);
	assert_string_equal(err, "cannot listen on \"192.0.2.1:0\": no such local address");
}

static void test_unix(void **state)
{
	(void)state;
	char dir[] = "/tmp/baton-listen-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], addr[160], want[320];
	snprintf(path, sizeof(path), "%s/app.sock", dir);

	/* relative to root */
	struct listen_opts o = {.root = dir, .backlog = 16};
	struct listener *a = open_ok("admin", "unix:app.sock", &o);
	assert_int_equal(a->family, AF_UNIX);
	assert_int_equal(a->port, 0);
	snprintf(want, sizeof(want), "unix:%s", path);
	assert_string_equal(a->bound, want);
	check_connect(a, AF_UNIX, path);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_true(listen_matches(a, "unix:app.sock", dir));
	assert_true(listen_matches(a, addr, NULL));
	assert_false(listen_matches(a, "unix:other.sock", dir));
	assert_false(listen_matches(a, "127.0.0.1:0", dir));

	/* somebody listens there: refused, file left alone */
	struct listener *b = NULL;
	assert_int_equal(open_msg("b", addr, NULL, &b), -EADDRINUSE);
	snprintf(want, sizeof(want), "cannot listen on \"%s\": another process is listening on it",
		 addr);
	assert_string_equal(err, want);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);

	/* closing unlinks the file it created */
	listen_close(a);
	assert_int_equal(stat(path, &st), -1);

	/* a stale socket file (its owner is gone) is replaced */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	a = open_ok("admin", addr, NULL);
	check_connect(a, AF_UNIX, path);

	/* if the path was replaced meanwhile, close leaves the new file alone */
	assert_int_equal(unlink(path), 0);
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(f);
	listen_close(a);
	assert_int_equal(stat(path, &st), 0);

	/* a regular file is never removed */
	assert_int_equal(open_msg("b", addr, NULL, &b), -EEXIST);
	snprintf(want, sizeof(want), "cannot listen on \"%s\": the path exists and is not a socket",
		 addr);
	assert_string_equal(err, want);
	unlink(path);

	/* abstract */
	char name[64], abs[80];
	snprintf(name, sizeof(name), "@baton-test-%d", (int)getpid());
	snprintf(abs, sizeof(abs), "unix:%s", name);
	struct listener *c = open_ok("abs", abs, NULL);
	assert_string_equal(c->bound, abs);
	check_connect(c, AF_UNIX, name);
	assert_true(listen_matches(c, abs, NULL));
	listen_close(c);

	/* missing parent directories are created (".baton/admin.sock" before any build) */
	struct listener *d = open_ok("nested", "unix:.baton/run/admin.sock", &o);
	snprintf(path, sizeof(path), "%s/.baton/run/admin.sock", dir);
	check_connect(d, AF_UNIX, path);
	listen_close(d);
	snprintf(path, sizeof(path), "%s/.baton/run", dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/.baton", dir);
	assert_int_equal(rmdir(path), 0);
	rmdir(dir);
}

static void test_matches(void **state)
{
	(void)state;
	struct listener *ls = open_ok("http", "127.0.0.1:0", NULL);
	assert_true(listen_matches(ls, "127.0.0.1:0", NULL));
	assert_false(listen_matches(ls, "127.0.0.1:1", NULL));
	assert_false(listen_matches(ls, "[::1]:0", NULL));
	assert_false(listen_matches(ls, "garbage", NULL));
	listen_close(ls);
	ls = open_ok("http", "localhost:0", NULL);
	assert_true(listen_matches(ls, "LOCALHOST:0", NULL));
	listen_close(ls);
}

static int raw_listener(const char *v4host, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0); /* not CLOEXEC, like systemd hands them */
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, v4host, &sa.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t l = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &l);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_adopt(void **state)
{
	(void)state;
	int p1, p2;
	int a = fcntl(raw_listener("127.0.0.1", &p1), F_DUPFD, 200);
	int b = fcntl(raw_listener("127.0.0.1", &p2), F_DUPFD, 210);
	int d = socket(AF_INET, SOCK_DGRAM, 0); /* not a listening stream socket */
	d = fcntl(d, F_DUPFD, 220);
	for (int fd = 3; fd < 200; fd++)
		close(fd);
	assert_int_equal(dup2(a, 3), 3);
	assert_int_equal(dup2(b, 4), 4);
	assert_int_equal(dup2(d, 5), 5);
	close(a);
	close(b);
	close(d);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "3", 1);
	setenv("LISTEN_FDNAMES", "http:unknown:dgram", 1);
	struct listen_adopted *ad = NULL;
	assert_int_equal(listen_adopt_env(&ad), 3);
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
	for (int fd = 3; fd <= 5; fd++)
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(listen_adopted_count(ad), 3);

	/* by name (the configured address differs: systemd's socket wins) */
	struct listen_opts o = {.adopted = ad};
	struct listener *h = open_ok("http", "127.0.0.1:1", &o);
	assert_true(h->adopted);
	assert_int_equal(h->fd, 3);
	assert_int_equal(h->port, p1);
	/* by address */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", p2);
	struct listener *x = open_ok("other", addr, &o);
	assert_true(x->adopted);
	assert_int_equal(x->fd, 4);
	assert_int_equal(listen_adopted_count(ad), 1);
	/* nothing left for this one: bound fresh */
	struct listener *y = open_ok("fresh", "127.0.0.1:0", &o);
	assert_false(y->adopted);
	/* the datagram socket cannot serve as a listener */
	struct listener *z = NULL;
	assert_int_equal(open_msg("dgram", "127.0.0.1:0", &o, &z), -ENOTSOCK);
	assert_string_equal(err, "socket \"dgram\" from systemd is not a listening stream socket");
	assert_int_equal(fcntl(5, F_GETFD), -1); /* closed with the failed listener */
	listen_close(h);
	listen_close(x);
	listen_close(y);
	listen_adopted_free(ad);

	/* LISTEN_PID for another process: nothing adopted, variables still removed */
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	assert_int_equal(listen_adopt_env(&ad), 0);
	assert_null(ad);
	assert_null(getenv("LISTEN_FDS"));
	assert_int_equal(listen_adopt_env(&ad), 0);

	/* name count mismatch: names ignored, sockets adopted */
	int p3;
	a = raw_listener("127.0.0.1", &p3);
	if (a != 3) {
		assert_int_equal(dup2(a, 3), 3);
		close(a);
	}
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "a:b", 1);
	assert_int_equal(listen_adopt_env(&ad), 1);
	o.adopted = ad;
	struct listener *n = open_ok("a", "[::1]:0", &o);
	assert_false(n->adopted); /* names were ignored and the address differs */
	listen_close(n);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", p3);
	n = open_ok("a", addr, &o);
	assert_true(n->adopted);
	listen_close(n);
	listen_adopted_free(ad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),   cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unix),  cmocka_unit_test(test_matches),
		cmocka_unit_test(test_adopt),
	};
	return cmocka_run_group_tests_name("listen", tests, NULL, NULL);
}
