/*
 * kafka_floor: what librdkafka alone costs for a replay's messages, with no rowcast stage in the
 * way. Produces COUNT messages (KEY_BYTES and VALUE_BYTES each, over TOPICS topics) with the
 * publisher's producer settings (idempotent, acks=all, linger 1 ms, 50,000-message queue,
 * murmur2_random, a topic handle per topic, copied payloads, a delivery report per message) and
 * prints the time from the first produce to the last acknowledgement and the process's CPU time
 * (every librdkafka thread included). scripts/bench runs it with the mean sizes of the replay's
 * messages: the publisher stage cannot cost less than this.
 *
 * Usage: kafka_floor BOOTSTRAP COUNT KEY_BYTES VALUE_BYTES [TOPICS [KEY=VALUE...]]
 *   KEY=VALUE  librdkafka settings over the publisher's (to try them out before setting kafka.*)
 */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "kafka_defaults.h"

static uint64_t acked, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk, (void)opaque;
  if (m->err) failed++;
  else acked++;
}

static double now_s(void) { return (double)rc_now_ns() / 1e9; }

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: kafka_floor BOOTSTRAP COUNT KEY_BYTES VALUE_BYTES [TOPICS [KEY=VALUE...]]\n");
    return 64;
  }
  uint64_t count = strtoull(argv[2], NULL, 10);
  size_t klen = strtoul(argv[3], NULL, 10), vlen = strtoul(argv[4], NULL, 10);
  int ntopics = argc > 5 ? atoi(argv[5]) : 2;
  if (!count || !vlen || ntopics < 1 || ntopics > 64) {
    fprintf(stderr, "kafka_floor: COUNT and VALUE_BYTES must be > 0, TOPICS 1..64\n");
    return 64;
  }
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != RD_KAFKA_CONF_OK) goto conf_fail;
  for (size_t i = 0; i < sizeof rc_kafka_defaults / sizeof rc_kafka_defaults[0]; i++)
    if (rd_kafka_conf_set(conf, rc_kafka_defaults[i][0], rc_kafka_defaults[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
      goto conf_fail;
  for (int i = 6; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) {
      snprintf(err, sizeof err, "%s: not KEY=VALUE", argv[i]);
      goto conf_fail;
    }
    *eq = 0;
    if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) goto conf_fail;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "kafka_floor: %s\n", err);
    return 1;
  }
  rd_kafka_topic_t *rkt[64];
  char *val = malloc(vlen), *keys = malloc(klen ? klen : 1);
  memset(val, 'v', vlen);
  memset(keys, 'k', klen ? klen : 1);
  for (int t = 0; t < ntopics; t++) { /* topics created and known before the clock starts */
    char name[64];
    snprintf(name, sizeof name, "kafka_floor.%d", t);
    rkt[t] = rd_kafka_topic_new(rk, name, NULL);
    rd_kafka_produce(rkt[t], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, 1, NULL, 0, NULL);
  }
  rd_kafka_flush(rk, 30000);
  acked = failed = 0;
  double t0 = now_s(), c0 = cpu_s();
  for (uint64_t i = 0; i < count;) {
    if (klen >= 8) memcpy(keys, &i, 8); /* keys spread over partitions */
    if (rd_kafka_produce(rkt[i % (uint64_t)ntopics], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, vlen,
                         klen ? keys : NULL, klen, NULL) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fprintf(stderr, "kafka_floor: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return 1;
      }
      rd_kafka_poll(rk, 1); /* full: serve delivery reports, as the publisher does */
      continue;
    }
    i++;
    if (!(i & 255)) rd_kafka_poll(rk, 0);
  }
  while (acked + failed < count) rd_kafka_poll(rk, 10);
  double secs = now_s() - t0, cpu = cpu_s() - c0;
  printf("kafka_floor: %llu messages (keys %zu B, values %zu B, %d topics) acknowledged in %.2f s "
         "(%.0f messages/s), CPU %.2f s (%.2f us per message)%s\n",
         (unsigned long long)count, klen, vlen, ntopics, secs, (double)count / secs, cpu, cpu * 1e6 / (double)count,
         failed ? ", SOME FAILED" : "");
  for (int t = 0; t < ntopics; t++) rd_kafka_topic_destroy(rkt[t]);
  rd_kafka_destroy(rk);
  free(val);
  free(keys);
  return failed ? 1 : 0;
conf_fail:
  fprintf(stderr, "kafka_floor: %s\n", err);
  return 64;
}
