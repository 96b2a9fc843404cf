/*
 * schema_proto.h: the records rowcast-schema and its client (schema_client.c) exchange, both
 * sides of one definition: a query request's fields, and the status of a table-map answer.
 * Private to schema/.
 */
#ifndef RC_SCHEMA_PROTO_H
#define RC_SCHEMA_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* A table map's answer. */
enum {
  RC_SC_ENRICHED = 0, /* the event completed with the version's names, keys, labels, charsets */
  RC_SC_FULL,         /* the event carries its own names: use it as it is */
  RC_SC_NONE,         /* no version of the table at this position: message says what would give one */
  RC_SC_MISMATCH,     /* the version does not describe the event's columns: message says how */
  RC_SC_RESYNCED,     /* (run) it did not, the server's schema was read again and does: message */
};

/* A statement and the session it ran in. Pointers into the message on the receiving side. */
typedef struct {
  const char *db, *text;
  uint32_t db_len;
  size_t text_len;
  uint64_t sql_mode;
  uint16_t cs_client, cs_connection, cs_server;
  uint8_t has_sql_mode, has_charsets, suppress_use, is_mariadb;
} rc_sc_query;

static inline void rc_sc_put_u64(rc_buf *b, uint64_t v) {
  for (int i = 0; i < 8; i++) rc_buf_putc(b, (char)(v >> (8 * i)));
}
static inline uint64_t rc_sc_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Layout: sql_mode u64, cs client/connection/server u16 each, flags u8 (1 sql_mode, 2 charsets,
 * 4 suppress USE, 8 MariaDB), db_len u32, db, then the statement to the end. */
static inline void rc_sc_query_put(rc_buf *b, const rc_sc_query *q) {
  rc_sc_put_u64(b, q->sql_mode);
  uint16_t cs[3] = {q->cs_client, q->cs_connection, q->cs_server};
  for (int i = 0; i < 3; i++) {
    rc_buf_putc(b, (char)cs[i]);
    rc_buf_putc(b, (char)(cs[i] >> 8));
  }
  rc_buf_putc(b, (char)(q->has_sql_mode | q->has_charsets << 1 | q->suppress_use << 2 | q->is_mariadb << 3));
  for (int i = 0; i < 4; i++) rc_buf_putc(b, (char)(q->db_len >> (8 * i)));
  rc_buf_put(b, q->db, q->db_len);
  rc_buf_put(b, q->text, q->text_len);
}

static inline int rc_sc_query_get(rc_sc_query *q, const uint8_t *p, size_t n) {
  if (n < 19) return -1;
  memset(q, 0, sizeof *q);
  q->sql_mode = rc_sc_get_u64(p);
  q->cs_client = (uint16_t)(p[8] | p[9] << 8);
  q->cs_connection = (uint16_t)(p[10] | p[11] << 8);
  q->cs_server = (uint16_t)(p[12] | p[13] << 8);
  uint8_t fl = p[14];
  q->has_sql_mode = fl & 1;
  q->has_charsets = (fl >> 1) & 1;
  q->suppress_use = (fl >> 2) & 1;
  q->is_mariadb = (fl >> 3) & 1;
  q->db_len = (uint32_t)p[15] | (uint32_t)p[16] << 8 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 24;
  if (q->db_len > n - 19) return -1;
  q->db = (const char *)p + 19;
  q->text = q->db + q->db_len;
  q->text_len = n - 19 - q->db_len;
  return 0;
}

#endif
