/* A directory's entries, packed: one blob of 8-byte aligned records, and an open-addressing
 * index of record offsets once the table outgrows a linear scan. ~24 bytes + name per entry. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "watch/watch_fset.h"

#define FSET_LINEAR 12          /* up to this many live entries: no index, linear scan */
#define SLOT_EMPTY 0u
#define SLOT_TOMB 0xffffffffu
#define NAME_OFF offsetof(struct went, name)

uint32_t fset_rec_size(size_t namelen)
{
	return (uint32_t)((NAME_OFF + namelen + 1 + 7) & ~(size_t)7);
}

static inline struct went *rec_at(const struct fset *s, uint32_t off)
{
	return (struct went *)(void *)(s->blob + off);
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void idx_insert(struct fset *s, const char *name, uint32_t off)
{
	uint32_t mask = s->nidx - 1;
	for (uint32_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
		if (s->idx[i] == SLOT_EMPTY || s->idx[i] == SLOT_TOMB) {
			if (s->idx[i] == SLOT_EMPTY)
				s->used++;
			s->idx[i] = off / 8 + 1;
			return;
		}
	}
}

static void idx_rebuild(struct fset *s, uint32_t want_live)
{
	free(s->idx);
	s->idx = NULL;
	s->nidx = s->used = 0;
	if (want_live <= FSET_LINEAR)
		return;
	uint32_t n = 16;
	while (n * 7 / 10 < want_live + 1)
		n *= 2;
	s->idx = xcalloc(n, sizeof(*s->idx));
	s->nidx = n;
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(s, &off)) != NULL)
		idx_insert(s, e->name, (uint32_t)((char *)e - s->blob));
}

/* Drop dead records (offsets change: every struct went * is invalidated). */
static void compact(struct fset *s)
{
	uint32_t newlen = s->len - s->waste;
	char *nb = newlen ? xmalloc(newlen) : NULL;
	uint32_t w = 0, off = 0;
	while (off < s->len) {
		struct went *e = rec_at(s, off);
		uint32_t sz = fset_rec_size(strlen(e->name));
		if (!(e->flags & WE_DEAD)) {
			memcpy(nb + w, e, sz);
			w += sz;
		}
		off += sz;
	}
	free(s->blob);
	s->blob = nb;
	s->len = s->cap = newlen;
	s->waste = 0;
	idx_rebuild(s, s->live);
}

struct went *fset_next(const struct fset *s, uint32_t *off)
{
	while (*off < s->len) {
		struct went *e = rec_at(s, *off);
		*off += fset_rec_size(strlen(e->name));
		if (!(e->flags & WE_DEAD))
			return e;
	}
	return NULL;
}

struct went *fset_find(struct fset *s, const char *name)
{
	if (!s->idx) {
		uint32_t off = 0;
		struct went *e;
		while ((e = fset_next(s, &off)) != NULL)
			if (strcmp(e->name, name) == 0)
				return e;
		return NULL;
	}
	uint32_t mask = s->nidx - 1;
	for (uint32_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
		uint32_t v = s->idx[i];
		if (v == SLOT_EMPTY)
			return NULL;
		if (v == SLOT_TOMB)
			continue;
		struct went *e = rec_at(s, (v - 1) * 8);
		if (strcmp(e->name, name) == 0)
			return e;
	}
}

struct went *fset_add(struct fset *s, const char *name, uint8_t flags)
{
	if (s->waste > 256 && s->waste > s->len / 2)
		compact(s);
	size_t nl = strlen(name);
	uint32_t sz = fset_rec_size(nl);
	if (s->cap - s->len < sz) {
		uint32_t cap = s->cap + s->cap / 2;
		if (cap < s->len + sz)
			cap = s->len + sz;
		if (cap < 64)
			cap = 64;
		s->cap = (cap + 7) & ~7u;
		s->blob = xrealloc(s->blob, s->cap);
	}
	uint32_t off = s->len;
	struct went *e = rec_at(s, off);
	memset(e, 0, NAME_OFF);
	e->flags = flags;
	memcpy(e->name, name, nl + 1);
	memset(e->name + nl + 1, 0, sz - NAME_OFF - nl - 1);
	s->len += sz;
	s->live++;
	if (s->live > FSET_LINEAR) {
		if (!s->idx || (s->used + 1) * 10 > s->nidx * 7)
			idx_rebuild(s, s->live); /* includes the new record */
		else
			idx_insert(s, name, off);
	}
	return rec_at(s, off);
}

void fset_del(struct fset *s, struct went *e)
{
	uint32_t off = (uint32_t)((char *)e - s->blob);
	if (s->idx) {
		uint32_t mask = s->nidx - 1;
		for (uint32_t i = name_hash(e->name) & mask;; i = (i + 1) & mask) {
			if (s->idx[i] == SLOT_EMPTY)
				break;
			if (s->idx[i] == off / 8 + 1) {
				s->idx[i] = SLOT_TOMB;
				break;
			}
		}
	}
	e->flags = WE_DEAD;
	s->waste += fset_rec_size(strlen(e->name));
	s->live--;
	if (s->live == 0) {
		/* empty again: give the memory back */
		free(s->blob);
		free(s->idx);
		memset(s, 0, sizeof(*s));
	}
}

void fset_shrink(struct fset *s)
{
	if (s->cap > s->len && s->len) {
		s->blob = xrealloc(s->blob, s->len);
		s->cap = s->len;
	}
}

void fset_release(struct fset *s)
{
	free(s->blob);
	free(s->idx);
	memset(s, 0, sizeof(*s));
}
