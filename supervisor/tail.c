/*
 * tail.c: the work of `rowcast tail [--config F] [-o key=value]... [--from-beginning]
 * [--topic REGEX] [--exit-at-end]` (cmd_tail.c reads the command line): reads rowcast's topics
 * as a plain Kafka consumer and prints every change as rowcast's canonical JSON line (the line
 * `rowcast decode` prints), one per message, on stdout.
 *
 * Wire formats, told apart by each value's first bytes:
 *   C3 01 + 8-byte little-endian fingerprint + datum: Avro single-object encoding. The writer
 *     schema comes from the topic <publisher.topic_prefix>._schemas (key: the fingerprint as 16
 *     lowercase hex digits, value: the schema text), read whole at start and read on to its
 *     current end when a fingerprint is unknown;
 *   00 + 4-byte big-endian id + datum: Confluent; the schema comes from schema_registry.url
 *     (GET /schemas/ids/{id}), cached;
 *   '{': serializer.format=json, the value is the line already (checked: a JSON object of a
 *     change line's shape, rc_json_change_check; anything else is not rowcast's).
 * A value that is none of these, or does not decode, is an error on stderr naming the topic,
 * partition and offset; tail goes on with the next message and exits 2 at the end.
 *
 * Partitions are assigned directly (no consumer group, nothing committed): every partition of
 * every topic matching the pattern (default ^<prefix>\., the schema topic,
 * publisher.transactions_topic and the schema history <prefix>._schema_history excluded; tombstones are counted, not printed; the BEGIN/END of
 * the transactions topic, when the pattern names it, print as their JSON), the topics listed again every second to pick up new tables. Partitions present at start begin at their
 * end (only new messages), or at their beginning with --from-beginning; partitions that appear
 * later begin at their beginning (all their messages are new); a partition read from its
 * beginning whose first message is not at offset 0 (evicted, or past retention) is named on
 * stderr with the first offset it could read. --exit-at-end stops once every
 * assigned partition has reached its end and a listing found nothing new, and gives up with an
 * error (exit 1) when Kafka answers no topic listing for 15 s.
 *
 * One event loop: poll() on librdkafka's queue (rd_kafka_queue_io_event_enable) and a signal
 * self-pipe; SIGINT/SIGTERM only set a flag and write a byte. Output is flushed per poll batch.
 * Exit status: 0, 1 (OS or Kafka failure, stdout closed), 2 (usage, configuration, or messages
 * that could not be decoded).
 */
#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_row.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "rc_err.h"
#include "registry.h"
#include "row_json.h"
#include "txn_msg.h"
#include "signals.h"

#define LIST_INTERVAL_NS 1000000000ull
#define SCHEMA_SYNC_TIMEOUT_NS 10000000000ull
#define BATCH 1000
/* --exit-at-end gives up when no topic listing succeeded for this long (Kafka unreachable) */
#define UNREACHABLE_NS 15000000000ull

typedef struct {
  uint64_t fp;
  char *schema; /* NULL: empty slot */
} fp_slot;

typedef struct {
  int id;
  char *schema; /* NULL: the registry refused (error says why), not asked again */
  char *error;
} id_slot;

typedef struct {
  char *topic;
  int32_t partition;
  int eof; /* reached its end, nothing consumed since */
  int from_start; /* assigned at its beginning, nothing read yet: say if that is not offset 0 */
} part;

typedef struct {
  int32_t partition;
  int64_t next; /* next offset to read */
} schema_part;

