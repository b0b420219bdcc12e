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
#include "core/log.h"
#include "util/fileio.h"
#include "util/sys.h"
#include "util/xalloc.h"

/* ---- addresses ---- */

/* Fill sun for path. Paths too long for sun_path go through the directory: *dirfd is an O_PATH
 * fd of the parent (the caller closes it after bind/connect) and the address is
 * /proc/self/fd/N/NAME. Returns 0 or -errno. */
static int sockaddr_for(const char *path, struct sockaddr_un *sun, socklen_t *len, int *dirfd)
{
	size_t n = strlen(path);
	*dirfd = -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0)
		return -EINVAL;
	if (n < sizeof(sun->sun_path)) {
		memcpy(sun->sun_path, path, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -ENAMETOOLONG;
	char *dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	free(dir);
	if (fd < 0)
		return -e;
	int k = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d/%s", fd,
			 slash + 1);
	if (k < 0 || (size_t)k >= sizeof(sun->sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)k + 1);
	*dirfd = fd;
	return 0;
}

int ctl_connect(const char *path, int64_t timeout_ms)
{
	struct sockaddr_un sun;
	socklen_t len;
	int dirfd;
	int r = sockaddr_for(path, &sun, &len, &dirfd);
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
	while ((r = connect(fd, (struct sockaddr *)&sun, len)) < 0 && errno == EINTR)
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
	if (dirfd >= 0)
		close(dirfd);
	return fd;
out_close:
	close(fd);
out_dir:
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/* mkdir -p the directory part of path, new directories 0700. 0 or -errno. */
static int make_parents(const char *path)
{
	char *p = xstrdup(path);
	int r = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			*s = '/';
			break;
		}
		*s = '/';
	}
	free(p);
	return r;
}

/* The socket's directory must be ours (or root's) and writable by nobody else, unless sticky
 * (/tmp): else another user could swap the socket for something else between our calls.
 * 0, or -errno with *err set. */
static int check_dir(const char *path, uid_t uid, char **err)
{
	char *slash = strrchr(path, '/');
	char *dir = !slash	     ? xstrdup(".")
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

/* bind() under a umask that leaves 0600. 0 or -errno. */
static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int dirfd;
	int r = sockaddr_for(path, &sun, &len, &dirfd);
	if (r < 0)
		return r;
	mode_t old = umask(0177);
	r = sys_bind(fd, (struct sockaddr *)&sun, len) < 0 ? -errno : 0;
	umask(old);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/* Bind, replacing a stale socket file. 0, or -errno with *err set. */
static int bind_or_replace(int fd, const char *path, const char *display, char **err)
{
	for (int attempt = 0;; attempt++) {
		int r = bind_path(fd, path);
		if (r != -EADDRINUSE || attempt == 2) {
			if (r < 0)
				*err = xasprintf("cannot bind the control socket %s: %s",
						 display, strerror(-r));
			return r;
		}
		struct stat st;
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			r = -errno;
			*err = xasprintf("cannot inspect %s: %s", display, strerror(-r));
			return r;
		}
		if (!S_ISSOCK(st.st_mode)) {
			*err = xasprintf("cannot create the control socket: %s exists and is not a "
					 "socket",
					 display);
			return -EEXIST;
		}
		int probe = ctl_connect(path, 0);
		if (probe >= 0 || probe == -EAGAIN) {
			if (probe >= 0)
				close(probe);
			*err = xasprintf("another baton is running on %s", display);
			return -EADDRINUSE;
		}
		if (probe == -ENOENT)
			continue;
		if (probe != -ECONNREFUSED) {
			*err = xasprintf("cannot check whether %s is in use: %s", display,
					 strerror(-probe));
			return probe;
		}
		log_debug("control socket: replacing the stale socket %s", display);
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			*err = xasprintf("cannot remove the stale control socket %s: %s",
					 display, strerror(-r));
			return r;
		}
	}
}

int ctl_sock_listen(const char *path, const char *display, uid_t uid, int backlog,
		    struct ctl_sock_id *id, char **err)
{
	struct stat st;
	int r = make_parents(path);
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
