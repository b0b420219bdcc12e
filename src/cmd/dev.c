/* baton dev [-c FILE] [-- ARGS...]: the dev loop (see dev.h). */
#include <stdio.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "sup/dev.h"

static void help(void)
{
	printf("usage: baton dev [-c FILE] [-- ARGS...]\n\n"
	       "Watch the source tree, rebuild on every change and restart the app, holding its\n"
	       "listening sockets so that no request is refused meanwhile. A failed build keeps\n"
	       "the running app; a newer change cancels a build in progress.\n\n"
	       "options:\n"
	       "  -c, --config FILE  config file (default: ./baton.toml, else ./.air.toml, else\n"
	       "                     zero-config defaults for a Go main package)\n"
	       "  -h, --help         show this help\n"
	       "  -- ARGS...         appended to the app's command\n\n"
	       "keys: 'r' + Enter rebuilds now; Ctrl-C stops the app gracefully, a second Ctrl-C\n"
	       "forces. SIGHUP also rebuilds.\n");
}

int cmd_dev(int argc, char **argv)
{
	return cmd_supervise("dev", argc, argv, help, dev_main);
}
