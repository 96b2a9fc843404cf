/*
 * frame.h: the messages between stages, and the records inside them. Every nanomsg message is
 * one frame: a fixed 32-byte little-endian header, then the payload.
 *
 *   magic u32 "RCF1" | version u16 | kind u16 | seq u64 | count u32 | flags u32 | payload_len u64
 *
 * `seq` is the batch sequence number the reader stamped; `count` the changes (or messages) the
 * frame holds; flags RC_FRAME_MORE means more parts of the same batch follow (a serializer cuts
 * a batch whose messages would not fit in one pipe message). Frames are parsed strictly: an
 * unknown magic or version, a short frame or a length that does not add up is an error.
 *
 * Payloads are sequences of records: a tag byte, then fixed little-endian fields and
 * length-prefixed bytes (str16: u16 length; bytes32: u32 length, RC_FRAME_NULL32 for null).
 * Each record kind has a struct and one writer/reader pair below, which is the one place its
 * layout is written. Written by reader/reader.c (EVENTS) and serializer/serializer.c
 * (MESSAGES), read by the serializer (EVENTS) and publisher/publisher.c (MESSAGES).
 *
 * EVENTS frames (reader -> serializer), in stream order:
 *   'N' rc_rec_file     str16 name          the following records come from this binlog file
 *   'F' rc_rec_fde      bytes32 raw         its FORMAT_DESCRIPTION event (with checksum)
 *   'T' rc_rec_tmap     u8 flags bytes32 raw             a TABLE_MAP event
 *   'R' rc_rec_rows     u64 offset u64 recv_ns u64 commit_us u32 rows u32 first_row u8 flags
 *                       str16 gtid bytes32 raw          a ROWS event holding `rows` changes
 *   'C' rc_rec_txn_end  u64 pos             a transaction ends at `pos` of the current file
 *   with publisher.transactions_topic set, also:
 *   'B' rc_rec_txn      u8 end str16 id str16 gtid u64 offset u64 commit_us u32 count
 *                       bytes32 tables      a transaction's BEGIN (before its first ROWS) or
 *                                           END (before its 'C'); tables: per table str16 db
 *                                           str16 table u32 count (END only)
 *   'X' rc_rec_txn_order str16 id u32 order u32 table_order   the transaction of the next 'R'
 *                       and the order (1-based) of its first change in it, and in its table
 *   'P' rc_rec_progress u64 value           snapshot progress at the transaction end before it
 * MESSAGES frames (serializer -> publisher):
 *   'M' rc_rec_message  u64 recv_ns u64 commit_us str16 topic bytes32 key (null allowed)
 *                       bytes32 value str16 file u64 offset u32 row str16 gtid
 *   'C' rc_rec_boundary str16 file u64 pos  a transaction boundary (checkpoint candidate)
 *   'S' rc_rec_schema   str16 fingerprint (16 hex digits) bytes32 schema JSON
 *   'Z' rc_rec_tombstone str16 topic bytes32 key str16 file u64 offset u32 row
 *                       the tombstone of the delete just before it (publisher.tombstones)
 *   'P' rc_rec_progress u64 value           (passed on from the events frame) the checkpoint
 *                                           taken at the boundary before it records it
 *
 * Records point into the payload (reading) or into the caller's memory (writing): nothing is
 * copied but into the frame buffer, nothing is allocated. The writers and readers are static
 * inline: they run once per event and per message.
 */
#ifndef RC_FRAME_H
#define RC_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "rc_err.h"

#define RC_FRAME_MAGIC 0x31464352u /* "RCF1" little-endian */
#define RC_FRAME_VERSION 1
#define RC_FRAME_HDR_LEN 32

enum {
  RC_FRAME_EVENTS = 1,   /* reader -> serializer: raw binlog events of one batch */
  RC_FRAME_MESSAGES = 2, /* serializer -> publisher: Kafka messages of one batch */
  RC_FRAME_END = 3,      /* reader -> serializer -> publisher: no batch after this one */
  RC_FRAME_METRICS = 4,  /* any stage -> supervisor: one metrics snapshot (text) */
};

enum { RC_FRAME_MORE = 1 };

typedef struct rc_frame_hdr {
  uint16_t version;
  uint16_t kind;
  uint64_t seq;
  uint32_t count;
  uint32_t flags;
  uint64_t payload_len;
} rc_frame_hdr;

