/* The watched trees (watch_tree.c): nodes, the watch descriptor table, the dirty list, limbo
 * and orphans, and the comparison with the disk at settle.
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
 *
 * struct wnode is the data model every watch*.c file walks (shared on purpose: parent, name,
 * tgt, ents and wd are read everywhere; flags say which file's list holds the node). What
 * struct watch holds for the trees, struct wt_state, is reached only through wt_*(). */
#ifndef BATON_WATCH_TREE_H
#define BATON_WATCH_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/fingerprint.h"
#include "util/xalloc.h"
#include "watch/watch_fset.h"

struct watch;
struct wtarget;

#define WN_LIMBO 0x01	/* detached, destroyed at settle unless reattached (watch_tree.c) */
#define WN_DIRTY 0x02	/* on the dirty list (watch_tree.c) */
#define WN_POLLED 0x04	/* no inotify watch: on the polled list (watch_poll.c) */
#define WN_NOWATCH 0x08 /* polled because a limit was hit: retry watching later */
#define WN_BASEQ 0x10	/* on the baseline queue: has unbased entries (watch.c) */
#define WN_GIDIRTY 0x20 /* its .gitignore changed */
#define WN_SILENT 0x40	/* in limbo because of a filter change: no orphans */

struct wnode {
	struct wnode *parent; /* NULL: the top of a tree, or in limbo */
	struct wtarget *tgt;
	char *name; /* base name (NULL for a top) */
	struct fset ents;
	int wd; /* -1: none */
	uint16_t flags;
	char inl[]; /* the name as first given: name points here until a rename */
};

/* A vector of nodes (the dirty, limbo, polled and baseline lists). */
struct nvec {
	struct wnode **v;
	size_t n, cap;
};

static inline void nvec_push(struct nvec *v, struct wnode *n)
{
	v->v = xgrow(v->v, &v->cap, v->n + 1, sizeof(*v->v));
	v->v[v->n++] = n;
}

static inline void nvec_remove(struct nvec *v, struct wnode *n)
{
	for (size_t i = v->n; i-- > 0;) {
		if (v->v[i] == n) {
			v->v[i] = v->v[--v->n];
			return;
		}
	}
}

struct wt_orphan {
	char *path;
	struct fp_state st;
	bool based;
	bool used;
};

/* struct watch's part for the trees. */
struct wt_state {
	struct wnode **wdtab; /* wd -> node: open addressing on wd, linear probing */
	uint32_t nwdtab, nwd;
	struct nvec dirty, limbo;
	struct wt_orphan *orphans;
	size_t norphans, caporphans;
	size_t ndirs; /* nodes, limbo included */
};

/* Free everything the part holds (nodes in limbo included; the targets' trees are freed by
 * wtg_free() first). */
void wt_free(struct watch *w);

/* ---- watch descriptors ---- */

/* The watch descriptor of path (a directory; tree: do not follow a symlink), or -errno
 * (EBADF: no inotify). */
int wt_wd_add(struct watch *w, const char *path, bool tree);
struct wnode *wt_wd_node(const struct watch *w, int wd);
void wt_wd_set(struct watch *w, struct wnode *n);
void wt_wd_del(struct watch *w, int wd);
/* Drop the kernel watch unless another role of this watch (a node, an anchor) still uses it. */
void wt_wd_unref(struct watch *w, int wd);

/* ---- paths ---- */

void wt_abs(const struct watch *w, const struct wnode *n, struct buf *b);
void wt_rel(const struct watch *w, const struct wnode *n, struct buf *b);
void wt_frel(const struct watch *w, const struct wnode *n, struct buf *b);
void wt_join(struct buf *b, const char *prefix, const char *name);
void wt_append(struct buf *b, const char *name);

/* ---- nodes ---- */

struct wnode *wt_node_new(struct watch *w, struct wtarget *t, struct wnode *parent,
			  const char *name, int wd);
void wt_mark_dirty(struct watch *w, struct wnode *n, struct went *e);
void wt_orphan_add(struct watch *w, const char *path, const struct went *e);
void wt_detach(struct watch *w, struct wnode *n, bool silent);
void wt_reattach(struct watch *w, struct wnode *x, struct wnode *p, const char *name);
void wt_destroy(struct watch *w, struct wnode *n);
/* Directories (limbo included) and those in limbo. */
size_t wt_ndirs(const struct watch *w);
size_t wt_nlimbo(const struct watch *w);
/* Files of n's subtree that are in the view. */
size_t wt_nfiles(const struct wnode *n);
/* Something is waiting for a settle: dirty nodes, limbo, orphans. */
bool wt_pending(const struct watch *w);

/* ---- settle ---- */

/* First step: reload the .gitignore files that changed and rescan under them, silently. */
void wt_settle_gitignores(struct watch *w);
/* Then compare every dirty entry with the disk, empty limbo, and add the net changes to the
 * batch (watch_add_change). */
void wt_settle(struct watch *w);

#endif
