/* The file descriptor limit. baton holds up to six fds per forwarded connection plus its
 * listeners, pipes and watches, so at start it raises its RLIMIT_NOFILE soft limit to the hard
 * limit (1024 is the usual soft limit, under systemd too). Children get the original soft limit
 * back before exec, as systemd does for its services: a program written for select(2) breaks
 * with fds above 1023.
 *
 * The original limit is kept in one file-static struct written once, before anything forks. */
#ifndef BATON_FDLIMIT_H
#define BATON_FDLIMIT_H

#include <sys/resource.h>

/* Raise the soft limit to the hard one (at most 1048576, the kernel's default nr_open).
 * Returns the new soft limit, or -errno (the limit is unchanged). Call once at start. */
long fdlimit_raise(void);
/* In a child between fork and exec (async-signal-safe): restore the original soft limit if
 * fdlimit_raise() changed it. 0 or -errno. */
int fdlimit_restore_in_child(void);

#endif
