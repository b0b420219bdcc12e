/* Test helper: report what a child of baton sees, one fact per line, then exit 0.
 *   LISTEN_FDS=<value|(unset)>  LISTEN_PID=<match|mismatch:V|(unset)>
 *   LISTEN_FDNAMES=<value|(unset)>  NOTIFY_SOCKET=<value|(unset)>  BATON_GENERATION=...
 *   stdin=<readlink of fd 0>
 *   fd<N> family=<inet|inet6|unix|?> type=<stream|dgram|?> listening=<0|1> cloexec=<0|1>
 *         addr=<a.b.c.d:port|[v6]:port|unix:/path|unix:@name>       for N in 3..3+LISTEN_FDS-1
 *   extra=<none|fd list>          every other open fd >= 3+LISTEN_FDS
 *   args=<argv[1..] joined by ','>
 * Used by test_child.c to check the LISTEN_FDS layout end to end. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void env_line(const char *key)
{
	const char *v = getenv(key);
	printf("%s=%s\n", key, v ? v : "(unset)");
}

static void describe_addr(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		printf("addr=?");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		printf("addr=%s:%u", host, ntohs(s->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		printf("addr=[%s]:%u", host, ntohs(s->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *s = (struct sockaddr_un *)&ss;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n > 0 && s->sun_path[0] == '\0')
			printf("addr=unix:@%.*s", (int)(n - 1), s->sun_path + 1);
		else
			printf("addr=unix:%s", s->sun_path);
	} else {
		printf("addr=?");
	}
}

static void describe_fd(int fd)
{
	int v = 0, type = 0, acc = 0;
	socklen_t l = sizeof(v);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	const char *fam = "?";
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		fam = ss.ss_family == AF_INET	 ? "inet"
		      : ss.ss_family == AF_INET6 ? "inet6"
		      : ss.ss_family == AF_UNIX	 ? "unix"
						 : "?";
	l = sizeof(type);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
	l = sizeof(acc);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l);
	int fl = fcntl(fd, F_GETFD);
	printf("fd%d family=%s type=%s listening=%d cloexec=%d ", fd, fam,
	       type == SOCK_STREAM  ? "stream"
	       : type == SOCK_DGRAM ? "dgram"
				    : "?",
	       acc,
	       fl < 0		   ? -1
	       : (fl & FD_CLOEXEC) ? 1
				   : 0);
	describe_addr(fd);
	printf("\n");
	(void)v;
}

int main(int argc, char **argv)
{
	/* look at the fds before stdio or anything else can open one */
	struct rlimit rl;
	int maxfd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		maxfd = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	const char *s = getenv("LISTEN_FDS");
	int n = s ? atoi(s) : 0;
	int extra[64], nextra = 0;
	for (int fd = 3 + (n > 0 ? n : 0); fd < maxfd && nextra < 64; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			extra[nextra++] = fd;

	env_line("LISTEN_FDS");
	const char *p = getenv("LISTEN_PID");
	if (!p)
		printf("LISTEN_PID=(unset)\n");
	else if (atol(p) == (long)getpid())
		printf("LISTEN_PID=match\n");
	else
		printf("LISTEN_PID=mismatch:%s\n", p);
	env_line("LISTEN_FDNAMES");
	env_line("NOTIFY_SOCKET");
	env_line("BATON_GENERATION");
	char link[PATH_MAX];
	ssize_t ll = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
	printf("stdin=%.*s\n", ll > 0 ? (int)ll : 1, ll > 0 ? link : "?");
	for (int i = 0; i < n; i++)
		describe_fd(3 + i);
	printf("extra=");
	if (!nextra)
		printf("none");
	for (int i = 0; i < nextra; i++)
		printf("%s%d", i ? "," : "", extra[i]);
	printf("\nargs=");
	for (int i = 1; i < argc; i++)
		printf("%s%s", i > 1 ? "," : "", argv[i]);
	printf("\n");
	return 0;
}
