/* libFuzzer target: certificate/key files as they may be found on disk mid-update or damaged.
 * The input is split at its first 0xff byte into a cert file and a key file (no 0xff: the same
 * bytes are both, like a combined PEM); both go through certcheck_pair() via memfds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tls/certcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const uint8_t *p, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (n && write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *split = memchr(data, 0xff, size);
	size_t n1 = split ? (size_t)(split - data) : size;
	int cfd = memfd_with(data, n1);
	int kfd = split ? memfd_with(split + 1, size - n1 - 1) : cfd;
	if (cfd < 0 || kfd < 0)
		goto out;
	char cpath[64], kpath[64];
	snprintf(cpath, sizeof(cpath), "/proc/self/fd/%d", cfd);
	snprintf(kpath, sizeof(kpath), "/proc/self/fd/%d", kfd);
	static const char *const hosts[] = {"example.com", "*.example.com", "127.0.0.1", NULL};
	struct certcheck_opts o = {.cert = cpath, .key = kpath, .hostnames = hosts,
				   .now = 1790000000};
	struct certcheck_result res;
	certcheck_pair(&o, &res);
	if (res.ok && res.msg)
		__builtin_trap(); /* ok results carry no message */
	certcheck_result_release(&res);
out:
	if (kfd >= 0 && kfd != cfd)
		close(kfd);
	if (cfd >= 0)
		close(cfd);
	return 0;
}
