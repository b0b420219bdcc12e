#include "proc/bindtrap.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/sys.h"
#include "util/xalloc.h"

#if defined(__x86_64__)
#define BINDTRAP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BINDTRAP_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

static long do_seccomp(unsigned op, unsigned flags, void *arg)
{
	return syscall(SYS_seccomp, op, flags, arg);
}

int bindtrap_install(int sock)
{
#if !defined(BINDTRAP_ARCH) || !defined(SECCOMP_IOCTL_NOTIF_ADDFD)
	(void)sock;
	return -ENOSYS;
#else
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BINDTRAP_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};
	/* root may install a filter without no_new_privs; then setuid programs keep working */
	long fd = do_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	if (fd < 0 && errno == EACCES) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return -errno;
		fd = do_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	}
	if (fd < 0)
		return -errno;
	int lfd = (int)fd;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	char one = 'L';
	struct iovec iov = {.iov_base = &one, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int e = n < 0 ? -errno : 0;
	close(lfd);
	return e;
#endif
}

int bindtrap_recv(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char one;
	struct iovec iov = {.iov_base = &one, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -EAGAIN;
	int fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (mh.msg_flags & MSG_CTRUNC) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return fd >= 0 ? fd : -EPROTO;
}

static void why_set(char **why, const char *what, int e)
{
	if (why)
		*why = xasprintf("%s: %s", what, strerror(e));
}

int bindtrap_probe(char **why)
{
#if !defined(BINDTRAP_ARCH) || !defined(SECCOMP_IOCTL_NOTIF_ADDFD)
	why_set(why, "seccomp user notification is not supported on this architecture", ENOSYS);
	return -ENOSYS;
#else
	struct seccomp_notif_sizes sz;
	if (do_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0) {
		int e = errno;
		why_set(why,
			e == EPERM || e == EACCES
				? "seccomp(2) is forbidden here (a container's seccomp profile?)"
				: "seccomp user notification is unavailable (Linux >= 5.9 needed)",
			e);
		return -e;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		int e = errno;
		why_set(why, "socketpair", e);
		return -e;
	}
	pid_t pid = sys_fork();
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		why_set(why, "fork", e);
		return -e;
	}
	if (pid == 0) {
		close(sp[0]);
		int r = bindtrap_install(sp[1]);
		char st = r < 0 ? (char)-r : 0;
		if (r < 0)
			(void)!write(sp[1], &st, 1);
		/* wait for baton to finish looking, then go */
		(void)!read(sp[1], &st, 1);
		_exit(0);
	}
	int childsock = sp[1];
	close(sp[1]);
	int r = 0;
	int lfd = -1, pidfd = -1, got = -1;
	/* blocking read of the one byte (with the listener, or an errno byte) */
	char b;
	ssize_t n;
	do
		n = recv(sp[0], &b, 1, MSG_PEEK);
	while (n < 0 && errno == EINTR);
	lfd = bindtrap_recv(sp[0]);
	if (lfd < 0) {
		r = n == 1 && b != 'L' ? -(int)(unsigned char)b : lfd;
		why_set(why, "the seccomp filter cannot be installed", -r);
		goto out;
	}
	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0) {
		r = -errno;
		why_set(why, "pidfd_open", -r);
		goto out;
	}
	got = sys_pidfd_getfd(pidfd, childsock, 0);
	if (got < 0) {
		r = -errno;
		why_set(why, "pidfd_getfd(2) on the app is not permitted (ptrace_scope?)", -r);
		goto out;
	}
out:
	if (got >= 0)
		close(got);
	if (pidfd >= 0)
		close(pidfd);
	if (lfd >= 0)
		close(lfd);
	close(sp[0]); /* the child's read returns: it exits */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
#endif
}
