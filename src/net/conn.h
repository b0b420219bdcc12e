/* A connection's transport: the byte I/O of one stream socket behind a small ops table (as
 * haproxy's xprt_ops or redis' connection.h), so that a transport with state of its own (TLS)
 * can go under a connection without its callers changing. conn_sock_init() sets up the plain
 * socket transport, the only one today.
 *
 * Readiness stays the socket's: callers register c->fd on the loop and wait for EPOLLIN /
 * EPOLLOUT when an op says -EAGAIN; a transport that needs the other direction to make progress
 * (TLS: tls/tlsfront.h) says so in c->want.
 *
 * Ownership: a struct conn owns its fd from conn_*_init() on; conn_close() closes it (and frees
 * the transport's state), leaving fd -1. The struct itself is the caller's (embedded). */
#ifndef BATON_CONN_H
#define BATON_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct conn;

struct conn_ops {
	/* Read up to len bytes: the count, 0 at end of file, or -errno (-EAGAIN: nothing now). */
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	/* Write up to len bytes, never raising SIGPIPE: the count or -errno (-EAGAIN: full). */
	ssize_t (*write)(struct conn *c, const void *buf, size_t len);
	/* No more writes (the peer reads end of file). 0 or -errno. */
	int (*shutdown)(struct conn *c);
	/* Close; with reset the peer gets a reset instead of an orderly end. */
	void (*close)(struct conn *c, bool reset);
	/* Zero-copy: the fd splice(2) may move bytes from and to, or -EOPNOTSUPP when the bytes
	 * on the socket are not the stream's (TLS records). */
	int (*splice_fd)(const struct conn *c);
};

struct conn {
	const struct conn_ops *ops;
	int fd;	   /* the socket, for readiness and socket options; -1 once closed */
	void *ctx; /* the transport's own state; NULL for a plain socket */
	/* After an op returned -EAGAIN: the epoll event (EPOLLIN / EPOLLOUT) the transport waits
	 * for, when not the op's own direction (a TLS read that must write first); else 0. */
	unsigned want;
};

/* The plain socket transport on fd (a connected stream socket, non-blocking). */
void conn_sock_init(struct conn *c, int fd);

static inline ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
	return c->ops->read(c, buf, len);
}

static inline ssize_t conn_write(struct conn *c, const void *buf, size_t len)
{
	return c->ops->write(c, buf, len);
}

static inline int conn_shutdown(struct conn *c)
{
	return c->ops->shutdown(c);
}

/* Closes c's fd if open (a no-op after a close). */
static inline void conn_close(struct conn *c, bool reset)
{
	if (c->fd >= 0)
		c->ops->close(c, reset);
}

static inline int conn_splice_fd(const struct conn *c)
{
	return c->ops->splice_fd(c);
}

#endif
