/* Configured paths: each resolves to a tree (a directory, watched recursively), a file, or
 * nothing yet. A path is resolved component by component like the kernel does, following
 * symlinks by hand, so every directory whose entries decide the result is known: the parent of
 * the final name and the directory of every symlink on the way ("anchors"). An event naming
 * the looked-up name in an anchor re-resolves the path. That is how the Kubernetes "..data"
 * swap and certbot's re-linking reach a configured file that no event ever names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "util/xalloc.h"
#include "watch/watch_int.h"

#define MAX_HOPS 40 /* the kernel's own limit on symlinks per lookup */

/* Lexically normalise an absolute path: no ".", no "..", no empty components. */
static char *normalize(const char *abs)
{
	size_t n = strlen(abs);
	char *out = xmalloc(n + 2);
	size_t len = 0;
	const char *p = abs;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t k = (size_t)(e - p);
		if (k == 0 || (k == 1 && p[0] == '.')) {
			/* skip */
		} else if (k == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* drop the '/' */
		} else {
			out[len++] = '/';
			memcpy(out + len, p, k);
			len += k;
		}
		p = e;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

static bool path_under(const char *p, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return p[0] == '/';
	return strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

int wtg_init(struct watch *w, const struct strv *paths)
{
	struct strv abs = STRV_INIT;
	if (!paths->n)
		strv_push(&abs, w->root);
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		char *a = p[0] == '/' ? normalize(p) : NULL;
		if (!a) {
			char *j = xasprintf("%s/%s", w->root, p);
			a = normalize(j);
			free(j);
		}
		if (strv_contains(&abs, a))
			free(a);
		else
			strv_push_owned(&abs, a);
	}
	w->tg.targets = xcalloc(abs.n, sizeof(*w->tg.targets));
	for (size_t i = 0; i < abs.n; i++) {
		/* a directory inside another configured directory adds nothing */
		bool nested = false;
		for (size_t k = 0; k < abs.n && !nested; k++) {
			struct stat st;
			nested = k != i && path_under(abs.v[i], abs.v[k]) &&
				 strcmp(abs.v[i], abs.v[k]) != 0 && stat(abs.v[k], &st) == 0 &&
				 S_ISDIR(st.st_mode);
		}
		if (nested)
			continue;
		struct wtarget *t = &w->tg.targets[w->tg.ntargets++];
		t->abs = xstrdup(abs.v[i]);
		if (path_under(t->abs, w->root)) {
			const char *r = t->abs + w->rootlen;
			while (*r == '/')
				r++;
			t->rel = xstrdup(r);
			t->frel = xstrdup(r);
		} else {
			t->rel = xstrdup(t->abs);
			t->frel = xstrdup("");
		}
		t->kind = WTG_MISSING;
	}
	strv_release(&abs);
	return 0;
}

/* ---- anchors ---- */

struct wanchor *wtg_anchor_by_wd(const struct watch *w, int wd)
{
	if (wd < 0)
		return NULL;
	for (size_t i = 0; i < w->tg.nanchors; i++)
		if (w->tg.anchors[i]->wd == wd)
			return w->tg.anchors[i];
	return NULL;
}

static void anchor_arm(struct watch *w, struct wanchor *a)
{
	if (w->hid < 0 || wpoll_path(w, a->path))
		return;
	int wd = wt_wd_add(w, a->path, false);
	int err = wd < 0 ? -wd : 0;
	if (wd < 0)
		wd = -1;
	if (wd == a->wd)
		return;
	int old = a->wd;
	a->wd = wd;
	if (old >= 0)
		wt_wd_unref(w, old);
	if (wd < 0 && (err == ENOSPC || err == ENOMEM))
		wpoll_limit_hit(w, err, a->path);
}

static struct wanchor *anchor_get(struct watch *w, const char *dir)
{
	for (size_t i = 0; i < w->tg.nanchors; i++) {
		struct wanchor *a = w->tg.anchors[i];
		if (strcmp(a->path, dir) == 0) {
			a->refs++;
			anchor_arm(w, a); /* the directory may have been replaced */
			return a;
		}
	}
	struct wanchor *a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(dir);
	a->wd = -1;
	a->refs = 1;
	w->tg.anchors =
		xgrow(w->tg.anchors, &w->tg.capanchors, w->tg.nanchors + 1, sizeof(*w->tg.anchors));
	w->tg.anchors[w->tg.nanchors++] = a;
	anchor_arm(w, a);
	return a;
}

static void anchor_put(struct watch *w, struct wanchor *a)
{
	if (--a->refs > 0)
		return;
	for (size_t i = 0; i < w->tg.nanchors; i++) {
		if (w->tg.anchors[i] == a) {
			w->tg.anchors[i] = w->tg.anchors[--w->tg.nanchors];
			break;
		}
	}
	wt_wd_unref(w, a->wd);
	free(a->path);
	free(a);
}

/* ---- resolution ---- */

struct res {
	enum wtg_kind kind;
	char *real;
	struct strv dirs, names; /* anchors: directory and the name looked up there */
	bool loop;
};

static void res_anchor(struct res *r, const char *dir, const char *name)
{
	for (size_t i = 0; i < r->dirs.n; i++)
		if (strcmp(r->dirs.v[i], dir) == 0 && strcmp(r->names.v[i], name) == 0)
			return;
	strv_push(&r->dirs, dir);
	strv_push(&r->names, name);
}

static void resolve(const char *abs, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = WTG_MISSING;
	struct buf cur = BUF_INIT;
	buf_puts(&cur, "/");
	char *rest = xstrdup(abs);
	int hops = 0;
	char *p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p) {
			/* "/" itself */
			r->kind = WTG_TREE;
			r->real = xstrdup(buf_cstr(&cur));
			break;
		}
		char *e = strchrnul(p, '/');
		char saved = *e;
		*e = '\0';
		char *comp = p;
		char *after = saved ? e + 1 : e;
		while (*after == '/')
			after++;
		bool last = *after == '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			if (comp[1] == '.') {
				char *s = strrchr(cur.p, '/');
				cur.len = s && s != cur.p ? (size_t)(s - cur.p) : 1;
				cur.p[cur.len] = '\0';
			}
			p = after;
			if (last) {
				r->kind = WTG_TREE;
				r->real = xstrdup(buf_cstr(&cur));
				break;
			}
			continue;
		}
		size_t curlen = cur.len;
		char *dir = xstrdup(buf_cstr(&cur));
		if (curlen > 1)
			buf_putc(&cur, '/');
		buf_puts(&cur, comp);
		struct stat st;
		if (lstat(buf_cstr(&cur), &st) < 0) {
			res_anchor(r, dir, comp);
			/* the directory the name is missing from may go next (rm -rf, a release
			 * directory swapped): look for it in its parent too, so that its removal and
			 * return are seen even when its own watch's last events are not */
			char *slash = strrchr(dir, '/');
			if (slash && slash != dir && slash[1]) {
				*slash = '\0';
				res_anchor(r, dir, slash + 1);
				*slash = '/';
			}
			free(dir);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			res_anchor(r, dir, comp);
			if (++hops > MAX_HOPS) {
				r->loop = true;
				free(dir);
				break;
			}
			char target[PATH_MAX];
			ssize_t n = readlink(buf_cstr(&cur), target, sizeof(target) - 1);
			if (n <= 0) {
				free(dir);
				break;
			}
			target[n] = '\0';
			char *nrest = xasprintf("%s%s%s", target, *after ? "/" : "", after);
			free(rest);
			rest = p = nrest;
			cur.len = curlen;
			cur.p[cur.len] = '\0';
			if (target[0] == '/') {
				buf_reset(&cur);
				buf_puts(&cur, "/");
			}
			free(dir);
			continue;
		}
		if (last) {
			res_anchor(r, dir, comp);
			r->kind = S_ISDIR(st.st_mode) ? WTG_TREE : WTG_FILE;
			r->real = xstrdup(buf_cstr(&cur));
			free(dir);
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			res_anchor(r, dir, comp); /* a file where a directory should be */
			free(dir);
			break;
		}
		free(dir);
		p = after;
	}
	free(rest);
	buf_release(&cur);
}

