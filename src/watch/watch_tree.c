/* The watched trees (watch_tree.h): watch descriptors, nodes and their paths, detach to limbo,
 * reattach, destroy, and the comparison with the disk at settle. Scanning is in watch_scan.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/log.h"
#include "util/xalloc.h"
#include "watch/watch_hub.h"
#include "watch/watch_int.h"

#define TREE_MASK                                                                                  \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |          \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR)

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
	if (!w->tree.nwdtab || wd < 0)
		return NULL;
	uint32_t mask = w->tree.nwdtab - 1;
	for (uint32_t i = wd_slot(wd, mask);; i = (i + 1) & mask) {
		struct wnode *n = w->tree.wdtab[i];
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
	if ((w->tree.nwd + 1) * 4 > w->tree.nwdtab * 3) { /* at most 3/4 full */
		uint32_t size = w->tree.nwdtab ? w->tree.nwdtab * 2 : 64;
		struct wnode **tab = xcalloc(size, sizeof(*tab));
		for (uint32_t i = 0; i < w->tree.nwdtab; i++)
			if (w->tree.wdtab[i])
				wd_insert(tab, size, w->tree.wdtab[i]);
		free(w->tree.wdtab);
		w->tree.wdtab = tab;
		w->tree.nwdtab = size;
	}
	wd_insert(w->tree.wdtab, w->tree.nwdtab, n);
	w->tree.nwd++;
}

void wt_wd_del(struct watch *w, int wd)
{
	if (!w->tree.nwdtab || wd < 0)
		return;
	uint32_t mask = w->tree.nwdtab - 1;
	uint32_t i = wd_slot(wd, mask);
	for (;; i = (i + 1) & mask) {
		if (!w->tree.wdtab[i])
			return;
		if (w->tree.wdtab[i]->wd == wd)
			break;
	}
	w->tree.wdtab[i] = NULL;
	w->tree.nwd--;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	for (uint32_t j = (i + 1) & mask; w->tree.wdtab[j]; j = (j + 1) & mask) {
		if (wd_fills_hole(wd_slot(w->tree.wdtab[j]->wd, mask), i, j)) {
			w->tree.wdtab[i] = w->tree.wdtab[j];
			w->tree.wdtab[j] = NULL;
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
	w->tree.ndirs++;
	return n;
}

void wt_mark_dirty(struct watch *w, struct wnode *n, struct went *e)
{
	if (e)
		e->flags |= WE_DIRTY;
	if (!(n->flags & WN_DIRTY)) {
		n->flags |= WN_DIRTY;
		nvec_push(&w->tree.dirty, n);
	}
}

void wt_orphan_add(struct watch *w, const char *path, const struct went *e)
{
	w->tree.orphans = xgrow(w->tree.orphans, &w->tree.caporphans, w->tree.norphans + 1,
				sizeof(*w->tree.orphans));
	struct wt_orphan *o = &w->tree.orphans[w->tree.norphans++];
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
				nvec_push(&st, fset_node(e));
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
		e->flags &= (uint8_t) ~(WE_KNOWN | WE_DIRTY);
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
		if (e && fset_node(e) == n)
			fset_del(&n->parent->ents, e);
		n->parent = NULL;
	} else if (n->tgt && n->tgt->tree == n) {
		n->tgt->tree = NULL;
	}
	n->flags |= WN_LIMBO | (silent ? WN_SILENT : 0);
	nvec_push(&w->tree.limbo, n);
	wst_arm(w);
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
		nvec_push(&w->tree.dirty, x);
	}
}

/* A node from limbo (or from elsewhere in the trees) now lives at p/name. */
void wt_reattach(struct watch *w, struct wnode *x, struct wnode *p, const char *name)
{
	if (!(x->flags & WN_LIMBO))
		wt_detach(w, x, false);
	nvec_remove(&w->tree.limbo, x);
	x->flags &= (uint16_t) ~(WN_LIMBO | WN_SILENT);
	if (x->name != x->inl)
		free(x->name);
	x->name = xstrdup(name);
	x->parent = p;
	struct went *e = fset_add(&p->ents, name, WE_DIR);
	e->val = (uint64_t)(uintptr_t)x;
	subtree(x, retarget, w, p->tgt); /* every file: compare (and report) at its new path */
	wst_arm(w);
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
				nvec_push(&st, fset_node(e));
		if (x->flags & WN_DIRTY)
			nvec_remove(&w->tree.dirty, x);
		if (x->flags & WN_POLLED)
			wpoll_forget(w, x);
		if (x->flags & WN_BASEQ)
			watch_base_forget(w, x);
		if (x->flags & WN_LIMBO)
			nvec_remove(&w->tree.limbo, x);
		fset_release(&x->ents);
		if (x->name != x->inl)
			free(x->name);
		free(x);
		w->tree.ndirs--;
	}
	free(st.v);
}

static void limbo_flush(struct watch *w)
{
	while (w->tree.limbo.n) {
		struct wnode *x = w->tree.limbo.v[w->tree.limbo.n - 1];
		wt_destroy(w, x); /* removes x from limbo */
	}
}

size_t wt_ndirs(const struct watch *w)
{
	return w->tree.ndirs;
}

size_t wt_nlimbo(const struct watch *w)
{
	return w->tree.limbo.n;
}

