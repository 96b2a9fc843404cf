/*
 * serializer.c: rowcast-serializer, the stage that scales by worker count (serializer.workers).
 * Takes a batch of raw events from the reader, decodes every row image with the shared decoder
 * and turns each change into a Kafka message: topic <publisher.topic_prefix>.<db>.<table>, key
 * the primary-key columns (null when the binlog does not say which columns form the key),
 * value the change, and the position in headers. serializer.format=avro (the default): key and
 * value in Avro, with one schema pair per table version (common/codec/avro_row.h), framed as Avro
 * single-object encoding (C3 01, fingerprint) or, with schema_registry.url, in the Confluent
 * wire format (0, schema id); json: the key as a JSON object and the value as rowcast's
 * canonical JSON line.
 * Forwards the batch, same sequence number, to its own pipe into the publisher, which restores
 * the order across workers.
 *
 * Message records (their layout is in common/pipeline/frame.h): a message per change
 * (rc_rec_message, key and value encoded straight into the frame), each transaction boundary
 * of the batch (rc_rec_boundary, a checkpoint candidate), and without a registry, each schema
 * before the first message that uses it (rc_rec_schema, sent once per schema by each
 * serializer, for the schema topic). A batch whose messages do not fit in one pipe message goes
 * out in parts (RC_FRAME_MORE).
 *
 * With schema_registry.url, a registry that cannot be reached (refused, timeout, 5xx) is waited
 * for: the schema is registered again with a backoff until it answers, and the batch goes on
 * from where it was (register_schema). A registry that refuses a schema (4xx) is a
 * configuration or data error: the stage exits with RC_EXIT_CONFIG and says why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_row.h"
#include "binlog.h"
#include "frame.h"
#include "registry.h"
#include "log.h"
#include "metrics.h"
#include "row_json.h"
#include "stage.h"

/* One table version's Avro schemas and, when a registry is used, their ids. */
typedef struct {
  uint64_t sig;
  rc_avro_table *at;
  int announced; /* schemas sent to the publisher for the schema topic */
  int value_id, key_id;
} avro_slot;

#define AVRO_SLOTS 1024

typedef struct {
  rc_stage st;
  int avro;
  const char *registry;
  avro_slot *slots; /* open addressing on the signature */
  size_t nslots;
  int slot_err; /* why avro_table failed: RC_STAGE_STOP (stopped while waiting for the registry) or an rc_err_t */
  int in, out;
  rc_binlog *bl;
  rc_row_iter it;
  rc_buf frame, scratch, topic;
  const char *prefix;
  size_t part_bytes;
  uint64_t batches, changes, messages_bytes, busy_ns, send_wait_ns;
  int fatal;
} serializer;

static void metrics(rc_stage *st, rc_buf *b) {
  serializer *s = st->ctx;
  rc_metric_put(b, "batches", s->batches);
  rc_metric_put(b, "changes", s->changes);
  rc_metric_put(b, "bytes", s->messages_bytes);
  rc_metric_put(b, "busy_ms", s->busy_ns / 1000000);
  rc_metric_put(b, "send_wait_ms", s->send_wait_ns / 1000000);
}

static int send_frame(serializer *s) {
  if (s->frame.len > (size_t)s->st.pipe.max_message_bytes) { /* nanomsg would drop it silently */
    rc_error("internal: a frame of %zu bytes is over pipe.max_message_bytes=%d", s->frame.len,
             s->st.pipe.max_message_bytes);
    return RC_STAGE_STOP;
  }
  if (rc_stage_send(&s->st, s->out, s->frame.p, s->frame.len, "publisher", &s->send_wait_ns) < 0)
    return RC_STAGE_STOP;
  s->messages_bytes += s->frame.len;
  return 0;
}

/* Kafka topic names allow [a-zA-Z0-9._-]: every other byte of a schema or table name becomes
 * '_' (documented; names are kept exactly in the message value). */
