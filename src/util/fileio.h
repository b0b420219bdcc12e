/* Whole-file reads and small fd helpers. */
#ifndef BATON_UTIL_FILEIO_H
#define BATON_UTIL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Read a whole file into a fresh NUL-terminated buffer (caller frees). Returns 0 or -errno.
 * Refuses files larger than max_bytes with -EFBIG. */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len);
/* Write data to path atomically (temp file + rename). Returns 0 or -errno. */
int file_write_atomic(const char *path, const char *data, size_t len, int mode);
int fd_set_cloexec(int fd, bool on);
int fd_set_nonblock(int fd, bool on);
/* write() all of it, retrying on EINTR/short writes; 0 or -errno. */
int fd_write_all(int fd, const void *data, size_t len);
/* mkdir -p dir: the missing directories are made with mode (existing ones are left as they
 * are). 0 or -errno. */
int dir_make_all(const char *dir, int mode);
/* The same for the directory part of path (nothing when path has none). */
int dir_make_parents(const char *path, int mode);

#endif
