/* Failure paths through the syscall seam (util/sys.h): each module meets a failing fork, pipe2,
 * accept4, inotify_add_watch, bind, pidfd_open or open on the Nth call, reports it, keeps
 * working where it can, and leaks nothing (fds counted here, memory under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/child.h"
#include "net/listen.h"
#include "net/notify.h"
#include "filereload/reload_hash.h"
#include "testutil.h"
#include "util/sys.h"
#include "watch/watch.h"
#include "watch/watch_hub.h"

#define WAIT_MS 10000

static int reset(void **state)
{
	(void)state;
	sys_fail_reset();
	return 0;
}

/* ---- watch: inotify_add_watch failing degrades to polling ---- */

struct wfx {
	char root[64];
	int batches;
	bool saw_target;
};

static void wfx_tree(struct wfx *f, int ndirs)
{
	snprintf(f->root, sizeof(f->root), "/tmp/baton-faults-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	for (int i = 0; i < ndirs; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/d%d", f->root, i);
		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(p, sizeof(p), "%s/d%d/f.go", f->root, i);
		FILE *fp = fopen(p, "w");
		assert_non_null(fp);
		fputs("package main\n", fp);
		fclose(fp);
	}
}

static void wfx_rm(struct wfx *f, int ndirs)
{
	char p[128];
	for (int i = 0; i < ndirs; i++) {
		snprintf(p, sizeof(p), "%s/d%d/f.go", f->root, i);
		unlink(p);
		snprintf(p, sizeof(p), "%s/d%d", f->root, i);
		rmdir(p);
	}
	rmdir(f->root);
}

static void on_batch(const struct watch_change *ch, size_t n, void *data)
{
	struct wfx *f = data;
	f->batches++;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ch[i].path, "d2/f.go") == 0 && ch[i].kind == WATCH_CHANGED)
			f->saw_target = true;
}

static bool saw_target(void *arg)
{
	return ((struct wfx *)arg)->saw_target;
}

/* inotify_add_watch fails from call `nth` on (persist) or once: every directory is still watched
 * or polled, an edit in the failed one is still seen, and nothing leaks. */
static void watch_with_failing_add(int nth, bool persist)
{
	struct wfx f = {0};
	wfx_tree(&f, 4);
	int fds = tu_count_fds();
	struct loop *l = loop_new();
	assert_non_null(l);
	struct watch_hub *hub = watch_hub_new(l);
	assert_non_null(hub);
	struct watch_opts o;
	watch_opts_init(&o);
	o.root = strdup(f.root);
	o.poll_interval_ms = 20;
	o.debounce_ms = 10;
	o.hub = hub;
	sys_fail_nth(SYS_CALL_INOTIFY_ADD_WATCH, nth, ENOSPC, persist);
	struct watch *w = watch_new(l, &o, on_batch, &f, NULL);
	assert_non_null(w);
	assert_int_equal(watch_start(w), 0);
	assert_true(sys_calls(SYS_CALL_INOTIFY_ADD_WATCH) >= (unsigned long)nth);
	assert_int_equal(watch_ndirs(w), 5);
	assert_int_equal(watch_nfiles(w), 4);

	/* an edit in every directory, so the one whose watch failed is among them */
	for (int i = 0; i < 4; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/d%d/f.go", f.root, i);
		FILE *fp = fopen(p, "a");
		assert_non_null(fp);
		fputs("// edited\n", fp);
		fclose(fp);
	}
	tu_run_until(l, saw_target, &f, WAIT_MS, "the edit in d2 to be reported");

	watch_free(w);
	watch_opts_release(&o);
	watch_hub_unref(hub);
	loop_free(l);
	assert_int_equal(tu_count_fds(), fds);
	wfx_rm(&f, 4);
}

static void test_watch_add_fails_once(void **state)
{
	(void)state;
	for (int nth = 1; nth <= 5; nth++) {
		sys_fail_reset();
		watch_with_failing_add(nth, false);
	}
}

static void test_watch_add_fails_always(void **state)
{
	(void)state;
	watch_with_failing_add(1, true);
}

/* ---- reload groups: open failing while hashing ---- */

/* ---- watch: bad options come back to the caller, who decides how to say it ---- */

static void test_watch_new_reports_why(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	assert_non_null(l);
	struct watch_opts o;
	watch_opts_init(&o);
	o.root = strdup("/tmp");
	strv_push(&o.exclude_regex, "(unclosed");
	char *err = NULL;
	errno = 0;
	assert_null(watch_new(l, &o, NULL, NULL, &err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "(unclosed"));
	free(err);
	err = NULL;
	assert_null(watch_new(l, &o, NULL, NULL, NULL)); /* err may be NULL */
	free(o.root);
	o.root = strdup("relative");
	strv_release(&o.exclude_regex);
	assert_null(watch_new(l, &o, NULL, NULL, &err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "relative"));
	free(err);
	watch_opts_release(&o);
	loop_free(l);
}

static void test_reload_hash_open_fails(void **state)
{
	(void)state;
	struct wfx f = {0};
	wfx_tree(&f, 3);
	char *paths[] = {f.root};
	const char *failed = NULL;
	uint64_t good = 0, h = 0;
	assert_int_equal(reload_hash_paths(paths, 1, &good, &failed), 0);
	int fds = tu_count_fds();
	for (int nth = 1; nth <= 3; nth++) {
		sys_fail_nth(SYS_CALL_OPEN, nth, EMFILE, false);
		failed = NULL;
		assert_int_equal(reload_hash_paths(paths, 1, &h, &failed), -EMFILE);
		assert_non_null(failed);
		assert_string_equal(failed, f.root); /* the configured path that failed */
		assert_int_equal(tu_count_fds(), fds);
	}
	sys_fail_reset();
	assert_int_equal(reload_hash_paths(paths, 1, &h, &failed), 0);
	assert_true(h == good);
	wfx_rm(&f, 3);
}

