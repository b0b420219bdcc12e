/* The control socket's file: creating it safely, telling whether it is still ours, connecting
 * to it (ctl_connect, declared in ctl.h).
 *
 * ctl_sock_listen() makes the missing parent directories (0700), refuses a directory another
 * user could write to (not ours or root's, or group/world-writable without the sticky bit),
 * replaces a stale socket file nobody listens on, refuses a live one ("another baton is
 * running on PATH", EADDRINUSE) or a path that is not a socket (EEXIST), binds under a umask
 * that leaves 0600 and listens. The returned fd is CLOEXEC and non-blocking; the caller closes
 * it and unlinks the file (if ctl_sock_is() still says it is the one bound). */
#ifndef BATON_CTL_SOCK_H
#define BATON_CTL_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

struct ctl_sock_id {
	dev_t dev;
	ino_t ino;
};

/* Returns the listening fd, or -errno with *err set to a message the caller frees. path is
 * absolute; display is how messages name it; uid is baton's. */
int ctl_sock_listen(const char *path, const char *display, uid_t uid, int backlog,
		    struct ctl_sock_id *id, char **err);
/* The file at path is the socket id names (it was not removed or replaced). */
bool ctl_sock_is(const char *path, const struct ctl_sock_id *id);

#endif
