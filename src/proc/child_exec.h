/* Private to the child module (child.c): the fork/exec half of child_spawn(). Prepares every
 * string and fd before fork, runs only async-signal-safe calls in the child, and reports exec
 * failures back through a CLOEXEC error pipe. Nothing here touches the loop. */
#ifndef BATON_CHILD_EXEC_H
#define BATON_CHILD_EXEC_H

#include <stddef.h>
#include <sys/types.h>

#include "proc/child.h"

struct child_launch {
	pid_t pid;
	int out_fds[2]; /* read ends (non-blocking, CLOEXEC) of the stdout/stderr pipes, or -1;
			 * the caller owns and closes them */
	int trap_fd;	/* spec->takeover: the bind filter's listener (CLOEXEC), or -1 */
};

/* Fork and exec spec. Returns 0 once the exec succeeded, or -errno with a fresh message in *err
 * (the caller frees; err may be NULL); on failure nothing is left open and the failed child
 * has been reaped. */
int child_launch(const struct child_spec *spec, const char *label, struct child_launch *res,
		 char **err);
/* *err = a fresh spawn error for label: "cannot start \"./app\": ..." (err may be NULL). */
void child_launch_message(char **err, const char *label, int e);

#endif
