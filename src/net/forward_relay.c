/* Forward listeners: the byte relay of a connected connection, both ways.
 *
 * Each relayed connection has two sockets registered edge-triggered (EPOLLET) for everything,
 * and two directions: d[0] client -> target, d[1] target -> client. A direction is pumped until
 * its source says EAGAIN with nothing pending (an EPOLLIN edge will come), its destination says
 * EAGAIN (an EPOLLOUT edge will come), it finishes, or it has moved FWD_BUDGET bytes — then the
 * kick timer resumes it after the loop has served everyone else. Reading stops whenever data is
 * pending for the destination, so a slow reader slows the writer (backpressure) and at most one
 * pipe (or buffer) of data per direction is held.
 *
 * While the connection is retryable (forward_int.h) d[0] copies and keeps what it reads, and a
 * failure of the target hands the connection back to forward.c for a replay. */
#include "net/forward_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "util/xalloc.h"

static bool dir_pump(struct fwd_conn *c, int i);

static size_t dir_pending(const struct dir *d)
{
	return d->copy ? d->len - d->off : d->inpipe;
}

static void dir_release(struct dir *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
		d->pipe[0] = d->pipe[1] = -1;
	}
	free(d->buf);
	d->buf = NULL;
	d->inpipe = d->off = d->len = d->cap = 0;
}

void fwd_relay_release(struct fwd_conn *c)
{
	dir_release(&c->d[0]);
	dir_release(&c->d[1]);
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
	c->retryable = false;
}

/* ---- the replay copy ---- */

/* why: for the debug log, NULL when the target answered (the usual end) */
static void replay_end(struct fwd_conn *c, const char *why)
{
	if (!c->retryable)
		return;
	if (why)
		log_debug("forward: connection %u: %s — no replay from here on", c->id, why);
	c->retryable = false;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
}

/* d[0] read n bytes into its buffer: keep a copy while retryable. */
static void replay_keep(struct fwd_conn *c, const char *p, size_t n)
{
	if (!c->retryable || n == 0)
		return;
	if (c->rlen + n > FWD_REPLAY_CAP) {
		replay_end(c, "request larger than the replay buffer");
		return;
	}
	if (!c->rbuf)
		c->rbuf = xmalloc(FWD_REPLAY_CAP);
	memcpy(c->rbuf + c->rlen, p, n);
	c->rlen += n;
}

/* True when the kept request starts with an idempotent HTTP method (RFC 9110 9.2.2): sending it
 * again has the effect of sending it once. */
static bool replay_idempotent(const struct fwd_conn *c)
{
	static const char *const methods[] = {"GET ",	"HEAD ", "OPTIONS ",
					      "TRACE ", "PUT ",	 "DELETE "};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);
		if (c->rlen >= n && memcmp(c->rbuf, methods[i], n) == 0)
			return true;
	}
	return false;
}

/* The target failed (err: the error, 0 for an end of file). While retryable and under the
 * replay limit, forward.c connects again and true is returned (c must not be relayed further);
 * otherwise false: the caller handles the failure as a relay does. */
static bool replay_on_failure(struct fwd_conn *c, int err)
{
	if (!c->retryable)
		return false;
	if (c->delivered > 0 && !replay_idempotent(c)) {
		replay_end(c, "the app took part of a request that is not idempotent");
		return false;
	}
	if (c->failures >= FWD_REPLAY_MAX) {
		replay_end(c, "the target failed too often");
		return false;
	}
	fwd_conn_replay(c, err);
	return true;
}

/* ---- relaying ---- */

