/* Test helper: an app that reports the signals it gets. Prints "sigecho ready pid=P gen=G",
 * sends READY=1 to $NOTIFY_SOCKET once its signals are blocked (so ready = "notify" means
 * "signals are safe now"), then one line "sigecho gen=G got SIGHUP" (or SIGUSR1/SIGUSR2) per signal; exits 0 on SIGTERM
 * or SIGINT after printing "sigecho gen=G stopping". Signals are taken with sigwait: no async
 * handlers. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, len);
	close(fd);
}

int main(void)
{
	const char *gen = getenv("BATON_GENERATION");
	gen = gen ? gen : "?";
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("sigecho ready pid=%d gen=%s\n", (int)getpid(), gen);
	fflush(stdout);
	notify_ready();
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			return 1;
		if (sig == SIGTERM || sig == SIGINT) {
			printf("sigecho gen=%s stopping\n", gen);
			return 0;
		}
		printf("sigecho gen=%s got %s\n", gen,
		       sig == SIGHUP ? "SIGHUP" : sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2");
		fflush(stdout);
	}
}