typedef struct {
  rc_config *cfg; /* borrowed from the caller of rc_tail_run */
  rd_kafka_t *rk; /* the change topics */
  rd_kafka_queue_t *q;
  int kafka_fd[2];
  rd_kafka_t *srk; /* the schema topic */
  rd_kafka_queue_t *sq;
  char schema_topic[256];
  char history_topic[256]; /* <prefix>._schema_history */
  const char *txn_topic; /* publisher.transactions_topic: its BEGIN/END printed as JSON, "" off */
  int default_topics;    /* no --topic: the transactions topic is left out */
  uint64_t tombstones;   /* tombstones seen (publisher.tombstones): not changes, not printed */
  schema_part *sparts;
  size_t nsparts;
  regex_t re;
  int have_re; /* re is compiled */
  int from_beginning, exit_at_end;
  const char *registry_url;
  const char *bootstrap; /* kafka.bootstrap.servers, for messages */
  fp_slot *fps;
  size_t fp_cap, fp_n;
  id_slot *ids;
  size_t nids;
  part *parts;
  size_t nparts, parts_cap;
  int listings;        /* topic listings done */
  int last_listing_new; /* the last listing added partitions */
  uint64_t next_list_ns;
  uint64_t started_ns, last_listing_ns; /* start; the last listing Kafka answered (0: none) */
  uint64_t printed, bad;
  rc_buf out;
  char last_kafka_err[512];
} tail;

static volatile sig_atomic_t stop_signal;
static int sig_fd = -1;

/* ------------------------------------------------------------------------------ schema caches */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static const char *fp_get(const tail *t, uint64_t fp) {
  if (!t->fp_cap) return NULL;
  for (size_t i = mix64(fp) & (t->fp_cap - 1);; i = (i + 1) & (t->fp_cap - 1)) {
    if (!t->fps[i].schema) return NULL;
    if (t->fps[i].fp == fp) return t->fps[i].schema;
  }
}

/* Takes ownership of schema (freed here when the fingerprint is known already). */
static int fp_put(tail *t, uint64_t fp, char *schema) {
  if (fp_get(t, fp)) {
    free(schema);
    return 0;
  }
  if ((t->fp_n + 1) * 2 > t->fp_cap) {
    size_t ncap = t->fp_cap ? t->fp_cap * 2 : 64;
    fp_slot *n = calloc(ncap, sizeof *n);
    if (!n) return RC_ERR_NOMEM;
    for (size_t k = 0; k < t->fp_cap; k++)
      if (t->fps[k].schema) {
        size_t i = mix64(t->fps[k].fp) & (ncap - 1);
        while (n[i].schema) i = (i + 1) & (ncap - 1);
        n[i] = t->fps[k];
      }
    free(t->fps);
    t->fps = n;
    t->fp_cap = ncap;
  }
  size_t i = mix64(fp) & (t->fp_cap - 1);
  while (t->fps[i].schema) i = (i + 1) & (t->fp_cap - 1);
  t->fps[i].fp = fp;
  t->fps[i].schema = schema;
  t->fp_n++;
  return 0;
}

/* The registry's schema for id, fetched once (retried a little on retriable errors; a fatal
 * answer, such as an unknown id, is remembered). */
static const char *id_get(tail *t, int id, char *err, size_t errsz) {
  for (size_t i = 0; i < t->nids; i++)
    if (t->ids[i].id == id) {
      if (!t->ids[i].schema) snprintf(err, errsz, "%s", t->ids[i].error);
      return t->ids[i].schema;
    }
  char *s = NULL;
  int r = RC_ERR_IO;
  for (int attempt = 0; attempt < 3 && r == RC_ERR_IO && !stop_signal; attempt++) {
    if (attempt) usleep(500000u << (attempt - 1));
    r = rc_registry_schema(t->registry_url, id, &s, err, errsz);
  }
  if (r == RC_ERR_IO) return NULL; /* asked again with the next message */
  id_slot *n = realloc(t->ids, (t->nids + 1) * sizeof *n);
  if (!n) {
    free(s);
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  t->ids = n;
  t->ids[t->nids].id = id;
  t->ids[t->nids].schema = s;
  t->ids[t->nids].error = r < 0 ? strdup(err) : NULL;
  if (r < 0 && !t->ids[t->nids].error) return NULL;
  return t->ids[t->nids++].schema;
}

/* ------------------------------------------------------------------------------ schema topic */

static int is_hex16(const char *k, size_t n) {
  if (n != 16) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) return 0;
  return 1;
}

