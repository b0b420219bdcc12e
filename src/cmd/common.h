/* Helpers shared by the long-running subcommands (dev, run, watch). */
#ifndef BATON_CMD_COMMON_H
#define BATON_CMD_COMMON_H

#include "config/config.h"

/* Load the config as `baton check` would (file may be NULL for discovery), print notes and
 * every error to stderr, and set up logging from [log]. NULL when invalid. */
struct config *cmd_load_config(const char *file);
/* The same for `baton watch`: a file with only [watch] is fine (no run.cmd). */
struct config *cmd_load_watch_config(const char *file);

/* The shape shared by `baton dev` and `baton run`: [-c FILE] [-h] [-- ARGS...]; load the
 * config and hand it to main_fn. Returns the exit code. */
int cmd_supervise(const char *cmd, int argc, char **argv, void (*help)(void),
		  int (*main_fn)(const struct config *cfg, char **extra_args));

#endif
