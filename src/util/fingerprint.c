/* Stat fingerprints and baton's content hash. */
#include "util/fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Odd 64-bit constants: the golden ratio and three well-mixed multipliers. */
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xC2B2AE3D27D4EB4FULL
#define K3 0xBF58476D1CE4E5B9ULL
#define K4 0x94D049BB133111EBULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8); /* host order: values never leave the process */
	return v;
}

static inline uint64_t finish(uint64_t h)
{
	h ^= h >> 30;
	h *= K3;
	h ^= h >> 27;
	h *= K4;
	h ^= h >> 31;
	return h;
}

static inline uint64_t lane(uint64_t v, uint64_t w)
{
	v ^= w * K2;
	v = rotl(v, 29);
	return v * K1;
}

static void stripe(uint64_t v[4], const unsigned char *p)
{
	v[0] = lane(v[0], load64(p));
	v[1] = lane(v[1], load64(p + 8));
	v[2] = lane(v[2], load64(p + 16));
	v[3] = lane(v[3], load64(p + 24));
}

void fp_hash_init(struct fp_hasher *h)
{
	h->v[0] = K1;
	h->v[1] = K2;
	h->v[2] = K3;
	h->v[3] = K4;
	h->total = 0;
	h->nbuf = 0;
}

void fp_hash_update(struct fp_hasher *h, const void *data, size_t n)
{
	const unsigned char *p = data;
	h->total += n;
	if (h->nbuf) {
		size_t take = 32 - h->nbuf;
		if (take > n)
			take = n;
		memcpy(h->buf + h->nbuf, p, take);
		h->nbuf += take;
		p += take;
		n -= take;
		if (h->nbuf < 32)
			return;
		stripe(h->v, h->buf);
		h->nbuf = 0;
	}
	while (n >= 32) {
		stripe(h->v, p);
		p += 32;
		n -= 32;
	}
	if (n) {
		memcpy(h->buf, p, n);
		h->nbuf = n;
	}
}

uint64_t fp_hash_final(const struct fp_hasher *h)
{
	uint64_t x = h->total * K4;
	for (int i = 0; i < 4; i++)
		x = (x ^ finish(h->v[i])) * K1 + K2;
	const unsigned char *p = h->buf;
	size_t n = h->nbuf;
	while (n >= 8) {
		x = rotl(x ^ (load64(p) * K2), 27) * K1 + K4;
		p += 8;
		n -= 8;
	}
	if (n) {
		unsigned char last[8] = {0};
		memcpy(last, p, n);
		x = rotl(x ^ ((load64(last) ^ n) * K3), 23) * K2 + K1;
	}
	return finish(x);
}

uint64_t fp_hash(const void *data, size_t n)
{
	struct fp_hasher h;
	fp_hash_init(&h);
	fp_hash_update(&h, data, n);
	return fp_hash_final(&h);
}

void fp_from_stat(struct fp *fp, const struct stat *st)
{
	fp->dev = (uint64_t)st->st_dev;
	fp->ino = (uint64_t)st->st_ino;
	fp->size = (int64_t)st->st_size;
	fp->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	fp->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

uint64_t fp_digest(const struct fp *fp)
{
	uint64_t h = K1;
	h = finish(h ^ fp->dev) + K2;
	h = finish(h ^ fp->ino) + K2;
	h = finish(h ^ (uint64_t)fp->size) + K2;
	h = finish(h ^ (uint64_t)fp->mtime_ns) + K2;
	h = finish(h ^ (uint64_t)fp->ctime_ns);
	return h;
}

int fp_hash_fd(int fd, uint64_t *out)
{
	unsigned char buf[65536];
	struct fp_hasher h;
	int64_t left = FP_HASH_MAX;
	fp_hash_init(&h);
	for (;;) {
		size_t want = left < (int64_t)sizeof(buf) ? (size_t)left + 1 : sizeof(buf);
		ssize_t n = read(fd, buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		left -= n;
		if (left < 0)
			return -EFBIG; /* one byte past the cap: stop reading */
		fp_hash_update(&h, buf, (size_t)n);
	}
	*out = fp_hash_final(&h);
	return 0;
}

enum fp_verdict fp_check(int dirfd, const char *path, const struct fp_state *old,
			 struct fp_state *now, int *err)
{
	struct stat st;
	struct fp fp;
	if (err)
		*err = 0;
	if (fstatat(dirfd, path, &st, 0) < 0) {
		if (err)
			*err = -errno;
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? FP_GONE : FP_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		if (err)
			*err = -EISDIR;
		return FP_GONE;
	}
	fp_from_stat(&fp, &st);
	uint32_t digest = (uint32_t)fp_digest(&fp);
	if (old && old->digest == digest) {
		*now = *old;
		return FP_SAME;
	}
	now->digest = digest;
	now->hash = 0;
	now->hashed = false;
	if (st.st_size > FP_HASH_MAX)
		return FP_CHANGED;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (err)
			*err = -errno;
		return errno == ENOENT ? FP_GONE : FP_ERROR;
	}
	/* The name may have been replaced between the stat and the open: describe what was read,
	 * and never read anything but a regular file (O_NONBLOCK kept a FIFO from blocking). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		if (err)
			*err = -EISDIR;
		return FP_GONE;
	}
	fp_from_stat(&fp, &st);
	now->digest = (uint32_t)fp_digest(&fp);
	int r = fp_hash_fd(fd, &now->hash);
	close(fd);
	if (r == -EFBIG)
		return FP_CHANGED; /* grew past FP_HASH_MAX: not hashed, like a large file */
	if (r < 0) {
		if (err)
			*err = r;
		return FP_ERROR;
	}
	now->hashed = true;
	if (old && old->hashed && old->hash == now->hash)
		return FP_TOUCHED;
	return FP_CHANGED;
}
