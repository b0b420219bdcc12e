/* Unit tests for stat fingerprints and the content hash. */
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
#include <unistd.h>

#include "util/fingerprint.h"
#include "filereload/reload_hash.h"
#include "util/regfile.h"

static void test_hash_streaming_equals_oneshot(void **state)
{
	(void)state;
	size_t big = 1 << 20;
	unsigned char *buf = malloc(big);
	assert_non_null(buf);
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	size_t lens[] = {0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 255, 4096, 65537, 1 << 20};
	size_t chunks[] = {1, 3, 8, 31, 32, 33, 1000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t one = fp_hash(buf, lens[i]);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct fp_hasher h;
			fp_hash_init(&h);
			for (size_t off = 0; off < lens[i]; off += chunks[c]) {
				size_t n = lens[i] - off < chunks[c] ? lens[i] - off : chunks[c];
				fp_hash_update(&h, buf + off, n);
			}
			assert_true(fp_hash_final(&h) == one);
		}
	}
	free(buf);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_hash_distinguishes(void **state)
{
	(void)state;
	/* every single-bit flip of every length up to 64 bytes, plus all-zero buffers of every
	 * length (length must matter even when the bytes are all zero): no collisions */
	enum { MAXLEN = 64 };
	size_t cap = MAXLEN * MAXLEN * 8 + MAXLEN + 1, n = 0;
	uint64_t *hs = malloc(cap * sizeof(*hs));
	assert_non_null(hs);
	unsigned char buf[MAXLEN];
	for (size_t len = 0; len <= MAXLEN; len++) {
		memset(buf, 0, sizeof(buf));
		hs[n++] = fp_hash(buf, len);
	}
	for (size_t len = 1; len <= MAXLEN; len++) {
		for (size_t bit = 0; bit < len * 8; bit++) {
			memset(buf, 0, sizeof(buf));
			buf[bit / 8] = (unsigned char)(1u << (bit % 8));
			hs[n++] = fp_hash(buf, len);
		}
	}
	qsort(hs, n, sizeof(*hs), cmp_u64);
	for (size_t i = 1; i < n; i++)
		assert_true(hs[i] != hs[i - 1]);
	free(hs);
	assert_true(fp_hash("package main\n", 13) != fp_hash("package mainn", 13));
}

static void test_fp_tuple(void **state)
{
	(void)state;
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_dev = 1;
	st.st_ino = 2;
	st.st_size = 3;
	st.st_mtim.tv_sec = 4;
	st.st_ctim.tv_sec = 5;
	struct fp a, b;
	fp_from_stat(&a, &st);
	fp_from_stat(&b, &st);
	assert_true(fp_digest(&a) == fp_digest(&b));
	const int fields = 5;
	for (int i = 0; i < fields; i++) {
		b = a;
		switch (i) {
		case 0:
			b.dev++;
			break;
		case 1:
			b.ino++;
			break;
		case 2:
			b.size++;
			break;
		case 3:
			b.mtime_ns++;
			break; /* one nanosecond is a difference */
		default:
			b.ctime_ns++;
			break;
		}
		assert_true(fp_digest(&a) != fp_digest(&b));
	}
	/* fields are not interchangeable */
	b = a;
	b.mtime_ns = a.ctime_ns;
	b.ctime_ns = a.mtime_ns;
	assert_true(fp_digest(&a) != fp_digest(&b));
}

struct dir {
	char path[64];
	int fd;
};

static void mkdir_tmp(struct dir *d)
{
	strcpy(d->path, "/tmp/baton-fp-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->fd >= 0);
}

static void put(struct dir *d, const char *name, const char *data)
{
	int fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* Move the file's mtime/ctime forward: the kernel's timestamp granularity could otherwise
 * leave two writes within one tick with identical fingerprints. */
static void bump_mtime(struct dir *d, const char *name, long sec)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1700000000 + sec, 0}};
	assert_int_equal(utimensat(d->fd, name, ts, 0), 0);
}

