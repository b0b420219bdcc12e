/* Helpers shared by the long-running subcommands (dev, run, watch). */
#ifndef BATON_CMD_COMMON_H
#define BATON_CMD_COMMON_H

#include "config.h"

/* Load the config as `baton check` would (file may be NULL for discovery), print notes and
 * every error to stderr, and set up logging from [log]. NULL when invalid. */
struct config *cmd_load_config(const char *file);

#endif
