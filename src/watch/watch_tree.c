/* The watched trees: watch descriptors, nodes and their paths, detach to limbo, reattach,
 * destroy. Scanning is in watch_scan.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "core/log.h"
#include "util/xalloc.h"
#include "watch/watch_hub.h"
#include "watch/watch_int.h"

#define TREE_MASK                                                                                  \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |          \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR)

/* ---- node vectors ---- */

void nvec_push(struct nvec *v, struct wnode *n)
{
	v->v = xgrow(v->v, &v->cap, v->n + 1, sizeof(*v->v));
	v->v[v->n++] = n;
}

void nvec_remove(struct nvec *v, struct wnode *n)
{
	for (size_t i = v->n; i-- > 0;) {
		if (v->v[i] == n) {
			v->v[i] = v->v[--v->n];
			return;
		}
	}
}

/* ---- watch descriptors ---- */

int wt_wd_add(struct watch *w, const char *path, bool tree)
{
	if (w->hid < 0)
		return -EBADF; /* callers poll instead when there is no inotify */
	uint32_t mask = TREE_MASK | (tree ? IN_DONT_FOLLOW : 0);
	return watch_hub_add(w->hub, w->hid, path, mask);
}

struct wnode *wt_wd_node(const struct watch *w, int wd)
{
	if (!w->nwdtab || wd < 0)
		return NULL;
	uint32_t mask = w->nwdtab - 1;
	for (uint32_t i = wd_slot(wd, mask);; i = (i + 1) & mask) {
		struct wnode *n = w->wdtab[i];
		if (!n || n->wd == wd)
			return n;
	}
}

static void wd_insert(struct wnode **tab, uint32_t size, struct wnode *n)
{
	uint32_t mask = size - 1;
	uint32_t i = wd_slot(n->wd, mask);
	while (tab[i])
		i = (i + 1) & mask;
	tab[i] = n;
}

void wt_wd_set(struct watch *w, struct wnode *n)
{
	if ((w->nwd + 1) * 4 > w->nwdtab * 3) { /* at most 3/4 full */
		uint32_t size = w->nwdtab ? w->nwdtab * 2 : 64;
		struct wnode **tab = xcalloc(size, sizeof(*tab));
		for (uint32_t i = 0; i < w->nwdtab; i++)
			if (w->wdtab[i])
				wd_insert(tab, size, w->wdtab[i]);
		free(w->wdtab);
		w->wdtab = tab;
		w->nwdtab = size;
	}
	wd_insert(w->wdtab, w->nwdtab, n);
	w->nwd++;
}

void wt_wd_del(struct watch *w, int wd)
{
	if (!w->nwdtab || wd < 0)
		return;
	uint32_t mask = w->nwdtab - 1;
	uint32_t i = wd_slot(wd, mask);
	for (;; i = (i + 1) & mask) {
		if (!w->wdtab[i])
			return;
		if (w->wdtab[i]->wd == wd)
			break;
	}
	w->wdtab[i] = NULL;
	w->nwd--;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	for (uint32_t j = (i + 1) & mask; w->wdtab[j]; j = (j + 1) & mask) {
		if (wd_fills_hole(wd_slot(w->wdtab[j]->wd, mask), i, j)) {
			w->wdtab[i] = w->wdtab[j];
			w->wdtab[j] = NULL;
			i = j;
		}
	}
}

/* Let go of the kernel watch unless another role of this watch (a node, an anchor) still uses
 * it. The hub removes it once no other watch of the process holds it either. */
void wt_wd_unref(struct watch *w, int wd)
{
	if (wd < 0 || w->hid < 0)
		return;
	if (wt_wd_node(w, wd) || wtg_anchor_by_wd(w, wd))
		return;
	watch_hub_wd_unref(w->hub, w->hid, wd);
}

/* ---- paths ---- */

