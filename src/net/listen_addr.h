/* Listener addresses as users write them in baton.toml:
 *   ":8080"  "0.0.0.0:8080"  "127.0.0.1:8080"  "localhost:8080"  "[::1]:8080"  "[::]:8080"
 *   "unix:/run/app.sock"  "unix:relative.sock"  "unix:@abstract-name"
 * Pure: no allocation, no I/O, no name resolution (a hostname is checked for shape only). */
#ifndef BATON_LISTEN_ADDR_H
#define BATON_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

enum listen_addr_family {
	LISTEN_ADDR_TCP,      /* host + port; host "" means every address (IPv4 and IPv6) */
	LISTEN_ADDR_UNIX,     /* a filesystem path (relative paths are relative to root) */
	LISTEN_ADDR_ABSTRACT, /* Linux abstract namespace: path holds the name without '@' */
};

/* sun_path is 108 bytes: a path needs its NUL, an abstract name its leading NUL byte. */
#define LISTEN_ADDR_PATH_MAX 108
#define LISTEN_ADDR_HOST_MAX 256

struct listen_addr {
	enum listen_addr_family family;
	char host[LISTEN_ADDR_HOST_MAX]; /* TCP: "" (any), "127.0.0.1", "::1" (no brackets), "name"
					  */
	bool host_v6;			 /* TCP: host was written in brackets (an IPv6 literal) */
	int port;			 /* TCP: 0..65535 (0: the kernel picks one) */
	char path[LISTEN_ADDR_PATH_MAX]; /* UNIX: the path; ABSTRACT: the name */
};

/* Parse s into *out. Returns 0, or -EINVAL with *err (if err is not NULL) set to a lowercase
 * reason the caller frees. */
int listen_addr_parse(const char *s, struct listen_addr *out, char **err);
/* Canonical text for a ("[::1]:8080", ":8080", "unix:/p", "unix:@name") into out; returns the
 * length snprintf would have written. */
int listen_addr_format(const struct listen_addr *a, char *out, size_t outlen);
/* True when binding both would conflict: same family and path, or TCP on the same non-zero
 * port where the hosts are equal or either is the wildcard. */
bool listen_addr_conflict(const struct listen_addr *a, const struct listen_addr *b);
/* True for a wildcard TCP host: "", "0.0.0.0", "::". */
bool listen_addr_is_any(const struct listen_addr *a);

#endif
