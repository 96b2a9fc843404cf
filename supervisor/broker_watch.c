/*
 * broker_watch.c: the local broker's eviction watch (broker_watch.h), and the status file's
 * reading for stats.json.
 *
 * The watcher is a plain librdkafka producer handle (it produces nothing) connected to the
 * broker's own bootstrap list. A tick asks for the metadata of every topic, then the end
 * offsets of all their partitions in one ListOffsets round (rd_kafka_offsets_for_times with
 * the special timestamp RD_KAFKA_OFFSET_END, which the mock cluster answers with the
 * partition's end offset); only when an end moved does it ask the earliest offsets
 * (RD_KAFKA_OFFSET_BEGINNING: the log start offset) of the partitions it has not reported yet.
 * A partition reported is never asked again: one warning per partition, not a flood. An idle
 * broker costs a metadata request and one ListOffsets round per tick.
 */
#include "broker_watch.h"

#include "broker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "rc_err.h"

#define WATCH_TIMEOUT_MS 1000

typedef struct {
  char *topic;
  int32_t partition;
  int64_t end, first; /* first: the earliest offset once it moved past 0 */
  int evicted;        /* reported */
} wpart;

struct rc_broker_watch {
  rd_kafka_t *rk;
  char *status_path;
  wpart *parts;
  size_t n, cap;
  int64_t messages;
};

void rc_broker_evicted_text(char *out, size_t size, const char *topic, int partition, long long first,
                            long long end) {
  snprintf(out, size,
           "topic %s partition %d lost its oldest messages: the local broker keeps about 5 MiB per "
           "partition and evicted offsets 0 to %lld; it holds offsets %lld to %lld now, so a consumer "
           "reading from the beginning misses the first %lld. To keep more, spread the topic over more "
           "partitions (rowcast broker --topic %s --partitions N, then kafka.bootstrap.servers=its "
           "address) or replay into a real Kafka",
           topic, partition, first - 1, first, end - 1, first, topic);
}

rc_broker_watch *rc_broker_watch_new(const char *bootstraps, const char *status_path, char *errstr,
                                     size_t errstr_size) {
  rc_broker_watch *w = calloc(1, sizeof *w);
  if (!w || (status_path && !(w->status_path = strdup(status_path)))) {
    free(w);
    rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "broker watch: out of memory");
    return NULL;
  }
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, errstr_size) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "client.id", "rowcast-broker-watch", errstr, errstr_size) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, errstr_size) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    rc_broker_watch_free(w);
    return NULL;
  }
  char e[512];
  if (!(w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e))) { /* on success it owns conf */
    rd_kafka_conf_destroy(conf);
    rc_errf(RC_ERR_IO, errstr, errstr_size, "broker watch: %s", e);
    rc_broker_watch_free(w);
    return NULL;
  }
  return w;
}

void rc_broker_watch_free(rc_broker_watch *w) {
  if (!w) return;
  if (w->rk) rd_kafka_destroy(w->rk);
  for (size_t i = 0; i < w->n; i++) free(w->parts[i].topic);
  free(w->parts);
  free(w->status_path);
  free(w);
}

static wpart *find(rc_broker_watch *w, const char *topic, int32_t partition) {
  for (size_t i = 0; i < w->n; i++)
    if (w->parts[i].partition == partition && !strcmp(w->parts[i].topic, topic)) return &w->parts[i];
  return NULL;
}

/* The partitions of every topic the cluster has now (internal "__" topics aside). 0 or -1. */
static int learn_partitions(rc_broker_watch *w) {
  const struct rd_kafka_metadata *md = NULL;
  if (rd_kafka_metadata(w->rk, 1, NULL, &md, WATCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  for (int t = 0; t < md->topic_cnt; t++) {
    const rd_kafka_metadata_topic_t *mt = &md->topics[t];
    if (mt->err || !strncmp(mt->topic, "__", 2)) continue;
    for (int k = 0; k < mt->partition_cnt; k++) {
      if (find(w, mt->topic, mt->partitions[k].id)) continue;
      if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        wpart *np = realloc(w->parts, ncap * sizeof *np);
        if (!np) break;
        w->parts = np;
        w->cap = ncap;
      }
      char *name = strdup(mt->topic);
      if (!name) break;
      w->parts[w->n++] = (wpart){.topic = name, .partition = mt->partitions[k].id};
    }
  }
  rd_kafka_metadata_destroy(md);
  return 0;
}

/* Ask one ListOffsets round: `which` is RD_KAFKA_OFFSET_END or _BEGINNING; with `only_unreported`
 * only the partitions not reported yet that hold messages. The answers land in the returned
 * list (the caller's to destroy), NULL when nothing was asked or the round failed. */
static rd_kafka_topic_partition_list_t *ask_offsets(rc_broker_watch *w, int64_t which, int only_unreported) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)w->n + 1);
  for (size_t i = 0; i < w->n; i++) {
    const wpart *p = &w->parts[i];
    if (only_unreported && (p->evicted || p->end <= 0)) continue;
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = which;
  }
  if (l->cnt == 0 || rd_kafka_offsets_for_times(w->rk, l, WATCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(l);
    return NULL;
  }
  return l;
}