static void take_schema_msg(tail *t, const rd_kafka_message_t *m) {
  for (size_t i = 0; i < t->nsparts; i++)
    if (t->sparts[i].partition == m->partition && m->offset + 1 > t->sparts[i].next) t->sparts[i].next = m->offset + 1;
  if (!is_hex16(m->key, m->key_len) || !m->payload) {
    rc_warn("%s [%d] offset %lld: not a schema record (the key must be a fingerprint in 16 lowercase hex digits, "
            "the value a schema): skipped",
            t->schema_topic, (int)m->partition, (long long)m->offset);
    return;
  }
  char hex[17];
  memcpy(hex, m->key, 16);
  hex[16] = 0;
  char *s = malloc(m->len + 1);
  if (!s) return;
  memcpy(s, m->payload, m->len);
  s[m->len] = 0;
  fp_put(t, strtoull(hex, NULL, 16), s);
}

/* Read the schema topic on to the end it has now. */
static void schema_sync(tail *t) {
  if (!t->nsparts) return;
  int64_t *hi = calloc(t->nsparts, sizeof *hi);
  if (!hi) return;
  for (size_t i = 0; i < t->nsparts; i++) {
    int64_t lo = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(t->srk, t->schema_topic, t->sparts[i].partition, &lo,
                                                             &hi[i], 5000);
    if (e) {
      rc_warn("cannot get the end of %s [%d]: %s", t->schema_topic, (int)t->sparts[i].partition, rd_kafka_err2str(e));
      hi[i] = 0;
    }
  }
  uint64_t deadline = rc_now_ns() + SCHEMA_SYNC_TIMEOUT_NS;
  for (;;) {
    int behind = 0;
    for (size_t i = 0; i < t->nsparts; i++)
      if (t->sparts[i].next < hi[i]) behind = 1;
    if (!behind || stop_signal) break;
    if (rc_now_ns() > deadline) {
      rc_warn("%s: not read to its end within %llu s", t->schema_topic,
              (unsigned long long)(SCHEMA_SYNC_TIMEOUT_NS / 1000000000ull));
      break;
    }
    rd_kafka_message_t *ms[BATCH];
    ssize_t n = rd_kafka_consume_batch_queue(t->sq, 200, ms, BATCH);
    for (ssize_t k = 0; k < n; k++) {
      if (!ms[k]->err) take_schema_msg(t, ms[k]);
      else if (ms[k]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        rc_warn("%s: %s", t->schema_topic, rd_kafka_message_errstr(ms[k]));
      rd_kafka_message_destroy(ms[k]);
    }
  }
  free(hi);
}

/* ------------------------------------------------------------------------------ topics */

static part *find_part(tail *t, const char *topic, int32_t partition) {
  for (size_t i = 0; i < t->nparts; i++)
    if (t->parts[i].partition == partition && !strcmp(t->parts[i].topic, topic)) return &t->parts[i];
  return NULL;
}

/* List the cluster's topics; assign what is new. */
static int list_topics(tail *t) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(t->rk, 1, NULL, &md, 2000);
  t->next_list_ns = rc_now_ns() + LIST_INTERVAL_NS;
  if (e) {
    rc_warn("cannot list the topics: %s", rd_kafka_err2str(e));
    return 0;
  }
  t->last_listing_ns = rc_now_ns();
  int64_t start = t->listings == 0 && !t->from_beginning ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(8), *sadd = rd_kafka_topic_partition_list_new(4);
  int err = 0;
  for (int i = 0; i < md->topic_cnt && !err; i++) {
    const rd_kafka_metadata_topic_t *mt = &md->topics[i];
    if (mt->err) continue;
    if (!strcmp(mt->topic, t->schema_topic)) {
      for (int k = 0; k < mt->partition_cnt; k++) {
        int32_t p = mt->partitions[k].id, have = 0;
        for (size_t s = 0; s < t->nsparts; s++) have |= t->sparts[s].partition == p;
        if (have) continue;
        schema_part *n = realloc(t->sparts, (t->nsparts + 1) * sizeof *n);
        if (!n) {
          err = RC_ERR_NOMEM;
          break;
        }
        t->sparts = n;
        t->sparts[t->nsparts].partition = p;
        t->sparts[t->nsparts++].next = 0;
        rd_kafka_topic_partition_list_add(sadd, mt->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      }
      continue;
    }
    if (regexec(&t->re, mt->topic, 0, NULL, 0) != 0) continue;
    if (t->default_topics && t->txn_topic[0] && !strcmp(mt->topic, t->txn_topic)) continue;
    if (t->default_topics && !strcmp(mt->topic, t->history_topic)) continue; /* table versions, not changes */
    for (int k = 0; k < mt->partition_cnt; k++) {
      int32_t p = mt->partitions[k].id;
      if (find_part(t, mt->topic, p)) continue;
      if (t->nparts == t->parts_cap) {
        size_t ncap = t->parts_cap ? t->parts_cap * 2 : 64;
        part *n = realloc(t->parts, ncap * sizeof *n);
        if (!n) {
          err = RC_ERR_NOMEM;
          break;
        }
        t->parts = n;
        t->parts_cap = ncap;
      }
      part *np = &t->parts[t->nparts];
      if (!(np->topic = strdup(mt->topic))) {
        err = RC_ERR_NOMEM;
        break;
      }
      np->partition = p;
      np->eof = 0;
      np->from_start = start == RD_KAFKA_OFFSET_BEGINNING;
      t->nparts++;
      rd_kafka_topic_partition_list_add(add, mt->topic, p)->offset = start;
    }
  }
  rd_kafka_metadata_destroy(md);
  t->listings++;
  t->last_listing_new = add->cnt > 0;
  rd_kafka_error_t *ke;
  if (!err && add->cnt && (ke = rd_kafka_incremental_assign(t->rk, add))) {
    rc_error("cannot assign %d partitions: %s", add->cnt, rd_kafka_error_string(ke));
    rd_kafka_error_destroy(ke);
    err = RC_ERR_IO;
  }
  if (!err && sadd->cnt && (ke = rd_kafka_incremental_assign(t->srk, sadd))) {
    rc_error("cannot assign %s: %s", t->schema_topic, rd_kafka_error_string(ke));
    rd_kafka_error_destroy(ke);
    err = RC_ERR_IO;
  }
  rd_kafka_topic_partition_list_destroy(add);
  rd_kafka_topic_partition_list_destroy(sadd);
  return err;
}

/* ------------------------------------------------------------------------------ messages */

static void bad_msg(tail *t, const rd_kafka_message_t *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad_msg(tail *t, const rd_kafka_message_t *m, const char *fmt, ...) {
  t->bad++;
  char what[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  rc_error("%s [%d] offset %lld: %s", rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, what);
}

/* The first message (or the end) of a partition read from its beginning: when it is not at
 * offset 0, what is printed misses the partition's oldest messages; say so, once. */
static void check_start(part *p, int64_t offset, int at_end) {
  if (!p || !p->from_start) return;
  p->from_start = 0;
  if (offset <= 0) return;
  if (at_end)
    rc_warn("topic %s partition %d no longer starts at offset 0: it holds no message now, the %lld it had "
            "are gone (evicted by rowcast's local broker, which keeps about 5 MiB per partition, or removed "
            "by the topic's retention)", p->topic, (int)p->partition, (long long)offset);
  else
    rc_warn("topic %s partition %d no longer starts at offset 0: the first message it could read is at "
            "offset %lld, the %lld before it are gone (evicted by rowcast's local broker, which keeps about "
            "5 MiB per partition, or removed by the topic's retention)",
            p->topic, (int)p->partition, (long long)offset, (long long)offset);
}

static void take_msg(tail *t, const rd_kafka_message_t *m) {
  part *p = find_part(t, rd_kafka_topic_name(m->rkt), m->partition);
  check_start(p, m->offset, 0);
  if (p) p->eof = 0;
  const uint8_t *v = m->payload;
  size_t n = m->payload ? m->len : 0;
  char err[1024];
  const char *schema = NULL;
  const uint8_t *datum = NULL;
  size_t dlen = 0;
  if (!v) { /* a tombstone (publisher.tombstones) says so in its headers; it is not a change */
    rd_kafka_headers_t *h = NULL;
    const void *tv = NULL;
    size_t tn = 0;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h &&
        rd_kafka_header_get_last(h, "rowcast.tombstone", &tv, &tn) == RD_KAFKA_RESP_ERR_NO_ERROR && tn == 4 &&
        !memcmp(tv, "true", 4)) {
      t->tombstones++;
      return;
    }
    bad_msg(t, m, "the message has no value");
    return;
  }
  int txn = t->txn_topic[0] && !strcmp(rd_kafka_topic_name(m->rkt), t->txn_topic);
  if (n >= 10 && v[0] == 0xC3 && v[1] == 0x01) {
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--) fp = fp << 8 | v[i];
    if (!(schema = fp_get(t, fp))) { /* list first: the schema topic may have appeared just now */
      if (list_topics(t) == 0) schema_sync(t);
      schema = fp_get(t, fp);
    }
    if (!schema) {
      bad_msg(t, m, "no schema with fingerprint %016llx in %s%s", (unsigned long long)fp, t->schema_topic,
              t->nsparts ? "" : " (no such topic)");
      return;
    }
    datum = v + 10;
    dlen = n - 10;
  } else if (n >= 5 && v[0] == 0) {
    int id = (int)((uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4]);
    if (!t->registry_url[0]) {
      bad_msg(t, m, "Confluent-framed (schema id %d) but schema_registry.url is not set", id);
      return;
    }
    if (!(schema = id_get(t, id, err, sizeof err))) {
      bad_msg(t, m, "%s", err);
      return;
    }
    datum = v + 5;
    dlen = n - 5;
  } else if (n > 0 && v[0] == '{') {
    char f[256];
    uint64_t o;
    uint32_t r;
    if (txn ? rc_txn_position(NULL, v, n, f, sizeof f, &o, &r, err, sizeof err) < 0
            : rc_json_change_check((const char *)v, n, err, sizeof err) < 0) {
      bad_msg(t, m, "%s", err);
      return;
    }
    rc_buf_put(&t->out, v, n);
    if (v[n - 1] != '\n') rc_buf_putc(&t->out, '\n');
    t->printed++;
    return;
  } else {
    if (n) bad_msg(t, m, "not an Avro single-object, Confluent or JSON value (first byte 0x%02x, %zu bytes)", v[0], n);
    else bad_msg(t, m, "not an Avro single-object, Confluent or JSON value (an empty value)");
    return;
  }
  size_t mark = t->out.len;
  if ((txn ? rc_txn_value_to_json : rc_avro_value_to_json)(schema, datum, dlen, &t->out, err, sizeof err) < 0) {
    t->out.len = mark;
    bad_msg(t, m, "cannot decode the Avro value: %s", err);
    return;
  }
  t->printed++;
}

static void kafka_error(tail *t, const rd_kafka_message_t *m) {
  const char *s = rd_kafka_message_errstr(m);
  char text[512];
  if (m->rkt)
    snprintf(text, sizeof text, "%s [%d]: %s", rd_kafka_topic_name(m->rkt), (int)m->partition, s);
  else
    snprintf(text, sizeof text, "%s", s);
  if (!strcmp(text, t->last_kafka_err)) return; /* the same error again while brokers are down */
  snprintf(t->last_kafka_err, sizeof t->last_kafka_err, "%s", text);
  rc_warn("kafka: %s", text);
}

/* Everything queued now; then write it out. -1: stdout failed, -2: fatal Kafka error. */
static int drain(tail *t) {
  char c[64];
  while (read(t->kafka_fd[0], c, sizeof c) > 0) {
  }
  rd_kafka_message_t *ms[BATCH];
  ssize_t n;
  int fatal = 0;
  while ((n = rd_kafka_consume_batch_queue(t->q, 0, ms, BATCH)) > 0) {
    for (ssize_t k = 0; k < n; k++) {
      rd_kafka_message_t *m = ms[k];
      if (!m->err) take_msg(t, m);
      else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part *p = m->rkt ? find_part(t, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
        check_start(p, m->offset, 1);
        if (p) p->eof = 1;
      } else {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) fatal = 1;
        kafka_error(t, m);
      }
      rd_kafka_message_destroy(m);
    }
    if (t->out.len > (4u << 20)) break; /* write what we have; the io event fires again */
  }
  if (t->out.len) {
    if (fwrite(t->out.p, 1, t->out.len, stdout) != t->out.len || fflush(stdout) != 0) return -1;
    t->out.len = 0;
  }
  if (n > 0 || rd_kafka_queue_length(t->q) > 0) { /* left for the next round */
    char b = 1;
    ssize_t w = write(t->kafka_fd[1], &b, 1);
    (void)w;
  }
  return fatal ? -2 : 0;
}

