#include "sup/fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

struct fdstore_ent {
	int fd;
	char *name;
};

struct fdstore {
	struct fdstore_ent *v;
	size_t n, cap, max;
};

struct fdstore *fdstore_new(size_t max)
{
	struct fdstore *st = xcalloc(1, sizeof(*st));
	st->max = max;
	return st;
}

void fdstore_free(struct fdstore *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		close(st->v[i].fd);
		free(st->v[i].name);
	}
	free(st->v);
	free(st);
}

int fdstore_add(struct fdstore *st, int fd, const char *name, size_t len)
{
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	if (st->n >= st->max)
		return -EXFULL;
	if (!name) {
		name = FDSTORE_DEFAULT_NAME;
		len = strlen(name);
	}
	st->v = xgrow(st->v, &st->cap, st->n + 1, sizeof(*st->v));
	st->v[st->n].fd = fd;
	st->v[st->n].name = xstrndup(name, len);
	st->n++;
	return 0;
}

size_t fdstore_remove(struct fdstore *st, const char *name, size_t len)
{
	size_t j = 0, removed = 0;
	for (size_t i = 0; i < st->n; i++) {
		struct fdstore_ent *e = &st->v[i];
		if (strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
			close(e->fd);
			free(e->name);
			removed++;
		} else {
			st->v[j++] = *e;
		}
	}
	st->n = j;
	return removed;
}

size_t fdstore_count(const struct fdstore *st)
{
	return st->n;
}

size_t fdstore_max(const struct fdstore *st)
{
	return st->max;
}

int fdstore_fd(const struct fdstore *st, size_t i)
{
	return st->v[i].fd;
}

const char *fdstore_name(const struct fdstore *st, size_t i)
{
	return st->v[i].name;
}
