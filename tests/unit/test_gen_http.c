/* Proxy mode in the generation set: gen_opts.prepare puts a private socket (sup/privsock) in
 * place of the listener for each generation, and ready = "http:/path" is a GET on it answering
 * 2xx. Real children: tests/helpers/httpserve answers every request with a given status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/sig.h"
#include "proc/child.h"
#include "sup/gen.h"
#include "sup/privsock.h"
#include "testutil.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define WAIT_MS 20000

static char helpers[PATH_MAX + 16];

struct fx {
	struct loop *l;
	struct child_reaper *reaper;
	struct sig *sig;
	struct gens *s;
	struct strv ev;
	char cmd[PATH_MAX + 64];
	char dir[64];
	struct privsock ps[8]; /* by generation id */
	int fail_prepare;      /* -errno for prepare to return */
};

static void cb_ready(struct gens *s, int id, int prev, int64_t took, void *data)
{
	(void)s;
	(void)took;
	strv_pushf(&((struct fx *)data)->ev, "ready %d %d", id, prev);
}

static void cb_failed(struct gens *s, int id, const char *reason, void *data)
{
	(void)s;
	strv_pushf(&((struct fx *)data)->ev, "failed %d: %s", id, reason);
}

static void cb_exited(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	struct fx *f = data;
	strv_pushf(&f->ev, "exited %d: %s", id, status);
	privsock_close(&f->ps[id]);
}

static void cb_stopped(struct gens *s, void *data)
{
	(void)s;
	strv_push(&((struct fx *)data)->ev, "stopped");
}

static const struct gen_cbs cbs = {
	.ready = cb_ready,
	.failed = cb_failed,
	.exited = cb_exited,
	.stopped = cb_stopped,
};

static int prepare(void *data, int id, int *fds, int nfds, struct strv *env,
		   struct sockaddr_storage *probe, socklen_t *probe_len, char **err)
{
	(void)env;
	struct fx *f = data;
	assert_int_equal(nfds, 1);
	assert_int_equal(fds[0], -1); /* the public listener's slot (none in this test) */
	if (f->fail_prepare) {
		*err = xstrdup("no private socket for you");
		return f->fail_prepare;
	}
	assert_true(id > 0 && id < 8);
	int r = privsock_open(&f->ps[id], f->dir, (unsigned)id, 0, "http", 16, err);
	if (r < 0)
		return r;
	fds[0] = f->ps[id].fd;
	memcpy(probe, &f->ps[id].addr, f->ps[id].addrlen);
	*probe_len = f->ps[id].addrlen;
	return 0;
}

static void on_sigchld(const struct signalfd_siginfo *si, void *data)
{
	(void)si;
	child_reap(data);
}

static const char *const child_env[] = {"PATH=/usr/bin:/bin", NULL};
static const int public_fds[] = {-1};
static const char *const names[] = {"http", NULL};

static void fx_init(struct fx *f, const char *args, int64_t ready_timeout_ms)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 8; i++)
		f->ps[i].fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/baton-gen-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->l = loop_new();
	f->reaper = child_reaper_new(true);
	int sigs[] = {SIGCHLD};
	f->sig = sig_new(f->l, sigs, 1, on_sigchld, f->reaper);
	snprintf(f->cmd, sizeof(f->cmd), "exec %s/httpserve %s", helpers, args);
	struct gen_opts o = {
		.cmd = f->cmd,
		.cwd = "/",
		.env = child_env,
		.fds = public_fds,
		.nfds = 1,
		.fd_names = names,
		.prepare = prepare,
		.prepare_data = f,
		.ready = READY_HTTP,
		.ready_path = "/healthz",
		.ready_timeout_ms = ready_timeout_ms,
		.stop_signal = SIGTERM,
		.stop_timeout_ms = 60000,
		.overlap = true,
		.reaper = f->reaper,
	};
	f->s = gen_new(f->l, &o, &cbs, f);
	assert_non_null(f->s);
}

static void fx_fini(struct fx *f)
{
	gen_kill(f->s);
	gen_free(f->s);
	sig_free(f->sig);
	child_kill_orphans(f->reaper, SIGKILL);
	child_reaper_free(f->reaper);
	loop_free(f->l);
	for (int i = 0; i < 8; i++)
		privsock_close(&f->ps[i]);
	strv_release(&f->ev);
	assert_int_equal(rmdir(f->dir), 0); /* every private socket file is gone */
}

struct wait_ev {
	struct fx *f;
	size_t n;
};

static bool have_events(void *arg)
{
	struct wait_ev *w = arg;
	return w->f->ev.n >= w->n;
}

static void wait_events(struct fx *f, size_t n)
{
	struct wait_ev w = {f, n};
	tu_run_until(f->l, have_events, &w, WAIT_MS, "the set's callbacks");
}

static void assert_ev(struct fx *f, size_t i, const char *want)
{
	assert_true(f->ev.n > i);
	if (!strstr(f->ev.v[i], want))
		fail_msg("event %zu is \"%s\", wanted one with \"%s\"", i, f->ev.v[i], want);
}

/* ready once the app on the private socket answers 2xx; a replacement gets its own socket */
static void test_ready_http(void **state)
{
	(void)state;
	int before = tu_count_fds();
	struct fx f;
	fx_init(&f, "204", 60000);
	assert_int_equal(gen_replace(f.s), 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "ready 1 0");
	char *p1 = xasprintf("%s/gen1.http.sock", f.dir);
	assert_int_equal(access(p1, F_OK), 0);
	assert_int_equal(gen_replace(f.s), 0);
	wait_events(&f, 2);
	assert_ev(&f, 1, "ready 2 1");
	wait_events(&f, 3);
	assert_ev(&f, 2, "exited 1: ");
	assert_int_equal(access(p1, F_OK), -1); /* closed and unlinked with its generation */
	gen_stop(f.s);
	wait_events(&f, 5);
	assert_ev(&f, 3, "exited 2: ");
	assert_ev(&f, 4, "stopped");
	free(p1);
	fx_fini(&f);
	assert_int_equal(tu_count_fds(), before);
}

/* never 2xx: not ready within ready_timeout, saying what the last GET got */
static void test_ready_http_503(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "503", 1500);
	assert_int_equal(gen_replace(f.s), 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "failed 1: not ready within 1s500ms (ready = \"http:/healthz\": ");
	assert_int_equal(gen_serving(f.s), 0);
	gen_stop(f.s);
	wait_events(&f, 2);
	fx_fini(&f);
}

/* prepare failing fails the spawn, reported from the loop; nothing serves */
static void test_prepare_fails(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "200", 60000);
	f.fail_prepare = -EMFILE;
	assert_int_equal(gen_replace(f.s), 0);
	assert_int_equal(f.ev.n, 0);
	wait_events(&f, 1);
	assert_ev(&f, 0, "failed 1: no private socket for you");
	gen_stop(f.s);
	wait_events(&f, 2);
	fx_fini(&f);
}

int main(int argc, char **argv)
{
	(void)argc;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	(void)argv;
	/* BUILD/unit/test_gen_http -> BUILD/helpers */
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(helpers, sizeof(helpers), "%s/helpers", exe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_http),
		cmocka_unit_test(test_ready_http_503),
		cmocka_unit_test(test_prepare_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
