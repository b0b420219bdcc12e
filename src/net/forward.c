/* Forward listeners: accept, connect to the app with retry until a deadline, and connect again
 * to replay a request the app dropped before answering (forward_int.h). The byte relay itself
 * is forward_relay.c. */
#include "net/forward.h"
#include "net/forward_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/listen_addr.h"
#include "net/unixsock.h"
#include "core/log.h"
#include "core/loop.h"
#include "util/duration.h"
#include "util/sys.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* Connections of every forward in the process: their fds come out of one RLIMIT_NOFILE, so
 * the count is process-wide (a deliberate file-static, like log.c's settings). */
static size_t fwd_conns_all;

/* fds open in this process now (/proc/self/fd), or the lowest free fd number without /proc. */
static long count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		close(fd);
		return fd;
	}
	long n = -1; /* the directory's own fd */
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n < 0 ? 0 : n;
}

static void accept_room(struct forward *f);

void fwd_conn_close(struct fwd_conn *c, bool reset)
{
	struct forward *f = c->f;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	f->nconns--;
	fwd_conns_all--;
	accept_room(f);

	loop_del(f->loop, c->csrc);
	loop_del(f->loop, c->tsrc);
	loop_timer_free(c->timer);
	conn_close(&c->cli, reset);
	conn_close(&c->tgt, reset);
	fwd_relay_release(c);
	free(c);
}

/* ---- connecting ---- */

static bool conn_connect(struct fwd_conn *c);

static void conn_timed_out(struct fwd_conn *c)
{
	struct forward *f = c->f;
	f->st.timed_out++;
	int64_t now = now_ms();
	char dur[32];
	duration_format_ms(f->timeout_ms, dur, sizeof(dur));
	log_debug("forward: connection %u: no target after %s (%s)", c->id, dur,
		  c->state == CONN_CONNECTING ? "connect in flight" : "refused");
	/* after a replayed failure the client gets the reset it would have seen */
	bool reset = c->failures > 0;
	/* one line per burst: many clients may give up at once */
	if (now - f->last_timeout_log >= 1000) {
		log_warn("forward to \"%s\": the app did not accept within %s — closed the "
			 "waiting client connection",
			 f->target_str, dur);
		f->last_timeout_log = now;
	}
	fwd_conn_close(c, reset);
}

static bool connect_err_retryable(int err)
{
	switch (err) {
	case EAFNOSUPPORT:
	case EPROTOTYPE:
	case EPROTONOSUPPORT:
	case EINVAL:
	case EACCES:
	case EPERM:
	case ENOTSOCK:
	case EBADF:
	case EFAULT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return false;
	default:
		return true; /* refused, unreachable, out of fds or ports: may pass */
	}
}

static void conn_drop_target(struct fwd_conn *c)
{
	loop_del(c->f->loop, c->tsrc);
	c->tsrc = NULL;
	conn_close(&c->tgt, false);
}

/* The target did not take the connection: wait and try again. Returns false when c was
 * freed. */
static bool conn_retry(struct fwd_conn *c, int err)
{
	struct forward *f = c->f;
	conn_drop_target(c);
	if (!connect_err_retryable(err)) {
		log_warn("forward to \"%s\": cannot connect (%s) — closed the client connection",
			 f->target_str, strerror(err));
		fwd_conn_close(c, true);
		return false;
	}
	f->st.retries++;
	c->state = CONN_WAITING;
	int64_t now = now_ms();
	if (now >= c->deadline) {
		conn_timed_out(c);
		return false;
	}
	int64_t at = now + c->backoff_ms;
	if (at > c->deadline)
		at = c->deadline;
	loop_timer_arm_at(c->timer, at);
	c->backoff_ms *= 2;
	if (c->backoff_ms > FWD_BACKOFF_MAX_MS)
		c->backoff_ms = FWD_BACKOFF_MAX_MS;
	return true;
}

static bool conn_connected(struct fwd_conn *c)
{
	struct forward *f = c->f;
	c->state = CONN_RELAYING;
	loop_timer_disarm(c->timer);
	if (c->failures == 0) {
		f->st.connected++;
		log_debug("forward: connection %u relayed to \"%s\"", c->id, f->target_str);
	} else {
		f->st.replayed++;
		log_debug("forward: connection %u: replaying %zu bytes%s to \"%s\"", c->id, c->rlen,
			  c->d[0].eof ? " and the half-close" : "", f->target_str);
	}
	return fwd_relay_start(c);
}

