/* Unit tests for the watcher's path filter: globs, "**", .gitignore, extensions, temp names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watch/filter.h"

static void test_glob_basic(void **state)
{
	(void)state;
	assert_true(filter_glob("*.go", "main.go"));
	assert_false(filter_glob("*.go", "main.gox"));
	assert_false(filter_glob("*.go", "pkg/main.go")); /* '*' does not cross '/' */
	assert_true(filter_glob("?.c", "a.c"));
	assert_false(filter_glob("?.c", "ab.c"));
	assert_false(filter_glob("a?b", "a/b"));
	assert_true(filter_glob("[a-c]x", "bx"));
	assert_false(filter_glob("[a-c]x", "dx"));
	assert_true(filter_glob("[!a-c]x", "dx"));
	assert_false(filter_glob("[!a-c]x", "ax"));
	assert_true(filter_glob("[]]", "]"));
	assert_true(filter_glob("[ab", "[ab")); /* unterminated class: literal */
	assert_true(filter_glob("\\*x", "*x"));
	assert_false(filter_glob("\\*x", "ax"));
	assert_true(filter_glob("*", ""));
	assert_true(filter_glob("a*b*c", "aXXbYYc"));
	assert_false(filter_glob("a*b*c", "aXXbYY"));
	assert_true(filter_glob("", ""));
	assert_false(filter_glob("", "a"));
}

static void test_glob_doublestar(void **state)
{
	(void)state;
	assert_true(filter_glob("**/x.go", "x.go"));
	assert_true(filter_glob("**/x.go", "a/b/x.go"));
	assert_false(filter_glob("**/x.go", "a/b/y.go"));
	assert_true(filter_glob("a/**/b", "a/b"));
	assert_true(filter_glob("a/**/b", "a/x/b"));
	assert_true(filter_glob("a/**/b", "a/x/y/b"));
	assert_false(filter_glob("a/**/b", "a/x/y/c"));
	assert_true(filter_glob("a/**", "a/x"));
	assert_true(filter_glob("a/**", "a/x/y"));
	assert_false(filter_glob("a/**", "a"));
	assert_false(filter_glob("a/**", "ab/x"));
	assert_true(filter_glob("**", "anything/at/all"));
	assert_true(filter_glob("**/*_test.go", "pkg/sub/foo_test.go"));
	assert_true(filter_glob("gen/**/*.pb.go", "gen/a/b/x.pb.go"));
	assert_false(filter_glob("gen/**/*.pb.go", "other/a/x.pb.go"));
	/* "**" not a whole component is just '*' */
	assert_true(filter_glob("a**b", "axxb"));
	assert_false(filter_glob("a**b", "ax/xb"));
}

static void test_temp_names(void **state)
{
	(void)state;
	const char *temp[] = {"4913", "5036", "5159", "main.go~", ".main.go.swp", ".main.go.swo",
			      ".main.go.swx", ".main.go.swpx", ".#main.go", "#main.go#",
			      "main.go___jb_tmp___", "main.go___jb_old___", "main.go___jb_bak___",
			      "sedAbC123", "sed0x9zQq"};
	for (size_t i = 0; i < sizeof(temp) / sizeof(temp[0]); i++) {
		if (!filter_temp_name(temp[i]))
			fail_msg("'%s' should be a temp name", temp[i]);
	}
	const char *real[] = {"main.go", "4914", "1234", "sed.go", "sedimentary", "sed12345",
			      ".gitignore", "#notes", "a.swp.go", "go.sum", "x.sw"};
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		if (filter_temp_name(real[i]))
			fail_msg("'%s' should not be a temp name", real[i]);
	}
}

static struct filter *mk(const char *ext, const char *xdir, const char *xglob, bool dev)
{
	struct strv e = STRV_INIT, d = STRV_INIT, g = STRV_INIT;
	char *s, *tok, *save;
	if (ext) {
		s = strdup(ext);
		for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			strv_push(&e, tok);
		free(s);
	}
	if (xdir) {
		s = strdup(xdir);
		for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			strv_push(&d, tok);
		free(s);
	}
	if (xglob) {
		s = strdup(xglob);
		for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			strv_push(&g, tok);
		free(s);
	}
	struct filter_spec spec = {.include_ext = &e, .exclude_dir = &d, .exclude = &g,
				   .dev_mode = dev};
	struct filter *f = filter_new(&spec, NULL);
	assert_non_null(f);
	strv_release(&e);
	strv_release(&d);
	strv_release(&g);
	return f;
}

