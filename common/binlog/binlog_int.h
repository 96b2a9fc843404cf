/*
 * binlog_int.h: internals shared by the binlog decoder's files (binlog.c, table_map.c,
 * rows.c, binlog_info.c): byte readers and the rc_binlog state. Not for other modules.
 */
#ifndef RC_BINLOG_INT_H
#define RC_BINLOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"

static inline uint16_t rd_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd_le24(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}
static inline uint32_t rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd_le48(const uint8_t *p) {
  return (uint64_t)rd_le32(p) | (uint64_t)rd_le16(p + 4) << 32;
}
static inline uint64_t rd_le64(const uint8_t *p) {
  return (uint64_t)rd_le32(p) | (uint64_t)rd_le32(p + 4) << 32;
}
static inline uint64_t rd_le_n(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline uint64_t rd_be_n(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* A bounds-checked cursor over untrusted bytes. Every read checks; on a short read `bad` is
 * set and the read returns 0, so parsers check `bad` once at the end of a step. */
typedef struct {
  const uint8_t *p, *end;
  int bad;
} rc_cur;

static inline int cur_need(rc_cur *c, size_t n) {
  if (c->bad || (size_t)(c->end - c->p) < n) {
    c->bad = 1;
    return 0;
  }
  return 1;
}
static inline size_t cur_left(const rc_cur *c) { return c->bad ? 0 : (size_t)(c->end - c->p); }
static inline const uint8_t *cur_take(rc_cur *c, size_t n) {
  if (!cur_need(c, n)) return NULL;
  const uint8_t *r = c->p;
  c->p += n;
  return r;
}
static inline uint64_t cur_le(rc_cur *c, int n) {
  const uint8_t *p = cur_take(c, (size_t)n);
  return p ? rd_le_n(p, n) : 0;
}
static inline uint8_t cur_u8(rc_cur *c) { return (uint8_t)cur_le(c, 1); }
/* MySQL length-encoded integer. 0xFB (NULL) and 0xFF are not valid here. */
static inline uint64_t cur_lenenc(rc_cur *c) {
  if (!cur_need(c, 1)) return 0;
  uint8_t b = *c->p++;
  if (b < 0xFB) return b;
  if (b == 0xFC) return cur_le(c, 2);
  if (b == 0xFD) return cur_le(c, 3);
  if (b == 0xFE) return cur_le(c, 8);
  c->bad = 1;
  return 0;
}

/* MySQL serialization library varlen integer: the count of trailing 1 bits of the first byte,
 * plus one, is the byte count; the value follows the marker bits; 0xFF means 8 raw bytes. */
static inline uint64_t cur_varlen(rc_cur *c) {
  if (!cur_need(c, 1)) return 0;
  uint8_t f = c->p[0];
  int ones = 0;
  while (ones < 8 && (f >> ones) & 1) ones++;
  if (ones == 8) {
    c->p++;
    return cur_le(c, 8);
  }
  const uint8_t *p = cur_take(c, (size_t)ones + 1);
  return p ? rd_le_n(p, ones + 1) >> (ones + 1) : 0;
}
static inline int64_t cur_varlen_signed(rc_cur *c) {
  uint64_t u = cur_varlen(c);
  return (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

struct rc_binlog {
  char file[256];
  /* FORMAT_DESCRIPTION */
  int have_fde;
  char server_version[51];
  int is_mariadb;
  int checksum_alg;      /* 0 off, 1 CRC32, -1 not known yet */
  int fde_crc_fields;    /* the FORMAT_DESCRIPTION ends with the algorithm byte and a CRC32 */
  int no_verify;         /* do not compute CRCs: the fuzzer, and the serializer (the reader checked them) */
  uint8_t post_header_len[256];
  int n_post_header;
  /* table maps: open addressing on table_id */
  rc_table **tables;
  size_t tables_cap, tables_n;
  /* GTID of the current transaction */
  char gtid[96];
  uint64_t commit_us; /* commit time of the current transaction, microseconds (0: unknown) */
  /* TRANSACTION_PAYLOAD unpacking */
  uint8_t *payload;
  size_t payload_cap, payload_len, payload_pos;
  uint64_t payload_offset;
};

int rc_binlog_post_header_len(const rc_binlog *bl, int type);

#endif
