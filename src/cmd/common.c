#include "cmd/common.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "util/strv.h"

struct config *cmd_load_config(const char *file)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		log_error("cannot get the current directory: %m");
		return NULL;
	}
	struct config_diags diags = {0};
	struct strv notes = STRV_INIT;
	struct config *cfg = config_load(file, cwd, &diags, &notes);
	config_notes_print(&notes, 2);
	strv_clear(&notes);
	if (!cfg) {
		config_diags_print(&diags, 2);
		log_error("invalid config: nothing started (run 'baton check' for details)");
		config_diags_clear(&diags);
		return NULL;
	}
	config_diags_clear(&diags);
	log_setup(LOG_INFO, (enum log_color)cfg->log.color, cfg->log.json);
	return cfg;
}
