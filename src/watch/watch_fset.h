/* A directory's entry table (watch_fset.c): the files a watched directory tracks and its
 * subdirectories, packed in one blob. Owned by the struct wnode that holds it; no state of
 * struct watch. */
#ifndef BATON_WATCH_FSET_H
#define BATON_WATCH_FSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/fingerprint.h"

struct wnode;

#define WE_DIR 0x01   /* a subdirectory: val is its struct wnode * */
#define WE_KNOWN 0x02 /* in the consumer's view */
#define WE_BASED 0x04 /* digest valid (and hash, when WE_HASHED) */
#define WE_HASHED 0x08
#define WE_DIRTY 0x10 /* compare with the disk at settle */
#define WE_SEEN 0x20  /* reconcile mark */
#define WE_DEAD 0x80

struct went {
	uint64_t val;	 /* content hash, or the node of a directory */
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

/* The node of a WE_DIR entry. */
static inline struct wnode *fset_node(const struct went *e)
{
	return (struct wnode *)(uintptr_t)e->val;
}

/* Record a file's fingerprint as its baseline. */
static inline void fset_store(struct went *e, const struct fp_state *st)
{
	e->digest = st->digest;
	e->val = st->hash;
	e->flags |= WE_BASED;
	if (st->hashed)
		e->flags |= WE_HASHED;
	else
		e->flags &= (uint8_t)~WE_HASHED;
}

#endif
