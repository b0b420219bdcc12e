/* The content hash of a [[reload]] / [[tls]] group: every configured path, directories
 * recursively (visible names only, sorted), in one 64-bit value (fingerprint.h's hash).
 *
 * Never blocks and never reads without bound: only regular files are opened (util/regfile.h;
 * symlinks are followed), and read up to FP_HASH_MAX (64 MiB); a larger file counts by its
 * size, mtime and inode instead of its bytes. FIFOs, sockets and device nodes count by name and
 * type only: they are never opened. A directory holds at most RELOAD_HASH_MAX_FILES entries in
 * all. */
#ifndef BATON_RELOAD_HASH_H
#define BATON_RELOAD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RELOAD_HASH_MAX_FILES 10000

/* Hash paths[0..n). Returns 0 with *out != 0, or -errno with *failed set to the path that
 * could not be hashed (-ENOENT: it does not exist; -E2BIG: too many files). */
int reload_hash_paths(char *const *paths, size_t n, uint64_t *out, const char **failed);

#endif
