/*
 * binlog_info_gtid.c: the GTID events as JSON for `decode --events` (binlog_info.h): MySQL's
 * GTID, ANONYMOUS_GTID, GTID_TAGGED (MySQL 8.4, the serialization library's varlen fields) and
 * PREVIOUS_GTIDS; MariaDB's GTID and GTID_LIST.
 */
#include <stdio.h>
#include <string.h>

#include "binlog_info_int.h"

static void put_gno_intervals(rc_buf *g, const uint8_t *iv, uint64_t n) {
  for (uint64_t j = 0; j < n; j++) {
    uint64_t start = rd_le64(iv + 16 * j), end = rd_le64(iv + 16 * j + 8);
    rc_buf_putc(g, ':');
    rc_buf_u64(g, start);
    if (end > start + 1) {
      rc_buf_putc(g, '-');
      rc_buf_u64(g, end - 1);
    }
  }
}

/* PREVIOUS_GTIDS: n_sids u64, then {uuid[16], n u64, n x {start, end_excl}}. In the 8.4+ tagged
 * format the top byte of the first u64 is 1, n_sids is in bits 8..55, and every uuid is followed
 * by a tag (varlen length + text). Shown in MySQL's text form, "uuid:1-5:7,uuid:tag:3". */
int rc_info_previous_gtids(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t h = cur_le(&c, 8);
  if (c.bad) CORRUPT("%zu bytes, the SID count needs 8", ev->body_len);
  int format = (int)(h >> 56);
  if (format > 1) CORRUPT("unknown GTID set format %d (top byte of the SID count)", format);
  uint64_t n_sids = format ? (h >> 8) & ((1ull << 48) - 1) : h & ((1ull << 56) - 1);
  rc_buf g = {0};
  const uint8_t *prev_uuid = NULL;
  for (uint64_t i = 0; i < n_sids; i++) {
    const uint8_t *uuid = cur_take(&c, 16);
    const uint8_t *tag = NULL;
    uint64_t tag_len = 0;
    if (format) {
      tag_len = cur_varlen(&c);
      tag = c.bad || tag_len > cur_left(&c) ? NULL : cur_take(&c, (size_t)tag_len);
      if (!tag) c.bad = 1;
    }
    uint64_t n = cur_le(&c, 8);
    const uint8_t *iv = n <= cur_left(&c) / 16 ? cur_take(&c, (size_t)n * 16) : NULL;
    if (c.bad || !iv) {
      rc_buf_free(&g);
      CORRUPT("SID %llu of %llu (its uuid, %stag or %llu intervals) runs past the end of the event",
              (unsigned long long)i + 1, (unsigned long long)n_sids, format ? "" : "no ",
              (unsigned long long)n);
    }
    if (prev_uuid && !memcmp(prev_uuid, uuid, 16)) {
      /* the same uuid with another tag continues the same member */
    } else {
      if (prev_uuid) rc_buf_putc(&g, ',');
      put_uuid(&g, uuid);
    }
    prev_uuid = uuid;
    if (tag_len) {
      rc_buf_putc(&g, ':');
      rc_buf_put(&g, tag, (size_t)tag_len);
    }
    put_gno_intervals(&g, iv, n);
  }
  obj_open(x);
  kv_str(x, "gtid_set", g.p ? g.p : "", g.len);
  if (format) kv_bool(x, "tagged", 1);
  obj_close(x, 0);
  rc_buf_free(&g);
  return 0;
}

/* The fields after the post-header of a MySQL GTID event, shared by the fixed and tagged forms. */
typedef struct {
  uint8_t flags;
  const uint8_t *sid;
  uint8_t sid_buf[16];
  int64_t gno;
  const uint8_t *tag;
  size_t tag_len;
  int have_lc, have_ts, have_orig_ts, have_len, have_ver, have_orig_ver, have_ticket;
  int64_t last_committed, sequence_number;
  uint64_t imm_ts, orig_ts, trx_len, ticket;
  uint32_t imm_ver, orig_ver;
} gtid_fields;

