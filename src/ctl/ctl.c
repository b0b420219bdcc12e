#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl_sock.h"
#include "core/log.h"
#include "core/loop.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/sys.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define CTL_BACKLOG 64
#define ACCEPT_BATCH 16
#define ACCEPT_RETRY_MS 250 /* after EMFILE/ENFILE: pause accepting this long */
#define READ_CHUNK 4096
/* Queued reply bytes past which a client's further requests are not read (nor decoded) until
 * it reads: a client that pipelines and never reads cannot grow baton's memory. */
#define CTL_OUT_MAX (64 * 1024)
/* How often the socket file is checked for having been removed (one lstat) */
#define CTL_HEAL_MS 1000

struct ctl {
	struct loop *loop;
	struct loop_src *src;
	struct loop_timer *retry; /* resumes accepting after fd exhaustion */
	struct loop_timer *heal;  /* checks that the socket file is still there */
	int fd;
	char *path;    /* absolute */
	char *display; /* as configured, for messages */
	struct ctl_sock_id id; /* the socket file we bound: healing, ctl_free's unlink */
	bool heal_failed;      /* the last attempt to make it again failed (said once) */
	bool heal_given_up;    /* another baton took the path */
	uid_t uid;
	ctl_request_cb cb;
	void *data;
	int max_clients;
	int64_t idle_ms;
	int nclients;
	unsigned next_id;
	struct ctl_client *clients;
	int busy; /* >0 while one of our callbacks runs */
	bool free_pending;
};

struct ctl_client {
	struct ctl *ctl; /* NULL once the connection is closed */
	struct loop_src *src;
	struct loop_timer *timer; /* idle deadline, or a kick to read pipelined input */
	int fd;
	int refs;
	unsigned id;
	pid_t pid;
	uid_t uid;
	uint32_t events;
	bool pending;	 /* a request is with the owner */
	bool eof;	 /* the peer shut down its write side */
	bool closing;	 /* close once the queued output is sent */
	bool processing; /* client_process() is on the stack */
	bool kick;	 /* the timer means "process input", not "idle" */
	struct ctlproto_reqdec dec;
	struct buf in;
	size_t in_off;
	struct buf out;
	size_t out_off;
	struct ctl_client *prev, *next;
};

static void ctl_destroy(struct ctl *ctl);

static void ctl_enter(struct ctl *ctl)
{
	ctl->busy++;
}

static void ctl_leave(struct ctl *ctl)
{
	if (--ctl->busy == 0 && ctl->free_pending)
		ctl_destroy(ctl);
}

bool ctl_peer_allowed(uid_t peer, uid_t self)
{
	return peer == self || peer == 0;
}

char *ctl_socket_path(const char *root, const char *path)
{
	if (path[0] == '/' || !root || !*root)
		return xstrdup(path);
	size_t n = strlen(root);
	return xasprintf("%s%s%s", root, root[n - 1] == '/' ? "" : "/", path);
}

/* ---- clients ---- */