/* Switch d to read/write, keeping what the pipe holds. 0 or -errno. */
static int dir_to_copy(struct dir *d)
{
	size_t cap = d->inpipe > FWD_CHUNK ? d->inpipe : FWD_CHUNK;
	char *buf = xmalloc(cap);
	size_t got = 0;
	while (got < d->inpipe) {
		ssize_t n = read(d->pipe[0], buf + got, d->inpipe - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	dir_release(d);
	d->buf = buf;
	d->cap = cap;
	d->len = got;
	d->copy = true;
	d->splice_later = false;
	return 0;
}

/* Move bytes from d[i]'s src into the pipe or buffer (only called with nothing pending).
 * Returns the count, 0 at end of file, or -errno (-EAGAIN: nothing to read now). */
static ssize_t dir_fill(struct fwd_conn *c, int i)
{
	struct dir *d = &c->d[i];
	if (d->splice_later && !c->retryable) {
		free(d->buf); /* empty: nothing is pending */
		d->buf = NULL;
		d->off = d->len = d->cap = 0;
		d->copy = d->splice_later = false;
	}
	if (!d->copy && d->pipe[0] < 0 && pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_debug("forward: no pipe for splice (%s), copying instead", strerror(errno));
		d->copy = true;
	}
	int sfd = d->copy ? -1 : conn_splice_fd(d->src);
	if (!d->copy) {
		ssize_t n = sfd < 0 ? -1
				    : splice(sfd, NULL, d->pipe[1], NULL, FWD_CHUNK,
					     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n >= 0) {
			d->inpipe += (size_t)n;
			return n;
		}
		if (sfd >= 0 && errno != EINVAL)
			return -errno;
		int r = dir_to_copy(d); /* splice cannot read this transport */
		if (r < 0)
			return r;
	}
	if (!d->buf) {
		d->cap = FWD_CHUNK;
		d->buf = xmalloc(d->cap);
	}
	ssize_t n = conn_read(d->src, d->buf, d->cap);
	if (n < 0)
		return n;
	d->off = 0;
	d->len = (size_t)n;
	if (i == 0)
		replay_keep(c, d->buf, (size_t)n);
	return n;
}

/* Write pending bytes to dst. Returns the count or -errno (-EAGAIN: dst is full). */
static ssize_t dir_flush(struct dir *d)
{
	if (!d->copy) {
		int dfd = conn_splice_fd(d->dst);
		ssize_t n = dfd < 0 ? -1
				    : splice(d->pipe[0], NULL, dfd, NULL, d->inpipe,
					     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->inpipe -= (size_t)n;
			return n;
		}
		if (n == 0)
			return -EIO; /* the pipe cannot be empty here */
		if (dfd >= 0 && errno != EINVAL)
			return -errno;
		int r = dir_to_copy(d); /* splice cannot write this transport */
		if (r < 0)
			return r;
	}
	ssize_t n = conn_write(d->dst, d->buf + d->off, d->len - d->off);
	if (n < 0)
		return n;
	d->off += (size_t)n;
	if (d->off == d->len)
		d->off = d->len = 0;
	return n;
}

/* Source drained to end of file: relay the half-close. Returns false when c was freed. */
static bool dir_finish(struct fwd_conn *c, int i)
{
	struct dir *d = &c->d[i];
	/* ENOTCONN: the peer is already gone, which the other direction will find out */
	conn_shutdown(d->dst);
	d->done = true;
	dir_release(d);
	if (c->d[!i].done) {
		log_debug("forward: connection %u closed", c->id);
		fwd_conn_close(c, false);
		return false;
	}
	return true;
}

/* Writing to d's destination failed: its peer is gone. What the other direction still
 * carries is delivered; this one is dropped. Returns false when c was freed or stopped
 * relaying. */
static bool dir_write_failed(struct fwd_conn *c, int i, int err)
{
	struct dir *d = &c->d[i];
	if (i == 0 && replay_on_failure(c, err))
		return false;
	log_debug("forward: connection %u: %s gone (%s)", c->id, i ? "client" : "target",
		  strerror(err));
	d->done = true;
	dir_release(d);
	if (c->d[!i].done) {
		fwd_conn_close(c, false);
		return false;
	}
	return dir_pump(c, !i);
}

static bool dir_defer(struct fwd_conn *c, struct dir *d)
{
	d->again = true;
	if (!loop_timer_armed(c->f->kick))
		loop_timer_arm_in(c->f->kick, 0);
	return true;
}

/* Move what can be moved now. Returns false when c was freed or stopped relaying (a replay
 * is under way). */
static bool dir_pump(struct fwd_conn *c, int i)
{
	struct dir *d = &c->d[i];
	size_t moved = 0;
	d->again = false;
	while (!d->done) {
		if (dir_pending(d) > 0) {
			ssize_t n = dir_flush(d);
			if (n == -EAGAIN)
				return true;
			if (n < 0)
				return dir_write_failed(c, i, (int)-n);
			if (i == 0)
				c->delivered += (size_t)n;
			*d->bytes += (uint64_t)n;
			moved += (size_t)n;
			if (moved >= FWD_BUDGET)
				return dir_defer(c, d);
			continue;
		}
		if (d->eof)
			return dir_finish(c, i);
		ssize_t n = dir_fill(c, i);
		if (n > 0 && i == 1)
			replay_end(c, NULL); /* the answer started */
		if (n == -EAGAIN)
			return true;
		if (n <= 0 && i == 1 && replay_on_failure(c, (int)-n))
			return false;
		if (n == 0) {
			d->eof = true;
		} else if (n < 0) {
			/* the source's connection broke: the other peer gets a reset too */
			log_debug("forward: connection %u: %s reset (%s)", c->id,
				  i ? "target" : "client", strerror((int)-n));
			fwd_conn_close(c, true);
			return false;
		}
	}
	return true;
}

void fwd_relay_io(struct fwd_conn *c, int fd, int side, uint32_t events)
{
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			if (side == 1 && replay_on_failure(c, err))
				return;
			log_debug("forward: connection %u: %s error (%s)", c->id,
				  side ? "target" : "client", strerror(err));
			fwd_conn_close(c, true);
			return;
		}
	}
	/* side 0: the client socket, 1: the target socket. d[side] reads from it, d[!side]
	 * writes to it */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		if (!dir_pump(c, side))
			return;
	/* writable matters only to a direction that has bytes waiting for this socket */
	if ((events & (EPOLLHUP | EPOLLERR)) ||
	    ((events & EPOLLOUT) && dir_pending(&c->d[!side]) > 0))
		dir_pump(c, !side);
}

