/*
 * kafka_floor: what librdkafka alone costs for a replay's messages, with no rowcast stage in the
 * way, for each way of driving it that rowcast has tried. Produces COUNT messages (KEY_BYTES and
 * VALUE_BYTES each, over TOPICS topics, keys spread over the partitions) with the publisher's
 * producer settings (kafka_defaults.h: idempotent, acks=all, linger 1 ms, 50,000-message queue),
 * a fresh producer per mode, and prints for each the time from the first produce to the last
 * acknowledgement and the process's CPU time over that span (every librdkafka thread included),
 * then the CPU time of the producer's whole life (rd_kafka_new to rd_kafka_destroy, metadata and
 * the topics included): the publisher's figure is its whole process's, start and stop included:
 *
 *   a  rd_kafka_produce, one call a message, payload copied, librdkafka's partitioner, a delivery
 *      report callback per message (the publisher before issue 11)
 *   b  rd_kafka_produce_batch, 1,000 a call, copied, librdkafka's partitioner
 *   c  rd_kafka_produce_batch, not copied (the payload stays in the caller's buffer until its
 *      report), librdkafka's partitioner
 *   d  rd_kafka_produce_batch, not copied, partition chosen by the caller (rc_partition_of, a batch
 *      per topic-partition): what the publisher does, so this is the floor under it
 *
 * b to d take delivery reports as events, an array at a time (rd_kafka_event_message_array).
 * scripts/bench runs it with the mean sizes of the replay's messages.
 *
 * Every message has its own payload bytes (COUNT x VALUE_BYTES of memory, written before the
 * clock starts), as every change has in the publisher's frames: librdkafka copies each into its
 * request buffers, and one cached buffer for all would make that look cheaper than it is. --hot
 * uses one buffer for every payload instead (the figure the first floor was measured with).
 *
 * --rate N hands the messages over at N a second (b to d: a batch of 1,000 when a source of that
 * rate would have them ready, delivery reports served in between), as a pipeline does that
 * feeds the publisher no faster than it reads: librdkafka then sends smaller requests than it
 * does flat out, and each message costs more.
 *
 * Usage: kafka_floor [--mode a|b|c|d|all] [--hot] [--rate N] BOOTSTRAP COUNT KEY_BYTES VALUE_BYTES [TOPICS [KEY=VALUE...]]
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
#include "partition.h"

#define BATCH 1000
#define MAX_TOPICS 64
#define MAX_PARTS 256

typedef struct {
  const char *bootstrap;
  uint64_t count;
  size_t klen, vlen;
  int ntopics;
  char **extra; /* KEY=VALUE settings */
  int nextra;
  char *val;   /* the payloads: COUNT of them one after another, or one for all with --hot */
  int hot;
  double rate; /* --rate: messages a second, handed over in batches at that pace (0: flat out) */
} floor_opts;

/* The payload of message no: its own bytes, as each change's value is in the publisher's frames
 * (so librdkafka reads COUNT x VALUE_BYTES of memory, not one cached buffer). */
static inline char *payload_of(const floor_opts *o, uint64_t no) { return o->hot ? o->val : o->val + no * o->vlen; }

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

/* A producer with the publisher's settings; events: delivery reports as events, else callbacks. */
static rd_kafka_t *producer(const floor_opts *o, int events) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  int ok = rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, err, sizeof err) == RD_KAFKA_CONF_OK;
  for (size_t i = 0; ok && i < sizeof rc_kafka_defaults / sizeof rc_kafka_defaults[0]; i++)
    ok = rd_kafka_conf_set(conf, rc_kafka_defaults[i][0], rc_kafka_defaults[i][1], err, sizeof err) == RD_KAFKA_CONF_OK;
  for (int i = 0; ok && i < o->nextra; i++) {
    char kv[256];
    snprintf(kv, sizeof kv, "%s", o->extra[i]);
    char *eq = strchr(kv, '=');
    if (!eq) {
      snprintf(err, sizeof err, "%s: not KEY=VALUE", kv);
      ok = 0;
      break;
    }
    *eq = 0;
    ok = rd_kafka_conf_set(conf, kv, eq + 1, err, sizeof err) == RD_KAFKA_CONF_OK;
  }
  if (!ok) {
    fprintf(stderr, "kafka_floor: %s\n", err);
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  if (events) rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR);
  else rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) fprintf(stderr, "kafka_floor: %s\n", err);
  return rk;
}

/* Delivery reports waiting as events (up to timeout_ms for the first). */
static void serve_events(rd_kafka_queue_t *q, int timeout_ms) {
  rd_kafka_event_t *ev;
  while ((ev = rd_kafka_queue_poll(q, timeout_ms))) {
    timeout_ms = 0;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
      const rd_kafka_message_t *ms[512];
      size_t n;
      while ((n = rd_kafka_event_message_array(ev, ms, 512)) > 0)
        for (size_t i = 0; i < n; i++) ms[i]->err ? failed++ : acked++;
    }
    rd_kafka_event_destroy(ev);
  }
}

