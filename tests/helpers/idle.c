/* Test helper: print "ready <pid>" and wait for a signal with default dispositions (SIGTERM
 * ends it). The app that stops when asked. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
