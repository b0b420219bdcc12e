/* Test helper: sd_notify senders the way real apps and tools send.
 *
 *   sdnotify ready            send READY=1, say "notified PID", then wait for a signal
 *   sdnotify extend USEC      send EXTEND_TIMEOUT_USEC=USEC (never READY=1), then wait
 *   sdnotify gone [mainpid]   READY=1 from a child that has exited and been reaped before baton
 *                             reads it: baton (our parent) is stopped with SIGSTOP while the
 *                             child sends (with MAINPID=<our pid> when asked) and we reap it,
 *                             then continued. Then wait.
 *   sdnotify detached         READY=1 from a grandchild re-parented to baton (its parent exited
 *                             and was reaped first), still in our process group; it stays.
 *   sdnotify handoff          a child (same group) sends READY=1 MAINPID=<its pid> and stays;
 *                             once baton has read that (BARRIER=1: baton closes the fd passed
 *                             with it after handling every earlier datagram) we exit 0.
 *
 * Every mode ends waiting for a signal (SIGTERM ends it). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int send_msg_fd(const char *msg, int fd);

static int send_msg(const char *msg)
{
	return send_msg_fd(msg, -1);
}

static int send_msg_fd(const char *msg, int pass)
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
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = strlen(msg)};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {.msg_name = &sa, .msg_namelen = alen, .msg_iov = &iov, .msg_iovlen = 1};
	if (pass >= 0) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	ssize_t n = sendmsg(fd, &mh, 0);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* sd_notify_barrier(): returns once baton has handled every datagram sent before. */
static int barrier(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	int r = send_msg_fd("BARRIER=1", p[1]);
	close(p[1]);
	char c;
	ssize_t n;
	while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(p[0]);
	return r;
}

static int handoff(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		char msg[64];
		snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
		close(p[0]);
		if (send_msg(msg) < 0)
			_exit(1);
		printf("main process %d\n", (int)getpid());
		fflush(stdout);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1 || barrier() < 0)
		return 1;
	printf("leader %d exits\n", (int)getpid());
	fflush(stdout);
	exit(0);
}

static _Noreturn void wait_forever(void)
{
	for (;;)
		pause();
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int gone(int with_mainpid)
{
	pid_t baton = getppid();
	char msg[64];
	if (with_mainpid)
		snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
	else
		snprintf(msg, sizeof(msg), "READY=1");
	if (kill(baton, SIGSTOP) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0)
		_exit(send_msg(msg) < 0 ? 1 : 0);
	reap(pid);
	kill(baton, SIGCONT);
	printf("notified from gone pid %d\n", (int)pid);
	fflush(stdout);
	return 0;
}

static int detached(void)
{
	int go[2];
	if (pipe(go) < 0)
		return 1;
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() == 0) {
			/* wait until our parent was reaped: we are baton's child now */
			char c;
			close(go[1]);
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			send_msg("READY=1");
			printf("notified from detached pid %d (parent %d)\n", (int)getpid(),
			       (int)getppid());
			fflush(stdout);
			wait_forever();
		}
		_exit(0);
	}
	reap(mid);
	close(go[0]);
	if (write(go[1], "x", 1) != 1)
		return 1;
	close(go[1]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ready";
	int r = 0;
	if (strcmp(mode, "ready") == 0) {
		r = send_msg("READY=1");
		printf("notified %d\n", (int)getpid());
		fflush(stdout);
	} else if (strcmp(mode, "extend") == 0 && argc > 2) {
		char msg[64];
		snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%s", argv[2]);
		r = send_msg(msg);
	} else if (strcmp(mode, "gone") == 0) {
		r = gone(argc > 2 && strcmp(argv[2], "mainpid") == 0);
	} else if (strcmp(mode, "detached") == 0) {
		r = detached();
	} else if (strcmp(mode, "handoff") == 0) {
		r = handoff();
	} else {
		fprintf(stderr,
			"usage: sdnotify ready|extend USEC|gone [mainpid]|detached|handoff\n");
		return 2;
	}
	if (r != 0) {
		fprintf(stderr, "sdnotify %s: %s\n", mode, strerror(errno));
		return 1;
	}
	wait_forever();
}
