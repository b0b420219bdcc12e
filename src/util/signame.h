/* Signal names <-> numbers: "SIGTERM", "TERM", "sigterm", "15" all parse to 15. */
#ifndef BATON_UTIL_SIGNAME_H
#define BATON_UTIL_SIGNAME_H

/* Returns the signal number, or -1 when the name is unknown. */
int signame_parse(const char *s);
/* "SIGTERM"; for an unknown number a static "signal N" buffer (not reentrant). */
const char *signame_str(int sig);

#endif