static void test_check_verdicts(void **state)
{
	(void)state;
	struct dir d;
	mkdir_tmp(&d);
	struct fp_state base, now, tmp;
	int err;

	/* no file */
	assert_int_equal(fp_check(d.fd, "f.go", NULL, &now, &err), FP_GONE);
	assert_int_equal(err, -ENOENT);

	/* first sight: changed (nothing to compare with) */
	put(&d, "f.go", "package main\n");
	assert_int_equal(fp_check(d.fd, "f.go", NULL, &base, &err), FP_CHANGED);
	assert_true(base.hashed);
	assert_true(base.hash == fp_hash("package main\n", 13));

	/* nothing happened: not even read */
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_SAME);

	/* touch */
	bump_mtime(&d, "f.go", 1);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_TOUCHED);
	assert_true(now.digest != base.digest);
	base = now;

	/* chmod */
	assert_int_equal(fchmodat(d.fd, "f.go", 0600, 0), 0);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_TOUCHED);
	base = now;

	/* identical rewrite */
	put(&d, "f.go", "package main\n");
	bump_mtime(&d, "f.go", 2);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_TOUCHED);
	base = now;

	/* same size, different bytes, mtime put back: ctime still betrays it */
	put(&d, "f.go", "package mainX");
	bump_mtime(&d, "f.go", 2);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_CHANGED);
	base = now;

	/* replaced by rename with identical content: new inode, same bytes */
	put(&d, "tmp", "package mainX");
	assert_int_equal(renameat(d.fd, "tmp", d.fd, "f.go"), 0);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_TOUCHED);
	base = now;

	/* replaced by rename with new content */
	put(&d, "tmp", "package main // v2\n");
	assert_int_equal(renameat(d.fd, "tmp", d.fd, "f.go"), 0);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_CHANGED);
	base = now;

	/* a symlink is followed */
	assert_int_equal(symlinkat("f.go", d.fd, "link.go"), 0);
	assert_int_equal(fp_check(d.fd, "link.go", &base, &tmp, &err), FP_SAME);

	/* an old state without a hash (never read): any difference is a change */
	struct fp_state unhashed = base;
	unhashed.hashed = false;
	unhashed.digest ^= 1;
	assert_int_equal(fp_check(d.fd, "f.go", &unhashed, &now, &err), FP_CHANGED);

	/* a directory in its place, then nothing */
	assert_int_equal(unlinkat(d.fd, "f.go", 0), 0);
	assert_int_equal(fp_check(d.fd, "link.go", &base, &now, &err), FP_GONE); /* dangling */
	assert_int_equal(mkdirat(d.fd, "f.go", 0755), 0);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_GONE);
	assert_int_equal(unlinkat(d.fd, "f.go", AT_REMOVEDIR), 0);
	assert_int_equal(fp_check(d.fd, "f.go", &base, &now, &err), FP_GONE);

	/* unreadable: an error, not a removal (root reads anything: skip there) */
	if (geteuid() != 0) {
		put(&d, "secret.go", "x");
		assert_int_equal(fchmodat(d.fd, "secret.go", 0, 0), 0);
		assert_int_equal(fp_check(d.fd, "secret.go", NULL, &now, &err), FP_ERROR);
		assert_int_equal(err, -EACCES);
		unlinkat(d.fd, "secret.go", 0);
	}
	unlinkat(d.fd, "link.go", 0);
	close(d.fd);
	assert_int_equal(rmdir(d.path), 0);
}

static void test_large_file_not_read(void **state)
{
	(void)state;
	struct dir d;
	mkdir_tmp(&d);
	int fd = openat(d.fd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FP_HASH_MAX + 1), 0); /* sparse: costs no disk */
	close(fd);
	struct fp_state base, now;
	assert_int_equal(fp_check(d.fd, "big", NULL, &base, NULL), FP_CHANGED);
	assert_false(base.hashed);
	bump_mtime(&d, "big", 5);
	assert_int_equal(fp_check(d.fd, "big", &base, &now, NULL), FP_CHANGED);
	assert_false(now.hashed);
	unlinkat(d.fd, "big", 0);
	close(d.fd);
	rmdir(d.path);
}

