/* The filesystem half of the source pipeline: snapshots as owned data, their content hash, what
 * is in place now, staging a snapshot next to its target, and swapping it in.
 *
 * Key mode: the target is a file; the staged copy is ".NAME.baton-staged" in its directory and a
 * rename(2) puts it in place. Prefix mode: the target is a directory holding a "..data" symlink
 * to a versioned directory ("..v<ms>.<n>") with one file per key, and for each key a symlink
 * "NAME" -> "..data/NAME" (Kubernetes' ConfigMap layout): the new version is written whole,
 * then "..data" is replaced by a rename, so a reader through "..data" sees the old set or the
 * new one, never a mix; the per-key links are added and removed after the swap, and the old
 * version is removed. */
#ifndef BATON_SOURCE_FS_H
#define BATON_SOURCE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/source_int.h"

struct source_snap {
	struct source_entry *e; /* sorted by name; names and values owned */
	size_t n;
	bool present; /* key mode: the key exists */
};

/* Copy e[0..n) (sorted by name on the way). */
void source_snap_set(struct source_snap *s, const struct source_entry *e, size_t n);
void source_snap_release(struct source_snap *s);
uint64_t source_snap_hash(const struct source_snap *s);
/* A name usable as a file in the directory: not empty, no '/', no leading '.', no NUL. */
bool source_name_ok(const char *name, size_t len);

/* The hash of what is in place at target (absolute): 0 with *hash set, -ENOENT when nothing
 * is, or -errno. */
int source_fs_in_place(const char *target, bool dir, uint64_t *hash);
/* Write s next to target. 0 with *staged (fresh, absolute: what BATON_FILE names), or -errno
 * with a fresh message in *err; nothing is left behind on failure. */
int source_fs_stage(const char *target, bool dir, const struct source_snap *s, char **staged,
		    char **err);
/* Put the staged copy in place. 0, or -errno with a fresh message in *err (the staged copy is
 * removed either way). */
int source_fs_commit(const char *target, bool dir, const char *staged, const struct source_snap *s,
		     char **err);
/* Remove a staged copy that was rejected. */
void source_fs_discard(bool dir, const char *staged);

#endif