/* Hand msgs[0..n) to librdkafka, all of one topic, waiting while its queue is full. */
static int batch_all(rd_kafka_topic_t *rkt, int32_t part, int flags, rd_kafka_message_t *msgs, int n,
                     rd_kafka_queue_t *q) {
  int done = 0;
  while (done < n) {
    int good = rd_kafka_produce_batch(rkt, part, flags, msgs + done, n - done);
    int k = done;
    while (k < n && !msgs[k].err) k++;
    if (good == n - done) break;
    if (msgs[k].err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      fprintf(stderr, "kafka_floor: produce_batch: %s\n", rd_kafka_err2str(msgs[k].err));
      return -1;
    }
    done = k;
    serve_events(q, 1); /* full: serve delivery reports, as the publisher does */
  }
  return 0;
}

/* One mode over every message: 0, or -1 (said why). */
static int run_mode(const floor_opts *o, char mode, rd_kafka_t *rk, rd_kafka_topic_t **rkt, const int32_t *nparts) {
  static rd_kafka_message_t msgs[MAX_PARTS][BATCH];
  static int nm[MAX_PARTS];
  static uint8_t keys[BATCH][64];
  rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
  int copy = mode == 'a' || mode == 'b' ? RD_KAFKA_MSG_F_COPY : 0;
  int rc = 0;
  double t0 = (double)rc_now_ns() / 1e9;
  for (uint64_t i = 0; i < o->count && !rc;) {
    if (mode == 'a') {
      if (o->klen >= 8) memcpy(keys[0], &i, 8); /* keys spread over partitions */
      if (rd_kafka_produce(rkt[i % (uint64_t)o->ntopics], RD_KAFKA_PARTITION_UA, copy, payload_of(o, i), o->vlen,
                           o->klen ? keys[0] : NULL, o->klen, NULL) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          fprintf(stderr, "kafka_floor: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
          rc = -1;
        }
        rd_kafka_poll(rk, 1);
        continue;
      }
      i++;
      if (!(i & 255)) rd_kafka_poll(rk, 0);
      continue;
    }
    /* one topic a call, BATCH messages (keys copied by librdkafka whatever the flags) */
    int t = (int)((i / BATCH) % (uint64_t)o->ntopics);
    uint64_t n = o->count - i < BATCH ? o->count - i : BATCH;
    memset(nm, 0, sizeof nm);
    for (uint64_t k = 0; k < n; k++) {
      uint64_t no = i + k;
      if (o->klen >= 8) memcpy(keys[k], &no, 8);
      const void *key = o->klen ? keys[k] : NULL;
      int32_t part = RD_KAFKA_PARTITION_UA, g = 0;
      if (mode == 'd') g = part = rc_partition_of(key, o->klen, rd_kafka_topic_name(rkt[t]),
                                                  strlen(rd_kafka_topic_name(rkt[t])), nparts[t]);
      msgs[g][nm[g]++] = (rd_kafka_message_t){.partition = part, .payload = payload_of(o, no), .len = o->vlen,
                                              .key = (void *)key, .key_len = o->klen};
    }
    for (int g = 0; g < (mode == 'd' ? nparts[t] : 1) && !rc; g++)
      if (nm[g])
        rc = batch_all(rkt[t], mode == 'd' ? g : RD_KAFKA_PARTITION_UA, copy | (mode == 'd' ? RD_KAFKA_MSG_F_PARTITION : 0),
                       msgs[g], nm[g], q);
    i += n;
    serve_events(q, 0);
    /* --rate: the next batch when a pipeline feeding this many a second would hand it over,
     * delivery reports served meanwhile */
    for (double due = t0 + (double)i / o->rate; o->rate > 0;) {
      double left = due - (double)rc_now_ns() / 1e9;
      if (left <= 0) break;
      serve_events(q, (int)(left * 1000) + 1);
    }
  }
  while (!rc && acked + failed < o->count) {
    if (mode == 'a') rd_kafka_poll(rk, 10);
    else serve_events(q, 10);
  }
  rd_kafka_queue_destroy(q);
  return rc;
}

static const char *mode_name(char m) {
  switch (m) {
  case 'a': return "produce, one a call, copied";
  case 'b': return "produce_batch, copied";
  case 'c': return "produce_batch, not copied";
  default: return "produce_batch, not copied, partition by caller (the publisher's way)";
  }
}

