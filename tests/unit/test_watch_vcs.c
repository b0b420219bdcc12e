/* The settle window's VCS hold (watch_settle.c): while the repository holding the root is locked
 * (.git/index.lock, .git/HEAD.lock, .hg/wlock, .jj/working_copy/working_copy.lock) a batch is
 * held, and acted on one debounce after the lock went; a lock left behind is waited for up to
 * the bound, reported, then ignored until it changes. A real loop, real files, real inotify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util/timeutil.h"
#include "watch/watch.h"

#define WAIT_MS 10000

struct vfx {
	char root[64]; /* the repository */
	char sub[96];  /* the watched root (the repository, or a directory in it) */
	struct loop *l;
	struct watch *w;
	int batches;
	size_t last_n; /* changes in the last batch */
	int64_t last_at;
};

static void put(const char *dir, const char *rel, const char *data)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void mkdirs(const char *dir, const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	mkdir(p, 0700);
}

static void on_batch(const struct watch_change *ch, size_t n, void *data)
{
	(void)ch;
	struct vfx *f = data;
	f->batches++;
	f->last_n = n;
	f->last_at = now_ms();
}

/* A repository whose VCS directory is vcsdir (".git", ".hg", ".jj/working_copy"...), watched at
 * sub ("" for the root itself). */
