/*
 * recovery.c: rc_recovery_prepare (recovery_prepare.h), the supervisor's half of exactly-once:
 * before the stages start, the position of the last change Kafka holds in every partition the
 * group may have written to since its checkpoint, written to the skip table <run.dir>/skip.
 *
 * One consumer, no group (partitions assigned, nothing committed). Every partition of every
 * topic of the topic list (the partition count recorded there, the one its changes were mapped
 * with) is assigned at RD_KAFKA_OFFSET_TAIL(1): librdkafka finds each end and fetches the last
 * message, all partitions at once; an empty partition answers with its end (partition EOF). The
 * schema topic <publisher.topic_prefix>._schemas is assigned in the same consumer from its
 * beginning, read to its end: it is small, and Avro single-object values name their writer
 * schema by fingerprint there. Confluent-framed values get theirs from schema_registry.url.
 *
 * An attempt that Kafka does not answer within ATTEMPT_MS is logged (which partitions, which
 * brokers) and tried again with a delay doubling to BACKOFF_MAX_MS; the stop flag (SIGTERM,
 * SIGINT) is looked at every POLL_MS.
 *
 * A partition whose last change is before the checkpoint (the first event of the first
 * transaction not fully acknowledged) holds nothing the resumed stream can repeat: it is left out
 * of the skip table. Only changes past the checkpoint are compared, position against position,
 * and only those need the positions of the server that wrote them. So after a clean stop (every
 * change checkpointed) the skip table is empty, and a resume by GTID on another server of the
 * topology (source.gtid_resume, a failover), whose binlog files and offsets are its own, skips
 * nothing; without this, its changes were compared with the old server's positions and dropped
 * wherever those compared lower. A crash before such a resume still compares positions of two
 * servers: that is warned about. What a retry cannot mend stops rowcast with exit 2: a listed
 * topic gone or with fewer partitions than recorded, a last message that is not rowcast's.
 *
 * A partition may also end with a tombstone (publisher.tombstones): no value, the delete's
 * position in its headers, and it comes right after its delete (rc_pos.sub 1), so a crash
 * between the two sends the tombstone once. The transactions topic (publisher.transactions_topic)
 * holds BEGIN/END messages, whose positions rc_txn_position reads (txn_msg.h).
 */
#include "recovery_prepare.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_row.h"
#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "position.h"
#include "rc_err.h"
#include "recovery.h"
#include "registry.h"
#include "row_json.h"
#include "txn_msg.h"

#define ATTEMPT_MS 10000
#define POLL_MS 100
#define BACKOFF_MAX_MS 30000
#define BATCH 1000
#define RETRY 3 /* an attempt's answer: Kafka did not answer, try again (exit statuses are 1 and 2) */

typedef struct {
  const char *topic; /* the topic list's */
  int32_t partition;
  size_t st;   /* its topic's index in the skip table (whose array moves as topics are added) */
  int done;    /* its last message, or its end, came */
  int64_t offset;
  int before_cp; /* its last change is before the checkpoint: not in the skip table */
  void *value; /* a copy of the last message's value, NULL when the partition is empty */
  size_t len;
  int tombstone; /* the last message has no value and says it is a tombstone: position below */
  char t_file[256];
  uint64_t t_offset;
  uint32_t t_row;
} rpart;

typedef struct {
  uint64_t fp;
  char *text;
} fp_schema;

typedef struct {
  int id;
  char *text;
} id_schema;

typedef struct {
  rc_config *cfg;
  const char *state_dir;
  volatile sig_atomic_t *stop;
  const char *brokers;
  char schema_topic[256];
  const char *txn_topic; /* publisher.transactions_topic, "" off */
  rc_topic_list tl;
  rc_skip skip;
  rpart *p;
  size_t np;
  int32_t schema_parts; /* partitions of the schema topic, 0 when it does not exist */
  int schema_eofs;      /* of them, read to their end */
  fp_schema *fps;
  size_t nfps;
  id_schema *ids;
  size_t nids;
  char last_kafka_err[512];
  int have_cp_pos; /* cp_pos is the checkpoint's position (its file name ends in .NUMBER) */
  rc_pos cp_pos;
} recov;

