/* Re-executing baton in place (`baton upgrade`, SIGUSR2 under `baton run`): what the old image
 * hands to the new one across execve(2), which keeps the pid, the children and every fd without
 * CLOEXEC. The handoff is a text document in a memfd whose number is in BATON_UPGRADE_FD:
 *
 *   baton-upgrade 1
 *   started <ms>                  monotonic start of the first image (uptime goes on)
 *   first-ready <0|1>             systemd was told READY=1 already
 *   crashes <n>
 *   last-id <n>                   generation numbering continues after it
 *   listen <index> <fd>           the config's listener at index is fd
 *   ctl <fd>                      the control socket, still listening
 *   reply <fd>                    the `baton upgrade` client to answer, if any
 *   notify <fd> <name>            the notify socket, and the NOTIFY_SOCKET name the
 *                                 generations know
 *   store <fd> <name>             a stored fd (FDSTORE=1, fdstore.h) and its FDNAME, which
 *                                 runs to the end of the line (it may hold spaces); in the
 *                                 store's order, one line per fd
 *   gen <id> <pid> <state> <started-ms> <ready-ms>
 *   last <ok> <duration-ms> <at-ms> <at-unix-ms> <reason to the end of the line>
 *
 * A malformed line rejects the whole handoff (a store line: fd < 3, a name that is not a valid
 * FDNAME (1..255 bytes of printable ASCII without ':'), more than UPGRADE_MAX_STORE of them).
 *
 * Monotonic times stay valid: CLOCK_MONOTONIC does not change across execve. Parse and format
 * are pure; upgrade_exec and upgrade_take do the I/O. */
#ifndef BATON_UPGRADE_H
#define BATON_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/gen.h"

#define UPGRADE_ENV "BATON_UPGRADE_FD"
#define UPGRADE_MAX_LISTEN 64
#define UPGRADE_MAX_GENS 32
#define UPGRADE_MAX_STORE 1024 /* fd_store_max's bound */

/* A stored fd: the name is a fresh string owned by the state. */
struct upgrade_stored {
	int fd;
	char *name;
};

struct upgrade_state {
	int64_t started_ms;
	bool first_ready;
	int crashes;
	int last_id;
	int nlisten;			   /* entries in listen_fd */
	int listen_fd[UPGRADE_MAX_LISTEN]; /* by config index; -1: none */
	int ctl_fd;			   /* -1: none */
	int reply_fd;			   /* -1: none */
	int notify_fd;			   /* -1: none */
	char notify[128];		   /* its name; "" when none */
	size_t nstore, store_cap;
	struct upgrade_stored *store; /* allocated: up to fd_store_max (1024) entries */
	int ngens;
	struct gen_info gens[UPGRADE_MAX_GENS];
	bool have_last, last_ok;
	int64_t last_duration_ms, last_at_ms, last_at_unix_ms;
	char last_reason[600];
};

/* An empty state: no fds (-1), nothing else. st must hold no allocation (fresh or released). */
void upgrade_state_init(struct upgrade_state *st);
/* Free what st allocated (the store list; its fds are not closed) and make it empty. */
void upgrade_state_release(struct upgrade_state *st);
/* Append a stored fd under name (copied). */
void upgrade_state_store(struct upgrade_state *st, int fd, const char *name);
/* Text for st (fresh string, caller frees). */
char *upgrade_format(const struct upgrade_state *st);
/* Parse text into st (fresh or released). 0 or -EINVAL (st is left empty, nothing allocated).
 * Pure: the fds are not looked at. */
int upgrade_parse(const char *text, struct upgrade_state *st);

/* Hand st over and execve(exe) with baton's own argv (/proc/self/cmdline) and environment.
 * Every fd in st loses CLOEXEC for the exec only (store entries upgrade_format leaves out, with
 * an fd < 3 or an invalid name, are not touched). Returns only on failure: -errno with *err a
 * fresh message (err may be NULL), every fd as it was (CLOEXEC again), the environment
 * unchanged. */
int upgrade_exec(const char *exe, const struct upgrade_state *st, char **err);
/* In the new image: 1 with st filled (its fds get CLOEXEC back, the memfd is closed and
 * BATON_UPGRADE_FD removed; upgrade_state_release() it after), 0 when this start is not an
 * upgrade, -errno for a handoff that cannot be read (logged; the fds it named are left as they
 * are, st is empty). */
int upgrade_take(struct upgrade_state *st);

#endif