static void gtid_emit(info_ctx *x, const gtid_fields *f, int anonymous) {
  obj_open(x);
  key(x, "gtid");
  if (anonymous) {
    rc_buf_lit(x->b, "null");
  } else {
    rc_buf g = {0};
    put_uuid(&g, f->sid);
    if (f->tag_len) {
      rc_buf_putc(&g, ':');
      rc_buf_put(&g, f->tag, f->tag_len);
    }
    rc_buf_putc(&g, ':');
    rc_buf_i64(&g, f->gno);
    rc_buf_json_str(x->b, g.p, g.len);
    rc_buf_free(&g);
  }
  if (f->tag_len) kv_str(x, "tag", f->tag, f->tag_len);
  kv_u64(x, "flags", f->flags);
  if (f->have_lc) {
    kv_i64(x, "last_committed", f->last_committed);
    kv_i64(x, "sequence_number", f->sequence_number);
  }
  if (f->have_ts) {
    kv_u64(x, "immediate_commit_ts", f->imm_ts);
    kv_u64(x, "original_commit_ts", f->have_orig_ts ? f->orig_ts : f->imm_ts);
  }
  if (f->have_len) kv_u64(x, "transaction_length", f->trx_len);
  if (f->have_ver) {
    kv_u64(x, "immediate_server_version", f->imm_ver);
    kv_u64(x, "original_server_version", f->have_orig_ver ? f->orig_ver : f->imm_ver);
  }
  if (f->have_ticket) kv_u64(x, "commit_group_ticket", f->ticket);
  obj_close(x, 0);
}

/* GTID / ANONYMOUS_GTID: post-header flags u8, sid[16], gno i64, [ts_type u8 = 2,
 * last_committed i64, sequence_number i64] (42 bytes from 5.7, 25 in 5.6); then, by what remains:
 * immediate_commit_ts 7B (bit 55: original_commit_ts 7B follows), transaction_length lenenc,
 * immediate_server_version u32 (bit 31: original_server_version u32 follows), and
 * commit_group_ticket u64. */
int rc_info_gtid(info_ctx *x) {
  const rc_event *ev = x->ev;
  int phl = post_header(x, 42);
  if (phl < 25) CORRUPT("the FORMAT_DESCRIPTION gives a post-header length of %d, need at least 25", phl);
  if (ev->body_len < (size_t)phl) CORRUPT("%zu bytes, shorter than the %d-byte post-header", ev->body_len, phl);
  gtid_fields f;
  memset(&f, 0, sizeof f);
  const uint8_t *b = ev->body;
  f.flags = b[0];
  f.sid = b + 1;
  f.gno = (int64_t)rd_le64(b + 17);
  if (phl >= 42 && b[25] == 2) {
    f.have_lc = 1;
    f.last_committed = (int64_t)rd_le64(b + 26);
    f.sequence_number = (int64_t)rd_le64(b + 34);
  }
  rc_cur c = {b + phl, b + ev->body_len, 0};
  if (cur_left(&c) >= 7) {
    f.have_ts = 1;
    f.imm_ts = cur_le(&c, 7);
    if (f.imm_ts & (1ull << 55)) {
      f.imm_ts &= ~(1ull << 55);
      f.orig_ts = cur_le(&c, 7);
      if (c.bad) CORRUPT("immediate_commit_ts has bit 55 set, but the original_commit_ts is missing");
      f.have_orig_ts = 1;
    }
  }
  if (cur_left(&c) > 0) {
    f.trx_len = cur_lenenc(&c);
    if (c.bad) CORRUPT("transaction_length is not a valid length-encoded integer");
    f.have_len = 1;
  }
  if (cur_left(&c) >= 4) {
    f.imm_ver = (uint32_t)cur_le(&c, 4);
    f.have_ver = 1;
    if (f.imm_ver & (1u << 31)) {
      f.imm_ver &= ~(1u << 31);
      f.orig_ver = (uint32_t)cur_le(&c, 4);
      if (c.bad) CORRUPT("immediate_server_version has bit 31 set, but the original_server_version is missing");
      f.have_orig_ver = 1;
    }
  }
  if (cur_left(&c) >= 8) {
    f.ticket = cur_le(&c, 8);
    f.have_ticket = 1;
  }
  gtid_emit(x, &f, ev->type == RC_EV_ANONYMOUS_GTID);
  return 0;
}

