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
 *  - no git operation is running (the repository's index.lock exists while git checks out,
 *    merges, rebases or stashes);
 *  - nothing can have held a writer back: the CPU and I/O pressure (PSI) over the window stayed
 *    below what one task waiting through it adds (half of window / CPUs). A writer preempted
 *    between two files of a burst looks finished otherwise;
 *  - every file is still there, a regular file (but for one that came and went).
 * Otherwise another fast_ms, and never later than the debounce would have fired: one save is
 * acted on ~5 ms after its close on an idle machine, and nothing waits longer than before. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The repository holding the root: <gitdir>/index.lock, or NULL. */
static char *git_lock_path(const char *root)
{
	char *dir = xstrdup(root);
	char *lock = NULL;
	for (;;) {
		char *dotgit = xasprintf("%s/.git", strcmp(dir, "/") == 0 ? "" : dir);
		struct stat st;
		if (lstat(dotgit, &st) == 0 && S_ISDIR(st.st_mode)) {
			lock = xasprintf("%s/index.lock", dotgit);
		} else if (lstat(dotgit, &st) == 0 && S_ISREG(st.st_mode)) {
			char *txt = NULL; /* worktrees and submodules: "gitdir: PATH" */
			if (file_read_all(dotgit, 4096, &txt, NULL) == 0 &&
			    strncmp(txt, "gitdir: ", 8) == 0) {
				char *g = txt + 8;
				g[strcspn(g, "\r\n")] = '\0';
				lock = g[0] == '/' ? xasprintf("%s/index.lock", g)
						   : xasprintf("%s/%s/index.lock", dir, g);
			}
			free(txt);
		}
		free(dotgit);
		char *slash = strrchr(dir, '/');
		if (lock || !slash || strcmp(dir, "/") == 0)
			break;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(dir);
	return lock;
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
	if (w->settle.fast_ms)
		w->settle.git_lock = git_lock_path(w->root);
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
	free(w->settle.git_lock);
	free(w->settle.psi_dir);
	w->settle.timer = NULL;
	w->settle.git_lock = w->settle.psi_dir = NULL;
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

static int64_t cap(const struct watch *w, int64_t d)
{
	int64_t last = w->settle.batch_start + w->settle.max_wait_ms;
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

bool wst_confirm(struct watch *w)
{
	if (!quiet(w))
		return false;
	w->settle.batch_start = -1;
	reset(w); /* anything armed from here on starts a new batch */
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
	if (!held && !(w->settle.git_lock && access(w->settle.git_lock, F_OK) == 0))
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
