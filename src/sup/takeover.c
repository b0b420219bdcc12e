#include "sup/takeover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "proc/bindtrap.h"
#include "sup/takeover_addr.h"
#include "util/buf.h"
#include "util/sys.h"
#include "util/xalloc.h"

struct tk_held {
	char key[TK_KEY_MAX];
	int fd;
	bool preset; /* from [[listen]]: never dropped */
	/* behind the front: a bind of key gets route()'s socket (takeover_route_fd()) */
	takeover_route_fn route;
	void *route_data;
	int route_index;
	int *gens; /* generations that bound it */
	size_t ngens, capgens;
};

struct tk_trap {
	struct takeover *tk;
	int gen;
	int fd;
	struct loop_src *src;
};

struct takeover {
	struct loop *loop;
	struct tk_held *held;
	size_t nheld, capheld;
	struct tk_trap **traps;
	size_t ntraps, captraps;
	struct seccomp_notif_sizes sz;
	bool (*pass)(void *data, int gen, const struct sockaddr *sa, size_t len);
	void *pass_data;
};

struct takeover *takeover_new(struct loop *l, char **why)
{
	if (why)
		*why = NULL;
	if (bindtrap_probe(why) < 0)
		return NULL;
	struct takeover *tk = xcalloc(1, sizeof(*tk));
	tk->loop = l;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &tk->sz) < 0) {
		if (why)
			*why = xasprintf("seccomp notification sizes: %s", strerror(errno));
		free(tk);
		return NULL;
	}
	return tk;
}

static void trap_close(struct tk_trap *t)
{
	if (t->src)
		loop_del(t->tk->loop, t->src);
	close(t->fd);
	free(t);
}

static void held_drop(struct takeover *tk, size_t i)
{
	close(tk->held[i].fd);
	free(tk->held[i].gens);
	tk->held[i] = tk->held[--tk->nheld];
}

void takeover_free(struct takeover *tk)
{
	if (!tk)
		return;
	for (size_t i = 0; i < tk->ntraps; i++)
		trap_close(tk->traps[i]);
	free(tk->traps);
	while (tk->nheld)
		held_drop(tk, tk->nheld - 1);
	free(tk->held);
	free(tk);
}

static bool held_has(const struct tk_held *h, int gen)
{
	for (size_t i = 0; i < h->ngens; i++)
		if (h->gens[i] == gen)
			return true;
	return false;
}

static void held_add_gen(struct tk_held *h, int gen)
{
	if (held_has(h, gen))
		return;
	h->gens = xgrow(h->gens, &h->capgens, h->ngens + 1, sizeof(int));
	h->gens[h->ngens++] = gen;
}

static struct tk_held *held_new(struct takeover *tk, const char *key, int fd, bool preset)
{
	tk->held = xgrow(tk->held, &tk->capheld, tk->nheld + 1, sizeof(*tk->held));
	struct tk_held *h = &tk->held[tk->nheld++];
	memset(h, 0, sizeof(*h));
	snprintf(h->key, sizeof(h->key), "%s", key);
	h->fd = fd;
	h->preset = preset;
	return h;
}

/* The socket's own address as a key: 1 when bound to a held kind of address. */
static int sock_key(int fd, char key[TK_KEY_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return tk_addr_decode(&ss, len, key);
}

static bool sock_flag(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0 && v;
}

/* A held socket still fit to hand over: bound to its key, not connected. */
static bool held_fit(const struct tk_held *h)
{
	char key[TK_KEY_MAX];
	if (sock_key(h->fd, key) != 1 || strcmp(key, h->key) != 0)
		return false;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	return getpeername(h->fd, (struct sockaddr *)&ss, &len) < 0;
}

static struct tk_held *held_find(struct takeover *tk, const char *key)
{
	for (size_t i = 0; i < tk->nheld; i++) {
		if (strcmp(tk->held[i].key, key) != 0)
			continue;
		if (held_fit(&tk->held[i]))
			return &tk->held[i];
		/* its bind failed, or it became a client: forget it */
		held_drop(tk, i);
		return NULL;
	}
	return NULL;
}

int takeover_hold_fd(struct takeover *tk, int fd)
{
	char key[TK_KEY_MAX];
	int r = sock_key(fd, key);
	if (r <= 0)
		return r < 0 ? r : -EINVAL;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (d < 0)
		return -errno;
	held_new(tk, key, d, true);
	return 0;
}

int takeover_route_fd(struct takeover *tk, int fd, takeover_route_fn route, void *data, int index)
{
	int r = takeover_hold_fd(tk, fd);
	if (r < 0)
		return r;
	struct tk_held *h = &tk->held[tk->nheld - 1];
	h->route = route;
	h->route_data = data;
	h->route_index = index;
	return 0;
}

void takeover_set_pass(struct takeover *tk,
		       bool (*pass)(void *data, int gen, const struct sockaddr *sa, size_t len),
		       void *data)
{
	tk->pass = pass;
	tk->pass_data = data;
}

/* FD_CLOEXEC of the app's fd, from /proc/PID/fdinfo (0 when unknown). */
static unsigned app_fd_cloexec(pid_t pid, int fd)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strstr(buf, "flags:");
	if (!p)
		return 0;
	unsigned long fl = strtoul(p + 6, NULL, 8);
	return (fl & O_CLOEXEC) ? O_CLOEXEC : 0;
}