static void test_hash_fd(void **state)
{
	(void)state;
	struct dir d;
	mkdir_tmp(&d);
	put(&d, "x", "hello, world");
	int fd = openat(d.fd, "x", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t h;
	assert_int_equal(fp_hash_fd(fd, &h), 0);
	assert_true(h == fp_hash("hello, world", 12));
	close(fd);
	assert_int_equal(fp_hash_fd(-1, &h), -EBADF);
	unlinkat(d.fd, "x", 0);
	close(d.fd);
	rmdir(d.path);
}

/* Special files in a hashed directory are never opened (a FIFO would block for ever), count by
 * name and type; a file past FP_HASH_MAX counts by size, mtime and inode. */
static void test_reload_hash_special_and_large_files(void **state)
{
	(void)state;
	struct dir d;
	mkdir_tmp(&d);
	put(&d, "a.conf", "v1");
	assert_int_equal(mkfifoat(d.fd, "pipe", 0600), 0);
	int fd = openat(d.fd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FP_HASH_MAX + 1), 0);
	close(fd);
	char *paths[] = {d.path};
	const char *failed = NULL;
	uint64_t h1 = 0, h2 = 0;
	assert_int_equal(reload_hash_paths(paths, 1, &h1, &failed), 0);
	assert_int_equal(reload_hash_paths(paths, 1, &h2, &failed), 0);
	assert_true(h1 == h2 && h1 != 0);
	put(&d, "a.conf", "v2");
	assert_int_equal(reload_hash_paths(paths, 1, &h2, &failed), 0);
	assert_true(h1 != h2);
	h1 = h2;
	bump_mtime(&d, "big", 9);
	assert_int_equal(reload_hash_paths(paths, 1, &h2, &failed), 0);
	assert_true(h1 != h2);
	h1 = h2;
	assert_int_equal(unlinkat(d.fd, "pipe", 0), 0);
	assert_int_equal(reload_hash_paths(paths, 1, &h2, &failed), 0);
	assert_true(h1 != h2);

	struct stat st;
	assert_int_equal(mkfifoat(d.fd, "pipe", 0600), 0);
	assert_int_equal(regfile_open(d.fd, "pipe", &st), -EINVAL);
	assert_true(S_ISFIFO(st.st_mode));
	assert_string_equal(regfile_strerror(-EINVAL), "not a regular file");
	assert_int_equal(regfile_open(AT_FDCWD, "/dev/null", NULL), -EINVAL);
	assert_int_equal(regfile_open(AT_FDCWD, d.path, NULL), -EISDIR);
	assert_int_equal(regfile_open(d.fd, "nope", NULL), -ENOENT);
	fd = regfile_open(d.fd, "a.conf", &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_size, 2);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	char p[128], *data = NULL;
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/a.conf", d.path);
	assert_int_equal(regfile_read_all(p, 2, &data, &len), 0);
	assert_string_equal(data, "v2");
	free(data);
	assert_int_equal(regfile_read_all(p, 1, &data, &len), -EFBIG);
	snprintf(p, sizeof(p), "%s/pipe", d.path);
	assert_int_equal(regfile_read_all(p, 1 << 20, &data, &len), -EINVAL);

	unlinkat(d.fd, "pipe", 0);
	unlinkat(d.fd, "big", 0);
	unlinkat(d.fd, "a.conf", 0);
	close(d.fd);
	assert_int_equal(rmdir(d.path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_streaming_equals_oneshot),
		cmocka_unit_test(test_hash_distinguishes),
		cmocka_unit_test(test_fp_tuple),
		cmocka_unit_test(test_check_verdicts),
		cmocka_unit_test(test_large_file_not_read),
		cmocka_unit_test(test_hash_fd),
		cmocka_unit_test(test_reload_hash_special_and_large_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
