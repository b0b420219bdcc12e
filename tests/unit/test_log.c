/* Unit tests for the log output: with a loop attached, a stalled reader of stderr never blocks
 * baton; what does not fit is queued (bounded), dropped lines are counted and reported once the
 * reader catches up, and every line arrives whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "testutil.h"
#include "util/buf.h"

struct fx {
	int saved_err;
	int rd;
	struct loop *l;
	struct buf got;
};

/* stderr becomes a 4 KiB pipe nobody reads yet */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
	f->saved_err = dup(2);
	assert_true(dup2(p[1], 2) == 2);
	close(p[1]);
	f->rd = p[0];
	assert_int_equal(fcntl(f->rd, F_SETFL, O_NONBLOCK), 0);
	f->l = loop_new();
	assert_non_null(f->l);
	log_attach_loop(f->l);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	log_detach_loop(0);
	loop_free(f->l);
	dup2(f->saved_err, 2);
	close(f->saved_err);
	close(f->rd);
	buf_release(&f->got);
	free(f);
	return 0;
}

static bool drained(void *arg)
{
	struct fx *f = arg;
	char b[65536];
	ssize_t n;
	while ((n = read(f->rd, b, sizeof(b))) > 0)
		buf_append(&f->got, b, (size_t)n);
	return log_queued(2) == 0 && f->got.len > 0 && f->got.p[f->got.len - 1] == '\n' &&
	       strstr(buf_cstr(&f->got), "dropped") != NULL;
}

static void test_stalled_reader_never_blocks(void **state)
{
	struct fx *f = *state;
	/* ~6 MB of log lines into a 4 KiB pipe nobody reads: returns at once, queue bounded */
	for (int i = 0; i < 60000; i++)
		log_warn("line %d of a burst that nobody reads (%s)", i, "padding padding padding");
	assert_true(log_queued(2) > 0);
	assert_true(log_queued(2) <= 256 * 1024);

	/* the reader catches up: the queue goes out, then the note of what was dropped */
	tu_run_until(f->l, drained, f, 10000, "the queue to drain");
	const char *s = buf_cstr(&f->got);
	assert_non_null(strstr(s, "baton: warning: line 0 of a burst"));
	const char *note = strstr(s, "log lines dropped (output blocked)");
	assert_non_null(note);
	/* every line is whole */
	size_t lines = 0;
	for (const char *p = s; *p;) {
		assert_memory_equal(p, "baton: ", 7);
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		p = nl + 1;
		lines++;
	}
	assert_true(lines > 100 && lines < 60000);
	/* after the note, writing goes straight through again */
	buf_reset(&f->got);
	log_warn("after");
	char b[256];
	ssize_t n = read(f->rd, b, sizeof(b) - 1);
	assert_true(n > 0);
	b[n] = '\0';
	assert_string_equal(b, "baton: warning: after\n");
	assert_int_equal(log_queued(2), 0);
}

static void test_detach_flushes(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 200; i++)
		log_warn("queued line %d ..............................", i);
	assert_true(log_queued(2) > 0);
	/* a reader in another process takes everything while detach waits */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int fd = 0; fd < 1024; fd++) /* only the parent's write ends stay open */
			if (fd != f->rd)
				close(fd);
		fcntl(f->rd, F_SETFL, 0);
		char b[4096];
		size_t total = 0;
		ssize_t n;
		while ((n = read(f->rd, b, sizeof(b))) > 0)
			total += (size_t)n;
		_exit(total > 0 ? 0 : 1);
	}
	log_detach_loop(10000);
	assert_int_equal(log_queued(2), 0);
	dup2(f->saved_err, 2); /* the last write end: EOF for the reader */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stalled_reader_never_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_flushes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
