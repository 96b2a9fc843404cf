/* group.h: the supervisor (group.c): runs the stages of rowcast as one process group, for
 * `rowcast replay` and `rowcast run` (cmd_replay.c, cmd_run.c). */
#ifndef RC_GROUP_H
#define RC_GROUP_H

#include "config.h"

/*
 * Start the group — publisher, serializer.workers serializers, reader — over files[0..nfiles)
 * (replay), or over the live server of source.* when nfiles is 0 (run); watch it, restart it
 * from the checkpoint after a crash, drain it on SIGTERM/SIGINT. Without kafka.bootstrap.servers
 * it starts rowcast's local broker. On success of a replay it prints the summary on stdout.
 *
 * cfg stays the caller's; run.dir and kafka.bootstrap.servers are set in it. Returns the exit
 * status: 0 all published, 1 an operating-system failure or too many restarts, 2 a
 * configuration or data error (a stage exited 2, or a directory cannot be made).
 */
int rc_group_run(rc_config *cfg, char **files, int nfiles);

#endif
