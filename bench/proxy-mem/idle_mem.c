/* Memory per idle keep-alive client connection through the HTTP front (http/proxy.h): a client
 * process opens N connections and makes one request on each (to a fork-per-connection backend
 * on a unix socket), then holds them open; the front's RSS and malloc'd bytes after the first
 * connection and after the last are compared. Usage: bench/proxy-mem/run.sh [N] (10000). */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include "core/loop.h"
#include "http/proxy.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	fclose(f);
	return v;
}

static void backend(int lfd)
{
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(0);
		if (fork() == 0) {
			char buf[65536];
			const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
			while (read(c, buf, sizeof(buf)) > 0)
				write(c, r, sizeof(r) - 1);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	char path[108];
	snprintf(path, sizeof(path), "/tmp/pxmem-%d.sock", getpid());
	int bfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un ua = {.sun_family = AF_UNIX};
	strcpy(ua.sun_path, path);
	unlink(path);
	bind(bfd, (struct sockaddr *)&ua, sizeof(ua));
	listen(bfd, 128);
	pid_t bp = fork();
	if (bp == 0)
		backend(bfd);
	close(bfd);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 4096);
	socklen_t al = sizeof(a);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	struct loop *l = loop_new();
	struct proxy *p;
	char *err = NULL;
	struct proxy_opts o = {.name = "mem", .pool_idle_ms = 600000};
	if (proxy_new(l, lfd, &o, &p, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct proxy_backend *b = proxy_backend_add(p, 1, (struct sockaddr *)&ua, sizeof(ua));
	proxy_backend_set_weight(b, 1);
	int ready[2], hold[2];
	pipe(ready);
	pipe(hold);
	/* the client: the first answered connection warms up the loop and the pool */
	pid_t cp = fork();
	if (cp == 0) {
		char buf[256];
		int *fds = calloc((size_t)n, sizeof(int));
		for (int i = 0; i < n; i++) {
			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
				perror("connect");
				_exit(1);
			}
			const char q[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
			write(fds[i], q, sizeof(q) - 1);
			size_t got = 0;
			while (got < 40) {
				ssize_t r = read(fds[i], buf + got, sizeof(buf) - got);
				if (r <= 0) {
					fprintf(stderr, "read %d\n", i);
					_exit(1);
				}
				got += (size_t)r;
			}
			if (i == 0)
				write(ready[1], "w", 1); /* warmed up */
		}
		write(ready[1], "x", 1);
		read(hold[0], buf, 1);
		_exit(0);
	}
	fcntl(ready[0], F_SETFL, O_NONBLOCK);
	char c;
	while (read(ready[0], &c, 1) != 1)
		loop_run_once(l, 5);
	for (int i = 0; i < 50; i++)
		loop_run_once(l, 1);
	long r0 = rss_kib();
	struct mallinfo2 m0 = mallinfo2();
	while (read(ready[0], &c, 1) != 1)
		loop_run_once(l, 5);
	for (int i = 0; i < 50; i++)
		loop_run_once(l, 1);
	long r1 = rss_kib();
	struct mallinfo2 m1 = mallinfo2();
	printf("clients=%zu rss before=%ld KiB after=%ld KiB -> %.0f bytes/conn; malloc in use "
	       "%.0f bytes/conn\n",
	       proxy_nconns(p), r0, r1, (double)(r1 - r0) * 1024 / (n - 1),
	       (double)(m1.uordblks - m0.uordblks) / (n - 1));
	write(hold[1], "x", 1);
	waitpid(cp, NULL, 0);
	kill(bp, SIGTERM);
	proxy_free(p);
	loop_free(l);
	unlink(path);
	return 0;
}
