#include "sup/adopt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/listen.h"
#include "core/log.h"
#include "core/loop.h"
#include "sup/runstate.h"
#include "util/buf.h"
#include "util/signame.h"
#include "util/sys.h"
#include "util/xalloc.h"

/* sockets tried per orphan when looking through /proc/PID/fd (its connections are sockets too) */
#define ADOPT_SCAN_MAX 65536

struct orphan {
	struct adopt *a;
	struct runstate_gen rec; /* as recorded: kept for the next state file */
	int pidfd;
	struct loop_src *src;
	bool group;	  /* it leads its own process group: signal the group */
	bool leader_gone; /* its pidfd said it exited */
	bool gone;	  /* leader and group gone (or SIGKILLed at the deadline) */
};

struct adopt {
	struct orphan *v;
	size_t n;
	struct loop *loop;
	struct loop_timer *deadline;
	bool draining;
	void (*done)(void *data);
	void *data;
};

/* Take fd num of o when it is a listening socket on an unclaimed configured (non-forward)
 * listener's address: it goes to *socks under that listener's name. True when taken. */
static bool take_fd(struct orphan *o, int num, const struct config *cfg, bool *claimed,
		    struct listen_adopted **socks, struct buf *msg)
{
	int fd = sys_pidfd_getfd(o->pidfd, num, 0);
	if (fd < 0) {
		if (errno != EBADF)
			log_warn("cannot take fd %d from generation %d (pid %d): %s", num,
				 o->rec.id, (int)o->rec.pid,
				 errno == ENOSYS ? "pidfd_getfd needs Linux 5.6" : strerror(errno));
		return false;
	}
	for (int i = 0; i < cfg->nlisten; i++) {
		if (claimed[i] || cfg->listen[i].forward ||
		    !listen_fd_matches(fd, cfg->listen[i].address, cfg->root))
			continue;
		claimed[i] = true;
		listen_adopted_add(socks, fd, cfg->listen[i].name);
		buf_printf(msg, "%s\"%s\" (its fd %d)", msg->len ? ", " : "", cfg->listen[i].name,
			   num);
		return true;
	}
	close(fd);
	return false;
}

static bool all_claimed(const struct config *cfg, const bool *claimed)
{
	for (int i = 0; i < cfg->nlisten; i++)
		if (!claimed[i] && !cfg->listen[i].forward)
			return false;
	return true;
}

/* Take o's listening sockets: at the recorded fd numbers first, then wherever the app moved
 * them (an app may dup the inherited socket and close fd 3: any socket in /proc/PID/fd). */
static void take_sockets(struct orphan *o, const struct config *cfg, bool *claimed,
			 struct listen_adopted **socks, struct buf *msg)
{
	for (int j = 0; j < o->rec.nfds && !all_claimed(cfg, claimed); j++)
		take_fd(o, o->rec.fds[j].fd, cfg, claimed, socks, msg);
	if (all_claimed(cfg, claimed))
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)o->rec.pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	int scanned = 0;
	struct dirent *de;
	while ((de = readdir(d)) && scanned < ADOPT_SCAN_MAX && !all_claimed(cfg, claimed)) {
		char *end;
		long num = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || num < 0 || num > INT_MAX)
			continue;
		char link[64], lp[96];
		snprintf(lp, sizeof(lp), "%s/%ld", path, num);
		ssize_t n = readlink(lp, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) != 0)
			continue;
		scanned++;
		take_fd(o, (int)num, cfg, claimed, socks, msg);
	}
	closedir(d);
}

struct adopt *adopt_find(const char *path, const struct config *cfg, struct listen_adopted **socks)
{
	struct runstate *st = xcalloc(1, sizeof(*st));
	struct adopt *a = NULL;
	int r = runstate_read(path, st);
	if (r < 0) {
		if (r != -ENOENT)
			log_warn("ignoring the state file \"%s\": %s", path,
				 r == -EINVAL ? "malformed" : strerror(-r));
		goto out;
	}
	if (runstate_alive(st->baton_pid, st->baton_start)) {
		log_info("baton pid %d (state file \"%s\") is still running: nothing to adopt",
			 (int)st->baton_pid, path);
		goto out;
	}
	a = xcalloc(1, sizeof(*a));
	bool *claimed = xcalloc((size_t)cfg->nlisten + 1, sizeof(bool));
	for (int i = 0; i < st->ngens; i++) {
		const struct runstate_gen *g = &st->gens[i];
		if (!runstate_alive(g->pid, g->start))
			continue;
		int pidfd = sys_pidfd_open(g->pid, 0);
		if (pidfd < 0) {
			log_warn("cannot adopt generation %d (pid %d): pidfd_open: %s", g->id,
				 (int)g->pid, strerror(errno));
			continue;
		}
		/* checked again with the pidfd held: it names the recorded process */
		if (!runstate_alive(g->pid, g->start)) {
			close(pidfd);
			continue;
		}
		a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
		struct orphan *o = &a->v[a->n++];
		*o = (struct orphan){.a = a, .rec = *g, .pidfd = pidfd};
		o->group = getpgid(g->pid) == g->pid;
		struct buf msg = BUF_INIT;
		take_sockets(o, cfg, claimed, socks, &msg);
		log_info("adopted generation %d (pid %d) left by baton pid %d: %s%s", g->id,
			 (int)g->pid, (int)st->baton_pid, msg.len ? "took " : "no socket taken",
			 buf_cstr(&msg));
		free(buf_detach(&msg));
	}
	free(claimed);
	if (!a->n) {
		log_info("state file \"%s\" is stale (baton pid %d and its generations are gone): "
			 "replacing it",
			 path, (int)st->baton_pid);
		free(a);
		a = NULL;
	}
out:
	free(st);
	return a;
}