/* ---- spawning: fork, pipe2 and pidfd_open failing ---- */

struct crec {
	bool exited;
	struct child_exit st;
};

static void crec_exit(struct child *c, const struct child_exit *st, void *data)
{
	(void)c;
	struct crec *r = data;
	r->exited = true;
	r->st = *st;
}

static void crec_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	(void)stream;
	(void)line;
	(void)len;
	(void)data;
}

static bool crec_done(void *arg)
{
	return ((struct crec *)arg)->exited;
}

/* Spawn `true` with output pipes while `call` fails on its nth use: the spawn fails with that
 * errno and a message, or (pidfd_open, which has a fallback) succeeds; either way no fd and no
 * process is left behind. */
static void spawn_with_failing(enum sys_call call, int nth, int err)
{
	int fds = tu_count_fds();
	struct loop *l = loop_new();
	assert_non_null(l);
	struct crec r = {0};
	const char *argv[] = {"true", NULL};
	struct child_spec spec = {.argv = argv,
				  .out = CHILD_OUT_PIPE,
				  .on_line = crec_line,
				  .on_exit = crec_exit,
				  .new_session = true,
				  .data = &r};
	struct child *c = NULL;
	char *msg = NULL;
	sys_fail_nth(call, nth, err, false);
	int rc = child_spawn(l, &spec, &c, &msg);
	bool hit = sys_calls(call) >= (unsigned long)nth;
	sys_fail_reset();
	if (rc < 0) {
		assert_true(hit);
		assert_int_equal(rc, -err);
		assert_null(c);
		assert_true(msg && msg[0] != '\0');
		free(msg);
	} else {
		tu_run_until(l, crec_done, &r, WAIT_MS, "the child to exit");
		assert_int_equal(r.st.code, 0);
		child_free(c);
	}
	loop_free(l);
	assert_int_equal(tu_count_fds(), fds);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child of ours is left */
	assert_int_equal(errno, ECHILD);
}

static void test_spawn_fork_fails(void **state)
{
	(void)state;
	spawn_with_failing(SYS_CALL_FORK, 1, EAGAIN);
	spawn_with_failing(SYS_CALL_FORK, 1, ENOMEM);
}

static void test_spawn_pipe2_fails(void **state)
{
	(void)state;
	for (int nth = 1; nth <= 3; nth++) /* stdout's, stderr's, the error pipe */
		spawn_with_failing(SYS_CALL_PIPE2, nth, EMFILE);
}

static void test_spawn_pidfd_open_fails(void **state)
{
	(void)state;
	spawn_with_failing(SYS_CALL_PIDFD_OPEN, 1, ENOSYS);
	spawn_with_failing(SYS_CALL_PIDFD_OPEN, 1, EMFILE);
}

/* ---- sockets: bind failing ---- */

static void test_listen_bind_fails(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct listener *ls = NULL;
	char *msg = NULL;
	sys_fail_nth(SYS_CALL_BIND, 1, EADDRINUSE, false);
	assert_int_equal(listen_open("http", "127.0.0.1:0", &(struct listen_opts){0}, &ls, &msg),
			 -EADDRINUSE);
	assert_null(ls);
	assert_non_null(strstr(msg, "Address already in use"));
	free(msg);
	assert_int_equal(tu_count_fds(), fds);
	/* the next bind works */
	assert_int_equal(listen_open("http", "127.0.0.1:0", &(struct listen_opts){0}, &ls, NULL),
			 0);
	listen_close(ls);
	assert_int_equal(tu_count_fds(), fds);
}

static void on_notify(pid_t pid, const struct notify_msg *m, int *fds, size_t nfds, void *data)
{
	(void)pid;
	(void)m;
	(void)fds;
	(void)nfds;
	(void)data;
}

static void test_notify_bind_fails(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct loop *l = loop_new();
	assert_non_null(l);
	fds++; /* the loop's epoll fd */
	sys_fail_nth(SYS_CALL_BIND, 1, EACCES, false);
	errno = 0;
	assert_null(notify_new(l, NULL, on_notify, NULL));
	assert_int_equal(errno, EACCES);
	assert_int_equal(tu_count_fds(), fds);
	struct notify *n = notify_new(l, NULL, on_notify, NULL);
	assert_non_null(n);
	notify_free(n);
	assert_int_equal(tu_count_fds(), fds);
	loop_free(l);
	assert_int_equal(tu_count_fds(), fds - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_watch_add_fails_once, reset),
		cmocka_unit_test_setup(test_watch_add_fails_always, reset),
		cmocka_unit_test_setup(test_watch_new_reports_why, reset),
		cmocka_unit_test_setup(test_reload_hash_open_fails, reset),
		cmocka_unit_test_setup(test_spawn_fork_fails, reset),
		cmocka_unit_test_setup(test_spawn_pipe2_fails, reset),
		cmocka_unit_test_setup(test_spawn_pidfd_open_fails, reset),
		cmocka_unit_test_setup(test_listen_bind_fails, reset),
		cmocka_unit_test_setup(test_notify_bind_fails, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
