/*
 * recovery_prepare.h: the supervisor's half of the exactly-once recovery (recovery.c). Before the group
 * starts, on the first start and before every restart after a crash, rc_recovery_prepare reads
 * the last message Kafka holds in every partition of every topic the group wrote to (the topic
 * list, <state.dir>/topics), decodes the position of its change and writes the skip table
 * <run.dir>/skip that the publisher reads (common/pipeline/recovery.h): the publisher then drops
 * every re-read change Kafka already has. Called by group.c (start_group). (Not named
 * recovery.h: that is the pipeline layer's header of the topic list and the skip table.)
 */
#ifndef RC_RECOVERY_PREPARE_H
#define RC_RECOVERY_PREPARE_H

#include <signal.h>

#include "config.h"

/* rc_recovery_prepare's answer when a stop signal arrived while it waited for Kafka. */
#define RC_RECOVERY_STOPPED (-1)

/*
 * Write <run_dir>/skip for the group about to start, or remove it when there is nothing to
 * skip: no checkpoint and no topic list (a first run sends everything), or empty_broker (Kafka
 * is rowcast's local broker, started empty by this run: it holds nothing). Kafka is reached with
 * cfg's kafka.* settings, as the publisher reaches it. While Kafka does not answer, it logs which
 * partitions and which brokers, and tries again with a growing delay, until *stop is set.
 *
 * cfg stays the caller's. Returns 0 (the skip table is in place), RC_RECOVERY_STOPPED, or an exit
 * status after logging why: 2 for what a restart cannot mend (a listed topic deleted or with
 * fewer partitions now, a message that is not rowcast's, an unreadable state file), 1 for an
 * operating-system failure.
 */
int rc_recovery_prepare(rc_config *cfg, const char *state_dir, const char *run_dir, int empty_broker,
                        volatile sig_atomic_t *stop);

#endif
