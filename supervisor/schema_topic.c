/*
 * schema_topic.c: the schema history in Kafka (see schema_topic.h): its publisher, run from the
 * supervisor's loop, and its rebuild, before the first start of the group.
 *
 * The history file is rowcast-schema's (schema/versions.c): one JSON object a line, appended
 * and synced before the reader goes on; a version line has "db", "table" (null for a
 * database's record) and "pos" {"file", "off"}; an {"applied": ...} line only says how far
 * the tracker applied DDL, and is not published (after a rebuild the tracker takes the last
 * version's position for it: a DDL after it that changed nothing is applied once more, which
 * changes nothing again). Only whole lines are read: a line still being written waits for the
 * next look.
 *
 * The topic is created (Admin API CreateTopics, answered asynchronously) before the first
 * version is produced: one partition, cleanup.policy=compact. A cluster that refuses (rowcast's
 * local broker has no CreateTopics; an ACL) gets the topic by auto-creation at the first
 * produce, with its defaults for new topics: warned, since a delete policy would expire old
 * versions. Every version is produced to partition 0 whatever the partition count, so the
 * topic's order is the file's; the rebuild sorts by binlog position anyway, because compaction
 * moves a key re-sent after a crash to its later place.
 */
#include "schema_topic.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "position.h"

#define CREATE_MS 10000  /* the topic's creation, answered */
#define KAFKA_MS 10000   /* the rebuild's metadata and offset requests */
#define READ_MS 30000    /* the rebuild's reading of the topic */
#define MAX_LINES 50000  /* versions produced per look */
#define METADATA_MS 2000 /* before the topic's creation */
#define BACKOFF_MAX_MS 30000 /* the rebuild, while Kafka does not answer */

struct rc_schema_topic {
  rc_config *cfg;
  char topic[300];
  char hist[PATH_MAX], mark[PATH_MAX + 16];
  rd_kafka_t *rk;
  rd_kafka_queue_t *admin_q; /* the topic's creation, while its answer is awaited */
  int broken;                /* the producer cannot be made: said once, nothing published */
  int local_broker;          /* Kafka is rowcast's local broker, started by this run */
  uint64_t ino, done, sent;  /* the file published; its bytes acknowledged; produced */
  int inflight, failed;
  char err[256];             /* the last delivery error */
  uint64_t last_ms, produced, acked;
  uint64_t busy_ns;          /* time spent in the looks (rc_schema_topic_tick), for the last line */
};

int rc_schema_topic_enabled(const rc_config *cfg) {
  return strcmp(rc_config_str(cfg, "schema.tracker"), "off") != 0 && rc_config_int(cfg, "schema.history_topic");
}

static void topic_name(const rc_config *cfg, char *out, size_t n) {
  snprintf(out, n, "%s._schema_history", rc_config_str(cfg, "publisher.topic_prefix"));
}

static const char *bootstrap_of(const rc_config *cfg) {
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++)
    if (!strcmp(rc_config_kafka_key(cfg, i), "bootstrap.servers")) return rc_config_kafka_value(cfg, i);
  return "(no kafka.bootstrap.servers)";
}

/* ---- a history line ------------------------------------------------------------------------ */

static void put_ident(rc_buf *b, const char *name) {
  rc_buf_putc(b, '`');
  for (const char *p = name; *p; p++) {
    if (*p == '`') rc_buf_putc(b, '`');
    rc_buf_putc(b, *p);
  }
  rc_buf_putc(b, '`');
}

/* The identity of the version on a history line, as its key: `db`.`table`@FILE:OFFSET, or
 * `db`@FILE:OFFSET for a database's record (identifiers quoted as SQL does, so no two differ
 * only in where a dot is), into key; its position into file and *off. 1 a version, 0 a line that
 * is not one (an "applied" mark), -1 a line rowcast did not write. */
static int line_key(const char *line, size_t n, rc_buf *key, char *file, size_t fsz, uint64_t *off) {
  json_error_t je;
  json_t *o = json_loadb(line, n, 0, &je);
  const char *db = NULL, *table = NULL, *f = NULL;
  json_int_t at = 0;
  int rc = -1;
  if (o && json_object_get(o, "applied")) rc = 0;
  else if (o && json_unpack(o, "{s:s,s:{s:s,s:I}}", "db", &db, "pos", "file", &f, "off", &at) == 0 && at >= 0) {
    json_t *t = json_object_get(o, "table");
    table = json_is_string(t) ? json_string_value(t) : NULL;
    key->len = 0;
    put_ident(key, db);
    if (table) {
      rc_buf_putc(key, '.');
      put_ident(key, table);
    }
    rc_buf_printf(key, "@%s:%llu", f, (unsigned long long)at);
    snprintf(file, fsz, "%s", f);
    *off = (uint64_t)at;
    rc = 1;
  }
  json_decref(o);
  return rc;
}

