#include "util/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12's headers have them all; older ones may not (x86_64 and every newer arch share
 * these numbers) */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct sys_fault {
	int countdown; /* 0: disarmed; k > 0: the kth call from now fails */
	int err;
	bool persist;  /* keep failing once the countdown reached the call */
	bool failing;
	unsigned long calls;
};

static struct sys_fault faults[SYS_CALL__COUNT];

static const char *const names[SYS_CALL__COUNT] = {
	[SYS_CALL_FORK] = "fork",
	[SYS_CALL_PIPE2] = "pipe2",
	[SYS_CALL_ACCEPT4] = "accept4",
	[SYS_CALL_INOTIFY_ADD_WATCH] = "inotify_add_watch",
	[SYS_CALL_BIND] = "bind",
	[SYS_CALL_PIDFD_OPEN] = "pidfd_open",
	[SYS_CALL_OPEN] = "open",
};

void sys_fail_nth(enum sys_call call, int n, int err, bool persist)
{
	struct sys_fault *f = &faults[call];
	f->countdown = n > 0 ? n : 0;
	f->err = err;
	f->persist = persist;
	f->failing = false;
}

void sys_fail_reset(void)
{
	for (int i = 0; i < SYS_CALL__COUNT; i++)
		faults[i] = (struct sys_fault){0};
}

unsigned long sys_calls(enum sys_call call)
{
	return faults[call].calls;
}

const char *sys_call_name(enum sys_call call)
{
	return call >= 0 && call < SYS_CALL__COUNT ? names[call] : "?";
}

/* True when this call must fail (errno is then set). */
static bool injected(enum sys_call call)
{
	struct sys_fault *f = &faults[call];
	f->calls++;
	if (__builtin_expect(!f->failing && f->countdown == 0, 1))
		return false;
	if (!f->failing && --f->countdown > 0)
		return false;
	f->failing = f->persist;
	errno = f->err ? f->err : EIO;
	return true;
}

pid_t sys_fork(void)
{
	return injected(SYS_CALL_FORK) ? -1 : fork();
}

int sys_pipe2(int fds[2], int flags)
{
	return injected(SYS_CALL_PIPE2) ? -1 : pipe2(fds, flags);
}

int sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return injected(SYS_CALL_ACCEPT4) ? -1 : accept4(fd, addr, len, flags);
}

int sys_inotify_add_watch(int fd, const char *path, unsigned mask)
{
	return injected(SYS_CALL_INOTIFY_ADD_WATCH) ? -1 : inotify_add_watch(fd, path, mask);
}

int sys_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return injected(SYS_CALL_BIND) ? -1 : bind(fd, addr, len);
}

int sys_pidfd_open(pid_t pid, unsigned flags)
{
	if (injected(SYS_CALL_PIDFD_OPEN))
		return -1;
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

int sys_pidfd_getfd(int pidfd, int fd, unsigned flags)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int sys_openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return injected(SYS_CALL_OPEN) ? -1 : openat(dirfd, path, flags, mode);
}