static bool notif_valid(int lfd, uint64_t id)
{
	return ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Decide one bind; fills resp (CONTINUE unless baton installed a held socket). */
static void handle_bind(struct tk_trap *t, const struct seccomp_notif *req,
			struct seccomp_notif_resp *resp)
{
	struct takeover *tk = t->tk;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	int sockfd = (int)req->data.args[0];
	uint64_t addr = req->data.args[1];
	size_t len = (size_t)(uint32_t)req->data.args[2];
	struct sockaddr_storage ss;
	if (len < sizeof(sa_family_t) || len > sizeof(ss) || sockfd < 0)
		return;
	struct iovec local = {.iov_base = &ss, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
		return;
	char key[TK_KEY_MAX];
	if (tk_addr_decode(&ss, len, key) != 1)
		return;
	if (tk->pass && tk->pass(tk->pass_data, t->gen, (const struct sockaddr *)&ss, len))
		return;
	/* the pid is the one that asked only while the notification is pending */
	int pidfd = sys_pidfd_open(req->pid, 0);
	if (pidfd < 0)
		return;
	if (!notif_valid(t->fd, req->id)) {
		close(pidfd);
		return;
	}
	int fd = sys_pidfd_getfd(pidfd, sockfd, 0);
	close(pidfd);
	if (fd < 0)
		return;
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
		close(fd);
		return;
	}
	struct tk_held *h = held_find(tk, key);
	if (!h) {
		/* first time: the bind runs as the app; baton keeps the socket */
		h = held_new(tk, key, fd, false);
		held_add_gen(h, t->gen);
		log_info("generation %d binds %s: baton holds it for the next generations", t->gen,
			 key);
		return;
	}
	int src = h->fd;
	if (h->route) {
		/* behind the front: the generation's private socket, of the app's family */
		int family = 0;
		socklen_t fl = sizeof(family);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &fl) < 0)
			family = AF_UNSPEC;
		char *err = NULL;
		src = h->route(h->route_data, t->gen, h->route_index, family, &err);
		if (src < 0) {
			log_warn("generation %d binds %s: no private socket for it (%s); its bind "
				 "fails",
				 t->gen, key, err ? err : strerror(-src));
			free(err);
			close(fd);
			resp->flags = 0;
			resp->val = -1;
			resp->error = src;
			return;
		}
	}
	close(fd);
	struct seccomp_notif_addfd add = {
		.id = req->id,
		.flags = SECCOMP_ADDFD_FLAG_SETFD,
		.srcfd = (uint32_t)src,
		.newfd = (uint32_t)sockfd,
		.newfd_flags = app_fd_cloexec(req->pid, sockfd),
	};
	if (ioctl(t->fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
		if (errno != ENOENT)
			log_warn("generation %d binds %s: cannot hand it the held socket (%s); "
				 "its own bind goes ahead",
				 t->gen, key, strerror(errno));
		return;
	}
	held_add_gen(h, t->gen);
	resp->flags = 0;
	resp->val = 0;
	resp->error = 0;
	if (h->route)
		log_info("generation %d binds %s: it gets a private socket behind the front",
			 t->gen, key);
	else
		log_info("generation %d binds %s: it gets the socket baton holds", t->gen, key);
}

static void trap_remove(struct tk_trap *t)
{
	struct takeover *tk = t->tk;
	for (size_t i = 0; i < tk->ntraps; i++)
		if (tk->traps[i] == t) {
			tk->traps[i] = tk->traps[--tk->ntraps];
			break;
		}
	trap_close(t);
}

