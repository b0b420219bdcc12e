#include "proc/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/child_exec.h"
#include "core/log.h"
#include "core/loop.h"
#include "proc/proc.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/signame.h"
#include "util/strv.h"
#include "util/sys.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define CHILD_LINE_MAX 65536
#define CHILD_READ_CHUNK 16384
/* Reads per wakeup while running, and at exit (the pipe holds at most what it buffers). */
#define CHILD_READS_PER_WAKE 16
#define CHILD_READS_AT_EXIT 256
/* Once SIGKILL went to a group whose leader is gone: how often to look whether it is empty (for
 * members that someone other than baton reaps; baton's own reaps are checked at once). */
#define CHILD_GROUP_RECHECK_MS 100

struct child_out {
	struct child *child;
	struct loop_src *src;
	int fd; /* -1 once closed */
	int stream;
	struct buf buf;
};

struct child {
	struct loop *loop;
	struct child_reaper *reaper;
	char *label;
	pid_t pid;
	pid_t pgid;  /* 0 when the child shares baton's process group */
	int pidfd;   /* -1 once the child exited (or when pidfds are unavailable) */
	int trap_fd; /* the bind filter's listener until child_take_trap_fd(), or -1 */
	struct loop_src *pidsrc;
	struct loop_timer *kill_timer;
	struct child_out out[2];
	bool exited;
	bool group_alive;  /* the leader exited, its group has members: see child.h */
	bool group_killed; /* SIGKILL went to the group: the kill timer now rechecks */
	struct child_reaper *group_reaper; /* lists us in ->groups while group_alive */
	int64_t stop_timeout_ms;
	struct child_exit st;
	child_line_cb on_line;
	child_exit_cb on_exit;
	child_group_cb on_group_exit;
	void *data;
	int busy; /* >0 while our callbacks run: child_free() is deferred */
	bool free_pending;
};

struct child_reaper {
	struct child **v; /* tracked, running children */
	size_t n, cap;
	struct child **groups; /* exited leaders whose process group is not empty yet */
	size_t ngroups, capgroups;
};

/* ---- small helpers ---- */

const char *child_status_str(const struct child_exit *st, char *buf, size_t len)
{
	if (st->signal > 0)
		snprintf(buf, len, "killed by %s%s", signame_str(st->signal),
			 st->core ? " (core dumped)" : "");
	else if (st->code >= 0)
		snprintf(buf, len, "exited with status %d", st->code);
	else
		snprintf(buf, len, "exited (status unknown)");
	return buf;
}

static void exit_from_siginfo(const siginfo_t *si, struct child_exit *st)
{
	st->code = -1;
	st->signal = 0;
	st->core = false;
	if (si->si_code == CLD_EXITED)
		st->code = si->si_status;
	else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
		st->signal = si->si_status;
		st->core = si->si_code == CLD_DUMPED;
	}
}

/* ---- reaper table ---- */

static void reaper_track(struct child_reaper *r, struct child *c)
{
	r->v = xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
	r->v[r->n++] = c;
}

static void reaper_forget(struct child *c)
{
	struct child_reaper *r = c->reaper;
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i] == c) {
			r->v[i] = r->v[--r->n];
			break;
		}
	}
	c->reaper = NULL;
}

static void group_forget(struct child *c)
{
	struct child_reaper *r = c->group_reaper;
	c->group_reaper = NULL;
	for (size_t i = 0; r && i < r->ngroups; i++) {
		if (r->groups[i] == c) {
			r->groups[i] = r->groups[--r->ngroups];
			break;
		}
	}
}

static struct child *reaper_find(struct child_reaper *r, pid_t pid)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (r->v[i]->pid == pid)
			return r->v[i];
	return NULL;
}

/* ---- lifetime ---- */

static void out_close(struct child *c, struct child_out *o)
{
	if (o->fd < 0)
		return;
	loop_del(c->loop, o->src);
	o->src = NULL;
	close(o->fd);
	o->fd = -1;
}

static void child_destroy(struct child *c)
{
	reaper_forget(c);
	group_forget(c);
	if (c->pidsrc)
		loop_del(c->loop, c->pidsrc);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->trap_fd >= 0)
		close(c->trap_fd);
	for (int i = 0; i < 2; i++) {
		out_close(c, &c->out[i]);
		buf_release(&c->out[i].buf);
	}
	loop_timer_free(c->kill_timer);
	free(c->label);
	free(c);
}

