#include "net/unixsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "util/sys.h"
#include "util/xalloc.h"

#define UNIXSOCK_BIND_ATTEMPTS 3

/* ---- addresses ---- */

/* path does not fit: address it as /proc/self/fd/N/NAME through an O_PATH fd of its parent. */
static int fill_long(struct unixsock_addr *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -ENAMETOOLONG;
	char *dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	free(dir);
	if (fd < 0)
		return -e;
	int k = snprintf(a->sun.sun_path, sizeof(a->sun.sun_path), "/proc/self/fd/%d/%s", fd,
			 slash + 1);
	if (k < 0 || (size_t)k >= sizeof(a->sun.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)k + 1);
	a->dirfd = fd;
	return 0;
}

int unixsock_addr_fill(struct unixsock_addr *a, const char *path, unsigned flags)
{
	size_t n = strlen(path);
	memset(&a->sun, 0, sizeof(a->sun));
	a->sun.sun_family = AF_UNIX;
	a->len = 0;
	a->dirfd = -1;
	if (n == 0 || (path[0] == '@' && n == 1))
		return -EINVAL;
	if (path[0] == '@') {
		if (n - 1 > sizeof(a->sun.sun_path) - 1)
			return -ENAMETOOLONG;
		memcpy(a->sun.sun_path + 1, path + 1, n - 1);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (n < sizeof(a->sun.sun_path)) {
		memcpy(a->sun.sun_path, path, n);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	return flags & UNIXSOCK_LONG_PATH ? fill_long(a, path) : -ENAMETOOLONG;
}

void unixsock_addr_release(struct unixsock_addr *a)
{
	if (a->dirfd >= 0)
		close(a->dirfd);
	a->dirfd = -1;
}

/* ---- binding ---- */

/* Is anybody bound at a? Connect from a socket of the given type: 0 (answered, or its backlog
 * is full), -ECONNREFUSED (a stale file), or -errno. */
static int probe(const struct unixsock_addr *a, int type)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r;
	while ((r = connect(fd, (const struct sockaddr *)&a->sun, a->len)) < 0 && errno == EINTR)
		;
	int e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EPROTOTYPE) /* EPROTOTYPE: bound, by another type */
		return 0;
	return -e;
}

/* The file at path is in the way of bind(): 0 when it was a stale socket, now removed (or gone
 * meanwhile), else -EADDRINUSE, -EEXIST or -errno. */
static int clear_stale(const char *path, const struct unixsock_addr *a, int type)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int r = probe(a, type);
	if (r == 0)
		return -EADDRINUSE;
	if (r == -ENOENT)
		return 0;
	if (r != -ECONNREFUSED)
		return r;
	log_debug("replacing the stale socket \"%s\"", path);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int unixsock_bind(int fd, const char *path, unsigned flags)
{
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -errno;
	struct unixsock_addr a;
	int r = unixsock_addr_fill(&a, path, flags);
	for (int attempt = 1; r == 0; attempt++) {
		r = sys_bind(fd, (const struct sockaddr *)&a.sun, a.len) < 0 ? -errno : 0;
		if (r != -EADDRINUSE || path[0] == '@' || attempt == UNIXSOCK_BIND_ATTEMPTS)
			break;
		r = clear_stale(path, &a, type);
	}
	unixsock_addr_release(&a);
	return r;
}

/* ---- text ---- */

char *unixsock_sockaddr_text(const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		return xasprintf("%s:%u", host, ntohs(sin->sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		return xasprintf("[%s]:%u", host, ntohs(sin6->sin6_port));
	}
	const struct sockaddr_un *sun = (const void *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = len > off ? len - off : 0;
	if (n > 0 && sun->sun_path[0] == '\0')
		return xasprintf("unix:@%.*s", (int)(n - 1), sun->sun_path + 1);
	return xasprintf("unix:%.*s", (int)strnlen(sun->sun_path, n), sun->sun_path);
}
