/*
 * stats_read.h: reading the live figures a running group writes once a second to
 * <state.dir>/stats.json (group.c's write_stats): the group, one entry per stage process
 * (stage, worker, pid and its snapshot's counters), the local broker, the warnings.
 *
 * Called by cmd_stats.c (`rowcast stats`, `rowcast stats --watch`) and by whatever else shows
 * the stages' figures; it parses with jansson and keeps nothing between calls.
 */
#ifndef RC_STATS_READ_H
#define RC_STATS_READ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RC_STATS_MAX_STAGES 80

typedef struct {
  const char *stage; /* "reader", "serializer", "publisher" (points into root) */
  int worker;
  pid_t pid;
  json_t *o; /* the stage's object, borrowed from root: its counters by name */
} rc_stats_stage;

typedef struct {
  json_t *root;            /* the whole file (owned: rc_stats_free) */
  pid_t pid;               /* the supervisor */
  double uptime_s;
  uint64_t mtime_ns;       /* when the file was last written (wall clock) */
  rc_stats_stage st[RC_STATS_MAX_STAGES];
  int n;
  json_t *broker;          /* the local broker's object, or NULL (borrowed) */
  json_t *warnings;        /* an array of strings, or NULL (borrowed) */
} rc_stats;

/* Read <state_dir>/stats.json into *s. Returns 0; RC_STATS_NONE when there is no file
 * (errstr says where it was looked for); a negative rc_err_t when it cannot be read or parsed
 * (errstr names the file and the line). Unless 0, *s holds nothing to free. */
#define RC_STATS_NONE 1
int rc_stats_read(const char *state_dir, rc_stats *s, char *errstr, size_t errstr_size);
void rc_stats_free(rc_stats *s);

/* A counter of a stage (or of the broker object), 0 when it is absent. */
uint64_t rc_stats_u64(const json_t *o, const char *name);
/* Is the counter there at all? */
int rc_stats_has(const json_t *o, const char *name);
/* A string field ("file", "gtid", "stalled"), "" when absent. */
const char *rc_stats_str(const json_t *o, const char *name);

/* Is the group that wrote *s still running: its supervisor alive and still a `rowcast`
 * (/proc/<pid>/cmdline; where /proc cannot tell, the file rewritten within `fresh_ms`)? */
int rc_stats_running(const rc_stats *s, uint64_t fresh_ms);

#endif
