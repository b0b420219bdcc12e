/* Private sockets of generations behind the front (privsock.h). */
#include "sup/privsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "util/xalloc.h"

/* Bind fd to path under a umask that leaves 0600. 0 or -errno. */
static int bind_private(int fd, const char *path)
{
	mode_t old = umask(0177);
	int r = unixsock_bind(fd, path, 0);
	umask(old);
	return r;
}

int privsock_open(struct privsock *ps, const char *dir, unsigned gen, int index, const char *name,
		  int backlog, char **err)
{
	memset(ps, 0, sizeof(*ps));
	ps->fd = -1;
	char *path = xasprintf("%s/gen%u.%s.sock", dir, gen, name);
	char *shown = path;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;
	if (fd < 0) {
		r = -errno;
		*err = xasprintf("cannot create a private socket: %s", strerror(-r));
		goto out_free;
	}
	r = bind_private(fd, path);
	if (r == -ENAMETOOLONG) {
		free(path);
		path = NULL;
		shown = xasprintf("@baton.%ld.gen%u.%d", (long)getpid(), gen, index);
		r = unixsock_bind(fd, shown, 0);
	}
	if (r < 0) {
		*err = r == -EADDRINUSE
			       ? xasprintf("private socket %s: something listens there", shown)
		       : r == -EEXIST ? xasprintf("private socket %s: the path exists and is not a "
						  "socket",
						  shown)
				      : xasprintf("cannot bind the private socket %s: %s", shown,
						  strerror(-r));
		goto out_close;
	}
	if (listen(fd, backlog) < 0) {
		r = -errno;
		*err = xasprintf("cannot listen on the private socket %s: %s", shown, strerror(-r));
		goto out_unlink;
	}
	struct unixsock_addr a;
	r = unixsock_addr_fill(&a, shown, 0);
	if (r < 0) {
		*err = xasprintf("private socket %s: %s", shown, strerror(-r));
		goto out_unlink;
	}
	memcpy(&ps->addr, &a.sun, a.len);
	ps->addrlen = a.len;
	unixsock_addr_release(&a);
	ps->fd = fd;
	ps->path = path;
	if (shown != path)
		free(shown);
	return 0;
out_unlink:
	if (path)
		unlink(path);
out_close:
	close(fd);
out_free:
	if (shown != path)
		free(shown);
	free(path);
	return r;
}

/* Bind fd to the loopback address of family on port 0. 0 or -errno. */
static int bind_loopback(int fd, int family)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return bind(fd, (struct sockaddr *)in, sizeof(*in)) < 0 ? -errno : 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)in6, sizeof(*in6)) == 0)
		return 0;
	if (errno != EADDRNOTAVAIL)
		return -errno;
	/* no ::1 (IPv6 off on lo): 127.0.0.1 through the v4-mapped address */
	int off = 0;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	memset(&in6->sin6_addr, 0, sizeof(in6->sin6_addr));
	in6->sin6_addr.s6_addr[10] = 0xff;
	in6->sin6_addr.s6_addr[11] = 0xff;
	in6->sin6_addr.s6_addr[12] = 127;
	in6->sin6_addr.s6_addr[15] = 1;
	return bind(fd, (struct sockaddr *)in6, sizeof(*in6)) < 0 ? -errno : 0;
}

int privsock_open_tcp(struct privsock *ps, int family, int backlog, char **err)
{
	memset(ps, 0, sizeof(*ps));
	ps->fd = -1;
	if (family != AF_INET && family != AF_INET6) {
		*err = xasprintf("a loopback private socket is IPv4 or IPv6, not family %d",
				 family);
		return -EAFNOSUPPORT;
	}
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int r = -errno;
		*err = xasprintf("cannot create a private %s socket: %s", fam, strerror(-r));
		return r;
	}
	int r = bind_loopback(fd, family);
	if (r < 0) {
		*err = xasprintf("cannot bind a private %s socket on loopback: %s", fam,
				 strerror(-r));
		goto out_close;
	}
	if (listen(fd, backlog) < 0) {
		r = -errno;
		*err = xasprintf("cannot listen on a private %s socket: %s", fam, strerror(-r));
		goto out_close;
	}
	ps->addrlen = sizeof(ps->addr);
	if (getsockname(fd, (struct sockaddr *)&ps->addr, &ps->addrlen) < 0) {
		r = -errno;
		*err = xasprintf("private %s socket: %s", fam, strerror(-r));
		goto out_close;
	}
	ps->fd = fd;
	return 0;
out_close:
	close(fd);
	return r;
}

int privsock_pick_port(struct sockaddr_storage *ss, socklen_t len, char **err)
{
	int family = ss->ss_family;
	if (family != AF_INET && family != AF_INET6) {
		*err = xasprintf("a forward port is IPv4 or IPv6, not family %d", family);
		return -EAFNOSUPPORT;
	}
	if (family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = 0;
	socklen_t got = len;
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, &got) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		*err = xasprintf("cannot pick a free port for the app: %s", strerror(-r));
	return r;
}

void privsock_close(struct privsock *ps)
{
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
	if (ps->path)
		unlink(ps->path);
	free(ps->path);
	ps->path = NULL;
}
