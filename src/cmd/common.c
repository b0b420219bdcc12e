#include "cmd/common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "obs/events.h"
#include "util/strv.h"

static struct config *load_config(const char *file, bool watch_only)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		log_error("cannot get the current directory: %m");
		return NULL;
	}
	struct config_diags diags = {0};
	struct strv notes = STRV_INIT;
	struct config *cfg = watch_only ? config_load_watch(file, cwd, &diags, &notes)
					: config_load(file, cwd, &diags, &notes);
	config_notes_print(&notes, 2);
	strv_release(&notes);
	if (!cfg) {
		config_diags_print(&diags, 2);
		log_error("invalid config: nothing started (run 'baton check' for details)");
		config_diags_release(&diags);
		return NULL;
	}
	config_diags_release(&diags);
	log_setup(LOG_INFO, (enum log_color)cfg->log.color, cfg->log.json, cfg->log.timestamps);
	if (ev_log_start() < 0) /* [log] format = "json": events are log lines too */
		log_warn("events will not be logged: out of memory");
	return cfg;
}

struct config *cmd_load_config(const char *file)
{
	return load_config(file, false);
}

struct config *cmd_load_watch_config(const char *file)
{
	return load_config(file, true);
}

int cmd_supervise(const char *cmd, int argc, char **argv, void (*help)(void),
		  int (*main_fn)(const struct config *cfg, char **extra_args))
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
				return cli_usage_error(cmd, "'%s' needs a file", a);
			file = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			file = a + 9;
		} else {
			return cli_usage_error(cmd, "unexpected argument '%s'", a);
		}
	}
	struct config *cfg = cmd_load_config(file);
	if (!cfg)
		return EXIT_FAIL;
	int rc = main_fn(cfg, extra);
	config_free(cfg);
	return rc;
}
