/* Unit tests for check commands (filereload/check_cmd.h), on a real loop with real children:
 * the verdict for a zero and a non-zero exit, a death by signal and the timeout; the output
 * quoted escaped and bounded; cwd and the extra environment; a spawn failure; cancelling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop.h"
#include "filereload/check_cmd.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include "testutil.h"

struct verdict {
	int calls;
	bool ok;
	char *reason;
	struct check_cmd *c;
};

static void on_done(struct check_cmd *c, bool ok, char *reason, void *data)
{
	struct verdict *v = data;
	assert_ptr_equal(c, v->c);
	v->calls++;
	v->ok = ok;
	v->reason = reason;
	check_cmd_free(c); /* allowed inside the callback */
	v->c = NULL;
}

static bool verdict_in(void *arg)
{
	return ((struct verdict *)arg)->calls > 0;
}

/* Run cmd to its verdict; the spec's callback fields are filled in here. */
static void run_check(struct check_cmd_spec spec, struct verdict *v)
{
	struct loop *l = loop_new();
	assert_non_null(l);
	spec.done = on_done;
	spec.data = v;
	if (!spec.timeout_ms)
		spec.timeout_ms = 30000;
	char *err = NULL;
	assert_int_equal(check_cmd_start(l, &spec, &v->c, &err), 0);
	assert_null(err);
	assert_non_null(v->c);
	tu_run_until(l, verdict_in, v, 30000, "the check's verdict");
	/* once, and nothing else happens on the loop */
	assert_true(loop_run_once(l, 0) >= 0);
	assert_int_equal(v->calls, 1);
	loop_free(l);
}

