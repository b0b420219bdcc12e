/* Unit tests for the filesystem half of config sources: staging, the atomic swap of a file and
 * of a "..data" directory, what counts as "in place", and nothing left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source_fs.h"
#include "util/fileio.h"
#include "util/xalloc.h"

static char *tmpdir(void)
{
	char t[] = "/tmp/baton-srcfs-XXXXXX";
	assert_non_null(mkdtemp(t));
	return xstrdup(t);
}

static void rm_rf(const char *p)
{
	char *cmd = xasprintf("rm -rf '%s'", p);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static char *slurp(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name), *data = NULL;
	size_t len;
	int rc = file_read_all(p, 1 << 20, &data, &len);
	free(p);
	return rc == 0 ? data : NULL;
}

static void expect(const char *dir, const char *name, const char *want)
{
	char *got = slurp(dir, name);
	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
	free(got);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void apply(const char *target, bool dir, const struct source_entry *e, size_t n)
{
	struct source_snap s = {0};
	source_snap_set(&s, e, n);
	char *staged = NULL, *err = NULL;
	assert_int_equal(source_fs_stage(target, dir, &s, &staged, &err), 0);
	assert_int_equal(source_fs_commit(target, dir, staged, &s, &err), 0);
	uint64_t h = 0;
	assert_int_equal(source_fs_in_place(target, dir, &h), 0);
	assert_true(h == source_snap_hash(&s));
	free(staged);
	source_snap_release(&s);
}

static void test_file(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *f = xasprintf("%s/sub/app.json", d);
	uint64_t h;
	assert_int_equal(source_fs_in_place(f, false, &h), -ENOENT);
	struct source_entry e = {"", "{\"a\":1}", 7};
	apply(f, false, &e, 1);
	char *sub = xasprintf("%s/sub", d);
	expect(sub, "app.json", "{\"a\":1}");
	/* a rejected staged copy goes away and the file stays */
	struct source_snap s = {0};
	struct source_entry e2 = {"", "bad", 3};
	source_snap_set(&s, &e2, 1);
	char *staged = NULL, *err = NULL;
	assert_int_equal(source_fs_stage(f, false, &s, &staged, &err), 0);
	assert_int_equal(count_entries(sub), 2);
	source_fs_discard(false, staged);
	assert_int_equal(count_entries(sub), 1);
	expect(sub, "app.json", "{\"a\":1}");
	free(staged);
	source_snap_release(&s);
	free(sub);
	free(f);
	rm_rf(d);
	free(d);
}

static void test_directory(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *t = xasprintf("%s/conf.d", d);
	struct source_entry v1[] = {{"b.conf", "B1", 2}, {"a.conf", "A1", 2}};
	apply(t, true, v1, 2);
	expect(t, "a.conf", "A1");
	expect(t, "b.conf", "B1");
	assert_int_equal(count_entries(t), 4); /* ..data, the version, a.conf, b.conf */
	char *old = xasprintf("%s/..data", t);
	char l1[256];
	ssize_t n = readlink(old, l1, sizeof(l1) - 1);
	assert_true(n > 0);
	l1[n] = 0;
	/* a user's own file in the directory is left alone */
	char *mine = xasprintf("%s/README", t);
	assert_int_equal(file_write_atomic(mine, "x", 1, 0644), 0);
	struct source_entry v2[] = {{"a.conf", "A2", 2}, {"c.conf", "C1", 2}};
	apply(t, true, v2, 2);
	expect(t, "a.conf", "A2");
	expect(t, "c.conf", "C1");
	expect(t, "b.conf", NULL);
	expect(t, "README", "x");
	char *v1dir = xasprintf("%s/%s", t, l1);
	assert_int_equal(access(v1dir, F_OK), -1); /* the old version is gone */
	assert_int_equal(count_entries(t), 5);
	/* the same content hashes the same whatever the order it came in */
	struct source_entry v2r[] = {{"c.conf", "C1", 2}, {"a.conf", "A2", 2}};
	struct source_snap s = {0};
	source_snap_set(&s, v2r, 2);
	uint64_t h;
	assert_int_equal(source_fs_in_place(t, true, &h), 0);
	assert_true(h == source_snap_hash(&s));
	source_snap_release(&s);
	/* an empty set is an empty directory */
	apply(t, true, NULL, 0);
	expect(t, "a.conf", NULL);
	assert_int_equal(count_entries(t), 3); /* ..data, the version, README */
	free(v1dir);
	free(mine);
	free(old);
	free(t);
	rm_rf(d);
	free(d);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(source_name_ok("a.conf", 6));
	assert_false(source_name_ok("", 0));
	assert_false(source_name_ok(".hidden", 7));
	assert_false(source_name_ok("..data", 6));
	assert_false(source_name_ok("a/b", 3));
	assert_false(source_name_ok("a\0b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