/* ---------------------------------------------------------------------------- Kafka */

static rd_kafka_t *new_consumer(recov *r, char *err, size_t es) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char group[64];
  snprintf(group, sizeof group, "rowcast-recovery-%d", (int)getpid()); /* never joined */
  for (size_t i = 0; i < rc_config_kafka_count(r->cfg); i++) {
    const char *k = rc_config_kafka_key(r->cfg, i), *v = rc_config_kafka_value(r->cfg, i);
    char e2[512];
    if (rd_kafka_conf_set(conf, k, v, e2, sizeof e2) != RD_KAFKA_CONF_OK) {
      snprintf(err, es, "configuration kafka.%s=%s: %s", k, rc_config_kafka_shown(r->cfg, i), e2);
      rd_kafka_conf_destroy(conf);
      return NULL;
    }
  }
  /* ours: a consumer that sees partition ends and never commits */
  static const char *const own[][2] = {{"group.id", NULL},
                                       {"enable.partition.eof", "true"},
                                       {"enable.auto.commit", "false"},
                                       {"enable.auto.offset.store", "false"},
                                       {"log.connection.close", "false"},
                                       /* an empty partition answers at once, not after 500 ms */
                                       {"fetch.wait.max.ms", "10"}};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (rd_kafka_conf_set(conf, own[i][0], own[i][1] ? own[i][1] : group, err, es) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return NULL;
    }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, es);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

static int stopped(const recov *r) { return *r->stop != 0; }

/* The cluster's metadata, asked in POLL_MS-sized waits so that a stop is seen. */
static int get_metadata(recov *r, rd_kafka_t *rk, const struct rd_kafka_metadata **md) {
  uint64_t deadline = rc_now_ms() + ATTEMPT_MS;
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (!stopped(r)) {
    e = rd_kafka_metadata(rk, 1, NULL, md, 500);
    if (!e) return 0;
    if (rc_now_ms() > deadline) break;
  }
  if (stopped(r)) return RC_RECOVERY_STOPPED;
  rc_error("recovery: Kafka at %s does not answer (topic metadata: %s) after %d s; the last positions in the "
           "%zu topics rowcast wrote to cannot be read yet",
           r->brokers, rd_kafka_err2str(e), ATTEMPT_MS / 1000, r->tl.n);
  return RETRY;
}

/* Match the topic list against the cluster: every listed topic must exist with at least its
 * recorded partitions. Fills r->p (every partition below the recorded count) and the skip
 * table's topics. Returns 0, RETRY, or 2. */