static void test_ext_and_dirs(void **state)
{
	(void)state;
	struct filter *f = mk("go,.tmpl", ".git,vendor,web/static", "*_test.go,docs/**", true);
	assert_true(filter_file_ok(f, "main.go"));
	assert_true(filter_file_ok(f, "pkg/a/b.go"));
	assert_true(filter_file_ok(f, "views/index.tmpl")); /* ".tmpl" given with its dot */
	assert_false(filter_file_ok(f, "README.md"));
	assert_false(filter_file_ok(f, "Makefile"));
	assert_false(filter_file_ok(f, ".go")); /* a dot file, not an extension */
	assert_false(filter_file_ok(f, "pkg/a/b_test.go"));
	assert_false(filter_file_ok(f, "main_test.go"));
	assert_false(filter_file_ok(f, "pkg/.main.go.swp"));
	assert_false(filter_file_ok(f, "4913"));
	assert_false(filter_file_ok(f, "main.go~"));

	assert_true(filter_dir_ok(f, ""));
	assert_true(filter_dir_ok(f, "pkg"));
	assert_false(filter_dir_ok(f, ".git"));
	assert_false(filter_dir_ok(f, "vendor"));
	assert_false(filter_dir_ok(f, "a/b/vendor")); /* a bare name matches at any depth */
	assert_true(filter_dir_ok(f, "vendors"));
	assert_false(filter_dir_ok(f, "web/static")); /* a path is anchored at the root */
	assert_true(filter_dir_ok(f, "x/web/static"));
	assert_false(filter_dir_ok(f, "docs")); /* the docs glob prunes docs itself */
	assert_true(filter_dir_ok(f, "pkg/docs"));
	filter_free(f);

	/* no include_ext: every file; no dev mode: temp names pass */
	f = mk(NULL, NULL, NULL, false);
	assert_true(filter_file_ok(f, "README"));
	assert_true(filter_file_ok(f, "4913"));
	assert_true(filter_dir_ok(f, ".git"));
	filter_free(f);
}

static void test_include_dir_file_regex(void **state)
{
	(void)state;
	struct strv ext = STRV_INIT, idir = STRV_INIT, ifile = STRV_INIT, rx = STRV_INIT;
	strv_push(&ext, "go");
	strv_push(&idir, "cmd");
	strv_push(&idir, "./internal/api/");
	strv_push(&ifile, "config/app.yaml");
	strv_push(&rx, "_gen\\.go$");
	struct filter_spec spec = {.include_ext = &ext, .include_dir = &idir,
				   .include_file = &ifile, .exclude_regex = &rx, .dev_mode = true};
	struct filter *f = filter_new(&spec, NULL);
	assert_non_null(f);
	assert_true(filter_dir_ok(f, "cmd"));
	assert_true(filter_dir_ok(f, "cmd/server"));
	assert_true(filter_dir_ok(f, "internal")); /* ancestor on the way */
	assert_true(filter_dir_ok(f, "internal/api/v1"));
	assert_false(filter_dir_ok(f, "internal/db"));
	assert_false(filter_dir_ok(f, "web"));
	assert_true(filter_file_ok(f, "cmd/main.go"));
	assert_true(filter_file_ok(f, "internal/api/h.go"));
	assert_false(filter_file_ok(f, "internal/x.go")); /* ancestor only: not inside */
	assert_false(filter_file_ok(f, "main.go"));
	assert_true(filter_file_ok(f, "config/app.yaml")); /* include_file wins */
	assert_false(filter_file_ok(f, "cmd/models_gen.go"));
	filter_free(f);

	strv_release(&rx);
	strv_push(&rx, "([unclosed");
	char *err = NULL;
	spec.exclude_regex = &rx;
	errno = 0;
	assert_null(filter_new(&spec, &err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "([unclosed"));
	free(err);
	strv_release(&ext);
	strv_release(&idir);
	strv_release(&ifile);
	strv_release(&rx);
}