/* ---- Kafka clients ------------------------------------------------------------------------- */

static void on_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  rc_schema_topic *st = opaque;
  st->inflight--;
  if (m->err) {
    st->failed = 1;
    snprintf(st->err, sizeof st->err, "%s", rd_kafka_err2str(m->err));
  } else {
    st->acked++;
  }
}

/* A client with cfg's kafka.* settings and ours (NULL-terminated pairs). NULL with es set. */
static rd_kafka_t *new_client(const rc_config *cfg, rd_kafka_type_t type, const char *const *own, void *opaque,
                              char *es, size_t esz) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char e2[512];
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++)
    if (rd_kafka_conf_set(conf, rc_config_kafka_key(cfg, i), rc_config_kafka_value(cfg, i), e2, sizeof e2) !=
        RD_KAFKA_CONF_OK) {
      snprintf(es, esz, "kafka.%s=%s: %s", rc_config_kafka_key(cfg, i), rc_config_kafka_shown(cfg, i), e2);
      rd_kafka_conf_destroy(conf);
      return NULL;
    }
  for (; own && own[0]; own += 2)
    if (rd_kafka_conf_set(conf, own[0], own[1], e2, sizeof e2) != RD_KAFKA_CONF_OK) {
      snprintf(es, esz, "%s=%s: %s", own[0], own[1], e2);
      rd_kafka_conf_destroy(conf);
      return NULL;
    }
  if (type == RD_KAFKA_PRODUCER) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_report);
    rd_kafka_conf_set_opaque(conf, opaque);
  }
  rd_kafka_t *rk = rd_kafka_new(type, conf, e2, sizeof e2); /* on success it owns conf */
  if (!rk) {
    snprintf(es, esz, "%s", e2);
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

/* ---- how far the file is published --------------------------------------------------------- */

static void mark_read(rc_schema_topic *st) {
  FILE *f = fopen(st->mark, "r");
  unsigned long long ino = 0, bytes = 0;
  if (f && fscanf(f, "inode=%llu bytes=%llu", &ino, &bytes) == 2) {
    st->ino = ino;
    st->done = st->sent = bytes;
  }
  if (f) fclose(f);
}

/* Atomic: path.tmp, fsync, rename. 0 or -1 (errno). */
static int mark_write_to(const char *path, uint64_t ino, uint64_t bytes) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  int bad = fprintf(f, "inode=%llu bytes=%llu\n", (unsigned long long)ino, (unsigned long long)bytes) < 0 ||
            fflush(f) != 0 || fsync(fileno(f)) != 0;
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

static void mark_write(rc_schema_topic *st) {
  if (mark_write_to(st->mark, st->ino, st->done) < 0)
    rc_warn("cannot write %s: %s (the versions published since the last start are sent again at the next one)",
            st->mark, strerror(errno));
}

/* ---- publishing ---------------------------------------------------------------------------- */

/* A metadata request for the topic alone, which creates it where the cluster auto-creates topics
 * (as the first produce would, but the producer learns its partitions now instead of after its
 * next metadata refresh, a second later). */
static void auto_create(rc_schema_topic *st) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(st->rk, st->topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  if (rkt && rd_kafka_metadata(st->rk, 0, rkt, &md, METADATA_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
  if (rkt) rd_kafka_topic_destroy(rkt);
}

/* Ask for the topic, compacted, unless it exists or the cluster cannot create it: a metadata
 * round first (at most METADATA_MS, once per run: the supervisor's loop waits that long only
 * when Kafka does not answer), since a CreateTopics without a controller waits out its whole
 * timeout. The answer comes in created_poll. */
static void create_topic(rc_schema_topic *st) {
  char es[512];
  if (st->local_broker) {
    rc_info("%s: rowcast's local broker cannot create topics, so it is created at the first version published, "
            "not compacted (it keeps messages in memory only)", st->topic);
    auto_create(st);
    return;
  }
  const rd_kafka_metadata_t *md = NULL;
  if (rd_kafka_metadata(st->rk, 1, NULL, &md, METADATA_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    int exists = 0, controller = 0;
    for (int i = 0; i < md->topic_cnt; i++) exists |= !strcmp(md->topics[i].topic, st->topic) && !md->topics[i].err;
    int32_t cid = rd_kafka_controllerid(st->rk, 0);
    for (int i = 0; i < md->broker_cnt; i++) controller |= md->brokers[i].id == cid;
    rd_kafka_metadata_destroy(md);
    if (exists) return;
    if (!controller) {
      rc_warn("Kafka at %s names no controller among its brokers, so it cannot create the topic %s compacted: it "
              "is created at the first version published, with the cluster's defaults for new topics; where those "
              "delete old messages, create it with cleanup.policy=compact, or the history cannot be rebuilt from "
              "it in full", bootstrap_of(st->cfg), st->topic);
      auto_create(st);
      return;
    }
  }
  rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(st->topic, 1, -1, es, sizeof es);
  if (!nt || rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact")) {
    rc_warn("cannot ask for the topic %s: %s", st->topic, nt ? "cleanup.policy refused" : es);
    rd_kafka_NewTopic_destroy(nt);
    return;
  }
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(st->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(ao, CREATE_MS, es, sizeof es);
  st->admin_q = rd_kafka_queue_new(st->rk);
  rd_kafka_CreateTopics(st->rk, &nt, 1, ao, st->admin_q);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
}

/* The creation's answer, when it came within timeout_ms. */
static void created_poll(rc_schema_topic *st, int timeout_ms) {
  rd_kafka_event_t *ev = rd_kafka_queue_poll(st->admin_q, timeout_ms);
  if (!ev) return;
  rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
  const char *msg = rd_kafka_event_error_string(ev);
  const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
  if (!err && n) {
    err = rd_kafka_topic_result_error(tr[0]);
    msg = rd_kafka_topic_result_error_string(tr[0]);
  }
  if (!err)
    rc_info("created the topic %s for the schema history (cleanup.policy=compact, 1 partition)", st->topic);
  else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    rc_warn("Kafka at %s did not create the topic %s (%s): it is created at the first version published, with "
            "the cluster's defaults for new topics; where those delete old messages, create it with "
            "cleanup.policy=compact, or the history cannot be rebuilt from it in full",
            bootstrap_of(st->cfg), st->topic, msg && *msg ? msg : rd_kafka_err2str(err));
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(st->admin_q);
  st->admin_q = NULL;
}

/* Produce the whole lines of the file from st->sent to size. */
static void publish(rc_schema_topic *st, uint64_t size) {
  FILE *f = fopen(st->hist, "r");
  if (!f || fseeko(f, (off_t)st->sent, SEEK_SET) != 0) {
    rc_warn("cannot read %s: %s", st->hist, strerror(errno));
    if (f) fclose(f);
    return;
  }
  char *line = NULL, file[256];
  size_t cap = 0;
  ssize_t len;
  rc_buf key = {0};
  uint64_t off;
  for (int k = 0; k < MAX_LINES && st->sent < size && (len = getline(&line, &cap, f)) > 0; k++) {
    if (line[len - 1] != '\n') break; /* still being written */
    int v = line_key(line, (size_t)len - 1, &key, file, sizeof file, &off);
    if (v < 0) rc_warn("%s, byte %llu: not a line rowcast-schema wrote; not published", st->hist,
                       (unsigned long long)st->sent);
    if (v > 0) {
      rd_kafka_resp_err_t e = rd_kafka_producev(st->rk, RD_KAFKA_V_TOPIC(st->topic), RD_KAFKA_V_PARTITION(0),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_KEY(key.p, key.len),
                                                RD_KAFKA_V_VALUE(line, (size_t)len - 1), RD_KAFKA_V_END);
      if (e) {
        st->failed = 1;
        snprintf(st->err, sizeof st->err, "%s", rd_kafka_err2str(e));
        break;
      }
      st->inflight++;
      st->produced++;
    }
    st->sent += (uint64_t)len;
  }
  free(line);
  rc_buf_free(&key);
  fclose(f);
}

/* One look at the file. */
static void step(rc_schema_topic *st) {
  if (st->broken) return;
  if (st->admin_q) created_poll(st, 0);
  if (st->admin_q || st->inflight) return;
  if (st->failed) {
    rc_warn("%s: versions not acknowledged by Kafka at %s (%s); sent again from byte %llu of %s (a version sent "
            "twice is harmless: the topic keeps the last message of each key)", st->topic, bootstrap_of(st->cfg),
            st->err, (unsigned long long)st->done, st->hist);
    st->failed = 0;
    st->sent = st->done;
  } else if (st->sent > st->done) {
    st->done = st->sent;
    mark_write(st);
  }
  struct stat sb;
  if (stat(st->hist, &sb) != 0) return; /* no history (yet) */
  if ((uint64_t)sb.st_ino != st->ino || (uint64_t)sb.st_size < st->done) {
    if (st->ino) rc_info("%s is a new file: publishing it from its start to %s", st->hist, st->topic);
    st->ino = (uint64_t)sb.st_ino;
    st->done = st->sent = 0;
  }
  if ((uint64_t)sb.st_size <= st->sent) return;
  if (!st->rk) {
    char es[600];
    static const char *const own[] = {"client.id", "rowcast-schema-history", "linger.ms", "20", NULL};
    if (!(st->rk = new_client(st->cfg, RD_KAFKA_PRODUCER, own, st, es, sizeof es))) {
      rc_error("the schema history is not published to %s: %s", st->topic, es);
      st->broken = 1;
      return;
    }
    create_topic(st);
    if (st->admin_q) return; /* produce once the topic's creation is answered */
  }
  publish(st, (uint64_t)sb.st_size);
}

rc_schema_topic *rc_schema_topic_new(rc_config *cfg, const char *state_dir, int local_broker) {
  if (!rc_schema_topic_enabled(cfg)) return NULL;
  rc_schema_topic *st = calloc(1, sizeof *st);
  if (!st) {
    rc_error("out of memory: the schema history is not published");
    return NULL;
  }
  st->cfg = cfg;
  st->local_broker = local_broker;
  topic_name(cfg, st->topic, sizeof st->topic);
  snprintf(st->hist, sizeof st->hist, "%s/schema_history", state_dir);
  snprintf(st->mark, sizeof st->mark, "%s/schema_history.published", state_dir);
  mark_read(st);
  return st;
}

void rc_schema_topic_tick(rc_schema_topic *st) {
  if (!st) return;
  if (st->rk) rd_kafka_poll(st->rk, 0);
  uint64_t now = rc_now_ms();
  if (now - st->last_ms < 1000) return;
  st->last_ms = now;
  uint64_t t0 = rc_now_ns();
  step(st);
  st->busy_ns += rc_now_ns() - t0;
}

void rc_schema_topic_close(rc_schema_topic *st) {
  if (!st) return;
  uint64_t t0 = rc_now_ns();
  if (st->admin_q) created_poll(st, CREATE_MS);
  for (int round = 0; round < 2; round++) {
    step(st);
    if (st->rk) rd_kafka_flush(st->rk, 10000);
  }
  step(st); /* records what the last flush acknowledged */
  if (st->inflight || st->failed || st->sent > st->done)
    rc_warn("%s: versions of the schema history not acknowledged by Kafka at %s (%s): sent at the next start",
            st->topic, bootstrap_of(st->cfg), st->failed ? st->err : "no answer in 10 s");
  if (st->acked)
    rc_info("schema history: %llu versions published to %s (the supervisor's looks took %.1f ms during the run, "
            "the last one %.1f ms)", (unsigned long long)st->acked, st->topic, (double)st->busy_ns / 1e6,
            (double)(rc_now_ns() - t0) / 1e6);
  if (st->admin_q) rd_kafka_queue_destroy(st->admin_q);
  if (st->rk) {
    rd_kafka_purge(st->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(st->rk, 0);
    rd_kafka_destroy(st->rk);
  }
  free(st);
}

/* ---- rebuilding the file ------------------------------------------------------------------- */

typedef struct {
  char *key, *value;
  size_t vlen;
  int32_t part;
  int64_t offset;
  char file[256];
  uint64_t off;
} hentry;

static int by_key(const void *a, const void *b) {
  const hentry *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  if (x->part != y->part) return x->part < y->part ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Binlog order ("" before every file, files by sequence number), then the topic's. */
static int by_pos(const void *a, const void *b) {
  const hentry *x = a, *y = b;
  if (strcmp(x->file, y->file)) {
    if (!x->file[0] || !y->file[0]) return x->file[0] ? 1 : -1;
    int64_t s = rc_pos_file_seq(x->file, strlen(x->file)), t = rc_pos_file_seq(y->file, strlen(y->file));
    if (s != t && s >= 0 && t >= 0) return s < t ? -1 : 1;
    return strcmp(x->file, y->file) < 0 ? -1 : 1;
  }
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  if (x->part != y->part) return x->part < y->part ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

typedef struct {
  hentry *e;
  size_t n, cap;
} hlist;

static void hlist_free(hlist *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->e[i].key);
    free(l->e[i].value);
  }
  free(l->e);
}

/* Read every message of the topic's partitions (npart of them, ends in hi[], starts in lo[])
 * into l. 0, RC_SCHEMA_TOPIC_STOPPED... as rc_schema_topic_rebuild returns. */
static int read_topic(rd_kafka_t *rk, const char *topic, int npart, const int64_t *lo, const int64_t *hi, hlist *l,
                      volatile sig_atomic_t *stop) {
  rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(npart);
  int left = 0;
  for (int p = 0; p < npart; p++)
    if (hi[p] > lo[p]) {
      rd_kafka_topic_partition_list_add(as, topic, p)->offset = lo[p];
      left++;
    }
  rd_kafka_resp_err_t ae = rd_kafka_assign(rk, as);
  rd_kafka_topic_partition_list_destroy(as);
  if (ae) {
    rc_error("cannot read %s: %s", topic, rd_kafka_err2str(ae));
    return 1;
  }
  char *done = calloc((size_t)npart, 1);
  uint64_t end = rc_now_ms() + READ_MS;
  rc_buf key = {0};
  int rc = 0;
  while (done && left > 0 && rc == 0 && !*stop && rc_now_ms() < end) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    int32_t p = m->partition;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rc_warn("reading %s [%d]: %s", topic, (int)p, rd_kafka_message_errstr(m));
    } else if (p >= 0 && p < npart && !done[p]) {
      if (!m->err) {
        hentry e = {0};
        uint64_t off = 0;
        int v = m->key ? line_key(m->payload, m->len, &key, e.file, sizeof e.file, &off) : -1;
        if (v != 1 || key.len != m->key_len || memcmp(key.p, m->key, m->key_len)) {
          rc_error("%s [%d] at offset %lld: not a table version of rowcast's schema history (key and value "
                   "must name the same version); the history file is not rebuilt from it",
                   topic, (int)p, (long long)m->offset);
          rc = 2;
        } else if (l->n == l->cap && !(l->e = realloc(l->e, (l->cap = l->cap ? 2 * l->cap : 256) * sizeof *l->e))) {
          rc = 1;
        } else {
          e.key = strndup(key.p, key.len);
          e.value = malloc(m->len ? m->len : 1);
          if (e.value) memcpy(e.value, m->payload, m->len);
          e.vlen = m->len;
          e.part = p;
          e.offset = m->offset;
          e.off = off;
          l->e[l->n++] = e;
          if (!e.key || !e.value) rc = 1;
        }
      }
      if (m->err || m->offset >= hi[p] - 1) {
        done[p] = 1;
        left--;
      }
    }
    rd_kafka_message_destroy(m);
  }
  rc_buf_free(&key);
  free(done);
  if (rc == 0 && *stop) rc = RC_SCHEMA_TOPIC_STOPPED;
  if (rc == 0 && left > 0) {
    rc_error("%s was not read to its end within %d s: the history file is not rebuilt; start again", topic,
             READ_MS / 1000);
    rc = 1;
  }
  return rc;
}

/* Write the entries (deduplicated, in binlog order) as the history file, atomically, and
 * record it as published. 0 or 1. */
static int write_history(const char *state_dir, hlist *l) {
  char path[PATH_MAX], tmp[PATH_MAX + 16], mark[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/schema_history", state_dir);
  snprintf(tmp, sizeof tmp, "%s.rebuilt", path);
  snprintf(mark, sizeof mark, "%s.published", path);
  FILE *f = fopen(tmp, "w");
  int bad = !f;
  for (size_t i = 0; f && !bad && i < l->n; i++)
    bad = fwrite(l->e[i].value, 1, l->e[i].vlen, f) != l->e[i].vlen || fputc('\n', f) == EOF;
  if (f) bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
  if (f && fclose(f) != 0) bad = 1;
  struct stat sb;
  if (bad || rename(tmp, path) != 0 || stat(path, &sb) != 0 ||
      mark_write_to(mark, (uint64_t)sb.st_ino, (uint64_t)sb.st_size) < 0) {
    rc_error("cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return 1;
  }
  int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

int rc_schema_topic_rebuild(rc_config *cfg, const char *state_dir, int empty_broker, volatile sig_atomic_t *stop) {
  char path[PATH_MAX], topic[300], es[600];
  snprintf(path, sizeof path, "%s/schema_history", state_dir);
  if (!rc_schema_topic_enabled(cfg) || access(path, F_OK) == 0) return 0;
  char mark[PATH_MAX + 16];
  snprintf(mark, sizeof mark, "%s.published", path);
  unlink(mark); /* it was of a file that is gone (and whose inode a new file may reuse) */
  if (empty_broker) return 0;
  /* without a checkpoint the stream starts afresh, and its first schema comes from where it
   * starts (the binlog's own DDL, schema.initial, the server's schema): only a resume needs the
   * history it had, and a fresh start does not wait on Kafka for it */
  rc_checkpoint cp;
  if (rc_checkpoint_read(state_dir, &cp, es, sizeof es) <= 0) return 0;
  topic_name(cfg, topic, sizeof topic);
  uint64_t t0 = rc_now_ms();
  static const char *const own[] = {"client.id", "rowcast-schema-history", "group.id", "rowcast-schema-history",
                                    "enable.partition.eof", "true", "enable.auto.commit", "false",
                                    "enable.auto.offset.store", "false", "fetch.wait.max.ms", "10", NULL};
  rd_kafka_t *rk = new_client(cfg, RD_KAFKA_CONSUMER, own, NULL, es, sizeof es);
  if (!rk) {
    rc_error("the schema history topic %s cannot be read: %s", topic, es);
    return 2;
  }
  /* the topic's partitions and their offsets; while Kafka does not answer, again and again */
  int npart = -1, rc = 0;
  int64_t *lo = NULL, *hi = NULL, total = 0;
  rd_kafka_resp_err_t e;
  for (uint64_t backoff = 1000;; backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) {
    const rd_kafka_metadata_t *md = NULL;
    npart = -1;
    total = 0;
    e = rd_kafka_metadata(rk, 1, NULL, &md, KAFKA_MS);
    for (int i = 0; !e && i < md->topic_cnt; i++)
      if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err) npart = md->topics[i].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    free(lo);
    free(hi);
    lo = calloc(npart > 0 ? (size_t)npart : 1, sizeof *lo);
    hi = calloc(npart > 0 ? (size_t)npart : 1, sizeof *hi);
    for (int p = 0; !e && p < npart; p++) {
      e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo[p], &hi[p], KAFKA_MS);
      total += hi[p] - lo[p];
    }
    if (!e || *stop) break;
    rc_warn("Kafka at %s does not answer (%s): rowcast cannot tell whether %s holds the schema history that %s "
            "lacks, so the stages wait; trying again in %.0f s (SIGTERM stops; schema.history_topic=false lets the "
            "history start over)", bootstrap_of(cfg), rd_kafka_err2str(e), topic, path, (double)backoff / 1e3);
    for (uint64_t end = rc_now_ms() + backoff; !*stop && rc_now_ms() < end;) usleep(100000);
  }
  hlist l = {0};
  if (*stop) {
    rc = RC_SCHEMA_TOPIC_STOPPED;
  } else if (npart > 0 && total > 0 && (rc = read_topic(rk, topic, npart, lo, hi, &l, stop)) == 0 && l.n) {
    qsort(l.e, l.n, sizeof *l.e, by_key);
    size_t k = 0; /* the last message of each key */
    for (size_t i = 0; i < l.n; i++) {
      if (i + 1 < l.n && !strcmp(l.e[i].key, l.e[i + 1].key)) {
        free(l.e[i].key);
        free(l.e[i].value);
        continue;
      }
      l.e[k++] = l.e[i];
    }
    size_t read = l.n;
    l.n = k;
    qsort(l.e, l.n, sizeof *l.e, by_pos);
    rc = write_history(state_dir, &l);
    if (rc == 0)
      rc_info("schema history: %s was missing; rebuilt from %s: %zu table versions (%zu messages read), up to "
              "%s:%llu, in %llu ms", path, topic, l.n, read, l.e[l.n - 1].file[0] ? l.e[l.n - 1].file : "(first versions)",
              (unsigned long long)l.e[l.n - 1].off, (unsigned long long)(rc_now_ms() - t0));
  }
  hlist_free(&l);
  free(lo);
  free(hi);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}
