/* Unit tests for util/: durations, signal names, string vectors, buffers, mkdir -p. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/duration.h"
#include "util/escape.h"
#include "util/fileio.h"
#include "util/signame.h"
#include "util/strv.h"

static int64_t dur(const char *s)
{
	int64_t ms = -1;
	char *why = NULL;
	assert_int_equal(duration_parse_ms(s, &ms, &why), 0);
	assert_null(why);
	return ms;
}

static void test_duration_ok(void **state)
{
	(void)state;
	assert_int_equal(dur("250ms"), 250);
	assert_int_equal(dur("10s"), 10000);
	assert_int_equal(dur("1m30s"), 90000);
	assert_int_equal(dur("1h"), 3600000);
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("500us"), 1);
	assert_int_equal(dur("2h1m1s5ms"), 7261005);
}

static void test_duration_bad(void **state)
{
	(void)state;
	const char *bad[] = {"",     "10", "s",	    "10x",  "-1s",
			     "1m30", "ms", "1..5s", "10 s", "99999999999999h"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms;
		char *why = NULL;
		assert_int_not_equal(duration_parse_ms(bad[i], &ms, &why), 0);
		assert_non_null(why);
		free(why);
		/* err may be NULL */
		assert_int_equal(duration_parse_ms(bad[i], &ms, NULL), -EINVAL);
	}
}

/* Values whose microseconds overflow int64 (3000000000h is 1.08e19 us) were multiplied
 * unchecked: undefined behaviour, in practice a negative or wrapped duration. */
static void test_duration_overflow(void **state)
{
	(void)state;
	const char *big[] = {"3000000000h",
			     "100000000000h",
			     "9223372036854775807ms",
			     "99999999999999999999s",
			     "2562048h",
			     "876001h",
			     "1h876000h",
			     "153722867280912930m",
			     "9223372036854775808us"};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		int64_t ms = 42;
		char *why = NULL;
		assert_int_equal(duration_parse_ms(big[i], &ms, &why), -EINVAL);
		assert_non_null(why);
		assert_non_null(strstr(why, "too large"));
		free(why);
		assert_int_equal(ms, 42); /* untouched */
	}
	assert_int_equal(dur("876000h"), 876000LL * 3600000); /* 100 years: the limit */
	assert_int_equal(dur("1.999999999999h"), 7200000);
}

static void test_escape(void **state)
{
	(void)state;
	char *e = escape_str("x\n[baton] generation 9 serving\x1b[2J\r\t\x7f\x01 é \xc2\x9b"
			     "1m");
	assert_string_equal(e, "x\\n[baton] generation 9 serving\\x1b[2J\\r\\t\\x7f\\x01 é "
			       "\\xc2\\x9b1m");
	free(e);
	assert_false(escape_needed("certs/tls.crt é \\ \"q\""));
	assert_true(escape_needed("a\nb"));
	e = escape_str("plain");
	assert_string_equal(e, "plain");
	free(e);
	assert_null(escape_str(NULL));
}

static void test_duration_format(void **state)
{
	(void)state;
	char b[32];
	duration_format_ms(90000, b, sizeof(b));
	assert_string_equal(b, "1m30s");
	duration_format_ms(250, b, sizeof(b));
	assert_string_equal(b, "250ms");
	duration_format_ms(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	duration_format_ms(1500, b, sizeof(b));
	assert_string_equal(b, "1s500ms");
}

static void test_signame(void **state)
{
	(void)state;
	assert_int_equal(signame_parse("SIGTERM"), SIGTERM);
	assert_int_equal(signame_parse("term"), SIGTERM);
	assert_int_equal(signame_parse("HUP"), SIGHUP);
	assert_int_equal(signame_parse("9"), SIGKILL);
	assert_int_equal(signame_parse("SIGNOPE"), -1);
	assert_int_equal(signame_parse(""), -1);
	assert_int_equal(signame_parse("0"), -1);
	assert_int_equal(signame_parse("999"), -1);
	assert_string_equal(signame_str(SIGINT), "SIGINT");
	assert_string_equal(signame_str(SIGUSR2), "SIGUSR2");
}

static void test_strv_buf(void **state)
{
	(void)state;
	struct strv sv = STRV_INIT;
	strv_push(&sv, "a");
	strv_pushf(&sv, "%d", 42);
	assert_true(strv_contains(&sv, "42"));
	assert_false(strv_contains(&sv, "b"));
	assert_null(sv.v[sv.n]);
	char *j = strv_join(&sv, ", ");
	assert_string_equal(j, "a, 42");
	free(j);
	strv_release(&sv);

	struct buf b = BUF_INIT;
	assert_string_equal(buf_cstr(&b), "");
	buf_printf(&b, "%s-%0300d", "x", 7);
	assert_int_equal(b.len, 302);
	buf_consume(&b, 2);
	assert_int_equal(b.len, 300);
	buf_release(&b);
}

static mode_t current_umask(void)
{
	mode_t m = umask(0);
	umask(m);
	return m;
}

static void test_dir_make(void **state)
{
	(void)state;
	char root[] = "/tmp/baton-dirmake-XXXXXX";
	assert_non_null(mkdtemp(root));
	char p[256], q[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/a/b/c", root);
	assert_int_equal(dir_make_all(p, 0700), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700 & ~current_umask());
	assert_int_equal(dir_make_all(p, 0700), 0); /* there already */
	snprintf(q, sizeof(q), "%s/d/e/ctl.sock", root);
	assert_int_equal(dir_make_parents(q, 0755), 0);
	snprintf(q, sizeof(q), "%s/d/e", root);
	assert_int_equal(stat(q, &st), 0);
	snprintf(q, sizeof(q), "%s/d/e/ctl.sock", root);
	assert_int_equal(stat(q, &st), -1); /* the last part is not a directory to make */
	assert_int_equal(dir_make_parents("nodir.sock", 0755), 0);
	snprintf(q, sizeof(q), "%s/a/b/c/file", root);
	FILE *f = fopen(q, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(q, sizeof(q), "%s/a/b/c/file/x", root);
	assert_int_equal(dir_make_all(q, 0700), -ENOTDIR);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok),	  cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_overflow), cmocka_unit_test(test_escape),
		cmocka_unit_test(test_duration_format),	  cmocka_unit_test(test_signame),
		cmocka_unit_test(test_strv_buf),	  cmocka_unit_test(test_dir_make),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