/* Start a frame in b (b->len is reset): the header is written by rc_frame_finish. */
void rc_frame_begin(rc_buf *b, int kind, uint64_t seq);
void rc_frame_finish(rc_buf *b, uint32_t count, uint32_t flags);
/* Check and read a frame's header; *payload points into msg. */
int rc_frame_parse(const void *msg, size_t len, rc_frame_hdr *h, const uint8_t **payload,
                   char *errstr, size_t errstr_size);
const char *rc_frame_kind_name(int kind);

/* ---------------------------------------------------------------- fields */

static inline void rc_frame_put_le(rc_buf *b, uint64_t v, int n) {
  char *o = rc_buf_reserve(b, (size_t)n);
  for (int i = 0; i < n; i++) o[i] = (char)(v >> (8 * i));
  b->len += (size_t)n;
}
static inline void rc_frame_put_u8(rc_buf *b, uint8_t v) { rc_buf_putc(b, (char)v); }
static inline void rc_frame_put_u16(rc_buf *b, uint16_t v) { rc_frame_put_le(b, v, 2); }
static inline void rc_frame_put_u32(rc_buf *b, uint32_t v) { rc_frame_put_le(b, v, 4); }
static inline void rc_frame_put_u64(rc_buf *b, uint64_t v) { rc_frame_put_le(b, v, 8); }
/* u16 length + bytes; longer text is cut at 65535 bytes (names, topics, GTIDs are far shorter) */
static inline void rc_frame_put_str16(rc_buf *b, const char *s, size_t n) {
  if (n > 0xFFFF) n = 0xFFFF;
  rc_frame_put_le(b, n, 2);
  rc_buf_put(b, s, n);
}
#define RC_FRAME_NULL32 0xFFFFFFFFu /* a bytes32 length meaning NULL (a null Kafka key) */
/* u32 length + bytes */
static inline void rc_frame_put_bytes32(rc_buf *b, const void *p, size_t n) {
  rc_frame_put_le(b, n, 4);
  rc_buf_put(b, p, n);
}
/* a null bytes32 (a null Kafka key) */
static inline void rc_frame_put_null32(rc_buf *b) { rc_frame_put_le(b, RC_FRAME_NULL32, 4); }
/* bytes32 written in place: open writes a length to be patched and returns where the bytes
 * start; the caller appends them to b; close patches the length. */
static inline size_t rc_frame_open_bytes32(rc_buf *b) {
  rc_frame_put_le(b, 0, 4);
  return b->len;
}
static inline void rc_frame_close_bytes32(rc_buf *b, size_t start) {
  uint32_t n = (uint32_t)(b->len - start);
  for (int i = 0; i < 4; i++) b->p[start - 4 + (size_t)i] = (char)(n >> (8 * i));
}

/* A bounds-checked reader over a payload. Every get sets `bad` on a short read; the record
 * readers also set `why` (what was wrong) and leave `rec` at the start of the faulty record. */
typedef struct rc_frame_rd {
  const uint8_t *p, *end;
  int bad;
  const char *why;    /* with bad, from the record readers: "ends early", "unknown tag", ... */
  const uint8_t *rec; /* start of the last record read (or refused) */
} rc_frame_rd;

static inline void rc_frame_rd_init(rc_frame_rd *r, const uint8_t *payload, size_t len) {
  *r = (rc_frame_rd){payload, payload + len, 0, NULL, payload};
}
static inline int rc_frame_rd_more(const rc_frame_rd *r) { return !r->bad && r->p < r->end; }
/* The tag of the next record without taking it, or -1 at the end of the payload. */
static inline int rc_frame_peek_tag(const rc_frame_rd *r) { return r->p < r->end ? r->p[0] : -1; }

