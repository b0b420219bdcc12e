#include "source/source_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/fingerprint.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define VALUE_MAX (64u << 20)

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct source_entry *)a)->name,
		      ((const struct source_entry *)b)->name);
}

void source_snap_set(struct source_snap *s, const struct source_entry *e, size_t n)
{
	source_snap_release(s);
	s->e = n ? xcalloc(n, sizeof(*s->e)) : NULL;
	for (size_t i = 0; i < n; i++) {
		s->e[i].name = xstrdup(e[i].name);
		char *v = xmalloc(e[i].len + 1);
		memcpy(v, e[i].value, e[i].len);
		v[e[i].len] = 0;
		s->e[i].value = v;
		s->e[i].len = e[i].len;
	}
	s->n = n;
	s->present = n > 0;
	if (n > 1)
		qsort(s->e, n, sizeof(*s->e), by_name);
}

void source_snap_release(struct source_snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free((char *)s->e[i].name);
		free((char *)s->e[i].value);
	}
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static void hash_entry(struct fp_hasher *h, const char *name, const char *v, size_t len)
{
	uint64_t l = len;
	fp_hash_update(h, name, strlen(name) + 1);
	fp_hash_update(h, &l, sizeof(l));
	fp_hash_update(h, v, len);
}

uint64_t source_snap_hash(const struct source_snap *s)
{
	struct fp_hasher h;
	fp_hash_init(&h);
	for (size_t i = 0; i < s->n; i++)
		hash_entry(&h, s->e[i].name, s->e[i].value, s->e[i].len);
	return fp_hash_final(&h) | 1; /* never 0: 0 means "none" */
}

bool source_name_ok(const char *name, size_t len)
{
	return len > 0 && name[0] != '.' && !memchr(name, '/', len) && !memchr(name, 0, len) &&
	       len < NAME_MAX;
}

static char *dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');
	return sl == path ? xstrdup("/") : xstrndup(path, (size_t)(sl - path));
}

static char *staged_file(const char *target)
{
	const char *base = strrchr(target, '/') + 1;
	char *d = dir_of(target);
	char *p = xasprintf("%s/.%s.baton-staged", d, base);
	free(d);
	return p;
}

/* The version directory "..data" points to (fresh, absolute), or NULL with errno. */
static char *data_dir(const char *target)
{
	char *link = xasprintf("%s/..data", target);
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	free(link);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	if (strchr(buf, '/')) {
		errno = EINVAL;
		return NULL;
	}
	return xasprintf("%s/%s", target, buf);
}

static int by_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int source_fs_in_place(const char *target, bool dir, uint64_t *hash)
{
	struct fp_hasher h;
	fp_hash_init(&h);
	if (!dir) {
		char *data = NULL;
		size_t len = 0;
		int rc = file_read_all(target, VALUE_MAX, &data, &len);
		if (rc < 0)
			return rc;
		hash_entry(&h, "", data, len);
		free(data);
		*hash = fp_hash_final(&h) | 1;
		return 0;
	}
	char *dd = data_dir(target);
	if (!dd)
		return -errno;
	DIR *d = opendir(dd);
	if (!d) {
		int e = errno;
		free(dd);
		return -e;
	}
	struct strv names = {0};
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			strv_push(&names, de->d_name);
	closedir(d);
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(char *), by_cstr);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *p = xasprintf("%s/%s", dd, names.v[i]);
		char *data = NULL;
		size_t len = 0;
		rc = file_read_all(p, VALUE_MAX, &data, &len);
		if (rc == 0)
			hash_entry(&h, names.v[i], data, len);
		free(data);
		free(p);
	}
	strv_release(&names);
	free(dd);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	*hash = fp_hash_final(&h) | 1;
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	int rc = fd_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(path);
	return rc;
}

/* Remove a version directory and the files in it (it has no subdirectories). */
static void remove_version(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

int source_fs_stage(const char *target, bool dir, const struct source_snap *s, char **staged,
		    char **err)
{
	static unsigned seq;
	if (!dir) {
		char *d = dir_of(target);
		int rc = dir_make_all(d, 0755);
		free(d);
		char *p = staged_file(target);
		if (rc == 0)
			rc = write_file(p, s->n ? s->e[0].value : "", s->n ? s->e[0].len : 0);
		if (rc < 0) {
			*err = xasprintf("cannot write \"%s\": %s", p, strerror(-rc));
			free(p);
			return rc;
		}
		*staged = p;
		return 0;
	}
	int rc = dir_make_all(target, 0755);
	if (rc < 0) {
		*err = xasprintf("cannot create \"%s\": %s", target, strerror(-rc));
		return rc;
	}
	char *v = xasprintf("%s/..v%lld.%d.%u", target, (long long)now_ms(), (int)getpid(), ++seq);
	if (mkdir(v, 0755) < 0) {
		rc = -errno;
		*err = xasprintf("cannot create \"%s\": %s", v, strerror(-rc));
		free(v);
		return rc;
	}
	for (size_t i = 0; i < s->n; i++) {
		char *p = xasprintf("%s/%s", v, s->e[i].name);
		rc = write_file(p, s->e[i].value, s->e[i].len);
		if (rc < 0) {
			*err = xasprintf("cannot write \"%s\": %s", p, strerror(-rc));
			free(p);
			remove_version(v);
			free(v);
			return rc;
		}
		free(p);
	}
	*staged = v;
	return 0;
}

/* Make link name point at to, replacing whatever is there, atomically. */
static int replace_link(const char *to, const char *name)
{
	char *tmp = xasprintf("%s.baton-tmp", name);
	unlink(tmp);
	int rc = 0;
	if (symlink(to, tmp) < 0 || rename(tmp, name) < 0) {
		rc = -errno;
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int source_fs_commit(const char *target, bool dir, const char *staged, const struct source_snap *s,
		     char **err)
{
	if (!dir) {
		if (rename(staged, target) < 0) {
			int rc = -errno;
			*err = xasprintf("cannot rename \"%s\" to \"%s\": %s", staged, target,
					 strerror(-rc));
			unlink(staged);
			return rc;
		}
		return 0;
	}
	char *old = data_dir(target);
	char *data = xasprintf("%s/..data", target);
	int rc = replace_link(strrchr(staged, '/') + 1, data);
	free(data);
	if (rc < 0) {
		*err = xasprintf("cannot switch \"%s/..data\": %s", target, strerror(-rc));
		remove_version(staged);
		free(old);
		return rc;
	}
	/* the per-key links: one for every key now, none for keys gone */
	for (size_t i = 0; i < s->n; i++) {
		char *name = xasprintf("%s/%s", target, s->e[i].name);
		char *to = xasprintf("..data/%s", s->e[i].name);
		char buf[PATH_MAX];
		ssize_t n = readlink(name, buf, sizeof(buf) - 1);
		if (n < 0 || (size_t)n != strlen(to) || memcmp(buf, to, (size_t)n) != 0)
			replace_link(to, name);
		free(to);
		free(name);
	}
	DIR *d = opendir(target);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || de->d_type != DT_LNK)
				continue;
			bool keep = false;
			for (size_t i = 0; i < s->n && !keep; i++)
				keep = strcmp(s->e[i].name, de->d_name) == 0;
			if (!keep)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (old && strcmp(old, staged) != 0)
		remove_version(old);
	free(old);
	return 0;
}

void source_fs_discard(bool dir, const char *staged)
{
	if (dir)
		remove_version(staged);
	else
		unlink(staged);
}
