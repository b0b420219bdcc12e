/* baton's own small HTTP server: see httpd.h. */
#include "obs/httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "net/listen.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define HEAD_MAX 8192
#define HEAD_TIMEOUT_MS 5000
#define IDLE_TIMEOUT_MS 60000

struct route {
	char *path;
	httpd_handler fn;
	void *arg;
};

struct httpd_conn {
	struct httpd *h;
	struct httpd_conn *prev, *next;
	int fd;
	struct loop_src *src;
	struct loop_timer *timer;
	char in[HEAD_MAX];
	size_t inlen;
	struct buf out;
	size_t out_off;
	bool is_head;	  /* the current request is a HEAD */
	bool close_after; /* close once out is written */
	bool stream;
	bool dead; /* a stream dropped: closed from the loop */
	void (*on_close)(void *arg);
	void *close_arg;
	uint32_t events;
};

struct httpd {
	struct loop *loop;
	struct listener *ls;
	struct loop_src *lsrc;
	bool paused;
	struct route *routes;
	size_t nroutes;
	struct httpd_conn *conns;
	size_t nconns;
};

static void conn_close(struct httpd_conn *c);

static void rewatch(struct httpd_conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP;
	if (c->out.len > c->out_off)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		c->events = ev;
		loop_mod(c->h->loop, c->src, ev);
	}
}

/* Write what is queued; false when the connection was closed. */
static bool flush(struct httpd_conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		if (c->close_after && !c->stream) {
			conn_close(c);
			return false;
		}
	}
	rewatch(c);
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	default:
		return "Status";
	}
}

void httpd_respond(struct httpd_conn *c, int status, const char *content_type, const void *body,
		   size_t len)
{
	buf_printf(&c->out,
		   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\n%s\r\n",
		   status, reason(status), content_type, len,
		   c->close_after ? "Connection: close\r\n" : "");
	if (!c->is_head && len)
		buf_append(&c->out, body, len);
}