static inline const uint8_t *rc_frame_take(rc_frame_rd *r, size_t n) {
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *q = r->p;
  r->p += n;
  return q;
}
static inline uint64_t rc_frame_get_le(rc_frame_rd *r, int n) {
  const uint8_t *q = rc_frame_take(r, (size_t)n);
  uint64_t v = 0;
  if (!q) return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(&v, q, (size_t)n); /* frames are little-endian, like the host: one load, not n */
#else
  for (int i = n - 1; i >= 0; i--) v = v << 8 | q[i];
#endif
  return v;
}
static inline uint8_t rc_frame_get_u8(rc_frame_rd *r) { return (uint8_t)rc_frame_get_le(r, 1); }
static inline uint16_t rc_frame_get_u16(rc_frame_rd *r) { return (uint16_t)rc_frame_get_le(r, 2); }
static inline uint32_t rc_frame_get_u32(rc_frame_rd *r) { return (uint32_t)rc_frame_get_le(r, 4); }
static inline uint64_t rc_frame_get_u64(rc_frame_rd *r) { return rc_frame_get_le(r, 8); }
/* Length-prefixed bytes: a pointer into the payload and *n; NULL on a short read (and for a
 * null bytes32, with `bad` left clear). */
static inline const uint8_t *rc_frame_get_str16(rc_frame_rd *r, size_t *n) {
  *n = rc_frame_get_u16(r);
  return rc_frame_take(r, *n);
}
static inline const uint8_t *rc_frame_get_bytes32(rc_frame_rd *r, size_t *n) {
  uint32_t l = rc_frame_get_u32(r);
  if (l == RC_FRAME_NULL32 && !r->bad) {
    *n = 0;
    return NULL;
  }
  *n = l;
  return rc_frame_take(r, l);
}

/* ---------------------------------------------------------------- records */

enum {
  /* EVENTS frames */
  RC_REC_FILE = 'N',
  RC_REC_FDE = 'F',
  RC_REC_TMAP = 'T',
  RC_REC_ROWS = 'R',
  RC_REC_TXN_END = 'C',
  RC_REC_TXN = 'B',
  RC_REC_TXN_ORDER = 'X',
  /* MESSAGES frames */
  RC_REC_MESSAGE = 'M',
  RC_REC_BOUNDARY = 'C',
  RC_REC_SCHEMA = 'S',
  RC_REC_TOMBSTONE = 'Z',
  /* both */
  RC_REC_PROGRESS = 'P',
};

/* flags of 'T' and 'R': the raw event has no checksum trailer, because it was unpacked from a
 * TRANSACTION_PAYLOAD (whose own checksum covered it) or rebuilt by the reader (a table map
 * completed from information_schema). Feed it with rc_binlog_feed_nocrc. */
#define RC_REC_EV_NOCRC 0x01u
/* flag of 'R' only: the rows are a snapshot of the table's existing rows (written by the
 * reader as a WRITE_ROWS event): their changes get op 'r', not 'c' */
#define RC_REC_EV_SNAPSHOT 0x02u
#define RC_REC_EV_FLAGS (RC_REC_EV_NOCRC | RC_REC_EV_SNAPSHOT) /* every flag bit this version knows */

typedef struct { const char *name; size_t len; } rc_rec_file;
typedef struct { const uint8_t *raw; size_t len; } rc_rec_fde;
typedef struct { uint8_t flags; const uint8_t *raw; size_t len; } rc_rec_tmap;
typedef struct {
  uint64_t offset;    /* of the event in its file (of its TRANSACTION_PAYLOAD when inside one) */
  uint64_t recv_ns;   /* when the reader read it (rc_now_ns) */
  uint64_t commit_us; /* the transaction's commit time, microseconds since 1970 (0: unknown) */
  uint32_t rows;      /* changes the event holds */
  uint32_t first_row; /* number of its first change: non-zero for the second and later ROWS
                       * events of one TRANSACTION_PAYLOAD, which share its offset */
  uint8_t flags;      /* RC_REC_EV_* */
  const char *gtid;
  size_t gtid_len;
  const uint8_t *raw;
  size_t raw_len;
} rc_rec_rows;
typedef struct { uint64_t pos; } rc_rec_txn_end; /* resuming at pos repeats nothing of the
                                                  * transaction and loses nothing after it */
typedef struct {
  uint64_t recv_ns, commit_us; /* copied from the rows record */
  const char *topic;
  size_t topic_len;
  const uint8_t *key; /* NULL: a null key */
  size_t key_len;
  const uint8_t *value; /* never NULL */
  size_t value_len;
  const char *file; /* the change's position */
  size_t file_len;
  uint64_t offset;
  uint32_t row;
  const char *gtid;
  size_t gtid_len;
} rc_rec_message;
typedef struct { const char *file; size_t file_len; uint64_t pos; } rc_rec_boundary;
/* Snapshot progress (an opaque number to the pipeline: the reader's count of snapshot chunks
 * sent, see reader/snapshot.h): a checkpoint taken at the boundary just before it records it
 * (checkpoint.h, snapshot=), so a restarted reader knows which chunks Kafka acknowledged. */
