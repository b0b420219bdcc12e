/* Internals shared by watch*.c. Not for other modules.
 *
 * Model. The consumer's "view" is the set of files (with their fingerprint and content hash)
 * reported so far, or present at start. Each watched directory is a node holding a compact
 * table of entries (files it tracks, and its subdirectories). Events only mark entries dirty
 * (or, for directories, change the structure at once: add-then-scan, detach); the settle timer
 * then compares every dirty entry with the disk and reports the difference from the view.
 * A detached directory (deleted, moved out, or moved within the tree before we know where) goes
 * to limbo with its watches intact; its files' view entries become "orphans" keyed by path. If
 * the directory reappears under the tree (same watch descriptor = same inode), it is reattached
 * under its new name; at settle its files are "created" at their new paths and the orphans
 * "removed" — or nothing at all when paths and contents match again. Limbo is emptied at settle.
 */
#ifndef BATON_WATCH_INT_H
#define BATON_WATCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/fingerprint.h"
#include "util/buf.h"
#include "util/strv.h"
#include "watch/watch.h"

struct filter;
struct loop_src;
struct loop_timer;

/* ---- per-directory entry table (watch_fset.c) ---- */

#define WE_DIR 0x01    /* a subdirectory: val is its struct wnode * */
#define WE_KNOWN 0x02  /* in the consumer's view */
#define WE_BASED 0x04  /* digest valid (and hash, when WE_HASHED) */
#define WE_HASHED 0x08
#define WE_DIRTY 0x10  /* compare with the disk at settle */
#define WE_SEEN 0x20   /* reconcile mark */
#define WE_DEAD 0x80

struct went {
	uint64_t val;    /* content hash, or the node of a directory */
	uint32_t digest; /* low half of fp_digest() */
	uint8_t flags;
	char name[];
};

/* Records are packed in one blob; tables larger than a few entries get an open-addressing
 * index. A struct went * is valid until the next fset_add() on the same table. */
struct fset {
	char *blob;
	uint32_t len, cap, waste, live;
	uint32_t *idx;
	uint32_t nidx, used;
};

struct went *fset_find(struct fset *s, const char *name);
struct went *fset_add(struct fset *s, const char *name, uint8_t flags);
void fset_del(struct fset *s, struct went *e);
/* Iterate: e = fset_next(s, &off) until NULL, starting with off = 0. Deleting the current
 * record is fine; adding is not. */
struct went *fset_next(const struct fset *s, uint32_t *off);
void fset_shrink(struct fset *s);
uint32_t fset_rec_size(size_t namelen);
void fset_release(struct fset *s);

static inline struct wnode *went_node(const struct went *e)
{
	return (struct wnode *)(uintptr_t)e->val;
}

/* ---- nodes and targets ---- */

#define WN_LIMBO 0x01   /* detached, destroyed at settle unless reattached */
#define WN_DIRTY 0x02   /* on w->dirty */
#define WN_POLLED 0x04  /* no inotify watch: on w->polled */
#define WN_NOWATCH 0x08 /* polled because a limit was hit: retry watching later */
#define WN_BASEQ 0x10   /* on w->baseq (has unbased entries) */
#define WN_GIDIRTY 0x20 /* its .gitignore changed */
#define WN_SILENT 0x40  /* in limbo because of a filter change: no orphans */

struct wtarget;

struct wnode {
	struct wnode *parent; /* NULL: the top of a tree, or in limbo */
	struct wtarget *tgt;
	char *name;           /* base name (NULL for a top) */
	struct fset ents;
	int wd;               /* -1: none */
	uint16_t flags;
	char inl[]; /* the name as first given: name points here until a rename */
};

enum wt_kind { WT_MISSING, WT_TREE, WT_FILE };

struct wanchor;

struct wtarget {
	char *abs;     /* as configured, absolute and lexically normalised */
	char *rel;     /* report prefix: relative to root ("" for the root), or absolute outside */
	char *frel;    /* filter prefix: rel, or "" outside the root */
	char *real;    /* resolved path (tree root directory or file), NULL when missing */
	enum wt_kind kind;
	struct wnode *tree;       /* WT_TREE */
	uint64_t dev, ino;        /* WT_TREE: identity of the watched root directory */
	struct fp_state st;       /* WT_FILE */
	bool known, based;        /* WT_FILE: in the view; st valid */
	bool dirty;               /* WT_FILE: compare at settle */
	bool loop_reported;
	struct wanchor **anchors; /* directories watched to see the path change */
	char **interest;          /* names looked up in each anchor (parallel array) */
	size_t nanchors;
};

struct wanchor {
	char *path;
	int wd; /* -1: polled (no watch) */
	int refs;
};

struct orphan {
	char *path;
	struct fp_state st;
	bool based;
	bool used;
};

struct nvec {
	struct wnode **v;
	size_t n, cap;
};

struct chg {
	enum watch_kind kind;
	char *path;
};

/* Fast settle: the files a pending batch touched, while there are few and nothing else is
 * pending. done: the last event on it completed a write (IN_CLOSE_WRITE, IN_MOVED_TO), or it
 * came and went (gone: not in the view, deleted or renamed away since). */
#define FAST_MAX 8

struct fastc {
	struct wnode *n; /* valid until the next settle: nodes are destroyed only there */
	char *name;
	bool done, gone;
};

struct watch {
	struct loop *loop;
	watch_cb cb;
	void *data;
	char *root;
	size_t rootlen;
	int64_t debounce_ms, max_wait_ms, poll_ms;
	enum watch_poll poll;
	bool gitignore;
	struct filter *filter;

