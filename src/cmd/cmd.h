/* One function per subcommand; each parses its own options (argv[0] is the subcommand name)
 * and returns the process exit code. */
#ifndef BATON_CMD_H
#define BATON_CMD_H

int cmd_check(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_abort(int argc, char **argv);
int cmd_rollback(int argc, char **argv);

#endif
