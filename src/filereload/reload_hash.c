#include "filereload/reload_hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fingerprint.h"
#include "util/regfile.h"
#include "util/strv.h"
#include "util/xalloc.h"

static int hash_path(const char *path, struct fp_hasher *h, int *budget);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_dir(const char *path, struct fp_hasher *h, int *budget)
{
	DIR *d = opendir(path); /* O_DIRECTORY: cannot block on a FIFO */
	if (!d)
		return -errno;
	struct strv names = STRV_INIT;
	struct dirent *de;
	while ((de = readdir(d))) {
		/* Kubernetes' ..data/..2024_* entries: follow the visible names only */
		if (de->d_name[0] == '.')
			continue;
		strv_push(&names, de->d_name);
	}
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_str);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *p = xasprintf("%s/%s", path, names.v[i]);
		fp_hash_update(h, names.v[i], strlen(names.v[i]) + 1);
		rc = hash_path(p, h, budget);
		free(p);
		if (rc == -ENOENT)
			rc = 0; /* vanished while we looked: the next batch will tell */
	}
	strv_release(&names);
	return rc;
}

/* What a file is when its bytes are not read: its type, and for a regular file too large to
 * read, its size, mtime and inode (a rewrite changes at least one). */
static void hash_meta(struct fp_hasher *h, const struct stat *st)
{
	uint64_t m[5] = {(uint64_t)(st->st_mode & S_IFMT), 0, 0, 0, 0};
	if (S_ISREG(st->st_mode)) {
		m[1] = (uint64_t)st->st_size;
		m[2] = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
		m[3] = (uint64_t)st->st_ino;
		m[4] = (uint64_t)st->st_dev;
	}
	fp_hash_update(h, "m", 1);
	fp_hash_update(h, m, sizeof(m));
}

static int hash_path(const char *path, struct fp_hasher *h, int *budget)
{
	if (--*budget < 0)
		return -E2BIG;
	struct stat st;
	int fd = regfile_open(AT_FDCWD, path, &st);
	if (fd == -EISDIR)
		return hash_dir(path, h, budget);
	if (fd == -EINVAL) {
		hash_meta(h, &st); /* FIFO, socket, device: name and type only, never opened */
		return 0;
	}
	if (fd < 0)
		return fd;
	uint64_t v = 0;
	int rc = st.st_size > FP_HASH_MAX ? -EFBIG : fp_hash_fd(fd, &v);
	if (rc == -EFBIG && fstat(fd, &st) == 0) {
		hash_meta(h, &st);
		rc = 0;
	} else if (rc == 0) {
		fp_hash_update(h, "f", 1);
		fp_hash_update(h, &v, sizeof(v));
	}
	close(fd);
	return rc;
}

int reload_hash_paths(char *const *paths, size_t n, uint64_t *out, const char **failed)
{
	struct fp_hasher h;
	fp_hash_init(&h);
	int budget = RELOAD_HASH_MAX_FILES;
	for (size_t i = 0; i < n; i++) {
		int rc = hash_path(paths[i], &h, &budget);
		if (rc < 0) {
			*failed = paths[i];
			return rc;
		}
	}
	*out = fp_hash_final(&h);
	if (*out == 0)
		*out = 1; /* 0 means "none" */
	return 0;
}
