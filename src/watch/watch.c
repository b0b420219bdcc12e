/* The watcher's public face: options, inotify events (read by the hub, watch_hub.c, and handed
 * to each watch holding their descriptor), the settle window, batches, the background
 * fingerprint pass. Trees live in watch_tree.c, configured paths in watch_target.c, polling and
 * limits in watch_poll.c. */
#include "watch/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config/config.h"
#include "watch/filter.h"
#include "core/log.h"
#include "core/loop.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "watch/watch_hub.h"
#include "watch/watch_int.h"

#define BASE_INLINE_FILES 2000 /* fingerprinted before watch_start() returns */
#define BASE_SLICE_MS 4	       /* then in slices this long between events */
#define BASE_CHUNK 256	       /* files fingerprinted between two reads of the event queue */

/* ---- options ---- */

void watch_opts_init(struct watch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->debounce_ms = 50;
	o->max_wait_ms = 1000;
	o->fast_settle_ms = 0;
	o->poll = WATCH_POLL_AUTO;
	o->poll_interval_ms = 500;
}

void watch_opts_from_config(const struct config *cfg, struct watch_opts *o)
{
	watch_opts_init(o);
	o->root = xstrdup(cfg->root ? cfg->root : "/");
	strv_copy(&o->paths, &cfg->watch.paths);
	strv_copy(&o->include_ext, &cfg->watch.include_ext);
	strv_copy(&o->include_dir, &cfg->watch.include_dir);
	strv_copy(&o->include_file, &cfg->watch.include_file);
	strv_copy(&o->exclude_dir, &cfg->watch.exclude_dir);
	strv_copy(&o->exclude, &cfg->watch.exclude);
	strv_copy(&o->exclude_regex, &cfg->watch.exclude_regex);
	o->gitignore = cfg->watch.gitignore;
	o->dev_mode = true;
	if (cfg->watch.debounce_ms >= 0)
		o->debounce_ms = cfg->watch.debounce_ms;
	if (cfg->watch.max_wait_ms > 0)
		o->max_wait_ms = cfg->watch.max_wait_ms;
	o->fast_settle_ms = cfg->watch.fast_settle_ms >= 0 ? cfg->watch.fast_settle_ms : 5;
	o->poll = cfg->watch.poll == POLL_FORCE ? WATCH_POLL_FORCE
		  : cfg->watch.poll == POLL_OFF ? WATCH_POLL_OFF
						: WATCH_POLL_AUTO;
	if (cfg->watch.poll_interval_ms > 0)
		o->poll_interval_ms = cfg->watch.poll_interval_ms;
}

void watch_opts_release(struct watch_opts *o)
{
	free(o->root);
	strv_release(&o->paths);
	strv_release(&o->include_ext);
	strv_release(&o->include_dir);
	strv_release(&o->include_file);
	strv_release(&o->exclude_dir);
	strv_release(&o->exclude);
	strv_release(&o->exclude_regex);
	memset(o, 0, sizeof(*o));
}

/* ---- batches ---- */

void watch_add_change(struct watch *w, enum watch_kind kind, const char *path)
{
	w->chg = xgrow(w->chg, &w->capchg, w->nchg + 1, sizeof(*w->chg));
	w->chg[w->nchg].kind = kind;
	w->chg[w->nchg].path = xstrdup(path);
	w->nchg++;
}

static int cmp_chg(const void *a, const void *b)
{
	const struct watch_chg *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (int)x->kind - (int)y->kind;
}

static void deliver(struct watch *w)
{
	if (!w->nchg)
		return;
	qsort(w->chg, w->nchg, sizeof(*w->chg), cmp_chg);
	struct watch_change *v = xcalloc(w->nchg, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < w->nchg; i++) {
		if (k && strcmp(v[k - 1].path, w->chg[i].path) == 0)
			continue; /* the same path seen twice (a file target inside a tree) */
		v[k].kind = w->chg[i].kind;
		v[k].path = w->chg[i].path;
		k++;
	}
	w->in_cb = true;
	w->cb(v, k, w->data);
	w->in_cb = false;
	free(v);
	for (size_t i = 0; i < w->nchg; i++)
		free(w->chg[i].path);
	w->nchg = 0;
}

