/* The struct conn transport over an SSL object (tlsconn.h). */
#include "tls/ossl_ssl_sym.h"
#include "tls/tlsconn.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* -errno for a failed SSL call (0 for an end); sets c->want on -EAGAIN. */
static ssize_t io_error(struct conn *c, int ret, bool reading, bool lax)
{
	switch (SSL_get_error(c->ctx, ret)) {
	case SSL_ERROR_WANT_READ:
		c->want = reading ? 0 : EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want = reading ? EPOLLOUT : 0;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN: /* close_notify */
		return reading ? 0 : -EPIPE;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno)
			return -errno;
		return reading && lax ? 0 : -ECONNRESET;
	default:
		ERR_clear_error();
		return -EPROTO; /* a bad record, a failed handshake */
	}
}

static ssize_t do_read(struct conn *c, void *buf, size_t len, bool lax)
{
	size_t n = 0;
	c->want = 0;
	errno = 0;
	int r = SSL_read_ex(c->ctx, buf, len, &n);
	return r == 1 ? (ssize_t)n : io_error(c, r, true, lax);
}

static ssize_t read_strict(struct conn *c, void *buf, size_t len)
{
	return do_read(c, buf, len, false);
}

static ssize_t read_lax(struct conn *c, void *buf, size_t len)
{
	return do_read(c, buf, len, true);
}

static ssize_t tls_write(struct conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	c->want = 0;
	errno = 0;
	if (!len)
		return 0;
	int r = SSL_write_ex(c->ctx, buf, len, &n);
	return r == 1 ? (ssize_t)n : io_error(c, r, false, false);
}

static int tls_shutdown(struct conn *c)
{
	ERR_clear_error();
	SSL_shutdown(c->ctx); /* close_notify, best effort: the socket's half-close follows */
	ERR_clear_error();
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void tls_close(struct conn *c, bool reset)
{
	SSL_free(c->ctx);
	c->ctx = NULL;
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	c->fd = -1;
}

static int tls_splice_fd(const struct conn *c)
{
	(void)c;
	return -EOPNOTSUPP; /* the bytes on the socket are records, not the payload */
}

const struct conn_ops tls_conn_strict_ops = {
	.read = read_strict,
	.write = tls_write,
	.shutdown = tls_shutdown,
	.close = tls_close,
	.splice_fd = tls_splice_fd,
};

const struct conn_ops tls_conn_lax_ops = {
	.read = read_lax,
	.write = tls_write,
	.shutdown = tls_shutdown,
	.close = tls_close,
	.splice_fd = tls_splice_fd,
};
