#include "ctl/ctl_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "net/unixsock.h"
#include "util/fileio.h"
#include "util/xalloc.h"

int ctl_connect(const char *path, int64_t timeout_ms)
{
	struct unixsock_addr a;
	int r = unixsock_addr_fill(&a, path, UNIXSOCK_LONG_PATH);
	if (r < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (timeout_ms > 0 ? 0 : SOCK_NONBLOCK),
			0);
	if (fd < 0) {
		r = -errno;
		goto out_dir;
	}
	if (timeout_ms > 0) {
		/* a blocking AF_UNIX connect waits for backlog room at most SO_SNDTIMEO */
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	while ((r = connect(fd, (struct sockaddr *)&a.sun, a.len)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = errno == EINPROGRESS ? -EAGAIN : -errno;
		goto out_close;
	}
	struct timeval zero = {0};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
	if (fd_set_nonblock(fd, true) < 0) {
		r = -errno;
		goto out_close;
	}
	unixsock_addr_release(&a);
	return fd;
out_close:
	close(fd);
out_dir:
	unixsock_addr_release(&a);
	return r;
}

/* The socket's directory must be ours (or root's) and writable by nobody else, unless sticky
 * (/tmp): else another user could swap the socket for something else between our calls.
 * 0, or -errno with *err set. */
static int check_dir(const char *path, uid_t uid, char **err)
{
	char *slash = strrchr(path, '/');
	char *dir = !slash	    ? xstrdup(".")
		    : slash == path ? xstrdup("/")
				    : xstrndup(path, (size_t)(slash - path));
	struct stat st;
	int r = 0;
	if (stat(dir, &st) < 0) {
		r = -errno;
		*err = xasprintf("cannot inspect the control socket's directory %s: %s", dir,
				 strerror(-r));
	} else if (st.st_uid != uid && st.st_uid != 0) {
		r = -EPERM;
		*err = xasprintf(
			"the control socket's directory %s belongs to uid %u, not to baton's "
			"(%u): refusing to create the socket there",
			dir, (unsigned)st.st_uid, (unsigned)uid);
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		r = -EPERM;
		*err = xasprintf(
			"the control socket's directory %s is writable by %s (mode %04o) "
			"and not sticky: refusing to create the socket there (chmod go-w %s)",
			dir, (st.st_mode & S_IWOTH) ? "everyone" : "its group",
			(unsigned)(st.st_mode & 07777), dir);
	}
	free(dir);
	return r;
}

/* Bind under a umask that leaves 0600, replacing a stale socket file. 0, or -errno with *err
 * set. */
static int bind_or_replace(int fd, const char *path, const char *display, char **err)
{
	mode_t old = umask(0177);
	int r = unixsock_bind(fd, path, UNIXSOCK_LONG_PATH);
	umask(old);
	if (r == -EADDRINUSE)
		*err = xasprintf("another baton is running on %s", display);
	else if (r == -EEXIST)
		*err = xasprintf("cannot create the control socket: %s exists and is not a socket",
				 display);
	else if (r < 0)
		*err = xasprintf("cannot bind the control socket %s: %s", display, strerror(-r));
	return r;
}

int ctl_sock_listen(const char *path, const char *display, uid_t uid, int backlog,
		    struct ctl_sock_id *id, char **err)
{
	struct stat st;
	int r = dir_make_parents(path, 0700);
	if (r < 0) {
		*err = xasprintf("cannot create the directory of the control socket %s: %s",
				 display, strerror(-r));
		return r;
	}
	r = check_dir(path, uid, err);
	if (r < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		*err = xasprintf("cannot create the control socket: %s", strerror(-r));
		return r;
	}
	r = bind_or_replace(fd, path, display, err);
	if (r < 0)
		goto out_close;
	/* lstat: the entry itself, never a symlink's target. Nobody else can replace it in a
	 * directory check_dir() accepted, so a chmod (when a default ACL overrode the umask)
	 * reaches our socket */
	if (lstat(path, &st) < 0) {
		r = -errno;
		*err = xasprintf("cannot set up the control socket %s: %s", display, strerror(-r));
		goto out_unlink;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != uid) {
		r = -EPERM;
		*err = xasprintf("the control socket %s was replaced after bind", display);
		goto out_close; /* not ours: do not unlink it */
	}
	if ((st.st_mode & 07777) != 0600 && chmod(path, 0600) < 0) {
		r = -errno;
		*err = xasprintf("cannot set up the control socket %s: %s", display, strerror(-r));
		goto out_unlink;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	if (listen(fd, backlog) < 0) {
		r = -errno;
		*err = xasprintf("cannot listen on the control socket %s: %s", display,
				 strerror(-r));
		goto out_unlink;
	}
	return fd;

out_unlink:
	unlink(path);
out_close:
	close(fd);
	return r;
}

bool ctl_sock_is(const char *path, const struct ctl_sock_id *id)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id->dev &&
	       st.st_ino == id->ino;
}
