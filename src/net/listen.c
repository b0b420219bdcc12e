#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "net/unixsock.h"
#include "util/sys.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define LISTEN_BACKLOG_DEFAULT 4096
#define LISTEN_ADOPT_MAX 1024

struct adopted_sock {
	int fd; /* -1 once claimed */
	char *name;
};

struct listen_adopted {
	struct adopted_sock *v;
	size_t n;
};

/* A configured address resolved to what bind() takes. */
struct resolved {
	struct sockaddr_storage ss;
	socklen_t len;
	bool wildcard;	     /* TCP "" or "::" or "0.0.0.0" */
	bool dual;	     /* IPv6 wildcard with IPV6_V6ONLY=0 */
	bool v4_fallback;    /* ":port": fall back to 0.0.0.0 without IPv6 */
	char path[PATH_MAX]; /* unix: absolute path */
};

/* ---- resolving ---- */

static void set_v4(struct resolved *r, const struct in_addr *a, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->ss;
	memset(&r->ss, 0, sizeof(r->ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr = *a;
	r->len = sizeof(*sin);
}

static void set_v6(struct resolved *r, const struct in6_addr *a, int port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->ss;
	memset(&r->ss, 0, sizeof(r->ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	sin6->sin6_addr = *a;
	r->len = sizeof(*sin6);
}

static int resolve_host(const char *host, int port, struct resolved *r)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, NULL, &hints, &res);
	if (g != 0)
		return g == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	const struct addrinfo *pick = res;
	for (const struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	int rr = -EAFNOSUPPORT;
	if (pick && pick->ai_family == AF_INET) {
		set_v4(r, &((const struct sockaddr_in *)(const void *)pick->ai_addr)->sin_addr,
		       port);
		rr = 0;
	} else if (pick && pick->ai_family == AF_INET6) {
		set_v6(r, &((const struct sockaddr_in6 *)(const void *)pick->ai_addr)->sin6_addr,
		       port);
		rr = 0;
	}
	freeaddrinfo(res);
	return rr;
}

static int resolve(const struct listen_addr *a, const char *root, struct resolved *r)
{
	memset(r, 0, sizeof(*r));
	if (a->family == LISTEN_ADDR_TCP) {
		struct in_addr a4;
		struct in6_addr a6;
		if (!a->host[0] || (a->host_v6 && strcmp(a->host, "::") == 0)) {
			set_v6(r, &in6addr_any, a->port);
			r->wildcard = r->dual = true;
			r->v4_fallback = !a->host[0];
			return 0;
		}
		if (a->host_v6) {
			if (inet_pton(AF_INET6, a->host, &a6) != 1)
				return -EINVAL;
			set_v6(r, &a6, a->port);
			return 0;
		}
		if (strcasecmp(a->host, "localhost") == 0) {
			a4.s_addr = htonl(INADDR_LOOPBACK);
			set_v4(r, &a4, a->port);
			return 0;
		}
		if (inet_pton(AF_INET, a->host, &a4) == 1) {
			set_v4(r, &a4, a->port);
			r->wildcard = a4.s_addr == htonl(INADDR_ANY);
			return 0;
		}
		return resolve_host(a->host, a->port, r);
	}
	struct unixsock_addr ua;
	int rc;
	if (a->family == LISTEN_ADDR_ABSTRACT) {
		char *name = xasprintf("@%s", a->path);
		rc = unixsock_addr_fill(&ua, name, 0);
		free(name);
	} else {
		int n;
		if (a->path[0] == '/') {
			n = snprintf(r->path, sizeof(r->path), "%s", a->path);
		} else {
			char cwd[PATH_MAX];
			if (!root) {
				if (!getcwd(cwd, sizeof(cwd)))
					return -errno;
				root = cwd;
			}
			n = snprintf(r->path, sizeof(r->path), "%s/%s", root, a->path);
		}
		if (n < 0 || (size_t)n >= sizeof(r->path))
			return -ENAMETOOLONG;
		rc = unixsock_addr_fill(&ua, r->path, 0);
	}
	if (rc < 0)
		return rc == -EINVAL ? -ENAMETOOLONG : rc;
	memcpy(&r->ss, &ua.sun, sizeof(ua.sun));
	r->len = ua.len;
	return 0;
}

/* ---- socket names ---- */

static bool sockaddr_equal(const struct sockaddr_storage *a, socklen_t alen,
			   const struct sockaddr_storage *b, socklen_t blen)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

static int sock_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

/* Fill family, port and bound from the socket itself. */
static int describe(struct listener *ls, const struct listen_addr *a, bool wildcard)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(ls->fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	ls->family = ss.ss_family;
	ls->port = sock_port(&ss);
	if (a && a->family == LISTEN_ADDR_TCP && wildcard && !a->host[0])
		ls->bound = xasprintf(":%d", ls->port);
	else
		ls->bound = unixsock_sockaddr_text((const struct sockaddr *)&ss, len);
	return 0;
}

/* ---- binding ---- */

/* A listening socket bound to r, or to unix_path ("/abs" or "@name", replacing a stale socket
 * file) when not NULL. The fd, or -errno. */
static int bind_listen(int family, const struct resolved *r, const char *unix_path, int backlog,
		       bool dual)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, zero = 0, e;
	if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 && dual &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (unix_path) {
		e = -unixsock_bind(fd, unix_path, 0);
		if (e)
			goto fail_e;
	} else if (sys_bind(fd, (const struct sockaddr *)&r->ss, r->len) < 0) {
		goto fail;
	}
	if (listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
fail_e:
	close(fd);
	return -e;
}

static int open_tcp(struct listener *ls, struct resolved *r, int backlog)
{
	int fd = bind_listen(r->ss.ss_family, r, NULL, backlog, r->dual);
	if (fd == -EAFNOSUPPORT && r->v4_fallback) {
		/* no IPv6 on this host: every address means every IPv4 address */
		struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
		int port = sock_port(&r->ss);
		set_v4(r, &any, port);
		fd = bind_listen(AF_INET, r, NULL, backlog, false);
	}
	if (fd < 0)
		return fd;
	ls->fd = fd;
	return 0;
}

static int open_unix(struct listener *ls, const struct listen_addr *a, const struct resolved *r,
		     int backlog)
{
	char *abstract = NULL;
	if (a->family == LISTEN_ADDR_UNIX) {
		int c = dir_make_parents(r->path,
					 0755) /* the socket file's mode decides who connects */;
		if (c < 0)
			return c;
	} else {
		abstract = xasprintf("@%s", a->path);
	}
	int fd = bind_listen(AF_UNIX, r, abstract ? abstract : r->path, backlog, false);
	free(abstract);
	if (fd < 0)
		return fd;
	ls->fd = fd;
	if (a->family == LISTEN_ADDR_UNIX) {
		struct stat st;
		if (lstat(r->path, &st) == 0) {
			ls->unlink_on_close = true;
			ls->dev = st.st_dev;
			ls->ino = st.st_ino;
		}
	}
	return 0;
}

/* ---- adoption ---- */

static bool is_listening_stream(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0 || !v)
		return false;
	l = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_STREAM;
}

static bool fd_matches(int fd, const struct resolved *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (r->wildcard && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		int want = sock_port(&r->ss);
		bool is_any = false;
		if (ss.ss_family == AF_INET)
			is_any = ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
		else
			is_any = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
		return is_any && (want == 0 || want == sock_port(&ss));
	}
	if (sock_port(&r->ss) == 0 && ss.ss_family != AF_UNIX) {
		struct sockaddr_storage tmp = ss;
		if (tmp.ss_family == AF_INET)
			((struct sockaddr_in *)&tmp)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&tmp)->sin6_port = 0;
		return sockaddr_equal(&tmp, len, &r->ss, r->len);
	}
	return sockaddr_equal(&ss, len, &r->ss, r->len);
}

/* Take an adopted socket for this listener: by name first, then by address. -1 if none. */
static int adopt_claim(struct listen_adopted *ad, const char *name, const struct resolved *r,
		       bool have_r)
{
	if (!ad)
		return -1;
	for (size_t i = 0; i < ad->n; i++) {
		struct adopted_sock *s = &ad->v[i];
		if (s->fd >= 0 && s->name && strcmp(s->name, name) == 0) {
			int fd = s->fd;
			s->fd = -1;
			return fd;
		}
	}
	for (size_t i = 0; have_r && i < ad->n; i++) {
		struct adopted_sock *s = &ad->v[i];
		if (s->fd >= 0 && fd_matches(s->fd, r)) {
			int fd = s->fd;
			s->fd = -1;
			return fd;
		}
	}
	return -1;
}

int listen_adopt_env(struct listen_adopted **out)
{
	*out = NULL;
	char *spid = getenv("LISTEN_PID") ? xstrdup(getenv("LISTEN_PID")) : NULL;
	char *sfds = getenv("LISTEN_FDS") ? xstrdup(getenv("LISTEN_FDS")) : NULL;
	char *snames = getenv("LISTEN_FDNAMES") ? xstrdup(getenv("LISTEN_FDNAMES")) : NULL;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("LISTEN_PIDFDID");
	int r = 0;
	if (!spid || !sfds)
		goto out;
	char *end;
	errno = 0;
	long pid = strtol(spid, &end, 10);
	if (errno || *end || pid != (long)getpid()) {
		log_debug("LISTEN_PID \"%s\" is not baton's pid: no sockets adopted", spid);
		goto out;
	}
	long n = strtol(sfds, &end, 10);
	if (errno || *end || n <= 0 || n > LISTEN_ADOPT_MAX) {
		log_warn("ignoring invalid LISTEN_FDS \"%s\"", sfds);
		goto out;
	}
	/* names: one per fd, or none at all */
	char **names = xcalloc((size_t)n, sizeof(char *));
	if (snames) {
		long cnt = 1;
		for (const char *p = snames; *p; p++)
			cnt += *p == ':';
		if (cnt == n) {
			char *tok = snames;
			for (long i = 0; i < n; i++) {
				char *colon = strchr(tok, ':');
				if (colon)
					*colon = '\0';
				names[i] = xstrdup(tok);
				tok = colon ? colon + 1 : tok + strlen(tok);
			}
		} else {
			log_warn("LISTEN_FDNAMES has %ld names for %ld sockets: names ignored", cnt,
				 n);
		}
	}
	struct listen_adopted *ad = xcalloc(1, sizeof(*ad));
	ad->v = xcalloc((size_t)n, sizeof(*ad->v));
	for (long i = 0; i < n; i++) {
		int fd = 3 + (int)i;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			log_warn("LISTEN_FDS: fd %d is not open", fd);
			free(names[i]);
			continue;
		}
		ad->v[ad->n].fd = fd;
		ad->v[ad->n].name = names[i];
		ad->n++;
	}
	free(names);
	*out = ad;
	r = (int)ad->n;
out:
	free(spid);
	free(sfds);
	free(snames);
	return r;
}