static int all_at_end(const tail *t) {
  if (t->listings < 2 || t->last_listing_new) return 0;
  for (size_t i = 0; i < t->nparts; i++)
    if (!t->parts[i].eof) return 0;
  return 1;
}

/* ------------------------------------------------------------------------------ set-up */

static rd_kafka_t *new_consumer(tail *t, const char *group, char *err, size_t errsz) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  static const char *defaults[][2] = {
      {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"}, {"log.connection.close", "false"},
  };
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err, errsz) != RD_KAFKA_CONF_OK) goto fail;
  if (rd_kafka_conf_set(conf, "group.id", group, err, errsz) != RD_KAFKA_CONF_OK) goto fail;
  for (size_t i = 0; i < rc_config_kafka_count(t->cfg); i++) {
    const char *k = rc_config_kafka_key(t->cfg, i), *v = rc_config_kafka_value(t->cfg, i);
    char e2[512];
    if (rd_kafka_conf_set(conf, k, v, e2, sizeof e2) != RD_KAFKA_CONF_OK) {
      snprintf(err, errsz, "configuration kafka.%s=%s: %s", k, rc_config_kafka_shown(t->cfg, i), e2);
      goto fail;
    }
  }
  /* these two are ours: the consumer must see partition ends, and never commit */
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errsz);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
  if (!rk) goto fail;
  rd_kafka_poll_set_consumer(rk); /* errors and events come with the messages */
  return rk;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* ^<prefix>\. with the prefix's regex characters escaped */
