#include "util/signame.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sigent {
	const char *name;
	int sig;
};

static const struct sigent sigs[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
	{"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
	{"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
	{"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
	{"PWR", SIGPWR},   {"SYS", SIGSYS},
};

int signame_parse(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end || v <= 0 || v >= NSIG)
			return -1;
		return (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcasecmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	if (strncasecmp(s, "RTMIN+", 6) == 0) {
		char *end;
		long v = strtol(s + 6, &end, 10);
		if (!*end && v >= 0 && SIGRTMIN + v <= SIGRTMAX)
			return SIGRTMIN + (int)v;
	}
	return -1;
}

const char *signame_str(int sig)
{
	static const char *const names[] = {
#define N(x) [SIG##x] = "SIG" #x
		N(HUP),  N(INT),  N(QUIT), N(ILL),  N(TRAP), N(ABRT), N(BUS),    N(FPE),
		N(KILL), N(USR1), N(SEGV), N(USR2), N(PIPE), N(ALRM), N(TERM),   N(CHLD),
		N(CONT), N(STOP), N(TSTP), N(TTIN), N(TTOU), N(URG),  N(XCPU),   N(XFSZ),
		N(VTALRM), N(PROF), N(WINCH), N(IO), N(PWR), N(SYS),
#undef N
	};
	static char other[32];
	if (sig > 0 && (size_t)sig < sizeof(names) / sizeof(names[0]) && names[sig])
		return names[sig];
	snprintf(other, sizeof(other), "signal %d", sig);
	return other;
}
