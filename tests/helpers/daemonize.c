/* Test helper: the classic double fork. The intermediate child calls setsid() (so the
 * grandchild escapes the process group), forks the grandchild and exits; the grandchild
 * detaches its stdio and waits forever. The original process prints "daemon <pid>" once the
 * intermediate is gone (the grandchild is then re-parented to the nearest subreaper) and
 * exits 0. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	pid_t mid = fork();
	if (mid < 0)
		return 1;
	if (mid == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0) {
			int null = open("/dev/null", O_RDWR);
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
			close(p[0]);
			close(p[1]);
			for (;;)
				pause();
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	close(p[1]);
	pid_t g = 0;
	if (read(p[0], &g, sizeof(g)) != (ssize_t)sizeof(g))
		return 1;
	waitpid(mid, NULL, 0);
	printf("daemon %d\n", (int)g);
	return 0;
}
