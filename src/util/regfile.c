#include "util/regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/sys.h"
#include "util/xalloc.h"

int regfile_open(int dirfd, const char *path, struct stat *st)
{
	struct stat tmp;
	if (!st)
		st = &tmp;
	if (fstatat(dirfd, path, st, 0) < 0)
		return -errno;
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EINVAL; /* never opened: a device's open() may have side effects */
	int fd = sys_openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* the name may have been replaced between the stat and the open */
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	return fd;
}

int regfile_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len)
{
	int fd = regfile_open(AT_FDCWD, path, NULL);
	if (fd < 0)
		return fd;
	size_t cap = 4096, len = 0;
	char *p = xmalloc(cap);
	int rc = 0;
	for (;;) {
		if (len > max_bytes) {
			rc = -EFBIG;
			break;
		}
		if (len + 1 >= cap) {
			cap *= 2;
			p = xrealloc(p, cap);
		}
		size_t want = cap - len - 1;
		if (want > max_bytes + 1 - len)
			want = max_bytes + 1 - len;
		ssize_t n = read(fd, p + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p[len] = '\0';
	*out = p;
	if (out_len)
		*out_len = len;
	return 0;
}

const char *regfile_strerror(int err)
{
	if (err < 0)
		err = -err;
	return err == EINVAL ? "not a regular file" : strerror(err);
}