typedef struct { uint64_t value; } rc_rec_progress;
#define RC_REC_FINGERPRINT_LEN 16
typedef struct {
  const char *fingerprint; /* RC_REC_FINGERPRINT_LEN hex digits, not NUL-terminated */
  const char *json;
  size_t json_len;
} rc_rec_schema;

/* A transaction's BEGIN or END (publisher.transactions_topic). */
typedef struct {
  uint8_t end;        /* 0 BEGIN, 1 END */
  const char *id;     /* the transaction id: its GTID, else FILE:POS of its first event */
  size_t id_len;
  const char *gtid;   /* "" without GTID */
  size_t gtid_len;
  uint64_t offset;    /* BEGIN: of its first event; END: of the event that ends it */
  uint64_t commit_us; /* its commit time, microseconds since 1970 (0: unknown) */
  uint32_t count;     /* END: its changes */
  const uint8_t *tables; /* END: per table str16 db, str16 table, u32 count; BEGIN: empty */
  size_t tables_len;
} rc_rec_txn;
typedef struct {
  const char *id;
  size_t id_len;
  uint32_t order;       /* of the next ROWS record's first change in its transaction, from 1 */
  uint32_t table_order; /* the same among the transaction's changes of its table */
} rc_rec_txn_order;
/* The tombstone of a delete: same topic and key, a null value, the delete's position. */
typedef struct {
  const char *topic;
  size_t topic_len;
  const uint8_t *key; /* never NULL */
  size_t key_len;
  const char *file;
  size_t file_len;
  uint64_t offset;
  uint32_t row;
} rc_rec_tombstone;

/* Bytes a record takes in a frame (to decide whether it fits before writing it). */
static inline size_t rc_frame_size_tmap(const rc_rec_tmap *t) { return 1 + 1 + 4 + t->len; }
static inline size_t rc_frame_size_rows(const rc_rec_rows *r) {
  return 1 + 8 + 8 + 8 + 4 + 4 + 1 + 2 + r->gtid_len + 4 + r->raw_len;
}

/* Writers: append one record to a frame begun with rc_frame_begin. */
static inline void rc_frame_put_file(rc_buf *b, const rc_rec_file *f) {
  rc_frame_put_u8(b, RC_REC_FILE);
  rc_frame_put_str16(b, f->name, f->len);
}
static inline void rc_frame_put_fde(rc_buf *b, const rc_rec_fde *f) {
  rc_frame_put_u8(b, RC_REC_FDE);
  rc_frame_put_bytes32(b, f->raw, f->len);
}
static inline void rc_frame_put_tmap(rc_buf *b, const rc_rec_tmap *t) {
  rc_frame_put_u8(b, RC_REC_TMAP);
  rc_frame_put_u8(b, t->flags);
  rc_frame_put_bytes32(b, t->raw, t->len);
}
static inline void rc_frame_put_rows(rc_buf *b, const rc_rec_rows *r) {
  rc_frame_put_u8(b, RC_REC_ROWS);
  rc_frame_put_u64(b, r->offset);
  rc_frame_put_u64(b, r->recv_ns);
  rc_frame_put_u64(b, r->commit_us);
  rc_frame_put_u32(b, r->rows);
  rc_frame_put_u32(b, r->first_row);
  rc_frame_put_u8(b, r->flags);
  rc_frame_put_str16(b, r->gtid, r->gtid_len);
  rc_frame_put_bytes32(b, r->raw, r->raw_len);
}
static inline void rc_frame_put_txn_end(rc_buf *b, const rc_rec_txn_end *c) {
  rc_frame_put_u8(b, RC_REC_TXN_END);
  rc_frame_put_u64(b, c->pos);
}
/* A message in three steps, for a writer that encodes key and value straight into the frame:
 * head (tag, times, topic), then the key and the value as bytes32 (rc_frame_put_bytes32, or
 * rc_frame_open_bytes32 ... rc_frame_close_bytes32), then tail (the position). */