static void client_free_mem(struct ctl_client *c)
{
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

struct ctl_client *ctl_client_ref(struct ctl_client *c)
{
	c->refs++;
	return c;
}

void ctl_client_unref(struct ctl_client *c)
{
	if (!c || --c->refs > 0)
		return;
	client_free_mem(c);
}

bool ctl_client_alive(const struct ctl_client *c)
{
	return c->ctl != NULL;
}

pid_t ctl_client_pid(const struct ctl_client *c)
{
	return c->pid;
}

uid_t ctl_client_uid(const struct ctl_client *c)
{
	return c->uid;
}

unsigned ctl_client_id(const struct ctl_client *c)
{
	return c->id;
}

/* Close the connection and drop the server's reference (c may be freed on return unless the
 * caller holds one). */
static void client_close(struct ctl_client *c, const char *why)
{
	struct ctl *ctl = c->ctl;
	if (!ctl)
		return;
	log_debug("control client %u (pid %d) closed: %s", c->id, (int)c->pid, why);
	loop_del(ctl->loop, c->src);
	close(c->fd);
	c->fd = -1;
	c->src = NULL;
	loop_timer_free(c->timer);
	c->timer = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ctl->nclients--;
	c->ctl = NULL;
	c->pending = false;
	buf_release(&c->in);
	buf_release(&c->out);
	c->in_off = c->out_off = 0;
	ctl_client_unref(c);
}

static bool client_has_input(const struct ctl_client *c)
{
	return c->in.len > c->in_off;
}

/* Too much output waits for the peer: take no more requests from it until it reads. */
static bool client_backlogged(const struct ctl_client *c)
{
	return c->out.len - c->out_off > CTL_OUT_MAX;
}

static void client_update_events(struct ctl_client *c)
{
	if (!c->ctl)
		return;
	uint32_t ev = 0;
	if (!c->pending && !c->eof && !c->closing && !client_backlogged(c))
		ev |= EPOLLIN;
	if (c->out.len > c->out_off)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	if (loop_mod(c->ctl->loop, c->src, ev) < 0) {
		log_warn("control client %u: cannot update its events: %m", c->id);
		client_close(c, "epoll failure");
		return;
	}
	c->events = ev;
}

/* Send what the socket takes. Closes the client when the peer is gone. 0 or -errno. */
static int client_flush(struct ctl_client *c)
{
	while (c->ctl && c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			int e = errno;
			client_close(c, "peer gone while sending");
			return -e;
		}
		c->out_off += (size_t)n;
	}
	if (c->ctl && c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
	}
	return 0;
}

/* After any change: close when done, else register the right events. */
static void client_settle(struct ctl_client *c)
{
	if (!c->ctl)
		return;
	bool drained = c->out.len == c->out_off;
	if (drained && c->closing) {
		client_close(c, "closed after an error");
		return;
	}
	if (drained && c->eof && !c->pending && !client_has_input(c) && !c->processing) {
		client_close(c, "peer finished");
		return;
	}
	client_update_events(c);
}

/* Queue an error line and close once it is out. */
static void client_fail(struct ctl_client *c, const char *why)
{
	ctlproto_encode_reply(&c->out, false, why);
	c->closing = true;
	client_flush(c);
}

static void client_dispatch(struct ctl_client *c, const struct ctl_request *req)
{
	struct ctl *ctl = c->ctl;
	c->pending = true;
	loop_timer_disarm(c->timer);
	if (req->verb == CTL_HELLO) {
		char text[64];
		snprintf(text, sizeof(text), "protocol %d", CTLPROTO_VERSION);
		ctl_reply(c, true, text);
		return;
	}
	log_debug("control client %u (pid %d): %s%s", c->id, (int)c->pid,
		  ctlproto_verb_name(req->verb), req->json ? " json" : "");
	ctl->cb(c, req, ctl->data);
}

/* Decode and dispatch buffered requests, one at a time. The caller holds a reference. */
static void client_process(struct ctl_client *c)
{
	if (c->processing)
		return;
	c->processing = true;
	while (c->ctl && !c->pending && !c->closing && !client_backlogged(c)) {
		struct ctl_request req;
		int r;
		if (client_has_input(c)) {
			size_t used;
			r = ctlproto_reqdec_feed(&c->dec, c->in.p + c->in_off,
						 c->in.len - c->in_off, &used, &req);
			c->in_off += used;
			if (c->in_off == c->in.len) {
				buf_reset(&c->in);
				c->in_off = 0;
			}
		} else if (c->eof) {
			r = ctlproto_reqdec_finish(&c->dec, &req);
			if (r == 0)
				break;
		} else {
			break;
		}
		if (r < 0) {
			log_warn("control client %u (pid %d): bad request: %s", c->id, (int)c->pid,
				 ctlproto_reqdec_why(&c->dec));
			client_fail(c, ctlproto_reqdec_why(&c->dec));
			break;
		}
		if (r > 0)
			client_dispatch(c, &req);
	}
	c->processing = false;
	client_settle(c);
}

