/* The settle window: when a pending batch is acted on.
 *
 * Every event restarts a quiet time, the debounce (50 ms), capped at max_wait after the batch's
 * first event. Fast settle shortens it to fast_ms (5 ms) while the batch is nothing but
 * completed writes: at most WST_FAST_MAX files of watched trees, each last seen completed
 * (IN_CLOSE_WRITE on it, or IN_MOVED_TO onto it), and nothing else pending (no directory
 * change, deletion, rename away, configured file, rescan or polled change). An editor's save
 * ends with such an event; a checkout or a generator writes more files than WST_FAST_MAX, or
 * leaves a file half-way, and gets the debounce.
 *
 * When the short quiet time runs out, the batch is acted on only if the quiet was real:
 *  - no event waits in the inotify queue;
 *  - nothing can have held a writer back: the CPU and I/O pressure (PSI) over the window stayed
 *    below what one task waiting through it adds (half of window / CPUs). A writer preempted
 *    between two files of a burst looks finished otherwise;
 *  - every file is still there, a regular file (but for one that came and went).
 * Otherwise another fast_ms, and never later than the debounce would have fired: one save is
 * acted on ~5 ms after its close on an idle machine, and nothing waits longer than before.
 *
 * Then, for every batch: while a VCS operation is running (the repository's index.lock exists
 * while git checks out, merges, rebases or stashes; Mercurial's wlock, jj's working-copy lock)
 * the batch is held, up to vcs_hold_ms (10 s) after its first event, and acted on one debounce
 * after the lock went (vcs_hold). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "watch/watch_int.h"

/* ---- signals of a writer that is not done ---- */

/* "some ... total=N" of <dir>/<name>: microseconds during which some task waited (PSI); -1
 * without PSI. */
static int64_t psi_some_us(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char b[256];
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	const char *t = strstr(b, "total="); /* the first line is "some" */
	return t ? strtoll(t + 6, NULL, 10) : -1;
}

static int64_t stall_us(const struct watch *w)
{
	int64_t cpu = psi_some_us(w->settle.psi_dir, "cpu"),
		io = psi_some_us(w->settle.psi_dir, "io");
	return cpu < 0 || io < 0 ? -1 : cpu + io;
}

/* ---- VCS operations ---- */

/* The git directory .git names (a directory, or a file "gitdir: PATH" in worktrees and
 * submodules), or NULL. */
