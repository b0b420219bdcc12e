#include "source/etcd_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "http/h1.h"
#include "net/conn.h"
#include "net/http_endpoint.h"
#include "tls/tlsclient.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define CONNECT_TIMEOUT_MS 5000
#define HEAD_MAX (64 * 1024)
#define READ_CHUNK (64 * 1024)

struct etcd_http {
	struct loop *loop;
	struct conn conn;
	struct loop_src *src;
	struct loop_timer *timer;
	int64_t timeout_ms;
	struct etcd_http_cbs cbs;
	void *data;
	struct buf out; /* request bytes not yet written */
	struct buf in;	/* read, not yet consumed */
	bool connected;
	bool have_head;
	int status;
	struct h1_body body;
	bool done;
	struct tls_client *tls; /* https: the context; NULL for http */
	char host[64];		/* the endpoint's host, for TLS verification */
	bool handshaking;
	int early_err; /* connect(2) failed at once: reported from the loop */
};

const char *etcd_http_endpoint_check(const char *endpoint)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool tls;
	if (http_endpoint_parse(endpoint, &ss, &sl, &tls, NULL, 0) < 0)
		return "not \"http://IP:PORT\" or \"https://IP:PORT\" (an IP address or localhost: "
		       "baton does no name lookups)";
	return NULL;
}

/* Finish: on_done once; the request may be freed inside it. */
static void finish(struct etcd_http *h, int err, const char *why)
{
	if (h->done)
		return;
	h->done = true;
	loop_timer_disarm(h->timer);
	if (h->src) {
		loop_del(h->loop, h->src);
		h->src = NULL;
	}
	conn_close(&h->conn, err != 0);
	h->cbs.on_done(h, err, why, h->data);
}

/* Scan the body bytes in h->in. 1 when the request was freed or finished, else 0. */
static int scan_body(struct etcd_http *h)
{
	while (h->in.len) {
		if (h->body.framing == H1_BODY_EOF) {
			size_t n = h->in.len;
			char *copy = xmalloc(n);
			memcpy(copy, h->in.p, n);
			buf_reset(&h->in);
			int stop = h->cbs.on_body ? h->cbs.on_body(h, copy, n, h->data) : 0;
			free(copy);
			return stop;
		}
		const char *d = NULL;
		size_t dl = 0;
		long used = h1_body_step(&h->body, h->in.p, h->in.len, &d, &dl);
		if (used < 0) {
			finish(h, -EPROTO, "bad HTTP framing in the answer");
			return 1;
		}
		if (dl) {
			/* the span points into h->in: hand over a copy the callback may outlive */
			char *copy = xmalloc(dl);
			memcpy(copy, d, dl);
			buf_consume(&h->in, (size_t)used);
			int stop = h->cbs.on_body ? h->cbs.on_body(h, copy, dl, h->data) : 0;
			free(copy);
			if (stop)
				return 1;
		} else {
			buf_consume(&h->in, (size_t)used);
		}
		if (h->body.done) {
			finish(h, 0, NULL);
			return 1;
		}
		if (used == 0 && !dl)
			break; /* needs more bytes */
	}
	return 0;
}

static void on_readable(struct etcd_http *h)
{
	char tmp[READ_CHUNK];
	for (;;) {
		ssize_t n = conn_read(&h->conn, tmp, sizeof(tmp));
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			finish(h, (int)n, strerror((int)-n));
			return;
		}
		if (n == 0) {
			if (h->have_head && h->body.framing == H1_BODY_EOF)
				finish(h, 0, NULL);
			else
				finish(h, -ECONNRESET,
				       "the connection closed before the answer ended");
			return;
		}
		buf_append(&h->in, tmp, (size_t)n);
		if (!h->have_head) {
			struct h1_head head;
			struct h1_span post = {"POST", 4};
			int rc = h1_parse_response(h->in.p, h->in.len, HEAD_MAX, post, &head);
			if (rc == H1_INCOMPLETE)
				continue;
			if (rc < 0) {
				finish(h, -EPROTO, "not an HTTP/1.1 answer");
				return;
			}
			if (head.status < 200)
				continue; /* 1xx: not expected from etcd; skip it */
			h->have_head = true;
			h->status = head.status;
			h1_body_init(&h->body, &head);
			h->body.framing = head.framing;
			buf_consume(&h->in, (size_t)rc);
			if (head.framing == H1_BODY_NONE ||
			    (head.framing == H1_BODY_LENGTH && head.content_length == 0)) {
				finish(h, 0, NULL);
				return;
			}
			if (head.framing == H1_BODY_TUNNEL) {
				finish(h, -EPROTO, "unexpected answer framing");
				return;
			}
		}
		if (scan_body(h))
			return;
	}
}

