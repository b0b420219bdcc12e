#include "net/notify.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "net/unixsock.h"
#include "util/sys.h"
#include "util/xalloc.h"

/* Datagrams handled per wakeup before yielding to other sources. */
#define NOTIFY_BATCH 64
/* SCM_RIGHTS fds we make room for: the kernel's SCM_MAX_FD, so none is lost to truncation. */
#define NOTIFY_MAX_FDS 253

struct notify {
	struct loop *loop;
	struct loop_src *src;
	int fd;
	char *name;	   /* NOTIFY_SOCKET value */
	char *unlink_path; /* filesystem path we bound, or NULL */
	notify_cb cb;
	void *data;
	int busy; /* >0 while callbacks run */
	bool free_pending;
};

/* ---- parser ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	unsigned cp = c & (0xff >> (need + 1));
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static bool utf8_valid(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(s + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Strict decimal: digits only, no sign, no spaces, no overflow past max. */
static bool parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool value_is(const char *v, size_t vlen, const char *lit)
{
	return vlen == strlen(lit) && memcmp(v, lit, vlen) == 0;
}

static bool key_is(const char *k, size_t klen, const char *lit)
{
	return value_is(k, klen, lit);
}

static bool status_ok(const char *v, size_t vlen)
{
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool notify_fdname_valid(const char *name, size_t len)
{
	if (len == 0 || len > NOTIFY_FDNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e || name[i] == ':')
			return false;
	return true;
}

/* A "1"-only flag: sets *flag, or counts the value as invalid. */
static void set_flag(struct notify_msg *m, const char *v, size_t vlen, bool *flag)
{
	if (value_is(v, vlen, "1")) {
		*flag = true;
		m->n_fields++;
	} else {
		m->n_invalid++;
	}
}

static void parse_line(const char *line, size_t len, struct notify_msg *m)
{
	const char *eq = memchr(line, '=', len);
	if (!eq || eq == line) {
		m->n_ignored++;
		return;
	}
	const char *k = line, *v = eq + 1;
	size_t klen = (size_t)(eq - line), vlen = len - klen - 1;
	uint64_t u;

	if (key_is(k, klen, "READY")) {
		set_flag(m, v, vlen, &m->ready);
	} else if (key_is(k, klen, "RELOADING")) {
		set_flag(m, v, vlen, &m->reloading);
	} else if (key_is(k, klen, "STOPPING")) {
		set_flag(m, v, vlen, &m->stopping);
	} else if (key_is(k, klen, "BARRIER")) {
		set_flag(m, v, vlen, &m->barrier);
	} else if (key_is(k, klen, "FDSTORE")) {
		set_flag(m, v, vlen, &m->fdstore);
	} else if (key_is(k, klen, "FDSTOREREMOVE")) {
		set_flag(m, v, vlen, &m->fdstore_remove);
	} else if (key_is(k, klen, "FDNAME")) {
		if (notify_fdname_valid(v, vlen)) {
			m->has_fdname = true;
			m->fdname = v;
			m->fdname_len = vlen;
			m->n_fields++;
		} else {
			m->has_fdname = false;
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "FDPOLL")) {
		if (value_is(v, vlen, "0") || value_is(v, vlen, "1")) {
			m->has_fdpoll = true;
			m->fdpoll = v[0] == '1';
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "WATCHDOG")) {
		if (value_is(v, vlen, "trigger")) {
			m->watchdog_trigger = true;
			m->n_fields++;
		} else {
			set_flag(m, v, vlen, &m->watchdog);
		}
	} else if (key_is(k, klen, "STATUS")) {
		if (status_ok(v, vlen)) {
			m->has_status = true;
			m->status = v;
			m->status_len = vlen;
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "MAINPID")) {
		if (parse_u64(v, vlen, INT_MAX, &u) && u > 0) {
			m->has_mainpid = true;
			m->mainpid = (pid_t)u;
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "MONOTONIC_USEC")) {
		if (parse_u64(v, vlen, UINT64_MAX, &u)) {
			m->has_monotonic = true;
			m->monotonic_usec = u;
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "EXTEND_TIMEOUT_USEC")) {
		if (parse_u64(v, vlen, UINT64_MAX, &u)) {
			m->has_extend = true;
			m->extend_timeout_usec = u;
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else if (key_is(k, klen, "ERRNO")) {
		if (parse_u64(v, vlen, INT_MAX, &u)) {
			m->has_errno = true;
			m->errno_value = (int)u;
			m->n_fields++;
		} else {
			m->n_invalid++;
		}
	} else {
		m->n_ignored++;
	}
}

int notify_parse(const char *buf, size_t len, struct notify_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return -ENODATA;
	if (len > NOTIFY_MAX)
		return -EMSGSIZE;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	if (!utf8_valid(buf, len))
		return -EILSEQ;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le > p)
			parse_line(p, (size_t)(le - p), out);
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- receiver ---- */

/* Copy the fds passed with SCM_RIGHTS into fds (room for NOTIFY_MAX_FDS); returns how many. */
static size_t passed_fds(struct msghdr *mh, int *fds)
{
	size_t k = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, p + i * sizeof(int), sizeof(fd));
			if (k < NOTIFY_MAX_FDS)
				fds[k++] = fd;
			else
				close(fd);
		}
	}
	return k;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static pid_t sender_pid(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			return uc.pid;
		}
	}
	return 0;
}

