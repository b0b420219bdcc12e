/* The watched trees: watch descriptors, nodes, add-then-scan, reconcile, detach/reattach. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "log.h"
#include "util/fileio.h"
#include "util/xalloc.h"
#include "watch_int.h"

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

static inline uint32_t wd_home(int wd, uint32_t mask)
{
	return ((uint32_t)wd * 2654435761u) & mask;
}

int wt_wd_add(struct watch *w, const char *path, bool tree, int *err)
{
	uint32_t mask = TREE_MASK | (tree ? IN_DONT_FOLLOW : 0);
	int wd = inotify_add_watch(w->ifd, path, mask);
	*err = wd < 0 ? errno : 0;
	return wd;
}

struct wnode *wt_wd_node(const struct watch *w, int wd)
{
	if (!w->nwdtab || wd < 0)
		return NULL;
	uint32_t mask = w->nwdtab - 1;
	for (uint32_t i = wd_home(wd, mask);; i = (i + 1) & mask) {
		struct wnode *n = w->wdtab[i];
		if (!n || n->wd == wd)
			return n;
	}
}

static void wd_insert(struct wnode **tab, uint32_t size, struct wnode *n)
{
	uint32_t mask = size - 1;
	uint32_t i = wd_home(n->wd, mask);
	while (tab[i])
		i = (i + 1) & mask;
	tab[i] = n;
}

void wt_wd_set(struct watch *w, struct wnode *n)
{
	if ((w->nwd + 1) * 2 > w->nwdtab) {
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
	uint32_t i = wd_home(wd, mask);
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
		uint32_t k = wd_home(w->wdtab[j]->wd, mask);
		bool move = i <= j ? (k <= i || k > j) : (k <= i && k > j);
		if (move) {
			w->wdtab[i] = w->wdtab[j];
			w->wdtab[j] = NULL;
			i = j;
		}
	}
}

/* Remove the kernel watch unless another role (an anchor) still uses it. */
void wt_wd_release(struct watch *w, int wd)
{
	if (wd < 0 || w->ifd < 0)
		return;
	if (wt_wd_node(w, wd) || wtg_anchor_by_wd(w, wd))
		return;
	inotify_rm_watch(w->ifd, wd); /* EINVAL when the kernel already dropped it: fine */
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
static void join(struct buf *b, const char *prefix, const char *name)
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
static void append(struct buf *b, const char *name)
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

static void orphan_add(struct watch *w, const char *path, const struct went *e)
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
			orphan_add(w, buf_cstr(&rel), e);
		}
		e->flags &= (uint8_t)~(WE_KNOWN | WE_DIRTY);
	}
	buf_free(&rel);
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
static void reattach(struct watch *w, struct wnode *x, struct wnode *p, const char *name)
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
		wt_wd_release(w, wd);
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
		fset_free(&x->ents);
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

/* ---- scanning ---- */

struct scanitem {
	struct wnode *n;
	enum wt_scan mode;
	bool recurse;
};

struct scanq {
	struct scanitem *v;
	size_t n, cap;
};

static void sq_push(struct scanq *q, struct wnode *n, enum wt_scan mode, bool recurse)
{
	q->v = xgrow(q->v, &q->cap, q->n + 1, sizeof(*q->v));
	q->v[q->n++] = (struct scanitem){n, mode, recurse};
}

bool wt_poll_path(const struct watch *w, const char *abs)
{
	for (size_t i = 0; i < w->poll_mounts.n; i++)
		if (strcmp(w->poll_mounts.v[i], abs) == 0)
			return true;
	return false;
}

/* p/name is a directory the filter accepts: watch it (or find the node that already has this
 * inode's watch) and queue what needs scanning. Returns the node, or NULL. */
