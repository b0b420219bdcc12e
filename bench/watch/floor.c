/* The syscall floor of a recursive inotify watch on this machine: open and read every directory
 * (getdents64) and add one watch per directory, nothing else (no filters, no bookkeeping). Any
 * recursive inotify watcher does at least this much work. Then, on a fresh inotify instance, the
 * inotify_add_watch calls alone for the same directories (what no walk can avoid: the kernel's
 * own cost of the watches). Prints "floor: N dirs in T ms (inotify_add_watch alone: W ms)".
 * usage: floor DIR */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor DIR\n");
		return 2;
	}
	size_t cap = 1024, n = 0, head = 0;
	char **q = malloc(cap * sizeof(*q));
	q[n++] = strdup(argv[1]);
	double t0 = now_ms();
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		perror("inotify_init1");
		return 1;
	}
	static char buf[32768] __attribute__((aligned(8)));
	while (head < n) {
		char *dir = q[head++];
		if (inotify_add_watch(ifd, dir, IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM |
						   IN_MOVED_TO | IN_ONLYDIR) < 0)
			perror(dir);
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r;
		while ((r = getdents64(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < r;) {
				struct dirent64 *de = (struct dirent64 *)(buf + off);
				off += de->d_reclen;
				if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
				    strcmp(de->d_name, "..") == 0)
					continue;
				if (n == cap)
					q = realloc(q, (cap *= 2) * sizeof(*q));
				if (asprintf(&q[n], "%s/%s", dir, de->d_name) < 0)
					return 1;
				n++;
			}
		}
		close(fd);
	}
	double walk = now_ms() - t0;
	close(ifd);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		perror("inotify_init1");
		return 1;
	}
	t0 = now_ms();
	for (size_t i = 0; i < n; i++)
		inotify_add_watch(ifd, q[i], IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM |
						 IN_MOVED_TO | IN_ONLYDIR);
	printf("floor: %zu dirs in %.1f ms (inotify_add_watch alone: %.1f ms)\n", n, walk,
	       now_ms() - t0);
	return 0;
}
