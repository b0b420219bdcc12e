/* The settle window: when a pending batch is acted on.
 *
 * Every event restarts a quiet time, the debounce (50 ms), capped at max_wait after the batch's
 * first event. Fast settle shortens it to fast_ms (5 ms) while the batch is nothing but
 * completed writes: at most FAST_MAX files of watched trees, each last seen completed
 * (IN_CLOSE_WRITE on it, or IN_MOVED_TO onto it), and nothing else pending (no directory
 * change, deletion, rename away, configured file, rescan or polled change). An editor's save
 * ends with such an event; a checkout or a generator writes more files than FAST_MAX, or
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
	int64_t cpu = psi_some_us(w->psi_dir, "cpu"), io = psi_some_us(w->psi_dir, "io");
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

void wst_init(struct watch *w)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	w->ncpu = n > 0 ? (int)n : 1;
	/* the e2e tests' seam: a directory of fixed "cpu" and "io" files (no pressure, ever) */
	const char *psi = getenv("BATON_TEST_PSI_DIR");
	w->psi_dir = xstrdup(psi && *psi ? psi : "/proc/pressure");
	if (w->fast_ms)
		w->git_lock = git_lock_path(w->root);
}

void wst_free(struct watch *w)
{
	wst_reset(w);
	free(w->git_lock);
	free(w->psi_dir);
	w->git_lock = w->psi_dir = NULL;
}

/* ---- arming ---- */

void wst_reset(struct watch *w)
{
	for (unsigned i = 0; i < w->nfast; i++)
		free(w->fast[i].name);
	w->nfast = 0;
	w->slow = w->fast_armed = false;
}

static bool fast_ready(const struct watch *w)
{
	if (!w->fast_ms || w->slow || !w->nfast)
		return false;
	for (unsigned i = 0; i < w->nfast; i++)
		if (!w->fast[i].done)
			return false;
	return true;
}

static int64_t cap(const struct watch *w, int64_t d)
{
	int64_t last = w->batch_start + w->max_wait_ms;
	return d > last ? last : d;
}

/* (Re)start the quiet time: fast_ms when the batch is only completed writes, else the
 * debounce. */
static void arm(struct watch *w)
{
	int64_t now = now_ms();
	if (w->batch_start < 0)
		w->batch_start = now;
	w->last_event = now;
	w->nevents++;
	w->fast_armed = fast_ready(w);
	if (w->fast_armed)
		w->stall0 = stall_us(w);
	loop_timer_arm_at(w->settle_t, cap(w, now + (w->fast_armed ? w->fast_ms : w->debounce_ms)));
}

void watch_arm_settle(struct watch *w)
{
	if (!w->started)
		return;
	wst_reset(w);
	w->slow = true;
	arm(w);
}

/* Only the event's own kind counts: a path whose last event was IN_MODIFY, IN_CREATE, IN_DELETE
 * or IN_MOVED_FROM may still be written, replaced or recreated; IN_ATTRIB (vim's chmod after
 * the close, a touch) changes nothing. A file that came and went within the batch (a temp file
 * renamed into place, when the filters let its name through) waits for nothing. */
void watch_file_event(struct watch *w, struct wnode *n, const char *name, uint32_t mask, bool known)
{
	if (!w->started)
		return;
	if (w->fast_ms && !w->slow) {
		struct fastc *c = NULL;
		for (unsigned i = 0; i < w->nfast && !c; i++)
			if (w->fast[i].n == n && strcmp(w->fast[i].name, name) == 0)
				c = &w->fast[i];
		if (!c && w->nfast == FAST_MAX) {
			wst_reset(w);
			w->slow = true; /* a burst: the whole debounce */
		} else if (!c) {
			c = &w->fast[w->nfast++];
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
	for (unsigned i = 0; i < w->nfast && all; i++) {
		struct fastc *c = &w->fast[i];
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

bool wst_confirm(struct watch *w)
{
	if (!w->fast_armed)
		return true;
	uint64_t seen = w->nevents;
	watch_read_events(w);
	if (w->nevents != seen)
		return false; /* not quiet after all: the timer runs again */
	int64_t now = now_ms(), full = cap(w, w->last_event + w->debounce_ms);
	if (!files_there(w)) {
		wst_reset(w); /* something went missing: wait for the rest like any other batch */
		w->slow = true;
		loop_timer_arm_at(w->settle_t, full);
		return false;
	}
	int64_t stall = stall_us(w);
	bool held = w->stall0 >= 0 && stall >= 0 &&
		    (stall - w->stall0) * 2 * w->ncpu > w->fast_ms * 1000;
	if (!held && !(w->git_lock && access(w->git_lock, F_OK) == 0))
		return true;
	if (now + w->fast_ms >= full) {
		w->fast_armed = false; /* the debounce is as near: settle then, whatever */
		loop_timer_arm_at(w->settle_t, full);
	} else {
		w->stall0 = stall;
		loop_timer_arm_at(w->settle_t, now + w->fast_ms);
	}
	return false;
}
