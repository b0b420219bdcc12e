/* Internals of the generations (gen.c, the state machine) shared with gen_notify.c (notify
 * datagrams: attribution, readiness, MAINPID, EXTEND_TIMEOUT_USEC, the fd store). Not for other
 * modules. */
#ifndef BATON_GEN_INT_H
#define BATON_GEN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/gen.h"

struct http_get;

struct child;
struct fdstore;
struct loop_src;
struct loop_timer;
struct gen_report;

struct gen {
	struct gens *set;
	int id;
	enum gen_state state;
	struct child *child;
	int64_t started_ms, ready_ms;
	int64_t ready_deadline;
	struct loop_timer *timer; /* ready timeout, and delay readiness */
	char *fail_reason;	  /* why it failed (timeout): reported once it is gone */
	char status[96];	  /* how its main process ended, once it did */
	/* its exit was reported (crash, failure at start); what is left is its process group,
	 * stopped and removed silently once empty */
	bool remnant;
	/* MAINPID= accepted (a member of its process group), else 0: the leader is the main
	 * process. mainfd is its pidfd, watched on the loop until it exits. */
	pid_t mainpid;
	int mainfd;
	struct loop_src *mainsrc;
	bool main_exited;   /* its main process ended (and that was handled) */
	bool extend_capped; /* EXTEND_TIMEOUT_USEC hit the cap (logged once) */
	/* READY_PORT probe */
	int probe_fd;
	struct loop_src *probe_src;
	struct loop_timer *probe_timer;
	/* READY_HTTP probe (proxy mode): its address from gen_opts.prepare, the GET in progress
	 * and how the last one went (for the timeout message) */
	struct sockaddr_storage http_addr;
	socklen_t http_len;
	struct http_get *http_probe;
	char *http_last;
	bool retiring; /* defer_stop: replaced, READY until its front drained it (timer armed) */
	/* bind takeover's quiet stop (gen.c): retried while its group has a request in flight */
	struct loop_timer *quiet_timer;
	int quiet_tries;
	bool tk_ready; /* READY_EXEC overlapping in dev (gen_takeover_overlap): ready by takeover */
};

struct gens {
	struct loop *loop;
	struct gen_opts o;
	struct gen_cbs cbs;
	void *data;
	struct gen **gen; /* live generations, oldest first */
	size_t ngen, capgen;
	int last_id;
	int current; /* id of the serving generation */
	/* Rollouts (gen_hold_previous): the generation current took over from, kept READY (0:
	 * none) until gen_retire() or gen_revert(). */
	bool hold;
	int previous;
	bool pending;	 /* a replace arrived while one was in progress */
	int waiting_for; /* no-overlap: the generation whose exit starts the next one */
	bool stopping;
	bool stopped_sent;
	bool lowered; /* gen_lower_priority() */
	int crashes;
	struct loop_timer *backoff;
	struct fdstore *store; /* FDSTORE=1 fds, handed to every later generation */
	/* reports for the loop: spawn failures (ids and reasons), then "stopped" */
	struct loop_timer *later;
	struct gen_report *reports;
	size_t nreports, capreports;
};

/* What happens to a generation (gen.h's table). */
enum gen_event { GEN_EV_READY, GEN_EV_TIMEOUT, GEN_EV_STOP, GEN_EV_MAIN_EXIT, GEN_EV_GROUP_EXIT };

/* The one way a generation changes state (gen.c). reason: why it failed (GEN_EV_TIMEOUT), else
 * NULL (for GEN_EV_MAIN_EXIT, g->status says how it ended). g may be freed. */
void gen_event(struct gen *g, enum gen_event ev, const char *reason);
/* True when the next generation overlaps the serving one although overlap is off (dev): bind
 * takeover holds the serving one's addresses and readiness is takeover's (gen.c). */
bool gen_takeover_overlap(const struct gens *s);
/* Spawn the next generation (gen_spawn.c); a failure is reported from the loop. */
void gen_spawn(struct gens *s);
/* Say g's state on the event bus (EV_GEN_STATE, with its pid): after each change. */
void gen_emit_state(const struct gen *g);
/* Report a failed spawn from the loop (cbs.failed), never inside the caller; gen.c. */
void gen_report_failed_spawn(struct gens *s, int id, const char *reason);
/* Stop g's READY_PORT probe (gen_spawn.c). */
void gen_probe_stop(struct gen *g);
/* Stop watching g's MAINPID (close its pidfd); gen_notify.c. */
void gen_forget_mainpid(struct gen *g);
/* True while g has a MAINPID that has not exited; gen_notify.c. */
bool gen_mainpid_alive(const struct gen *g);
/* Signal g's main process (its MAINPID through the pidfd, else the leader). 0 or -errno. */
int gen_signal_main(struct gen *g, int sig);

#endif
