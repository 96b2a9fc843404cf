/*
 * schema_topic.h: the schema history in Kafka, kept by the supervisor (group.c) for `run` and
 * `replay`: every table version rowcast-schema records in <state.dir>/schema_history is also
 * published to the topic <publisher.topic_prefix>._schema_history, and a history file that is
 * gone is rebuilt from that topic before the stages start.
 *
 * Off the hot path: the tracker only appends to its file (as before); the supervisor looks at
 * the file once a second, publishes the lines appended since its last look (key `db`.`table`@
 * FILE:OFFSET, the version's identity; value the line) and, once Kafka has acknowledged them,
 * records how far it got in <state.dir>/schema_history.published. A crash between the two sends
 * some versions again: harmless, since the topic is compacted by key and a version's key and
 * value never change. The topic is created compacted with one partition (every version goes to
 * partition 0, so the topic keeps the history's order) when the cluster lets rowcast create it;
 * the first publication of a run asks Kafka's metadata first (blocking up to 2 s when Kafka
 * does not answer, once per run).
 *
 * Both are on when schema.tracker=auto and schema.history_topic=true (rc_schema_topic_enabled).
 */
#ifndef RC_SCHEMA_TOPIC_H
#define RC_SCHEMA_TOPIC_H

#include <signal.h>

#include "config.h"

typedef struct rc_schema_topic rc_schema_topic;

/* rc_schema_topic_rebuild's answer when a stop signal came while it read the topic. */
#define RC_SCHEMA_TOPIC_STOPPED (-1)

/* Does this configuration keep the schema history in Kafka? */
int rc_schema_topic_enabled(const rc_config *cfg);

/*
 * When <state_dir>/schema_history does not exist and the topic holds versions, write the file
 * from them (the last message of each key, in the order of their binlog positions), and
 * record it as published. Logged; nothing to do when the file exists, the topic does not,
 * there is no checkpoint (a fresh start takes its first schema where it starts), or
 * empty_broker (rowcast's local broker, started empty by this run). Kafka is reached with cfg's
 * kafka.* settings; while it does not answer (rowcast cannot tell whether there is a history to
 * rebuild), the attempt is logged and made again, with a delay doubling to 30 s, until *stop.
 * Returns 0, RC_SCHEMA_TOPIC_STOPPED when *stop was set, or an exit status after logging why: 1
 * when the topic cannot be read to its end or the file cannot be written, 2 for a message in the
 * topic that is not a version rowcast wrote.
 */
int rc_schema_topic_rebuild(rc_config *cfg, const char *state_dir, int empty_broker, volatile sig_atomic_t *stop);

/* The publisher of the history file (NULL when rc_schema_topic_enabled says no, or out of
 * memory: then logged). local_broker: Kafka is rowcast's local broker, which cannot create
 * topics. cfg and state_dir are borrowed for its life. */
rc_schema_topic *rc_schema_topic_new(rc_config *cfg, const char *state_dir, int local_broker);
/* Call often (every wake-up of the supervisor's loop): serves librdkafka's callbacks, and once
 * a second publishes what the file gained. Never blocks. */
void rc_schema_topic_tick(rc_schema_topic *st);
/* The last look, after the stages stopped: publish what is left and wait (up to about 10 s)
 * for Kafka's acknowledgements; what is not acknowledged is logged and sent at the next start.
 * Frees st (NULL: nothing). */
void rc_schema_topic_close(rc_schema_topic *st);

#endif
