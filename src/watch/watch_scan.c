/* Scanning: add-then-scan of new directories, reconcile of known ones (overflow rescans,
 * polling, .gitignore changes), and the directory side of events (watch, move, detach). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watch/filter.h"
#include "core/log.h"
#include "util/fileio.h"
#include "util/xalloc.h"
#include "watch/watch_int.h"

struct scanitem {
	struct wnode *n;
	enum wscan_mode mode;
	bool recurse;
};

struct scanq {
	struct scanitem *v;
	size_t n, cap;
};

static void sq_push(struct scanq *q, struct wnode *n, enum wscan_mode mode, bool recurse)
{
	q->v = xgrow(q->v, &q->cap, q->n + 1, sizeof(*q->v));
	q->v[q->n++] = (struct scanitem){n, mode, recurse};
}

/* p/name is a directory the filter accepts: watch it (or find the node that already has this
 * inode's watch) and queue what needs scanning. Returns the node, or NULL. */
static struct wnode *attach_dir(struct watch *w, struct wnode *p, const char *name, const char *abs,
				enum wscan_mode mode, bool recurse, struct scanq *q)
{
	struct went *e = fset_find(&p->ents, name);
	struct wnode *cur = e && (e->flags & WE_DIR) ? fset_node(e) : NULL;
	if (e && !cur) {
		/* a file became a directory: the file's view entry becomes an orphan */
		if (mode != WSCAN_SILENT && (e->flags & WE_KNOWN)) {
			struct buf rel = BUF_INIT;
			wt_rel(w, p, &rel);
			wt_append(&rel, name);
			wt_orphan_add(w, buf_cstr(&rel), e);
			buf_release(&rel);
		}
		fset_del(&p->ents, e);
	}
	/* polled because the filesystem needs it, or (limit hit) until a watch can be had */
	bool fs_poll = w->hid < 0 || ((p->flags & WN_POLLED) && !(p->flags & WN_NOWATCH)) ||
		       wpoll_path(w, abs);
	bool polled = fs_poll;
	int wd = -1, err = 0;
	if (!polled) {
		wd = wt_wd_add(w, abs, true);
		if (wd < 0) {
			err = -wd;
			wd = -1;
			if (err == ENOENT || err == ENOTDIR || err == ELOOP)
				goto gone;
			if (err == ENOSPC || err == ENOMEM) {
				wpoll_limit_hit(w, err, abs);
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
			if (recurse && (mode == WSCAN_RECONCILE || mode == WSCAN_SILENT))
				sq_push(q, x, mode, true);
			return x;
		}
		if (x && x->name) {
			/* a directory we know, moved here */
			if (cur)
				wt_detach(w, cur, mode == WSCAN_SILENT);
			wt_reattach(w, x, p, name);
			if (recurse)
				sq_push(q, x, mode == WSCAN_SILENT ? WSCAN_SILENT : WSCAN_RECONCILE,
					true);
			return x;
		}
		if (x) {
			/* the top of a tree turned up inside another: keep it where it is */
			return NULL;
		}
	}
	if (cur) {
		if (!polled || !(cur->flags & WN_POLLED)) {
			wt_detach(w, cur, mode == WSCAN_SILENT);
		} else {
			if (recurse && (mode == WSCAN_RECONCILE || mode == WSCAN_SILENT))
				sq_push(q, cur, mode, true);
			return cur; /* polled: no watch to tell inodes apart */
		}
	}
	struct wnode *x = wt_node_new(w, p->tgt, p, name, wd);
	if (polled)
		wpoll_add(w, x, !fs_poll);
	enum wscan_mode m = mode == WSCAN_INITIAL  ? WSCAN_INITIAL
			    : mode == WSCAN_SILENT ? WSCAN_SILENT
						   : WSCAN_NEW;
	sq_push(q, x, m, true);
	return x;
gone:
	if (cur)
		wt_detach(w, cur, mode == WSCAN_SILENT);
	return NULL;
}

void wscan_gitignore_load(struct watch *w, struct wnode *n, const char *dir_abs)
{
	struct buf p = BUF_INIT, fr = BUF_INIT;
	wt_join(&p, dir_abs, ".gitignore");
	char *text = NULL;
	size_t len = 0;
	int r = file_read_all(buf_cstr(&p), 1 << 20, &text, &len);
	wt_frel(w, n, &fr);
	filter_gitignore_set(w->filter, buf_cstr(&fr), r == 0 ? text : NULL, r == 0 ? len : 0);
	free(text);
	buf_release(&p);
	buf_release(&fr);
}

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
		       enum wscan_mode mode, bool *unbased)
{
	struct went *e = mode == WSCAN_INITIAL ? NULL : fset_find(&x->ents, name);
	switch (mode) {
	case WSCAN_INITIAL:
		fset_add(&x->ents, name, WE_KNOWN | WE_SEEN);
		*unbased = true;
		break;
	case WSCAN_NEW:
		if (!e)
			e = fset_add(&x->ents, name, 0);
		e->flags |= WE_SEEN;
		wt_mark_dirty(w, x, e);
		break;
	case WSCAN_RECONCILE:
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
	case WSCAN_SILENT:
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
				wt_detach(w, x, it.mode == WSCAN_SILENT);
			else if (x->tgt)
				wtg_resolve(w, x->tgt, false);
		} else if (r != -EACCES || it.mode != WSCAN_RECONCILE) {
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
			wscan_gitignore_load(w, x, buf_cstr(&abs));
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
					wt_detach(w, fset_node(e),
						  true); /* a filter now excludes it */
				continue;
			}
			wt_join(&child, buf_cstr(&abs), name);
			struct wnode *c =
				attach_dir(w, x, name, buf_cstr(&child), it.mode, it.recurse, q);
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
			if (it.mode != WSCAN_INITIAL) {
				struct went *e = fset_find(&x->ents, name);
				if (e && (e->flags & WE_DIR))
					wt_detach(w, fset_node(e), it.mode == WSCAN_SILENT);
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
			wt_detach(w, fset_node(e), it.mode == WSCAN_SILENT);
		else if (it.mode == WSCAN_SILENT)
			fset_del(&x->ents, e);
		else
			wt_mark_dirty(w, x, e);
	}
	if (it.mode == WSCAN_INITIAL)
		fset_shrink(&x->ents);
	if (unbased)
		watch_base_queue(w, x);
	if (x->flags & WN_DIRTY)
		wst_arm(w);
out:
	if (dfd >= 0)
		close(dfd);
	buf_release(&abs);
	buf_release(&ents);
	buf_release(&fr);
	buf_release(&child);
}

