#include "net/conn.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the plain socket transport ---- */

static ssize_t sock_read(struct conn *c, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static ssize_t sock_write(struct conn *c, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int sock_shutdown(struct conn *c)
{
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void sock_close(struct conn *c, bool reset)
{
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	c->fd = -1;
}

static int sock_splice_fd(const struct conn *c)
{
	return c->fd;
}

static const struct conn_ops sock_ops = {
	.read = sock_read,
	.write = sock_write,
	.shutdown = sock_shutdown,
	.close = sock_close,
	.splice_fd = sock_splice_fd,
};

void conn_sock_init(struct conn *c, int fd)
{
	c->ops = &sock_ops;
	c->fd = fd;
	c->ctx = NULL;
	c->want = 0;
}