static struct wnode *attach_dir(struct watch *w, struct wnode *p, const char *name,
				const char *abs, enum wt_scan mode, bool recurse, struct scanq *q)
{
	struct went *e = fset_find(&p->ents, name);
	struct wnode *cur = e && (e->flags & WE_DIR) ? went_node(e) : NULL;
	if (e && !cur) {
		/* a file became a directory: the file's view entry becomes an orphan */
		if (mode != SCAN_SILENT && (e->flags & WE_KNOWN)) {
			struct buf rel = BUF_INIT;
			wt_rel(w, p, &rel);
			append(&rel, name);
			orphan_add(w, buf_cstr(&rel), e);
			buf_free(&rel);
		}
		fset_del(&p->ents, e);
	}
	/* polled because the filesystem needs it, or (limit hit) until a watch can be had */
	bool fs_poll = w->ifd < 0 || ((p->flags & WN_POLLED) && !(p->flags & WN_NOWATCH)) ||
		       wt_poll_path(w, abs);
	bool polled = fs_poll;
	int wd = -1, err = 0;
	if (!polled) {
		wd = wt_wd_add(w, abs, true, &err);
		if (wd < 0) {
			if (err == ENOENT || err == ENOTDIR || err == ELOOP)
				goto gone;
			if (err == ENOSPC || err == ENOMEM) {
				watch_limit_hit(w, err, abs);
				polled = true;
			} else {
				log_warn("cannot watch '%s': %s — skipping it", abs, strerror(err));
				return NULL;
			}
		}
	}
	if (wd >= 0) {
		struct wnode *x = wt_wd_node(w, wd);
		if (x && x == cur) {
			if (recurse && (mode == SCAN_RECONCILE || mode == SCAN_SILENT))
				sq_push(q, x, mode, true);
			return x;
		}
		if (x && x->name) {
			/* a directory we know, moved here */
			if (cur)
				wt_detach(w, cur, mode == SCAN_SILENT);
			reattach(w, x, p, name);
			if (recurse)
				sq_push(q, x, mode == SCAN_SILENT ? SCAN_SILENT : SCAN_RECONCILE, true);
			return x;
		}
		if (x) {
			/* the top of a tree turned up inside another: keep it where it is */
			return NULL;
		}
	}
	if (cur) {
		if (!polled || !(cur->flags & WN_POLLED)) {
			wt_detach(w, cur, mode == SCAN_SILENT);
		} else {
			if (recurse && (mode == SCAN_RECONCILE || mode == SCAN_SILENT))
				sq_push(q, cur, mode, true);
			return cur; /* polled: no watch to tell inodes apart */
		}
	}
	struct wnode *x = wt_node_new(w, p->tgt, p, name, wd);
	if (polled)
		wpoll_add(w, x, !fs_poll);
	enum wt_scan m = mode == SCAN_INITIAL ? SCAN_INITIAL : mode == SCAN_SILENT ? SCAN_SILENT
										   : SCAN_NEW;
	sq_push(q, x, m, true);
	return x;
gone:
	if (cur)
		wt_detach(w, cur, mode == SCAN_SILENT);
	return NULL;
}

void wt_gitignore_load(struct watch *w, struct wnode *n, const char *dir_abs)
{
	struct buf p = BUF_INIT, fr = BUF_INIT;
	join(&p, dir_abs, ".gitignore");
	char *text = NULL;
	size_t len = 0;
	int r = file_read_all(buf_cstr(&p), 1 << 20, &text, &len);
	wt_frel(w, n, &fr);
	filter_gitignore_set(w->filter, buf_cstr(&fr), r == 0 ? text : NULL, r == 0 ? len : 0);
	free(text);
	buf_free(&p);
	buf_free(&fr);
}

struct dent {
	unsigned char type;
	const char *name;
};

/* Read a directory's entries into b (type byte + name + NUL each) with getdents64() directly:
 * no DIR, no fstat/fcntl per directory. Returns the open fd (for fstatat), or -errno. */
