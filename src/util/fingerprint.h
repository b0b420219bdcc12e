/* File change detection: a stat fingerprint (dev, ino, size, mtime, ctime) and, when that
 * differs, a content hash. A `touch`, a `chmod` or a rewrite with identical bytes changes the
 * fingerprint but not the hash: "touched", not "changed".
 *
 * The content hash is baton's own 64-bit non-cryptographic hash (four multiply-rotate lanes
 * over 32-byte stripes, a splitmix64-style finish). It detects edits, not adversaries, and its
 * values are only meaningful inside one process (never stored, never compared across hosts). */
#ifndef BATON_FINGERPRINT_H
#define BATON_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Files larger than this are not hashed: any fingerprint change counts as a change. */
#define FP_HASH_MAX ((int64_t)64 << 20)

struct fp {
	uint64_t dev, ino;
	int64_t size;
	int64_t mtime_ns, ctime_ns;
};

void fp_from_stat(struct fp *fp, const struct stat *st);
/* A 64-bit digest of the fingerprint, for compact storage (equal fingerprints, equal digests). */
uint64_t fp_digest(const struct fp *fp);

/* Streaming content hash; fp_hash_final() equals fp_hash() over the concatenated input. */
struct fp_hasher {
	uint64_t v[4];
	uint64_t total;
	unsigned char buf[32];
	size_t nbuf;
};
void fp_hash_init(struct fp_hasher *h);
void fp_hash_update(struct fp_hasher *h, const void *data, size_t n);
uint64_t fp_hash_final(const struct fp_hasher *h);
uint64_t fp_hash(const void *data, size_t n);

/* What a file looked like last time: the low 32 bits of its fingerprint digest (the watcher
 * keeps one per file; a false "same" needs a 2^-32 coincidence on a file that did change) and
 * its content hash. */
struct fp_state {
	uint32_t digest;
	uint64_t hash;
	bool hashed; /* false: not read (too large, or no baseline yet) */
};

enum fp_verdict {
	FP_SAME,    /* fingerprint unchanged: not even read */
	FP_TOUCHED, /* fingerprint changed, content identical: not a change */
	FP_CHANGED, /* content differs, or there was nothing to compare with */
	FP_GONE,    /* missing, or no longer a regular file */
	FP_ERROR,   /* could not be read (permissions...): *err set */
};

/* Stat path (relative to dirfd, following symlinks) and compare it with *old (NULL: no
 * baseline). The file is read only when its fingerprint differs. *now receives the new state
 * (for FP_SAME/FP_TOUCHED/FP_CHANGED). *err (may be NULL) gets -errno for FP_GONE/FP_ERROR. */
enum fp_verdict fp_check(int dirfd, const char *path, const struct fp_state *old,
			 struct fp_state *now, int *err);
/* Hash an open file from its current offset to EOF; 0 or -errno, -EFBIG when more than
 * FP_HASH_MAX bytes follow (reading stops there: a file that keeps growing cannot keep baton
 * reading). The caller opens regular files only (util/regfile.h). */
int fp_hash_fd(int fd, uint64_t *out);

#endif
