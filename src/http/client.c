/* One-shot GET on the loop (client.h). */
#include "http/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/loop.h"
#include "http/h1.h"
#include "util/duration.h"
#include "util/xalloc.h"

struct http_get {
	struct loop *loop;
	int fd;
	struct loop_src *src;
	struct loop_timer *timer;
	http_get_cb cb;
	void *arg;
	int64_t timeout_ms;
	char *req; /* the request, sent from req_off */
	size_t req_len, req_off;
	char head[HTTP_CLIENT_MAX_HEAD];
	size_t head_len;
	char *early; /* an error found before the loop ran: reported from the timer */
};

static void release(struct http_get *g)
{
	if (g->src)
		loop_del(g->loop, g->src);
	if (g->fd >= 0)
		close(g->fd);
	loop_timer_free(g->timer);
	free(g->req);
	free(g->early);
	free(g);
}

static void finish(struct http_get *g, int status, const char *why)
{
	http_get_cb cb = g->cb;
	void *arg = g->arg;
	/* close first: cb may start the next check at once */
	if (g->src)
		loop_del(g->loop, g->src);
	g->src = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	char *keep = why ? xstrdup(why) : NULL;
	release(g);
	cb(arg, status, keep);
	free(keep);
}

static void fail_errno(struct http_get *g, const char *what, int err)
{
	char why[160];
	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	finish(g, 0, why);
}

/* Parse what came so far: 1 = done (finish() called), 0 = need more. */
static int parse(struct http_get *g, bool eof)
{
	static const struct h1_span get = {"GET", 3};
	for (;;) {
		struct h1_head h;
		int r = h1_parse_response(g->head, g->head_len, sizeof(g->head), get, &h);
		if (r == H1_INCOMPLETE) {
			if (eof) {
				finish(g, 0,
				       g->head_len ? "connection closed in the response head"
						   : "connection closed before any response");
				return 1;
			}
			if (g->head_len == sizeof(g->head)) {
				finish(g, 0, "response head too large");
				return 1;
			}
			return 0;
		}
		if (r < 0) {
			finish(g, 0,
			       r == H1_E_TOO_LARGE ? "response head too large"
						   : "bad response head");
			return 1;
		}
		if (h.status >= 100 && h.status < 200 && h.status != 101) {
			/* an interim response: the final one follows */
			memmove(g->head, g->head + r, g->head_len - (size_t)r);
			g->head_len -= (size_t)r;
			continue;
		}
		finish(g, h.status, NULL);
		return 1;
	}
}

static void on_io(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	struct http_get *g = data;
	if (g->req_off < g->req_len) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (g->req_off == 0) {
			int err = 0;
			socklen_t el = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
			if (err) {
				fail_errno(g, "connect", err);
				return;
			}
		}
		ssize_t n = send(fd, g->req + g->req_off, g->req_len - g->req_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail_errno(g, "send", errno);
			return;
		}
		g->req_off += (size_t)n;
		if (g->req_off == g->req_len && loop_mod(g->loop, g->src, EPOLLIN) < 0)
			fail_errno(g, "epoll", errno);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, g->head + g->head_len, sizeof(g->head) - g->head_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fail_errno(g, "recv", errno);
			return;
		}
		g->head_len += (size_t)n;
		if (parse(g, n == 0))
			return;
	}
}

static void on_timer(struct loop *l, void *data)
{
	(void)l;
	struct http_get *g = data;
	if (g->early) {
		char *why = g->early;
		g->early = NULL;
		finish(g, 0, why);
		free(why);
		return;
	}
	char d[32], why[64];
	duration_format_ms(g->timeout_ms, d, sizeof(d));
	snprintf(why, sizeof(why), "timed out after %s", d);
	finish(g, 0, why);
}

struct http_get *http_get_start(struct loop *l, const struct sockaddr *addr, socklen_t len,
				const char *path, const char *host, int64_t timeout_ms,
				http_get_cb cb, void *arg)
{
	struct http_get *g = xcalloc(1, sizeof(*g));
	g->loop = l;
	g->fd = -1;
	g->cb = cb;
	g->arg = arg;
	g->timeout_ms = timeout_ms;
	g->timer = loop_timer_new(l, on_timer, g);
	if (!g->timer) {
		int e = errno;
		free(g);
		errno = e;
		return NULL;
	}
	g->req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: baton\r\n"
			   "Connection: close\r\n\r\n",
			   path, host ? host : "localhost");
	g->req_len = strlen(g->req);
	g->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (g->fd < 0) {
		g->early = xasprintf("socket: %s", strerror(errno));
		goto report_soon;
	}
	if (connect(g->fd, addr, len) < 0 && errno != EINPROGRESS) {
		g->early = xasprintf("connect: %s", strerror(errno));
		goto report_soon;
	}
	g->src = loop_add(l, g->fd, EPOLLOUT, on_io, g);
	if (!g->src) {
		int e = errno;
		release(g);
		errno = e;
		return NULL;
	}
	loop_timer_arm_in(g->timer, timeout_ms);
	return g;
report_soon:
	loop_timer_arm_in(g->timer, 0);
	return g;
}

void http_get_cancel(struct http_get *g)
{
	if (g)
		release(g);
}
