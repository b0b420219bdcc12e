/* `baton dev`: watch, build, restart — holding the listening sockets so no request is refused.
 * Policy on top of app.c: a change (settled batch) starts a build, cancelling one in progress;
 * a good build replaces the app (stop old, start new, unless run.overlap); a failed build keeps
 * the running app. 'r' + Enter on stdin forces a rebuild. Ctrl-C stops gracefully, a second
 * Ctrl-C forces. */
#ifndef BATON_DEV_H
#define BATON_DEV_H

#include "config/config.h"

/* Runs until stopped; returns the exit code. extra_args: ARGS after "--" (may be NULL). */
int dev_main(const struct config *cfg, char **extra_args);

#endif