static void put_topic_part(rc_buf *b, const char *s) {
  for (; *s; s++) {
    char c = *s;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
             c == '_' || c == '-';
    rc_buf_putc(b, ok ? c : '_');
  }
}

/* Does this image hold every primary-key column? */
static int key_complete(const rc_table *t, const rc_value *img) {
  if (!t->has_pk) return 0;
  for (uint32_t i = 0; i < t->ncols; i++)
    if (t->cols[i].pk && img[i].kind == RC_V_ABSENT) return 0;
  return 1;
}

/* The JSON key: the primary-key columns of the image, as a JSON object (null: no image). */
static int put_key(serializer *s, const rc_table *t, const rc_value *img, char *err, size_t esz) {
  if (!img) {
    rc_frame_put_null32(&s->frame);
    return 0;
  }
  rc_buf *k = &s->scratch;
  k->len = 0;
  rc_buf_putc(k, '{');
  int first = 1;
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (!t->cols[i].pk) continue;
    if (!first) rc_buf_putc(k, ',');
    first = 0;
    rc_buf_put(k, t->cols[i].key, t->cols[i].key_len);
    int r = rc_json_value(k, &t->cols[i], &img[i], err, esz);
    if (r < 0) return r;
  }
  rc_buf_putc(k, '}');
  rc_frame_put_bytes32(&s->frame, k->p, k->len);
  return 0;
}

#define FIT_TOO_BIG 1 /* fit_record: the record alone is over the pipe's maximum */

/* After appending a record that starts at `rec`: keep the part under the pipe's maximum. When
 * the part has grown past half of it, send it (flag MORE) and open the next; when the record
 * itself made the part too big, send the part without it and move it to the next. Returns 0,
 * FIT_TOO_BIG for a record that cannot fit in a pipe message even alone (the caller reports
 * it), or RC_STAGE_STOP. */
static int fit_record(serializer *s, size_t rec, uint64_t seq, uint32_t *count, int is_change) {
  size_t max = (size_t)s->st.pipe.max_message_bytes;
  if (s->frame.len <= max && s->frame.len < s->part_bytes) return 0;
  if (s->frame.len > max) {
    size_t rlen = s->frame.len - rec;
    if (rlen + RC_FRAME_HDR_LEN > max) return FIT_TOO_BIG;
    rc_buf *t = &s->scratch;
    t->len = 0;
    rc_buf_put(t, s->frame.p + rec, rlen);
    s->frame.len = rec;
    if (is_change) (*count)--;
    rc_frame_finish(&s->frame, *count, RC_FRAME_MORE);
    if (send_frame(s) < 0) return RC_STAGE_STOP;
    rc_frame_begin(&s->frame, RC_FRAME_MESSAGES, seq);
    rc_buf_put(&s->frame, t->p, t->len);
    *count = is_change ? 1 : 0;
    return 0;
  }
  rc_frame_finish(&s->frame, *count, RC_FRAME_MORE);
  if (send_frame(s) < 0) return RC_STAGE_STOP;
  rc_frame_begin(&s->frame, RC_FRAME_MESSAGES, seq);
  *count = 0;
  return 0;
}

#define REGISTRY_BACKOFF_MIN_MS 100
#define REGISTRY_BACKOFF_MAX_MS 5000
#define REGISTRY_LOG_EVERY_NS (10 * 1000000000ull)

/* Wait ms milliseconds, still serving signals, the supervisor watch and metrics. Returns 0, or
 * RC_STAGE_STOP when the stage must stop. */
static int pause_ms(serializer *s, unsigned ms) {
  uint64_t until = rc_now_ns() + (uint64_t)ms * 1000000ull;
  for (uint64_t now; !s->st.stop && (now = rc_now_ns()) < until;)
    if (rc_stage_wait(&s->st, NULL, 0, (int)((until - now) / 1000000) + 1) == RC_STAGE_STOP) return RC_STAGE_STOP;
  return s->st.stop ? RC_STAGE_STOP : 0;
}

