/* Test helper: ignore SIGTERM (and SIGINT), say "ready" once that is in place, then wait
 * forever. Only SIGKILL ends it. With an argument, also fork a child in the same process
 * group that does the same (to test group kills). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argv;
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (argc > 1 && fork() == 0) {
		printf("child %d ready\n", (int)getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
