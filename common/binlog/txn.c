/*
 * txn.c: transaction bounds in a binlog stream (see binlog.h, "transaction bounds"). The one
 * place that says which event begins or ends a transaction: the reader cuts its resume points
 * (checkpoints, reconnects) with it, tools/server_dump groups its lines with it. Owns nothing;
 * a compressed statement short enough to be BEGIN/COMMIT/ROLLBACK is inflated on the stack.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "binlog_int.h"

/* QUERY post-header: thread_id u32, exec_time u32, db_len u8 (at 8), error_code u16,
 * status_vars_len u16 (at 11); then the status vars, the db name and a NUL, then the text. */
#define QUERY_POST_HEADER 13

static int keyword_kind(const uint8_t *text, size_t n) {
  if (n == 5 && !strncasecmp((const char *)text, "BEGIN", 5)) return RC_QUERY_BEGIN;
  if (n == 6 && !strncasecmp((const char *)text, "COMMIT", 6)) return RC_QUERY_COMMIT;
  if (n == 8 && !strncasecmp((const char *)text, "ROLLBACK", 8)) return RC_QUERY_ROLLBACK;
  return RC_QUERY_STATEMENT;
}

/* A MariaDB QUERY_COMPRESSED text: header byte 0x80 | alg<<4 | n (alg 0 = zlib), an n-byte
 * big-endian uncompressed length, then the zlib stream. Only a text of a keyword's length can
 * be a keyword, so anything longer is a statement without being inflated. */
static int compressed_kind(const uint8_t *p, size_t n) {
  if (n < 1) return RC_QUERY_STATEMENT;
  uint8_t h = p[0];
  size_t nl = h & 7;
  if (!(h & 0x80) || ((h >> 4) & 7) != 0 || nl < 1 || nl > 4 || n < 1 + nl) return RC_QUERY_STATEMENT;
  uint64_t ulen = rd_be_n(p + 1, (int)nl);
  if (ulen != 5 && ulen != 6 && ulen != 8) return RC_QUERY_STATEMENT;
  uint8_t text[16];
  uLongf got = sizeof text;
  if (uncompress(text, &got, p + 1 + nl, (uLong)(n - 1 - nl)) != Z_OK || got != ulen) return RC_QUERY_STATEMENT;
  return keyword_kind(text, got);
}

int rc_event_query_kind(const rc_event *ev) {
  if (ev->type != RC_EV_QUERY && ev->type != RC_EV_MARIA_QUERY_COMPRESSED) return RC_QUERY_NONE;
  if (ev->body_len < QUERY_POST_HEADER) return RC_QUERY_STATEMENT;
  size_t at = QUERY_POST_HEADER + rd_le16(ev->body + 11) + ev->body[8] + 1;
  if (at > ev->body_len) return RC_QUERY_STATEMENT;
  const uint8_t *text = ev->body + at;
  size_t n = ev->body_len - at;
  return ev->type == RC_EV_QUERY ? keyword_kind(text, n) : compressed_kind(text, n);
}

enum { PHASE_NONE = 0, PHASE_GROUP = 1, PHASE_TXN = 2 };

static int step_query(rc_txn_state *st, int kind) {
  int was = st->phase;
  switch (kind) {
  case RC_QUERY_BEGIN:
    st->phase = PHASE_TXN;
    return was == PHASE_NONE ? RC_TXN_BEGINS : RC_TXN_INSIDE;
  case RC_QUERY_COMMIT:
  case RC_QUERY_ROLLBACK:
    st->phase = PHASE_NONE;
    return was == PHASE_NONE ? RC_TXN_BEGINS | RC_TXN_ENDS : RC_TXN_ENDS;
  default: /* a statement: inside BEGIN..COMMIT a part of it, else a transaction of its own */
    if (was == PHASE_TXN) return RC_TXN_INSIDE;
    st->phase = PHASE_NONE;
    return was == PHASE_NONE ? RC_TXN_BEGINS | RC_TXN_ENDS : RC_TXN_ENDS;
  }
}

int rc_txn_step(rc_txn_state *st, const rc_event *ev) {
  int was = st->phase;
  switch (ev->type) {
  case RC_EV_MARIA_GTID:
    /* without FL_STANDALONE, a transaction that an XID (or COMMIT) ends; with it, a group that
     * its statement ends. A body too short for flags2 is taken as standalone. */
    st->phase = ev->body_len > RC_MARIA_GTID_FLAGS2_AT &&
                        !(ev->body[RC_MARIA_GTID_FLAGS2_AT] & RC_GTID_FL_STANDALONE)
                    ? PHASE_TXN
                    : PHASE_GROUP;
    return RC_TXN_BEGINS;
  case RC_EV_GTID:
  case RC_EV_ANONYMOUS_GTID:
  case RC_EV_GTID_TAGGED: /* MySQL: BEGIN, or the one statement, follows */
    st->phase = PHASE_GROUP;
    return RC_TXN_BEGINS;
  case RC_EV_QUERY:
  case RC_EV_MARIA_QUERY_COMPRESSED:
    return step_query(st, rc_event_query_kind(ev));
  case RC_EV_XID:
    st->phase = PHASE_NONE;
    return was == PHASE_NONE ? RC_TXN_BEGINS | RC_TXN_ENDS : RC_TXN_ENDS;
  case RC_EV_TRANSACTION_PAYLOAD: /* MySQL: one whole transaction, compressed */
    st->phase = PHASE_NONE;
    return was == PHASE_NONE ? RC_TXN_BEGINS | RC_TXN_ENDS : RC_TXN_ENDS;
  default:
    return was == PHASE_NONE ? RC_TXN_OUTSIDE : RC_TXN_INSIDE;
  }
}