static inline void rc_frame_put_message_head(rc_buf *b, const rc_rec_message *m) {
  rc_frame_put_u8(b, RC_REC_MESSAGE);
  rc_frame_put_u64(b, m->recv_ns);
  rc_frame_put_u64(b, m->commit_us);
  rc_frame_put_str16(b, m->topic, m->topic_len);
}
static inline void rc_frame_put_message_tail(rc_buf *b, const rc_rec_message *m) {
  rc_frame_put_str16(b, m->file, m->file_len);
  rc_frame_put_u64(b, m->offset);
  rc_frame_put_u32(b, m->row);
  rc_frame_put_str16(b, m->gtid, m->gtid_len);
}
static inline void rc_frame_put_message(rc_buf *b, const rc_rec_message *m) {
  rc_frame_put_message_head(b, m);
  if (m->key)
    rc_frame_put_bytes32(b, m->key, m->key_len);
  else
    rc_frame_put_null32(b);
  rc_frame_put_bytes32(b, m->value, m->value_len);
  rc_frame_put_message_tail(b, m);
}
static inline void rc_frame_put_boundary(rc_buf *b, const rc_rec_boundary *c) {
  rc_frame_put_u8(b, RC_REC_BOUNDARY);
  rc_frame_put_str16(b, c->file, c->file_len);
  rc_frame_put_u64(b, c->pos);
}
static inline void rc_frame_put_progress(rc_buf *b, const rc_rec_progress *g) {
  rc_frame_put_u8(b, RC_REC_PROGRESS);
  rc_frame_put_u64(b, g->value);
}
static inline void rc_frame_put_schema(rc_buf *b, const rc_rec_schema *s) {
  rc_frame_put_u8(b, RC_REC_SCHEMA);
  rc_frame_put_str16(b, s->fingerprint, RC_REC_FINGERPRINT_LEN);
  rc_frame_put_bytes32(b, s->json, s->json_len);
}

static inline void rc_frame_put_txn(rc_buf *b, const rc_rec_txn *t) {
  rc_frame_put_u8(b, RC_REC_TXN);
  rc_frame_put_u8(b, t->end);
  rc_frame_put_str16(b, t->id, t->id_len);
  rc_frame_put_str16(b, t->gtid, t->gtid_len);
  rc_frame_put_u64(b, t->offset);
  rc_frame_put_u64(b, t->commit_us);
  rc_frame_put_u32(b, t->count);
  rc_frame_put_bytes32(b, t->tables, t->tables_len);
}
/* One entry of rc_rec_txn.tables, appended to a buffer the caller then gives as `tables`. */
static inline void rc_frame_put_txn_table(rc_buf *b, const char *db, size_t db_len, const char *table,
                                          size_t table_len, uint32_t count) {
  rc_frame_put_str16(b, db, db_len);
  rc_frame_put_str16(b, table, table_len);
  rc_frame_put_u32(b, count);
}
static inline size_t rc_frame_size_txn(const rc_rec_txn *t) {
  return 1 + 1 + 2 + t->id_len + 2 + t->gtid_len + 8 + 8 + 4 + 4 + t->tables_len;
}
static inline void rc_frame_put_txn_order(rc_buf *b, const rc_rec_txn_order *o) {
  rc_frame_put_u8(b, RC_REC_TXN_ORDER);
  rc_frame_put_str16(b, o->id, o->id_len);
  rc_frame_put_u32(b, o->order);
  rc_frame_put_u32(b, o->table_order);
}
static inline void rc_frame_put_tombstone(rc_buf *b, const rc_rec_tombstone *z) {
  rc_frame_put_u8(b, RC_REC_TOMBSTONE);
  rc_frame_put_str16(b, z->topic, z->topic_len);
  rc_frame_put_bytes32(b, z->key, z->key_len);
  rc_frame_put_str16(b, z->file, z->file_len);
  rc_frame_put_u64(b, z->offset);
  rc_frame_put_u32(b, z->row);
}

/* Readers: take one record of the expected kind. Return 0, or RC_ERR_CORRUPT
 * with r->bad set, r->why saying what was wrong and r->rec at the record: another tag, a record
 * that ends early, unknown flag bits, a null where the layout has none. Pointers in the record
 * point into the payload. */