/* GTID_TAGGED (MySQL 8.4+), MySQL serialization library: version u8, then a message:
 * size varlen (counting from the version byte), last_non_ignorable_field_id varlen, and fields
 * as {field_id varlen, data}: 0 flags, 1 uuid (16 varlen bytes), 2 gno (signed), 3 tag (varlen
 * length + text), 4 last_committed (signed), 5 sequence_number (signed), 6 immediate_commit_ts,
 * 7 original_commit_ts, 8 transaction_length, 9 immediate_server_version,
 * 10 original_server_version, 11 commit_group_ticket. */
int rc_info_gtid_tagged(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint8_t version = cur_u8(&c);
  if (c.bad) CORRUPT("empty event: the serialization version is missing");
  uint64_t size = cur_varlen(&c);
  uint64_t last_non_ignorable = cur_varlen(&c);
  if (c.bad) CORRUPT("the message header (size, last non-ignorable field) runs past the end of the event");
  size_t consumed = (size_t)(c.p - ev->body);
  if (size < consumed || size - consumed > cur_left(&c))
    CORRUPT("message size %llu does not fit the %zu-byte event", (unsigned long long)size, ev->body_len);
  rc_cur m = {c.p, c.p + (size - consumed), 0};
  gtid_fields f;
  memset(&f, 0, sizeof f);
  f.sid = f.sid_buf;
  uint64_t unknown = 0;
  int have_sid = 0;
  while (cur_left(&m) > 0 && !unknown) {
    uint64_t id = cur_varlen(&m);
    switch (id) {
    case 0: f.flags = (uint8_t)cur_varlen(&m); break;
    case 1:
      for (int i = 0; i < 16; i++) {
        uint64_t v = cur_varlen(&m);
        if (v > 255) CORRUPT("uuid byte %d has value %llu", i, (unsigned long long)v);
        f.sid_buf[i] = (uint8_t)v;
      }
      have_sid = 1;
      break;
    case 2: f.gno = cur_varlen_signed(&m); break;
    case 3: {
      uint64_t l = cur_varlen(&m);
      if (m.bad || l > cur_left(&m)) CORRUPT("the tag (%llu bytes) runs past the message", (unsigned long long)l);
      f.tag = cur_take(&m, (size_t)l);
      f.tag_len = (size_t)l;
      break;
    }
    case 4: f.last_committed = cur_varlen_signed(&m), f.have_lc = 1; break;
    case 5: f.sequence_number = cur_varlen_signed(&m), f.have_lc = 1; break;
    case 6: f.imm_ts = cur_varlen(&m), f.have_ts = 1; break;
    case 7: f.orig_ts = cur_varlen(&m), f.have_orig_ts = 1; break;
    case 8: f.trx_len = cur_varlen(&m), f.have_len = 1; break;
    case 9: f.imm_ver = (uint32_t)cur_varlen(&m), f.have_ver = 1; break;
    case 10: f.orig_ver = (uint32_t)cur_varlen(&m), f.have_orig_ver = 1; break;
    case 11: f.ticket = cur_varlen(&m), f.have_ticket = 1; break;
    default: unknown = id; break; /* cannot be framed without its definition */
    }
    if (m.bad) CORRUPT("field %llu runs past the end of the message", (unsigned long long)id);
  }
  if (!have_sid) CORRUPT("the message has no uuid field");
  if (f.have_orig_ts && !f.have_ts) f.have_ts = 1;
  if (f.have_orig_ver && !f.have_ver) f.have_ver = 1;
  gtid_emit(x, &f, 0);
  /* reopen the object to add what only the tagged form has */
  x->b->len--;
  x->nkeys = 1;
  kv_u64(x, "serialization_version", version);
  if (unknown) {
    kv_u64(x, "unknown_field", unknown);
    kv_bool(x, "unknown_field_ignorable", unknown > last_non_ignorable);
  }
  obj_close(x, 0);
  return 0;
}

/* GTID: seq_no u64, domain_id u32, flags2 u8; with 0x02 commit_id u64; with XA (0x40/0x80)
 * format_id u32, gtrid_len u8, bqual_len u8, data; then, if bytes remain, flags_extra u8 with
 * 0x01 extra_engines u8, 0x04/0x08 sa_seq_no u64, 0x10 thread_id u32; zero padding to 19. */