/* Register one schema under subject (its id in *id), waiting for a registry that is away.
 * A retriable failure (refused, reset, timeout, HTTP 5xx, 408, 429: RC_ERR_IO from registry.h)
 * is tried again after a backoff that doubles from 100 ms to 5 s, for as long as it takes: the
 * pipeline waits (backpressure holds the reader) and goes on with this same change, so nothing
 * is lost or sent twice. Logged at the first failure, then at most every 10 s, and once when the
 * registry answers again. Returns 0; RC_STAGE_STOP when asked to stop while waiting; or the
 * registry's fatal error (a 4xx: schema refused, bad URL), message in err, naming the URL. */
static int register_schema(serializer *s, const char *subject, const char *schema, int *id, char *err,
                           size_t esz) {
  uint64_t first_ns = 0, logged_ns = 0;
  unsigned attempts = 0, backoff_ms = REGISTRY_BACKOFF_MIN_MS;
  for (;;) {
    int r = rc_registry_register(s->registry, subject, schema, id, err, esz);
    uint64_t now = rc_now_ns();
    if (r == 0 && attempts)
      rc_info("schema registry %s answers again: subject %s registered after %u failed attempts in %.1f s; "
              "going on", s->registry, subject, attempts, (double)(now - first_ns) / 1e9);
    if (r != RC_ERR_IO) {
      if (r < 0) {
        char why[900];
        snprintf(why, sizeof why, "%s", err);
        rc_errf(r, err, esz, "the schema registry %s refused subject %s (not retried: fix the registry or the "
                "schema, then run again): %s", s->registry, subject, why);
      }
      return r;
    }
    if (!attempts++) first_ns = now;
    if (!logged_ns || now - logged_ns >= REGISTRY_LOG_EVERY_NS) {
      rc_error("schema registry %s unreachable while registering subject %s (attempt %u, %.0f s so far): %s; "
               "the pipeline waits for it, retrying every %u s at most", s->registry, subject, attempts,
               (double)(now - first_ns) / 1e9, err, REGISTRY_BACKOFF_MAX_MS / 1000);
      logged_ns = now;
    }
    if (pause_ms(s, backoff_ms) == RC_STAGE_STOP) return RC_STAGE_STOP;
    backoff_ms = backoff_ms * 2 > REGISTRY_BACKOFF_MAX_MS ? REGISTRY_BACKOFF_MAX_MS : backoff_ms * 2;
  }
}

