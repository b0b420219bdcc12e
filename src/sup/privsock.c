/* Private sockets of generations behind the front (privsock.h). */
#include "sup/privsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