void fwd_conn_replay(struct fwd_conn *c, int err)
{
	struct forward *f = c->f;
	log_debug("forward: connection %u: the target failed before answering (%s) — connecting "
		  "again",
		  c->id, err ? strerror(err) : "closed");
	conn_drop_target(c);
	c->failures++;
	c->state = CONN_WAITING;
	c->d[0].again = c->d[1].again = false;
	/* a fresh wait, as long as a new connection's: the app is probably restarting */
	c->deadline = now_ms() + f->timeout_ms;
	c->backoff_ms = FWD_BACKOFF_MIN_MS;
	loop_timer_arm_in(c->timer, 0); /* from the loop: the caller is in the middle of a pump */
}

static void on_target(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	struct fwd_conn *c = data;
	if (c->state == CONN_RELAYING) {
		fwd_relay_io(c, fd, 1, events);
		return;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		conn_retry(c, err);
	else if (events & EPOLLOUT)
		conn_connected(c);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	struct fwd_conn *c = data;
	if (c->state == CONN_RELAYING) {
		fwd_relay_io(c, fd, 0, events);
		return;
	}
	/* still waiting for the target: data and a half-close wait in the socket; a client that
	 * is gone (reset, or closed both ways) ends the wait */
	if (events & (EPOLLERR | EPOLLHUP)) {
		log_debug("forward: connection %u: client left while waiting", c->id);
		fwd_conn_close(c, false);
	}
}

/* Returns false when c was freed. */
static bool conn_connect(struct fwd_conn *c)
{
	struct forward *f = c->f;
	int fd = socket(f->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return conn_retry(c, errno);
	conn_sock_init(&c->tgt, fd);
	int r = connect(fd, (const struct sockaddr *)&f->target, f->tlen);
	if (r < 0 && errno != EINPROGRESS)
		return conn_retry(c, errno);
	c->tsrc = loop_add(f->loop, fd, FWD_EVENTS, on_target, c);
	if (!c->tsrc)
		return conn_retry(c, errno);
	if (r == 0)
		return conn_connected(c);
	c->state = CONN_CONNECTING;
	loop_timer_arm_at(c->timer, c->deadline);
	return true;
}

static void on_conn_timer(struct loop *l, void *data)
{
	(void)l;
	struct fwd_conn *c = data;
	if (now_ms() >= c->deadline) {
		conn_timed_out(c);
		return;
	}
	if (c->state == CONN_WAITING)
		conn_connect(c);
}

/* ---- accepting ---- */

static void on_accept(struct loop *l, int fd, uint32_t events, void *data);

static int update_accepting(struct forward *f)
{
	bool want = !f->accept_error && !f->full && !f->fds_low;
	if (want && !f->lsrc) {
		f->lsrc = loop_add(f->loop, f->lfd, EPOLLIN, on_accept, f);
		if (!f->lsrc)
			return -errno;
	} else if (!want && f->lsrc) {
		loop_del(f->loop, f->lsrc);
		f->lsrc = NULL;
	}
	return 0;
}

static void on_unpause(struct loop *l, void *data)
{
	(void)l;
	struct forward *f = data;
	f->accept_error = false;
	f->fds_low = false; /* checked again before the next accept */
	int r = update_accepting(f);
	if (r < 0) {
		log_error("forward to \"%s\": cannot watch the listening socket (%s) — retrying",
			  f->target_str, strerror(-r));
		f->accept_error = true;
		loop_timer_arm_in(f->unpause, FWD_ACCEPT_PAUSE_MS);
	}
}

/* A connection closed: an accept paused for room (max_conns, the fd reserve, EMFILE) resumes. */
static void accept_room(struct forward *f)
{
	/* the episode ends with half the room free again, 10 s after it was logged at the earliest:
	 * a busy listener at its cap logs once */
	if (f->pause_logged && f->nconns <= f->max_conns / 2 &&
	    now_ms() - f->pause_log_ms >= FWD_PAUSE_LOG_MS &&
	    (f->fd_limit <= 0 ||
	     (long)fwd_conns_all * FWD_FDS_PER_CONN + f->fd_base + 2 * FWD_FD_RESERVE <=
		     f->fd_limit))
		f->pause_logged = false;
	if (!f->full && !f->fds_low && !f->accept_error)
		return;
	f->full = f->full && f->nconns >= f->max_conns;
	f->fds_low = false;
	f->accept_error = false;
	loop_timer_disarm(f->unpause);
	if (update_accepting(f) < 0) {
		f->accept_error = true;
		loop_timer_arm_in(f->unpause, FWD_ACCEPT_PAUSE_MS);
	}
}

/* Before an accept: is there room for one more connection? At max_conns, or when its fds
 * (FWD_FDS_PER_CONN, counted for every forward's connections on top of the fds open at start)
 * would reach into the last FWD_FD_RESERVE, stop accepting: new connections wait in the
 * backlog. Logged once per episode (accept_room() says when one ends). */
static bool accept_has_room(struct forward *f)
{
	if (f->nconns >= f->max_conns) {
		f->full = true;
		if (!f->pause_logged)
			log_warn("listener \"%s\" at max_connections (%zu): accept paused", f->name,
				 f->max_conns);
	} else if (f->fd_limit > 0 &&
		   (long)(fwd_conns_all + 1) * FWD_FDS_PER_CONN + f->fd_base + FWD_FD_RESERVE >
			   f->fd_limit) {
		f->fds_low = true;
		if (!f->pause_logged)
			log_warn("listener \"%s\": %zu connections hold most of the %ld file "
				 "descriptors baton may open, keeping %d for baton: accept paused",
				 f->name, fwd_conns_all, f->fd_limit, FWD_FD_RESERVE);
		/* another forward's connections may be the ones to close */
		loop_timer_arm_in(f->unpause, FWD_ACCEPT_PAUSE_MS);
	} else {
		return true;
	}
	if (!f->pause_logged)
		f->pause_log_ms = now_ms();
	f->pause_logged = true;
	update_accepting(f);
	return false;
}

static void conn_new(struct forward *f, int cfd)
{
	struct fwd_conn *c = xcalloc(1, sizeof(*c));
	c->f = f;
	c->id = ++f->next_id;
	conn_sock_init(&c->cli, cfd);
	conn_sock_init(&c->tgt, -1);
	c->d[0].pipe[0] = c->d[0].pipe[1] = c->d[1].pipe[0] = c->d[1].pipe[1] = -1;
	c->csrc = loop_add(f->loop, cfd, FWD_EVENTS, on_client, c);
	if (!c->csrc) {
		log_warn("forward to \"%s\": cannot watch a client connection (%s) — closed it",
			 f->target_str, strerror(errno));
		close(cfd);
		free(c);
		return;
	}
	c->next = f->conns;
	if (f->conns)
		f->conns->prev = c;
	f->conns = c;
	f->nconns++;
	fwd_conns_all++;
	f->st.accepted++;
	c->timer = loop_timer_new(f->loop, on_conn_timer, c);
	c->deadline = now_ms() + f->timeout_ms;
	c->backoff_ms = FWD_BACKOFF_MIN_MS;
	c->state = CONN_WAITING;
	c->retryable = true;
	conn_connect(c);
}

static bool accept_err_transient(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	/* accept(2): Linux passes pending network errors of the new connection on */
	case EPROTO:
	case ENOPROTOOPT:
	case ENETDOWN:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct forward *f = data;
	/* the socket's O_NONBLOCK is shared with whoever else holds it: in blocking mode take
	 * only the one connection epoll promised */
	int fl = fcntl(fd, F_GETFL);
	int batch = fl >= 0 && (fl & O_NONBLOCK) ? FWD_ACCEPT_BATCH : 1;
	for (int i = 0; i < batch; i++) {
		if (!accept_has_room(f))
			return;
		int cfd = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd >= 0) {
			conn_new(f, cfd);
			if (!accept_has_room(f)) /* pause now, not at the next connection */
				return;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (accept_err_transient(errno))
			continue;
		log_warn("forward to \"%s\": accept failed (%s) — pausing accepts for %d ms",
			 f->target_str, strerror(errno), FWD_ACCEPT_PAUSE_MS);
		f->accept_error = true;
		update_accepting(f);
		loop_timer_arm_in(f->unpause, FWD_ACCEPT_PAUSE_MS);
		return;
	}
}

/* ---- public ---- */

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* True when connecting to the target would land on the listening socket itself. */
static bool targets_self(int lfd, const struct sockaddr_storage *t, socklen_t tlen)
{
	struct sockaddr_storage ls;
	socklen_t llen = sizeof(ls);
	memset(&ls, 0, sizeof(ls));
	if (getsockname(lfd, (struct sockaddr *)&ls, &llen) < 0)
		return false;
	if (ls.ss_family == AF_UNIX || t->ss_family == AF_UNIX)
		return ls.ss_family == t->ss_family && llen == tlen &&
		       memcmp(&ls, t, (size_t)llen) == 0;
	if (sa_port(&ls) != sa_port(t))
		return false;
	if (ls.ss_family == AF_INET6) {
		const struct in6_addr *la = &((const struct sockaddr_in6 *)&ls)->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(la)) /* also takes IPv4 unless IPV6_V6ONLY */
			return true;
		return t->ss_family == AF_INET6 &&
		       IN6_ARE_ADDR_EQUAL(la, &((const struct sockaddr_in6 *)t)->sin6_addr);
	}
	if (t->ss_family != AF_INET)
		return false;
	in_addr_t la = ((const struct sockaddr_in *)&ls)->sin_addr.s_addr;
	return la == htonl(INADDR_ANY) || la == ((const struct sockaddr_in *)t)->sin_addr.s_addr;
}

struct forward *forward_new(struct loop *l, int listen_fd, const struct sockaddr *target,
			    socklen_t len, int64_t connect_timeout_ms)
{
	if (!l || listen_fd < 0 || !target || len < sizeof(sa_family_t) ||
	    len > sizeof(struct sockaddr_storage) || connect_timeout_ms <= 0 ||
	    (target->sa_family != AF_INET && target->sa_family != AF_INET6 &&
	     target->sa_family != AF_UNIX)) {
		errno = EINVAL;
		return NULL;
	}
	struct forward *f = xcalloc(1, sizeof(*f));
	f->loop = l;
	f->lfd = listen_fd;
	memcpy(&f->target, target, len);
	f->tlen = len;
	f->timeout_ms = connect_timeout_ms;
	f->splice = true;
	f->last_timeout_log = -1000000;
	f->max_conns = FORWARD_MAX_CONNS_DEFAULT;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		f->fd_limit = rl.rlim_cur > INT_MAX ? INT_MAX : (long)rl.rlim_cur;
	f->fd_base = count_open_fds();
	char *text = unixsock_sockaddr_text((const struct sockaddr *)&f->target, len);
	snprintf(f->target_str, sizeof(f->target_str), "%s", text);
	free(text);
	f->name = xstrdup(f->target_str);
	if (targets_self(listen_fd, &f->target, len)) {
		free(f->name);
		free(f);
		errno = ELOOP;
		return NULL;
	}
	int r = update_accepting(f);
	if (r < 0) {
		free(f->name);
		free(f);
		errno = -r;
		return NULL;
	}
	f->unpause = loop_timer_new(l, on_unpause, f);
	f->kick = loop_timer_new(l, fwd_relay_kick, f);
	log_debug("forward: relaying connections to \"%s\"", f->target_str);
	return f;
}

void forward_retry_now(struct forward *f)
{
	/* the target is (about to be) up: waiting connections try now, from the loop */
	for (struct fwd_conn *c = f->conns; c; c = c->next) {
		if (c->state == CONN_WAITING) {
			c->backoff_ms = FWD_BACKOFF_MIN_MS;
			loop_timer_arm_in(c->timer, 0);
		}
	}
}

size_t forward_nconns(const struct forward *f)
{
	return f->nconns;
}

void forward_get_stats(const struct forward *f, struct forward_stats *out)
{
	*out = f->st;
}

const char *forward_target_str(const struct forward *f)
{
	return f->target_str;
}

void forward_set_splice(struct forward *f, bool on)
{
	f->splice = on;
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	while (f->conns)
		fwd_conn_close(f->conns, false);
	loop_del(f->loop, f->lsrc);
	loop_timer_free(f->unpause);
	loop_timer_free(f->kick);
	free(f->name);
	free(f);
}

void forward_set_max_conns(struct forward *f, size_t max, const char *name)
{
	f->max_conns = max ? max : FORWARD_MAX_CONNS_DEFAULT;
	if (name) {
		free(f->name);
		f->name = xstrdup(name);
	}
	f->full = f->nconns >= f->max_conns;
	if (!f->full)
		accept_room(f);
	else
		update_accepting(f);
}

/* -EINVAL with *err (if err is not NULL) set to reason. */
static int target_invalid(char **err, const char *reason)
{
	if (err)
		*err = xstrdup(reason);
	return -EINVAL;
}

int forward_parse_target(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char **err)
{
	struct listen_addr a;
	if (listen_addr_parse(s, &a, err) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (a.family != LISTEN_ADDR_TCP) {
		struct sockaddr_un *un = (struct sockaddr_un *)out;
		un->sun_family = AF_UNIX;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		if (a.family == LISTEN_ADDR_ABSTRACT) {
			/* the name without a trailing NUL, as the app binds it */
			size_t n = strlen(a.path);
			memcpy(un->sun_path + 1, a.path, n);
			*outlen = (socklen_t)(off + 1 + n);
			return 0;
		}
		size_t n = strlen(a.path); /* fits: listen_addr_parse checked */
		memcpy(un->sun_path, a.path, n + 1);
		*outlen = (socklen_t)(off + n + 1);
		return 0;
	}
	if (a.port == 0)
		return target_invalid(err, "a forward target needs a port from 1 to 65535");
	if (a.host_v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		if (inet_pton(AF_INET6, a.host, &in6->sin6_addr) != 1)
			return target_invalid(err, "invalid IPv6 address");
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) /* "[::]": this machine */
			in6->sin6_addr = in6addr_loopback;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)a.port);
		*outlen = sizeof(*in6);
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	if (listen_addr_is_any(&a) || strcmp(a.host, "localhost") == 0) {
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* the app on this machine */
	} else if (inet_pton(AF_INET, a.host, &in->sin_addr) != 1) {
		return target_invalid(err, "forward targets are not resolved: write an IP address "
					   "or localhost");
	}
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)a.port);
	*outlen = sizeof(*in);
	return 0;
}
