/* The file descriptor store (systemd's FDSTORE=1): descriptors an app hands to baton over
 * NOTIFY_SOCKET to get them back in its next generation, each under a name (FDNAME=, default
 * "stored"). At most max are kept; a name may be given to several. Pure bookkeeping: no loop,
 * no polling (FDPOLL= is irrelevant: a stored fd is kept until FDSTOREREMOVE=1 or the store is
 * freed).
 *
 * Ownership: the store owns every fd it accepted (fdstore_add() returning 0) and closes them on
 * fdstore_remove() and fdstore_free(); an fd it refused stays the caller's. */
#ifndef BATON_FDSTORE_H
#define BATON_FDSTORE_H

#include <stddef.h>

struct fdstore;

/* The name given to fds stored without FDNAME=. */
#define FDSTORE_DEFAULT_NAME "stored"

struct fdstore *fdstore_new(size_t max);
void fdstore_free(struct fdstore *st);

/* Keep fd under name (len bytes, a valid FDNAME; NULL: the default name). 0, -EXFULL when the
 * store holds max fds already, -EBADF when fd is not open. */
int fdstore_add(struct fdstore *st, int fd, const char *name, size_t len);
/* Close and forget every fd stored under name; returns how many. */
size_t fdstore_remove(struct fdstore *st, const char *name, size_t len);

size_t fdstore_count(const struct fdstore *st);
size_t fdstore_max(const struct fdstore *st);
/* The i-th stored fd and its name (NUL-terminated), in the order they were stored. */
int fdstore_fd(const struct fdstore *st, size_t i);
const char *fdstore_name(const struct fdstore *st, size_t i);

#endif