static void test_gitignore(void **state)
{
	(void)state;
	struct filter *f = mk(NULL, NULL, NULL, false);
	const char *root = "# comment\n"
			   "\n"
			   "*.log\n"
			   "!keep.log\n"
			   "/build\n"
			   "bin/\n"
			   "docs/*.html\n"
			   "**/gen/*.go\n"
			   "trailing.txt   \n"
			   "sp\\ \n"
			   "\\#hash\n"
			   "\\!bang\n"
			   "out/**\n"
			   "crlf.tmp\r\n";
	assert_int_equal(filter_gitignore_set(f, "", root, strlen(root)), 12);
	assert_true(filter_gitignore_has(f, ""));
	assert_true(filter_gitignored(f, "a.log", false));
	assert_true(filter_gitignored(f, "x/y/a.log", false));   /* unanchored: any depth */
	assert_false(filter_gitignored(f, "x/keep.log", false)); /* negation, last match wins */
	assert_true(filter_gitignored(f, "build", true));        /* anchored */
	assert_true(filter_gitignored(f, "build", false));
	assert_false(filter_gitignored(f, "src/build", true));
	assert_true(filter_gitignored(f, "bin", true)); /* dir-only */
	assert_true(filter_gitignored(f, "a/bin", true));
	assert_false(filter_gitignored(f, "bin", false)); /* a file named bin is kept */
	assert_true(filter_gitignored(f, "docs/a.html", false));
	assert_false(filter_gitignored(f, "x/docs/a.html", false)); /* inner '/' anchors */
	assert_false(filter_gitignored(f, "docs/sub/a.html", false));
	assert_true(filter_gitignored(f, "gen/x.go", false));
	assert_true(filter_gitignored(f, "a/b/gen/x.go", false));
	assert_true(filter_gitignored(f, "trailing.txt", false));
	assert_true(filter_gitignored(f, "sp ", false));
	assert_true(filter_gitignored(f, "#hash", false));
	assert_true(filter_gitignored(f, "!bang", false));
	assert_true(filter_gitignored(f, "out/a/b", false));
	assert_false(filter_gitignored(f, "out", true));
	assert_true(filter_gitignored(f, "crlf.tmp", false));
	assert_false(filter_gitignored(f, "main.go", false));

	/* a deeper .gitignore overrides a shallower one, and applies only below its directory */
	const char *sub = "!*.log\nlocal.go\n/anch.go\n";
	assert_int_equal(filter_gitignore_set(f, "pkg", sub, strlen(sub)), 3);
	assert_false(filter_gitignored(f, "pkg/a.log", false));
	assert_false(filter_gitignored(f, "pkg/deep/a.log", false));
	assert_true(filter_gitignored(f, "other/a.log", false));
	assert_true(filter_gitignored(f, "pkg/local.go", false));
	assert_true(filter_gitignored(f, "pkg/x/local.go", false));
	assert_false(filter_gitignored(f, "local.go", false));
	assert_true(filter_gitignored(f, "pkg/anch.go", false));
	assert_false(filter_gitignored(f, "pkg/x/anch.go", false));
	assert_false(filter_gitignored(f, "pkgx/local.go", false));

	/* the filter uses the rules for directories and files */
	assert_false(filter_dir_ok(f, "build"));
	assert_true(filter_dir_ok(f, "src"));
	assert_false(filter_file_ok(f, "a.log"));
	assert_true(filter_file_ok(f, "pkg/a.log"));

	/* replacing and removing a directory's rules */
	assert_int_equal(filter_gitignore_set(f, "pkg", "# nothing\n", 10), 0);
	assert_false(filter_gitignore_has(f, "pkg"));
	assert_true(filter_gitignored(f, "pkg/a.log", false));
	assert_int_equal(filter_gitignore_set(f, "", NULL, 0), 0);
	assert_false(filter_gitignored(f, "a.log", false));
	filter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_basic),
		cmocka_unit_test(test_glob_doublestar),
		cmocka_unit_test(test_temp_names),
		cmocka_unit_test(test_ext_and_dirs),
		cmocka_unit_test(test_include_dir_file_regex),
		cmocka_unit_test(test_gitignore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
