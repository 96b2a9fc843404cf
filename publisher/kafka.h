/*
 * kafka.h: the publisher's librdkafka producer (private to the publisher): configured with
 * rowcast's defaults (kafka_defaults.h), then the kafka.* keys, delivery reports as events on
 * the main queue, librdkafka's log through rowcast's; and the position headers of a message.
 */
#ifndef RC_PUB_KAFKA_H
#define RC_PUB_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"

/* A producer with opaque as its opaque; *max_msgs is its queue.buffering.max.messages (what can
 * be in flight). Returns RC_EXIT_OK with *rk owned by the caller, or an exit status after
 * logging why (RC_EXIT_CONFIG for a kafka.* key librdkafka refuses). */
int pub_kafka_new(rc_config *cfg, void *opaque, rd_kafka_t **rk, uint64_t *max_msgs);

/* kafka.bootstrap.servers, as configured (or set by the supervisor for its local broker). */
const char *pub_bootstrap_of(rc_config *cfg);

/* The headers rowcast.file, rowcast.offset, rowcast.row, rowcast.gtid (when glen) and, for a
 * tombstone, rowcast.tombstone: true. Owned by the caller until librdkafka takes them. */
rd_kafka_headers_t *pub_position_headers(const char *file, size_t flen, uint64_t offset, uint32_t row,
                                         const char *gtid, size_t glen, int tombstone);

#endif