/* Append the names from the top down to n. False for a node in limbo (no path). */
static bool chain(const struct wnode *n, struct buf *b, bool lead)
{
	size_t k = 0;
	for (const struct wnode *x = n; x->name; x = x->parent) {
		if (!x->parent)
			return false;
		k++;
	}
	const struct wnode *small[64];
	const struct wnode **v = k <= 64 ? small : xmalloc(k * sizeof(*v));
	size_t i = k;
	for (const struct wnode *x = n; x->name; x = x->parent)
		v[--i] = x;
	for (i = 0; i < k; i++) {
		if (lead)
			buf_putc(b, '/');
		buf_puts(b, v[i]->name);
		lead = true;
	}
	if (v != small)
		free(v);
	return true;
}

static const struct wnode *top_of(const struct wnode *n)
{
	while (n->parent)
		n = n->parent;
	return n;
}

void wt_abs(const struct watch *w, const struct wnode *n, struct buf *b)
{
	(void)w;
	buf_reset(b);
	const struct wnode *t = top_of(n);
	const char *real = t->name ? "" : t->tgt->real;
	buf_puts(b, real ? real : "");
	chain(n, b, strcmp(buf_cstr(b), "/") != 0);
}

void wt_rel(const struct watch *w, const struct wnode *n, struct buf *b)
{
	(void)w;
	buf_reset(b);
	buf_puts(b, n->tgt->rel);
	chain(n, b, b->len > 0);
}

void wt_frel(const struct watch *w, const struct wnode *n, struct buf *b)
{
	(void)w;
	buf_reset(b);
	buf_puts(b, n->tgt->frel);
	chain(n, b, b->len > 0);
}

/* b = prefix/name (prefix may be "" or "/") */
void wt_join(struct buf *b, const char *prefix, const char *name)
{
	buf_reset(b);
	if (*prefix) {
		buf_puts(b, prefix);
		if (strcmp(prefix, "/") != 0)
			buf_putc(b, '/');
	}
	buf_puts(b, name);
}

/* b = b/name */
void wt_append(struct buf *b, const char *name)
{
	if (b->len && !(b->len == 1 && b->p[0] == '/'))
		buf_putc(b, '/');
	buf_puts(b, name);
}

/* ---- nodes ---- */

struct wnode *wt_node_new(struct watch *w, struct wtarget *t, struct wnode *parent,
			  const char *name, int wd)
{
	size_t nl = name ? strlen(name) + 1 : 0;
	struct wnode *n = xcalloc(1, sizeof(*n) + nl);
	n->tgt = t;
	n->parent = parent;
	if (name)
		n->name = memcpy(n->inl, name, nl); /* renames get their own allocation */
	n->wd = wd;
	if (wd >= 0)
		wt_wd_set(w, n);
	if (parent) {
		struct went *e = fset_add(&parent->ents, name, WE_DIR);
		e->val = (uint64_t)(uintptr_t)n;
	}
	w->ndirs++;
	return n;
}

void wt_mark_dirty(struct watch *w, struct wnode *n, struct went *e)
{
	if (e)
		e->flags |= WE_DIRTY;
	if (!(n->flags & WN_DIRTY)) {
		n->flags |= WN_DIRTY;
		nvec_push(&w->dirty, n);
	}
}

void wt_orphan_add(struct watch *w, const char *path, const struct went *e)
{
	w->orphans = xgrow(w->orphans, &w->caporphans, w->norphans + 1, sizeof(*w->orphans));
	struct orphan *o = &w->orphans[w->norphans++];
	o->path = xstrdup(path);
	o->st.digest = e->digest;
	o->st.hash = e->val;
	o->st.hashed = (e->flags & WE_HASHED) != 0;
	o->based = (e->flags & WE_BASED) != 0;
	o->used = false;
}

/* Visit n and every node below it (pre-order), with an explicit stack. */
static void subtree(struct wnode *n, void (*fn)(struct watch *, struct wnode *, void *),
		    struct watch *w, void *arg)
{
	struct nvec st = {0};
	nvec_push(&st, n);
	while (st.n) {
		struct wnode *x = st.v[--st.n];
		fn(w, x, arg);
		uint32_t off = 0;
		struct went *e;
		while ((e = fset_next(&x->ents, &off)) != NULL)
			if (e->flags & WE_DIR)
				nvec_push(&st, went_node(e));
	}
	free(st.v);
}