static int plan_partitions(recov *r, const struct rd_kafka_metadata *md) {
  r->schema_parts = 0;
  for (int i = 0; i < md->topic_cnt; i++)
    if (!strcmp(md->topics[i].topic, r->schema_topic) && !md->topics[i].err)
      r->schema_parts = md->topics[i].partition_cnt;
  for (size_t k = 0; k < r->tl.n; k++) {
    const rc_topic_entry *te = &r->tl.v[k];
    if (!strcmp(te->name, r->schema_topic)) continue; /* schemas, not changes */
    const rd_kafka_metadata_topic_t *mt = NULL;
    for (int i = 0; i < md->topic_cnt && !mt; i++)
      if (!strcmp(md->topics[i].topic, te->name)) mt = &md->topics[i];
    if (mt && mt->err && mt->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      rc_error("recovery: Kafka at %s: topic %s: %s", r->brokers, te->name, rd_kafka_err2str(mt->err));
      return RETRY;
    }
    if (!mt || mt->err || mt->partition_cnt < te->partitions) {
      char now[64];
      snprintf(now, sizeof now, !mt || mt->err ? "no longer exists" : "now has only %d partitions",
               mt && !mt->err ? mt->partition_cnt : 0);
      rc_error("recovery: topic %s, which rowcast wrote to with %d partitions (%s/topics), %s in Kafka at %s: "
               "what it holds since the checkpoint cannot be checked, so rowcast cannot resume exactly once. If the "
               "topic was deleted or recreated on purpose, start again with an empty state.dir (everything is "
               "sent again); if kafka.bootstrap.servers points at another cluster, correct it",
               te->name, (int)te->partitions, r->state_dir, now, r->brokers);
      return 2;
    }
    if (mt->partition_cnt != te->partitions)
      rc_warn("recovery: THE PARTITION COUNT OF TOPIC %s CHANGED while rowcast was down: %d recorded, %d now. "
              "Changes since the checkpoint are checked against the %d partitions they were written to; new changes "
              "are mapped to %d partitions, so a key's later changes may go to another partition than its earlier "
              "ones (a consumer sees each key's changes in order only within a partition)",
              te->name, (int)te->partitions, mt->partition_cnt, (int)te->partitions, mt->partition_cnt);
    size_t st = r->skip.n;
    rpart *np = rc_skip_add_topic(&r->skip, te->name, strlen(te->name), te->partitions) ? realloc(r->p, (r->np + (size_t)te->partitions) * sizeof *np) : NULL;
    if (!np) {
      rc_error("recovery: out of memory");
      return 1;
    }
    r->p = np;
    for (int32_t q = 0; q < te->partitions; q++)
      r->p[r->np++] = (rpart){.topic = te->name, .partition = q, .st = st, .offset = -1};
  }
  return 0;
}

static rpart *find_rpart(recov *r, const char *topic, int32_t partition) {
  for (size_t i = 0; i < r->np; i++)
    if (r->p[i].partition == partition && !strcmp(r->p[i].topic, topic)) return &r->p[i];
  return NULL;
}

/* ---------------------------------------------------------------------------- schemas */

static int is_hex16(const void *key, size_t n) {
  const char *k = key;
  if (n != 16) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) return 0;
  return 1;
}

static const char *fp_find(const recov *r, uint64_t fp) {
  for (size_t i = 0; i < r->nfps; i++)
    if (r->fps[i].fp == fp) return r->fps[i].text;
  return NULL;
}

/* A record of the schema topic: key the fingerprint in hex, value the schema. */
static int take_schema(recov *r, const rd_kafka_message_t *m) {
  if (!m->payload || !is_hex16(m->key, m->key_len)) return 0; /* not a schema record: tail reports those */
  char hex[17];
  memcpy(hex, m->key, 16);
  hex[16] = 0;
  uint64_t fp = strtoull(hex, NULL, 16);
  if (fp_find(r, fp)) return 0;
  fp_schema *n = realloc(r->fps, (r->nfps + 1) * sizeof *n);
  char *text = malloc(m->len + 1);
  if (n) r->fps = n;
  if (!n || !text) {
    free(text);
    return RC_ERR_NOMEM;
  }
  memcpy(text, m->payload, m->len);
  text[m->len] = 0;
  r->fps[r->nfps++] = (fp_schema){fp, text};
  return 0;
}

/* The registry's schema of id (cached). NULL with err filled; *retriable when asking again may
 * answer. */
static const char *id_find(recov *r, int id, int *retriable, char *err, size_t es) {
  for (size_t i = 0; i < r->nids; i++)
    if (r->ids[i].id == id) return r->ids[i].text;
  const char *url = rc_config_str(r->cfg, "schema_registry.url");
  *retriable = 0;
  if (!url[0]) {
    snprintf(err, es, "Confluent-framed (schema id %d) but schema_registry.url is not set", id);
    return NULL;
  }
  char *text = NULL;
  int e = rc_registry_schema(url, id, &text, err, es);
  if (e < 0) {
    *retriable = e == RC_ERR_IO;
    return NULL;
  }
  id_schema *n = realloc(r->ids, (r->nids + 1) * sizeof *n);
  if (!n) {
    free(text);
    snprintf(err, es, "out of memory");
    return NULL;
  }
  r->ids = n;
  r->ids[r->nids++] = (id_schema){id, text};
  return text;
}

