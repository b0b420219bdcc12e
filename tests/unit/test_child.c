/* Unit tests for the child module: spawn, exec errors, the LISTEN_FDS layout (checked from
 * inside the child by tests/helpers/fdcheck), output lines, stop with a deadline, process-group
 * kill, and the subreaper's orphan handling. Everything waits on the loop with deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/child.h"
#include "core/loop.h"
#include "proc/proc.h"
#include "core/sig.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/timeutil.h"

#include "testutil.h"

static char helpers[PATH_MAX + 16];

static const char *helper(const char *name)
{
	static char path[PATH_MAX + 80];
	snprintf(path, sizeof(path), "%s/%s", helpers, name);
	return path;
}

/* What a child did, in order: "1:line", "2:line", "exit:<status>". */
struct rec {
	struct strv events;
	bool exited;
	struct child_exit st;
	struct child *c;
	bool free_on_exit, free_on_line;
	int lines;
};

static void on_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	struct rec *r = data;
	r->lines++;
	strv_pushf(&r->events, "%d:%.*s", stream, (int)len, line);
	if (r->free_on_line) {
		child_free(c);
		r->c = NULL;
	}
}

static void on_exit_cb(struct child *c, const struct child_exit *st, void *data)
{
	struct rec *r = data;
	char sb[64];
	r->exited = true;
	r->st = *st;
	strv_pushf(&r->events, "exit:%s", child_status_str(st, sb, sizeof(sb)));
	if (r->free_on_exit) {
		child_free(c);
		r->c = NULL;
	}
}

#define run_until(l, pred, arg, timeout_ms) tu_run_until(l, pred, arg, timeout_ms, #pred)

static bool rec_exited(void *arg)
{
	return ((struct rec *)arg)->exited;
}

static bool rec_has_lines(void *arg)
{
	return ((struct rec *)arg)->lines > 0;
}

static const char *find_event(const struct rec *r, const char *prefix)
{
	for (size_t i = 0; i < r->events.n; i++)
		if (strncmp(r->events.v[i], prefix, strlen(prefix)) == 0)
			return r->events.v[i];
	return NULL;
}

/* child_spawn(), with its message (or "") copied into err[errlen] and freed */
static int spawn_msg(struct loop *l, const struct child_spec *spec, struct child **out, char *err,
		     size_t errlen)
{
	char *msg = (char *)"x"; /* child_spawn() sets it: NULL on success */
	int r = child_spawn(l, spec, out, &msg);
	assert_true(r < 0 ? msg != NULL : msg == NULL);
	snprintf(err, errlen, "%s", msg ? msg : "");
	free(msg);
	return r;
}

static int spawn_rec(struct loop *l, struct child_spec *spec, struct rec *r, char *err,
		     size_t errlen)
{
	spec->on_exit = on_exit_cb;
	if (spec->out == CHILD_OUT_PIPE)
		spec->on_line = on_line;
	spec->data = r;
	return spawn_msg(l, spec, &r->c, err, errlen);
}

static void rec_clear(struct rec *r)
{
	child_free(r->c);
	strv_release(&r->events);
	memset(r, 0, sizeof(*r));
}

/* ---- plain spawning ---- */