static void forget_node(struct watch *w, struct wnode *x, void *arg)
{
	bool silent = *(bool *)arg;
	struct buf rel = BUF_INIT;
	if (!silent)
		wt_rel(w, x, &rel);
	size_t base = rel.len;
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(&x->ents, &off)) != NULL) {
		if (e->flags & WE_DIR)
			continue;
		if (!silent && (e->flags & WE_KNOWN)) {
			rel.len = base;
			if (base)
				buf_putc(&rel, '/');
			buf_puts(&rel, e->name);
			wt_orphan_add(w, buf_cstr(&rel), e);
		}
		e->flags &= (uint8_t)~(WE_KNOWN | WE_DIRTY);
	}
	buf_release(&rel);
}

void wt_detach(struct watch *w, struct wnode *n, bool silent)
{
	if (n->flags & WN_LIMBO)
		return;
	subtree(n, forget_node, w, &silent);
	if (n->parent) {
		struct went *e = fset_find(&n->parent->ents, n->name);
		if (e && went_node(e) == n)
			fset_del(&n->parent->ents, e);
		n->parent = NULL;
	} else if (n->tgt && n->tgt->tree == n) {
		n->tgt->tree = NULL;
	}
	n->flags |= WN_LIMBO | (silent ? WN_SILENT : 0);
	nvec_push(&w->limbo, n);
	watch_arm_settle(w);
}

static void retarget(struct watch *w, struct wnode *x, void *arg)
{
	x->tgt = arg;
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(&x->ents, &off)) != NULL)
		if (!(e->flags & WE_DIR))
			e->flags |= WE_DIRTY;
	if (!(x->flags & WN_DIRTY)) {
		x->flags |= WN_DIRTY;
		nvec_push(&w->dirty, x);
	}
}

/* A node from limbo (or from elsewhere in the trees) now lives at p/name. */
void wt_reattach(struct watch *w, struct wnode *x, struct wnode *p, const char *name)
{
	if (!(x->flags & WN_LIMBO))
		wt_detach(w, x, false);
	nvec_remove(&w->limbo, x);
	x->flags &= (uint16_t) ~(WN_LIMBO | WN_SILENT);
	if (x->name != x->inl)
		free(x->name);
	x->name = xstrdup(name);
	x->parent = p;
	struct went *e = fset_add(&p->ents, name, WE_DIR);
	e->val = (uint64_t)(uintptr_t)x;
	subtree(x, retarget, w, p->tgt); /* every file: compare (and report) at its new path */
	watch_arm_settle(w);
}

static void destroy_one(struct watch *w, struct wnode *x, void *arg)
{
	(void)arg;
	if (x->wd >= 0) {
		int wd = x->wd;
		wt_wd_del(w, wd);
		x->wd = -1;
		wt_wd_unref(w, wd);
	}
}

void wt_destroy(struct watch *w, struct wnode *n)
{
	subtree(n, destroy_one, w, NULL);
	struct nvec st = {0};
	nvec_push(&st, n);
	while (st.n) {
		struct wnode *x = st.v[--st.n];
		uint32_t off = 0;
		struct went *e;
		while ((e = fset_next(&x->ents, &off)) != NULL)
			if (e->flags & WE_DIR)
				nvec_push(&st, went_node(e));
		if (x->flags & WN_DIRTY)
			nvec_remove(&w->dirty, x);
		if (x->flags & WN_POLLED)
			nvec_remove(&w->polled, x);
		if (x->flags & WN_BASEQ)
			nvec_remove(&w->baseq, x);
		if (x->flags & WN_LIMBO)
			nvec_remove(&w->limbo, x);
		fset_release(&x->ents);
		if (x->name != x->inl)
			free(x->name);
		free(x);
		w->ndirs--;
	}
	free(st.v);
}

void wt_limbo_flush(struct watch *w)
{
	while (w->limbo.n) {
		struct wnode *x = w->limbo.v[w->limbo.n - 1];
		wt_destroy(w, x); /* removes x from limbo */
	}
}