/* ---------------------------------------------------------------------------- reading */

/* A message without a value: a tombstone when its headers say so and give the delete's
 * position (rowcast.file, rowcast.offset, rowcast.row, rowcast.tombstone). */
static void tombstone_position(rpart *p, rd_kafka_message_t *m) {
  rd_kafka_headers_t *h = NULL;
  if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h) return;
  const void *v[4];
  size_t n[4];
  static const char *const names[4] = {"rowcast.file", "rowcast.offset", "rowcast.row", "rowcast.tombstone"};
  for (int i = 0; i < 4; i++)
    if (rd_kafka_header_get_last(h, names[i], &v[i], &n[i]) != RD_KAFKA_RESP_ERR_NO_ERROR || !v[i]) return;
  char num[2][24];
  for (int i = 0; i < 2; i++) {
    if (n[i + 1] == 0 || n[i + 1] >= sizeof num[i]) return;
    memcpy(num[i], v[i + 1], n[i + 1]);
    num[i][n[i + 1]] = 0;
    if (strspn(num[i], "0123456789") != n[i + 1]) return;
  }
  unsigned long long row = strtoull(num[1], NULL, 10);
  if (n[0] == 0 || n[0] >= sizeof p->t_file || memchr(v[0], 0, n[0]) || row > UINT32_MAX || n[3] != 4 ||
      memcmp(v[3], "true", 4))
    return;
  memcpy(p->t_file, v[0], n[0]);
  p->t_file[n[0]] = 0;
  p->t_offset = strtoull(num[0], NULL, 10);
  p->t_row = (uint32_t)row;
  p->tombstone = 1;
}

/* Consume until every partition gave its last message or its end, and the schema topic is read
 * to its end. Returns 0, RETRY, RC_RECOVERY_STOPPED, or 1. */
