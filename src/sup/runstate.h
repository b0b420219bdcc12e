/* The state file of `baton run`, next to the control socket (<socket>.state): what a later
 * `baton run` needs to adopt generations left serving by a baton that was killed (SIGKILL, OOM):
 * baton's pid, and per live generation its id, pid, start time and the fd numbers at which the
 * listening sockets landed in it (3, 4, ...). Start times (/proc/PID/stat field 22, clock ticks
 * since boot) defeat pid reuse: a pid counts as the recorded process only when both match.
 *
 *   baton-state 1
 *   baton <pid> <start>
 *   gen <id> <pid> <start> <state> [<fd>=<name> ...]     (names %XX-escaped)
 *
 * Written atomically (temp file + fsync + rename, mode 0600). Pure parse/format plus two small
 * file and /proc helpers; no state kept. */
#ifndef BATON_RUNSTATE_H
#define BATON_RUNSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUNSTATE_MAX_GENS 32
#define RUNSTATE_MAX_FDS 64
#define RUNSTATE_NAME_MAX 64

struct runstate_fd {
	int fd;
	char name[RUNSTATE_NAME_MAX]; /* truncated when longer: for messages only */
};

struct runstate_gen {
	int id;
	pid_t pid;
	unsigned long long start;
	char state[16];
	int nfds;
	struct runstate_fd fds[RUNSTATE_MAX_FDS];
};

struct runstate {
	pid_t baton_pid;
	unsigned long long baton_start;
	int ngens;
	struct runstate_gen gens[RUNSTATE_MAX_GENS];
};

/* Text for st (fresh string, caller frees). */
char *runstate_format(const struct runstate *st);
/* Parse text into *st. 0, or -EINVAL for anything malformed or out of range. Pure. */
int runstate_parse(const char *text, struct runstate *st);
/* Atomic write of st to path. 0 or -errno (the caller decides how loud to be). */
int runstate_write(const char *path, const struct runstate *st);
/* Read and parse path into *st. 0, -ENOENT, -EINVAL or another -errno. */
int runstate_read(const char *path, struct runstate *st);

/* Start time of pid from /proc/PID/stat (field 22). 0, -ESRCH when it is gone or a zombie,
 * -EINVAL when the text is malformed. */
int runstate_proc_start(pid_t pid, unsigned long long *start);
/* Parse the text of /proc/PID/stat for its state letter and start time. Pure. 0 or -EINVAL. */
int runstate_parse_stat(const char *text, char *state, unsigned long long *start);
/* True when pid is alive (not a zombie) and started at start. */
bool runstate_alive(pid_t pid, unsigned long long start);

#endif
