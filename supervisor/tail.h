/*
 * tail.h: the work of `rowcast tail`, a Kafka consumer that prints rowcast's messages as
 * canonical JSON lines (docs/json-mapping.md), whatever their wire format: Avro single-object
 * (schemas from the <prefix>._schemas topic), Confluent (schemas from schema_registry.url) or
 * plain JSON. cmd_tail.c reads the command line and calls rc_tail_run().
 */
#ifndef RC_TAIL_H
#define RC_TAIL_H

#include "config.h"

typedef struct {
  rc_config *cfg;            /* kafka.*, publisher.topic_prefix, schema_registry.url (borrowed) */
  const char *topic_pattern; /* POSIX extended regex of the topics; NULL: ^<prefix>\. */
  int from_beginning;        /* partitions present at start from their beginning, not their end */
  int exit_at_end;           /* stop once every partition is read to its end */
} rc_tail_opts;

/* Consume and print until SIGINT/SIGTERM (or the end, with exit_at_end). Returns the exit
 * status: 0, 1 (OS or Kafka failure, stdout closed), 2 (configuration, or messages that could
 * not be decoded). The configuration stays the caller's. */
int rc_tail_run(const rc_tail_opts *opts);

#endif
