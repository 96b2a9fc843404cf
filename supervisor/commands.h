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

#include <stddef.h>

int rc_cmd_replay(int argc, char **argv); /* cmd_replay.c */
int rc_cmd_run(int argc, char **argv);    /* cmd_run.c */
int rc_cmd_stats(int argc, char **argv);  /* cmd_stats.c */
int rc_cmd_config(int argc, char **argv); /* cmd_config.c */
int rc_cmd_decode(int argc, char **argv); /* cmd_decode.c */
int rc_cmd_tail(int argc, char **argv);   /* cmd_tail.c */
int rc_cmd_broker(int argc, char **argv); /* cmd_broker.c */
int rc_cmd_snapshot(int argc, char **argv); /* cmd_snapshot.c */
/* Leave <state>/snapshot.request for the tables (comma-separated patterns): 0, 1 when one is
 * pending already (left as it is), or < 0 with err (cmd_snapshot.c). */
int rc_snapshot_request(const char *state, const char *tables, char *err, size_t esz);

#endif