size_t wt_nfiles(const struct wnode *n)
{
	size_t k = 0;
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(&n->ents, &off)) != NULL) {
		if (e->flags & WE_DIR)
			k += wt_nfiles(fset_node(e));
		else if (e->flags & WE_KNOWN)
			k++;
	}
	return k;
}

bool wt_pending(const struct watch *w)
{
	return w->tree.dirty.n || w->tree.limbo.n || w->tree.norphans;
}

void wt_free(struct watch *w)
{
	limbo_flush(w);
	for (size_t i = 0; i < w->tree.norphans; i++)
		free(w->tree.orphans[i].path);
	free(w->tree.orphans);
	free(w->tree.dirty.v);
	free(w->tree.limbo.v);
	free(w->tree.wdtab);
	memset(&w->tree, 0, sizeof(w->tree));
}

/* ---- settle: compare with the disk ---- */

static int cmp_orphan(const void *a, const void *b)
{
	return strcmp(((const struct wt_orphan *)a)->path, ((const struct wt_orphan *)b)->path);
}

static struct wt_orphan *orphan_find(struct watch *w, const char *path)
{
	if (!w->tree.norphans)
		return NULL;
	struct wt_orphan key = {.path = (char *)path};
	return bsearch(&key, w->tree.orphans, w->tree.norphans, sizeof(*w->tree.orphans),
		       cmp_orphan);
}

static void settle_node(struct watch *w, struct wnode *n, struct buf *abs, struct buf *rel)
{
	wt_abs(w, n, abs);
	int dfd = open(buf_cstr(abs), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	wt_rel(w, n, rel);
	size_t base = rel->len;
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(&n->ents, &off)) != NULL) {
		if ((e->flags & (WE_DIR | WE_DIRTY)) != WE_DIRTY)
			continue;
		e->flags &= (uint8_t)~WE_DIRTY;
		struct fp_state old = {e->digest, e->val, (e->flags & WE_HASHED) != 0}, now;
		bool based = (e->flags & WE_BASED) != 0;
		int err = 0;
		enum fp_verdict v =
			dfd < 0 ? FP_GONE : fp_check(dfd, e->name, based ? &old : NULL, &now, &err);
		rel->len = base;
		if (base)
			buf_putc(rel, '/');
		buf_puts(rel, e->name);
		const char *path = buf_cstr(rel);
		if (e->flags & WE_KNOWN) {
			if (v == FP_GONE) {
				watch_add_change(w, WATCH_REMOVED, path);
				fset_del(&n->ents, e);
			} else if (v == FP_ERROR) {
				log_debug("cannot read '%s': %s", path, strerror(-err));
			} else {
				fset_store(e, &now);
				if (v == FP_CHANGED)
					watch_add_change(w, WATCH_CHANGED, path);
			}
			continue;
		}
		if (v == FP_GONE) {
			fset_del(&n->ents, e); /* came and went within the batch */
			continue;
		}
		e->flags |= WE_KNOWN;
		if (v != FP_ERROR)
			fset_store(e, &now);
		struct wt_orphan *o = orphan_find(w, path);
		if (!o) {
			watch_add_change(w, WATCH_CREATED, path);
			continue;
		}
		o->used = true;
		if (!(o->based && o->st.hashed && v != FP_ERROR && now.hashed &&
		      o->st.hash == now.hash))
			watch_add_change(w, WATCH_CHANGED, path);
	}
	if (dfd >= 0)
		close(dfd);
}

void wt_settle_gitignores(struct watch *w)
{
	struct buf abs = BUF_INIT;
	for (size_t i = 0; i < w->tree.dirty.n; i++) {
		struct wnode *n = w->tree.dirty.v[i];
		if (!(n->flags & WN_GIDIRTY) || (n->flags & WN_LIMBO))
			continue;
		n->flags &= (uint16_t)~WN_GIDIRTY;
		wt_abs(w, n, &abs);
		wscan_gitignore_load(w, n, buf_cstr(&abs));
		wscan_run(w, n, WSCAN_SILENT, true);
	}
	buf_release(&abs);
}

void wt_settle(struct watch *w)
{
	struct buf abs = BUF_INIT, rel = BUF_INIT;
	if (w->tree.norphans > 1)
		qsort(w->tree.orphans, w->tree.norphans, sizeof(*w->tree.orphans), cmp_orphan);
	for (size_t i = 0; i < w->tree.dirty.n; i++) {
		struct wnode *n = w->tree.dirty.v[i];
		n->flags &= (uint16_t) ~(WN_DIRTY | WN_GIDIRTY);
		if (!(n->flags & WN_LIMBO))
			settle_node(w, n, &abs, &rel);
	}
	w->tree.dirty.n = 0;
	if (w->tree.dirty.cap > 1024) {
		free(w->tree.dirty.v); /* a rescan's worth of nodes: do not keep it */
		w->tree.dirty = (struct nvec){0};
	}
	limbo_flush(w);
	for (size_t i = 0; i < w->tree.norphans; i++) {
		if (!w->tree.orphans[i].used)
			watch_add_change(w, WATCH_REMOVED, w->tree.orphans[i].path);
		free(w->tree.orphans[i].path);
	}
	w->tree.norphans = 0;
	buf_release(&abs);
	buf_release(&rel);
}
