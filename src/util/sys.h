/* The syscall seam: the calls whose failure a supervisor must survive go through these wrappers,
 * so unit tests can make the Nth call fail with a chosen errno and check that nothing leaks
 * (SQLite's aSyscall[] idea, narrowed to a countdown per call).
 *
 * In production every wrapper is the plain call plus one predictable branch. Failures are
 * injected only by tests (sys_fail_nth); nothing in baton itself arms them. Not thread-safe,
 * like the rest of baton: one loop, one thread. */
#ifndef BATON_UTIL_SYS_H
#define BATON_UTIL_SYS_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

enum sys_call {
	SYS_CALL_FORK,
	SYS_CALL_PIPE2,
	SYS_CALL_ACCEPT4,
	SYS_CALL_INOTIFY_ADD_WATCH,
	SYS_CALL_BIND,
	SYS_CALL_PIDFD_OPEN,
	SYS_CALL_OPEN,
	SYS_CALL__COUNT
};

/* Make the nth call (1 = the next one) of `call` from now fail with err; n <= 0 disarms. With
 * persist, that call and every later one fail until sys_fail_reset(). */
void sys_fail_nth(enum sys_call call, int n, int err, bool persist);
/* Disarm every injected failure. */
void sys_fail_reset(void);
/* How many times `call` went through the seam (failed or not) since the last reset. */
unsigned long sys_calls(enum sys_call call);
/* "fork", "pipe2", ...; for test messages. */
const char *sys_call_name(enum sys_call call);

/* The wrappers: same contract as the calls they wrap (-1 with errno set on failure). */
pid_t sys_fork(void);
int sys_pipe2(int fds[2], int flags);
int sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int sys_inotify_add_watch(int fd, const char *path, unsigned mask);
int sys_bind(int fd, const struct sockaddr *addr, socklen_t len);
int sys_pidfd_open(pid_t pid, unsigned flags);
/* Not failure-injected: pidfd_getfd(2) (Linux 5.6) and pidfd_send_signal(2) (5.1); ENOSYS on
 * older kernels. */
int sys_pidfd_getfd(int pidfd, int fd, unsigned flags);
int sys_pidfd_send_signal(int pidfd, int sig);
int sys_openat(int dirfd, const char *path, int flags, ...);

#endif