static void client_read(struct ctl_client *c)
{
	char tmp[READ_CHUNK];
	ssize_t n;
	while ((n = read(c->fd, tmp, sizeof(tmp))) < 0 && errno == EINTR)
		;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		client_close(c, "read error");
		return;
	}
	if (n == 0) {
		c->eof = true;
		return;
	}
	buf_append(&c->in, tmp, (size_t)n);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	struct ctl_client *c = data;
	struct ctl *ctl = c->ctl;
	if (!ctl)
		return;
	ctl_enter(ctl);
	ctl_client_ref(c);
	if (events & EPOLLERR) {
		client_close(c, "socket error");
	} else {
		if (events & EPOLLOUT)
			client_flush(c);
		if (c->ctl && (events & EPOLLIN) && !c->pending && !c->eof && !c->closing &&
		    !client_backlogged(c))
			client_read(c);
		else if (c->ctl && (events & EPOLLHUP) && !(events & EPOLLIN))
			client_close(c, "peer hung up");
		if (c->ctl)
			client_process(c);
	}
	ctl_client_unref(c);
	ctl_leave(ctl);
}

static void on_client_timer(struct loop *l, void *data)
{
	(void)l;
	struct ctl_client *c = data;
	struct ctl *ctl = c->ctl;
	if (!ctl)
		return;
	ctl_enter(ctl);
	ctl_client_ref(c);
	if (c->kick) {
		c->kick = false;
		loop_timer_arm_in(c->timer, ctl->idle_ms);
		client_process(c);
	} else if (!c->pending) {
		log_debug("control client %u (pid %d): idle timeout", c->id, (int)c->pid);
		ctlproto_encode_reply(&c->out, false, "idle timeout");
		client_flush(c);
		client_close(c, "idle timeout");
	}
	ctl_client_unref(c);
	ctl_leave(ctl);
}

/* Best effort: one line to a connection we will not keep. */
static void reject(int fd, const char *text)
{
	struct buf b = BUF_INIT;
	ctlproto_encode_reply(&b, false, text);
	(void)!send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	buf_release(&b);
	close(fd);
}

static void client_new(struct ctl *ctl, int fd, const struct ucred *cr)
{
	struct ctl_client *c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->fd = fd;
	c->refs = 1; /* the server's, dropped by client_close() */
	c->id = ++ctl->next_id;
	c->pid = cr->pid;
	c->uid = cr->uid;
	c->in = (struct buf)BUF_INIT;
	c->out = (struct buf)BUF_INIT;
	ctlproto_reqdec_init(&c->dec);
	c->events = EPOLLIN;
	c->src = loop_add(ctl->loop, fd, c->events, on_client, c);
	if (!c->src) {
		log_warn("control socket: cannot watch a client: %m");
		close(fd);
		free(c);
		return;
	}
	c->timer = loop_timer_new(ctl->loop, on_client_timer, c);
	loop_timer_arm_in(c->timer, ctl->idle_ms);
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	log_debug("control client %u connected (pid %d)", c->id, (int)c->pid);
}

static void on_accept_retry(struct loop *l, void *data)
{
	struct ctl *ctl = data;
	if (loop_mod(l, ctl->src, EPOLLIN) < 0)
		log_warn("control socket: cannot resume accepting: %m");
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct ctl *ctl = data;
	ctl_enter(ctl);
	for (int i = 0; i < ACCEPT_BATCH && !ctl->free_pending; i++) {
		int cfd = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("control socket: cannot accept (%m); pausing for %d ms",
					 ACCEPT_RETRY_MS);
				if (loop_mod(l, ctl->src, 0) == 0)
					loop_timer_arm_in(ctl->retry, ACCEPT_RETRY_MS);
				break;
			}
			log_warn("control socket: accept failed: %m");
			break;
		}
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
			log_warn("control socket: cannot get a client's credentials: %m");
			reject(cfd, "permission denied");
			continue;
		}
		if (!ctl_peer_allowed(cr.uid, ctl->uid)) {
			log_warn("control socket: refused pid %d (uid %u): permission denied",
				 (int)cr.pid, (unsigned)cr.uid);
			reject(cfd, "permission denied");
			continue;
		}
		if (ctl->nclients >= ctl->max_clients) {
			log_warn("control socket: refused pid %d: too many clients (%d)",
				 (int)cr.pid, ctl->max_clients);
			reject(cfd, "too many clients");
			continue;
		}
		client_new(ctl, cfd, &cr);
	}
	ctl_leave(ctl);
}