	struct watch_hub *hub; /* the process' inotify instance (opts.hub, or a private one) */
	int hid;               /* client id in hub; -1: no inotify at all (poll forced, limit) */
	struct wnode **wdtab; /* open addressing on wd, linear probing */
	uint32_t nwdtab, nwd;
	struct wanchor **anchors;
	size_t nanchors, capanchors;
	struct wtarget *targets;
	size_t ntargets;

	struct nvec dirty, limbo, polled, baseq;
	struct orphan *orphans;
	size_t norphans, caporphans;
	struct chg *chg;
	size_t nchg, capchg;

	struct loop_timer *settle_t, *base_t, *poll_t;
	int64_t batch_start; /* -1: no batch pending */
	int64_t last_event;  /* when the pending batch last grew */
	int64_t fast_ms;     /* 0: no fast settle */
	struct fastc fast[FAST_MAX];
	unsigned nfast;
	bool slow;        /* the pending batch holds more than a few file writes: full debounce */
	bool fast_armed;  /* the settle timer runs on fast_ms */
	uint64_t nevents; /* events that armed the settle timer (fast settle's "quiet" check) */
	int64_t stall0;   /* PSI some-total (cpu + io, us) when the fast quiet time began; -1 */
	char *git_lock;   /* <gitdir>/index.lock of the repository holding the root, or NULL */
	char *psi_dir;    /* /proc/pressure */
	int ncpu;
	int64_t poll_next_retry;
	int64_t poll_cost_ms;
	bool started, overflow, in_cb, free_req, any_file_target;
	uint64_t nrecv; /* inotify events the hub handed to this watch */
	size_t ndirs;

	/* limits and warnings */
	size_t nowatch_new; /* directories newly polled for lack of watches since the last warning */
	int64_t last_limit_warn, last_overflow_warn;
	int limit_errno;
	struct strv poll_mounts; /* mount points inside targets whose filesystem needs polling */
	struct strv poll_mount_types;

	struct buf rb; /* scratch path buffer */
};

/* watch_tree.c, watch_scan.c */
/* The watch descriptor of path (a directory; tree: do not follow a symlink), or -errno
 * (EBADF: no inotify). */
int wt_wd_add(struct watch *w, const char *path, bool tree);
struct wnode *wt_wd_node(const struct watch *w, int wd);
void wt_wd_set(struct watch *w, struct wnode *n);
void wt_wd_del(struct watch *w, int wd);
void wt_wd_unref(struct watch *w, int wd);
void wt_abs(const struct watch *w, const struct wnode *n, struct buf *b);
void wt_rel(const struct watch *w, const struct wnode *n, struct buf *b);
void wt_frel(const struct watch *w, const struct wnode *n, struct buf *b);
struct wnode *wt_node_new(struct watch *w, struct wtarget *t, struct wnode *parent,
			  const char *name, int wd);
enum wt_scan { SCAN_INITIAL, SCAN_NEW, SCAN_RECONCILE, SCAN_SILENT };
void wt_scan(struct watch *w, struct wnode *n, enum wt_scan mode, bool recurse);
struct wnode *wt_child_sync(struct watch *w, struct wnode *p, const char *name);
void wt_detach(struct watch *w, struct wnode *n, bool silent);
void wt_mark_dirty(struct watch *w, struct wnode *n, struct went *e);
void wt_orphan_add(struct watch *w, const char *path, const struct went *e);
void wt_reattach(struct watch *w, struct wnode *x, struct wnode *p, const char *name);
void wt_join(struct buf *b, const char *prefix, const char *name);
void wt_append(struct buf *b, const char *name);
void wt_limbo_flush(struct watch *w);
void wt_destroy(struct watch *w, struct wnode *n);
void nvec_push(struct nvec *v, struct wnode *n);
void nvec_remove(struct nvec *v, struct wnode *n);
void wt_gitignore_load(struct watch *w, struct wnode *n, const char *dir_abs);
bool wt_poll_path(const struct watch *w, const char *abs);

/* watch.c */
void watch_add_change(struct watch *w, enum watch_kind kind, const char *path);
void watch_limit_hit(struct watch *w, int err, const char *path);
void watch_base_queue(struct watch *w, struct wnode *n);
void watch_read_events(struct watch *w); /* what the inotify queue holds now (every client's) */

/* watch_settle.c */
/* Something other than a file event (or a polled change) is pending: the full debounce. */
void watch_arm_settle(struct watch *w);
/* An inotify event on an accepted file n/name of a tree (its entry is marked dirty). */
void watch_file_event(struct watch *w, struct wnode *n, const char *name, uint32_t mask,
		      bool known);
/* The settle timer fired: false when a fast settle must wait more (the timer is re-armed). */
bool wst_confirm(struct watch *w);
/* Forget the pending batch's fast-settle state (a batch was delivered). */
void wst_reset(struct watch *w);
void wst_init(struct watch *w);
void wst_free(struct watch *w);

/* watch_target.c */
int wtg_init(struct watch *w, const struct strv *paths);
void wtg_resolve(struct watch *w, struct wtarget *t, bool initial);
void wtg_anchor_event(struct watch *w, struct wanchor *a, uint32_t mask, const char *name);
struct wanchor *wtg_anchor_by_wd(const struct watch *w, int wd);
void wtg_settle(struct watch *w);
void wtg_poll(struct watch *w);
void wtg_free(struct watch *w);

/* watch_poll.c */
void wpoll_detect_mounts(struct watch *w);
bool wpoll_fs_needs_poll(const char *path, char *type, size_t typelen);
void wpoll_add(struct watch *w, struct wnode *n, bool nowatch);
void wpoll_arm(struct watch *w);
void wpoll_limit_message(struct watch *w, int err);
struct watch_hub_ops;
/* Attach w to its hub (a private one when opts gave none); on failure log why and poll. */
int wpoll_inotify_init(struct watch *w, const struct watch_hub_ops *ops);

#endif
