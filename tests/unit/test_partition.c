/*
 * test_partition.c: rowcast's partitioner (common/pipeline/partition.c) against librdkafka's own
 * murmur2 partitioner (the Java client's), which it must match for every key; and positions
 * (common/pipeline/position.c).
 */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "position.h"
#include "rc_test.h"

/* Kafka's own test vectors (Utils.murmur2 of these strings, from the Java client's tests). */
static void test_murmur2_vectors(void) {
  RC_CHECK(rc_murmur2("21", 2) == -973932308);
  RC_CHECK(rc_murmur2("foobar", 6) == -790332482);
  RC_CHECK(rc_murmur2("a-little-bit-long-string", 24) == -985981536);
  RC_CHECK(rc_murmur2("a-little-bit-longer-string", 26) == -1486304829);
  RC_CHECK(rc_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48) == -58897971);
  RC_CHECK(rc_murmur2("abc", 3) == 479470107);
}

/* Random keys of every length 0..64 and partition counts 1..300: the same partition as
 * librdkafka's murmur2 partitioner. */
static void test_matches_librdkafka(void) {
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err); /* no broker: nothing to say */
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  RC_CHECK(rk != NULL);
  if (!rk) return;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "t", NULL);
  unsigned seed = 12345;
  uint8_t key[64];
  int mismatches = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = (size_t)(rand_r(&seed) % 65);
    for (size_t i = 0; i < n; i++) key[i] = (uint8_t)rand_r(&seed);
    int32_t parts = 1 + rand_r(&seed) % 300;
    int32_t want = rd_kafka_msg_partitioner_murmur2(rkt, key, n, parts, NULL, NULL);
    if (rc_partition_of(key, n, "t", 1, parts) != want) mismatches++;
  }
  RC_CHECK(mismatches == 0);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
}

/* A change without a key goes to its topic's partition, the same every time. */
static void test_keyless(void) {
  const char *t = "rowcast.shop.log";
  int32_t p = rc_partition_of(NULL, 0, t, strlen(t), 12);
  RC_CHECK(p >= 0 && p < 12);
  RC_CHECK(p == (int32_t)(((uint32_t)rc_murmur2(t, strlen(t)) & 0x7fffffffu) % 12));
  RC_CHECK(rc_partition_of(NULL, 0, t, strlen(t), 1) == 0);
}

static void test_positions(void) {
  RC_CHECK(rc_pos_file_seq("mariadb-bin.000042", 18) == 42);
  RC_CHECK(rc_pos_file_seq("binlog.1000000", 14) == 1000000);
  RC_CHECK(rc_pos_file_seq("binlog", 6) == -1);
  RC_CHECK(rc_pos_file_seq("binlog.", 7) == -1);
  RC_CHECK(rc_pos_file_seq("binlog.00a1", 11) == -1);
  /* binlog.999999 before binlog.1000000, although "9" > "1" as text */
  rc_pos a = {999999, 4000, 0, 0}, b = {1000000, 4, 0, 0};
  RC_CHECK(rc_pos_cmp(&a, &b) < 0 && rc_pos_cmp(&b, &a) > 0);
  rc_pos c = {7, 100, 3, 0}, d = {7, 100, 4, 0}, e = {7, 101, 0, 0};
  RC_CHECK(rc_pos_cmp(&c, &d) < 0 && rc_pos_cmp(&d, &e) < 0 && rc_pos_cmp(&c, &c) == 0);
}

void rc_tests(void) {
  RC_RUN(test_murmur2_vectors);
  RC_RUN(test_matches_librdkafka);
  RC_RUN(test_keyless);
  RC_RUN(test_positions);
}