size_t listen_adopted_count(const struct listen_adopted *a)
{
	size_t n = 0;
	for (size_t i = 0; a && i < a->n; i++)
		n += a->v[i].fd >= 0;
	return n;
}

void listen_adopted_free(struct listen_adopted *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].fd >= 0)
			close(a->v[i].fd);
		free(a->v[i].name);
	}
	free(a->v);
	free(a);
}

/* ---- listeners ---- */

/* The message for a failure r of opening address (not a parse error). */
static char *open_message(int r, const struct listener *ls, const char *address)
{
	if (r == -EADDRINUSE && ls->spec.family == LISTEN_ADDR_UNIX)
		return xasprintf("cannot listen on \"%s\": another process is listening on it",
				 address);
	if (r == -EEXIST)
		return xasprintf("cannot listen on \"%s\": the path exists and is not a socket",
				 address);
	if (r == -EADDRNOTAVAIL && ls->spec.family == LISTEN_ADDR_TCP)
		return xasprintf("cannot listen on \"%s\": no such local address", address);
	return xasprintf("cannot listen on \"%s\": %s", address, strerror(-r));
}

int listen_open(const char *name, const char *address, const struct listen_opts *opts,
		struct listener **out, char **err)
{
	static const struct listen_opts defaults;
	if (!opts)
		opts = &defaults;
	*out = NULL;
	struct listener *ls = xcalloc(1, sizeof(*ls));
	ls->fd = -1;
	ls->name = xstrdup(name ? name : "");
	ls->address = xstrdup(address);
	char *why = NULL;
	int r = listen_addr_parse(address, &ls->spec, &why);
	if (r < 0) {
		if (err)
			*err = xasprintf("invalid listen address \"%s\": %s", address, why);
		free(why);
		goto fail;
	}
	struct resolved res;
	r = resolve(&ls->spec, opts->root, &res);
	if (res.path[0])
		ls->path = xstrdup(res.path);

