/*
 * binlog_info.c: the fields of control events as JSON (see binlog_info.h). Used by
 * `rowcast decode --events`; owns nothing beyond the call (QUERY_COMPRESSED text is inflated
 * into a temporary buffer freed before returning).
 *
 * Layouts follow shared/reference/binlog-format.md section 1; MySQL 8.4's GTID_TAGGED uses the
 * MySQL serialization library (varlen integers, field ids), read here as well.
 */
#include "binlog_info.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binlog_int.h"
#include "decimal.h"

#include "binlog_info_int.h"

int rc_info_fail(info_ctx *x, int err, const char *fmt, ...) {
  char m[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  x->b->len = x->mark;
  const char *name = rc_event_type_name(x->ev->type);
  return rc_errf(err, x->errstr, x->es, "%s: corrupt %s at offset %llu%s: %s", x->bl->file,
                 name ? name : "event", (unsigned long long)x->ev->offset,
                 x->ev->in_payload ? " (inside its TRANSACTION_PAYLOAD)" : "", m);
}

/* ---- QUERY / QUERY_COMPRESSED --------------------------------------------------------------- */

static const char *status_name(int code) {
  switch (code) {
  case 0: return "FLAGS2";
  case 1: return "SQL_MODE";
  case 2: return "CATALOG";
  case 3: return "AUTO_INCREMENT";
  case 4: return "CHARSET";
  case 5: return "TIME_ZONE";
  case 6: return "CATALOG_NZ";
  case 7: return "LC_TIME_NAMES";
  case 8: return "CHARSET_DATABASE";
  case 9: return "TABLE_MAP_FOR_UPDATE";
  case 10: return "MASTER_DATA_WRITTEN";
  case 11: return "INVOKER";
  case 12: return "UPDATED_DB_NAMES";
  case 13: return "MICROSECONDS";
  case 16: return "EXPLICIT_DEFAULTS_FOR_TIMESTAMP";
  case 17: return "DDL_LOGGED_WITH_XID";
  case 18: return "DEFAULT_COLLATION_FOR_UTF8MB4";
  case 19: return "SQL_REQUIRE_PRIMARY_KEY";
  case 20: return "DEFAULT_TABLE_ENCRYPTION";
  case 128: return "HRNOW";
  case 129: return "XID";
  case 130: return "GTID_FLAGS3";
  case 131: return "CHARACTER_SET_COLLATIONS";
  default: return NULL;
  }
}

/* A u8 length then that many bytes, inside the status block. */
static const uint8_t *cur_str8(rc_cur *c, size_t *n) {
  *n = cur_u8(c);
  return cur_take(c, *n);
}

/* The status variables, as the members of the "status" object. Any order of codes is accepted
 * (MariaDB 11.5 writes 131 before 4); a repeated code is parsed but shown once. On an unknown
 * code parsing stops: the rest of the block cannot be framed, and the caller has already
 * skipped past the block by status_vars_len. */
static int query_status(info_ctx *x, const uint8_t *sv, size_t sv_len) {
  rc_cur c = {sv, sv + sv_len, 0};
  uint8_t seen[256 / 8] = {0};
  while (cur_left(&c) > 0) {
    uint8_t code = cur_u8(&c);
    const char *name = status_name(code);
    if (!name) {
      kv_u64(x, "unknown_code", code);
      return 0;
    }
    int show = !(seen[code / 8] & (1u << (code % 8)));
    seen[code / 8] |= (uint8_t)(1u << (code % 8));
    size_t mark = x->b->len;
    int keys = x->nkeys;
    const uint8_t *s;
    size_t n;
    switch (code) {
    case 0: kv_u64(x, "flags2", cur_le(&c, 4)); break;
    case 1: kv_u64(x, "sql_mode", cur_le(&c, 8)); break;
    case 2: /* len, text, NUL (5.0.0-5.0.3) */
      s = cur_str8(&c, &n);
      cur_take(&c, 1);
      if (!c.bad) kv_str(x, "catalog", s, n);
      break;
    case 3: {
      uint64_t inc = cur_le(&c, 2), off = cur_le(&c, 2);
      key(x, "auto_increment");
      int k = x->nkeys;
      obj_open(x);
      kv_u64(x, "increment", inc);
      kv_u64(x, "offset", off);
      obj_close(x, k);
      break;
    }
    case 4: {
      uint64_t cl = cur_le(&c, 2), conn = cur_le(&c, 2), srv = cur_le(&c, 2);
      key(x, "charset");
      int k = x->nkeys;
      obj_open(x);
      kv_u64(x, "client", cl);
      kv_u64(x, "connection", conn);
      kv_u64(x, "server", srv);
      obj_close(x, k);
      break;
    }
    case 5:
      s = cur_str8(&c, &n);
      if (!c.bad) kv_str(x, "time_zone", s, n);
      break;
    case 6:
      s = cur_str8(&c, &n);
      if (!c.bad) kv_str(x, "catalog", s, n);
      break;
    case 7: kv_u64(x, "lc_time_names", cur_le(&c, 2)); break;
    case 8: kv_u64(x, "charset_database", cur_le(&c, 2)); break;
    case 9: kv_u64(x, "table_map_for_update", cur_le(&c, 8)); break;
    case 10: kv_u64(x, "master_data_written", cur_le(&c, 4)); break;
    case 11: {
      size_t un, hn;
      const uint8_t *u = cur_str8(&c, &un);
      const uint8_t *h = cur_str8(&c, &hn);
      if (c.bad) break;
      key(x, "invoker");
      int k = x->nkeys;
      obj_open(x);
      kv_str(x, "user", u, un);
      kv_str(x, "host", h, hn);
      obj_close(x, k);
      break;
    }
    case 12: {
      uint8_t cnt = cur_u8(&c);
      key(x, "updated_db_names");
      if (cnt == 254) { /* OVER_MAX_DBS_IN_EVENT_MTS: too many to list */
        rc_buf_lit(x->b, "null");
        break;
      }
      rc_buf_putc(x->b, '[');
      for (unsigned i = 0; i < cnt && !c.bad; i++) {
        size_t left = cur_left(&c);
        const uint8_t *z = left ? memchr(c.p, 0, left) : NULL;
        if (!z) {
          x->nkeys = keys;
          x->b->len = mark;
          CORRUPT("status variable 12 (UPDATED_DB_NAMES): database name %u of %u is not "
                  "NUL-terminated within status_vars_len",
                  i + 1, cnt);
        }
        if (i) rc_buf_putc(x->b, ',');
        rc_buf_json_str(x->b, (const char *)c.p, (size_t)(z - c.p));
        cur_take(&c, (size_t)(z - c.p) + 1);
      }
      rc_buf_putc(x->b, ']');
      break;
    }
    case 13: kv_u64(x, "microseconds", cur_le(&c, 3)); break;
    case 16: kv_u64(x, "explicit_defaults_for_timestamp", cur_le(&c, 1)); break;
    case 17: kv_u64(x, "ddl_xid", cur_le(&c, 8)); break;
    case 18: kv_u64(x, "default_collation_for_utf8mb4", cur_le(&c, 2)); break;
    case 19: kv_u64(x, "sql_require_primary_key", cur_le(&c, 1)); break;
    case 20: kv_u64(x, "default_table_encryption", cur_le(&c, 1)); break;
    case 128: kv_u64(x, "hrnow", cur_le(&c, 3)); break;
    case 129: kv_u64(x, "xid", cur_le(&c, 8)); break;
    case 130: { /* flags_extra u8; with COMMIT/ROLLBACK ALTER (0x04/0x08) a u64 sa_seq_no */
      uint8_t fl = cur_u8(&c);
      uint64_t sa = (fl & (RC_GTID_FLX_COMMIT_ALTER | RC_GTID_FLX_ROLLBACK_ALTER)) ? cur_le(&c, 8) : 0;
      if (c.bad) break;
      kv_u64(x, "gtid_flags3", fl);
      if (fl & (RC_GTID_FLX_COMMIT_ALTER | RC_GTID_FLX_ROLLBACK_ALTER)) kv_u64(x, "sa_seq_no", sa);
      break;
    }
    case 131: { /* count u8, then count x {charset u16, collation u16} */
      uint8_t cnt = cur_u8(&c);
      const uint8_t *p = cur_take(&c, (size_t)cnt * 4);
      if (!p) break;
      key(x, "character_set_collations");
      rc_buf_putc(x->b, '[');
      for (unsigned i = 0; i < cnt; i++) {
        if (i) rc_buf_putc(x->b, ',');
        rc_buf_putc(x->b, '[');
        rc_buf_u64(x->b, rd_le16(p + 4 * i));
        rc_buf_putc(x->b, ',');
        rc_buf_u64(x->b, rd_le16(p + 4 * i + 2));
        rc_buf_putc(x->b, ']');
      }
      rc_buf_putc(x->b, ']');
      break;
    }
    }
    if (c.bad) {
      x->nkeys = keys;
      x->b->len = mark;
      CORRUPT("status variable %u (%s) runs past the %zu-byte status block (status_vars_len)",
              code, name, sv_len);
    }
    if (!show) { /* a repeated code: drop the second copy */
      x->nkeys = keys;
      x->b->len = mark;
    }
  }
  return 0;
}

static int info_query(info_ctx *x) {
  const rc_event *ev = x->ev;
  int phl = post_header(x, 13);
  if (phl < 13) CORRUPT("the FORMAT_DESCRIPTION gives a post-header length of %d, need 13", phl);
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t thread_id = cur_le(&c, 4), exec_time = cur_le(&c, 4);
  uint8_t db_len = cur_u8(&c);
  uint64_t error_code = cur_le(&c, 2);
  uint16_t sv_len = (uint16_t)cur_le(&c, 2);
  cur_take(&c, (size_t)phl - 13);
  if (c.bad)
    CORRUPT("%zu bytes, shorter than the %d-byte post-header", ev->body_len, phl);
  const uint8_t *sv = cur_take(&c, sv_len);
  if (!sv)
    CORRUPT("status_vars_len %u is more than the %zu bytes left in the event", sv_len,
            (size_t)(ev->body + ev->body_len - c.p));
  const uint8_t *db = cur_take(&c, db_len);
  const uint8_t *nul = cur_take(&c, 1);
  if (!db || !nul)
    CORRUPT("the database name (db_len %u, then a NUL) runs past the end of the event", db_len);
  if (*nul != 0) CORRUPT("the database name (db_len %u) is not followed by a NUL", db_len);
  const uint8_t *q = c.p;
  size_t qlen = cur_left(&c);
  uint8_t *inflated = NULL;
  if (ev->type == RC_EV_MARIA_QUERY_COMPRESSED) {
    /* header byte 0x80 | alg<<4 | n, an n-byte big-endian length, then a zlib stream */
    uint8_t h = cur_u8(&c);
    int n = h & 7, alg = (h >> 4) & 7;
    if (c.bad || !(h & 0x80) || n < 1 || n > 4 || alg != 0)
      CORRUPT("compressed query has header byte 0x%02x, expected 0x8n (zlib, n = 1..4 length bytes)",
              c.bad ? 0 : h);
    const uint8_t *lp = cur_take(&c, (size_t)n);
    if (!lp) CORRUPT("the event ends inside the compressed query's length");
    size_t ulen = (size_t)rd_be_n(lp, n);
    if (ulen > RC_MAX_QUERY_INFLATE)
      CORRUPT("compressed query claims %zu bytes, over the 1 GiB limit", ulen);
    inflated = malloc(ulen + 1);
    if (!inflated) {
      x->b->len = x->mark;
      return rc_errf(RC_ERR_NOMEM, x->errstr, x->es, "out of memory inflating a compressed query");
    }
    uLongf got = (uLongf)ulen;
    int zr = uncompress(inflated, &got, c.p, (uLong)cur_left(&c));
    if (zr != Z_OK || got != ulen) {
      free(inflated);
      CORRUPT("compressed query does not unpack (zlib: %s; %lu of %zu bytes)",
              zr == Z_OK ? "wrong length" : zError(zr), (unsigned long)got, ulen);
    }
    q = inflated;
    qlen = ulen;
  }
  obj_open(x);
  kv_u64(x, "thread_id", thread_id);
  kv_u64(x, "exec_time", exec_time);
  kv_u64(x, "error_code", error_code);
  kv_str(x, "db", db, db_len);
  kv_str(x, "query", q, qlen);
  free(inflated);
  key(x, "status");
  int k = x->nkeys;
  obj_open(x);
  int r = query_status(x, sv, sv_len);
  if (r < 0) return r;
  obj_close(x, k);
  obj_close(x, 0);
  return 0;
}

/* ---- other MySQL control events ------------------------------------------------------------- */

static int info_rotate(info_ctx *x) {
  const rc_event *ev = x->ev;
  int phl = post_header(x, 8);
  if (phl < 8) CORRUPT("the FORMAT_DESCRIPTION gives a post-header length of %d, need 8", phl);
  if (ev->body_len < (size_t)phl) CORRUPT("%zu bytes, shorter than the %d-byte position", ev->body_len, phl);
  obj_open(x);
  kv_str(x, "next_file", ev->body + phl, ev->body_len - (size_t)phl);
  kv_u64(x, "next_pos", rd_le64(ev->body));
  obj_close(x, 0);
  return 0;
}

static int info_xid(info_ctx *x) {
  if (x->ev->body_len < 8) CORRUPT("%zu bytes, the xid needs 8", x->ev->body_len);
  obj_open(x);
  kv_u64(x, "xid", rd_le64(x->ev->body));
  obj_close(x, 0);
  return 0;
}

static int info_intvar(info_ctx *x) {
  if (x->ev->body_len < 9) CORRUPT("%zu bytes, need 9 (type u8, value u64)", x->ev->body_len);
  uint8_t t = x->ev->body[0];
  obj_open(x);
  key(x, "type");
  if (t == 1) rc_buf_lit(x->b, "\"LAST_INSERT_ID\"");
  else if (t == 2) rc_buf_lit(x->b, "\"INSERT_ID\"");
  else rc_buf_u64(x->b, t);
  kv_u64(x, "value", rd_le64(x->ev->body + 1));
  obj_close(x, 0);
  return 0;
}

static int info_rand(info_ctx *x) {
  if (x->ev->body_len < 16) CORRUPT("%zu bytes, the two seeds need 16", x->ev->body_len);
  obj_open(x);
  kv_u64(x, "seed1", rd_le64(x->ev->body));
  kv_u64(x, "seed2", rd_le64(x->ev->body + 8));
  obj_close(x, 0);
  return 0;
}

/* USER_VAR: name_len u32, name, is_null u8; unless NULL: type u8, charset u32, value_len u32,
 * value, and an optional flags u8 (1 = unsigned). */
static int info_user_var(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint32_t name_len = (uint32_t)cur_le(&c, 4);
  const uint8_t *name = cur_take(&c, name_len);
  uint8_t is_null = cur_u8(&c);
  if (c.bad) CORRUPT("the variable name (%u bytes) and NULL flag run past the end of the event", name_len);
  obj_open(x);
  kv_str(x, "name", name, name_len);
  if (is_null) {
    key(x, "value");
    rc_buf_lit(x->b, "null");
    obj_close(x, 0);
    return 0;
  }
  uint8_t type = cur_u8(&c);
  uint32_t charset = (uint32_t)cur_le(&c, 4);
  uint32_t vlen = (uint32_t)cur_le(&c, 4);
  const uint8_t *v = cur_take(&c, vlen);
  if (c.bad) CORRUPT("the value of @%.*s (type, charset, %u bytes) runs past the end of the event",
                     (int)(name_len > 64 ? 64 : name_len), (const char *)name, vlen);
  uint8_t flags = cur_left(&c) ? cur_u8(&c) : 0;
  static const char *const tn[] = {"STRING", "REAL", "INT", "ROW", "DECIMAL"};
  key(x, "type");
  if (type < 5) {
    rc_buf_putc(x->b, '"');
    rc_buf_puts(x->b, tn[type]);
    rc_buf_putc(x->b, '"');
  } else {
    rc_buf_u64(x->b, type);
  }
  kv_u64(x, "charset", charset);
  key(x, "value");
  switch (type) {
  case 0: rc_buf_json_str(x->b, (const char *)v, vlen); break;
  case 1: {
    if (vlen != 8) CORRUPT("REAL user variable has %u bytes, expected 8", vlen);
    double d;
    memcpy(&d, v, 8);
    rc_buf_json_double(x->b, d);
    break;
  }
  case 2:
    if (vlen != 8) CORRUPT("INT user variable has %u bytes, expected 8", vlen);
    if (flags & 1) rc_buf_u64(x->b, rd_le64(v));
    else rc_buf_i64(x->b, (int64_t)rd_le64(v));
    break;
  case 4: {
    if (vlen < 2) CORRUPT("DECIMAL user variable has %u bytes, too short for precision and scale", vlen);
    int prec = v[0], scale = v[1];
    size_t need = rc_decimal_size(prec, scale);
    if (!need || need > vlen - 2u)
      CORRUPT("DECIMAL(%d,%d) user variable needs %zu bytes, has %u", prec, scale, need, vlen - 2u);
    rc_buf_putc(x->b, '"');
    if (rc_decimal_format(x->b, v + 2, prec, scale) < 0)
      CORRUPT("DECIMAL(%d,%d) user variable has a digit group out of range", prec, scale);
    rc_buf_putc(x->b, '"');
    break;
  }
  default: /* ROW or unknown: the raw bytes */
    rc_buf_putc(x->b, '"');
    rc_buf_hex(x->b, v, vlen);
    rc_buf_putc(x->b, '"');
    break;
  }
  if (flags) kv_u64(x, "flags", flags);
  obj_close(x, 0);
  return 0;
}

/* FORMAT_DESCRIPTION: binlog_version u16, server_version[50], create_ts u32, header_len u8,
 * post-header lengths, (checksum alg, CRC). The decoder state holds what it found. */
static int info_fde(info_ctx *x) {
  const rc_event *ev = x->ev;
  if (ev->body_len < 57) CORRUPT("%zu bytes, need at least 57", ev->body_len);
  const uint8_t *b = ev->body;
  obj_open(x);
  kv_u64(x, "binlog_version", rd_le16(b));
  const uint8_t *z = memchr(b + 2, 0, 50);
  kv_str(x, "server_version", b + 2, z ? (size_t)(z - (b + 2)) : 50);
  kv_u64(x, "created", rd_le32(b + 52));
  kv_u64(x, "header_len", b[56]);
  kv_u64(x, "post_header_lengths", (uint64_t)x->bl->n_post_header);
  key(x, "checksum");
  if (x->bl->checksum_alg == 1) rc_buf_lit(x->b, "\"CRC32\"");
  else rc_buf_lit(x->b, "\"NONE\"");
  obj_close(x, 0);
  return 0;
}

static int info_table_map(info_ctx *x) {
  const rc_event *ev = x->ev;
  int phl = post_header(x, 8);
  int idlen = phl == 6 ? 4 : 6;
  if (ev->body_len < (size_t)idlen + 2) CORRUPT("%zu bytes, too short for the table id and flags", ev->body_len);
  uint64_t id = rd_le_n(ev->body, idlen);
  const rc_table *t = rc_binlog_table(x->bl, id);
  obj_open(x);
  kv_u64(x, "table_id", id);
  if (t) {
    kv_str(x, "db", t->db, strlen(t->db));
    kv_str(x, "table", t->name, strlen(t->name));
    kv_u64(x, "columns", t->ncols);
  }
  kv_u64(x, "flags", rd_le16(ev->body + idlen));
  obj_close(x, 0);
  return 0;
}

static int info_rows(info_ctx *x) {
  const rc_event *ev = x->ev;
  int phl = post_header(x, 8);
  int idlen = phl == 6 ? 4 : 6;
  if (ev->body_len < (size_t)idlen + 2) CORRUPT("%zu bytes, too short for the table id and flags", ev->body_len);
  obj_open(x);
  kv_u64(x, "table_id", rd_le_n(ev->body, idlen));
  kv_u64(x, "flags", rd_le16(ev->body + idlen));
  obj_close(x, 0);
  return 0;
}

static int info_incident(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t incident = cur_le(&c, 2);
  if (c.bad) CORRUPT("%zu bytes, the incident number needs 2", ev->body_len);
  obj_open(x);
  kv_u64(x, "incident", incident);
  if (cur_left(&c)) {
    size_t n;
    const uint8_t *m = cur_str8(&c, &n);
    if (!m) CORRUPT("the message (%zu bytes) runs past the end of the event", n);
    kv_str(x, "message", m, n);
  }
  obj_close(x, 0);
  return 0;
}

static int info_heartbeat(info_ctx *x) {
  obj_open(x);
  kv_str(x, "file", x->ev->body, x->ev->body_len);
  kv_u64(x, "pos", x->ev->log_pos);
  obj_close(x, 0);
  return 0;
}

/* HEARTBEAT_V2: TLV of lenenc type, lenenc length, value; 1 the file name, 2 the position
 * (itself lenenc), 0 the end. Unknown types are skipped by their length. */
static int info_heartbeat_v2(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  const uint8_t *file = NULL;
  size_t file_len = 0;
  uint64_t pos = 0;
  int have_pos = 0;
  while (cur_left(&c) > 0) {
    uint64_t t = cur_lenenc(&c);
    if (c.bad) CORRUPT("bad field type in the TLV list");
    if (t == 0) break;
    uint64_t l = cur_lenenc(&c);
    if (c.bad || l > cur_left(&c)) CORRUPT("field %llu has length %llu, more than the event holds",
                                           (unsigned long long)t, (unsigned long long)l);
    rc_cur v = {c.p, c.p + l, 0};
    cur_take(&c, (size_t)l);
    if (t == 1) {
      file = v.p;
      file_len = (size_t)l;
    } else if (t == 2) {
      pos = cur_lenenc(&v);
      if (v.bad) CORRUPT("the log position field is not a valid length-encoded integer");
      have_pos = 1;
    }
  }
  obj_open(x);
  if (file) kv_str(x, "file", file, file_len);
  if (have_pos) kv_u64(x, "pos", pos);
  obj_close(x, 0);
  return 0;
}

static int info_rows_query(info_ctx *x) {
  const rc_event *ev = x->ev;
  if (ev->body_len < 1) CORRUPT("empty event: the length byte is missing");
  obj_open(x);
  kv_str(x, "query", ev->body + 1, ev->body_len - 1); /* the 1-byte length is ignored */
  obj_close(x, 0);
  return 0;
}

/* ---- MariaDB events ------------------------------------------------------------------------- */

static int info_binlog_checkpoint(info_ctx *x) {
  const rc_event *ev = x->ev;
  if (ev->body_len < 4) CORRUPT("%zu bytes, the file name length needs 4", ev->body_len);
  uint32_t n = rd_le32(ev->body);
  if (n > ev->body_len - 4)
    CORRUPT("file name length %u is more than the %zu bytes left", n, ev->body_len - 4);
  obj_open(x);
  kv_str(x, "file", ev->body + 4, n);
  obj_close(x, 0);
  return 0;
}

static int info_annotate_rows(info_ctx *x) {
  obj_open(x);
  kv_str(x, "query", x->ev->body, x->ev->body_len);
  obj_close(x, 0);
  return 0;
}

/* START_ENCRYPTION: scheme u8, key_version u32, nonce[12]. */
static int info_start_encryption(info_ctx *x) {
  const rc_event *ev = x->ev;
  if (ev->body_len < 17) CORRUPT("%zu bytes, need 17 (scheme, key version, nonce)", ev->body_len);
  obj_open(x);
  kv_u64(x, "scheme", ev->body[0]);
  kv_u64(x, "key_version", rd_le32(ev->body + 1));
  obj_close(x, 0);
  return 0;
}

/* TRANSACTION_PAYLOAD: lenenc TLV, 1 payload_size, 2 compression (0 ZSTD, 255 NONE),
 * 3 uncompressed_size, 0 end. The TLV starts right after the common header. */
static int info_transaction_payload(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t size = 0, comp = 255, usize = 0;
  int have_size = 0, have_usize = 0;
  for (;;) {
    uint64_t t = cur_lenenc(&c);
    if (c.bad) CORRUPT("the header TLV ends without its end marker");
    if (t == 0) break;
    uint64_t l = cur_lenenc(&c);
    if (c.bad || l > cur_left(&c))
      CORRUPT("header field %llu has length %llu, more than the event holds", (unsigned long long)t,
              (unsigned long long)l);
    rc_cur v = {c.p, c.p + l, 0};
    cur_take(&c, (size_t)l);
    if (t == 1) size = cur_lenenc(&v), have_size = 1;
    else if (t == 2) comp = cur_lenenc(&v);
    else if (t == 3) usize = cur_lenenc(&v), have_usize = 1;
    if (v.bad) CORRUPT("header field %llu is not a valid length-encoded integer", (unsigned long long)t);
  }
  if (!have_size) CORRUPT("the header has no payload_size");
  obj_open(x);
  key(x, "compression");
  if (comp == 0) rc_buf_lit(x->b, "\"ZSTD\"");
  else if (comp == 255) rc_buf_lit(x->b, "\"NONE\"");
  else rc_buf_u64(x->b, comp);
  kv_u64(x, "payload_size", size);
  kv_u64(x, "uncompressed_size", have_usize ? usize : (comp == 255 ? size : 0));
  obj_close(x, 0);
  return 0;
}

/* XA_PREPARE: one_phase u8, format_id u32, gtrid_len u32, bqual_len u32, data. */
static int info_xa_prepare(info_ctx *x) {
  const rc_event *ev = x->ev;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint8_t one_phase = cur_u8(&c);
  uint32_t format_id = (uint32_t)cur_le(&c, 4);
  uint32_t gl = (uint32_t)cur_le(&c, 4), bl = (uint32_t)cur_le(&c, 4);
  if (c.bad) CORRUPT("%zu bytes, need 13 (one_phase, format_id, lengths)", ev->body_len);
  if (gl > 64 || bl > 64) CORRUPT("gtrid length %u / bqual length %u over the XA limit of 64", gl, bl);
  const uint8_t *gt = cur_take(&c, gl), *bq = cur_take(&c, bl);
  if (c.bad) CORRUPT("the xid (%u + %u bytes) runs past the end of the event", gl, bl);
  obj_open(x);
  kv_bool(x, "one_phase", one_phase);
  kv_u64(x, "format_id", format_id);
  kv_hex(x, "gtrid", gt, gl);
  kv_hex(x, "bqual", bq, bl);
  obj_close(x, 0);
  return 0;
}

int rc_event_info_json(const rc_binlog *bl, const rc_event *ev, rc_buf *b, char *errstr,
                       size_t errstr_size) {
  info_ctx x = {bl, ev, b, b->len, 0, errstr, errstr_size};
  if (rc_event_is_rows(ev->type)) return info_rows(&x);
  switch (ev->type) {
  case RC_EV_QUERY:
  case RC_EV_MARIA_QUERY_COMPRESSED: return info_query(&x);
  case RC_EV_ROTATE: return info_rotate(&x);
  case RC_EV_INTVAR: return info_intvar(&x);
  case RC_EV_RAND: return info_rand(&x);
  case RC_EV_USER_VAR: return info_user_var(&x);
  case RC_EV_FORMAT_DESCRIPTION: return info_fde(&x);
  case RC_EV_XID: return info_xid(&x);
  case RC_EV_TABLE_MAP: return info_table_map(&x);
  case RC_EV_INCIDENT: return info_incident(&x);
  case RC_EV_HEARTBEAT: return info_heartbeat(&x);
  case RC_EV_ROWS_QUERY: return info_rows_query(&x);
  case RC_EV_GTID:
  case RC_EV_ANONYMOUS_GTID: return rc_info_gtid(&x);
  case RC_EV_PREVIOUS_GTIDS: return rc_info_previous_gtids(&x);
  case RC_EV_XA_PREPARE: return info_xa_prepare(&x);
  case RC_EV_TRANSACTION_PAYLOAD: return info_transaction_payload(&x);
  case RC_EV_HEARTBEAT_V2: return info_heartbeat_v2(&x);
  case RC_EV_GTID_TAGGED: return rc_info_gtid_tagged(&x);
  case RC_EV_MARIA_ANNOTATE_ROWS: return info_annotate_rows(&x);
  case RC_EV_MARIA_BINLOG_CHECKPOINT: return info_binlog_checkpoint(&x);
  case RC_EV_MARIA_GTID: return rc_info_maria_gtid(&x);
  case RC_EV_MARIA_GTID_LIST: return rc_info_gtid_list(&x);
  case RC_EV_MARIA_START_ENCRYPTION: return info_start_encryption(&x);
  default: return 0;
  }
}
