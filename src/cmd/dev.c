/* baton dev [-c FILE] [-- ARGS...]: the dev loop (see dev.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "dev.h"

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
	const char *file = NULL;
	char **extra = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			extra = argv + i + 1;
			break;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help();
			return EXIT_OK;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("dev", "'%s' needs a file", a);
			file = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			file = a + 9;
		} else {
			return cli_usage_error("dev", "unexpected argument '%s'", a);
		}
	}
	struct config *cfg = cmd_load_config(file);
	if (!cfg)
		return EXIT_FAIL;
	int rc = dev_main(cfg, extra);
	config_free(cfg);
	return rc;
}