static int read_dir(const char *abs, struct buf *b)
{
	int fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	char raw[32768] __attribute__((aligned(8)));
	buf_reset(b);
	for (;;) {
		ssize_t n = getdents64(fd, raw, sizeof(raw));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(void *)(raw + off);
			off += de->d_reclen;
			const char *nm = de->d_name;
			if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
				continue;
			unsigned char t = de->d_type;
			if (t == DT_UNKNOWN) {
				struct stat st;
				if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				t = S_ISDIR(st.st_mode)	  ? DT_DIR
				    : S_ISREG(st.st_mode) ? DT_REG
				    : S_ISLNK(st.st_mode) ? DT_LNK
							  : DT_UNKNOWN;
			}
			buf_putc(b, (char)t);
			buf_puts(b, nm);
			buf_putc(b, '\0');
		}
	}
	return fd;
}

static void file_entry(struct watch *w, struct wnode *x, int dfd, const char *name,
		       enum wt_scan mode, bool *unbased)
{
	struct went *e = mode == SCAN_INITIAL ? NULL : fset_find(&x->ents, name);
	switch (mode) {
	case SCAN_INITIAL:
		fset_add(&x->ents, name, WE_KNOWN | WE_SEEN);
		*unbased = true;
		break;
	case SCAN_NEW:
		if (!e)
			e = fset_add(&x->ents, name, 0);
		e->flags |= WE_SEEN;
		wt_mark_dirty(w, x, e);
		break;
	case SCAN_RECONCILE:
		if (!e) {
			e = fset_add(&x->ents, name, WE_SEEN);
			wt_mark_dirty(w, x, e);
			break;
		}
		e->flags |= WE_SEEN;
		if ((e->flags & (WE_BASED | WE_DIRTY)) == WE_BASED) {
			struct stat st;
			struct fp fp;
			if (fstatat(dfd, name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
				wt_mark_dirty(w, x, e);
				break;
			}
			fp_from_stat(&fp, &st);
			if ((uint32_t)fp_digest(&fp) != e->digest)
				wt_mark_dirty(w, x, e);
		} else if (!(e->flags & WE_KNOWN)) {
			wt_mark_dirty(w, x, e);
		}
		break;
	case SCAN_SILENT:
		if (!e) {
			fset_add(&x->ents, name, WE_KNOWN | WE_SEEN);
			*unbased = true;
		} else {
			e->flags |= WE_SEEN;
		}
		break;
	}
}

static void scan_one(struct watch *w, struct scanitem it, struct scanq *q)
{
	struct wnode *x = it.n;
	if (x->flags & WN_LIMBO)
		return;
	struct buf abs = BUF_INIT, ents = BUF_INIT, fr = BUF_INIT, child = BUF_INIT;
	wt_abs(w, x, &abs);
	int dfd = read_dir(buf_cstr(&abs), &ents);
	int r = dfd < 0 ? dfd : 0;
	if (r < 0) {
		if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP) {
			if (x->parent)
				wt_detach(w, x, it.mode == SCAN_SILENT);
			else if (x->tgt)
				wtg_resolve(w, x->tgt, false);
		} else if (r != -EACCES || it.mode != SCAN_RECONCILE) {
			log_warn("cannot read directory '%s': %s", buf_cstr(&abs), strerror(-r));
		}
		goto out;
	}
	const char *p = ents.len ? ents.p : "", *end = p + ents.len;
	if (w->gitignore) {
		bool has = false;
		for (const char *s = p; s < end; s += strlen(s + 1) + 2)
			if (strcmp(s + 1, ".gitignore") == 0)
				has = true;
		wt_frel(w, x, &fr);
		if (has || filter_gitignore_has(w->filter, buf_cstr(&fr)))
			wt_gitignore_load(w, x, buf_cstr(&abs));
	}
	wt_frel(w, x, &fr);
	size_t frlen = fr.len;
	bool unbased = false;
	for (const char *s = p; s < end; s += strlen(s + 1) + 2) {
		unsigned char type = (unsigned char)s[0];
		const char *name = s + 1;
		fr.len = frlen;
		if (frlen)
			buf_putc(&fr, '/');
		buf_puts(&fr, name);
		if (type == DT_DIR) {
			if (!filter_dir_ok(w->filter, buf_cstr(&fr))) {
				struct went *e = fset_find(&x->ents, name);
				if (e && (e->flags & WE_DIR))
					wt_detach(w, went_node(e), true); /* a filter now excludes it */
				continue;
			}
			join(&child, buf_cstr(&abs), name);
			struct wnode *c = attach_dir(w, x, name, buf_cstr(&child), it.mode,
						     it.recurse, q);
			if (c) {
				struct went *e = fset_find(&x->ents, name);
				if (e)
					e->flags |= WE_SEEN;
			}
		} else if (type == DT_REG || type == DT_LNK) {
			if (!filter_file_ok(w->filter, buf_cstr(&fr))) {
				struct went *e = fset_find(&x->ents, name);
				if (e && !(e->flags & WE_DIR))
					fset_del(&x->ents, e); /* a filter now excludes it */
				continue;
			}
			if (it.mode != SCAN_INITIAL) {
				struct went *e = fset_find(&x->ents, name);
				if (e && (e->flags & WE_DIR))
					wt_detach(w, went_node(e), it.mode == SCAN_SILENT);
			}
			file_entry(w, x, dfd, name, it.mode, &unbased);
		}
	}
	/* sweep: whatever was not seen is gone */
	uint32_t off = 0;
	struct went *e;
	while ((e = fset_next(&x->ents, &off)) != NULL) {
		if (e->flags & WE_SEEN) {
			e->flags &= (uint8_t)~WE_SEEN;
			continue;
		}
		if (e->flags & WE_DIR)
			wt_detach(w, went_node(e), it.mode == SCAN_SILENT);
		else if (it.mode == SCAN_SILENT)
			fset_del(&x->ents, e);
		else
			wt_mark_dirty(w, x, e);
	}
	if (it.mode == SCAN_INITIAL)
		fset_shrink(&x->ents);
	if (unbased)
		watch_base_queue(w, x);
	if (x->flags & WN_DIRTY)
		watch_arm_settle(w);
out:
	if (dfd >= 0)
		close(dfd);
	buf_free(&abs);
	buf_free(&ents);
	buf_free(&fr);
	buf_free(&child);
}

