/*
 * kafka_defaults.h: rowcast's librdkafka producer settings, before the kafka.* keys of the
 * configuration override them: nothing lost, nothing reordered, memory bounded. The publisher
 * uses them, and tools/kafka_floor.c measures librdkafka alone with the very same.
 */
#ifndef RC_KAFKA_DEFAULTS_H
#define RC_KAFKA_DEFAULTS_H

static const char *const rc_kafka_defaults[][2] = {
    {"enable.idempotence", "true"},            {"acks", "all"},
    {"message.timeout.ms", "0"},               {"linger.ms", "1"},
    {"queue.buffering.max.messages", "50000"}, {"queue.buffering.max.kbytes", "16384"},
    {"partitioner", "murmur2_random"},         {"compression.codec", "none"},
};

#endif
