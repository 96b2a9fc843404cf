/* kafka.c: the publisher's librdkafka producer and message headers (kafka.h). */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_defaults.h"
#include "log.h"
#include "stage.h"

const char *pub_bootstrap_of(rc_config *cfg) {
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++)
    if (!strcmp(rc_config_kafka_key(cfg, i), "bootstrap.servers")) return rc_config_kafka_value(cfg, i);
  return "(no kafka.bootstrap.servers)";
}

/* librdkafka's own log lines, through rowcast's logger (syslog levels: 3 error, 4 warning). */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  if (level <= 3) rc_error("Kafka: %s: %s", fac, buf);
  else if (level <= 5) rc_warn("Kafka: %s: %s", fac, buf);
  else rc_debug("Kafka: %s: %s", fac, buf);
}

int pub_kafka_new(rc_config *cfg, void *opaque, rd_kafka_t **rk, uint64_t *max_msgs) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* rowcast's defaults (kafka_defaults.h); kafka.* overrides */
  for (size_t i = 0; i < sizeof rc_kafka_defaults / sizeof rc_kafka_defaults[0]; i++)
    if (rd_kafka_conf_set(conf, rc_kafka_defaults[i][0], rc_kafka_defaults[i][1], err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      rc_error("librdkafka default %s=%s: %s", rc_kafka_defaults[i][0], rc_kafka_defaults[i][1], err);
      rd_kafka_conf_destroy(conf);
      return RC_EXIT_FAILURE;
    }
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++) {
    const char *k = rc_config_kafka_key(cfg, i), *v = rc_config_kafka_value(cfg, i);
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      rc_error("configuration kafka.%s=%s: %s", k, rc_config_kafka_shown(cfg, i), err);
      rd_kafka_conf_destroy(conf);
      return RC_EXIT_CONFIG;
    }
  }
  char qmax[32];
  size_t qlen = sizeof qmax;
  *max_msgs = 100000;
  if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", qmax, &qlen) == RD_KAFKA_CONF_OK)
    *max_msgs = strtoull(qmax, NULL, 10);
  rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR); /* served by serve_events */
  rd_kafka_conf_set_log_cb(conf, on_kafka_log);
  rd_kafka_conf_set_opaque(conf, opaque);
  *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err); /* owns conf on success */
  if (!*rk) {
    rd_kafka_conf_destroy(conf);
    rc_error("cannot start the Kafka producer: %s", err);
    return RC_EXIT_CONFIG;
  }
  return RC_EXIT_OK;
}

rd_kafka_headers_t *pub_position_headers(const char *file, size_t flen, uint64_t offset, uint32_t row,
                                         const char *gtid, size_t glen, int tombstone) {
  char num[24];
  rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
  rd_kafka_header_add(hdrs, "rowcast.file", -1, file, (ssize_t)flen);
  int n = snprintf(num, sizeof num, "%llu", (unsigned long long)offset);
  rd_kafka_header_add(hdrs, "rowcast.offset", -1, num, n);
  n = snprintf(num, sizeof num, "%u", row);
  rd_kafka_header_add(hdrs, "rowcast.row", -1, num, n);
  if (glen) rd_kafka_header_add(hdrs, "rowcast.gtid", -1, gtid, (ssize_t)glen);
  if (tombstone) rd_kafka_header_add(hdrs, "rowcast.tombstone", -1, "true", 4);
  return hdrs;
}
