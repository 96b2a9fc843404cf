/* group.h: the supervisor's commands: replay (run the pipeline over captured files), stats,
 * config. See group.c. argv[0] is the command name; each returns the exit status. */
#ifndef RC_GROUP_H
#define RC_GROUP_H

int rc_cmd_replay(int argc, char **argv);
int rc_cmd_stats(int argc, char **argv);
int rc_cmd_config(int argc, char **argv);
/* The long-running service over the live server of source.*. */
int rc_cmd_run(int argc, char **argv);

#endif
