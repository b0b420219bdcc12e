/* Unit tests for the env module: building a child's environment and parsing env files. */
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
#include <unistd.h>

#include "proc/env.h"
#include "util/strv.h"

static int parse(const char *text, struct strv *out, char **err)
{
	return env_file_parse(".env", text, strlen(text), out, err);
}

static void test_set_get_unset(void **state)
{
	(void)state;
	struct strv e = STRV_INIT;
	env_set(&e, "A", "1");
	env_set(&e, "B", "2");
	env_set(&e, "A", "3");
	assert_int_equal(e.n, 2);
	assert_string_equal(e.v[0], "A=3"); /* keeps its position */
	assert_string_equal(env_get(&e, "B"), "2");
	assert_null(env_get(&e, "AB"));
	assert_int_equal(env_set_entry(&e, "C=x=y"), 0);
	assert_string_equal(env_get(&e, "C"), "x=y");
	assert_int_equal(env_set_entry(&e, "novalue"), -EINVAL);
	assert_int_equal(env_set_entry(&e, "1X=1"), -EINVAL);
	strv_release(&e);
}

static void test_build_strips_and_overrides(void **state)
{
	(void)state;
	const char *base[] = {"PATH=/bin",
			      "LISTEN_FDS=2",
			      "LISTEN_PID=1",
			      "LISTEN_FDNAMES=a:b",
			      "NOTIFY_SOCKET=/run/systemd/notify",
			      "WATCHDOG_USEC=1",
			      "HOME=/root",
			      "GIN_MODE=debug",
			      "garbage",
			      "PORT=1",
			      NULL};
	struct strv files = STRV_INIT, cfg = STRV_INIT, out = STRV_INIT;
	strv_push(&files, "GIN_MODE=test");
	strv_push(&files, "FROM_FILE=1");
	strv_push(&cfg, "GIN_MODE=release");
	strv_push(&cfg, "EMPTY=");
	struct env_input in = {
		.base = base, .files = &files, .config = &cfg, .generation = 7, .port = "8081"};
	char *err = NULL;
	assert_int_equal(env_build(&in, &out, &err), 0);
	assert_null(err);
	assert_string_equal(env_get(&out, "PATH"), "/bin");
	assert_string_equal(env_get(&out, "HOME"), "/root");
	assert_null(env_get(&out, "LISTEN_FDS"));
	assert_null(env_get(&out, "LISTEN_PID"));
	assert_null(env_get(&out, "LISTEN_FDNAMES"));
	assert_null(env_get(&out, "NOTIFY_SOCKET"));
	assert_null(env_get(&out, "WATCHDOG_USEC"));
	assert_null(env_get(&out, "garbage"));
	assert_string_equal(env_get(&out, "GIN_MODE"), "release"); /* config beats file */
	assert_string_equal(env_get(&out, "FROM_FILE"), "1");
	assert_string_equal(env_get(&out, "EMPTY"), "");
	assert_string_equal(env_get(&out, "BATON_GENERATION"), "7");
	assert_string_equal(env_get(&out, "PORT"), "8081");
	/* every key once */
	for (size_t i = 0; i < out.n; i++)
		for (size_t j = i + 1; j < out.n; j++)
			assert_true(strncmp(out.v[i], out.v[j], strcspn(out.v[i], "=") + 1) != 0);
	strv_release(&out);

	/* no generation, no port, no base */
	struct env_input in2 = {.generation = -1};
	assert_int_equal(env_build(&in2, &out, NULL), 0);
	assert_int_equal(out.n, 0);

	strv_push(&cfg, "bad entry");
	assert_int_equal(env_build(&in, &out, &err), -EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "bad entry"));
	free(err);
	strv_release(&out);
	strv_release(&files);
	strv_release(&cfg);
}

