/*
 * commands.h: the subcommands of `rowcast`, one cmd_<name>.c each, dispatched by main.c's
 * command table. Each reads its own command line (argv[0] is the subcommand's name; see
 * cli.h) and hands the work to the module that does it: decode.c, tail.c, broker.c, group.c.
 *
 * Every one returns the process exit status: 0 success, 1 an operating-system or Kafka
 * failure, 2 bad usage, configuration or input (do not retry without changing something).
 * `rowcast CMD --help` prints the command's usage on stdout and returns 0.
 */
#ifndef RC_COMMANDS_H
#define RC_COMMANDS_H

int rc_cmd_replay(int argc, char **argv); /* cmd_replay.c */
int rc_cmd_run(int argc, char **argv);    /* cmd_run.c */
int rc_cmd_stats(int argc, char **argv);  /* cmd_stats.c */
int rc_cmd_config(int argc, char **argv); /* cmd_config.c */
int rc_cmd_decode(int argc, char **argv); /* cmd_decode.c */
int rc_cmd_tail(int argc, char **argv);   /* cmd_tail.c */
int rc_cmd_broker(int argc, char **argv); /* cmd_broker.c */

#endif
