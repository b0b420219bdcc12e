/* baton run [-c FILE] [-- ARGS...]: production supervisor (see run.h). */
#include <stdio.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "sup/run.h"

static void help(void)
{
	printf("usage: baton run [-c FILE] [-- ARGS...]\n\n"
	       "Supervise the app with zero-downtime reloads: baton holds the listening sockets,\n"
	       "starts the next generation on them, cuts over when it is ready (READY=1, exec,\n"
	       "delay or port), drains the old one, and keeps the old one serving when the new\n"
	       "one fails (rollback).\n\n"
	       "options:\n"
	       "  -c, --config FILE  config file (default: ./baton.toml, else ./.air.toml)\n"
	       "  -h, --help         show this help\n"
	       "  -- ARGS...         appended to the app's command\n\n"
	       "signals: SIGHUP reloads; SIGTERM/SIGINT stop every generation gracefully\n"
	       "(within stop_timeout) and exit; SIGUSR2 re-executes baton in place (like\n"
	       "'baton upgrade'); SIGUSR1 is passed to the serving app.\n"
	       "control: baton reload | status [--json] | stop | upgrade  (over [control] "
	       "socket)\n");
}

int cmd_run(int argc, char **argv)
{
	return cmd_supervise("run", argc, argv, help, run_main);
}