	int fd = adopt_claim(opts->adopted, ls->name, &res, r == 0);
	if (fd >= 0) {
		ls->fd = fd;
		ls->adopted = true;
		if (!is_listening_stream(fd)) {
			r = -ENOTSOCK;
			if (err)
				*err = xasprintf("socket \"%s\" from systemd is not a listening "
						 "stream socket",
						 ls->name);
			goto fail;
		}
		if (r == 0 && !fd_matches(fd, &res))
			log_warn("listener \"%s\": systemd passed a socket on another address than "
				 "\"%s\"; using systemd's",
				 ls->name, address);
		r = describe(ls, NULL, false);
		if (r < 0)
			goto fail_msg;
		log_debug("adopted \"%s\" (%s) from systemd", ls->name, ls->bound);
		*out = ls;
		return 0;
	}
	if (r < 0)
		goto fail_msg;
	int backlog = opts->backlog > 0 ? opts->backlog : LISTEN_BACKLOG_DEFAULT;
	if (ls->spec.family == LISTEN_ADDR_TCP)
		r = open_tcp(ls, &res, backlog);
	else
		r = open_unix(ls, &ls->spec, &res, backlog);
	if (r < 0)
		goto fail_msg;
	r = describe(ls, &ls->spec, res.wildcard);
	if (r < 0)
		goto fail_msg;
	*out = ls;
	return 0;

fail_msg:
	if (err)
		*err = open_message(r, ls, address);
fail:
	ls->unlink_on_close = false;
	listen_close(ls);
	return r;
}