static void test_true_false(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	const char *t[] = {"/bin/true", NULL}, *f[] = {"false", NULL};
	struct rec r = {0};
	struct child_spec spec = {.argv = t};
	char err[256];
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	assert_true(child_pid(r.c) > 0);
	assert_true(child_running(r.c));
	run_until(l, rec_exited, &r, 5000);
	assert_false(child_running(r.c));
	assert_int_equal(r.st.code, 0);
	assert_int_equal(r.st.signal, 0);
	assert_string_equal(r.events.v[0], "exit:exited with status 0");
	rec_clear(&r);

	struct child_spec spec2 = {.argv = f}; /* found through PATH */
	assert_int_equal(spawn_rec(l, &spec2, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.st.code, 1);
	assert_string_equal(r.events.v[0], "exit:exited with status 1");
	rec_clear(&r);
	loop_free(l);
}

static void test_exec_errors(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int fds_before = tu_count_fds();
	struct rec r = {0};
	char err[256];
	const char *missing[] = {"./no-such-app", NULL};
	struct child_spec spec = {.argv = missing};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot run \"./no-such-app\": No such file or directory");
	assert_null(r.c);

	const char *nopath[] = {"baton-no-such-binary", NULL};
	const char *env[] = {"PATH=/nonexistent:/also-not", NULL};
	struct child_spec spec2 = {.argv = nopath, .env = env, .label = "app"};
	assert_int_equal(spawn_rec(l, &spec2, &r, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot run \"app\": No such file or directory");

	const char *t[] = {"true", NULL};
	const char *env2[] = {"PATH=/nonexistent:/usr/bin:/bin", NULL};
	struct child_spec spec3 = {.argv = t, .env = env2};
	assert_int_equal(spawn_rec(l, &spec3, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.st.code, 0);
	rec_clear(&r);

	const char *noexec[] = {"/etc/passwd", NULL};
	struct child_spec spec4 = {.argv = noexec};
	assert_int_equal(spawn_rec(l, &spec4, &r, err, sizeof(err)), -EACCES);
	assert_string_equal(err, "cannot run \"/etc/passwd\": Permission denied");

	struct child_spec spec5 = {.argv = t, .cwd = "/nonexistent-dir"};
	assert_int_equal(spawn_rec(l, &spec5, &r, err, sizeof(err)), -ENOENT);
	assert_string_equal(
		err, "cannot change directory to \"/nonexistent-dir\": No such file or directory");

	struct child_spec spec6 = {.shell_cmd = ""};
	assert_int_equal(spawn_rec(l, &spec6, &r, err, sizeof(err)), -EINVAL);
	struct child_spec spec7 = {.argv = t, .out = CHILD_OUT_PIPE}; /* no on_line */
	assert_int_equal(child_spawn(l, &spec7, &r.c, NULL), -EINVAL); /* err may be NULL */
	/* failed spawns leave nothing open (pipes, /dev/null, error pipe) */
	struct child_spec spec8 = {.argv = missing, .out = CHILD_OUT_PIPE, .on_line = on_line};
	assert_int_equal(spawn_msg(l, &spec8, &r.c, err, sizeof(err)), -ENOENT);
	assert_int_equal(tu_count_fds(), fds_before);
	loop_free(l);
}

static void test_shell_script(void **state)
{
	(void)state;
	struct {
		const char *cmd, *want;
	} cases[] = {
		{"./app", "exec ./app \"$@\""},
		{".baton/bin/app --port 8080", "exec .baton/bin/app --port 8080 \"$@\""},
		{"./app --name 'a;b' \"x|y\"", "exec ./app --name 'a;b' \"x|y\" \"$@\""},
		{"$HOME/bin/app", "exec $HOME/bin/app \"$@\""},
		{"go build && ./app", "go build && ./app"},
		{"FOO=1 ./app", "FOO=1 exec ./app \"$@\""},
		{"A=1 B_2=x/y ./app -v", "A=1 B_2=x/y exec ./app -v \"$@\""},
		{"A=$HOME ./app", "A=$HOME ./app"},
		{"./app; echo done", "./app; echo done"},
		{"./app # comment", "./app # comment"},
		{"exec ./app", "exec ./app"},
		{"if true; then ./app; fi", "if true; then ./app; fi"},
		{"test -e x || { echo no; exit 3; }", "test -e x || { echo no; exit 3; }"},
		{"./app 'unterminated", "./app 'unterminated"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = child_shell_script(cases[i].cmd);
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].cmd, s, cases[i].want);
		free(s);
	}
}

static void test_shell_form_and_output(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rec r = {0};
	char err[256];
	const char *args[] = {"one", "two words", NULL};
	struct child_spec spec = {
		.shell_cmd = "printf 'a\\nb\\n'; printf 'err\\n' >&2; printf '%s|' \"$@\"; "
			     "printf 'partial'; exit 3",
		.args = args,
		.out = CHILD_OUT_PIPE,
	};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.st.code, 3);
	/* every line arrived before the exit */
	assert_string_equal(r.events.v[r.events.n - 1], "exit:exited with status 3");
	assert_non_null(find_event(&r, "1:a"));
	assert_non_null(find_event(&r, "1:b"));
	assert_non_null(find_event(&r, "2:err"));
	const char *last = find_event(&r, "1:one|");
	assert_non_null(last);
	assert_string_equal(last, "1:one|two words|partial");
	assert_int_equal(r.events.n, 5);
	rec_clear(&r);

	/* a line longer than 64 KiB is split */
	struct child_spec spec2 = {
		.shell_cmd = "head -c 70000 /dev/zero | tr '\\0' x; echo; echo short",
		.out = CHILD_OUT_PIPE,
	};
	assert_int_equal(spawn_rec(l, &spec2, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.events.n, 4);
	assert_int_equal(strlen(r.events.v[0]), 2 + 65536);
	assert_int_equal(strlen(r.events.v[1]), 2 + 70000 - 65536);
	assert_string_equal(r.events.v[2], "1:short");
	rec_clear(&r);

	/* killed by a signal, and freed from inside its own callbacks */
	struct child_spec spec3 = {.shell_cmd = "echo hi; kill -SEGV $$", .out = CHILD_OUT_PIPE};
	r.free_on_exit = true;
	assert_int_equal(spawn_rec(l, &spec3, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_null(r.c);
	assert_int_equal(r.st.signal, SIGSEGV);
	assert_non_null(strstr(r.events.v[r.events.n - 1], "exit:killed by SIGSEGV"));
	rec_clear(&r);

	struct child_spec spec4 = {.shell_cmd = "echo 1; echo 2; echo 3", .out = CHILD_OUT_PIPE};
	r.free_on_line = true;
	assert_int_equal(spawn_rec(l, &spec4, &r, err, sizeof(err)), 0);
	run_until(l, rec_has_lines, &r, 5000);
	assert_null(r.c);
	assert_int_equal(loop_run_once(l, 20), 0); /* nothing left registered */
	assert_int_equal(r.lines, 1);
	assert_false(r.exited);
	rec_clear(&r);
	loop_free(l);
}

/* ---- the LISTEN_FDS layout ---- */

static int tcp_listener(int family, const char *addr, int *port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, 16), 0);
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int unix_listener(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Put fd at exactly `at` (CLOEXEC), closing the original. */
static int place(int fd, int at)
{
	assert_int_equal(dup3(fd, at, O_CLOEXEC), at);
	close(fd);
	return at;
}

static void test_fd_layout(void **state)
{
	(void)state;
	int p4, p6;
	char upath[64];
	snprintf(upath, sizeof(upath), "/tmp/baton-fdcheck-%d.sock", (int)getpid());
	/* open high, then place them so that sources sit inside the target range 3..5 in the
	 * wrong order (v4 wanted at 3 sits at 5; v6 wanted at 4 already is at 4) */
	int v4 = fcntl(tcp_listener(AF_INET, "127.0.0.1", &p4), F_DUPFD_CLOEXEC, 100);
	int v6 = fcntl(tcp_listener(AF_INET6, "::1", &p6), F_DUPFD_CLOEXEC, 110);
	int ux = fcntl(unix_listener(upath), F_DUPFD_CLOEXEC, 120);
	for (int fd = 3; fd < 100; fd++)
		if (fd != v4 && fd != v6 && fd != ux)
			close(fd); /* the originals, and anything inherited */
	v4 = place(v4, 5);
	v6 = place(v6, 4);
	ux = place(ux, 3);

	struct loop *l = loop_new(); /* its epoll fd lands above 5 */
	int fds[] = {v4, v6, ux};
	const char *names[] = {"http", "https", "admin", NULL};
	const char *env[] = {"PATH=/usr/bin:/bin", "LISTEN_FDS=99",
			     "LISTEN_PID=1",	   "NOTIFY_SOCKET=/run/systemd/notify",
			     "BATON_GENERATION=4", NULL};
	const char *args[] = {"x", "y z", NULL};
	struct rec r = {0};
	char err[256];
	/* the shell form: LISTEN_PID=match proves sh exec'd the app in place */
	char *cmd = strdup(helper("fdcheck"));
	struct child_spec spec = {
		.shell_cmd = cmd,
		.args = args,
		.env = env,
		.fds = fds,
		.nfds = 3,
		.fd_names = names,
		.listen_env = true,
		.notify_socket = "@baton-test-notify",
		.out = CHILD_OUT_PIPE,
		.new_session = true,
	};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	if (r.st.code != 0)
		for (size_t i = 0; i < r.events.n; i++)
			print_message("%s\n", r.events.v[i]);
	assert_int_equal(r.st.code, 0);
	char want[256];
	assert_non_null(find_event(&r, "1:LISTEN_FDS=3"));
	assert_non_null(find_event(&r, "1:LISTEN_PID=match"));
	assert_non_null(find_event(&r, "1:LISTEN_FDNAMES=http:https:admin"));
	assert_non_null(find_event(&r, "1:NOTIFY_SOCKET=@baton-test-notify"));
	assert_non_null(find_event(&r, "1:BATON_GENERATION=4"));
	assert_non_null(find_event(&r, "1:stdin=/dev/null"));
	snprintf(want, sizeof(want),
		 "1:fd3 family=inet type=stream listening=1 cloexec=0 addr=127.0.0.1:%d", p4);
	assert_string_equal(find_event(&r, "1:fd3 "), want);
	snprintf(want, sizeof(want),
		 "1:fd4 family=inet6 type=stream listening=1 cloexec=0 addr=[::1]:%d", p6);
	assert_string_equal(find_event(&r, "1:fd4 "), want);
	snprintf(want, sizeof(want),
		 "1:fd5 family=unix type=stream listening=1 cloexec=0 addr=unix:%s", upath);
	assert_string_equal(find_event(&r, "1:fd5 "), want);
	assert_string_equal(find_event(&r, "1:extra="), "1:extra=none");
	assert_string_equal(find_event(&r, "1:args="), "1:args=x,y z");
	rec_clear(&r);

	/* baton's own fds are untouched: same sockets, still CLOEXEC */
	for (int i = 0; i < 3; i++)
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);

	/* without listen_env (and argv form, stdin inherited) nothing leaks through */
	const char *argv[] = {helper("fdcheck"), NULL};
	struct child_spec spec2 = {
		.argv = argv, .env = env, .out = CHILD_OUT_PIPE, .in = CHILD_IN_INHERIT};
	assert_int_equal(spawn_rec(l, &spec2, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.st.code, 0);
	assert_non_null(find_event(&r, "1:LISTEN_FDS=(unset)"));
	assert_non_null(find_event(&r, "1:LISTEN_PID=(unset)"));
	assert_non_null(find_event(&r, "1:NOTIFY_SOCKET=(unset)"));
	assert_string_equal(find_event(&r, "1:extra="), "1:extra=none");
	rec_clear(&r);

	/* a name with ':' cannot be passed */
	const char *bad[] = {"a:b", "c", "d"};
	spec.fd_names = bad;
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), -EINVAL);

	free(cmd);
	loop_free(l);
	close(v4);
	close(v6);
	close(ux);
	unlink(upath);
}

/* ---- stopping ---- */

static void test_stop_sigterm(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	const char *argv[] = {helper("idle"), NULL};
	struct rec r = {0};
	char err[256];
	struct child_spec spec = {.argv = argv, .out = CHILD_OUT_PIPE, .new_session = true};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	run_until(l, rec_has_lines, &r, 5000);
	assert_int_equal(getpgid(child_pid(r.c)), child_pid(r.c)); /* leads its own group */
	assert_int_equal(getsid(child_pid(r.c)), child_pid(r.c));
	int64_t t0 = now_ms();
	assert_int_equal(child_stop(r.c, SIGTERM, 5000), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(r.st.signal, SIGTERM);
	assert_string_equal(r.events.v[r.events.n - 1], "exit:killed by SIGTERM");
	/* nothing left to stop */
	assert_int_equal(child_stop(r.c, SIGTERM, 100), -ESRCH);
	assert_int_equal(child_signal(r.c, SIGTERM, false), -ESRCH);
	rec_clear(&r);
	loop_free(l);
}

struct reap_ctx {
	struct child_reaper *r;
	int orphans;
};

static void on_sigchld(const struct signalfd_siginfo *si, void *data)
{
	(void)si;
	struct reap_ctx *rc = data;
	rc->orphans += child_reap(rc->r);
}

struct gone {
	pid_t pid;
};

static bool pid_gone(void *arg)
{
	return kill(((struct gone *)arg)->pid, 0) < 0 && errno == ESRCH;
}

static void test_sigkill_at_deadline(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct reap_ctx rc = {.r = child_reaper_new(true)};
	assert_non_null(rc.r);
	int sigs[] = {SIGCHLD};
	struct sig *sg = sig_new(l, sigs, 1, on_sigchld, &rc);
	assert_non_null(sg);

	const char *argv[] = {helper("ignoreterm"), "group", NULL};
	struct rec r = {0};
	char err[256];
	struct child_spec spec = {
		.argv = argv, .out = CHILD_OUT_PIPE, .new_session = true, .reaper = rc.r};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	int64_t deadline = now_ms() + 5000;
	while (!find_event(&r, "1:ready") || !find_event(&r, "1:child")) {
		assert_true(now_ms() < deadline);
		loop_run_once(l, deadline - now_ms());
	}
	struct gone g = {0};
	assert_int_equal(sscanf(find_event(&r, "1:child"), "1:child %d", &g.pid), 1);
	int64_t t0 = now_ms();
	assert_int_equal(child_stop(r.c, SIGTERM, 300), 0);
	run_until(l, rec_exited, &r, 5000);
	int64_t el = now_ms() - t0;
	assert_true(el >= 290);
	assert_true(el < 5000);
	assert_int_equal(r.st.signal, SIGKILL);
	assert_string_equal(r.events.v[r.events.n - 1], "exit:killed by SIGKILL");
	/* the whole group went: the forked child, re-parented to us, is reaped too */
	run_until(l, pid_gone, &g, 5000);
	rec_clear(&r);
	sig_free(sg);
	child_reaper_free(rc.r);
	loop_free(l);
}

/* The leader exits on SIGTERM, a worker of its group ignores it: the deadline outlives the
 * leader, SIGKILLs the group, and on_group_exit follows once the group is empty. */
struct grp {
	struct rec r;
	bool alive_at_exit;
	int group_exits;
	int64_t group_exit_ms;
};

static void grp_exit_cb(struct child *c, const struct child_exit *st, void *data)
{
	struct grp *g = data;
	g->alive_at_exit = child_group_alive(c);
	on_exit_cb(c, st, &g->r);
}

static void grp_line_cb(struct child *c, int stream, const char *line, size_t len, void *data)
{
	on_line(c, stream, line, len, &((struct grp *)data)->r);
}

static void grp_gone_cb(struct child *c, void *data)
{
	struct grp *g = data;
	assert_false(child_group_alive(c));
	g->group_exits++;
	g->group_exit_ms = now_ms();
}

static bool grp_done(void *arg)
{
	return ((struct grp *)arg)->group_exits > 0;
}

static void test_group_outlives_leader(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct reap_ctx rc = {.r = child_reaper_new(true)};
	int sigs[] = {SIGCHLD};
	struct sig *sg = sig_new(l, sigs, 1, on_sigchld, &rc);
	assert_non_null(sg);
	char cmd[PATH_MAX + 160];
	snprintf(cmd, sizeof(cmd), "trap 'exit 0' TERM; %s & wait", helper("ignoreterm"));
	struct grp g = {0};
	char err[256];
	struct child_spec spec = {.shell_cmd = cmd,
				  .out = CHILD_OUT_PIPE,
				  .new_session = true,
				  .reaper = rc.r,
				  .on_line = grp_line_cb,
				  .on_exit = grp_exit_cb,
				  .on_group_exit = grp_gone_cb,
				  .data = &g};
	assert_int_equal(spawn_msg(l, &spec, &g.r.c, err, sizeof(err)), 0);
	int64_t deadline = now_ms() + 5000;
	while (!find_event(&g.r, "1:ready")) {
		assert_true(now_ms() < deadline);
		loop_run_once(l, deadline - now_ms());
	}
	struct gone worker = {0};
	assert_int_equal(sscanf(find_event(&g.r, "1:ready"), "1:ready %d", &worker.pid), 1);
	int64_t t0 = now_ms();
	assert_int_equal(child_stop(g.r.c, SIGTERM, 300), 0);
	run_until(l, rec_exited, &g.r, 5000);
	assert_int_equal(g.r.st.code, 0); /* the trap */
	assert_true(g.alive_at_exit);
	assert_int_equal(g.group_exits, 0);
	run_until(l, grp_done, &g, 5000);
	assert_true(g.group_exit_ms - t0 >= 290);
	assert_int_equal(g.group_exits, 1);
	run_until(l, pid_gone, &worker, 5000);
	rec_clear(&g.r);

	/* freed while its group lives: the deadline goes with it, nothing dangles */
	struct grp h = {0};
	spec.data = &h;
	assert_int_equal(spawn_msg(l, &spec, &h.r.c, err, sizeof(err)), 0);
	deadline = now_ms() + 5000;
	while (!find_event(&h.r, "1:ready")) {
		assert_true(now_ms() < deadline);
		loop_run_once(l, deadline - now_ms());
	}
	assert_int_equal(sscanf(find_event(&h.r, "1:ready"), "1:ready %d", &worker.pid), 1);
	assert_int_equal(child_stop(h.r.c, SIGTERM, 200), 0);
	run_until(l, rec_exited, &h.r, 5000);
	assert_true(h.alive_at_exit);
	rec_clear(&h.r);
	assert_int_equal(child_kill_orphans(rc.r, SIGKILL), 1);
	run_until(l, pid_gone, &worker, 5000);
	assert_int_equal(h.group_exits, 0);

	sig_free(sg);
	child_reaper_free(rc.r);
	loop_free(l);
}

static void test_orphans(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct reap_ctx rc = {.r = child_reaper_new(true)};
	int sigs[] = {SIGCHLD};
	struct sig *sg = sig_new(l, sigs, 1, on_sigchld, &rc);
	assert_non_null(sg);

	/* a tracked child that keeps running must not be touched by child_kill_orphans */
	const char *idle[] = {helper("idle"), NULL};
	struct rec keep = {0};
	char err[256];
	struct child_spec kspec = {
		.argv = idle, .out = CHILD_OUT_PIPE, .new_session = true, .reaper = rc.r};
	assert_int_equal(spawn_rec(l, &kspec, &keep, err, sizeof(err)), 0);

	const char *argv[] = {helper("daemonize"), NULL};
	struct rec r = {0};
	struct child_spec spec = {
		.argv = argv, .out = CHILD_OUT_PIPE, .new_session = true, .reaper = rc.r};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	run_until(l, rec_exited, &r, 5000);
	assert_int_equal(r.st.code, 0);
	struct gone g = {0};
	assert_non_null(find_event(&r, "1:daemon "));
	assert_int_equal(sscanf(find_event(&r, "1:daemon "), "1:daemon %d", &g.pid), 1);
	/* the daemon escaped the group (setsid) and was re-parented to us, the subreaper */
	pid_t pp = 0;
	assert_int_equal(proc_ppid(g.pid, &pp), 0);
	assert_int_equal(pp, getpid());
	assert_true(getpgid(g.pid) != child_pid(r.c));
	assert_false(pid_gone(&g));

	int n = child_kill_orphans(rc.r, SIGKILL);
	assert_true(n >= 1);
	run_until(l, pid_gone, &g, 5000);
	assert_true(rc.orphans >= 1);
	assert_true(child_running(keep.c));
	assert_false(keep.exited);

	/* and the tracked one still gets its exit delivered (via pidfd or the reaper) */
	assert_int_equal(child_stop(keep.c, SIGTERM, 5000), 0);
	run_until(l, rec_exited, &keep, 5000);
	assert_int_equal(keep.st.signal, SIGTERM);
	rec_clear(&keep);
	rec_clear(&r);
	sig_free(sg);
	child_reaper_free(rc.r);
	loop_free(l);
}

/* The reaper collecting a tracked child first (before its pidfd is looked at) must still
 * deliver that child's exit, once. */
static void test_reaper_delivers_tracked_exit(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct child_reaper *rp = child_reaper_new(false);
	const char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
	struct rec r = {0};
	char err[256];
	struct child_spec spec = {.argv = argv, .reaper = rp};
	assert_int_equal(spawn_rec(l, &spec, &r, err, sizeof(err)), 0);
	/* wait for the zombie without reaping it */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)child_pid(r.c), &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(child_reap(rp), 0); /* tracked: not counted as an orphan */
	assert_true(r.exited);
	assert_int_equal(r.st.code, 7);
	assert_int_equal(loop_run_once(l, 20), 0); /* the pidfd is gone: no second delivery */
	assert_int_equal(r.events.n, 1);
	rec_clear(&r);
	child_reaper_free(rp);
	loop_free(l);
}

int main(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	/* BUILD/unit/test_child -> BUILD/helpers */
	char *slash = strrchr(exe, '/');
	*slash = '\0';
	slash = strrchr(exe, '/');
	*slash = '\0';
	snprintf(helpers, sizeof(helpers), "%s/helpers", exe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_true_false),
		cmocka_unit_test(test_exec_errors),
		cmocka_unit_test(test_shell_script),
		cmocka_unit_test(test_shell_form_and_output),
		cmocka_unit_test(test_fd_layout),
		cmocka_unit_test(test_stop_sigterm),
		cmocka_unit_test(test_sigkill_at_deadline),
		cmocka_unit_test(test_group_outlives_leader),
		cmocka_unit_test(test_orphans),
		cmocka_unit_test(test_reaper_delivers_tracked_exit),
	};
	return cmocka_run_group_tests_name("child", tests, NULL, NULL);
}
