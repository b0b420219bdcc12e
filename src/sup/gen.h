/* The generations of the app and the state machine between them (DESIGN.md). struct gens is
 * the set (one per baton); struct gen one generation of it (gen_int.h). A reload is a replace:
 * SIGHUP or `baton reload` (run.c), a change or a build (dev.c) -> gen_replace() -> spawn a new
 * generation -> it becomes ready -> the previous one drains -> its group exits.
 *
 * States and events. Every transition goes through gen_event() (gen.c), one switch (state) per
 * event; "-" means the event is ignored in that state.
 *
 *   event \ state  STARTING         FAILING          READY            DRAINING
 *   ready          READY (a)        -                -                -
 *   timeout        FAILING (b)      -                -                -
 *   stop           DRAINING (c)     DRAINING (c)     DRAINING (c)     -
 *   main_exit      DRAINING|gone(d) DRAINING|EXITED  DRAINING|gone(e) DRAINING|EXITED (f)
 *   group_exit     -                EXITED (f)       -                EXITED (f)
 *
 *   ready:      READY=1 (notify), exec'd (READY_EXEC), ready_delay passed, the port accepted.
 *   timeout:    ready_timeout (or the EXTEND_TIMEOUT_USEC deadline) passed, with the reason.
 *   stop:       a newer generation took over, gen_stop(), or a no-overlap replace.
 *   main_exit:  its main process ended (the leader, or the MAINPID= it named).
 *   group_exit: the last process of its group is gone after its main process.
 *   (a) it serves: the one that served drains, the oldest draining beyond max_draining is killed,
 *       cbs.ready, then a coalesced replace starts.
 *   (b) stop_signal, SIGKILL at stop_timeout (it may hold accepted connections); the failure is
 *       reported once its group is gone (f).
 *   (c) stop_signal to its group, SIGKILL at stop_timeout.
 *   (d) cbs.failed ("... before it was ready"); what is left of its group is stopped silently
 *       (DRAINING, a remnant) or it is gone; restart with backoff when nothing serves
 *       (restart_on_crash); a coalesced replace starts.
 *   (e) cbs.crashed (unless stopping), restart with backoff (restart_on_crash); remnant as (d).
 *   (f) with processes of its group left: DRAINING until group_exit; then EXITED and removed:
 *       cbs.failed for a FAILING one, nothing for a remnant, else cbs.exited (and a no-overlap
 *       replace waiting for it spawns the next). Once every generation is gone after
 *       gen_stop(): cbs.stopped.
 *
 * At most one generation is STARTING or FAILING. A replace asked for meanwhile is coalesced
 * into one follow-up. Policy differs by mode:
 *   overlap (baton run):  start N+1 on the same sockets; on its readiness drain N; on its
 *                         failure stop N+1 and keep N (rollback).
 *   no overlap (dev):     stop N first, start N+1 once N and its group are gone.
 *                         Except with bind takeover and ready = exec, when N bound held
 *                         addresses: then as overlap (gen_takeover_overlap in gen.c).
 * A crash of the serving generation outside a replace is reported; with restart_on_crash it is
 * restarted after a capped exponential backoff while the sockets stay held.
 *
 * Callbacks never run inside the call that caused them: gen_replace(), gen_stop(), gen_kill(),
 * gen_adopt() and gen_signal_serving() call none (a spawn failure, READY_EXEC's readiness and
 * "stopped" are reported from the loop, in that order). They run from the loop: a child's exit,
 * a timer, or gen_notify() (how a READY=1 reaches the set). A callback may call any gen_*().
 *
 * The set owns its children (struct child), their stop timers and its own timers. It does not
 * own the listening fds, the reaper or the env strings: they must outlive it. */
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
struct gens;
struct strv;

/* FAILING: it missed its ready deadline and is being stopped; gen_list() shows it as STARTING
 * (the control protocol's states). */
enum gen_state { GEN_STARTING, GEN_READY, GEN_DRAINING, GEN_EXITED, GEN_FAILING };