void listen_close(struct listener *ls)
{
	if (!ls)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->unlink_on_close && ls->path) {
		struct stat st;
		if (lstat(ls->path, &st) == 0 && st.st_dev == ls->dev && st.st_ino == ls->ino)
			unlink(ls->path);
	}
	free(ls->name);
	free(ls->address);
	free(ls->bound);
	free(ls->path);
	free(ls);
}

bool listen_matches(const struct listener *ls, const char *address, const char *root)
{
	struct listen_addr a;
	if (listen_addr_parse(address, &a, NULL) < 0 || a.family != ls->spec.family)
		return false;
	switch (a.family) {
	case LISTEN_ADDR_ABSTRACT:
		return strcmp(a.path, ls->spec.path) == 0;
	case LISTEN_ADDR_UNIX: {
		struct resolved r;
		return ls->path && resolve(&a, root, &r) == 0 && strcmp(r.path, ls->path) == 0;
	}
	case LISTEN_ADDR_TCP:
		break;
	}
	return a.port == ls->spec.port && a.host_v6 == ls->spec.host_v6 &&
	       strcasecmp(a.host, ls->spec.host) == 0;
}

/* ---- sockets taken from an orphaned generation (run's adoption, adopt.c) ---- */

void listen_adopted_add(struct listen_adopted **set, int fd, const char *name)
{
	if (!*set)
		*set = xcalloc(1, sizeof(**set));
	struct listen_adopted *ad = *set;
	ad->v = xrealloc(ad->v, (ad->n + 1) * sizeof(*ad->v));
	ad->v[ad->n].fd = fd;
	ad->v[ad->n].name = name ? xstrdup(name) : NULL;
	ad->n++;
}

bool listen_fd_matches(int fd, const char *address, const char *root)
{
	struct listen_addr spec;
	struct resolved res;
	return listen_addr_parse(address, &spec, NULL) == 0 && resolve(&spec, root, &res) == 0 &&
	       is_listening_stream(fd) && fd_matches(fd, &res);
}
