/* Unix-domain socket addresses, shared by listen, notify and the control socket: filling a
 * sockaddr_un (filesystem paths, "@abstract" names, paths too long for sun_path), binding with
 * stale-socket replacement, and any socket address as text.
 *
 * Ownership: a struct unixsock_addr may hold an fd (dirfd, long paths only): the caller releases
 * it with unixsock_addr_release() once bind() or connect() is done. unixsock_sockaddr_text()
 * returns a string the caller frees. */
#ifndef BATON_UNIXSOCK_H
#define BATON_UNIXSOCK_H

#include <sys/socket.h>
#include <sys/un.h>

/* A path longer than sun_path is reached through its directory: the address becomes
 * /proc/self/fd/N/NAME, N an O_PATH fd of the parent held in dirfd. Without the flag such a
 * path is -ENAMETOOLONG. */
#define UNIXSOCK_LONG_PATH 1u

struct unixsock_addr {
	struct sockaddr_un sun;
	socklen_t len;
	int dirfd; /* UNIXSOCK_LONG_PATH: the parent directory (O_PATH, CLOEXEC); else -1 */
};

/* Fill a for path: "@name" is the abstract name (no trailing NUL counted, as systemd and Go
 * bind it), anything else a filesystem path. 0, or -EINVAL (empty path or name) or
 * -ENAMETOOLONG; a->dirfd is -1 on failure. */
int unixsock_addr_fill(struct unixsock_addr *a, const char *path, unsigned flags);
/* Close a->dirfd (if any). */
void unixsock_addr_release(struct unixsock_addr *a);

/* Bind the AF_UNIX socket fd (of any type) to path ("@name" or a filesystem path, as
 * unixsock_addr_fill). A socket file in the way that nobody has bound any more (a probing
 * connect() from a socket of fd's type is refused) is unlinked and the bind retried; one that
 * answers is left alone (-EADDRINUSE), and so is a path that is not a socket (-EEXIST). Other
 * failures are -errno. The caller sets the umask the socket file is created under. */
int unixsock_bind(int fd, const char *path, unsigned flags);

/* Text for a socket address: "1.2.3.4:80", "[::1]:80", "unix:/path", "unix:@name". */
char *unixsock_sockaddr_text(const struct sockaddr *sa, socklen_t len);

#endif
