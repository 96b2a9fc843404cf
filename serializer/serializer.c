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
 * Column filters (filter.exclude_columns, filter.mask_columns) are applied here, before
 * encoding: each table version gets its projection (common/codec/row_project.h), built once and
 * cached by signature like the schemas, and every change is encoded from the projected images
 * with the projected table, so Avro and JSON, keys and values, leave out and mask the same
 * columns. Table filters were applied by the reader.
 * publisher.tombstones: after each delete whose key is known, a tombstone record
 * (rc_rec_tombstone: the same topic and key, the delete's position) that the publisher sends
 * with a null value. publisher.transactions_topic: the reader's transaction records become a
 * BEGIN and an END message to that topic (common/codec/txn_msg.h), and each change's value
 * carries its transaction's id and order (from the rc_rec_txn_order before its ROWS record).
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
#include <unistd.h>

#include "avro_row.h"
#include "binlog.h"
#include "buf.h"
#include "filter.h"
#include "frame.h"
#include "registry.h"
#include "log.h"
#include "metrics.h"
#include "row_json.h"
#include "row_project.h"
#include "shared.h"
#include "stage.h"
#include "txn_msg.h"

/* One table version's Avro schemas and, when a registry is used, their ids. */
typedef struct {
  uint64_t sig;
  rc_avro_table *at;
  int announced; /* schemas sent to the publisher for the schema topic */
  int value_id, key_id;
} avro_slot;

#define AVRO_SLOTS 1024

/* What one worker serialized of one table, for the per-table metrics. At most TABLE_STATS
 * tables; any table past them is counted under OTHER_TABLES. */
typedef struct {
  char name[400]; /* "db.table" ("" free) */
  uint64_t changes, bytes;
} table_stat;

#define TABLE_STATS 256
#define OTHER_TABLES "(other tables)"
/* One table version's projection under the column filters; p NULL: the filters leave it as it is. */
typedef struct {
  uint64_t sig;
  rc_project *p;
} proj_slot;

#define PROJ_SLOTS 1024

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
  table_stat *tables; /* [TABLE_STATS], open addressing on the name; the last slot: OTHER_TABLES */
  size_t ntables;
  int fatal;
  rc_filter *filter;
  proj_slot *projs; /* open addressing on the signature; NULL without column filters */
  size_t nprojs;
  int tombstones;       /* publisher.tombstones */
  rc_buf tkey;          /* the key of the delete a tombstone follows */
  uint64_t tombstones_made, txn_msgs;
  /* publisher.transactions_topic */
  const char *txn_topic; /* "" off */
  rc_txn_codec *txn_codec; /* Avro */
  int txn_announced, txn_value_id, txn_key_id;
  int have_order;      /* an rc_rec_txn_order came: it applies to the next ROWS record */
  char order_id[300];
  uint32_t order, table_order;
  rc_buf txn_tmp;
  rc_shared shm; /* the shared frame ring to the publisher (shared.h); unmapped: none */
  /* a messages frame is built in place in the ring when it has room (s->frame then borrows
   * ring memory, and its own buffer waits here); the last such frame's size sets the room asked */
  rc_buf own;
  int own_parked;
  size_t last_frame;
} serializer;

/* The figures of table db.name (found or added). */
static table_stat *table_stat_of(serializer *s, const char *db, const char *name) {
  char key[400];
  snprintf(key, sizeof key, "%s.%s", db, name);
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001B3ull;
  size_t i = (size_t)(h % (TABLE_STATS - 1));
  while (s->tables[i].name[0] && strcmp(s->tables[i].name, key)) i = (i + 1) % (TABLE_STATS - 1);
  table_stat *ts = &s->tables[i];
  if (ts->name[0]) return ts;
  if (s->ntables >= (TABLE_STATS - 1) * 3 / 4) { /* full enough: the rest go together */
    ts = &s->tables[TABLE_STATS - 1];
    snprintf(ts->name, sizeof ts->name, "%s", OTHER_TABLES);
    return ts;
  }
  snprintf(ts->name, sizeof ts->name, "%s", key);
  s->ntables++;
  return ts;
}

