/* Test helper: an app that keeps a counter across its own restarts in systemd's file
 * descriptor store. On start it looks for an fd named "counter" in LISTEN_FDS/LISTEN_FDNAMES:
 * found, it increments the number in it; not found, it creates a memfd holding 1 and sends it
 * with FDSTORE=1 FDNAME=counter. It prints what it saw ("counter 2 at fd 4 · LISTEN_FDS=2
 * LISTEN_FDNAMES=http:counter"), says READY=1, and waits for a signal.
 *
 *   fdstore [remove-at N]   when the counter reaches N, send FDSTOREREMOVE=1 FDNAME=counter */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_msg(const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = strlen(msg)};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {.msg_name = &sa,
			    .msg_namelen =
				    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len),
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n = sendmsg(s, &mh, 0);
	close(s);
	return n < 0 ? -1 : 0;
}

/* The fd named name in LISTEN_FDNAMES, or -1. */
static int find_fd(const char *name, int nfds)
{
	const char *names = getenv("LISTEN_FDNAMES");
	int i = 0;
	for (const char *p = names; p && *p && i < nfds; i++) {
		size_t l = strcspn(p, ":");
		if (l == strlen(name) && strncmp(p, name, l) == 0)
			return 3 + i;
		p += l;
		if (*p == ':')
			p++;
	}
	return -1;
}

int main(int argc, char **argv)
{
	int remove_at = argc > 2 && strcmp(argv[1], "remove-at") == 0 ? atoi(argv[2]) : 0;
	const char *lf = getenv("LISTEN_FDS"), *lp = getenv("LISTEN_PID");
	int nfds = lf && lp && atoi(lp) == (int)getpid() ? atoi(lf) : 0;
	const char *names = getenv("LISTEN_FDNAMES");
	int fd = find_fd("counter", nfds);
	char buf[32] = "";
	long n;
	if (fd >= 0) {
		ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);
		n = r > 0 ? strtol(buf, NULL, 10) + 1 : -1;
		int len = snprintf(buf, sizeof(buf), "%ld", n);
		if (pwrite(fd, buf, (size_t)len, 0) != len)
			n = -2;
		printf("counter %ld at fd %d · LISTEN_FDS=%d LISTEN_FDNAMES=%s\n", n, fd, nfds,
		       names ? names : "");
	} else {
		fd = memfd_create("counter", MFD_CLOEXEC);
		if (fd < 0 || pwrite(fd, "1", 1, 0) != 1 ||
		    send_msg("FDSTORE=1\nFDNAME=counter", fd) < 0) {
			fprintf(stderr, "fdstore: %s\n", strerror(errno));
			return 1;
		}
		n = 1;
		printf("counter 1 stored · LISTEN_FDS=%d LISTEN_FDNAMES=%s\n", nfds,
		       names ? names : "");
	}
	if (remove_at && n == remove_at) {
		send_msg("FDSTOREREMOVE=1\nFDNAME=counter", -1);
		printf("counter removed\n");
	}
	fflush(stdout);
	send_msg("READY=1", -1);
	for (;;)
		pause();
}
