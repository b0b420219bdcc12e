/* The service: generations of the app and the state machine between them (DESIGN.md):
 *
 *   (none) --spawn--> starting --READY=1 / exec / delay / port--> ready --stop--> draining --> exited
 *                        | exit / ready_timeout: kill it, the previous ready generation serves on
 *
 * At most one generation is starting. A replace (reload or rebuild) asked for while one is
 * starting is coalesced into one follow-up. Policy differs by mode:
 *   overlap (baton run):  start N+1 on the same sockets; on its readiness drain N; on its
 *                         failure kill N+1 and keep N (rollback).
 *   no overlap (dev):     stop N first, start N+1 once N and its group are gone.
 * A crash of the serving generation outside a replace is reported; with restart_on_crash it is
 * restarted after a capped exponential backoff while the sockets stay held.
 *
 * svc owns its children (struct child), their stop timers and its own timers. It does not own
 * the listening fds, the reaper or the env strings: they must outlive it. */
#ifndef BATON_GEN_H
#define BATON_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/config.h"

struct loop;
struct child_reaper;
struct notify_msg;
struct fdstore;
struct svc;

enum gen_state { GEN_STARTING, GEN_READY, GEN_DRAINING, GEN_EXITED };

struct svc_opts {
	const char *cmd;          /* run by /bin/sh -c (exec'd) */
	const char *const *args;  /* appended ("$@"), may be NULL */
	const char *cwd;
	const char *const *env;   /* complete environment without BATON_GENERATION */
	/* Optional: called before each spawn for a fresh environment (e.g. env files read again);
	 * the result stays the caller's and must be valid until the next call. NULL: use env. */
	const char *const *(*env_refresh)(void *data);
	void *env_data;
	const int *fds;           /* listening fds handed over at 3.. */
	int nfds;
	const char *const *fd_names;
	const char *notify_socket; /* NOTIFY_SOCKET for children, or NULL */
	enum ready_kind ready;
	int64_t ready_delay_ms;
	int64_t ready_timeout_ms;
	/* READY_PORT: the address the app binds (forward target); ready once it accepts */
	struct sockaddr_storage port_addr;
	socklen_t port_addrlen;
	int stop_signal;
	int64_t stop_timeout_ms;
	bool restart_on_crash;
	bool overlap;
	int max_draining;          /* oldest draining generation is killed beyond this */
	int fd_store_max;          /* FDSTORE=1 fds kept (0: refused) */
	struct child_reaper *reaper;
	bool inherit_output;       /* true: the app writes to baton's stdout/stderr directly */
};

struct svc_gen_info {
	int id;
	pid_t pid;
	enum gen_state state;
	int64_t started_ms; /* monotonic */
	int64_t ready_ms;   /* monotonic, 0 until ready */
};

struct svc_cbs {
	/* Generation id is serving now (took over from prev_id, 0 if none); took_ms = spawn to ready. */
	void (*ready)(struct svc *s, int id, int prev_id, int64_t took_ms, void *data);
	/* A starting generation failed (exited or missed ready_timeout); reason is readable. */
	void (*failed)(struct svc *s, int id, const char *reason, void *data);
	/* The serving generation exited on its own (a crash, or a clean exit nobody asked for). */
	void (*crashed)(struct svc *s, int id, const char *status, void *data);
	/* A generation that was stopped has exited (drained). */
	void (*exited)(struct svc *s, int id, const char *status, void *data);
	/* Every generation is gone after svc_stop(). */
	void (*stopped)(struct svc *s, void *data);
	/* One line of app output (when not inherit_output). */
	void (*output)(struct svc *s, int id, int stream, const char *line, size_t len, void *data);
};

struct svc *svc_new(struct loop *l, const struct svc_opts *o, const struct svc_cbs *cbs,
		    void *data);
void svc_free(struct svc *s);

/* Start a new generation (the first one, or a replacement per the overlap policy). A call while
 * a generation is starting is coalesced into one follow-up replace. Returns 0 or -errno. */
int svc_replace(struct svc *s);
/* Graceful stop of every generation; cbs.stopped runs when all are gone (maybe at once). */
void svc_stop(struct svc *s);
/* Second Ctrl-C: SIGKILL every generation's group now. */
void svc_kill(struct svc *s);
/* Route a notify datagram (from the receiver) to the generation that sent it (svc_notify.c).
 * Attribution, newest generation first: the sender is in a generation's process group or
 * session (recorded at spawn: the leader's pid, held while the group lives), or descends from
 * its leader. A sender that exited before baton could look (a short-lived helper reaped by its
 * parent) is attributed through MAINPID= when that names a live member of a generation's group,
 * else to the only live generation when it is starting; otherwise dropped (logged). MAINPID=
 * naming a member of the generation's group becomes its main process (watched by pidfd): the
 * generation ends with it, not with the leader, and status and svc_signal_current() use it.
 * EXTEND_TIMEOUT_USEC moves the ready deadline to at most started + 10 x ready_timeout.
 * FDSTORE=1 keeps the fds (the caller's slots of kept fds are set to -1; it closes the rest). */
void svc_notify(struct svc *s, pid_t pid, const struct notify_msg *m, int *fds, size_t nfds);
/* Signal the serving generation's main process (reload_signal mode). 0 or -errno. */
int svc_signal_current(struct svc *s, int sig);

bool svc_busy(const struct svc *s);      /* a generation is starting or a replace is pending */
int svc_current(const struct svc *s);    /* id of the serving generation, 0 if none */
bool svc_stopping(const struct svc *s);
/* Snapshot of live generations (not exited), oldest first; returns the count (<= max). */
int svc_list(const struct svc *s, struct svc_gen_info *out, int max);
int svc_crash_count(const struct svc *s); /* consecutive crashes of the serving generation */
/* The fds kept with FDSTORE=1 (fdstore.h); owned by s. */
const struct fdstore *svc_fdstore(const struct svc *s);
/* Id of the last generation spawned (0 if none); the next one gets last + 1. */
int svc_last_id(const struct svc *s);
/* Continue the numbering after id (generations adopted or inherited from an earlier baton);
 * never goes back. */
void svc_set_last_id(struct svc *s, int id);
/* Take over a generation that is already baton's child (across baton's re-exec, upgrade.h):
 * READY (it becomes the serving one, with crashes as the crash count) or DRAINING (SIGKILL to
 * its group at kill_at_ms, monotonic, unless -1). Returns 0 or -errno (-EINVAL for another
 * state; the process is left alone on error). */
int svc_adopt(struct svc *s, const struct svc_gen_info *gi, int64_t kill_at_ms, int crashes);
const char *gen_state_name(enum gen_state st);

#endif