static void load_parent_gitignores(struct watch *w, struct wtarget *t)
{
	/* .gitignore files between the root and the top of this tree (bounded to the root) */
	if (!w->gitignore || !path_under(t->abs, w->root) || !*t->frel)
		return;
	struct wnode tmp = {0};
	struct wtarget fake = {0};
	char *rel = xstrdup(t->frel);
	for (;;) {
		char *slash = strrchr(rel, '/');
		if (slash)
			*slash = '\0';
		else
			rel[0] = '\0';
		char *dir = *rel ? xasprintf("%s/%s", w->root, rel) : xstrdup(w->root);
		fake.frel = rel;
		tmp.tgt = &fake;
		wscan_gitignore_load(w, &tmp, dir);
		free(dir);
		if (!*rel)
			break;
	}
	free(rel);
}

static void build_tree(struct watch *w, struct wtarget *t, bool initial)
{
	bool fs_poll = w->hid < 0 || wpoll_path(w, t->real) || wpoll_auto(w, t->real, t->abs);
	int wd = -1, err = 0;
	bool nowatch = false;
	if (!fs_poll) {
		wd = wt_wd_add(w, t->real, true);
		err = wd < 0 ? -wd : 0;
		if (wd < 0)
			wd = -1;
		if (wd < 0 && (err == ENOSPC || err == ENOMEM)) {
			wpoll_limit_hit(w, err, t->real);
			nowatch = true;
		} else if (wd < 0) {
			log_warn("cannot watch '%s': %s", t->real, strerror(err));
			return;
		} else if (wt_wd_node(w, wd)) {
			return; /* already inside another watched tree */
		}
	}
	load_parent_gitignores(w, t);
	struct wnode *n = wt_node_new(w, t, NULL, NULL, wd);
	t->tree = n;
	if (wd < 0)
		wpoll_add(w, n, nowatch);
	wscan_run(w, n, initial ? WSCAN_INITIAL : WSCAN_NEW, true);
}