struct gen_opts {
	const char *cmd;	 /* run by /bin/sh -c (exec'd) */
	const char *const *args; /* appended ("$@"), may be NULL */
	const char *cwd;
	const char *const *env; /* complete environment without BATON_GENERATION */
	/* Optional: called before each spawn for a fresh environment (e.g. env files read again);
	 * the result stays the caller's and must be valid until the next call. NULL: use env. */
	const char *const *(*env_refresh)(void *data);
	void *env_data;
	const int *fds; /* listening fds handed over at 3.. */
	int nfds;
	const char *const *fd_names;
	const char *notify_socket; /* NOTIFY_SOCKET for children, or NULL */
	enum ready_kind ready;
	int64_t ready_delay_ms;
	int64_t ready_timeout_ms;
	/* READY_PORT: the address the app binds (forward target); ready once it accepts */
	struct sockaddr_storage port_addr;
	socklen_t port_addrlen;
	/* Proxy mode (the HTTP front): called before each spawn of generation id with a copy of
	 * the listener fds; it may put the generation's private sockets in place of some, add to
	 * the generation's environment (env: a struct strv, PORT for a forward listener) and give
	 * the address READY_HTTP probes (and READY_PORT, when port_addrlen is 0). 0, or -errno
	 * with *err set (freed here): the spawn fails and is reported like any. NULL: the fds are
	 * handed over as they are. What it made is the caller's to release once that generation
	 * is gone (cbs.exited / cbs.failed). */
	int (*prepare)(void *data, int id, int *fds, int nfds, struct strv *env,
		       struct sockaddr_storage *probe, socklen_t *probe_len, char **err);
	void *prepare_data;
	const char *ready_path; /* READY_HTTP: ready once a GET of it at probe answers 2xx */
	/* Proxy mode: a generation replaced by a newer ready one is not stopped at once (its
	 * front drains it first): it stays READY, "retiring", until gen_retire_id() or
	 * stop_timeout, then gets stop_signal as usual. */
	bool defer_stop;
	int stop_signal;
	int64_t stop_timeout_ms;
	bool restart_on_crash;
	bool overlap;
	int max_draining; /* oldest draining generation is killed beyond this */
	int fd_store_max; /* FDSTORE=1 fds kept (0: refused) */
	struct child_reaper *reaper;
	bool inherit_output; /* true: the app writes to baton's stdout/stderr directly */
	/* bind takeover (takeover.h), or NULL: every generation runs under the bind filter. With
	 * ready_takeover (and ready = notify), a generation is also ready once it has bound and
	 * listened on every address the serving one held (takeover_gen_ready()). */
	struct takeover *takeover;
	bool ready_takeover;
};

struct gen_info {
	int id;
	pid_t pid;
	enum gen_state state;
	int64_t started_ms; /* monotonic */
	int64_t ready_ms;   /* monotonic, 0 until ready */
};

struct gen_cbs {
	/* Generation id is serving now (took over from prev_id, 0 if none); took_ms = spawn to
	 * ready. */
	void (*ready)(struct gens *s, int id, int prev_id, int64_t took_ms, void *data);
	/* A starting generation failed (exited or missed ready_timeout); reason is readable. */
	void (*failed)(struct gens *s, int id, const char *reason, void *data);
	/* The serving generation exited on its own (a crash, or a clean exit nobody asked for). */
	void (*crashed)(struct gens *s, int id, const char *status, void *data);
	/* A generation that was stopped has exited (drained). */
	void (*exited)(struct gens *s, int id, const char *status, void *data);
	/* A rollout sent every request back to generation kept and let id go (sup/front.c calls
	 * it; the set itself never does). */
	void (*rolled_back)(struct gens *s, int id, int kept, const char *reason, void *data);
	/* Every generation is gone after gen_stop(). */
	void (*stopped)(struct gens *s, void *data);
	/* One line of app output (when not inherit_output). */
	void (*output)(struct gens *s, int id, int stream, const char *line, size_t len,
		       void *data);
};

struct gens *gen_new(struct loop *l, const struct gen_opts *o, const struct gen_cbs *cbs,
		     void *data);
void gen_free(struct gens *s);

/* Start a new generation (the first one, or a replacement per the overlap policy). A call while
 * a generation is starting is coalesced into one follow-up replace. Returns 0 or -errno. */
