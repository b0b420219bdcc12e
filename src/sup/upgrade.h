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
 *   gen <id> <pid> <state> <started-ms> <ready-ms>
 *   last <ok> <duration-ms> <at-ms> <at-unix-ms> <reason to the end of the line>
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
	int ngens;
	struct gen_info gens[UPGRADE_MAX_GENS];
	bool have_last, last_ok;
	int64_t last_duration_ms, last_at_ms, last_at_unix_ms;
	char last_reason[600];
};

/* An empty state: no fds (-1), nothing else. */
void upgrade_state_init(struct upgrade_state *st);
/* Text for st (fresh string, caller frees). */
char *upgrade_format(const struct upgrade_state *st);
/* Parse text into st. 0 or -EINVAL. Pure. */
int upgrade_parse(const char *text, struct upgrade_state *st);

/* Hand st over and execve(exe) with baton's own argv (/proc/self/cmdline) and environment.
 * Every fd in st loses CLOEXEC for the exec only. Returns only on failure: -errno with *err a
 * fresh message (err may be NULL), every fd as it was (CLOEXEC again), the environment
 * unchanged. */
int upgrade_exec(const char *exe, const struct upgrade_state *st, char **err);
/* In the new image: 1 with st filled (its fds get CLOEXEC back, the memfd is closed and
 * BATON_UPGRADE_FD removed), 0 when this start is not an upgrade, -errno for a handoff that
 * cannot be read (logged; the fds it named are left as they are). */
int upgrade_take(struct upgrade_state *st);

#endif