void wt_scan(struct watch *w, struct wnode *n, enum wt_scan mode, bool recurse)
{
	struct scanq q = {0};
	sq_push(&q, n, mode, recurse);
	while (q.n) {
		struct scanitem it = q.v[--q.n];
		scan_one(w, it, &q);
	}
	free(q.v);
}

/* Something happened to p/name that may concern a directory: look, then watch, move, or
 * detach. Returns the directory's node, or NULL when the name is not a watched directory. */
struct wnode *wt_child_sync(struct watch *w, struct wnode *p, const char *name)
{
	if (p->flags & WN_LIMBO)
		return NULL;
	struct buf abs = BUF_INIT, fr = BUF_INIT;
	wt_abs(w, p, &abs);
	append(&abs, name);
	wt_frel(w, p, &fr);
	if (fr.len)
		buf_putc(&fr, '/');
	buf_puts(&fr, name);
	struct stat st;
	struct wnode *x = NULL;
	struct went *e = fset_find(&p->ents, name);
	struct wnode *cur = e && (e->flags & WE_DIR) ? went_node(e) : NULL;
	if (lstat(buf_cstr(&abs), &st) == 0 && S_ISDIR(st.st_mode) &&
	    filter_dir_ok(w->filter, buf_cstr(&fr))) {
		struct scanq q = {0};
		x = attach_dir(w, p, name, buf_cstr(&abs), SCAN_NEW, true, &q);
		/* an already-known directory at the same place needs no rescan */
		while (q.n) {
			struct scanitem it = q.v[--q.n];
			if (it.n == cur && it.mode == SCAN_NEW)
				continue;
			scan_one(w, it, &q);
		}
		free(q.v);
	} else if (cur) {
		wt_detach(w, cur, false);
	}
	buf_free(&abs);
	buf_free(&fr);
	return x;
}
