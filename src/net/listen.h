/* Listening sockets that baton holds for its whole life and hands to every generation.
 *
 * Addresses (parsed by listen_addr.h):
 *   ":8080"          every address: one IPv6 socket with IPV6_V6ONLY=0 (dual-stack, IPv4 clients
 *                    arrive as ::ffff:a.b.c.d); falls back to 0.0.0.0 when IPv6 is unavailable
 *   "[::]:8080"      the same dual-stack socket, without the IPv4 fallback
 *   "0.0.0.0:8080"   IPv4 only;   "127.0.0.1:8080", "[::1]:8080": that address only
 *   "localhost:8080" 127.0.0.1 (no resolver); any other host name is resolved once with
 *                    getaddrinfo() (blocking; the first IPv4 result, else the first result)
 *   "unix:/p", "unix:rel" (relative to opts->root), "unix:@name" (abstract, no trailing NUL)
 * Port 0 binds an ephemeral port; `bound` and `port` report the real one.
 *
 * Every socket is SOCK_STREAM, CLOEXEC, blocking (the mode is shared with the apps: see
 * zero-downtime.md §5.1), SO_REUSEADDR for TCP, listen(backlog). A stale unix socket file is
 * replaced only when connecting to it is refused (nobody listens); one in use is an error.
 *
 * Ownership: a struct listener owns its fd; listen_close() closes it and unlinks the socket
 * file it created (only if the file there is still that socket). Adopted sockets (from systemd)
 * move from the struct listen_adopted to the listener that claims them; unclaimed ones are
 * closed by listen_adopted_free(). */
#ifndef BATON_LISTEN_H
#define BATON_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/listen_addr.h"

struct listen_adopted;

struct listener {
	char *name;    /* LISTEN_FDNAMES entry */
	char *address; /* as configured */
	char *bound;   /* what it is bound to: "127.0.0.1:41234", ":8080", "[::1]:8080",
			* "unix:/abs/path", "unix:@name" */
	int fd;
	int family;   /* AF_INET, AF_INET6 or AF_UNIX */
	int port;     /* TCP: the bound port; 0 for unix sockets */
	bool adopted; /* handed to baton by systemd */
	/* private */
	struct listen_addr spec;
	char *path; /* unix: the absolute path configured */
	bool unlink_on_close;
	dev_t dev;
	ino_t ino;
};

struct listen_opts {
	const char *root;		/* base for relative unix paths; NULL: cwd */
	int backlog;			/* <= 0: 4096 */
	struct listen_adopted *adopted; /* systemd's sockets to claim first, or NULL */
};

/* Open (or adopt) the listener `name` on address. Returns 0 with *out set, or -errno with *err
 * (if err is not NULL) set to a message the caller frees:
 * `cannot listen on ":8080": Address already in use`. */
int listen_open(const char *name, const char *address, const struct listen_opts *opts,
		struct listener **out, char **err);
void listen_close(struct listener *ls);
/* True when address (resolved like listen_open would) is what ls was opened for: the test for
 * keeping a socket across a config reload. */
bool listen_matches(const struct listener *ls, const char *address, const char *root);

/* Sockets systemd passed to baton: LISTEN_PID must be baton's pid; LISTEN_FDS fds from 3 get
 * CLOEXEC; LISTEN_FDNAMES names them. LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES (and
 * LISTEN_PIDFDID) are removed from baton's environment in every case. Returns the number of
 * sockets adopted (0 with *out NULL when there are none), or -errno. */
int listen_adopt_env(struct listen_adopted **out);
size_t listen_adopted_count(const struct listen_adopted *a);
/* Closes every socket no listener claimed. */
void listen_adopted_free(struct listen_adopted *a);
/* Add fd (a listening socket taken from elsewhere: an orphaned generation, see adopt.h) to *set
 * under name, creating the set when *set is NULL. The set owns fd from then on. */
void listen_adopted_add(struct listen_adopted **set, int fd, const char *name);
/* True when fd is a listening stream socket bound to address as listen_open() would resolve it
 * (relative unix paths against root; a host name is resolved). */
bool listen_fd_matches(int fd, const char *address, const char *root);

#endif