static void default_pattern(const char *prefix, char *out, size_t size) {
  size_t o = 0;
  out[o++] = '^';
  for (const char *c = prefix; *c && o + 4 < size; c++) {
    if (strchr(".[]()*+?{}|^$\\", *c)) out[o++] = '\\';
    out[o++] = *c;
  }
  out[o++] = '\\';
  out[o++] = '.';
  out[o] = 0;
}

/* Everything rc_tail_run needs before the first message: the topic pattern, the two
 * consumers and their queues, the signal pipe; the first listing and the schema topic read.
 * Returns 0, or the exit status (2 configuration, 1 operating system or Kafka) after saying why. */
static int tail_open(tail *t, const char *pattern) {
  char err[1024], pat[512];
  const char *prefix = rc_config_str(t->cfg, "publisher.topic_prefix");
  t->registry_url = rc_config_str(t->cfg, "schema_registry.url");
  snprintf(t->schema_topic, sizeof t->schema_topic, "%s._schemas", prefix);
  snprintf(t->history_topic, sizeof t->history_topic, "%s._schema_history", prefix);
  t->txn_topic = rc_config_str(t->cfg, "publisher.transactions_topic");
  t->default_topics = !pattern;
  if (!pattern) {
    default_pattern(prefix, pat, sizeof pat);
    pattern = pat;
  }
  int rerr = regcomp(&t->re, pattern, REG_EXTENDED | REG_NOSUB);
  if (rerr) {
    regerror(rerr, &t->re, err, sizeof err);
    fprintf(stderr, "rowcast tail: --topic %s: %s\n", pattern, err);
    return 2;
  }
  t->have_re = 1;
  int have_bootstrap = 0;
  for (size_t i = 0; i < rc_config_kafka_count(t->cfg); i++)
    if (!strcmp(rc_config_kafka_key(t->cfg, i), "bootstrap.servers")) {
      have_bootstrap = 1;
      t->bootstrap = rc_config_kafka_value(t->cfg, i);
    }
  if (!have_bootstrap) {
    fprintf(stderr, "rowcast tail: set kafka.bootstrap.servers (-o kafka.bootstrap.servers=host:port, or in the "
                    "[kafka] section of --config)\n");
    return 2;
  }
  char group[64];
  snprintf(group, sizeof group, "rowcast-tail-%d", (int)getpid()); /* never joined: partitions are assigned */
  if (!(t->rk = new_consumer(t, group, err, sizeof err)) || !(t->srk = new_consumer(t, group, err, sizeof err))) {
    fprintf(stderr, "rowcast tail: %s\n", err);
    return 2;
  }
  t->q = rd_kafka_queue_get_consumer(t->rk);
  t->sq = rd_kafka_queue_get_consumer(t->srk);
  if (!t->q || !t->sq || pipe2(t->kafka_fd, O_CLOEXEC | O_NONBLOCK) != 0 ||
      (sig_fd = rc_signals_catch(&stop_signal, 0)) < 0)
    return 1;
  rd_kafka_queue_io_event_enable(t->q, t->kafka_fd[1], "1", 1);
  if (list_topics(t) < 0) return 1;
  schema_sync(t); /* the schema topic, whole, before the first message */
  return 0;
}