/* ---- answers ---- */

static int client_answered(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;
	c->pending = false;
	loop_timer_arm_in(c->timer, ctl->idle_ms);
	if (!c->processing && (client_has_input(c) || c->eof)) {
		/* not from here: the owner may be iterating over its waiters */
		c->kick = true;
		loop_timer_arm_in(c->timer, 0);
	}
	ctl_client_ref(c);
	int r = client_flush(c);
	if (!c->processing)
		client_settle(c);
	ctl_client_unref(c);
	return r < 0 ? -ENOTCONN : 0;
}

int ctl_reply(struct ctl_client *c, bool ok, const char *text)
{
	if (!c->ctl)
		return -ENOTCONN;
	if (!c->pending)
		return -EALREADY;
	ctlproto_encode_reply(&c->out, ok, text);
	return client_answered(c);
}

int ctl_reply_body(struct ctl_client *c, const char *body)
{
	if (!c->ctl)
		return -ENOTCONN;
	if (!c->pending)
		return -EALREADY;
	ctlproto_encode_body(&c->out, body ? body : "", body ? strlen(body) : 0);
	return client_answered(c);
}

/* ---- the server ---- */

/* The socket file was removed (a tmp cleaner, rm -rf .baton) or replaced: bind a new one at
 * the path, so `baton reload` and `baton status` reach this baton again. Clients connected to
 * the old socket are served on; its queued connections are accepted first. A path another baton
 * has taken since is left alone (said once). */
static void heal(struct ctl *ctl)
{
	char *msg = NULL;
	struct ctl_sock_id id;
	int fd = ctl_sock_listen(ctl->path, ctl->display, ctl->uid, CTL_BACKLOG, &id, &msg);
	if (fd < 0) {
		if (!ctl->heal_failed || fd == -EADDRINUSE)
			log_warn("control socket %s is gone and cannot be made again: %s%s",
				 ctl->display, msg,
				 fd == -EADDRINUSE ? " — this baton answers signals only" : "");
		ctl->heal_failed = true;
		ctl->heal_given_up = fd == -EADDRINUSE;
		free(msg);
		return;
	}
	struct loop_src *src = loop_add(ctl->loop, fd, EPOLLIN, on_accept, ctl);
	if (!src) {
		log_warn("control socket %s: cannot watch the new socket: %m", ctl->display);
		unlink(ctl->path);
		close(fd);
		return;
	}
	on_accept(ctl->loop, ctl->fd, EPOLLIN, ctl); /* who connected before it went */
	loop_del(ctl->loop, ctl->src);
	close(ctl->fd);
	loop_timer_disarm(ctl->retry);
	ctl->src = src;
	ctl->fd = fd;
	ctl->id = id;
	ctl->heal_failed = false;
	log_warn("control socket %s was removed — created it again", ctl->display);
}

static void on_heal_timer(struct loop *l, void *data)
{
	(void)l;
	struct ctl *ctl = data;
	if (!ctl_sock_is(ctl->path, &ctl->id))
		heal(ctl);
	if (!ctl->heal_given_up)
		loop_timer_arm_in(ctl->heal, CTL_HEAL_MS);
}

static struct ctl *ctl_alloc(struct loop *l, const char *root, const char *path, int fd,
			     ctl_request_cb cb, void *data)
{
	struct ctl *ctl = xcalloc(1, sizeof(*ctl));
	ctl->loop = l;
	ctl->fd = fd;
	ctl->path = ctl_socket_path(root, path);
	ctl->display = xstrdup(path);
	ctl->uid = geteuid();
	ctl->cb = cb;
	ctl->data = data;
	ctl->max_clients = CTL_MAX_CLIENTS;
	ctl->idle_ms = CTL_IDLE_TIMEOUT_MS;
	return ctl;
}

