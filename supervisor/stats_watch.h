/*
 * stats_watch.h: `rowcast stats --watch`, a live view of a running group, refreshed every
 * interval: per stage process (the reader, each serializer worker, the publisher, the local
 * broker) its rate, CPU, memory, queue, time blocked, lag, and where the reader is.
 *
 * Called by cmd_stats.c. Reads <state.dir>/stats.json (stats_read.h) and, for CPU and memory,
 * /proc/<pid> of each stage (the group runs on this machine: the state dir is local).
 */
#ifndef RC_STATS_WATCH_H
#define RC_STATS_WATCH_H

/*
 * Refresh every interval_ms until SIGINT/SIGTERM (exit 0) or the group ends (says so, exit
 * 0). On a terminal the screen is cleared and redrawn (ANSI); otherwise each refresh writes
 * one plain line per stage, no escape codes. When no group is running on state_dir at the
 * start, says so on stderr and returns 1.
 */
int rc_stats_watch(const char *state_dir, int interval_ms);

#endif