static void test_file_syntax(void **state)
{
	(void)state;
	const char *text = "\xef\xbb\xbf# comment\n"
			   "\n"
			   "   # indented comment\n"
			   "A=1\n"
			   "export B=two words  \n"
			   "C = spaced\n"
			   "D='single $HOME \\n kept'\n"
			   "E=\"dq \\\"q\\\" \\n \\t \\\\ \\$x\"\n"
			   "F=\"multi\nline\"  # trailing comment\n"
			   "G=value # comment\n"
			   "H=value#not-comment\n"
			   "I=\n"
			   "J=''\r\n"
			   "K=crlf\r\n"
			   "A=override\n"
			   "export=1\n"
			   "L=\"\\u\"";
	struct strv out = STRV_INIT;
	char *err = NULL;
	assert_int_equal(parse(text, &out, &err), 0);
	assert_null(err);
	assert_string_equal(env_get(&out, "A"), "override");
	assert_string_equal(env_get(&out, "B"), "two words");
	assert_string_equal(env_get(&out, "C"), "spaced");
	assert_string_equal(env_get(&out, "D"), "single $HOME \\n kept");
	assert_string_equal(env_get(&out, "E"), "dq \"q\" \n \t \\ $x");
	assert_string_equal(env_get(&out, "F"), "multi\nline");
	assert_string_equal(env_get(&out, "G"), "value");
	assert_string_equal(env_get(&out, "H"), "value#not-comment");
	assert_string_equal(env_get(&out, "I"), "");
	assert_string_equal(env_get(&out, "J"), "");
	assert_string_equal(env_get(&out, "K"), "crlf");
	assert_string_equal(env_get(&out, "export"), "1");
	assert_string_equal(env_get(&out, "L"), "\\u");
	assert_string_equal(out.v[0], "A=override"); /* first position kept */
	strv_release(&out);
}

static void expect_error(const char *text, const char *msg)
{
	struct strv out = STRV_INIT;
	char *err = NULL;
	assert_int_equal(parse(text, &out, &err), -EINVAL);
	assert_non_null(err);
	if (strcmp(err, msg) != 0)
		fail_msg("for %s: got \"%s\", want \"%s\"", text, err, msg);
	free(err);
	strv_release(&out);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_error("A=1\nnot an assignment\n", ".env:2: expected KEY=VALUE");
	expect_error("A=1\n\n1X=2\n", ".env:3: invalid variable name \"1X\"");
	expect_error("A-B=1", ".env:1: invalid variable name \"A-B\"");
	expect_error("A=1\nB='open\n\n", ".env:2: unterminated single-quoted value");
	expect_error("A=\"x\ny\nz", ".env:1: unterminated double-quoted value");
	expect_error("A=\"x\"y\n", ".env:1: unexpected text after the closing quote");
	expect_error("A=\"x\ny\" z\n", ".env:2: unexpected text after the closing quote");
	expect_error("export B\n", ".env:1: expected KEY=VALUE");
	expect_error("=1\n", ".env:1: expected KEY=VALUE");
	char nul[] = "A=1\nB=x\0y\n";
	struct strv out = STRV_INIT;
	char *err = NULL;
	assert_int_equal(env_file_parse("f", nul, sizeof(nul) - 1, &out, &err), -EINVAL);
	assert_string_equal(err, "f:2: NUL byte in file");
	free(err);
	strv_release(&out);
}

static void test_file_load(void **state)
{
	(void)state;
	char path[] = "/tmp/baton-envtest-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "X=1\nY='2'\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct strv out = STRV_INIT;
	char *err = NULL;
	assert_int_equal(env_file_load(path, &out, &err), 0);
	assert_string_equal(env_get(&out, "Y"), "2");
	strv_release(&out);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "X=1\nbad\n", 8), 8);
	close(fd);
	assert_int_equal(env_file_load(path, &out, &err), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%s:2: expected KEY=VALUE", path);
	assert_string_equal(err, want);
	free(err);
	strv_release(&out);
	unlink(path);

	assert_int_equal(env_file_load(path, &out, &err), -ENOENT);
	snprintf(want, sizeof(want), "cannot read \"%s\": No such file or directory", path);
	assert_string_equal(err, want);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_unset),
		cmocka_unit_test(test_build_strips_and_overrides),
		cmocka_unit_test(test_file_syntax),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_load),
	};
	return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}