static int consume_lasts(recov *r, rd_kafka_t *rk) {
  rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new((int)r->np + r->schema_parts + 1);
  for (size_t i = 0; i < r->np; i++)
    rd_kafka_topic_partition_list_add(as, r->p[i].topic, r->p[i].partition)->offset = RD_KAFKA_OFFSET_TAIL(1);
  for (int32_t q = 0; q < r->schema_parts; q++)
    rd_kafka_topic_partition_list_add(as, r->schema_topic, q)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t ae = rd_kafka_assign(rk, as);
  rd_kafka_topic_partition_list_destroy(as);
  if (ae) {
    rc_error("recovery: cannot assign %zu partitions: %s", r->np, rd_kafka_err2str(ae));
    return 1;
  }
  rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
  size_t left = r->np;
  uint64_t deadline = rc_now_ms() + ATTEMPT_MS;
  int status = 0;
  while ((left || r->schema_eofs < r->schema_parts) && status == 0) {
    if (stopped(r)) status = RC_RECOVERY_STOPPED;
    else if (rc_now_ms() > deadline) status = RETRY;
    if (status) break;
    rd_kafka_message_t *ms[BATCH];
    /* the first as soon as it comes (a batch call waits its whole timeout), then what is queued */
    ssize_t n = (ms[0] = rd_kafka_consume_queue(q, POLL_MS)) != NULL;
    ssize_t more = n ? rd_kafka_consume_batch_queue(q, 0, ms + 1, BATCH - 1) : 0;
    if (more > 0) n += more;
    for (ssize_t k = 0; k < n; k++) {
      rd_kafka_message_t *m = ms[k];
      const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
      int schema = !strcmp(topic, r->schema_topic);
      rpart *p = schema ? NULL : find_rpart(r, topic, m->partition);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (schema) r->schema_eofs++;
        else if (p && !p->done) p->done = 1, left--;
      } else if (m->err) {
        snprintf(r->last_kafka_err, sizeof r->last_kafka_err, "%s", rd_kafka_message_errstr(m));
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) status = 1;
      } else if (schema) {
        if (take_schema(r, m) < 0) status = 1;
      } else if (p && !p->done) {
        p->offset = m->offset;
        p->len = m->len;
        if (!m->payload) tombstone_position(p, m);
        if (m->payload && !(p->value = malloc(m->len ? m->len : 1))) status = 1;
        else if (m->payload) memcpy(p->value, m->payload, m->len);
        p->done = 1, left--;
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_queue_destroy(q);
  if (status == RETRY) {
    char which[512] = "";
    size_t w = 0;
    int shown = 0;
    for (size_t i = 0; i < r->np && shown < 5; i++)
      if (!r->p[i].done) {
        w += (size_t)snprintf(which + w, sizeof which - w, "%s%s [%d]", shown ? ", " : "", r->p[i].topic,
                              (int)r->p[i].partition);
        shown++;
        if (w >= sizeof which) break;
      }
    rc_error("recovery: Kafka at %s did not give the last message of %zu of %zu partitions within %d s (%s%s)%s%s%s",
             r->brokers, left, r->np, ATTEMPT_MS / 1000, which, left > (size_t)shown ? ", ..." : "",
             r->schema_eofs < r->schema_parts ? "; the schema topic is not read to its end either" : "",
             r->last_kafka_err[0] ? "; last error: " : "", r->last_kafka_err);
  }
  if (status == 1) rc_error("recovery: %s", r->last_kafka_err[0] ? r->last_kafka_err : "out of memory");
  return status;
}

/* The position of a partition's last message into the skip table. Returns 0, RETRY (the
 * registry did not answer) or 2 (not a rowcast change). */
static int decode_last(recov *r, rpart *p, char *file, size_t fsz) {
  char err[1024];
  const uint8_t *v = p->value;
  size_t n = p->len;
  uint64_t offset = 0;
  uint32_t row = 0;
  int e = RC_ERR_CORRUPT;
  int txn = r->txn_topic[0] && !strcmp(p->topic, r->txn_topic);
  if (!v && p->tombstone) {
    snprintf(file, fsz, "%s", p->t_file);
    offset = p->t_offset;
    row = p->t_row;
    e = 0;
  } else if (!v) {
    snprintf(err, sizeof err, "the message has no value (and no tombstone headers)");
  } else if (n >= 10 && v[0] == 0xC3 && v[1] == 0x01) {
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--) fp = fp << 8 | v[i];
    const char *schema = fp_find(r, fp);
    if (!schema)
      snprintf(err, sizeof err, "no schema with fingerprint %016llx in %s%s", (unsigned long long)fp, r->schema_topic,
               r->schema_parts ? "" : " (no such topic)");
    else
      e = (txn ? rc_txn_position : rc_avro_value_position)(schema, v + 10, n - 10, file, fsz, &offset, &row, err,
                                                           sizeof err);
  } else if (n >= 5 && v[0] == 0) {
    int id = (int)((uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4]), retriable = 0;
    const char *schema = id_find(r, id, &retriable, err, sizeof err);
    if (!schema && retriable) {
      rc_error("recovery: %s [%d] offset %lld: %s", p->topic, (int)p->partition, (long long)p->offset, err);
      return RETRY;
    }
    if (schema)
      e = (txn ? rc_txn_position : rc_avro_value_position)(schema, v + 5, n - 5, file, fsz, &offset, &row, err,
                                                           sizeof err);
  } else if (n > 0 && v[0] == '{') {
    e = txn ? rc_txn_position(NULL, v, n, file, fsz, &offset, &row, err, sizeof err)
            : rc_json_change_position(v, n, file, fsz, &offset, &row, err, sizeof err);
  } else {
    snprintf(err, sizeof err, "not an Avro single-object, Confluent or JSON value (%s0x%02x, %zu bytes)",
             n ? "first byte " : "", n ? v[0] : 0, n);
  }
  int64_t seq = e == 0 ? rc_pos_file_seq(file, strlen(file)) : -1;
  if (e == 0 && seq < 0) {
    snprintf(err, sizeof err, "its binlog file name %s does not end in .NUMBER", file);
    e = RC_ERR_CORRUPT;
  }
  if (e < 0) {
    rc_error("recovery: %s [%d] offset %lld, the last message of a topic rowcast writes to, is not a rowcast change: "
             "%s. rowcast cannot tell what Kafka holds there, so it does not start; remove what else writes to the "
             "topic, or start with an empty state.dir",
             p->topic, (int)p->partition, (long long)p->offset, err);
    return 2;
  }
  rc_pos pos = {(uint64_t)seq, offset, row, !v && p->tombstone};
  if (r->have_cp_pos && rc_pos_cmp(&pos, &r->cp_pos) < 0) { /* acknowledged and checkpointed: not re-read */
    p->before_cp = 1;
    return 0;
  }
  rc_skip_set(&r->skip, &r->skip.t[p->st], p->partition, &pos);
  return 0;
}