static void write_status(rc_broker_watch *w) {
  if (!w->status_path) return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", w->status_path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    rc_broker_log("cannot write %s: %s", tmp, strerror(errno));
    return;
  }
  fprintf(f, "time_ns %llu\nmessages %lld\n", (unsigned long long)rc_now_ns(), (long long)w->messages);
  for (size_t i = 0; i < w->n; i++)
    if (w->parts[i].evicted)
      fprintf(f, "evicted %d %lld %lld %s\n", (int)w->parts[i].partition, (long long)w->parts[i].first,
              (long long)w->parts[i].end, w->parts[i].topic);
  if (fclose(f) != 0 || rename(tmp, w->status_path) != 0) {
    rc_broker_log("cannot write %s: %s", w->status_path, strerror(errno));
  }
}

void rc_broker_watch_tick(rc_broker_watch *w) {
  if (learn_partitions(w) < 0) return; /* the next tick asks again */
  rd_kafka_topic_partition_list_t *l = ask_offsets(w, RD_KAFKA_OFFSET_END, 0);
  if (!l) return;
  int moved = 0;
  int64_t messages = 0;
  for (int i = 0; i < l->cnt; i++) {
    wpart *p = find(w, l->elems[i].topic, l->elems[i].partition);
    if (!p || l->elems[i].err || l->elems[i].offset < 0) continue;
    moved |= l->elems[i].offset != p->end;
    p->end = l->elems[i].offset;
    messages += p->end;
  }
  rd_kafka_topic_partition_list_destroy(l);
  w->messages = messages;
  if (!moved) {
    write_status(w); /* a few lines: its time says the broker is alive, for the rate */
    return;
  }
  if ((l = ask_offsets(w, RD_KAFKA_OFFSET_BEGINNING, 1))) {
    for (int i = 0; i < l->cnt; i++) {
      wpart *p = find(w, l->elems[i].topic, l->elems[i].partition);
      if (!p || l->elems[i].err || l->elems[i].offset <= 0) continue;
      p->evicted = 1;
      p->first = l->elems[i].offset;
      char text[1024];
      rc_broker_evicted_text(text, sizeof text, p->topic, (int)p->partition, (long long)p->first, (long long)p->end);
      rc_broker_log("warning: %s", text);
    }
    rd_kafka_topic_partition_list_destroy(l);
  }
  write_status(w);
}

/* ---- the status file, for stats.json ------------------------------------------------------ */

void rc_broker_status_json(FILE *f, const char *status_path, pid_t pid, int running) {
  fprintf(f, ",\"broker\":{\"pid\":%d,\"running\":%d", (int)pid, running);
  FILE *in = status_path ? fopen(status_path, "r") : NULL;
  if (!in) {
    fputc('}', f);
    return;
  }
  char line[512], warnings[8192] = "";
  size_t wlen = 0;
  int nev = 0;
  while (fgets(line, sizeof line, in)) {
    long long v, first, end;
    int part;
    char topic[256];
    if (sscanf(line, "messages %lld", &v) == 1) {
      fprintf(f, ",\"messages\":%lld", v);
    } else if (sscanf(line, "time_ns %lld", &v) == 1) {
      fprintf(f, ",\"time_ns\":%lld", v);
    } else if (sscanf(line, "evicted %d %lld %lld %255s", &part, &first, &end, topic) == 4) {
      /* Kafka topic names are [A-Za-z0-9._-]; anything else would not be JSON as it is */
      for (char *c = topic; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
      fprintf(f, "%s{\"topic\":\"%s\",\"partition\":%d,\"first_offset\":%lld,\"end_offset\":%lld}",
              nev++ ? "," : ",\"evicted\":[", topic, part, first, end);
      char text[1024];
      rc_broker_evicted_text(text, sizeof text, topic, part, first, end);
      int n = snprintf(warnings + wlen, sizeof warnings - wlen, "%s\"%s\"", wlen ? "," : "", text);
      if (n > 0 && (size_t)n < sizeof warnings - wlen) wlen += (size_t)n;
      else warnings[wlen] = 0; /* the evicted list above still names them all */
    }
  }
  fclose(in);
  if (nev) fputc(']', f);
  fputc('}', f);
  if (wlen) fprintf(f, ",\"warnings\":[%s]", warnings);
}