static void trap_event(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	struct tk_trap *t = data;
	struct takeover *tk = t->tk;
	if (!(events & EPOLLIN)) {
		trap_remove(t); /* every process under the filter is gone */
		return;
	}
	size_t nsz = tk->sz.seccomp_notif > sizeof(struct seccomp_notif)
			     ? tk->sz.seccomp_notif
			     : sizeof(struct seccomp_notif);
	size_t rsz = tk->sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
			     ? tk->sz.seccomp_notif_resp
			     : sizeof(struct seccomp_notif_resp);
	struct seccomp_notif *req = xcalloc(1, nsz);
	struct seccomp_notif_resp *resp = xcalloc(1, rsz);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
		/* ENOENT: the caller was killed meanwhile; EINTR: try on the next wakeup */
		free(req);
		free(resp);
		return;
	}
	handle_bind(t, req, resp);
	resp->id = req->id;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
		log_warn("generation %d: cannot answer a bind: %s", t->gen, strerror(errno));
	free(req);
	free(resp);
}

int takeover_attach(struct takeover *tk, int gen, int trap_fd)
{
	struct tk_trap *t = xcalloc(1, sizeof(*t));
	t->tk = tk;
	t->gen = gen;
	t->fd = trap_fd;
	t->src = loop_add(tk->loop, trap_fd, EPOLLIN, trap_event, t);
	if (!t->src) {
		int e = -errno;
		trap_close(t);
		return e;
	}
	tk->traps = xgrow(tk->traps, &tk->captraps, tk->ntraps + 1, sizeof(*tk->traps));
	tk->traps[tk->ntraps++] = t;
	return 0;
}

bool takeover_gen_bound(const struct takeover *tk, int gen)
{
	for (size_t i = 0; i < tk->nheld; i++)
		if (held_has(&tk->held[i], gen))
			return true;
	return false;
}

bool takeover_gen_ready(struct takeover *tk, int gen, int prev)
{
	bool any_prev = false, any = false;
	for (size_t i = 0; i < tk->nheld; i++) {
		struct tk_held *h = &tk->held[i];
		bool mine = held_has(h, gen);
		if (mine && !sock_flag(h->fd, SO_ACCEPTCONN))
			return false;
		if (prev > 0 && held_has(h, prev)) {
			any_prev = true;
			if (!mine)
				return false;
		}
		any |= mine;
	}
	return any_prev || any;
}

void takeover_serving(struct takeover *tk, int gen)
{
	if (!takeover_gen_bound(tk, gen))
		return; /* it binds nothing (yet): keep what is held */
	for (size_t i = tk->nheld; i-- > 0;)
		if (!tk->held[i].preset && !held_has(&tk->held[i], gen)) {
			log_info("%s is no longer bound: baton closes it", tk->held[i].key);
			held_drop(tk, i);
		}
}