/* Print what comes until a signal (or the end, with --exit-at-end). Returns the exit status. */
static int tail_loop(tail *t) {
  int status = 0;
  while (!stop_signal) {
    uint64_t now = rc_now_ns();
    if (now >= t->next_list_ns && list_topics(t) < 0) {
      status = 1;
      break;
    }
    int r = drain(t);
    if (r == -1) {
      status = 1; /* stdout closed: nobody reads any more */
      break;
    }
    if (r == -2) {
      rc_error("Kafka reported a fatal error: stopping");
      status = 1;
      break;
    }
    if (t->exit_at_end && all_at_end(t)) break;
    if (t->exit_at_end && rc_now_ns() - (t->last_listing_ns ? t->last_listing_ns : t->started_ns) > UNREACHABLE_NS) {
      rc_error("Kafka (%s) did not answer for %llu s: cannot read the topics to their end (--exit-at-end)",
               t->bootstrap, (unsigned long long)(UNREACHABLE_NS / 1000000000ull));
      status = 1;
      break;
    }
    now = rc_now_ns();
    int wait_ms = t->next_list_ns > now ? (int)((t->next_list_ns - now) / 1000000) + 1 : 0;
    struct pollfd pf[2] = {{t->kafka_fd[0], POLLIN, 0}, {sig_fd, POLLIN, 0}};
    if (poll(pf, 2, wait_ms) < 0 && errno != EINTR) {
      status = 1;
      break;
    }
  }
  if (t->tombstones) rc_info("%llu tombstones (deleted keys, null values) not printed", (unsigned long long)t->tombstones);
  if (t->bad) {
    rc_error("%llu of %llu messages could not be decoded (see above)", (unsigned long long)t->bad,
             (unsigned long long)(t->bad + t->printed));
    if (!status) status = 2;
  }
  return status;
}

