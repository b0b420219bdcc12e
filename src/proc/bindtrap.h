/* The child's half of bind takeover (sup/takeover.h): a seccomp filter that sends the app's
 * bind(2) calls to baton (SECCOMP_RET_USER_NOTIF) and lets every other syscall through, and the
 * check at start that the mechanism works here. Linux >= 5.9 (SECCOMP_IOCTL_NOTIF_ADDFD),
 * x86_64 and aarch64; elsewhere bindtrap_probe() says it is unavailable. */
#ifndef BATON_BINDTRAP_H
#define BATON_BINDTRAP_H

#include <stdbool.h>

/* In the child between fork and exec (async-signal-safe): set no_new_privs unless the process
 * may install filters without it (CAP_SYS_ADMIN), install the filter with a new listener and
 * send the listener fd over sock (SCM_RIGHTS). Returns 0 or -errno; on failure nothing was
 * sent and the child runs without the filter. */
int bindtrap_install(int sock);
/* In baton after the exec: the listener fd sent over sock (CLOEXEC), or -errno (-EAGAIN: the
 * child sent none). Never blocks. */
int bindtrap_recv(int sock);
/* Whether takeover can work on this machine and for this process: forks a throw-away child
 * that installs the filter, receives its listener and takes an fd from it with pidfd_getfd(2).
 * 0, or -errno with a fresh message in *why (the caller frees; why may be NULL). */
int bindtrap_probe(char **why);

#endif
