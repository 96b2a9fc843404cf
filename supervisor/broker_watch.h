/*
 * broker_watch.h: the local broker watching itself for evicted messages. librdkafka's mock
 * cluster keeps about 5 MiB per partition and drops the oldest message sets without a word;
 * the watcher, a client handle of the broker process connected to its own cluster, notices
 * when a partition's earliest offset has moved past 0, says so once per partition in the
 * broker's log, and records it in a status file the supervisor copies into stats.json.
 *
 * Called by broker.c (rc_broker_run: new, then tick every couple of seconds, then free) and
 * group.c (rc_broker_status_json, reading the status file the broker it started writes).
 */
#ifndef RC_BROKER_WATCH_H
#define RC_BROKER_WATCH_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct rc_broker_watch rc_broker_watch;

/*
 * A watcher of the cluster at `bootstraps` (the broker's own address list). `status_path`
 * (may be NULL: log only) is rewritten (atomically) at each tick:
 *   time_ns T                       (CLOCK_MONOTONIC of the tick)
 *   messages N                      (messages appended so far, all partitions)
 *   evicted PARTITION FIRST END TOPIC   (one line per partition that lost messages)
 * Returns the watcher, or NULL with errstr filled.
 */
rc_broker_watch *rc_broker_watch_new(const char *bootstraps, const char *status_path, char *errstr,
                                     size_t errstr_size);

/* One look: the end offsets of every partition of every topic; when any moved, the earliest
 * offsets of the partitions not yet reported; a warning for each that moved past 0. Blocks
 * at most about a second (a local round trip in practice). */
void rc_broker_watch_tick(rc_broker_watch *w);

void rc_broker_watch_free(rc_broker_watch *w);

/*
 * Write, for stats.json, `"broker":{"pid":P,"running":0|1,"time_ns":T,"messages":N,"evicted":[...]}` and,
 * when a partition was evicted, `,"warnings":["..."]`, from the status file at `status_path`;
 * a leading comma before each. Without the file (not written yet) only pid and running.
 */
void rc_broker_status_json(FILE *f, const char *status_path, pid_t pid, int running);

/* The warning text for one evicted partition (the log line and stats.json say the same). */
void rc_broker_evicted_text(char *out, size_t size, const char *topic, int partition, long long first,
                            long long end);

#endif
