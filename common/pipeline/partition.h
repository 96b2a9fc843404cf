/*
 * partition.h: which Kafka partition a change goes to, computed by rowcast itself so that it is
 * the same on every run (the exactly-once recovery relies on it: a change re-read after a crash
 * maps to the partition it was written to before).
 *
 * A keyed change goes where Kafka's Java client puts the same key bytes: murmur2 (Kafka's
 * variant, seed 0x9747b28c), made positive, modulo the partition count; Kafka Streams and Java
 * consumers co-partition with it. A change without a key (a table without a primary key, or a
 * key column absent from the row image) goes to the partition its topic's name maps to the same
 * way: all of a keyless table's changes share one partition, in commit order.
 *
 * Used by the publisher; the partitioner is also exposed for tests and tools.
 */
#ifndef RC_PARTITION_H
#define RC_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of n bytes (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit
 * value the way Java sees it. */
int32_t rc_murmur2(const void *p, size_t n);

/* The partition of a message: of its key when key is not NULL, else of its topic's name.
 * nparts >= 1. */
static inline int32_t rc_partition_of(const void *key, size_t klen, const char *topic, size_t tlen,
                                      int32_t nparts) {
  int32_t h = key ? rc_murmur2(key, klen) : rc_murmur2(topic, tlen);
  return (int32_t)(((uint32_t)h & 0x7fffffffu) % (uint32_t)nparts);
}

#endif