void child_free(struct child *c)
{
	if (!c)
		return;
	if (c->busy) {
		c->free_pending = true;
		return;
	}
	child_destroy(c);
}

static void child_enter(struct child *c)
{
	c->busy++;
}

/* Leave a callback; false when the child was freed meanwhile (do not touch it). */
static bool child_leave(struct child *c)
{
	if (--c->busy == 0 && c->free_pending) {
		child_destroy(c);
		return false;
	}
	return true;
}

/* ---- output ---- */

/* Deliver every complete line (and, when flush, the rest) of o's buffer. */
static void out_lines(struct child *c, struct child_out *o, bool flush)
{
	size_t off = 0;
	while (!c->free_pending && off < o->buf.len) {
		const char *p = o->buf.p + off;
		size_t left = o->buf.len - off;
		const char *nl = memchr(p, '\n', left);
		size_t len;
		size_t adv;
		if (nl) {
			len = (size_t)(nl - p);
			adv = len + 1;
		} else if (left >= CHILD_LINE_MAX || flush) {
			len = left > CHILD_LINE_MAX ? CHILD_LINE_MAX : left;
			adv = len;
		} else {
			break;
		}
		if (len > CHILD_LINE_MAX) {
			len = CHILD_LINE_MAX;
			adv = len;
		}
		if (c->on_line)
			c->on_line(c, o->stream, p, len, c->data);
		off += adv;
	}
	if (!c->free_pending)
		buf_consume(&o->buf, off);
}

static void out_drain(struct child *c, struct child_out *o, int max_reads)
{
	char tmp[CHILD_READ_CHUNK];
	for (int i = 0; i < max_reads && o->fd >= 0 && !c->free_pending; i++) {
		ssize_t n = read(o->fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			out_lines(c, o, true);
			if (!c->free_pending)
				out_close(c, o);
			return;
		}
		buf_append(&o->buf, tmp, (size_t)n);
		out_lines(c, o, false);
	}
}

static void out_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct child_out *o = data;
	struct child *c = o->child;
	child_enter(c);
	out_drain(c, o, CHILD_READS_PER_WAKE);
	child_leave(c);
}

/* ---- exit ---- */

static bool group_empty(pid_t pgid)
{
	return kill(-pgid, 0) < 0 && errno == ESRCH;
}

/* The group a leader left behind is empty: forget it and tell the owner. Callers hold
 * child_enter(). */
static void group_gone(struct child *c)
{
	c->group_alive = false;
	group_forget(c);
	loop_timer_disarm(c->kill_timer);
	if (c->on_group_exit)
		c->on_group_exit(c, c->data);
}

/* At the leader's exit: does the group live on? Tracked when the owner asked for it. */
static void group_note_exit(struct child *c, struct child_reaper *r)
{
	if (!c->on_group_exit || c->pgid <= 0 || group_empty(c->pgid))
		return;
	c->group_alive = true;
	if (r) {
		c->group_reaper = r;
		r->groups = xgrow(r->groups, &r->capgroups, r->ngroups + 1, sizeof(*r->groups));
		r->groups[r->ngroups++] = c;
	}
	log_debug("\"%s\" (pid %d) exited; members of its process group remain", c->label,
		  (int)c->pid);
	if (c->group_killed) /* the deadline passed already: keep looking until it is empty */
		loop_timer_arm_in(c->kill_timer, CHILD_GROUP_RECHECK_MS);
}

/* Record the exit and tell the owner; callers hold child_enter(). */
static void child_deliver_exit(struct child *c, const struct child_exit *st)
{
	if (c->exited)
		return;
	c->exited = true;
	c->st = *st;
	if (c->pidsrc) {
		loop_del(c->loop, c->pidsrc);
		c->pidsrc = NULL;
	}
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	struct child_reaper *r = c->reaper;
	reaper_forget(c);
	group_note_exit(c, r);
	/* what the process wrote before exiting is in the pipes now: deliver it first; the
	 * pipes stay open for descendants still holding them */
	for (int i = 0; i < 2; i++) {
		struct child_out *o = &c->out[i];
		if (o->fd < 0)
			continue;
		out_drain(c, o, CHILD_READS_AT_EXIT);
		if (c->free_pending)
			return;
		out_lines(c, o, true);
	}
	if (c->free_pending)
		return;
	if (!c->group_alive && (c->pgid <= 0 || group_empty(c->pgid)))
		loop_timer_disarm(c->kill_timer);
	if (c->on_exit)
		c->on_exit(c, &c->st, c->data);
}