int gen_replace(struct gens *s);
/* Graceful stop of every generation; cbs.stopped runs from the loop once all are gone. */
void gen_stop(struct gens *s);
/* Second Ctrl-C: SIGKILL every generation's group now. */
void gen_kill(struct gens *s);
/* Route a notify datagram (from the receiver) to the generation that sent it (gen_notify.c).
 * Attribution, newest generation first: the sender is in a generation's process group or
 * session (recorded at spawn: the leader's pid, held while the group lives), or descends from
 * its leader. A sender that exited before baton could look (a short-lived helper reaped by its
 * parent) is attributed through MAINPID= when that names a live member of a generation's group,
 * else to the only live generation when it is starting; otherwise dropped (logged). MAINPID=
 * naming a member of the generation's group becomes its main process (watched by pidfd): the
 * generation ends with it, not with the leader, and status and gen_signal_serving() use it.
 * EXTEND_TIMEOUT_USEC moves the ready deadline to at most started + 10 x ready_timeout.
 * FDSTORE=1 keeps the fds (the caller's slots of kept fds are set to -1; it closes the rest). */
void gen_notify(struct gens *s, pid_t pid, const struct notify_msg *m, int *fds, size_t nfds);
/* Rollouts. With hold on, a generation that becomes ready takes over as the serving one but
 * the one it took over from stays READY as the "previous" (the baseline a canary is compared
 * with, the warm one of blue-green) instead of draining; a newer one ready while a previous is
 * held replaces the current candidate (which drains) and keeps that previous. gen_retire()
 * drains the previous (promote); gen_revert() makes the previous the serving one again and
 * drains the candidate (rollback). Both -ESRCH when no previous is held. The previous exiting
 * on its own is reported as crashed (no restart: the candidate serves); the candidate exiting
 * on its own is reported as crashed and the previous serves again. Callbacks as above. */
void gen_hold_previous(struct gens *s, bool on);
int gen_previous(const struct gens *s); /* its id, 0 when none */
int gen_retire(struct gens *s);
/* defer_stop: stop the retiring generation id now (its front has drained it). 0, or -ESRCH
 * when id is not retiring. */
int gen_retire_id(struct gens *s, int id);
int gen_revert(struct gens *s);
/* Proxy mode: generation id's probe address changed (its app bound a private socket of another
 * family than the one prepared, takeover.h); a starting generation is probed there from now
 * on. -ESRCH when id is not live. */
int gen_set_probe(struct gens *s, int id, const struct sockaddr *addr, socklen_t len);
/* Signal the serving generation's main process (reload_signal mode). 0 or -errno. */
int gen_signal_serving(struct gens *s, int sig);
/* dev: while a build runs (lower), the generations' process groups run at the lowest CPU
 * priority (nice 19), so the compiler gets the cores; put back to baton's own niceness after.
 * Does nothing when baton could not put it back (not root and RLIMIT_NICE too low). */
void gen_lower_priority(struct gens *s, bool lower);

bool gen_busy(const struct gens *s);   /* a generation is starting or a replace is pending */
int gen_serving(const struct gens *s); /* id of the serving generation, 0 if none */
bool gen_stopping(const struct gens *s);
/* Snapshot of live generations (not exited), oldest first, a FAILING one as STARTING; returns
 * the count (<= max). */
int gen_list(const struct gens *s, struct gen_info *out, int max);
int gen_crash_count(const struct gens *s); /* consecutive crashes of the serving generation */
/* The fds kept with FDSTORE=1 (fdstore.h); owned by s. */
const struct fdstore *gen_fdstore(const struct gens *s);
/* Put fd back in the store under name (a valid FDNAME), after the fds already there (an fd
 * stored before baton's re-exec, upgrade.h). 0 (s owns fd), -EXFULL when the store holds
 * fd_store_max fds already, -EBADF when fd is not open (fd stays the caller's). */
int gen_fdstore_adopt(struct gens *s, int fd, const char *name);
/* Id of the last generation spawned (0 if none); the next one gets last + 1. */
int gen_last_id(const struct gens *s);
/* Continue the numbering after id (generations adopted or inherited from an earlier baton);
 * never goes back. */
void gen_set_last_id(struct gens *s, int id);
/* Take over a generation that is already baton's child (across baton's re-exec, upgrade.h):
 * READY (it becomes the serving one, with crashes as the crash count) or DRAINING (SIGKILL to
 * its group at kill_at_ms, monotonic, unless -1). Returns 0 or -errno (-EINVAL for another
 * state; the process is left alone on error). */
int gen_adopt(struct gens *s, const struct gen_info *gi, int64_t kill_at_ms, int crashes);
const char *gen_state_name(enum gen_state st);

#endif
