/* `baton run`: production supervision with zero-downtime reloads. Policy on top of app.c:
 * generations overlap (N+1 starts on the same sockets, N drains once N+1 is ready, N+1's failure
 * rolls back to N); reloads come from SIGHUP and `baton reload` (control socket), coalesce, and
 * every requester gets the result of the reload that covered its request. systemd is told
 * READY=1, RELOADING=1 + MONOTONIC_USEC, STATUS= and STOPPING=1 when NOTIFY_SOCKET is set. */
#ifndef BATON_RUN_H
#define BATON_RUN_H

#include "config/config.h"

int run_main(const struct config *cfg, char **extra_args);

#endif
