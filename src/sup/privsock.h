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
/* Close the fd (if open) and unlink the file (if any). Safe to call twice. */
void privsock_close(struct privsock *ps);

#endif