/* A fresh producer, the topics known before the clock starts, then the mode. */
static int measure(const floor_opts *o, char mode) {
  double life0 = cpu_s();
  rd_kafka_t *rk = producer(o, mode != 'a');
  if (!rk) return 64;
  rd_kafka_topic_t *rkt[MAX_TOPICS];
  int32_t nparts[MAX_TOPICS];
  int rc = 0;
  for (int t = 0; t < o->ntopics; t++) {
    char name[64];
    snprintf(name, sizeof name, "kafka_floor.%d", t);
    rkt[t] = rd_kafka_topic_new(rk, name, NULL);
    const struct rd_kafka_metadata *md = NULL;
    nparts[t] = 0;
    for (int tries = 0; tries < 20 && nparts[t] <= 0; tries++) /* auto-created at the first ask */
      if (rd_kafka_metadata(rk, 0, rkt[t], &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && !md->topics[0].err) nparts[t] = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
      }
    if (nparts[t] <= 0 || nparts[t] > MAX_PARTS) {
      fprintf(stderr, "kafka_floor: no usable partition count for %s (%d)\n", name, nparts[t]);
      rc = 1;
    }
  }
  double secs = 0, cpu = 0;
  if (!rc) {
    acked = failed = 0;
    double t0 = now_s(), c0 = cpu_s();
    rc = run_mode(o, mode, rk, rkt, nparts) < 0 ? 1 : 0;
    secs = now_s() - t0, cpu = cpu_s() - c0;
  }
  for (int t = 0; t < o->ntopics; t++) rd_kafka_topic_destroy(rkt[t]);
  rd_kafka_destroy(rk);
  /* the producer's whole life too (start, metadata, stop): the publisher's CPU figure counts its
   * whole process, so this is the one to hold it against */
  double life = cpu_s() - life0;
  if (!rc)
    printf("kafka_floor (%c) %s: %llu messages (keys %zu B, values %zu B, %d topics) acknowledged in %.2f s "
           "(%.0f messages/s), CPU %.2f s (%.2f us per message); with the producer's start and stop %.3f s "
           "(%.2f us)%s\n",
           mode, mode_name(mode), (unsigned long long)o->count, o->klen, o->vlen, o->ntopics, secs,
           (double)o->count / secs, cpu, cpu * 1e6 / (double)o->count, life, life * 1e6 / (double)o->count,
           failed ? ", SOME FAILED" : "");
  if (failed) rc = 1;
  return rc;
}

int main(int argc, char **argv) {
  const char *modes = "abcd";
  int hot = 0;
  double rate = 0;
  for (;;) {
    if (argc > 2 && !strcmp(argv[1], "--mode")) {
      modes = strcmp(argv[2], "all") ? argv[2] : "abcd";
      argc -= 2, argv += 2;
    } else if (argc > 2 && !strcmp(argv[1], "--rate")) {
      rate = atof(argv[2]);
      argc -= 2, argv += 2;
    } else if (argc > 1 && !strcmp(argv[1], "--hot")) {
      hot = 1;
      argc--, argv++;
    } else {
      break;
    }
  }
  if (argc < 5 || strspn(modes, "abcd") != strlen(modes) || !*modes) {
    fprintf(stderr, "usage: kafka_floor [--mode a|b|c|d|all] [--hot] [--rate N] BOOTSTRAP COUNT KEY_BYTES VALUE_BYTES "
                    "[TOPICS [KEY=VALUE...]]\n");
    return 64;
  }
  floor_opts o = {.bootstrap = argv[1], .count = strtoull(argv[2], NULL, 10), .klen = strtoul(argv[3], NULL, 10),
                  .vlen = strtoul(argv[4], NULL, 10), .ntopics = argc > 5 ? atoi(argv[5]) : 2,
                  .extra = argv + 6, .nextra = argc > 6 ? argc - 6 : 0, .hot = hot,
                  .rate = rate};
  if (!o.count || !o.vlen || o.klen > 64 || o.ntopics < 1 || o.ntopics > MAX_TOPICS) {
    fprintf(stderr, "kafka_floor: COUNT and VALUE_BYTES must be > 0, KEY_BYTES at most 64, TOPICS 1..%d\n",
            MAX_TOPICS);
    return 64;
  }
  size_t pool = o.hot ? o.vlen : o.vlen * o.count;
  if (!o.hot && pool / o.count != o.vlen) return 64;
  if (!(o.val = malloc(pool))) {
    fprintf(stderr, "kafka_floor: cannot allocate %zu bytes of payloads (try --hot)\n", pool);
    return 1;
  }
  for (size_t i = 0; i < pool; i++) o.val[i] = (char)('a' + i % 23); /* touched before the clock starts */
  int rc = 0;
  for (const char *m = modes; *m && !rc; m++) rc = measure(&o, *m);
  free(o.val);
  return rc;
}