static void vfx_start(struct vfx *f, const char *vcsdir, const char *sub, int64_t hold_ms)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/baton-vcs-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	if (vcsdir)
		mkdirs(f->root, vcsdir);
	snprintf(f->sub, sizeof(f->sub), "%s%s%s", f->root, *sub ? "/" : "", sub);
	if (*sub)
		mkdirs(f->root, sub);
	put(f->sub, "main.go", "package main\n");
	f->l = loop_new();
	assert_non_null(f->l);
	struct watch_opts o;
	watch_opts_init(&o);
	o.root = strdup(f->sub);
	o.dev_mode = true;
	strv_push(&o.exclude_dir, ".git");
	strv_push(&o.exclude_dir, ".hg");
	strv_push(&o.exclude_dir, ".jj");
	o.debounce_ms = 20;
	o.max_wait_ms = 100; /* far below the hold: the hold, not max_wait, bounds a held batch */
	o.fast_settle_ms = 5;
	o.vcs_hold_ms = hold_ms;
	f->w = watch_new(f->l, &o, on_batch, f, NULL);
	watch_opts_release(&o);
	assert_non_null(f->w);
	assert_int_equal(watch_start(f->w), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void vfx_stop(struct vfx *f)
{
	watch_free(f->w);
	loop_free(f->l);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool got_batch(void *arg)
{
	return ((struct vfx *)arg)->batches > 0;
}

static bool time_passed(void *arg)
{
	return now_ms() >= *(int64_t *)arg;
}

/* Run the loop for ms: what happens meanwhile is what the watcher did on its own. */
static void run_for(struct vfx *f, int64_t ms)
{
	int64_t until = now_ms() + ms;
	tu_run_until(f->l, time_passed, &until, ms + WAIT_MS, "time to pass");
}

/* Writes under a lock make no batch while it exists (many debounces, past max_wait), then one
 * batch with all of them, no earlier than one debounce after the last write. */
static void held_then_one_batch(const char *vcsdir, const char *lock, const char *sub)
{
	struct vfx f;
	vfx_start(&f, vcsdir, sub, WAIT_MS);
	put(f.root, lock, "");
	put(f.sub, "main.go", "package main // 1\n"); /* a completed write: fast settle */
	run_for(&f, 150);
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d.go", i);
		put(f.sub, name, "package main\n");
	}
	run_for(&f, 150);
	assert_int_equal(f.batches, 0);
	put(f.sub, "last.go", "package main\n");
	int64_t last = now_ms();
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", f.root, lock);
	assert_int_equal(unlink(p), 0);
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch after the lock went");
	assert_int_equal(f.last_n, 22);
	assert_true(f.last_at - last >= 20);
	run_for(&f, 100);
	assert_int_equal(f.batches, 1);
	vfx_stop(&f);
}

static void test_git_index_lock(void **state)
{
	(void)state;
	held_then_one_batch(".git", ".git/index.lock", "");
}

static void test_git_head_lock(void **state)
{
	(void)state;
	held_then_one_batch(".git", ".git/HEAD.lock", "");
}

static void test_git_lock_of_a_parent(void **state)
{
	(void)state;
	held_then_one_batch(".git", ".git/index.lock", "services/api");
}

static void test_git_worktree_file(void **state)
{
	(void)state;
	/* a worktree: .git is a file naming the git directory (relative here), there before the
	 * watch starts */
	struct vfx f;
	memset(&f, 0, sizeof(f));
	snprintf(f.root, sizeof(f.root), "/tmp/baton-vcs-XXXXXX");
	assert_non_null(mkdtemp(f.root));
	mkdirs(f.root, "gitdirs/wt");
	put(f.root, ".git", "gitdir: gitdirs/wt\n");
	put(f.root, "main.go", "package main\n");
	f.l = loop_new();
	struct watch_opts o;
	watch_opts_init(&o);
	o.root = strdup(f.root);
	o.dev_mode = true;
	strv_push(&o.exclude_dir, "gitdirs");
	o.debounce_ms = 20;
	o.max_wait_ms = 100;
	f.w = watch_new(f.l, &o, on_batch, &f, NULL);
	watch_opts_release(&o);
	assert_non_null(f.w);
	assert_int_equal(watch_start(f.w), 0);
	snprintf(f.sub, sizeof(f.sub), "%s", f.root);
	put(f.root, "gitdirs/wt/index.lock", "");
	put(f.root, "main.go", "package main // 2\n");
	run_for(&f, 200);
	assert_int_equal(f.batches, 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/gitdirs/wt/index.lock", f.root);
	assert_int_equal(unlink(p), 0);
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch after the lock went");
	assert_int_equal(f.last_n, 1);
	vfx_stop(&f);
}

static void test_hg_wlock(void **state)
{
	(void)state;
	held_then_one_batch(".hg", ".hg/wlock", "");
}

static void test_jj_working_copy_lock(void **state)
{
	(void)state;
	held_then_one_batch(".jj/working_copy", ".jj/working_copy/working_copy.lock", "");
}

/* A lock nobody removes (a crashed git): the batch comes at the bound, the lock is reported,
 * and later batches no longer wait for it, until it is touched (a new operation). */
static void test_stale_lock_yields_a_batch_at_the_bound(void **state)
{
	(void)state;
	struct vfx f;
	vfx_start(&f, ".git", "", 400);
	put(f.root, ".git/index.lock", "");
	int64_t t0 = now_ms();
	put(f.sub, "main.go", "package main // 1\n");
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch at the bound");
	assert_true(f.last_at - t0 >= 400);
	assert_int_equal(f.last_n, 1);

	f.batches = 0; /* the same lock, untouched: ignored */
	put(f.sub, "main.go", "package main // 2\n");
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch past the stale lock");
	assert_int_equal(f.last_n, 1);

	/* the lock is rewritten (another git started): held again */
	f.batches = 0;
	char p[256];
	snprintf(p, sizeof(p), "%s/.git/index.lock", f.root);
	assert_int_equal(unlink(p), 0);
	put(f.root, ".git/index.lock", "x");
	t0 = now_ms();
	put(f.sub, "main.go", "package main // 3\n");
	run_for(&f, 150);
	assert_int_equal(f.batches, 0);
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch at the bound again");
	assert_true(f.last_at - t0 >= 400);
	vfx_stop(&f);
}

/* No lock: a save is acted on without waiting for anything (the fast settle). */
static void test_no_lock_no_hold(void **state)
{
	(void)state;
	struct vfx f;
	vfx_start(&f, ".git", "", WAIT_MS);
	put(f.sub, "main.go", "package main // 1\n");
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch");
	assert_int_equal(f.last_n, 1);
	vfx_stop(&f);
}

/* vcs_hold_ms < 0: the lock is not looked at (the batch comes within max_wait's reach). */
static void test_hold_off(void **state)
{
	(void)state;
	struct vfx f;
	vfx_start(&f, ".git", "", -1);
	put(f.root, ".git/index.lock", "");
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d.go", i);
		put(f.sub, name, "package main\n");
	}
	tu_run_until(f.l, got_batch, &f, WAIT_MS, "the batch");
	assert_int_equal(f.last_n, 20);
	vfx_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_index_lock),
		cmocka_unit_test(test_git_head_lock),
		cmocka_unit_test(test_git_lock_of_a_parent),
		cmocka_unit_test(test_git_worktree_file),
		cmocka_unit_test(test_hg_wlock),
		cmocka_unit_test(test_jj_working_copy_lock),
		cmocka_unit_test(test_stale_lock_yields_a_batch_at_the_bound),
		cmocka_unit_test(test_no_lock_no_hold),
		cmocka_unit_test(test_hold_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