void wtg_resolve(struct watch *w, struct wtarget *t, bool initial)
{
	struct res r;
	resolve(t->abs, &r);
	/* anchors: take the new ones before dropping the old ones */
	struct wanchor **na = xcalloc(r.dirs.n + 1, sizeof(*na));
	char **nn = xcalloc(r.dirs.n + 1, sizeof(*nn));
	for (size_t i = 0; i < r.dirs.n; i++) {
		na[i] = anchor_get(w, r.dirs.v[i]);
		nn[i] = xstrdup(r.names.v[i]);
	}
	for (size_t i = 0; i < t->nanchors; i++) {
		anchor_put(w, t->anchors[i]);
		free(t->interest[i]);
	}
	free(t->anchors);
	free(t->interest);
	t->anchors = na;
	t->interest = nn;
	t->nanchors = r.dirs.n;
	if (r.loop && !t->loop_reported) {
		log_warn("symlink loop resolving '%s' — watching for it to be fixed", t->abs);
		t->loop_reported = true;
	} else if (!r.loop) {
		t->loop_reported = false;
	}

	if (r.kind == WTG_TREE) {
		struct stat st;
		if (stat(r.real, &st) < 0) {
			r.kind = WTG_MISSING;
		} else if (t->kind == WTG_TREE && t->tree && t->dev == (uint64_t)st.st_dev &&
			   t->ino == (uint64_t)st.st_ino &&
			   (t->tree->wd >= 0 || (t->tree->flags & WN_POLLED))) {
			free(t->real);
			t->real = r.real; /* same directory (maybe reached another way) */
			r.real = NULL;
			goto out;
		} else {
			if (t->tree)
				wt_detach(w, t->tree, false);
			if (t->kind == WTG_FILE && t->known)
				t->dirty = true;
			t->kind = WTG_TREE;
			free(t->real);
			t->real = r.real;
			r.real = NULL;
			t->dev = (uint64_t)st.st_dev;
			t->ino = (uint64_t)st.st_ino;
			build_tree(w, t, initial);
			goto out;
		}
	}
	if (t->tree)
		wt_detach(w, t->tree, false);
	free(t->real);
	t->real = r.real;
	r.real = NULL;
	t->kind = r.kind;
	if (r.kind == WTG_FILE && initial) {
		enum fp_verdict v = fp_check(AT_FDCWD, t->abs, NULL, &t->st, NULL);
		t->known = v != FP_GONE;
		t->based = v == FP_CHANGED;
	} else if (r.kind == WTG_FILE || t->known) {
		t->dirty = true;
		wst_arm(w);
	}
out:
	if (r.kind == WTG_FILE || r.kind == WTG_MISSING)
		w->tg.any_file = true;
	free(r.real);
	strv_release(&r.dirs);
	strv_release(&r.names);
}

void wtg_anchor_event(struct watch *w, struct wanchor *a, uint32_t mask, const char *name)
{
	bool self = (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) || !*name;
	if (mask & IN_IGNORED) {
		a->wd = -1; /* the kernel dropped it */
	} else if (mask & (IN_MOVE_SELF | IN_DELETE_SELF)) {
		int wd = a->wd; /* the watch now follows an inode that is no longer at a->path */
		a->wd = -1;
		wt_wd_unref(w, wd);
	}
	size_t *hit = xcalloc(w->tg.ntargets + 1, sizeof(*hit));
	size_t nhit = 0;
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		for (size_t j = 0; j < t->nanchors; j++) {
			if (t->anchors[j] == a && (self || strcmp(t->interest[j], name) == 0)) {
				hit[nhit++] = i;
				break;
			}
		}
	}
	for (size_t i = 0; i < nhit; i++) {
		struct wtarget *t = &w->tg.targets[hit[i]];
		wtg_resolve(w, t, false);
		if (t->kind == WTG_FILE) {
			t->dirty = true;
			wst_arm(w);
		}
	}
	free(hit);
}

