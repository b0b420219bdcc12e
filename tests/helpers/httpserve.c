/* Test helper: an HTTP server on the listening socket at fd 3 (LISTEN_FDS). Prints
 * "ready <pid>", then answers every request with the status in argv[1] (default 200) and closes
 * the connection. SIGTERM ends it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 200;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		int c = accept(3, NULL, NULL);
		if (c < 0)
			return 1;
		char buf[8192];
		size_t n = 0;
		while (n < sizeof(buf) - 1) {
			ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		char out[128];
		int len = snprintf(
			out, sizeof(out),
			"HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			status);
		if (write(c, out, (size_t)len) < 0)
			perror("httpserve: write");
		close(c);
	}
}