static void watch_destroy(struct watch *w);

static void settle_fire(struct loop *l, void *data)
{
	(void)l;
	struct watch *w = data;
	if (!wst_confirm(w))
		return; /* fast settle: not quiet after all */
	/* .gitignore edits change what is watched: silently, before anything is compared */
	wt_settle_gitignores(w);
	wtg_settle(w);
	wt_settle(w);
	deliver(w);
	if (w->free_req)
		watch_destroy(w);
}

/* ---- fingerprint baseline: files present at start, read between events ---- */

void watch_base_queue(struct watch *w, struct wnode *n)
{
	if (n->flags & WN_BASEQ)
		return;
	n->flags |= WN_BASEQ;
	nvec_push(&w->baseq, n);
	if (w->started && w->base_t)
		loop_timer_arm_in(w->base_t, 0);
}

void watch_base_forget(struct watch *w, struct wnode *n)
{
	if (n->flags & WN_BASEQ)
		nvec_remove(&w->baseq, n);
}

/* Fingerprint up to max files (or until deadline_ms, when > 0); true when the queue is empty.
 * After start, files are fingerprinted a chunk at a time, then the inotify queue is read, and a
 * fingerprint is kept only for a file no event has marked by then: a change made before its stat
 * (its event still queued) must not become the baseline, or that change would be lost. */
