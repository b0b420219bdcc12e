/* Configured paths (watch_target.c): each a tree, a file or nothing yet, and the anchors
 * (directories watched to see a path change). struct watch's part, struct wtg_state, is reached
 * only through wtg_*(). */
#ifndef BATON_WATCH_TARGET_H
#define BATON_WATCH_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/fingerprint.h"
#include "util/strv.h"

struct watch;
struct wnode;

enum wtg_kind { WTG_MISSING, WTG_TREE, WTG_FILE };

struct wanchor;

/* Shared with watch_tree.c: a node's paths start with its target's real, rel or frel, and
 * detaching the top of a tree clears tree. The rest is watch_target.c's. */
struct wtarget {
	char *abs;  /* as configured, absolute and lexically normalised */
	char *rel;  /* report prefix: relative to root ("" for the root), or absolute outside */
	char *frel; /* filter prefix: rel, or "" outside the root */
	char *real; /* resolved path (tree root directory or file), NULL when missing */
	enum wtg_kind kind;
	struct wnode *tree; /* WTG_TREE */
	uint64_t dev, ino;  /* WTG_TREE: identity of the watched root directory */
	struct fp_state st; /* WTG_FILE */
	bool known, based;  /* WTG_FILE: in the view; st valid */
	bool dirty;	    /* WTG_FILE: compare at settle */
	bool loop_reported;
	struct wanchor **anchors; /* directories watched to see the path change */
	char **interest;	  /* names looked up in each anchor (parallel array) */
	size_t nanchors;
};

struct wanchor {
	char *path;
	int wd; /* -1: polled (no watch) */
	int refs;
};

struct wtg_state {
	struct wtarget *targets;
	size_t ntargets;
	struct wanchor **anchors;
	size_t nanchors, capanchors;
	bool any_file; /* a target has been a file or missing: re-check now and then */
};

int wtg_init(struct watch *w, const struct strv *paths);
/* Destroy the trees, drop the anchors, free the targets. */
void wtg_free(struct watch *w);
void wtg_resolve(struct watch *w, struct wtarget *t, bool initial);
void wtg_resolve_all(struct watch *w, bool initial);
/* After a queue overflow: re-resolve every target, reconcile every tree, re-check every file. */
void wtg_rescan(struct watch *w);
void wtg_anchor_event(struct watch *w, struct wanchor *a, uint32_t mask, const char *name);
struct wanchor *wtg_anchor_by_wd(const struct watch *w, int wd);
/* Compare the configured files with the disk; changes go to the batch. */
void wtg_settle(struct watch *w);
/* The polling pass over configured files and missing paths. */
void wtg_poll(struct watch *w);
/* An anchor is polled (no watch); a target has been a file or missing. */
bool wtg_polled_anchor(const struct watch *w);
bool wtg_any_file(const struct watch *w);
size_t wtg_nfiles(const struct watch *w);

#endif