/* One try: metadata, the last messages, their positions, the skip table written. Returns 0,
 * RETRY, RC_RECOVERY_STOPPED, 1 or 2. */
static int attempt(recov *r, const char *skip_path, uint64_t t0) {
  char err[1024], latest[256] = "";
  rd_kafka_t *rk = new_consumer(r, err, sizeof err);
  if (!rk) {
    rc_error("recovery: cannot make a Kafka consumer: %s", err);
    return 2;
  }
  const struct rd_kafka_metadata *md = NULL;
  int status = get_metadata(r, rk, &md);
  if (status == 0) {
    status = plan_partitions(r, md);
    rd_kafka_metadata_destroy(md);
  }
  if (status == 0) status = consume_lasts(r, rk);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  size_t held = 0, before_cp = 0;
  rc_pos max = {0, 0, 0, 0};
  for (size_t i = 0; i < r->np && status == 0; i++) {
    if (!r->p[i].value && r->p[i].offset < 0) continue; /* empty */
    char file[256];
    status = decode_last(r, &r->p[i], file, sizeof file);
    if (status == 0 && r->p[i].before_cp) {
      before_cp++;
      continue;
    }
    const rc_pos *pos = &r->skip.t[r->p[i].st].last[r->p[i].partition];
    if (status == 0 && (!held || rc_pos_cmp(pos, &max) > 0)) {
      max = *pos;
      if (pos->row == RC_TXN_END_ROW) /* a transaction's END: after every change of its transaction */
        snprintf(latest, sizeof latest, "%s:%llu (a transaction's END)", file, (unsigned long long)pos->offset);
      else
        snprintf(latest, sizeof latest, "%s:%llu row %u%s", file, (unsigned long long)pos->offset, pos->row,
                 pos->sub ? " (its tombstone)" : "");
    }
    held += status == 0;
  }
  if (status == 0 && rc_skip_write(&r->skip, skip_path, err, sizeof err) < 0) {
    rc_error("recovery: %s", err);
    status = 1;
  }
  if (status == 0)
    rc_info("recovery: read the last message of %zu partitions of %zu topics in %llu ms: %zu hold changes past the "
            "checkpoint%s%s (what they hold is not sent again), %zu only changes before it",
            r->np, r->skip.n, (unsigned long long)(rc_now_ms() - t0), held, held ? ", the latest at " : "", latest,
            before_cp);
  if (status == 0 && held && rc_config_int(r->cfg, "source.gtid_resume"))
    rc_warn("recovery: Kafka holds changes past the checkpoint (the last run did not stop cleanly) and "
            "source.gtid_resume=true: they are recognised by their binlog positions, which are only comparable "
            "on the server that wrote them; if %s is another server than that one (a failover), changes past "
            "the checkpoint may be lost or sent twice",
            rc_config_str(r->cfg, "source.host"));
  return status;
}