static inline int rc_frame_rec_bad(rc_frame_rd *r, const char *why) {
  r->bad = 1;
  r->why = why;
  return RC_ERR_CORRUPT;
}
static inline int rc_frame_rec_tag(rc_frame_rd *r, int tag) {
  r->rec = r->p;
  if (r->bad) return rc_frame_rec_bad(r, r->why ? r->why : "an earlier record is malformed");
  if (r->p >= r->end) return rc_frame_rec_bad(r, "missing: the payload ends");
  if (r->p[0] != tag) return rc_frame_rec_bad(r, "unexpected tag");
  r->p++;
  return 0;
}
static inline int rc_frame_rec_end(rc_frame_rd *r, int ok) {
  if (r->bad) return rc_frame_rec_bad(r, "ends early (a length runs past the payload)");
  return ok ? 0 : rc_frame_rec_bad(r, "a field holds a value its layout does not allow");
}

static inline int rc_frame_get_file(rc_frame_rd *r, rc_rec_file *f) {
  if (rc_frame_rec_tag(r, RC_REC_FILE) < 0) return RC_ERR_CORRUPT;
  f->name = (const char *)rc_frame_get_str16(r, &f->len);
  return rc_frame_rec_end(r, 1);
}
static inline int rc_frame_get_fde(rc_frame_rd *r, rc_rec_fde *f) {
  if (rc_frame_rec_tag(r, RC_REC_FDE) < 0) return RC_ERR_CORRUPT;
  f->raw = rc_frame_get_bytes32(r, &f->len);
  return rc_frame_rec_end(r, f->raw != NULL);
}
static inline int rc_frame_get_tmap(rc_frame_rd *r, rc_rec_tmap *t) {
  if (rc_frame_rec_tag(r, RC_REC_TMAP) < 0) return RC_ERR_CORRUPT;
  t->flags = rc_frame_get_u8(r);
  t->raw = rc_frame_get_bytes32(r, &t->len);
  return rc_frame_rec_end(r, t->raw && !(t->flags & ~RC_REC_EV_FLAGS));
}
static inline int rc_frame_get_rows(rc_frame_rd *r, rc_rec_rows *w) {
  if (rc_frame_rec_tag(r, RC_REC_ROWS) < 0) return RC_ERR_CORRUPT;
  w->offset = rc_frame_get_u64(r);
  w->recv_ns = rc_frame_get_u64(r);
  w->commit_us = rc_frame_get_u64(r);
  w->rows = rc_frame_get_u32(r);
  w->first_row = rc_frame_get_u32(r);
  w->flags = rc_frame_get_u8(r);
  w->gtid = (const char *)rc_frame_get_str16(r, &w->gtid_len);
  w->raw = rc_frame_get_bytes32(r, &w->raw_len);
  return rc_frame_rec_end(r, w->raw && !(w->flags & ~RC_REC_EV_FLAGS));
}
static inline int rc_frame_get_txn_end(rc_frame_rd *r, rc_rec_txn_end *c) {
  if (rc_frame_rec_tag(r, RC_REC_TXN_END) < 0) return RC_ERR_CORRUPT;
  c->pos = rc_frame_get_u64(r);
  return rc_frame_rec_end(r, 1);
}
static inline int rc_frame_get_message(rc_frame_rd *r, rc_rec_message *m) {
  if (rc_frame_rec_tag(r, RC_REC_MESSAGE) < 0) return RC_ERR_CORRUPT;
  m->recv_ns = rc_frame_get_u64(r);
  m->commit_us = rc_frame_get_u64(r);
  m->topic = (const char *)rc_frame_get_str16(r, &m->topic_len);
  m->key = rc_frame_get_bytes32(r, &m->key_len);
  m->value = rc_frame_get_bytes32(r, &m->value_len);
  int value_null = !m->value && !r->bad;
  m->file = (const char *)rc_frame_get_str16(r, &m->file_len);
  m->offset = rc_frame_get_u64(r);
  m->row = rc_frame_get_u32(r);
  m->gtid = (const char *)rc_frame_get_str16(r, &m->gtid_len);
  return rc_frame_rec_end(r, !value_null);
}
static inline int rc_frame_get_boundary(rc_frame_rd *r, rc_rec_boundary *c) {
  if (rc_frame_rec_tag(r, RC_REC_BOUNDARY) < 0) return RC_ERR_CORRUPT;
  c->file = (const char *)rc_frame_get_str16(r, &c->file_len);
  c->pos = rc_frame_get_u64(r);
  return rc_frame_rec_end(r, 1);
}
static inline int rc_frame_get_progress(rc_frame_rd *r, rc_rec_progress *g) {
  if (rc_frame_rec_tag(r, RC_REC_PROGRESS) < 0) return RC_ERR_CORRUPT;
  g->value = rc_frame_get_u64(r);
  return rc_frame_rec_end(r, 1);
}
static inline int rc_frame_get_schema(rc_frame_rd *r, rc_rec_schema *s) {
  if (rc_frame_rec_tag(r, RC_REC_SCHEMA) < 0) return RC_ERR_CORRUPT;
  size_t n;
  s->fingerprint = (const char *)rc_frame_get_str16(r, &n);
  s->json = (const char *)rc_frame_get_bytes32(r, &s->json_len);
  return rc_frame_rec_end(r, n == RC_REC_FINGERPRINT_LEN && s->json);
}