/* The process group of /proc/PATH/stat, or -1; *state its state letter. */
static pid_t proc_pgrp(const char *pid, char *state_out)
{
	char path[320], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command may hold anything but ends there */
	char state;
	int ppid, pgrp;
	if (!p || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
		return -1;
	if (state_out)
		*state_out = state;
	return (pid_t)pgrp;
}

/* Every thread of pid has stopped (SIGSTOP is asynchronous: a thread may finish an accept
 * first), or is gone. */
static bool proc_frozen(const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return true;
	bool frozen = true;
	struct dirent *de;
	while (frozen && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char tp[320];
		char st = 'X';
		snprintf(tp, sizeof(tp), "%s/task/%s", pid, de->d_name);
		if (proc_pgrp(tp, &st) >= 0)
			frozen = st == 'T' || st == 't' || st == 'Z' || st == 'X';
	}
	closedir(d);
	return frozen;
}

/* The held socket whose inode is ino, or -1. */
static int held_fd_of(const struct takeover *tk, unsigned long ino)
{
	for (size_t i = 0; i < tk->nheld; i++) {
		struct stat st;
		if (fstat(tk->held[i].fd, &st) == 0 && (unsigned long)st.st_ino == ino)
			return tk->held[i].fd;
	}
	return -1;
}

/* 1 when process pid has a connected socket whose local address is a held one: accepted on
 * it, so a request in flight. */
static int proc_busy(struct takeover *tk, const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0; /* gone */
	int pidfd = sys_pidfd_open((pid_t)atoi(pid), 0);
	int busy = 0;
	struct dirent *de;
	while (pidfd >= 0 && !busy && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char lp[320], link[64];
		snprintf(lp, sizeof(lp), "/proc/%s/fd/%s", pid, de->d_name);
		ssize_t n = readlink(lp, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		unsigned long ino;
		if (sscanf(link, "socket:[%lu]", &ino) != 1 || held_fd_of(tk, ino) >= 0)
			continue;
		int fd = sys_pidfd_getfd(pidfd, atoi(de->d_name), 0);
		if (fd < 0)
			continue;
		char key[TK_KEY_MAX];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (sock_key(fd, key) == 1 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
			for (size_t i = 0; i < tk->nheld && !busy; i++)
				busy = strcmp(tk->held[i].key, key) == 0;
		close(fd);
	}
	if (pidfd >= 0)
		close(pidfd);
	closedir(d);
	return busy;
}

/* Connections waiting in the accept queue of a held TCP socket gen bound. */
static bool queues_busy(const struct takeover *tk, int gen)
{
	for (size_t i = 0; i < tk->nheld; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		if (held_has(&tk->held[i], gen) && !tk->held[i].route &&
		    getsockopt(tk->held[i].fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
		    ti.tcpi_state == TCP_LISTEN && ti.tcpi_unacked > 0)
			return true;
	}
	return false;
}

int takeover_group_busy(struct takeover *tk, pid_t pgid, int gen, bool queues)
{
	if (queues && queues_busy(tk, gen))
		return 1;
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int busy = 0;
	struct dirent *de;
	while (!busy && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_pgrp(de->d_name, NULL) == pgid)
			busy = !proc_frozen(de->d_name) || proc_busy(tk, de->d_name);
	}
	closedir(d);
	return busy;
}

/* epoll_ctl(DEL) on another process's epoll set ep: the kernel finds an entry by file and fd
 * number, so file is put at number num in baton's own table for the call (baton has one
 * thread), and whatever was there is put back. */
static int epoll_del_as(int ep, int file, int num)
{
	int saved = fcntl(num, F_DUPFD_CLOEXEC, 3);
	if (saved < 0 && errno != EBADF)
		return -errno;
	if (ep == num)
		ep = saved;
	if (file == num)
		file = saved;
	int r = 0;
	if (dup3(file, num, O_CLOEXEC) < 0 || epoll_ctl(ep, EPOLL_CTL_DEL, num, NULL) < 0)
		r = -errno;
	if (saved >= 0) {
		dup3(saved, num, O_CLOEXEC);
		close(saved);
	} else {
		close(num);
	}
	return r;
}

/* The held sockets in epoll set fd of process pid (pidfd): removed. */
static int proc_unwatch_ep(struct takeover *tk, const char *pid, int pidfd, int fd)
{
	char path[320];
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%d", pid, fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[256];
	int n = 0, ep = -1;
	while (fgets(line, sizeof(line), f)) {
		int tfd;
		unsigned long ino;
		const char *p = strstr(line, "ino:");
		if (sscanf(line, "tfd: %d", &tfd) != 1 || !p || sscanf(p, "ino:%lx", &ino) != 1)
			continue;
		int held = held_fd_of(tk, ino);
		if (held < 0)
			continue;
		if (ep < 0 && (ep = sys_pidfd_getfd(pidfd, fd, 0)) < 0)
			break;
		n += epoll_del_as(ep, held, tfd) == 0;
	}
	if (ep >= 0)
		close(ep);
	fclose(f);
	return n;
}

static int proc_unwatch(struct takeover *tk, const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int pidfd = sys_pidfd_open((pid_t)atoi(pid), 0);
	int n = 0;
	struct dirent *de;
	while (pidfd >= 0 && (de = readdir(d))) {
		char lp[320], link[64];
		snprintf(lp, sizeof(lp), "/proc/%s/fd/%s", pid, de->d_name);
		ssize_t len = readlink(lp, link, sizeof(link) - 1);
		if (len <= 0 || de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[eventpoll]") == 0)
			n += proc_unwatch_ep(tk, pid, pidfd, atoi(de->d_name));
	}
	if (pidfd >= 0)
		close(pidfd);
	closedir(d);
	return n;
}

int takeover_group_unwatch(struct takeover *tk, pid_t pgid)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    proc_pgrp(de->d_name, NULL) == pgid)
			n += proc_unwatch(tk, de->d_name);
	}
	closedir(d);
	return n;
}

char *takeover_addresses(const struct takeover *tk, int gen)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t i = 0; i < tk->nheld; i++)
		if (held_has(&tk->held[i], gen))
			buf_printf(&b, "%s%s", b.len ? " " : "", tk->held[i].key);
	return buf_detach(&b);
}
