/* The probe client: status of the final response head, interim responses skipped, every way a
 * probe fails (refused, closed, garbage, too large, timeout), cancel, and no fd left behind. A
 * test server on an abstract unix socket answers each connection with a canned reply. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/loop.h"
#include "http/client.h"
#include "util/xalloc.h"

#include "testutil.h"

struct server {
	struct loop *loop;
	int lfd, cfd;
	struct loop_src *lsrc, *csrc;
	const char *reply; /* NULL: never answer */
	size_t reply_len;
	char req[4096];
	size_t req_len;
	struct sockaddr_un addr;
	socklen_t addrlen;
};

struct result {
	bool done;
	int status;
	char why[200];
};

static void on_result(void *arg, int status, const char *why)
{
	struct result *r = arg;
	assert_false(r->done);
	r->done = true;
	r->status = status;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
}

static bool is_done(void *arg)
{
	return ((struct result *)arg)->done;
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct server *s = data;
	ssize_t n = read(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len);
	if (n > 0)
		s->req_len += (size_t)n;
	s->req[s->req_len] = '\0';
	if (n > 0 && !strstr(s->req, "\r\n\r\n"))
		return;
	loop_del(l, s->csrc);
	s->csrc = NULL;
	if (!s->reply)
		return; /* keep it open, silent */
	assert_int_equal(write(fd, s->reply, s->reply_len), (ssize_t)s->reply_len);
	close(fd);
	s->cfd = -1;
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct server *s = data;
	if (s->csrc) /* one connection at a time: the previous one is done with */
		loop_del(l, s->csrc);
	s->csrc = NULL;
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	assert_true(s->cfd >= 0);
	s->csrc = loop_add(l, s->cfd, EPOLLIN, on_conn, s);
}

static void server_start(struct server *s, struct loop *l, const char *reply, size_t len)
{
	static int seq;
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->cfd = -1;
	s->reply = reply;
	s->reply_len = len;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(s->lfd >= 0);
	s->addr.sun_family = AF_UNIX;
	int n = snprintf(s->addr.sun_path + 1, sizeof(s->addr.sun_path) - 1,
			 "baton-test-client.%d.%d", (int)getpid(), seq++);
	s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&s->addr, s->addrlen), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	s->lsrc = loop_add(l, s->lfd, EPOLLIN, on_accept, s);
}

static void server_stop(struct server *s)
{
	if (s->csrc)
		loop_del(s->loop, s->csrc);
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->lsrc)
		loop_del(s->loop, s->lsrc);
	if (s->lfd >= 0)
		close(s->lfd);
}

/* One GET of /healthz against a server answering reply; the result. */
static struct result probe(const char *reply, size_t len, int64_t timeout_ms, char *req_out)
{
	struct loop *l = loop_new();
	struct server s;
	server_start(&s, l, reply, len);
	struct result r = {0};
	struct http_get *g = http_get_start(l, (struct sockaddr *)&s.addr, s.addrlen, "/healthz",
					    NULL, timeout_ms, on_result, &r);
	assert_non_null(g);
	assert_false(r.done); /* never inside the call */
	tu_run_until(l, is_done, &r, 10000, "the probe's result");
	if (req_out)
		strcpy(req_out, s.req);
	server_stop(&s);
	loop_run_once(l, 0);
	loop_free(l);
	return r;
}

#define REPLY(s) s, sizeof(s) - 1

static void test_status(void **state)
{
	(void)state;
	int before = tu_count_fds();
	char req[4096];
	struct result r =
		probe(REPLY("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"), 5000, req);
	assert_int_equal(r.status, 200);
	assert_string_equal(req, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: baton\r\n"
				 "Connection: close\r\n\r\n");
	r = probe(REPLY("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"), 5000,
		  NULL);
	assert_int_equal(r.status, 503);
	/* interim responses are skipped */
	r = probe(
		REPLY("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
		      "HTTP/1.1 204 No Content\r\n\r\n"),
		5000, NULL);
	assert_int_equal(r.status, 204);
	/* HTTP/1.0 and a body until close */
	r = probe(REPLY("HTTP/1.0 200 OK\r\n\r\nbody"), 5000, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(tu_count_fds(), before);
}

static void test_failures(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct result r = probe(REPLY("garbage\r\n\r\n"), 5000, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.why, "bad response head");
	r = probe(REPLY(""), 5000, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.why, "connection closed before any response");
	r = probe(REPLY("HTTP/1.1 200 OK\r\nX: y\r\n"), 5000, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.why, "connection closed in the response head");
	char *big = xmalloc(HTTP_CLIENT_MAX_HEAD + 64);
	int n = snprintf(big, 64, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(big + n, 'a', HTTP_CLIENT_MAX_HEAD);
	r = probe(big, (size_t)n + HTTP_CLIENT_MAX_HEAD, 5000, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.why, "response head too large");
	free(big);
	/* a server that never answers: the deadline */
	r = probe(NULL, 0, 50, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.why, "timed out after 50ms");
	assert_int_equal(tu_count_fds(), before);
}

static void test_refused_and_cancel(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct loop *l = loop_new();
	/* nobody bound there: refused, reported from the loop */
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "baton-test-client.none.%d",
			 (int)getpid());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	struct result r = {0};
	assert_non_null(
		http_get_start(l, (struct sockaddr *)&a, len, "/", "example", 5000, on_result, &r));
	assert_false(r.done);
	tu_run_until(l, is_done, &r, 10000, "the refused probe");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.why, "connect: Connection refused"));
	/* cancelled: never called back, nothing left open */
	struct server s;
	server_start(&s, l, NULL, 0);
	struct result c = {0};
	struct http_get *g = http_get_start(l, (struct sockaddr *)&s.addr, s.addrlen, "/", NULL, 50,
					    on_result, &c);
	loop_run_once(l, 0);
	http_get_cancel(g);
	http_get_cancel(NULL);
	struct result other = {0};
	assert_non_null(http_get_start(l, (struct sockaddr *)&s.addr, s.addrlen, "/", NULL, 100,
				       on_result, &other));
	tu_run_until(l, is_done, &other, 10000, "a probe after the cancelled one");
	assert_false(c.done);
	server_stop(&s);
	loop_run_once(l, 0);
	loop_free(l);
	assert_int_equal(tu_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_refused_and_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
