/* Internals of the service (svc.c, the state machine) shared with svc_notify.c (notify datagrams:
 * attribution, readiness, MAINPID, EXTEND_TIMEOUT_USEC, the fd store). Not for other modules. */
#ifndef BATON_GEN_INT_H
#define BATON_GEN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/gen.h"

struct child;
struct fdstore;
struct loop_src;
struct loop_timer;

struct gen {
	struct svc *svc;
	int id;
	enum gen_state state;
	struct child *child;
	int64_t started_ms, ready_ms;
	int64_t ready_deadline;
	struct loop_timer *timer; /* ready timeout, and delay readiness */
	char *fail_reason;	  /* set when we stopped it for not becoming ready */
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
};

struct svc {
	struct loop *loop;
	struct svc_opts o;
	struct svc_cbs cbs;
	void *data;
	struct gen **gens; /* live generations, oldest first */
	size_t ngens, capgens;
	int last_id;
	int current;	 /* id of the serving generation */
	bool pending;	 /* a replace arrived while one was in progress */
	int waiting_for; /* no-overlap: the generation whose exit starts the next one */
	bool stopping;
	bool stopped_sent;
	int crashes;
	struct loop_timer *backoff;
	struct fdstore *store; /* FDSTORE=1 fds, handed to every later generation */
};

/* Mark g ready (it was starting); svc.c. */
void svc_gen_ready(struct gen *g);
/* g's main process ended (g->status says how): its state changes as for an exit; svc.c. g may
 * be freed. */
void svc_gen_main_exit(struct gen *g);
/* Stop watching g's MAINPID (close its pidfd); svc_notify.c. */
void svc_gen_forget_mainpid(struct gen *g);
/* True while g has a MAINPID that has not exited; svc_notify.c. */
bool svc_gen_mainpid_alive(const struct gen *g);
/* Signal g's main process (its MAINPID through the pidfd, else the leader). 0 or -errno. */
int svc_gen_signal_main(struct gen *g, int sig);

#endif