static void metrics(rc_stage *st, rc_buf *b) {
  serializer *s = st->ctx;
  rc_metric_put(b, "batches", s->batches);
  rc_metric_put(b, "changes", s->changes);
  rc_metric_put(b, "bytes", s->messages_bytes);
  rc_metric_put(b, "busy_ms", s->busy_ns / 1000000);
  rc_metric_put(b, "send_wait_ms", s->send_wait_ns / 1000000);
  if (s->shm.map) {
    rc_metric_put(b, "shared_batches", s->shm.put);
    rc_metric_put(b, "shared_too_large", s->shm.too_large);
    rc_metric_put(b, "shared_used_bytes", rc_shared_used(&s->shm));
  }
  for (size_t i = 0; s->tables && i < TABLE_STATS; i++)
    if (s->tables[i].name[0]) rc_metric_put_table(b, s->tables[i].name, s->tables[i].changes, s->tables[i].bytes);
  if (s->tombstones) rc_metric_put(b, "tombstones", s->tombstones_made);
  if (s->txn_topic[0]) rc_metric_put(b, "transaction_messages", s->txn_msgs);
}

/* s->frame back to a buffer of its own after a frame built in the ring: the one parked, or the
 * one it moved into when it grew past the room it had there. */
static void frame_own(serializer *s) {
  if (!s->own_parked) return;
  if (s->frame.borrowed) s->frame = s->own;
  else rc_buf_free(&s->own);
  memset(&s->own, 0, sizeof s->own);
  s->own_parked = 0;
}

/* A new messages frame: in place in the shared ring when it has room for about twice the last
 * one, else in the frame's own buffer (copied into the ring, or sent whole, by send_frame). */
static void begin_messages(serializer *s, uint64_t seq) {
  frame_own(s);
  size_t avail = 0, want = s->last_frame * 2 > 65536 ? s->last_frame * 2 : 65536;
  uint8_t *at = s->shm.map ? rc_shared_window(&s->shm, want, &avail) : NULL;
  if (at) {
    s->own = s->frame;
    s->own_parked = 1;
    rc_buf_borrow(&s->frame, at, avail);
  }
  rc_frame_begin(&s->frame, RC_FRAME_MESSAGES, seq);
}