static uint64_t table_sig(const rc_table *t) {
  uint64_t h = rc_table_signature(t) ^ 0x9E3779B97F4A7C15ull;
  for (const char *p = t->db; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001B3ull;
  h = (h ^ '.') * 0x100000001B3ull;
  for (const char *p = t->name; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001B3ull;
  return h ? h : 1;
}

/* The Avro schemas of this table version (built on first sight and kept), announced to the
 * publisher or registered, with their ids, before the first message that uses them. */
static avro_slot *avro_table(serializer *s, const rc_table *t, const char *topic, char *err, size_t esz) {
  uint64_t sig = table_sig(t);
  size_t i = (size_t)(sig % AVRO_SLOTS);
  while (s->slots[i].sig && s->slots[i].sig != sig) i = (i + 1) % AVRO_SLOTS;
  avro_slot *sl = &s->slots[i];
  if (sl->sig) return sl;
  if (s->nslots >= AVRO_SLOTS * 3 / 4) { /* bound memory on endless DDL: start over */
    for (size_t k = 0; k < AVRO_SLOTS; k++) rc_avro_table_free(s->slots[k].at);
    memset(s->slots, 0, AVRO_SLOTS * sizeof *s->slots);
    s->nslots = 0;
    i = (size_t)(sig % AVRO_SLOTS);
    sl = &s->slots[i];
  }
  rc_avro_table *at;
  if ((s->slot_err = rc_avro_table_new(t, &at, err, esz)) < 0) return NULL;
  if (s->registry[0]) {
    char subject[700];
    snprintf(subject, sizeof subject, "%.600s-value", topic);
    int r = register_schema(s, subject, rc_avro_value_schema(at), &sl->value_id, err, esz);
    if (r == 0 && rc_avro_key_schema(at)) {
      snprintf(subject, sizeof subject, "%.600s-key", topic);
      r = register_schema(s, subject, rc_avro_key_schema(at), &sl->key_id, err, esz);
    }
    if (r < 0) {
      s->slot_err = r;
      rc_avro_table_free(at);
      return NULL;
    }
  }
  sl->sig = sig;
  sl->at = at;
  s->nslots++;
  return sl;
}

static void put_schema(serializer *s, uint64_t fp, const char *json) {
  char hex[RC_REC_FINGERPRINT_LEN + 1];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fp);
  rc_frame_put_schema(&s->frame, &(rc_rec_schema){hex, json, strlen(json)});
}

/* The wire header: single-object (C3 01 + fingerprint, little-endian) or Confluent (0 + id). */
static void put_avro_header(serializer *s, rc_buf *b, uint64_t fp, int id) {
  uint8_t h[10];
  if (s->registry[0]) {
    h[0] = 0;
    for (int k = 0; k < 4; k++) h[1 + k] = (uint8_t)((uint32_t)id >> (8 * (3 - k)));
    rc_buf_put(b, h, 5);
  } else {
    h[0] = 0xC3;
    h[1] = 0x01;
    for (int k = 0; k < 8; k++) h[2 + k] = (uint8_t)(fp >> (8 * k));
    rc_buf_put(b, h, 10);
  }
}

static int rows_to_messages(serializer *s, const rc_event *ev, int snapshot, uint32_t first_row, uint64_t recv_ns,
                            uint64_t commit_us, const char *gtid,
                            size_t gtid_len, uint64_t seq, uint32_t *count, char *err, size_t esz) {
  int r = rc_row_iter_begin(&s->it, s->bl, ev, first_row, err, esz);
  if (r < 0) return r;
  const rc_table *t = s->it.rows.table;
  rc_buf *topic = &s->topic;
  topic->len = 0;
  rc_buf_puts(topic, s->prefix);
  rc_buf_putc(topic, '.');
  put_topic_part(topic, t->db);
  rc_buf_putc(topic, '.');
  put_topic_part(topic, t->name);
  const char *file = rc_binlog_file(s->bl);
  char gt[128];
  snprintf(gt, sizeof gt, "%.*s", (int)gtid_len, gtid);
  rc_change_pos pos = {file, ev->offset, first_row, gt, ev->ts};
  avro_slot *sl = NULL;
  if (s->avro) {
    char tname[600];
    snprintf(tname, sizeof tname, "%.*s", (int)topic->len, topic->p);
    if (!(sl = avro_table(s, t, tname, err, esz))) {
      if (s->slot_err == RC_STAGE_STOP) return RC_STAGE_STOP;
      char inner[1024];
      snprintf(inner, sizeof inner, "%.900s", err);
      return rc_errf(s->slot_err == RC_ERR_IO ? RC_ERR_IO : RC_ERR_UNSUPPORTED, err, esz, "%s.%s: Avro schema: %s",
                     t->db, t->name, inner);
    }
    if (!sl->announced && !s->registry[0]) {
      put_schema(s, rc_avro_value_fingerprint(sl->at), rc_avro_value_schema(sl->at));
      if (rc_avro_key_schema(sl->at)) put_schema(s, rc_avro_key_fingerprint(sl->at), rc_avro_key_schema(sl->at));
    }
    sl->announced = 1;
  }
  rc_avro_source src = {ev->server_id, file, ev->offset, 0, gt, (uint64_t)ev->ts * 1000};
  uint64_t now_ms = rc_wall_ns() / 1000000;
  rc_rec_message m = {recv_ns, commit_us, topic->p, topic->len, NULL, 0, NULL, 0,
                      file, strlen(file), ev->offset, 0, gtid, gtid_len};
  rc_row_change ch;
  while ((r = rc_row_iter_next(&s->it, &ch, err, esz)) > 0) {
    const rc_value *before = ch.before, *after = ch.after;
    char op = snapshot ? 'r' : ch.op; /* a snapshot row: the reader wrote it as an insert */
    pos.row = ch.row;
    size_t rec = s->frame.len;
    rc_frame_put_message_head(&s->frame, &m);
    /* the key the row had: the before image for updates and deletes (an update that changes
     * the key stays in the partition of the row's earlier changes), the after image for
     * inserts; whichever image has every key column when the other does not */
    const rc_value *kimg = before && key_complete(t, before) ? before : after && key_complete(t, after) ? after : NULL;
    if (sl) {
      if (!rc_avro_key_schema(sl->at) || !kimg) {
        rc_frame_put_null32(&s->frame);
      } else {
        size_t key_at = rc_frame_open_bytes32(&s->frame);
        put_avro_header(s, &s->frame, rc_avro_key_fingerprint(sl->at), sl->key_id);
        if ((r = rc_avro_encode_key(sl->at, &s->frame, kimg, err, esz)) < 0) return r;
        rc_frame_close_bytes32(&s->frame, key_at);
      }
    } else if ((r = put_key(s, t, kimg, err, esz)) < 0) {
      return r;
    }
    size_t val_at = rc_frame_open_bytes32(&s->frame);
    if (sl) {
      put_avro_header(s, &s->frame, rc_avro_value_fingerprint(sl->at), sl->value_id);
      src.row = pos.row;
      if ((r = rc_avro_encode_value(sl->at, &s->frame, op, before, after, &src, now_ms, err, esz)) < 0) return r;
    } else {
      /* rc_json_change writes the line with its newline; the message has none */
      if ((r = rc_json_change(&s->frame, t, op, before, after, &pos, err, esz)) < 0) return r;
      s->frame.len--;
    }
    rc_frame_close_bytes32(&s->frame, val_at);
    m.row = pos.row;
    rc_frame_put_message_tail(&s->frame, &m);
    (*count)++;
    int f = fit_record(s, rec, seq, count, 1);
    if (f == FIT_TOO_BIG) {
      s->fatal = RC_EXIT_CONFIG;
      return rc_errf(RC_ERR_UNSUPPORTED, err, esz,
                     "%s: change at offset %llu row %u of %s.%s is %zu bytes as a message, more than one pipe "
                     "message holds (pipe.max_message_bytes=%d): raise pipe.max_message_bytes",
                     file, (unsigned long long)ev->offset, pos.row, t->db, t->name, s->frame.len - rec,
                     s->st.pipe.max_message_bytes);
    }
    if (f == RC_STAGE_STOP) return RC_STAGE_STOP;
    s->changes++;
  }
  return r;
}

/* Feed a raw event of a 'T' or 'R' record to the decoder (without checksum when flagged so). */
static int feed(serializer *s, uint8_t flags, const uint8_t *raw, size_t len, uint64_t offset, rc_event *ev,
                char *err, size_t esz) {
  return flags & RC_REC_EV_NOCRC ? rc_binlog_feed_nocrc(s->bl, raw, len, offset, ev, err, esz)
                                 : rc_binlog_feed(s->bl, raw, len, offset, ev, err, esz);
}

/* One record of an EVENTS frame: the decoder takes the file, FORMAT_DESCRIPTION and table maps;
 * a ROWS event becomes messages; a transaction end becomes a boundary record. `file` (of
 * file_size bytes) is the batch's current file. Returns 0, RC_STAGE_STOP, or an error: a
 * malformed record (rd->bad set), else the decoder's or encoder's (message in err). */
static int handle_record(serializer *s, rc_frame_rd *rd, uint64_t seq, uint32_t *count, char *file,
                         size_t file_size, char *err, size_t esz) {
  rc_event ev;
  switch (rc_frame_peek_tag(rd)) {
  case RC_REC_FILE: {
    rc_rec_file f;
    if (rc_frame_get_file(rd, &f) < 0) return RC_ERR_CORRUPT;
    if (f.len >= file_size) return rc_frame_rec_bad(rd, "a file name longer than rowcast keeps");
    memcpy(file, f.name, f.len);
    file[f.len] = 0;
    rc_binlog_start_file(s->bl, file);
    return 0;
  }
  case RC_REC_FDE: {
    rc_rec_fde f;
    if (rc_frame_get_fde(rd, &f) < 0) return RC_ERR_CORRUPT;
    return rc_binlog_feed(s->bl, f.raw, f.len, 0, &ev, err, esz);
  }
  case RC_REC_TMAP: {
    rc_rec_tmap t;
    if (rc_frame_get_tmap(rd, &t) < 0) return RC_ERR_CORRUPT;
    return feed(s, t.flags, t.raw, t.len, 0, &ev, err, esz);
  }
  case RC_REC_ROWS: {
    rc_rec_rows w; /* w.rows is not needed: the rows themselves tell */
    if (rc_frame_get_rows(rd, &w) < 0) return RC_ERR_CORRUPT;
    int r = feed(s, w.flags, w.raw, w.raw_len, w.offset, &ev, err, esz);
    if (r < 0) return r;
    return rows_to_messages(s, &ev, (w.flags & RC_REC_EV_SNAPSHOT) != 0, w.first_row, w.recv_ns, w.commit_us, w.gtid, w.gtid_len, seq, count, err, esz);
  }
  case RC_REC_TXN_END: {
    rc_rec_txn_end c;
    if (rc_frame_get_txn_end(rd, &c) < 0) return RC_ERR_CORRUPT;
    size_t rec = s->frame.len;
    rc_frame_put_boundary(&s->frame, &(rc_rec_boundary){file, strlen(file), c.pos});
    return fit_record(s, rec, seq, count, 0) == RC_STAGE_STOP ? RC_STAGE_STOP : 0;
  }
  case RC_REC_PROGRESS: { /* passed on: the publisher's checkpoint records it */
    rc_rec_progress g;
    if (rc_frame_get_progress(rd, &g) < 0) return RC_ERR_CORRUPT;
    size_t rec = s->frame.len;
    rc_frame_put_progress(&s->frame, &g);
    return fit_record(s, rec, seq, count, 0) == RC_STAGE_STOP ? RC_STAGE_STOP : 0;
  }
  default:
    rd->rec = rd->p;
    return rc_frame_rec_bad(rd, "unknown tag in an events frame");
  }
}

/* Turn one EVENTS frame into MESSAGES frame(s). Returns 0, or an exit status > 0. */
static int handle_batch(serializer *s, const rc_frame_hdr *h, const uint8_t *payload) {
  char err[1024], file[256] = "";
  rc_frame_rd rd;
  rc_frame_rd_init(&rd, payload, h->payload_len);
  rc_frame_begin(&s->frame, RC_FRAME_MESSAGES, h->seq);
  uint32_t count = 0;
  while (rc_frame_rd_more(&rd)) {
    int r = handle_record(s, &rd, h->seq, &count, file, sizeof file, err, sizeof err);
    if (r == RC_STAGE_STOP) return RC_EXIT_FAILURE; /* could not send, or asked to stop */
    if (rd.bad) break;
    if (r < 0) {
      rc_error("batch %llu: %s", (unsigned long long)h->seq, err);
      if (r == RC_ERR_IO) return RC_EXIT_FAILURE;
      return s->fatal ? s->fatal : RC_EXIT_CONFIG;
    }
  }
  if (rd.bad) {
    rc_frame_rd_describe(&rd, payload, err, sizeof err);
    rc_error("batch %llu from the reader is malformed: %s", (unsigned long long)h->seq, err);
    return RC_EXIT_FAILURE;
  }
  rc_frame_finish(&s->frame, count, 0);
  if (send_frame(s) < 0) return RC_EXIT_FAILURE;
  s->batches++;
  return 0;
}

int main(int argc, char **argv) {
  serializer s;
  memset(&s, 0, sizeof s);
  int status = rc_stage_init(&s.st, "serializer", argc, argv);
  if (status != RC_EXIT_OK) return status;
  s.st.ctx = &s;
  s.st.metrics_fn = metrics;
  s.prefix = rc_config_str(s.st.cfg, "publisher.topic_prefix");
  s.avro = !strcmp(rc_config_str(s.st.cfg, "serializer.format"), "avro");
  s.registry = rc_config_str(s.st.cfg, "schema_registry.url");
  s.slots = calloc(AVRO_SLOTS, sizeof *s.slots);
  if (!s.slots) return RC_EXIT_FAILURE;
  s.part_bytes = (size_t)s.st.pipe.max_message_bytes / 2;
  char err[1024], path[4200], name[32];
  rc_stage_path(&s.st, path, sizeof path, "reader");
  s.in = rc_pipe_open(0, path, 0, &s.st.pipe, err, sizeof err);
  snprintf(name, sizeof name, "publisher-%d", s.st.worker);
  rc_stage_path(&s.st, path, sizeof path, name);
  s.out = s.in < 0 ? -1 : rc_pipe_open(1, path, 0, &s.st.pipe, err, sizeof err);
  if (s.in < 0 || s.out < 0) {
    rc_error("%s", err);
    return RC_EXIT_FAILURE;
  }
  s.bl = rc_binlog_new();
  if (!s.bl) return RC_EXIT_FAILURE;
  rc_binlog_set_verify_checksums(s.bl, 0); /* the reader verified them */
  struct pollfd pfd = {.fd = rc_pipe_fd(s.in, 1), .events = POLLIN};
  while (status == 0 && !s.st.stop) {
    void *msg;
    size_t len;
    int got = rc_pipe_recv(s.in, &msg, &len, err, sizeof err);
    if (got < 0) {
      rc_error("%s", err);
      status = RC_EXIT_FAILURE;
      break;
    }
    if (got == 0) {
      if (rc_stage_wait(&s.st, &pfd, 1, -1) < 0) status = RC_EXIT_FAILURE;
      continue;
    }
    uint64_t t0 = rc_now_ns();
    rc_frame_hdr h;
    const uint8_t *payload;
    if (rc_frame_parse(msg, len, &h, &payload, err, sizeof err) < 0) {
      rc_error("from the reader: %s", err);
      status = RC_EXIT_FAILURE;
    } else if (h.kind == RC_FRAME_EVENTS) {
      status = handle_batch(&s, &h, payload);
    } else if (h.kind == RC_FRAME_END) {
      rc_frame_begin(&s.frame, RC_FRAME_END, h.seq);
      rc_frame_finish(&s.frame, 0, 0);
      if (send_frame(&s) < 0) status = RC_EXIT_FAILURE;
    } else {
      rc_error("unexpected %s frame from the reader", rc_frame_kind_name(h.kind));
      status = RC_EXIT_FAILURE;
    }
    rc_pipe_msg_free(msg);
    s.busy_ns += rc_now_ns() - t0;
  }
  rc_stage_close(&s.st);
  rc_pipe_close(s.in);
  rc_pipe_close(s.out);
  rc_row_iter_free(&s.it);
  rc_binlog_free(s.bl);
  rc_buf_free(&s.frame);
  rc_buf_free(&s.scratch);
  rc_buf_free(&s.topic);
  for (size_t k = 0; k < AVRO_SLOTS; k++) rc_avro_table_free(s.slots[k].at);
  free(s.slots);
  return status;
}