static bool base_run(struct watch *w, size_t max, int64_t deadline_ms)
{
	size_t done = 0;
	bool empty = true;
	struct buf abs = BUF_INIT, names = BUF_INIT;
	struct fp_state *st = NULL;
	size_t capst = 0;
	struct wnode *cur = NULL;
	uint32_t off = 0; /* where the last chunk of cur stopped */
	while (w->baseq.n) {
		struct wnode *n = w->baseq.v[w->baseq.n - 1];
		if (n != cur)
			off = 0;
		cur = n;
		size_t k = 0;
		bool more = false;
		buf_reset(&names);
		if (!(n->flags & WN_LIMBO)) {
			wt_abs(w, n, &abs);
			int dfd =
				open(buf_cstr(&abs), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			uint32_t at = off;
			struct went *e;
			while (dfd >= 0 && (e = fset_next(&n->ents, &off)) != NULL) {
				uint8_t f = e->flags & (WE_DIR | WE_KNOWN | WE_BASED | WE_DIRTY);
				if (f != WE_KNOWN) {
					at = off;
					continue; /* dirty ones are compared at settle: never
						     re-based */
				}
				if (k == BASE_CHUNK || done >= max ||
				    (deadline_ms > 0 && now_ms() >= deadline_ms)) {
					off = at; /* this one comes first next time */
					more = true;
					break;
				}
				at = off;
				done++;
				st = xgrow(st, &capst, k + 1, sizeof(*st));
				if (fp_check(dfd, e->name, NULL, &st[k], NULL) != FP_CHANGED)
					continue;
				buf_append(&names, e->name, strlen(e->name) + 1);
				k++;
			}
			if (dfd >= 0)
				close(dfd);
		}
		if (k && w->started && w->hid >= 0) {
			uint64_t seen = w->nrecv;
			watch_read_events(w);
			if (w->nrecv != seen)
				off = 0; /* the table may have changed: start over (based ones are
					    skipped) */
		}
		const char *name = names.p;
		for (size_t i = 0; i < k; i++, name += strlen(name) + 1) {
			struct went *e = fset_find(&n->ents, name);
			if (e && (e->flags & (WE_DIR | WE_KNOWN | WE_BASED | WE_DIRTY)) == WE_KNOWN)
				fset_store(e, &st[i]);
		}
		if (more && (done >= max || (deadline_ms > 0 && now_ms() >= deadline_ms))) {
			empty = false;
			break;
		}
		if (more)
			continue; /* the next chunk of the same directory */
		n->flags &= (uint16_t)~WN_BASEQ;
		nvec_remove(&w->baseq, n);
		cur = NULL;
	}
	buf_release(&abs);
	buf_release(&names);
	free(st);
	if (!empty)
		return false;
	/* the start-up peak is over: give the queues and freed scan buffers back */
	free(w->baseq.v);
	w->baseq = (struct nvec){0};
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	return true;
}

static void base_fire(struct loop *l, void *data)
{
	(void)l;
	struct watch *w = data;
	if (!base_run(w, (size_t)-1, now_ms() + BASE_SLICE_MS))
		loop_timer_arm_in(w->base_t, 0);
}

/* ---- inotify events ---- */

static void node_gone(struct watch *w, struct wnode *n)
{
	if (n->flags & WN_LIMBO)
		return;
	if (n->parent)
		wscan_child_sync(w, n->parent, n->name);
	else if (!n->name && n->tgt)
		wtg_resolve(w, n->tgt, false);
}

static void tree_event(struct watch *w, struct wnode *n, const struct inotify_event *ev)
{
	uint32_t m = ev->mask;
	if (m & IN_IGNORED) {
		wt_wd_del(w, n->wd);
		n->wd = -1;
		node_gone(w, n);
		return;
	}
	if (m & IN_UNMOUNT) {
		struct buf b = BUF_INIT;
		wt_abs(w, n, &b);
		log_warn("'%s' was unmounted — rescanning it", buf_cstr(&b));
		buf_release(&b);
	}
	if (m & (IN_DELETE_SELF | IN_UNMOUNT)) {
		node_gone(w, n);
		return;
	}
	if (m & IN_MOVE_SELF) {
		if (!n->name && !(n->flags & WN_LIMBO) && n->tgt)
			wtg_resolve(w, n->tgt, false); /* the top moved away: re-resolve its path */
		return;
	}
	if (!ev->len || (n->flags & WN_LIMBO))
		return;
	const char *name = ev->name;
	struct went *e = fset_find(&n->ents, name);
	if ((m & IN_ISDIR) || (e && (e->flags & WE_DIR))) {
		bool was_dir = e && (e->flags & WE_DIR);
		if (wscan_child_sync(w, n, name) || was_dir)
			wst_arm(w); /* the structure changed: never a fast settle */
		if (m & IN_ISDIR)
			return;
	}
	if (w->gitignore && strcmp(name, ".gitignore") == 0) {
		n->flags |= WN_GIDIRTY;
		wt_mark_dirty(w, n, NULL);
		wst_arm(w);
	}
	wt_frel(w, n, &w->rb);
	if (w->rb.len)
		buf_putc(&w->rb, '/');
	buf_puts(&w->rb, name);
	if (!filter_file_ok(w->filter, buf_cstr(&w->rb)))
		return;
	e = fset_find(&n->ents, name);
	if (e && (e->flags & WE_DIR))
		return; /* still a directory (a file event raced with it) */
	if (!e)
		e = fset_add(&n->ents, name, 0);
	bool known = (e->flags & WE_KNOWN) != 0;
	wt_mark_dirty(w, n, e);
	wst_file_event(w, n, name, m, known);
}

static void rescan_all(struct watch *w)
{
	int64_t now = now_ms();
	if (now - w->last_overflow_warn > 10000) {
		log_warn("inotify event queue overflowed — rescanning %zu directories "
			 "(fs.inotify.max_queued_events is the queue length)",
			 wt_ndirs(w));
		w->last_overflow_warn = now;
	}
	wtg_rescan(w);
	wst_arm(w);
}

/* One event from the hub: its descriptor is one this watch holds (as a tree node, an anchor,
 * or both), or the queue overflowed. Only marks state and arms timers: the hub may call this
 * while another watch reads the queue. */
static void on_event(void *data, const struct inotify_event *ev)
{
	struct watch *w = data;
	w->nrecv++;
	if (ev->mask & IN_Q_OVERFLOW) {
		w->overflow = true;
		return;
	}
	struct wanchor *a = wtg_anchor_by_wd(w, ev->wd);
	if (a)
		wtg_anchor_event(w, a, ev->mask, ev->len ? ev->name : "");
	struct wnode *node = wt_wd_node(w, ev->wd);
	if (node)
		tree_event(w, node, ev);
}

static void on_drained(void *data)
{
	struct watch *w = data;
	if (w->overflow) {
		w->overflow = false;
		rescan_all(w);
	}
}

static const struct watch_hub_ops hub_ops = {.event = on_event, .drained = on_drained};

void watch_read_events(struct watch *w)
{
	if (w->hid >= 0)
		watch_hub_drain(w->hub);
}

/* ---- lifecycle ---- */

struct watch *watch_new(struct loop *l, const struct watch_opts *o, watch_cb cb, void *data,
			char **err)
{
	if (!o->root || o->root[0] != '/') {
		if (err)
			*err = xasprintf("the root \"%s\" is not an absolute path",
					 o->root ? o->root : "");
		errno = EINVAL;
		return NULL;
	}
	struct filter_spec spec = {
		.include_ext = &o->include_ext,
		.include_dir = &o->include_dir,
		.include_file = &o->include_file,
		.exclude_dir = &o->exclude_dir,
		.exclude = &o->exclude,
		.exclude_regex = &o->exclude_regex,
		.dev_mode = o->dev_mode,
	};
	struct filter *f = filter_new(&spec, err);
	if (!f)
		return NULL; /* errno and *err set */
	struct watch *w = xcalloc(1, sizeof(*w));
	w->loop = l;
	w->cb = cb;
	w->data = data;
	w->filter = f;
	w->root = xstrdup(o->root);
	w->rootlen = strlen(w->root);
	while (w->rootlen > 1 && w->root[w->rootlen - 1] == '/')
		w->root[--w->rootlen] = '\0';
	w->gitignore = o->gitignore;
	w->hub = o->hub ? watch_hub_ref(o->hub) : NULL;
	w->hid = -1;
	w->last_overflow_warn = -1000000;
	wst_init(w, o);
	wpoll_init(w, o);
	wtg_init(w, &o->paths);
	return w;
}

int watch_start(struct watch *w)
{
	if (w->started)
		return -EALREADY;
	int r = wpoll_inotify_init(w, &hub_ops);
	if (r < 0)
		return r;
	wst_start(w, settle_fire);
	w->base_t = loop_timer_new(w->loop, base_fire, w);
	wpoll_detect_mounts(w);
	wtg_resolve_all(w, true);
	wpoll_limit_report(w);
	/* Small trees are fingerprinted before the start line, big ones between events. */
	size_t unbased = 0;
	for (size_t i = 0; i < w->baseq.n && unbased <= BASE_INLINE_FILES; i++)
		unbased += w->baseq.v[i]->ents.live;
	if (unbased <= BASE_INLINE_FILES)
		base_run(w, BASE_INLINE_FILES * 2, 0);
	w->started = true;
	if (w->baseq.n)
		loop_timer_arm_in(w->base_t, 0);
	if (wt_pending(w))
		wst_arm(w);
	wpoll_arm(w);
	return 0;
}

size_t watch_ndirs(const struct watch *w)
{
	return wt_ndirs(w) - wt_nlimbo(w);
}

size_t watch_nfiles(const struct watch *w)
{
	return wtg_nfiles(w);
}

static void watch_destroy(struct watch *w)
{
	/* the hub removes the kernel watches only this watch held, or closes the instance when
	 * this was its last watch (every kernel watch at once): no rm_watch per node below */
	watch_hub_detach(w->hub, w->hid);
	w->hid = -1;
	wtg_free(w); /* the trees first */
	wt_free(w);  /* then limbo */
	wst_free(w);
	wpoll_free(w);
	loop_timer_free(w->base_t);
	for (size_t i = 0; i < w->nchg; i++)
		free(w->chg[i].path);
	free(w->chg);
	free(w->baseq.v);
	filter_free(w->filter);
	buf_release(&w->rb);
	free(w->root);
	watch_hub_unref(w->hub);
	free(w);
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	if (w->in_cb) {
		w->free_req = true;
		return;
	}
	watch_destroy(w);
}