void wtg_settle(struct watch *w)
{
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		if (t->kind != WTG_FILE) {
			if (t->known) {
				watch_add_change(w, WATCH_REMOVED, t->rel);
				t->known = t->based = false;
			}
			t->dirty = false;
			continue;
		}
		if (!t->dirty)
			continue;
		t->dirty = false;
		struct fp_state now;
		int err = 0;
		enum fp_verdict v =
			fp_check(AT_FDCWD, t->abs, t->based ? &t->st : NULL, &now, &err);
		if (v == FP_ERROR) {
			log_warn("cannot read '%s': %s", t->abs, strerror(-err));
			continue;
		}
		if (v == FP_GONE) {
			if (t->known)
				watch_add_change(w, WATCH_REMOVED, t->rel);
			t->known = t->based = false;
			continue;
		}
		if (!t->known)
			watch_add_change(w, WATCH_CREATED, t->rel);
		else if (v == FP_CHANGED)
			watch_add_change(w, WATCH_CHANGED, t->rel);
		t->known = t->based = true;
		t->st = now;
	}
}

/* The safety net: re-check configured files and missing paths (mmap writes, bind mounts and
 * network filesystems never tell inotify). */
void wtg_poll(struct watch *w)
{
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		if (t->kind == WTG_TREE)
			continue;
		bool polled_anchor = false;
		for (size_t j = 0; j < t->nanchors; j++)
			polled_anchor |= t->anchors[j]->wd < 0;
		if (t->kind == WTG_MISSING || polled_anchor)
			wtg_resolve(w, t, false);
		if (t->kind != WTG_FILE)
			continue;
		struct stat st;
		struct fp fp;
		bool exists = stat(t->abs, &st) == 0 && S_ISREG(st.st_mode);
		if (!exists) {
			if (t->known)
				t->dirty = true;
		} else if (!t->known) {
			t->dirty = true;
		} else if (t->based) {
			fp_from_stat(&fp, &st);
			if ((uint32_t)fp_digest(&fp) != t->st.digest)
				t->dirty = true;
		}
		if (t->dirty)
			wst_arm(w);
	}
}

void wtg_resolve_all(struct watch *w, bool initial)
{
	for (size_t i = 0; i < w->tg.ntargets; i++)
		wtg_resolve(w, &w->tg.targets[i], initial);
}

void wtg_rescan(struct watch *w)
{
	wtg_resolve_all(w, false);
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		if (t->kind == WTG_TREE && t->tree)
			wscan_run(w, t->tree, WSCAN_RECONCILE, true);
		else if (t->kind == WTG_FILE)
			t->dirty = true;
	}
}

bool wtg_polled_anchor(const struct watch *w)
{
	for (size_t i = 0; i < w->tg.nanchors; i++)
		if (w->tg.anchors[i]->wd < 0)
			return true;
	return false;
}

bool wtg_any_file(const struct watch *w)
{
	return w->tg.any_file;
}

size_t wtg_nfiles(const struct watch *w)
{
	size_t n = 0;
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		if (t->kind == WTG_TREE && t->tree)
			n += wt_nfiles(t->tree);
		else if (t->kind == WTG_FILE && t->known)
			n++;
	}
	return n;
}

void wtg_free(struct watch *w)
{
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		if (t->tree) {
			struct wnode *n = t->tree;
			t->tree = NULL;
			wt_destroy(w, n);
		}
	}
	for (size_t i = 0; i < w->tg.ntargets; i++) {
		struct wtarget *t = &w->tg.targets[i];
		for (size_t j = 0; j < t->nanchors; j++) {
			anchor_put(w, t->anchors[j]);
			free(t->interest[j]);
		}
		free(t->anchors);
		free(t->interest);
		free(t->abs);
		free(t->rel);
		free(t->frel);
		free(t->real);
	}
	free(w->tg.targets);
	w->tg.targets = NULL;
	w->tg.ntargets = 0;
	free(w->tg.anchors);
	w->tg.anchors = NULL;
	w->tg.nanchors = 0;
}
