/* Spawning and stopping processes: fork + exec with a CLOEXEC error pipe, the LISTEN_FDS fd
 * layout (3, 4, 5, ... in order), LISTEN_PID set in the child, NOTIFY_SOCKET, optional new
 * session (the child leads its own process group), stdout/stderr through the loop line by line,
 * exit through a pidfd on the loop, stop = signal the group then SIGKILL it at a deadline.
 *
 * The reaper: baton is a child subreaper, so processes its children orphan (double-forked
 * daemons) are re-parented to it, and as PID 1 it inherits everything. child_reap() on SIGCHLD
 * collects all of them. Tracked children (spawned with that reaper) are never lost: if the
 * reaper collects one, its exit is delivered exactly as through its pidfd. Every process baton
 * runs must therefore be spawned through child_spawn() with the reaper when one exists.
 *
 * The group outlives its leader: a leader that exits on stop_signal (a shell wrapper with
 * `trap`, `npm start`, a pre-forking master) can leave workers in its process group. With
 * on_group_exit set, such a child stays "group alive" after its exit was delivered: the stop
 * deadline keeps running and SIGKILLs the group, and on_group_exit runs once the group is empty
 * (kill(-pgid, 0) fails with ESRCH). Emptiness is checked after every child_reap() (members are
 * baton's descendants or, orphaned, its children: their zombies keep the group id reserved until
 * baton reaps them, so the id cannot name another group while it is checked) and every 100 ms
 * once SIGKILL was sent (members reaped by someone else).
 *
 * Ownership: the spec's strings, arrays and fds stay the caller's (the listening fds are
 * duplicated into the child only). A struct child owns its pidfd, its output pipes and its stop
 * timer; child_free() releases them (safe inside any of its own callbacks; freeing a running
 * child does not kill it: it becomes an orphan for the reaper; freeing a group-alive child
 * forgets its group and its deadline). Error messages are written to the caller's buffer. */
#ifndef BATON_CHILD_H
#define BATON_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct child;
struct child_reaper;

/* How a child ended. */
struct child_exit {
	int code;   /* exit status 0..255 when it exited, else -1 */
	int signal; /* the signal that killed it, else 0 */
	bool core;  /* it dumped core */
};

enum child_stdin { CHILD_IN_NULL = 0, CHILD_IN_INHERIT };
enum child_output { CHILD_OUT_INHERIT = 0, CHILD_OUT_PIPE, CHILD_OUT_NULL };

/* stream: 1 (stdout) or 2 (stderr). line excludes the '\n' (a final unterminated line is
 * delivered at EOF; lines longer than 64 KiB are split). Not NUL-terminated. */
typedef void (*child_line_cb)(struct child *c, int stream, const char *line, size_t len,
			      void *data);
/* Called once, after every byte the process wrote before exiting has gone through on_line. */
typedef void (*child_exit_cb)(struct child *c, const struct child_exit *st, void *data);
/* Called once when the process group a child left behind at its exit is empty. */
typedef void (*child_group_cb)(struct child *c, void *data);

struct child_spec {
	/* What to run: argv (argv[0] searched in the child env's PATH when it has no '/'), or
	 * shell_cmd run as `/bin/sh -c 'exec CMD "$@"' sh ARGS...` (without `exec` when CMD is
	 * not a simple command). args are appended in either case. */
	const char *const *argv;
	const char *shell_cmd;
	const char *const *args;
	const char *label;	/* for messages; default argv[0] or the command */
	const char *cwd;	/* NULL: baton's */
	const char *const *env; /* complete environment ("K=V", NULL-terminated); NULL:
				 * baton's. LISTEN_*, NOTIFY_SOCKET are replaced below. */
	const int *fds;		/* listening fds: land at 3, 4, ... in this order */
	int nfds;
	const char *const *fd_names; /* nfds names for LISTEN_FDNAMES, or NULL */
	bool listen_env; /* set LISTEN_FDS, LISTEN_PID (the child's pid), LISTEN_FDNAMES */
	const char *notify_socket; /* NOTIFY_SOCKET for the child, or NULL: none */
	enum child_stdin in;
	enum child_output out;	     /* stdout and stderr; PIPE needs on_line */
	bool new_session;	     /* setsid(): own session and process group */
	struct child_reaper *reaper; /* NULL, or the reaper that must know this child */
	child_line_cb on_line;
	child_exit_cb on_exit;
	/* new_session children: track the group after the leader's exit (see above); the owner
	 * should child_stop() it. NULL: the group is forgotten with the leader. */
	child_group_cb on_group_exit;
	void *data;
	/* bind takeover (proc/bindtrap.h): install the bind filter before exec; its listener is
	 * then child_take_trap_fd()'s (none when the filter could not be installed) */
	bool takeover;
};

/* Spawn. Returns 0 with *out set (and *err NULL), or -errno with a fresh message in *err that
 * the caller frees (err may be NULL), e.g. `cannot run "./app": No such file or directory` or
 * `cannot change directory to "x": ...`. */
int child_spawn(struct loop *l, const struct child_spec *spec, struct child **out, char **err);
void child_free(struct child *c);
/* Track a process that is already baton's child (it survived baton's re-exec, see upgrade.h):
 * a pidfd is opened for it again; group: it leads its own process group, whose stop deadline
 * and on_group_exit work as for a spawned child (on_group_exit may be NULL). No output pipes.
 * Returns 0 with *out set, or -errno (the process is left running). */
int child_adopt(struct loop *l, pid_t pid, const char *label, bool group,
		struct child_reaper *reaper, child_exit_cb on_exit, child_group_cb on_group_exit,
		void *data, struct child **out);

pid_t child_pid(const struct child *c);
/* The bind filter's listener of a spec->takeover child, once: the caller owns it. -1: none. */
int child_take_trap_fd(struct child *c);
bool child_running(const struct child *c);
/* "exited with status 2", "killed by SIGKILL", "killed by SIGSEGV (core dumped)". */
const char *child_status_str(const struct child_exit *st, char *buf, size_t len);

/* Send sig to the child's process group (new_session children) or to the child itself
 * (group=false, or children sharing baton's group). 0, -ESRCH when nothing is left, -errno. */
int child_signal(struct child *c, int sig, bool group);
/* Graceful stop: sig to the group now; at now+timeout_ms SIGKILL to the group (timeout_ms < 0:
 * never). Calling it again re-sends sig and keeps the earlier deadline if sooner. 0 or -errno
 * (-ESRCH: nothing left to stop). */
int child_stop(struct child *c, int sig, int64_t timeout_ms);
/* True from the leader's exit (already true inside on_exit) until on_group_exit: the leader is
 * gone, members of its process group are not. */
bool child_group_alive(const struct child *c);

/* ---- reaper ---- */

/* subreaper: make baton a child subreaper (PR_SET_CHILD_SUBREAPER; not needed as PID 1).
 * NULL with errno set on failure. */
struct child_reaper *child_reaper_new(bool subreaper);
/* Frees the table; tracked children stay valid (they forget the reaper). */
void child_reaper_free(struct child_reaper *r);
/* On SIGCHLD: reap every exited child without blocking; tracked ones get their exit delivered.
 * Returns the number of untracked processes reaped. */
int child_reap(struct child_reaper *r);
/* Send sig to every live child of baton that is not a tracked, running child (orphans
 * re-parented to baton), and to the process group each of them leads. Returns the number of
 * processes signalled, or -errno. */
int child_kill_orphans(struct child_reaper *r, int sig);

/* For the shell form: the script given to sh -c for cmd (fresh string, caller frees). */
char *child_shell_script(const char *cmd);

#endif
