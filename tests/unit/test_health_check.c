/* Health checks on the loop: a target answering 503 goes down after fall checks and comes back
 * after rise, passive 5xx runs count, callbacks only from the loop, removal and free leave
 * nothing behind. The target is a test server on an abstract unix socket whose answer the test
 * switches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/loop.h"
#include "sup/health_check.h"

#include "testutil.h"

struct server {
	struct loop *loop;
	int lfd, cfd;
	struct loop_src *lsrc, *csrc;
	const char *reply;
	int served;
	struct sockaddr_un addr;
	socklen_t addrlen;
};

static void conn_close(struct server *s)
{
	if (s->csrc)
		loop_del(s->loop, s->csrc);
	s->csrc = NULL;
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = -1;
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct server *s = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) /* the whole request fits in one read on a unix socket */
		assert_int_equal(write(fd, s->reply, strlen(s->reply)), (ssize_t)strlen(s->reply));
	s->served++;
	conn_close(s);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct server *s = data;
	conn_close(s);
	s->cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	assert_true(s->cfd >= 0);
	s->csrc = loop_add(l, s->cfd, EPOLLIN, on_conn, s);
}

static void server_start(struct server *s, struct loop *l)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->cfd = -1;
	s->reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(s->lfd >= 0);
	s->addr.sun_family = AF_UNIX;
	int n = snprintf(s->addr.sun_path + 1, sizeof(s->addr.sun_path) - 1, "baton-test-health.%d",
			 (int)getpid());
	s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&s->addr, s->addrlen), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	s->lsrc = loop_add(l, s->lfd, EPOLLIN, on_accept, s);
}

static void server_stop(struct server *s)
{
	conn_close(s);
	loop_del(s->loop, s->lsrc);
	close(s->lfd);
}

struct changes {
	int n;
	unsigned id;
	bool up;
	char why[200];
	struct server *srv;
	int until_served;
};

static void on_change(void *arg, unsigned id, bool up, const char *why)
{
	struct changes *c = arg;
	c->n++;
	c->id = id;
	c->up = up;
	snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
}

static bool n_changes(void *arg)
{
	struct changes *c = arg;
	return c->n >= c->until_served;
}

static bool served_enough(void *arg)
{
	struct changes *c = arg;
	return c->srv->served >= c->until_served;
}

static void test_active(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct loop *l = loop_new();
	struct server srv;
	server_start(&srv, l);
	struct changes c = {.srv = &srv};
	const struct health_opts o = {.rise = 2, .fall = 2};
	struct health_checker *hc = health_checker_new(l, "/healthz", 10, 5000, &o, on_change, &c);
	assert_int_equal(health_checker_add(hc, 7, (struct sockaddr *)&srv.addr, srv.addrlen), 0);
	assert_int_equal(health_checker_add(hc, 7, (struct sockaddr *)&srv.addr, srv.addrlen),
			 -EEXIST);
	assert_true(health_checker_up(hc, 7));
	assert_false(health_checker_up(hc, 8));
	/* passing checks: no change */
	c.until_served = 3;
	tu_run_until(l, served_enough, &c, 10000, "3 passed checks");
	assert_int_equal(c.n, 0);
	/* failing: down after fall = 2 */
	srv.reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
	c.until_served = 1;
	tu_run_until(l, n_changes, &c, 10000, "going down");
	assert_int_equal(c.id, 7);
	assert_false(c.up);
	assert_string_equal(c.why, "GET /healthz answered 503");
	assert_false(health_checker_up(hc, 7));
	assert_true(health_checker_all_down(hc));
	/* passing again: up after rise = 2 */
	srv.reply = "HTTP/1.1 204 No Content\r\n\r\n";
	c.until_served = 2;
	tu_run_until(l, n_changes, &c, 10000, "coming back up");
	assert_true(c.up);
	assert_string_equal(c.why, "");
	assert_false(health_checker_all_down(hc));
	/* a closed socket: a connect error is a failed check */
	server_stop(&srv);
	c.until_served = 3;
	tu_run_until(l, n_changes, &c, 10000, "down after the server went away");
	assert_false(c.up);
	assert_non_null(strstr(c.why, "GET /healthz: connect: "));
	health_checker_remove(hc, 7);
	health_checker_remove(hc, 99);
	assert_false(health_checker_all_down(hc)); /* no target */
	health_checker_free(hc);
	loop_run_once(l, 0);
	loop_free(l);
	assert_int_equal(tu_count_fds(), before);
}

static void test_passive(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct changes c = {0};
	const struct health_opts o = {.rise = 1, .fall = 2};
	struct health_checker *hc = health_checker_new(l, NULL, 10, 10, &o, on_change, &c);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	assert_int_equal(health_checker_add(hc, 3, (struct sockaddr *)&a, sizeof(a)), 0);
	for (int i = 0; i < 2 * HEALTH_PASSIVE_FAILS; i++)
		health_checker_observe(hc, 3, i % 2 ? 0 : 502);
	health_checker_observe(hc, 4, 500); /* unknown: ignored */
	assert_false(health_checker_up(hc, 3));
	assert_int_equal(c.n, 0); /* never inside the call */
	c.until_served = 1;
	tu_run_until(l, n_changes, &c, 10000, "the passive failure reported");
	assert_false(c.up);
	assert_string_equal(c.why, "5 responses in a row were 5xx or failed");
	/* no active checks without a path: nothing else happens */
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(c.n, 1);
	/* a change reported after removal is dropped; free with one pending */
	for (int i = 0; i < 2 * HEALTH_PASSIVE_FAILS; i++)
		health_checker_observe(hc, 3, 503);
	struct sockaddr_un b = {.sun_family = AF_UNIX};
	assert_int_equal(health_checker_add(hc, 5, (struct sockaddr *)&b, sizeof(b)), 0);
	for (int i = 0; i < 2 * HEALTH_PASSIVE_FAILS; i++)
		health_checker_observe(hc, 5, 503);
	health_checker_free(hc);
	loop_run_once(l, 0);
	assert_int_equal(c.n, 1);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_active),
		cmocka_unit_test(test_passive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
