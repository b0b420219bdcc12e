/* Internals shared by watch*.c. Not for other modules.
 *
 * struct watch is made of parts, each owned by one file and reached by the others only
 * through that file's functions (its prefix in brackets):
 *   watch.c          the core below: options, inotify events, batches, the baseline [watch_]
 *   watch_tree.c     tree: nodes, the wd table, dirty list, limbo, orphans [wt_]
 *   watch_scan.c     no state: scanning directories into the trees [wscan_]
 *   watch_settle.c   settle: the settle window and fast settle [wst_]
 *   watch_target.c   targets: configured paths and their anchors [wtg_]
 *   watch_poll.c     poll: polled directories, mounts, inotify limits [wpoll_]
 *   watch_fset.c     no state: a node's entry table [fset_]
 * The path of an event: watch_hub.c reads inotify → watch.c on_event → tree_event marks the
 * entry dirty (directory events: wscan_child_sync; configured paths: wtg_anchor_event) and
 * filters it (filter.c) → wst_file_event/wst_arm arm the settle timer → settle_fire: wst_confirm,
 * wt_settle_gitignores, wtg_settle, wt_settle compare with the disk → deliver calls back with
 * the batch. */
#ifndef BATON_WATCH_INT_H
#define BATON_WATCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "watch/watch.h"
#include "watch/watch_fset.h"
#include "watch/watch_poll.h"
#include "watch/watch_scan.h"
#include "watch/watch_settle.h"
#include "watch/watch_target.h"
#include "watch/watch_tree.h"

struct filter;
struct loop_timer;

struct watch_chg {
	enum watch_kind kind;
	char *path;
};

struct watch {
	/* Shared, read by every part, set once by watch_new()/watch_start(): */
	struct loop *loop;
	char *root;
	size_t rootlen;
	bool gitignore;
	struct filter *filter;
	struct watch_hub *hub; /* the process' inotify instance (opts.hub, or a private one) */
	int hid;	       /* client id in hub; -1: no inotify at all (poll forced, limit) */
	bool started;

	/* The parts. */
	struct wt_state tree;
	struct wst_state settle;
	struct wtg_state tg;
	struct wpoll_state poll;

	/* watch.c's own. */
	watch_cb cb;
	void *data;
	struct watch_chg *chg; /* the batch being built */
	size_t nchg, capchg;
	struct nvec baseq; /* nodes with files to fingerprint */
	struct loop_timer *base_t;
	int64_t last_overflow_warn;
	bool overflow, in_cb, free_req;
	uint64_t nrecv; /* inotify events the hub handed to this watch */
	struct buf rb;	/* scratch path buffer */
};

/* watch.c */
void watch_add_change(struct watch *w, enum watch_kind kind, const char *path);
/* Queue n's unbased files for the background fingerprint pass; forget n (destroyed). */
void watch_base_queue(struct watch *w, struct wnode *n);
void watch_base_forget(struct watch *w, struct wnode *n);
void watch_read_events(struct watch *w); /* what the inotify queue holds now (every client's) */

#endif