static void pidfd_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct child *c = data;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int r;
	do
		r = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EINVAL) /* kernel without P_PIDFD (< 5.4) */
		r = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG);
	struct child_exit st = {.code = -1};
	if (r == 0 && si.si_pid == 0)
		return; /* not exited yet */
	if (r == 0)
		exit_from_siginfo(&si, &st);
	else
		log_debug("child: status of \"%s\" (pid %d) was lost: %s", c->label, (int)c->pid,
			  strerror(errno));
	child_enter(c);
	child_deliver_exit(c, &st);
	child_leave(c);
}

/* ---- accessors, signals, stop ---- */

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

int child_take_trap_fd(struct child *c)
{
	int fd = c->trap_fd;
	c->trap_fd = -1;
	return fd;
}

bool child_running(const struct child *c)
{
	return !c->exited;
}

bool child_group_alive(const struct child *c)
{
	return c->group_alive;
}

int child_signal(struct child *c, int sig, bool group)
{
	if (group && c->pgid > 0)
		return kill(-c->pgid, sig) < 0 ? -errno : 0;
	if (c->exited)
		return -ESRCH;
	if (c->pidfd >= 0) {
		if (sys_pidfd_send_signal(c->pidfd, sig) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
	}
	return kill(c->pid, sig) < 0 ? -errno : 0;
}

static void kill_timer_fired(struct loop *l, void *data)
{
	(void)l;
	struct child *c = data;
	child_enter(c);
	if (c->group_alive && group_empty(c->pgid)) {
		group_gone(c);
	} else if (c->group_killed) {
		child_signal(c, SIGKILL, true); /* a member forked meanwhile, or is still dying */
	} else {
		char d[32];
		duration_format_ms(c->stop_timeout_ms, d, sizeof(d));
		if (child_signal(c, SIGKILL, true) == 0)
			log_warn("\"%s\" did not stop within %s — sent SIGKILL to %s%s", c->label,
				 d, c->pgid > 0 ? "its process group" : "it",
				 c->exited ? " (its leader had exited)" : "");
		c->group_killed = true;
	}
	if (!c->free_pending && c->group_alive)
		loop_timer_arm_in(c->kill_timer, CHILD_GROUP_RECHECK_MS);
	child_leave(c);
}

int child_stop(struct child *c, int sig, int64_t timeout_ms)
{
	int r = child_signal(c, sig, true);
	if (r < 0 && r != -ESRCH)
		return r;
	if (r == -ESRCH && c->exited) {
		if (c->group_alive) /* emptied meanwhile: say so from the loop, not from here */
			loop_timer_arm_in(c->kill_timer, 0);
		return r;
	}
	if (timeout_ms >= 0) {
		int64_t dl = loop_timer_deadline(c->kill_timer);
		int64_t want = now_ms() + timeout_ms;
		if (dl < 0 || want < dl) {
			loop_timer_arm_at(c->kill_timer, want);
			c->stop_timeout_ms = timeout_ms;
		}
	}
	return 0;
}

static int child_register(struct child *c, struct loop *l, const struct child_launch *res)
{
	c->pidfd = sys_pidfd_open(c->pid, 0);
	if (c->pidfd < 0 && (errno != ENOSYS || !c->reaper))
		return -errno;
	if (c->pidfd >= 0) {
		c->pidsrc = loop_add(l, c->pidfd, EPOLLIN, pidfd_readable, c);
		if (!c->pidsrc)
			return -errno;
	}
	for (int i = 0; i < 2; i++) {
		struct child_out *o = &c->out[i];
		o->fd = res->out_fds[i];
		if (o->fd < 0)
			continue;
		o->src = loop_add(l, o->fd, EPOLLIN, out_readable, o);
		if (!o->src)
			return -errno;
	}
	return 0;
}

int child_spawn(struct loop *l, const struct child_spec *spec, struct child **out, char **err)
{
	const char *label = spec->label			  ? spec->label
			    : spec->shell_cmd		  ? spec->shell_cmd
			    : spec->argv && spec->argv[0] ? spec->argv[0]
							  : "?";
	*out = NULL;
	if (err)
		*err = NULL;
	if (spec->nfds < 0 || (spec->nfds > 0 && !spec->fds) ||
	    (spec->out == CHILD_OUT_PIPE && !spec->on_line)) {
		child_launch_message(err, label, EINVAL);
		return -EINVAL;
	}
	struct child_launch res;
	int r = child_launch(spec, label, &res, err);
	if (r < 0)
		return r;

	struct child *c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->label = xstrdup(label);
	c->pid = res.pid;
	c->pgid = spec->new_session ? res.pid : 0;
	c->pidfd = -1;
	c->trap_fd = res.trap_fd;
	c->on_line = spec->on_line;
	c->on_exit = spec->on_exit;
	c->on_group_exit = spec->new_session ? spec->on_group_exit : NULL;
	c->data = spec->data;
	c->kill_timer = loop_timer_new(l, kill_timer_fired, c);
	for (int i = 0; i < 2; i++) {
		c->out[i].child = c;
		c->out[i].fd = -1;
		c->out[i].stream = 1 + i;
	}
	if (spec->reaper) {
		c->reaper = spec->reaper;
		reaper_track(spec->reaper, c);
	}
	r = child_register(c, l, &res);
	if (r < 0) {
		/* cannot watch it: do not leave it running untracked */
		for (int i = 0; i < 2; i++)
			if (c->out[i].fd < 0 && res.out_fds[i] >= 0)
				close(res.out_fds[i]);
		kill(res.pid, SIGKILL);
		while (waitpid(res.pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_launch_message(err, label, -r);
		child_destroy(c);
		return r;
	}
	*out = c;
	return 0;
}
int child_adopt(struct loop *l, pid_t pid, const char *label, bool group,
		struct child_reaper *reaper, child_exit_cb on_exit, child_group_cb on_group_exit,
		void *data, struct child **out)
{
	struct child_launch res = {.pid = pid, .out_fds = {-1, -1}, .trap_fd = -1};
	struct child *c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->label = xstrdup(label ? label : "?");
	c->pid = pid;
	c->pgid = group ? pid : 0;
	c->pidfd = -1;
	c->trap_fd = -1;
	c->on_exit = on_exit;
	c->on_group_exit = group ? on_group_exit : NULL;
	c->data = data;
	c->kill_timer = loop_timer_new(l, kill_timer_fired, c);
	for (int i = 0; i < 2; i++) {
		c->out[i].child = c;
		c->out[i].fd = -1;
		c->out[i].stream = 1 + i;
	}
	if (reaper) {
		c->reaper = reaper;
		reaper_track(reaper, c);
	}
	int r = child_register(c, l, &res);
	if (r < 0) {
		child_destroy(c); /* it keeps running: an orphan for the reaper */
		*out = NULL;
		return r;
	}
	*out = c;
	return 0;
}

/* ---- reaper ---- */

struct child_reaper *child_reaper_new(bool subreaper)
{
	if (subreaper && getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return NULL;
	return xcalloc(1, sizeof(struct child_reaper));
}

void child_reaper_free(struct child_reaper *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		r->v[i]->reaper = NULL;
	for (size_t i = 0; i < r->ngroups; i++)
		r->groups[i]->group_reaper = NULL;
	free(r->v);
	free(r->groups);
	free(r);
}

int child_reap(struct child_reaper *r)
{
	int orphans = 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		if (si.si_pid == 0)
			break;
		struct child *c = reaper_find(r, si.si_pid);
		if (c) {
			struct child_exit st;
			exit_from_siginfo(&si, &st);
			child_enter(c);
			child_deliver_exit(c, &st);
			child_leave(c);
			continue;
		}
		struct child_exit st;
		char sb[64];
		exit_from_siginfo(&si, &st);
		log_debug("reaped orphan pid %d (%s)", (int)si.si_pid,
			  child_status_str(&st, sb, sizeof(sb)));
		orphans++;
	}
	/* groups left by exited leaders: a callback may free any child, so look again from the
	 * start after each one */
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < r->ngroups; i++) {
			struct child *c = r->groups[i];
			if (!group_empty(c->pgid))
				continue;
			child_enter(c);
			group_gone(c);
			child_leave(c);
			again = true;
			break;
		}
	}
	return orphans;
}

int child_kill_orphans(struct child_reaper *r, int sig)
{
	pid_t *kids;
	size_t n;
	int rr = proc_children(getpid(), &kids, &n);
	if (rr < 0)
		return rr;
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		pid_t pid = kids[i];
		if (reaper_find(r, pid))
			continue;
		if (kill(pid, sig) < 0)
			continue;
		count++;
		if (getpgid(pid) == pid)
			kill(-pid, sig);
		log_debug("sent %s to orphan pid %d", signame_str(sig), (int)pid);
	}
	free(kids);
	return count;
}