/* Accept on ctl->fd from the loop, and check the socket file once a second. 0 or -errno. */
static int ctl_start(struct ctl *ctl)
{
	ctl->src = loop_add(ctl->loop, ctl->fd, EPOLLIN, on_accept, ctl);
	if (!ctl->src)
		return -errno;
	ctl->retry = loop_timer_new(ctl->loop, on_accept_retry, ctl);
	ctl->heal = loop_timer_new(ctl->loop, on_heal_timer, ctl);
	loop_timer_arm_in(ctl->heal, CTL_HEAL_MS);
	return 0;
}

struct ctl *ctl_new(struct loop *l, const char *root, const char *path, ctl_request_cb cb,
		    void *data, char **err)
{
	char *msg = NULL;
	struct ctl *ctl;
	int r;
	if (!path || !*path) {
		msg = xstrdup("empty control socket path");
		r = -EINVAL;
		goto out_err;
	}
	ctl = ctl_alloc(l, root, path, -1, cb, data);
	ctl->fd = ctl_sock_listen(ctl->path, ctl->display, ctl->uid, CTL_BACKLOG, &ctl->id, &msg);
	if (ctl->fd < 0) {
		r = ctl->fd;
		goto out_free;
	}
	r = ctl_start(ctl);
	if (r < 0) {
		msg = xasprintf("cannot watch the control socket: %s", strerror(-r));
		goto out_unlink;
	}
	return ctl;

out_unlink:
	unlink(ctl->path);
	close(ctl->fd);
out_free:
	free(ctl->path);
	free(ctl->display);
	free(ctl);
out_err:
	if (err)
		*err = msg;
	else
		free(msg);
	errno = -r;
	return NULL;
}

const char *ctl_path(const struct ctl *ctl)
{
	return ctl->path;
}

void ctl_set_limits(struct ctl *ctl, int max_clients, int64_t idle_timeout_ms)
{
	if (max_clients > 0)
		ctl->max_clients = max_clients;
	if (idle_timeout_ms > 0)
		ctl->idle_ms = idle_timeout_ms;
}

int ctl_nclients(const struct ctl *ctl)
{
	return ctl->nclients;
}

static void ctl_destroy(struct ctl *ctl)
{
	free(ctl->path);
	free(ctl->display);
	free(ctl);
}

void ctl_free(struct ctl *ctl)
{
	if (!ctl || ctl->free_pending)
		return;
	int e = errno;
	while (ctl->clients) {
		struct ctl_client *c = ctl->clients;
		if (c->out.len > c->out_off)
			(void)!send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		client_close(c, "control socket closed");
	}
	loop_del(ctl->loop, ctl->src);
	close(ctl->fd);
	loop_timer_free(ctl->retry);
	loop_timer_free(ctl->heal);
	if (ctl_sock_is(ctl->path, &ctl->id))
		unlink(ctl->path);
	errno = e;
	ctl->free_pending = true;
	if (!ctl->busy)
		ctl_destroy(ctl);
}

/* ---- across baton's re-exec (`baton upgrade`, upgrade.h) ---- */

struct ctl *ctl_new_fd(struct loop *l, const char *root, const char *path, int fd,
		       ctl_request_cb cb, void *data)
{
	struct ctl *ctl = ctl_alloc(l, root, path, fd, cb, data);
	struct stat st;
	if (lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ctl->id.dev = st.st_dev;
		ctl->id.ino = st.st_ino;
	} /* else the heal timer makes it again */
	int r = ctl_start(ctl);
	if (r < 0) {
		ctl_destroy(ctl);
		errno = -r;
		return NULL;
	}
	return ctl;
}

int ctl_fd(const struct ctl *ctl)
{
	return ctl->fd;
}

int ctl_client_fd(const struct ctl_client *c)
{
	return c->ctl ? c->fd : -1;
}
