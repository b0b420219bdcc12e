/* Command-line entry: subcommand dispatch, usage, exit codes (0 ok, 1 failure, 2 usage). */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include "core/version.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cli_main(int argc, char **argv);
/* Print "baton: usage error: <msg>" and a pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
