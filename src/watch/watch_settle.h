/* The settle window (watch_settle.c): when a pending batch is acted on (the debounce, max_wait,
 * fast settle and the VCS hold). struct watch's part, struct wst_state, is reached only through
 * wst_*(). */
#ifndef BATON_WATCH_SETTLE_H
#define BATON_WATCH_SETTLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/loop.h"

struct watch;
struct watch_opts;
struct wnode;

/* Fast settle: the files a pending batch touched, while there are few and nothing else is
 * pending. done: the last event on it completed a write (IN_CLOSE_WRITE, IN_MOVED_TO), or it
 * came and went (gone: not in the view, deleted or renamed away since). */
#define WST_FAST_MAX 8
/* Lock files of the repositories holding the root (a jj repository colocated with git: both) */
#define WST_VCS_MAX 4
/* While a lock is held, it is looked for again this often */
#define WST_VCS_POLL_MS 20

struct wst_file {
	struct wnode *n; /* valid until the next settle: nodes are destroyed only there */
	char *name;
	bool done, gone;
};

struct wst_state {
	int64_t debounce_ms, max_wait_ms;
	int64_t fast_ms; /* 0: no fast settle */
	struct loop_timer *timer;
	int64_t batch_start; /* -1: no batch pending */
	int64_t last_event;  /* when the pending batch last grew */
	struct wst_file fast[WST_FAST_MAX];
	unsigned nfast;
	bool slow;	  /* the pending batch holds more than a few file writes: full debounce */
	bool fast_armed;  /* the timer runs on fast_ms */
	uint64_t nevents; /* events that armed the timer (fast settle's "quiet" check) */
	int64_t stall0;	  /* PSI some-total (cpu + io, us) when the fast quiet time began; -1 */
	int64_t vcs_hold_ms; /* 0: no VCS hold */
	char *vcs_lock[WST_VCS_MAX];
	unsigned nvcs;
	bool vcs_held;	 /* the pending batch waited for a lock: one debounce after it went */
	dev_t stale_dev; /* a lock that outlived vcs_hold_ms (a crashed git): ignored until */
	ino_t stale_ino; /* it is replaced or touched */
	int64_t stale_mtime_ns;
	char *psi_dir; /* /proc/pressure */
	int ncpu;
};

/* From the options (w->root is set). */
void wst_init(struct watch *w, const struct watch_opts *o);
/* Create the timer: fire runs when the window closes. */
void wst_start(struct watch *w, loop_timer_cb fire);
void wst_free(struct watch *w);
/* Something other than a file event (or a polled change) is pending: the full debounce. */
void wst_arm(struct watch *w);
/* An inotify event on an accepted file n/name of a tree (its entry is marked dirty). */
void wst_file_event(struct watch *w, struct wnode *n, const char *name, uint32_t mask, bool known);
/* The timer fired: true when the batch is to be acted on now (the window closes: anything
 * armed from here on starts a new batch); false when it must wait more (the timer is re-armed):
 * a fast settle that was not quiet, or a VCS operation in progress. */
bool wst_confirm(struct watch *w);

#endif