/* The next entry of a transaction's table list (rc_rec_txn.tables, read through an
 * rc_frame_rd over it): 1 and the entry, 0 at its end, RC_ERR_CORRUPT when it is malformed. */
static inline int rc_frame_get_txn_table(rc_frame_rd *r, const char **db, size_t *db_len, const char **table,
                                         size_t *table_len, uint32_t *count) {
  if (r->p >= r->end) return 0;
  *db = (const char *)rc_frame_get_str16(r, db_len);
  *table = (const char *)rc_frame_get_str16(r, table_len);
  *count = rc_frame_get_u32(r);
  return r->bad ? RC_ERR_CORRUPT : 1;
}
static inline int rc_frame_get_txn(rc_frame_rd *r, rc_rec_txn *t) {
  if (rc_frame_rec_tag(r, RC_REC_TXN) < 0) return RC_ERR_CORRUPT;
  t->end = rc_frame_get_u8(r);
  t->id = (const char *)rc_frame_get_str16(r, &t->id_len);
  t->gtid = (const char *)rc_frame_get_str16(r, &t->gtid_len);
  t->offset = rc_frame_get_u64(r);
  t->commit_us = rc_frame_get_u64(r);
  t->count = rc_frame_get_u32(r);
  t->tables = rc_frame_get_bytes32(r, &t->tables_len);
  int ok = t->end <= 1 && t->id_len > 0 && t->tables;
  if (ok && !r->bad) { /* the table list must parse to its end */
    rc_frame_rd tr;
    rc_frame_rd_init(&tr, t->tables, t->tables_len);
    const char *a, *b;
    size_t an, bn;
    uint32_t c;
    int k;
    while ((k = rc_frame_get_txn_table(&tr, &a, &an, &b, &bn, &c)) > 0) {
    }
    ok = k == 0;
  }
  return rc_frame_rec_end(r, ok);
}
static inline int rc_frame_get_txn_order(rc_frame_rd *r, rc_rec_txn_order *o) {
  if (rc_frame_rec_tag(r, RC_REC_TXN_ORDER) < 0) return RC_ERR_CORRUPT;
  o->id = (const char *)rc_frame_get_str16(r, &o->id_len);
  o->order = rc_frame_get_u32(r);
  o->table_order = rc_frame_get_u32(r);
  return rc_frame_rec_end(r, o->id_len > 0 && o->order > 0 && o->table_order > 0);
}
static inline int rc_frame_get_tombstone(rc_frame_rd *r, rc_rec_tombstone *z) {
  if (rc_frame_rec_tag(r, RC_REC_TOMBSTONE) < 0) return RC_ERR_CORRUPT;
  z->topic = (const char *)rc_frame_get_str16(r, &z->topic_len);
  z->key = rc_frame_get_bytes32(r, &z->key_len);
  int key_null = !z->key && !r->bad;
  z->file = (const char *)rc_frame_get_str16(r, &z->file_len);
  z->offset = rc_frame_get_u64(r);
  z->row = rc_frame_get_u32(r);
  return rc_frame_rec_end(r, !key_null);
}

/* "record 'R' at payload byte 120: ends early ..." for a reader that went bad. */
void rc_frame_rd_describe(const rc_frame_rd *r, const uint8_t *payload, char *out, size_t out_size);

#endif