static void test_ok(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct verdict v = {0};
	run_check((struct check_cmd_spec){.cmd = "echo fine; echo also fine >&2"}, &v);
	assert_true(v.ok);
	assert_null(v.reason);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_nonzero_exit(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct verdict v = {0};
	run_check((struct check_cmd_spec){.cmd = "echo bad port; echo line 2; exit 3"}, &v);
	assert_false(v.ok);
	assert_string_equal(v.reason, "check \"echo bad port; echo line 2; exit 3\" exited with "
				      "status 3:\n  │ bad port\n  │ line 2");
	free(v.reason);
	/* no output: no colon */
	v = (struct verdict){0};
	run_check((struct check_cmd_spec){.cmd = "false"}, &v);
	assert_false(v.ok);
	assert_string_equal(v.reason, "check \"false\" exited with status 1");
	free(v.reason);
	/* stderr is quoted too */
	v = (struct verdict){0};
	run_check((struct check_cmd_spec){.cmd = "echo on stderr >&2; exit 1"}, &v);
	assert_non_null(strstr(v.reason, ":\n  │ on stderr"));
	free(v.reason);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	struct verdict v = {0};
	run_check((struct check_cmd_spec){.cmd = "echo bye; kill -TERM $$"}, &v);
	assert_false(v.ok);
	assert_string_equal(v.reason,
			    "check \"echo bye; kill -TERM $$\" killed by SIGTERM:\n  │ bye");
	free(v.reason);
}

static void test_timeout(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct verdict v = {0};
	int64_t t0 = now_ms();
	/* tail -f /dev/null never ends by itself */
	run_check((struct check_cmd_spec){.cmd = "exec tail -f /dev/null", .timeout_ms = 50}, &v);
	assert_true(now_ms() - t0 >= 50);
	assert_false(v.ok);
	assert_string_equal(v.reason,
			    "check \"exec tail -f /dev/null\" did not finish within 50 ms and was "
			    "killed");
	free(v.reason);
	/* a check that exits 0 but only after its timeout is still rejected, with its output */
	v = (struct verdict){0};
	run_check((struct check_cmd_spec){.cmd = "echo started; trap 'exit 0' TERM; "
						 "tail -f /dev/null",
					  .timeout_ms = 50},
		  &v);
	assert_false(v.ok);
	assert_string_equal(v.reason,
			    "check \"echo started; trap 'exit 0' TERM; tail -f /dev/null\" "
			    "did not finish within 50 ms and was killed:\n  │ started");
	free(v.reason);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_output_escaped_and_bounded(void **state)
{
	(void)state;
	struct verdict v = {0};
	run_check(
		(struct check_cmd_spec){.cmd = "printf 'a\\033[31mred\\tb\\rc\\n\\nlast'; exit\t2"},
		&v);
	assert_false(v.ok);
	/* one quoted line per output line, control characters escaped, the final partial line
	 * kept */
	const char *out = strstr(v.reason, "status 2:\n");
	assert_non_null(out);
	assert_string_equal(out, "status 2:\n  │ a\\x1b[31mred\\tb\\rc\n  │ \n  │ last");
	/* the command is escaped too (its tab), its backslashes kept */
	assert_non_null(strstr(v.reason, "check \"printf 'a\\033[31m"));
	assert_non_null(strstr(v.reason, "; exit\\t2\" exited"));
	free(v.reason);

	v = (struct verdict){0};
	run_check((struct check_cmd_spec){.cmd = "yes 0123456789 | head -n 100000; exit 1"}, &v);
	assert_false(v.ok);
	size_t n = strlen(v.reason);
	assert_true(n >= CHECK_OUTPUT_MAX);
	assert_true(n < CHECK_OUTPUT_MAX + 200);
	free(v.reason);
}

static void test_cwd_and_extra_env(void **state)
{
	(void)state;
	char dir[] = "/tmp/baton-checkcmd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *env[] = {"PATH=/usr/bin:/bin", "BATON_FILE=old", "KEEP=kept",
			     "BATON_FILEX=other", NULL};
	const char *extra[] = {"BATON_FILE=/staged/copy", NULL};
	struct verdict v = {0};
	run_check((struct check_cmd_spec){.cmd = "echo \"$BATON_FILE $KEEP $BATON_FILEX\"; pwd; "
						 "env | grep -c '^BATON_FILE='; exit 1",
					  .cwd = dir,
					  .env = env,
					  .extra_env = extra},
		  &v);
	assert_false(v.ok);
	char *want = xasprintf("\n  │ /staged/copy kept other\n  │ %s\n  │ 1", dir);
	assert_non_null(strstr(v.reason, want));
	free(want);
	free(v.reason);
	/* without extra_env the environment is passed as it is */
	v = (struct verdict){0};
	run_check((struct check_cmd_spec){.cmd = "echo \"$BATON_FILE\"; exit 1", .env = env}, &v);
	assert_non_null(strstr(v.reason, "\n  │ old"));
	free(v.reason);
	assert_int_equal(rmdir(dir), 0);
}

static void test_spawn_failure(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	struct loop *l = loop_new();
	struct verdict v = {0};
	struct check_cmd_spec spec = {.cmd = "true",
				      .cwd = "/nonexistent/baton-checkcmd",
				      .timeout_ms = 1000,
				      .done = on_done,
				      .data = &v};
	char *err = NULL;
	struct check_cmd *c = (struct check_cmd *)&v; /* set to NULL on failure */
	assert_int_equal(check_cmd_start(l, &spec, &c, &err), -ENOENT);
	assert_null(c);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/baton-checkcmd"));
	free(err);
	assert_true(loop_run_once(l, 0) >= 0);
	assert_int_equal(v.calls, 0);
	loop_free(l);
	assert_int_equal(tu_count_fds(), fds);
}

/* Freeing a running check kills its process group and never calls back. */
static void test_cancel_on_free(void **state)
{
	(void)state;
	int fds = tu_count_fds();
	char dir[] = "/tmp/baton-checkcmd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *fifo = xasprintf("%s/pid", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	char *cmd = xasprintf("echo $$ > %s; exec tail -f /dev/null", fifo);
	struct loop *l = loop_new();
	struct verdict v = {0};
	struct check_cmd_spec spec = {.cmd = cmd, .timeout_ms = 30000, .done = on_done, .data = &v};
	char *err = NULL;
	assert_int_equal(check_cmd_start(l, &spec, &v.c, &err), 0);
	/* the check's pid, once it runs */
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	char b[32] = {0};
	ssize_t got = 0;
	int64_t deadline = now_ms() + 30000;
	while (got <= 0 || !memchr(b, '\n', (size_t)got)) {
		int64_t left = deadline - now_ms();
		assert_true(left > 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_true(poll(&p, 1, (int)left) >= 0);
		ssize_t r = read(fd, b + got, sizeof(b) - 1 - (size_t)got);
		if (r > 0)
			got += r;
	}
	close(fd);
	pid_t pid = (pid_t)atoi(b);
	assert_true(pid > 0);
	check_cmd_free(v.c);
	v.c = NULL;
	/* SIGKILLed: it ends without help, and is this process's child to reap */
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(loop_run_once(l, 0) >= 0);
	assert_int_equal(v.calls, 0);
	loop_free(l);
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(rmdir(dir), 0);
	free(fifo);
	free(cmd);
	assert_int_equal(tu_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_nonzero_exit),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_output_escaped_and_bounded),
		cmocka_unit_test(test_cwd_and_extra_env),
		cmocka_unit_test(test_spawn_failure),
		cmocka_unit_test(test_cancel_on_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
