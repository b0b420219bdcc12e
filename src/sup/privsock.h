/* A generation's private socket (proxy mode, `[[listen]] proxy = "http"`): the listening socket
 * handed to that generation instead of the public one (same fd slot, same LISTEN_FDNAMES name),
 * which the front connects to. A unix socket file "gen<N>.<name>.sock" in dir (the control
 * socket's directory: baton's own, 0700), mode 0600: only baton's uid reaches the app behind
 * the front. When that path does not fit in sun_path, an abstract name
 * "@baton.<pid>.gen<N>.<index>" instead.
 *
 * Ownership: on success ps holds a blocking, CLOEXEC listening fd and, for a file, its path;
 * privsock_close() closes the fd and unlinks the file. On failure nothing is left behind. */
#ifndef BATON_PRIVSOCK_H
#define BATON_PRIVSOCK_H

#include <sys/socket.h>

struct privsock {
	int fd;
	struct sockaddr_storage addr; /* what the front connects to */
	socklen_t addrlen;
	char *path; /* the socket file; NULL for an abstract name */
};

/* 0, or -errno with *err set (caller frees). index is the listener's position (abstract names);
 * name its LISTEN_FDNAMES name. A stale file of that name (nobody listening) is replaced. */
int privsock_open(struct privsock *ps, const char *dir, unsigned gen, int index, const char *name,
		  int backlog, char **err);
/* ---- loopback TCP private sockets (proxy = "http": [proxy] private_socket = "tcp", an app
 * that binds its own port under takeover, forward) ---- */

/* A listening TCP socket on a port the kernel picks: family AF_INET on 127.0.0.1, AF_INET6 on
 * ::1 (or ::ffff:127.0.0.1 when ::1 is not configured). Same contract as privsock_open() (no
 * path). 0, or -errno with *err set. */
int privsock_open_tcp(struct privsock *ps, int family, int backlog, char **err);
/* Pick a free port on the address in *ss (its port ignored) and write it there: bound and
 * released at once, so another process may take it before the app binds it (rare: the kernel
 * starts its search at a random port). 0, or -errno with *err set. */
int privsock_pick_port(struct sockaddr_storage *ss, socklen_t len, char **err);

/* Close the fd (if open) and unlink the file (if any). Safe to call twice. */
void privsock_close(struct privsock *ps);

#endif