/* Receive and dispatch one datagram. Returns false when the socket is drained. */
static bool notify_recv_one(struct notify *n)
{
	char buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = sizeof(ctl.b),
	};
	ssize_t len = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (len < 0) {
		if (errno == EINTR)
			return true;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_debug("notify: receive failed: %s", strerror(errno));
		return false;
	}
	int fds[NOTIFY_MAX_FDS];
	size_t nfds = passed_fds(&mh, fds);
	pid_t pid = sender_pid(&mh);
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || (size_t)len > NOTIFY_MAX) {
		log_debug("notify: dropped a truncated datagram from pid %d", (int)pid);
		close_fds(fds, nfds);
		return true;
	}
	if (pid <= 0) {
		log_debug("notify: dropped a datagram without sender credentials");
		close_fds(fds, nfds);
		return true;
	}
	struct notify_msg m;
	int r = notify_parse(buf, (size_t)len, &m);
	if (r < 0) {
		log_debug("notify: dropped a malformed datagram from pid %d: %s", (int)pid,
			  strerror(-r));
		close_fds(fds, nfds);
		return true;
	}
	n->cb(pid, &m, fds, nfds, n->data);
	close_fds(fds, nfds);
	return !n->free_pending;
}

static void notify_destroy(struct notify *n)
{
	loop_del(n->loop, n->src);
	close(n->fd);
	if (n->unlink_path)
		unlink(n->unlink_path);
	free(n->unlink_path);
	free(n->name);
	free(n);
}

static void notify_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct notify *n = data;
	n->busy++;
	for (int i = 0; i < NOTIFY_BATCH; i++)
		if (!notify_recv_one(n))
			break;
	n->busy--;
	if (!n->busy && n->free_pending)
		notify_destroy(n);
}

static int bind_receiver(struct notify *n, const char *path)
{
	struct sockaddr_un sa;
	if (!path) {
		/* autobind: the kernel picks a unique abstract name */
		sa_family_t fam = AF_UNIX;
		if (sys_bind(n->fd, (const struct sockaddr *)&fam, sizeof(fam)) < 0)
			return -errno;
		socklen_t alen = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		if (getsockname(n->fd, (struct sockaddr *)&sa, &alen) < 0)
			return -errno;
		size_t nl = alen - offsetof(struct sockaddr_un, sun_path);
		if (nl < 2 || sa.sun_path[0] != '\0')
			return -EPROTO;
		n->name = xmalloc(nl + 1);
		n->name[0] = '@';
		memcpy(n->name + 1, sa.sun_path + 1, nl - 1);
		n->name[nl] = '\0';
		return 0;
	}
	if (path[0] != '/' && path[0] != '@')
		return -EINVAL;
	int r = unixsock_bind(n->fd, path, 0);
	if (r < 0)
		return r;
	if (path[0] == '/')
		n->unlink_path = xstrdup(path);
	n->name = xstrdup(path);
	return 0;
}

struct notify *notify_new(struct loop *l, const char *path, notify_cb cb, void *data)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	n->loop = l;
	n->cb = cb;
	n->data = data;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		goto out_free;
	int one = 1, r;
	if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		goto out_close;
	r = bind_receiver(n, path);
	if (r < 0) {
		errno = -r;
		goto out_close;
	}
	n->src = loop_add(l, n->fd, EPOLLIN, notify_readable, n);
	if (!n->src)
		goto out_unlink;
	return n;

out_unlink:
	if (n->unlink_path) {
		int e = errno;
		unlink(n->unlink_path);
		errno = e;
	}
out_close : {
	int e = errno;
	close(n->fd);
	errno = e;
}
out_free:
	free(n->unlink_path);
	free(n->name);
	free(n);
	return NULL;
}

const char *notify_socket_path(const struct notify *n)
{
	return n->name;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	if (n->busy) {
		n->free_pending = true;
		return;
	}
	notify_destroy(n);
}

/* ---- sender ---- */

int notify_send_to(const char *socket_path, const char *msg)
{
	struct unixsock_addr sa;
	if (socket_path[0] != '/' && socket_path[0] != '@')
		return -EAFNOSUPPORT; /* e.g. "vsock:..." */
	int rc = unixsock_addr_fill(&sa, socket_path, 0);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	size_t len = strlen(msg);
	ssize_t r;
	do
		r = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa.sun, sa.len);
	while (r < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (r < 0)
		return -e;
	return (size_t)r == len ? 1 : -EMSGSIZE;
}

int notify_send(const char *msg)
{
	const char *p = getenv("NOTIFY_SOCKET");
	if (!p || !*p)
		return 0;
	return notify_send_to(p, msg);
}

/* ---- across baton's re-exec (`baton upgrade`, upgrade.h) ---- */

struct notify *notify_new_fd(struct loop *l, int fd, const char *name, notify_cb cb, void *data)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	n->loop = l;
	n->cb = cb;
	n->data = data;
	n->fd = fd;
	n->name = xstrdup(name);
	if (name[0] == '/')
		n->unlink_path = xstrdup(name);
	n->src = loop_add(l, fd, EPOLLIN, notify_readable, n);
	if (!n->src) {
		int e = errno;
		free(n->unlink_path);
		free(n->name);
		free(n);
		errno = e;
		return NULL;
	}
	return n;
}

int notify_fd(const struct notify *n)
{
	return n->fd;
}