static char *git_dir(const char *dir, const char *dotgit)
{
	struct stat st;
	if (lstat(dotgit, &st) < 0)
		return NULL;
	if (S_ISDIR(st.st_mode))
		return xstrdup(dotgit);
	char *txt = NULL, *g = NULL;
	size_t len; /* file_read_all wants it: a worktree's .git crashed the watcher before */
	if (S_ISREG(st.st_mode) && file_read_all(dotgit, 4096, &txt, &len) == 0 &&
	    strncmp(txt, "gitdir: ", 8) == 0) {
		char *p = txt + 8;
		p[strcspn(p, "\r\n")] = '\0';
		g = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
	}
	free(txt);
	return g;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The lock files of the repositories in the nearest directory, from the root up, that holds
 * one (git: index.lock while it writes the work tree, HEAD.lock; Mercurial: wlock; jj: the
 * working-copy lock). */
static void vcs_locks_find(struct wst_state *st, const char *root)
{
	char *dir = xstrdup(root);
	while (!st->nvcs) {
		const char *d = strcmp(dir, "/") == 0 ? "" : dir;
		char *p = xasprintf("%s/.git", d);
		char *g = git_dir(dir, p);
		free(p);
		if (g) {
			st->vcs_lock[st->nvcs++] = xasprintf("%s/index.lock", g);
			st->vcs_lock[st->nvcs++] = xasprintf("%s/HEAD.lock", g);
			free(g);
		}
		p = xasprintf("%s/.hg", d);
		if (is_dir(p))
			st->vcs_lock[st->nvcs++] = xasprintf("%s/wlock", p);
		free(p);
		p = xasprintf("%s/.jj", d);
		if (is_dir(p))
			st->vcs_lock[st->nvcs++] =
				xasprintf("%s/working_copy/working_copy.lock", p);
		free(p);
		char *slash = strrchr(dir, '/');
		if (!slash || !*d)
			break;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(dir);
}

static int64_t mtime_ns(const struct stat *s)
{
	return (int64_t)s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec;
}

/* The first lock that exists (but the one found stale), or -1. */
static int vcs_locked(struct wst_state *st, struct stat *out)
{
	for (unsigned i = 0; i < st->nvcs; i++) {
		if (lstat(st->vcs_lock[i], out) < 0)
			continue;
		if (out->st_ino == st->stale_ino && out->st_dev == st->stale_dev &&
		    mtime_ns(out) == st->stale_mtime_ns)
			continue;
		return (int)i;
	}
	return -1;
}

void wst_init(struct watch *w, const struct watch_opts *o)
{
	struct wst_state *st = &w->settle;
	st->debounce_ms = o->debounce_ms >= 0 ? o->debounce_ms : 50;
	st->max_wait_ms = o->max_wait_ms > 0 ? o->max_wait_ms : 1000;
	if (st->max_wait_ms < st->debounce_ms)
		st->max_wait_ms = st->debounce_ms;
	/* only ever shorter than the debounce */
	st->fast_ms = o->fast_settle_ms > 0 && o->fast_settle_ms < st->debounce_ms
			      ? o->fast_settle_ms
			      : 0;
	st->batch_start = -1;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	w->settle.ncpu = n > 0 ? (int)n : 1;
	/* the e2e tests' seam: a directory of fixed "cpu" and "io" files (no pressure, ever) */
	const char *psi = getenv("BATON_TEST_PSI_DIR");
	w->settle.psi_dir = xstrdup(psi && *psi ? psi : "/proc/pressure");
	st->vcs_hold_ms = o->vcs_hold_ms < 0 ? 0 : o->vcs_hold_ms ? o->vcs_hold_ms : 10000;
	if (st->vcs_hold_ms)
		vcs_locks_find(st, w->root);
}

void wst_start(struct watch *w, loop_timer_cb fire)
{
	w->settle.timer = loop_timer_new(w->loop, fire, w);
}

static void reset(struct watch *w);

void wst_free(struct watch *w)
{
	reset(w);
	loop_timer_free(w->settle.timer);
	for (unsigned i = 0; i < w->settle.nvcs; i++)
		free(w->settle.vcs_lock[i]);
	w->settle.nvcs = 0;
	free(w->settle.psi_dir);
	w->settle.timer = NULL;
	w->settle.psi_dir = NULL;
}

/* ---- arming ---- */

/* Forget the pending batch's fast-settle state. */
static void reset(struct watch *w)
{
	for (unsigned i = 0; i < w->settle.nfast; i++)
		free(w->settle.fast[i].name);
	w->settle.nfast = 0;
	w->settle.slow = w->settle.fast_armed = false;
}

static bool fast_ready(const struct watch *w)
{
	if (!w->settle.fast_ms || w->settle.slow || !w->settle.nfast)
		return false;
	for (unsigned i = 0; i < w->settle.nfast; i++)
		if (!w->settle.fast[i].done)
			return false;
	return true;
}

/* max_wait, or the VCS hold's bound once the batch waited for a lock */
static int64_t cap(const struct watch *w, int64_t d)
{
	const struct wst_state *st = &w->settle;
	int64_t wait = st->vcs_held && st->vcs_hold_ms > st->max_wait_ms ? st->vcs_hold_ms
									 : st->max_wait_ms;
	int64_t last = st->batch_start + wait;
	return d > last ? last : d;
}

/* (Re)start the quiet time: fast_ms when the batch is only completed writes, else the
 * debounce. */
static void arm(struct watch *w)
{
	int64_t now = now_ms();
	if (w->settle.batch_start < 0)
		w->settle.batch_start = now;
	w->settle.last_event = now;
	w->settle.nevents++;
	w->settle.fast_armed = fast_ready(w);
	if (w->settle.fast_armed)
		w->settle.stall0 = stall_us(w);
	loop_timer_arm_at(
		w->settle.timer,
		cap(w, now + (w->settle.fast_armed ? w->settle.fast_ms : w->settle.debounce_ms)));
}

void wst_arm(struct watch *w)
{
	if (!w->started)
		return;
	reset(w);
	w->settle.slow = true;
	arm(w);
}

/* Only the event's own kind counts: a path whose last event was IN_MODIFY, IN_CREATE, IN_DELETE
 * or IN_MOVED_FROM may still be written, replaced or recreated; IN_ATTRIB (vim's chmod after
 * the close, a touch) changes nothing. A file that came and went within the batch (a temp file
 * renamed into place, when the filters let its name through) waits for nothing. */
void wst_file_event(struct watch *w, struct wnode *n, const char *name, uint32_t mask, bool known)
{
	if (!w->started)
		return;
	if (w->settle.fast_ms && !w->settle.slow) {
		struct wst_file *c = NULL;
		for (unsigned i = 0; i < w->settle.nfast && !c; i++)
			if (w->settle.fast[i].n == n && strcmp(w->settle.fast[i].name, name) == 0)
				c = &w->settle.fast[i];
		if (!c && w->settle.nfast == WST_FAST_MAX) {
			reset(w);
			w->settle.slow = true; /* a burst: the whole debounce */
		} else if (!c) {
			c = &w->settle.fast[w->settle.nfast++];
			c->n = n;
			c->name = xstrdup(name);
			c->done = c->gone = false;
		}
		bool closed = mask & (IN_CLOSE_WRITE | IN_MOVED_TO);
		bool away = mask & (IN_DELETE | IN_MOVED_FROM);
		if (c && (closed || away || (mask & (IN_MODIFY | IN_CREATE)))) {
			c->gone = away && !known;
			c->done = closed || c->gone;
		}
	}
	arm(w);
}

/* ---- the short quiet time ran out ---- */

static bool files_there(struct watch *w)
{
	struct buf b = BUF_INIT;
	bool all = true;
	for (unsigned i = 0; i < w->settle.nfast && all; i++) {
		struct wst_file *c = &w->settle.fast[i];
		struct stat st;
		if (c->gone)
			continue;
		if (c->n->flags & WN_LIMBO) {
			all = false;
			break;
		}
		wt_abs(w, c->n, &b);
		wt_append(&b, c->name);
		all = stat(buf_cstr(&b), &st) == 0 && S_ISREG(st.st_mode);
	}
	buf_release(&b);
	return all;
}

static bool quiet(struct watch *w);
static bool vcs_hold(struct watch *w);

bool wst_confirm(struct watch *w)
{
	if (!quiet(w) || vcs_hold(w))
		return false;
	w->settle.batch_start = -1;
	w->settle.vcs_held = false;
	reset(w); /* anything armed from here on starts a new batch */
	return true;
}

/* Defer the batch while a VCS operation runs (Watchman's defer_vcs): a checkout writes for as
 * long as it takes, with pauses longer than any debounce on a loaded machine. Looked for at
 * every settle, fast or not (.git is not watched: its own events would make batches). Up to
 * vcs_hold_ms after the batch's first event: a lock left behind by a crashed process is
 * reported once and ignored from then on, until it is replaced or touched. */
static bool vcs_hold(struct watch *w)
{
	struct wst_state *st = &w->settle;
	struct stat ls;
	int i = st->vcs_hold_ms ? vcs_locked(st, &ls) : -1;
	int64_t now = now_ms();
	if (i >= 0) {
		int64_t bound = st->batch_start + st->vcs_hold_ms;
		if (now < bound) {
			st->vcs_held = true;
			st->fast_armed = false;
			int64_t next = now + WST_VCS_POLL_MS;
			loop_timer_arm_at(st->timer, next < bound ? next : bound);
			return true;
		}
		log_warn("'%s' has existed for %.1f s (a VCS process that crashed or hangs?): "
			 "acting on the changes anyway, and ignoring that file until it changes; "
			 "remove it if no VCS command is running",
			 st->vcs_lock[i], (double)st->vcs_hold_ms / 1000);
		st->stale_dev = ls.st_dev;
		st->stale_ino = ls.st_ino;
		st->stale_mtime_ns = mtime_ns(&ls);
		return false;
	}
	if (!st->vcs_held)
		return false;
	/* the operation ended: one debounce after its last write, as after any burst */
	int64_t full = cap(w, st->last_event + st->debounce_ms);
	if (now >= full)
		return false;
	st->fast_armed = false;
	loop_timer_arm_at(st->timer, full);
	return true;
}

static bool quiet(struct watch *w)
{
	if (!w->settle.fast_armed)
		return true;
	uint64_t seen = w->settle.nevents;
	watch_read_events(w);
	if (w->settle.nevents != seen)
		return false; /* not quiet after all: the timer runs again */
	int64_t now = now_ms(), full = cap(w, w->settle.last_event + w->settle.debounce_ms);
	if (!files_there(w)) {
		reset(w); /* something went missing: wait for the rest like any other batch */
		w->settle.slow = true;
		loop_timer_arm_at(w->settle.timer, full);
		return false;
	}
	int64_t stall = stall_us(w);
	bool held = w->settle.stall0 >= 0 && stall >= 0 &&
		    (stall - w->settle.stall0) * 2 * w->settle.ncpu > w->settle.fast_ms * 1000;
	if (!held)
		return true;
	if (now + w->settle.fast_ms >= full) {
		w->settle.fast_armed = false; /* the debounce is as near: settle then, whatever */
		loop_timer_arm_at(w->settle.timer, full);
	} else {
		w->settle.stall0 = stall;
		loop_timer_arm_at(w->settle.timer, now + w->settle.fast_ms);
	}
	return false;
}