int adopt_last_id(const struct adopt *a)
{
	int id = 0;
	for (size_t i = 0; a && i < a->n; i++)
		if (a->v[i].rec.id > id)
			id = a->v[i].rec.id;
	return id;
}

int adopt_alive(const struct adopt *a)
{
	int n = 0;
	for (size_t i = 0; a && i < a->n; i++)
		n += !a->v[i].gone;
	return n;
}

void adopt_record(const struct adopt *a, struct runstate *st)
{
	for (size_t i = 0; a && i < a->n && st->ngens < RUNSTATE_MAX_GENS; i++)
		if (!a->v[i].gone)
			st->gens[st->ngens++] = a->v[i].rec;
}

static void signal_orphan(struct orphan *o, int sig)
{
	if (o->group && kill(-o->rec.pid, sig) == 0)
		return;
	if (!o->leader_gone)
		sys_pidfd_send_signal(o->pidfd, sig);
}

static void orphan_release(struct orphan *o)
{
	if (o->src) {
		loop_del(o->a->loop, o->src);
		o->src = NULL;
	}
	if (o->pidfd >= 0) {
		close(o->pidfd);
		o->pidfd = -1;
	}
}

static void check_done(struct adopt *a)
{
	if (!a->draining || adopt_alive(a))
		return;
	loop_timer_disarm(a->deadline);
	void (*done)(void *) = a->done;
	a->done = NULL;
	if (done)
		done(a->data);
}

static void orphan_gone(struct orphan *o, const char *how)
{
	o->gone = true;
	orphan_release(o);
	log_info("orphaned generation %d (pid %d) %s", o->rec.id, (int)o->rec.pid, how);
	check_done(o->a);
}

/* True when a process other than a zombie is in process group pgid (kill(-pgid, 0) counts a
 * zombie leader its parent has not reaped yet). */
static bool group_has_live(pid_t pgid)
{
	if (kill(-pgid, 0) < 0)
		return false;
	DIR *d = opendir("/proc");
	if (!d)
		return true;
	bool live = false;
	struct dirent *de;
	while (!live && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], text[1024];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n <= 0)
			continue;
		text[n] = '\0';
		const char *p = strrchr(text, ')');
		char st;
		int ppid, pgrp;
		if (p && sscanf(p + 1, " %c %d %d", &st, &ppid, &pgrp) == 3 && pgrp == pgid &&
		    st != 'Z' && st != 'X')
			live = true;
	}
	closedir(d);
	return live;
}

static void on_pidfd(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct orphan *o = data;
	o->leader_gone = true;
	loop_del(o->a->loop, o->src);
	o->src = NULL;
	/* its workers may outlive it: they get the deadline's SIGKILL */
	if (o->group && group_has_live(o->rec.pid))
		return;
	orphan_gone(o, "drained");
}

static void on_deadline(struct loop *l, void *data)
{
	(void)l;
	struct adopt *a = data;
	for (size_t i = 0; i < a->n; i++) {
		struct orphan *o = &a->v[i];
		if (o->gone)
			continue;
		signal_orphan(o, SIGKILL);
		if (o->leader_gone)
			orphan_gone(o, "killed at stop_timeout (its group outlived it)");
		else
			log_warn("orphaned generation %d (pid %d) still running at stop_timeout: "
				 "killed",
				 o->rec.id, (int)o->rec.pid);
	}
}

void adopt_drain(struct adopt *a, struct loop *l, int sig, int64_t timeout_ms,
		 void (*done)(void *data), void *data)
{
	a->done = done;
	a->data = data;
	if (a->draining) {
		check_done(a);
		return;
	}
	a->draining = true;
	a->loop = l;
	a->deadline = loop_timer_new(l, on_deadline, a);
	for (size_t i = 0; i < a->n; i++) {
		struct orphan *o = &a->v[i];
		if (o->gone)
			continue;
		o->src = loop_add(l, o->pidfd, EPOLLIN, on_pidfd, o);
		log_info("draining orphaned generation %d (pid %d): %s, SIGKILL in %lld ms",
			 o->rec.id, (int)o->rec.pid, signame_str(sig), (long long)timeout_ms);
		signal_orphan(o, sig);
	}
	if (a->deadline)
		loop_timer_arm_in(a->deadline, timeout_ms);
	check_done(a);
}

void adopt_kill(struct adopt *a)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (!a->v[i].gone)
			signal_orphan(&a->v[i], SIGKILL);
}

void adopt_free(struct adopt *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		orphan_release(&a->v[i]);
	if (a->deadline)
		loop_timer_free(a->deadline);
	free(a->v);
	free(a);
}