int rc_info_maria_gtid(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t seq = cur_le(&c, 8);
  uint32_t domain = (uint32_t)cur_le(&c, 4);
  uint8_t flags2 = cur_u8(&c);
  if (c.bad) CORRUPT("%zu bytes, need 13 (seq_no, domain_id, flags2)", ev->body_len);
  obj_open(x);
  char g[64];
  int gl = snprintf(g, sizeof g, "%u-%u-%llu", domain, ev->server_id, (unsigned long long)seq);
  kv_str(x, "gtid", g, (size_t)gl);
  kv_u64(x, "domain_id", domain);
  kv_u64(x, "server_id", ev->server_id);
  kv_u64(x, "seq_no", seq);
  kv_u64(x, "flags2", flags2);
  if (flags2 & RC_GTID_FL_GROUP_COMMIT_ID) {
    uint64_t cid = cur_le(&c, 8);
    if (c.bad) CORRUPT("flags2 0x%02x announces a commit_id, but the event ends", flags2);
    kv_u64(x, "commit_id", cid);
  }
  if (flags2 & (RC_GTID_FL_PREPARED_XA | RC_GTID_FL_COMPLETED_XA)) {
    uint32_t format_id = (uint32_t)cur_le(&c, 4);
    uint8_t gl2 = cur_u8(&c), bl2 = cur_u8(&c);
    const uint8_t *gt = cur_take(&c, gl2);
    const uint8_t *bq = cur_take(&c, bl2);
    if (c.bad) CORRUPT("flags2 0x%02x announces an XA xid, but it runs past the end of the event", flags2);
    key(x, "xid");
    int k = x->nkeys;
    obj_open(x);
    kv_u64(x, "format_id", format_id);
    kv_hex(x, "gtrid", gt, gl2);
    kv_hex(x, "bqual", bq, bl2);
    obj_close(x, k);
  }
  if (cur_left(&c) > 0) {
    uint8_t fx = cur_u8(&c);
    if (fx) kv_u64(x, "flags_extra", fx);
    if (fx & RC_GTID_FLX_MULTI_ENGINE) {
      uint8_t e = cur_u8(&c);
      if (c.bad) CORRUPT("flags_extra 0x%02x announces extra_engines, but the event ends", fx);
      kv_u64(x, "extra_engines", e);
    }
    if (fx & (RC_GTID_FLX_COMMIT_ALTER | RC_GTID_FLX_ROLLBACK_ALTER)) {
      uint64_t sa = cur_le(&c, 8);
      if (c.bad) CORRUPT("flags_extra 0x%02x announces sa_seq_no, but the event ends", fx);
      kv_u64(x, "sa_seq_no", sa);
    }
    if (fx & RC_GTID_FLX_THREAD_ID) {
      uint64_t tid = cur_le(&c, 4);
      if (c.bad) CORRUPT("flags_extra 0x%02x announces thread_id, but the event ends", fx);
      kv_u64(x, "thread_id", tid);
    }
  }
  obj_close(x, 0);
  return 0;
}

/* GTID_LIST: count u32 (low 28 bits; high 4 bits flags), then count x {domain u32, server u32,
 * seq u64}. */
int rc_info_gtid_list(info_ctx *x) {
  const rc_event *ev = x->ev;
  if (ev->body_len < 4) CORRUPT("%zu bytes, the count needs 4", ev->body_len);
  uint32_t v = rd_le32(ev->body);
  uint32_t n = v & 0x0FFFFFFF;
  if ((ev->body_len - 4) / 16 < n)
    CORRUPT("%u GTIDs need %llu bytes, the event has %zu", n, 4 + 16ull * n, ev->body_len);
  obj_open(x);
  key(x, "gtids");
  rc_buf_putc(x->b, '[');
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *p = ev->body + 4 + 16 * (size_t)i;
    char g[64];
    int gl = snprintf(g, sizeof g, "%u-%u-%llu", rd_le32(p), rd_le32(p + 4),
                      (unsigned long long)rd_le64(p + 8));
    if (i) rc_buf_putc(x->b, ',');
    rc_buf_json_str(x->b, g, (size_t)gl);
  }
  rc_buf_putc(x->b, ']');
  if (v >> 28) kv_u64(x, "flags", v >> 28);
  obj_close(x, 0);
  return 0;
}