static void on_writable(struct etcd_http *h)
{
	if (!h->connected) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(h->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			finish(h, -soerr, strerror(soerr));
			return;
		}
		h->connected = true;
		if (h->tls) {
			char *err = NULL;
			if (tls_client_conn_init(&h->conn, h->tls, h->host, &err) < 0) {
				finish(h, -EPROTO, err);
				free(err);
				return;
			}
			h->handshaking = true;
		} else if (h->timeout_ms < 0) {
			loop_timer_disarm(h->timer);
		}
	}
	if (h->handshaking) {
		bool want_write = false;
		char *err = NULL;
		int rc = tls_client_handshake(&h->conn, &want_write, &err);
		if (rc == -EAGAIN) {
			loop_mod(h->loop, h->src, want_write ? EPOLLOUT : EPOLLIN);
			return;
		}
		if (rc < 0) {
			finish(h, rc, err);
			free(err);
			return;
		}
		h->handshaking = false;
		if (h->timeout_ms < 0)
			loop_timer_disarm(h->timer);
	}
	while (h->out.len) {
		ssize_t n = conn_write(&h->conn, h->out.p, h->out.len);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			finish(h, (int)n, strerror((int)-n));
			return;
		}
		buf_consume(&h->out, (size_t)n);
	}
	loop_mod(h->loop, h->src, EPOLLIN);
}

static void on_event(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	struct etcd_http *h = data;
	if ((events & EPOLLOUT) || h->handshaking) {
		on_writable(h);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(h);
}

static void on_timeout(struct loop *l, void *data)
{
	(void)l;
	struct etcd_http *h = data;
	if (h->early_err) {
		finish(h, -h->early_err, strerror(h->early_err));
		return;
	}
	finish(h, -ETIMEDOUT, h->connected ? "no answer in time" : "connection timed out");
}

struct etcd_http *etcd_http_post(struct loop *l, const char *endpoint, struct tls_client *tls,
				 const char *path, const char *headers, const char *body,
				 size_t len, int64_t timeout_ms, const struct etcd_http_cbs *cbs,
				 void *data, char **err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool is_tls;
	char host[64];
	if (http_endpoint_parse(endpoint, &ss, &sl, &is_tls, host, sizeof(host)) < 0) {
		*err = xasprintf("bad endpoint \"%s\"", endpoint);
		return NULL;
	}
	if (is_tls && !tls) {
		*err = xasprintf("endpoint \"%s\": no TLS context", endpoint);
		return NULL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return NULL;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a watch stream is quiet for as long as nothing changes: keepalive probes find a peer
	 * that vanished (a host down, a dropped NAT entry) in about a minute, not two hours */
	int idle = 30, intvl = 10, cnt = 3;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	struct etcd_http *h = xcalloc(1, sizeof(*h));
	h->loop = l;
	h->cbs = *cbs;
	h->data = data;
	h->timeout_ms = timeout_ms;
	h->tls = is_tls ? tls : NULL;
	snprintf(h->host, sizeof(h->host), "%s", host);
	conn_sock_init(&h->conn, fd);
	buf_printf(&h->out,
		   "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
		   "Content-Length: %zu\r\n%s\r\n",
		   path, endpoint + (is_tls ? 8 : 7), len, headers ? headers : "");
	buf_append(&h->out, body, len);
	h->timer = loop_timer_new(l, on_timeout, h);
	loop_timer_arm_in(h->timer, timeout_ms < 0 ? CONNECT_TIMEOUT_MS : timeout_ms);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		/* reported through on_done from the loop, like any other failure */
		h->early_err = errno;
		loop_timer_arm_in(h->timer, 0);
		return h;
	}
	h->src = loop_add(l, fd, EPOLLOUT, on_event, h);
	if (!h->src) {
		*err = xasprintf("loop: %s", strerror(errno));
		h->done = true;
		etcd_http_free(h);
		return NULL;
	}
	return h;
}

void etcd_http_free(struct etcd_http *h)
{
	if (!h)
		return;
	if (h->src)
		loop_del(h->loop, h->src);
	conn_close(&h->conn, true);
	loop_timer_free(h->timer);
	buf_release(&h->out);
	buf_release(&h->in);
	free(h);
}

int etcd_http_status(const struct etcd_http *h)
{
	return h->status;
}