/* Free everything tail_open made (not the configuration: the caller's). */
static void tail_close(tail *t) {
  if (t->q) rd_kafka_queue_destroy(t->q);
  if (t->sq) rd_kafka_queue_destroy(t->sq);
  if (t->rk) {
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
  }
  if (t->srk) {
    rd_kafka_consumer_close(t->srk);
    rd_kafka_destroy(t->srk);
  }
  for (int i = 0; i < 2; i++)
    if (t->kafka_fd[i] >= 0) close(t->kafka_fd[i]);
  rc_signals_close();
  if (t->have_re) regfree(&t->re);
  for (size_t i = 0; i < t->fp_cap; i++) free(t->fps[i].schema);
  free(t->fps);
  for (size_t i = 0; i < t->nids; i++) {
    free(t->ids[i].schema);
    free(t->ids[i].error);
  }
  free(t->ids);
  for (size_t i = 0; i < t->nparts; i++) free(t->parts[i].topic);
  free(t->parts);
  free(t->sparts);
  rc_buf_free(&t->out);
  rc_avro_decoder_cache_free();
}

int rc_tail_run(const rc_tail_opts *opts) {
  tail t;
  memset(&t, 0, sizeof t);
  t.kafka_fd[0] = t.kafka_fd[1] = -1;
  t.cfg = opts->cfg;
  t.from_beginning = opts->from_beginning;
  t.exit_at_end = opts->exit_at_end;
  t.started_ns = rc_now_ns();
  int status = tail_open(&t, opts->topic_pattern);
  if (status == 0) status = tail_loop(&t);
  tail_close(&t);
  return status;
}