void fwd_relay_kick(struct loop *l, void *data)
{
	(void)l;
	struct forward *f = data;
	struct fwd_conn *next;
	for (struct fwd_conn *c = f->conns; c; c = next) {
		next = c->next; /* pumping c frees at most c */
		if (c->state != CONN_RELAYING)
			continue;
		if (c->d[0].again && !dir_pump(c, 0))
			continue;
		if (c->d[1].again)
			dir_pump(c, 1);
	}
}

/* After a replay's reconnect: d[0] starts over with every byte the client sent, and with its
 * end of file when there was one; d[1] has moved nothing (else no replay). */
static void relay_rewind(struct fwd_conn *c)
{
	struct dir *d = &c->d[0];
	if (!d->buf || d->cap < c->rlen) {
		free(d->buf);
		d->cap = FWD_CHUNK;
		d->buf = xmalloc(d->cap);
	}
	if (c->rlen > 0)
		memcpy(d->buf, c->rbuf, c->rlen);
	d->off = 0;
	d->len = c->rlen;
	c->delivered = 0; /* a new target */
	d->done = false;  /* d->eof stays: the half-close is relayed again after the bytes */
	c->d[0].again = c->d[1].again = false;
}

bool fwd_relay_start(struct fwd_conn *c)
{
	struct forward *f = c->f;
	if (!c->started) {
		c->started = true;
		for (int i = 0; i < 2; i++) {
			struct dir *d = &c->d[i];
			d->copy = !f->splice;
			d->bytes = i ? &f->st.bytes_out : &f->st.bytes_in;
		}
		/* the request is kept for a replay until the target answers: copy it */
		c->d[0].splice_later = !c->d[0].copy;
		c->d[0].copy = true;
	} else {
		relay_rewind(c);
	}
	for (int i = 0; i < 2; i++) {
		c->d[i].src = i ? &c->tgt : &c->cli;
		c->d[i].dst = i ? &c->cli : &c->tgt;
	}
	/* edges may have passed while we connected (the request is probably waiting): pump now */
	if (!dir_pump(c, 0))
		return false;
	return dir_pump(c, 1);
}