void wscan_run(struct watch *w, struct wnode *n, enum wscan_mode mode, bool recurse)
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
struct wnode *wscan_child_sync(struct watch *w, struct wnode *p, const char *name)
{
	if (p->flags & WN_LIMBO)
		return NULL;
	struct buf abs = BUF_INIT, fr = BUF_INIT;
	wt_abs(w, p, &abs);
	wt_append(&abs, name);
	wt_frel(w, p, &fr);
	if (fr.len)
		buf_putc(&fr, '/');
	buf_puts(&fr, name);
	struct stat st;
	struct wnode *x = NULL;
	struct went *e = fset_find(&p->ents, name);
	struct wnode *cur = e && (e->flags & WE_DIR) ? fset_node(e) : NULL;
	if (lstat(buf_cstr(&abs), &st) == 0 && S_ISDIR(st.st_mode) &&
	    filter_dir_ok(w->filter, buf_cstr(&fr))) {
		struct scanq q = {0};
		x = attach_dir(w, p, name, buf_cstr(&abs), WSCAN_NEW, true, &q);
		/* an already-known directory at the same place needs no rescan */
		while (q.n) {
			struct scanitem it = q.v[--q.n];
			if (it.n == cur && it.mode == WSCAN_NEW)
				continue;
			scan_one(w, it, &q);
		}
		free(q.v);
	} else if (cur) {
		wt_detach(w, cur, false);
	}
	buf_release(&abs);
	buf_release(&fr);
	return x;
}
