#include "cmd/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/fdlimit.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv); /* NULL: not in this build yet */
	const char *synopsis;
	const char *summary;
};

static const struct command commands[] = {
	{"dev", cmd_dev, "[-c FILE] [-- ARGS...]", "watch, build, restart (the dev loop)"},
	{"run", cmd_run, "[-c FILE] [-- ARGS...]",
	 "supervise with zero-downtime reloads (production)"},
	{"reload", cmd_reload, "[-c FILE | -s SOCKET]",
	 "ask a running baton to reload; waits for the result"},
	{"status", cmd_status, "[-c FILE | -s SOCKET] [--json]",
	 "generations, pids, states, listeners"},
	{"stop", cmd_stop, "[-c FILE | -s SOCKET]", "graceful stop of a running baton"},
	{"upgrade", cmd_upgrade, "[-c FILE | -s SOCKET]", "re-execute a running baton in place"},
	{"promote", cmd_promote, "[-c FILE | -s SOCKET]", "a running rollout skips to 100 %"},
	{"abort", cmd_abort, "[-c FILE | -s SOCKET]", "a running rollout rolls back now"},
	{"rollback", cmd_rollback, "[-c FILE | -s SOCKET]",
	 "blue-green: back to the old generation"},
	{"check", cmd_check, "[-c FILE] [--print]", "validate the config; exit 0 valid, 1 not"},
	{"watch", cmd_watch, "[-c FILE] [PATH...]",
	 "print the change batches the watcher would act on"},
	{"init", cmd_init, "[--force]", "write a commented baton.toml for this project"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "baton %s - hot reload and zero-downtime restarts for web services\n\n",
		BATON_VERSION);
	fprintf(f, "usage: baton <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %-31s %s\n", commands[i].name, commands[i].synopsis,
			commands[i].summary);
	fprintf(f,
		"\noptions:\n"
		"  -h, --help     show this help (baton <command> --help for a command)\n"
		"  -V, --version  print the version\n\n"
		"Config: -c FILE, else ./baton.toml, else ./.air.toml, else zero-config defaults\n"
		"for a Go main package. Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "baton: usage error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'baton %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr), EXIT_USAGE;
	const char *a = argv[1];
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
		printf("baton %s\n", BATON_VERSION);
		return EXIT_OK;
	}
	/* every command may hold many fds (forwarded connections, watches): children get the
	 * original soft limit back (fdlimit.h) */
	(void)fdlimit_raise();
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(a, commands[i].name) != 0)
			continue;
		if (!commands[i].fn) {
			fprintf(stderr, "baton: '%s' is not available in this build yet\n", a);
			return EXIT_FAIL;
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	return cli_usage_error(NULL, "unknown command '%s'", a);
}
