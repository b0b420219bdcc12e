/* The settle window (watch_settle.c): when a pending batch is acted on (the debounce, max_wait
 * and fast settle). struct watch's part, struct wst_state, is reached only through wst_*(). */
#ifndef BATON_WATCH_SETTLE_H
#define BATON_WATCH_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"

struct watch;
struct watch_opts;
struct wnode;

/* Fast settle: the files a pending batch touched, while there are few and nothing else is
 * pending. done: the last event on it completed a write (IN_CLOSE_WRITE, IN_MOVED_TO), or it
 * came and went (gone: not in the view, deleted or renamed away since). */
#define WST_FAST_MAX 8

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
	char *git_lock;	  /* <gitdir>/index.lock of the repository holding the root, or NULL */
	char *psi_dir;	  /* /proc/pressure */
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
 * armed from here on starts a new batch); false when a fast settle must wait more (the timer
 * is re-armed). */
bool wst_confirm(struct watch *w);

#endif