static int send_frame(serializer *s) {
  if (s->frame.len > (size_t)s->st.pipe.max_message_bytes) { /* nanomsg would drop it silently */
    rc_error("internal: a frame of %zu bytes is over pipe.max_message_bytes=%d", s->frame.len,
             s->st.pipe.max_message_bytes);
    return RC_STAGE_STOP;
  }
  /* a batch of messages through the shared ring (a reference goes through the pipe), waiting
   * while the ring is full; anything else, and a batch too big for the ring, whole through the
   * pipe */
  uint8_t ref[RC_SHARED_REF_LEN];
  const uint8_t *h = (const uint8_t *)s->frame.p;
  int messages = s->frame.len >= RC_FRAME_HDR_LEN && (h[6] | h[7] << 8) == RC_FRAME_MESSAGES, shared = -1;
  if (s->frame.borrowed) { /* built in place: the ring's already */
    rc_shared_commit(&s->shm, s->frame.len, ref);
    shared = 1;
  } else if (messages) {
    uint64_t t0 = 0;
    while ((shared = rc_shared_put(&s->shm, s->frame.p, s->frame.len, ref)) == 0) {
      if (!t0) t0 = rc_now_ns();
      if (rc_stage_wait(&s->st, NULL, 0, 1) == RC_STAGE_STOP || rc_stage_stopping(&s->st)) return RC_STAGE_STOP;
    }
    if (t0) s->send_wait_ns += rc_now_ns() - t0;
  }
  shared = shared > 0;
  if (rc_stage_send(&s->st, s->out, shared ? (const void *)ref : s->frame.p, shared ? sizeof ref : s->frame.len,
                    "publisher", &s->send_wait_ns) < 0)
    return RC_STAGE_STOP;
  s->messages_bytes += s->frame.len;
  if (messages) s->last_frame = s->frame.len;
  frame_own(s);
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
    begin_messages(s, seq);
    rc_buf_put(&s->frame, t->p, t->len);
    *count = is_change ? 1 : 0;
    return 0;
  }
  rc_frame_finish(&s->frame, *count, RC_FRAME_MORE);
  if (send_frame(s) < 0) return RC_STAGE_STOP;
  begin_messages(s, seq);
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
  char shown[2100]; /* the URL without the password of a user:password@ */
  rc_url_redact(s->registry, shown, sizeof shown);
  for (;;) {
    int r = rc_registry_register(s->registry, subject, schema, id, err, esz);
    uint64_t now = rc_now_ns();
    if (r == 0 && attempts)
      rc_info("schema registry %s answers again: subject %s registered after %u failed attempts in %.1f s; "
              "going on", shown, subject, attempts, (double)(now - first_ns) / 1e9);
    if (r != RC_ERR_IO) {
      if (r < 0) {
        char why[900];
        snprintf(why, sizeof why, "%s", err);
        rc_errf(r, err, esz, "the schema registry %s refused subject %s (not retried: fix the registry or the "
                "schema, then run again): %s", shown, subject, why);
      }
      return r;
    }
    if (!attempts++) first_ns = now;
    if (!logged_ns || now - logged_ns >= REGISTRY_LOG_EVERY_NS) {
      rc_error("schema registry %s unreachable while registering subject %s (attempt %u, %.0f s so far): %s; "
               "the pipeline waits for it, retrying every %u s at most", shown, subject, attempts,
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
  for (uint32_t i = 0; i < t->ncols; i++) /* a projected table: which columns hold hashes */
    if (t->cols[i].masked) h = (h ^ (i + 1)) * 0x100000001B3ull;
  return h ? h : 1;
}

static int column_action(void *filter, const char *db, const char *table, const char *column) {
  return rc_filter_column(filter, db, table, column); /* RC_FILTER_* and RC_PROJECT_* agree */
}

static void projs_clear(serializer *s) {
  for (size_t k = 0; k < PROJ_SLOTS; k++) rc_project_free(s->projs[k].p);
  memset(s->projs, 0, PROJ_SLOTS * sizeof *s->projs);
  s->nprojs = 0;
}

/* The projection of this table version under the column filters (*out NULL when they leave it
 * as it is), built on first sight and kept. 0, or an error in err: RC_ERR_ARG (s->fatal set:
 * a configuration the table cannot take, such as an excluded primary-key column), NOMEM. */
static int project_of(serializer *s, const rc_table *t, rc_project **out, char *err, size_t esz) {
  *out = NULL;
  uint64_t sig = table_sig(t);
  size_t i = (size_t)(sig % PROJ_SLOTS);
  while (s->projs[i].sig && s->projs[i].sig != sig) i = (i + 1) % PROJ_SLOTS;
  if (s->projs[i].sig) {
    *out = s->projs[i].p;
    return 0;
  }
  if (s->nprojs >= PROJ_SLOTS * 3 / 4) { /* bound memory on endless DDL: start over */
    projs_clear(s);
    i = (size_t)(sig % PROJ_SLOTS);
  }
  size_t klen;
  const uint8_t *key = rc_filter_mask_key(s->filter, &klen);
  rc_project *p;
  int r = rc_project_for(t, column_action, s->filter, key, klen, &p, err, esz);
  if (r < 0) {
    if (r == RC_ERR_ARG) s->fatal = RC_EXIT_CONFIG;
    return r;
  }
  s->projs[i].sig = sig;
  s->projs[i].p = p;
  s->nprojs++;
  *out = p;
  return 0;
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
  if ((s->slot_err = (s->txn_topic[0] ? rc_avro_table_new_txn : rc_avro_table_new)(t, &at, err, esz)) < 0) return NULL;
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

/* The tombstone of the delete just written (publisher.tombstones): its key is the bytes32 at
 * key_at of the frame. A delete without a key gets none: compaction needs a key. */
static void put_tombstone(serializer *s, size_t key_at, const rc_rec_message *m) {
  const uint8_t *k = (const uint8_t *)s->frame.p + key_at;
  uint32_t klen = (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
  if (klen == RC_FRAME_NULL32) return;
  s->tkey.len = 0;
  rc_buf_put(&s->tkey, k + 4, klen); /* copied: the frame may move while it grows */
  rc_frame_put_tombstone(&s->frame, &(rc_rec_tombstone){m->topic, m->topic_len, (const uint8_t *)s->tkey.p, klen,
                                                         m->file, m->file_len, m->offset, m->row});
  s->tombstones_made++;
}

/* The transaction topic's schemas, announced or registered once (Avro). 0, RC_STAGE_STOP or an error. */
static int txn_schemas(serializer *s, char *err, size_t esz) {
  if (s->txn_announced) return 0;
  if (s->registry[0]) {
    char subject[400];
    snprintf(subject, sizeof subject, "%s-value", s->txn_topic);
    int r = register_schema(s, subject, rc_txn_value_schema(), &s->txn_value_id, err, esz);
    if (r < 0) return r;
    snprintf(subject, sizeof subject, "%s-key", s->txn_topic);
    if ((r = register_schema(s, subject, rc_txn_key_schema(), &s->txn_key_id, err, esz)) < 0) return r;
  } else {
    put_schema(s, rc_txn_value_fingerprint(), rc_txn_value_schema());
    put_schema(s, rc_txn_key_fingerprint(), rc_txn_key_schema());
  }
  s->txn_announced = 1;
  return 0;
}

/* A transaction's BEGIN or END as a message to publisher.transactions_topic. Its position: the
 * file and offset of the record, row 0 (BEGIN) or RC_TXN_END_ROW (END), so that the recovery
 * orders it after every change of its transaction (txn_msg.h). 0, RC_STAGE_STOP or an error. */
static int txn_message(serializer *s, const rc_rec_txn *x, const char *file, uint64_t seq, uint32_t *count,
                       char *err, size_t esz) {
  char id[300], gtid[128];
  snprintf(id, sizeof id, "%.*s", (int)x->id_len, x->id);
  snprintf(gtid, sizeof gtid, "%.*s", (int)x->gtid_len, x->gtid);
  /* the table list: NUL-terminated copies in txn_tmp, then the array after them */
  rc_buf *tb = &s->txn_tmp;
  tb->len = 0;
  size_t ntables = 0;
  rc_frame_rd tr;
  rc_frame_rd_init(&tr, x->tables, x->tables_len);
  const char *db, *tn;
  size_t dl, tl;
  uint32_t c;
  while (rc_frame_get_txn_table(&tr, &db, &dl, &tn, &tl, &c) > 0) {
    rc_buf_put(tb, db, dl);
    rc_buf_putc(tb, 0);
    rc_buf_put(tb, tn, tl);
    rc_buf_putc(tb, 0);
    rc_buf_put(tb, &c, sizeof c);
    ntables++;
  }
  rc_txn_table *tables = calloc(ntables ? ntables : 1, sizeof *tables);
  if (!tables) return rc_errf(RC_ERR_NOMEM, err, esz, "out of memory");
  const char *q = tb->p;
  for (size_t i = 0; i < ntables; i++) {
    tables[i].db = q;
    q += strlen(q) + 1;
    tables[i].table = q;
    q += strlen(q) + 1;
    memcpy(&tables[i].count, q, sizeof c);
    q += sizeof c;
  }
  rc_txn_msg tm = {x->end, id, gtid, file, x->offset, x->commit_us / 1000, x->count, tables, ntables};
  int r = s->avro ? txn_schemas(s, err, esz) : 0;
  size_t rec = s->frame.len;
  rc_rec_message m = {0, x->commit_us, s->txn_topic, strlen(s->txn_topic), NULL, 0, NULL, 0,
                      file, strlen(file), x->offset, x->end ? RC_TXN_END_ROW : 0, gtid, strlen(gtid)};
  if (r == 0) {
    rec = s->frame.len;
    rc_frame_put_message_head(&s->frame, &m);
    size_t at = rc_frame_open_bytes32(&s->frame);
    if (s->avro) {
      put_avro_header(s, &s->frame, rc_txn_key_fingerprint(), s->txn_key_id);
      r = rc_txn_avro_key(s->txn_codec, &s->frame, id, err, esz);
    } else {
      rc_txn_json_key(&s->frame, id);
    }
    rc_frame_close_bytes32(&s->frame, at);
    at = rc_frame_open_bytes32(&s->frame);
    if (r == 0 && s->avro) {
      put_avro_header(s, &s->frame, rc_txn_value_fingerprint(), s->txn_value_id);
      r = rc_txn_avro_value(s->txn_codec, &s->frame, &tm, err, esz);
    } else if (r == 0) {
      rc_txn_json_value(&s->frame, &tm);
    }
    rc_frame_close_bytes32(&s->frame, at);
    rc_frame_put_message_tail(&s->frame, &m);
  }
  free(tables);
  if (r < 0) return r;
  s->txn_msgs++;
  int f = fit_record(s, rec, seq, count, 0);
  if (f == FIT_TOO_BIG) {
    s->fatal = RC_EXIT_CONFIG;
    return rc_errf(RC_ERR_UNSUPPORTED, err, esz, "the %s message of transaction %s is %zu bytes, more than one pipe "
                   "message holds (pipe.max_message_bytes=%d): raise pipe.max_message_bytes",
                   x->end ? "END" : "BEGIN", id, s->frame.len - rec, s->st.pipe.max_message_bytes);
  }
  return f == RC_STAGE_STOP ? RC_STAGE_STOP : 0;
}

static int rows_to_messages(serializer *s, const rc_event *ev, int snapshot, uint32_t first_row, uint64_t recv_ns,
                            uint64_t commit_us, const char *gtid,
                            size_t gtid_len, uint64_t seq, uint32_t *count, char *err, size_t esz) {
  int r = rc_row_iter_begin(&s->it, s->bl, ev, first_row, err, esz);
  if (r < 0) return r;
  const rc_table *t = s->it.rows.table;
  rc_project *pj = NULL;
  if (s->projs) {
    if ((r = project_of(s, t, &pj, err, esz)) < 0) return r;
    if (pj) t = rc_project_table(pj); /* the same db and name: the topic does not change */
  }
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
  rc_change_pos pos = {file, ev->offset, first_row, gt, ev->ts, NULL};
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
  /* the transaction of these changes (publisher.transactions_topic), numbered from the reader's base */
  rc_avro_txn atx = {s->order_id, s->order, s->table_order};
  rc_change_txn jtx = {s->order_id, s->order, s->table_order};
  int ordered = s->have_order;
  s->have_order = 0;
  if (ordered) pos.txn = &jtx;
  rc_avro_source src = {ev->server_id, file, ev->offset, 0, gt, (uint64_t)ev->ts * 1000, ordered ? &atx : NULL};
  uint64_t now_ms = rc_wall_ns() / 1000000;
  rc_rec_message m = {recv_ns, commit_us, topic->p, topic->len, NULL, 0, NULL, 0,
                      file, strlen(file), ev->offset, 0, gtid, gtid_len};
  table_stat *ts = table_stat_of(s, t->db, t->name);
  rc_row_change ch;
  while ((r = rc_row_iter_next(&s->it, &ch, err, esz)) > 0) {
    const rc_value *before = ch.before, *after = ch.after;
    if (pj && ((r = rc_project_image(pj, 0, before, &before, err, esz)) < 0 ||
               (r = rc_project_image(pj, 1, after, &after, err, esz)) < 0))
      return r;
    char op = snapshot ? 'r' : ch.op; /* a snapshot row: the reader wrote it as an insert */
    pos.row = ch.row;
    size_t rec = s->frame.len;
    rc_frame_put_message_head(&s->frame, &m);
    /* the key the row had: the before image for updates and deletes (an update that changes
     * the key stays in the partition of the row's earlier changes), the after image for
     * inserts; whichever image has every key column when the other does not */
    const rc_value *kimg = before && key_complete(t, before) ? before : after && key_complete(t, after) ? after : NULL;
    size_t key_at = s->frame.len; /* the key's bytes32, for a tombstone */
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
    if (op == 'd' && s->tombstones) put_tombstone(s, key_at, &m);
    (*count)++;
    ts->bytes += s->frame.len - rec;
    atx.order++, atx.table_order++;
    jtx.order++, jtx.table_order++;
    int f = fit_record(s, rec, seq, count, 1); /* the message and its tombstone stay together */
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
    ts->changes++;
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
  case RC_REC_TXN: {
    rc_rec_txn x;
    if (rc_frame_get_txn(rd, &x) < 0) return RC_ERR_CORRUPT;
    if (!s->txn_topic[0]) return rc_frame_rec_bad(rd, "a transaction record, but publisher.transactions_topic is off");
    return txn_message(s, &x, file, seq, count, err, esz);
  }
  case RC_REC_TXN_ORDER: {
    rc_rec_txn_order o;
    if (rc_frame_get_txn_order(rd, &o) < 0) return RC_ERR_CORRUPT;
    if (o.id_len >= sizeof s->order_id) return rc_frame_rec_bad(rd, "a transaction id longer than rowcast keeps");
    memcpy(s->order_id, o.id, o.id_len);
    s->order_id[o.id_len] = 0;
    s->order = o.order;
    s->table_order = o.table_order;
    s->have_order = 1;
    return 0;
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
  begin_messages(s, h->seq);
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
  s.tombstones = (int)rc_config_int(s.st.cfg, "publisher.tombstones");
  s.txn_topic = rc_config_str(s.st.cfg, "publisher.transactions_topic");
  s.slots = calloc(AVRO_SLOTS, sizeof *s.slots);
  s.tables = calloc(TABLE_STATS, sizeof *s.tables);
  if (!s.slots || !s.tables) return RC_EXIT_FAILURE;
  char ferr[1024];
  if (rc_filter_from_config(&s.filter, s.st.cfg, ferr, sizeof ferr) < 0) {
    rc_error("%s", ferr);
    free(s.slots);
    free(s.tables);
    rc_stage_close(&s.st);
    return RC_EXIT_CONFIG;
  }
  if (rc_filter_has_columns(s.filter) && !(s.projs = calloc(PROJ_SLOTS, sizeof *s.projs))) return RC_EXIT_FAILURE;
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
  if (s.avro && s.txn_topic[0] && rc_txn_codec_new(&s.txn_codec, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_FAILURE;
  }
  rc_binlog_set_verify_checksums(s.bl, 0); /* the reader verified them */
  if (s.st.nshared > 0 && s.st.shared_fd[0] >= 0) {
    if (rc_shared_map(&s.shm, s.st.shared_fd[0], err, sizeof err) < 0) {
      rc_error("%s", err);
      return RC_EXIT_FAILURE;
    }
    close(s.st.shared_fd[0]); /* the mapping keeps it */
  }
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
  rc_shared_unmap(&s.shm);
  rc_row_iter_free(&s.it);
  rc_binlog_free(s.bl);
  frame_own(&s);
  rc_buf_free(&s.frame);
  rc_buf_free(&s.scratch);
  rc_buf_free(&s.topic);
  rc_buf_free(&s.tkey);
  rc_buf_free(&s.txn_tmp);
  rc_txn_codec_free(s.txn_codec);
  for (size_t k = 0; k < AVRO_SLOTS; k++) rc_avro_table_free(s.slots[k].at);
  free(s.slots);
  free(s.tables);
  if (s.projs) projs_clear(&s);
  free(s.projs);
  rc_filter_free(s.filter);
  return status;
}