static void answer_error(struct httpd_conn *c, int status)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%d %s\n", status, reason(status));
	c->close_after = true;
	httpd_respond(c, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

int httpd_stream_begin(struct httpd_conn *c, const char *content_type, void (*on_close)(void *arg),
		       void *arg)
{
	if (c->stream)
		return -EALREADY;
	c->stream = true;
	c->close_after = true;
	c->on_close = on_close;
	c->close_arg = arg;
	buf_printf(&c->out,
		   "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
		   "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n",
		   content_type);
	loop_timer_disarm(c->timer);
	return 0;
}

int httpd_stream_write(struct httpd_conn *c, const void *p, size_t len)
{
	if (!c->stream || c->dead)
		return -EPIPE;
	if (c->out.len - c->out_off + len > HTTPD_STREAM_MAX) {
		log_warn("status stream: a client fell behind (%zu bytes queued): dropped",
			 c->out.len - c->out_off);
		c->dead = true; /* on_close from the loop, never inside the writer */
		loop_timer_arm_in(c->timer, 0);
		return -EPIPE;
	}
	buf_append(&c->out, p, len);
	/* written from the loop: a writer may call this for many streams in a row */
	if (!(c->events & EPOLLOUT)) {
		c->events |= EPOLLOUT;
		loop_mod(c->h->loop, c->src, c->events);
	}
	return 0;
}

static void serve(struct httpd_conn *c, const struct h1_head *req)
{
	c->is_head = h1_span_eqi(req->method, "HEAD");
	if (!req->keep_alive)
		c->close_after = true;
	size_t plen = req->target.len;
	const char *q = memchr(req->target.p, '?', plen);
	if (q)
		plen = (size_t)(q - req->target.p);
	for (size_t i = 0; i < c->h->nroutes; i++) {
		const struct route *r = &c->h->routes[i];
		if (strlen(r->path) == plen && memcmp(r->path, req->target.p, plen) == 0) {
			if (!c->is_head && !h1_span_eqi(req->method, "GET")) {
				answer_error(c, 405);
				return;
			}
			r->fn(r->arg, c, req);
			return;
		}
	}
	answer_error(c, 404);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	struct httpd_conn *c = data;
	if (events & EPOLLOUT) {
		if (!flush(c))
			return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (c->stream) { /* nothing is expected from a stream's client but its close */
		char junk[512];
		ssize_t n = read(fd, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	ssize_t n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n > 0)
		c->inlen += (size_t)n;
	while (c->inlen && !c->close_after && !c->stream) {
		struct h1_head req;
		int r = h1_parse_request(c->in, c->inlen, sizeof(c->in), &req);
		if (r == H1_INCOMPLETE) {
			if (c->inlen == sizeof(c->in))
				answer_error(c, 431);
			break;
		}
		if (r < 0) {
			answer_error(c, h1_error_status(r));
			break;
		}
		if (req.framing != H1_BODY_NONE) {
			answer_error(c, 400); /* nothing here takes a body */
			break;
		}
		serve(c, &req);
		memmove(c->in, c->in + r, c->inlen - (size_t)r);
		c->inlen -= (size_t)r;
		if (!c->stream)
			loop_timer_arm_in(c->timer, c->inlen ? HEAD_TIMEOUT_MS : IDLE_TIMEOUT_MS);
	}
	flush(c);
}

static void on_timer(struct loop *l, void *data)
{
	(void)l;
	struct httpd_conn *c = data;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->inlen) {
		answer_error(c, 408);
		flush(c);
	} else {
		conn_close(c);
	}
}

static void set_accepting(struct httpd *h)
{
	bool pause = h->nconns >= HTTPD_MAX_CONNS;
	if (pause != h->paused) {
		h->paused = pause;
		loop_mod(h->loop, h->lsrc, pause ? 0 : EPOLLIN);
	}
}

static void conn_close(struct httpd_conn *c)
{
	struct httpd *h = c->h;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nconns--;
	loop_del(h->loop, c->src);
	loop_timer_free(c->timer);
	close(c->fd);
	buf_release(&c->out);
	void (*cb)(void *) = c->on_close;
	void *arg = c->close_arg;
	free(c);
	set_accepting(h);
	if (cb)
		cb(arg);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct httpd *h = data;
	while (!h->paused) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct httpd_conn *c = xcalloc(1, sizeof(*c));
		c->h = h;
		c->fd = cfd;
		c->events = EPOLLIN | EPOLLRDHUP;
		c->src = loop_add(l, cfd, c->events, on_conn, c);
		if (!c->src) {
			close(cfd);
			free(c);
			return;
		}
		c->timer = loop_timer_new(l, on_timer, c);
		loop_timer_arm_in(c->timer, HEAD_TIMEOUT_MS);
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		h->nconns++;
		set_accepting(h);
	}
}

int httpd_new(struct loop *l, const char *address, const char *root, struct httpd **out, char **err)
{
	struct httpd *h = xcalloc(1, sizeof(*h));
	h->loop = l;
	struct listen_opts lo = {.root = root, .backlog = 128};
	int r = listen_open("metrics", address, &lo, &h->ls, err);
	if (r < 0) {
		free(h);
		return r;
	}
	int fl = fcntl(h->ls->fd, F_GETFL);
	if (fl < 0 || fcntl(h->ls->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    !(h->lsrc = loop_add(l, h->ls->fd, EPOLLIN, on_accept, h))) {
		r = -errno;
		*err = xasprintf("cannot serve on %s: %s", h->ls->bound, strerror(errno));
		listen_close(h->ls);
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

const char *httpd_bound(const struct httpd *h)
{
	return h->ls->bound;
}

int httpd_route(struct httpd *h, const char *path, httpd_handler fn, void *arg)
{
	for (size_t i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].path, path) == 0)
			return -EEXIST;
	h->routes = xrealloc(h->routes, (h->nroutes + 1) * sizeof(*h->routes));
	h->routes[h->nroutes++] = (struct route){xstrdup(path), fn, arg};
	return 0;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	while (h->conns)
		conn_close(h->conns);
	loop_del(h->loop, h->lsrc);
	listen_close(h->ls);
	for (size_t i = 0; i < h->nroutes; i++)
		free(h->routes[i].path);
	free(h->routes);
	free(h);
}
