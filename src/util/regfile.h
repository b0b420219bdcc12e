/* Opening user-named paths for reading without ever blocking: regular files only.
 *
 * A blocking open() of a FIFO waits for a writer for ever, and reading a character device
 * (/dev/zero, /dev/urandom) never ends: a path in a watched directory or a certificate path
 * that is one of those must not freeze baton. regfile_open() stats the path first (following
 * symlinks: Kubernetes' ..data links to regular files are normal) and opens only a regular
 * file, with O_NONBLOCK so that a FIFO swapped in between the stat and the open cannot block
 * either, then checks with fstat() that what it opened is still a regular file. */
#ifndef BATON_UTIL_REGFILE_H
#define BATON_UTIL_REGFILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Open path (relative to dirfd, or AT_FDCWD) read-only, CLOEXEC. Returns the fd (the caller
 * closes it) with *st (may be NULL) describing it, or -errno: -EISDIR for a directory,
 * -EINVAL for anything else that is not a regular file (FIFO, socket, device), in which case
 * *st still describes it. Never blocks on the path's type. */
int regfile_open(int dirfd, const char *path, struct stat *st);

/* regfile_open() then read the whole file into a fresh NUL-terminated buffer (caller frees;
 * *out_len may be NULL). Returns 0 or -errno; -EFBIG past max_bytes (at most max_bytes + 1 are
 * read, so a file that keeps growing cannot keep baton reading). */
int regfile_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len);

/* A short reason for a regfile error: "not a regular file" for -EINVAL, else strerror. */
const char *regfile_strerror(int err);

#endif