static void reset(recov *r) {
  for (size_t i = 0; i < r->np; i++) free(r->p[i].value);
  free(r->p);
  r->p = NULL;
  r->np = 0;
  r->schema_eofs = 0;
  rc_skip_free(&r->skip);
  memset(&r->skip, 0, sizeof r->skip);
  r->last_kafka_err[0] = 0;
}

static void sleep_unless_stopped(const recov *r, uint64_t ms) {
  for (uint64_t end = rc_now_ms() + ms; !stopped(r) && rc_now_ms() < end;) usleep(POLL_MS * 1000);
}

int rc_recovery_prepare(rc_config *cfg, const char *state_dir, const char *run_dir, int empty_broker,
                        volatile sig_atomic_t *stop) {
  char err[1024], skip_path[4200];
  snprintf(skip_path, sizeof skip_path, "%s/skip", run_dir);
  recov r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg, r.state_dir = state_dir, r.stop = stop;
  rc_checkpoint cp;
  int have_cp = rc_checkpoint_read(state_dir, &cp, err, sizeof err);
  int status = have_cp < 0 ? 2 : rc_topic_list_read(state_dir, &r.tl, err, sizeof err) < 0 ? 2 : 0;
  if (status) {
    rc_error("recovery: %s", err);
    return status;
  }
  if (have_cp > 0) {
    int64_t seq = rc_pos_file_seq(cp.file, strlen(cp.file));
    r.have_cp_pos = seq >= 0;
    r.cp_pos = (rc_pos){(uint64_t)(seq >= 0 ? seq : 0), cp.pos, 0, 0};
  }
  /* No checkpoint but a topic list: a crash before the first checkpoint; the reader starts at the
   * beginning again, and what Kafka holds of it must not be sent twice. */
  if (empty_broker || r.tl.n == 0) {
    if (empty_broker && r.tl.n)
      rc_info("recovery: Kafka is the local broker this run started, empty: nothing to skip");
    rc_topic_list_free(&r.tl);
    if (unlink(skip_path) != 0 && errno != ENOENT) {
      rc_error("recovery: cannot remove %s: %s", skip_path, strerror(errno));
      return 1;
    }
    return 0;
  }
  const char *prefix = rc_config_str(cfg, "publisher.topic_prefix");
  snprintf(r.schema_topic, sizeof r.schema_topic, "%s._schemas", prefix);
  r.txn_topic = rc_config_str(cfg, "publisher.transactions_topic");
  r.brokers = "(kafka.bootstrap.servers not set)";
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++)
    if (!strcmp(rc_config_kafka_key(cfg, i), "bootstrap.servers")) r.brokers = rc_config_kafka_value(cfg, i);
  uint64_t t0 = rc_now_ms(), backoff = 1000;
  for (int tries = 1;; tries++) {
    status = attempt(&r, skip_path, t0);
    if (status != RETRY) break;
    reset(&r);
    rc_warn("recovery: trying again in %llu s (attempt %d; SIGTERM stops rowcast)", (unsigned long long)backoff / 1000,
            tries + 1);
    sleep_unless_stopped(&r, backoff);
    if (stopped(&r)) {
      status = RC_RECOVERY_STOPPED;
      break;
    }
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
  }
  reset(&r);
  rc_topic_list_free(&r.tl);
  for (size_t i = 0; i < r.nfps; i++) free(r.fps[i].text);
  free(r.fps);
  for (size_t i = 0; i < r.nids; i++) free(r.ids[i].text);
  free(r.ids);
  rc_avro_decoder_cache_free();
  return status;
}
