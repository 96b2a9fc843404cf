/*
 * row_json.c: formatting decoded values as rowcast's canonical JSON (docs/json-mapping.md).
 * Hot path: no allocation per value; integers and dates are formatted by hand. Also the way
 * back for one field: rc_json_change_position reads a line's "pos" (jansson), for the
 * exactly-once recovery (supervisor/recovery.c).
 */
#include "row_json.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "charset.h"
#include "decimal.h"
#include "json_binary.h"
#include "rc_err.h"

static void put_date(rc_buf *b, unsigned y, unsigned m, unsigned d) {
  char *o = rc_buf_reserve(b, 10);
  o[0] = (char)('0' + y / 1000 % 10), o[1] = (char)('0' + y / 100 % 10);
  o[2] = (char)('0' + y / 10 % 10), o[3] = (char)('0' + y % 10), o[4] = '-';
  o[5] = (char)('0' + m / 10 % 10), o[6] = (char)('0' + m % 10), o[7] = '-';
  o[8] = (char)('0' + d / 10 % 10), o[9] = (char)('0' + d % 10);
  b->len += 10;
}

static void put_hms(rc_buf *b, unsigned h, unsigned mi, unsigned s) {
  if (h > 99) {
    rc_buf_u64(b, h);
  } else {
    char *o = rc_buf_reserve(b, 2);
    o[0] = (char)('0' + h / 10), o[1] = (char)('0' + h % 10);
    b->len += 2;
  }
  char *o = rc_buf_reserve(b, 6);
  o[0] = ':', o[1] = (char)('0' + mi / 10 % 10), o[2] = (char)('0' + mi % 10);
  o[3] = ':', o[4] = (char)('0' + s / 10 % 10), o[5] = (char)('0' + s % 10);
  b->len += 6;
}

static const uint32_t pow10_6[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};

static void put_frac(rc_buf *b, uint32_t usec, int fsp) {
  if (fsp <= 0) return;
  rc_buf_putc(b, '.');
  rc_buf_uint_pad(b, usec / pow10_6[fsp], fsp);
}

static inline int col_fsp(const rc_column *col) { return rc_type_has_fsp(col->type) ? col->fsp : 0; }

static void put_bytes(rc_buf *b, const uint8_t *p, uint32_t n, uint32_t pad_to) {
  rc_buf_putc(b, '"');
  if (pad_to > n) {
    /* BINARY(n): base64 of the value re-padded with 0x00 */
    uint8_t stack[256];
    uint8_t *tmp = pad_to <= sizeof stack ? stack : NULL;
    if (tmp) {
      memcpy(tmp, p, n);
      memset(tmp + n, 0, pad_to - n);
      rc_buf_base64(b, tmp, pad_to);
    } else { /* BINARY is at most 255 bytes; keep the code total anyway */
      rc_buf_base64(b, p, n);
    }
  } else {
    rc_buf_base64(b, p, n);
  }
  rc_buf_putc(b, '"');
}

static int fail_col(const rc_column *col, char *errstr, size_t es, const char *what, unsigned long long x) {
  return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: %s %llu", col->name ? col->name : "(unnamed)", what, x);
}

int rc_json_value(rc_buf *b, const rc_column *col, const rc_value *v, char *errstr, size_t es) {
  switch (v->kind) {
  case RC_V_NULL:
  case RC_V_ABSENT:
    rc_buf_lit(b, "null");
    return 0;
  case RC_V_INT: rc_buf_i64(b, v->v.i); return 0;
  case RC_V_UINT:
  case RC_V_YEAR:
  case RC_V_BIT: rc_buf_u64(b, v->v.u); return 0;
  case RC_V_FLOAT: rc_buf_json_float(b, v->v.f); return 0;
  case RC_V_DOUBLE: rc_buf_json_double(b, v->v.d); return 0;
  case RC_V_DECIMAL:
    rc_buf_putc(b, '"');
    if (rc_decimal_format(b, v->v.s.p, col->precision, col->scale) < 0)
      return fail_col(col, errstr, es, "DECIMAL digit group out of range, precision", col->precision);
    rc_buf_putc(b, '"');
    return 0;
  case RC_V_DATE:
    rc_buf_putc(b, '"');
    put_date(b, v->v.dt.year, v->v.dt.month, v->v.dt.day);
    rc_buf_putc(b, '"');
    return 0;
  case RC_V_DATETIME:
    rc_buf_putc(b, '"');
    put_date(b, v->v.dt.year, v->v.dt.month, v->v.dt.day);
    rc_buf_putc(b, ' ');
    put_hms(b, v->v.dt.hour, v->v.dt.minute, v->v.dt.second);
    put_frac(b, v->v.dt.usec, col_fsp(col));
    rc_buf_putc(b, '"');
    return 0;
  case RC_V_TIMESTAMP: {
    rc_buf_putc(b, '"');
    if (v->v.ts.sec == 0) { /* the zero date: TIMESTAMP cannot hold 1970-01-01 00:00:00 */
      rc_buf_lit(b, "0000-00-00 00:00:00");
      put_frac(b, v->v.ts.usec, col_fsp(col));
    } else {
      int64_t y;
      unsigned m, d;
      rc_civil_from_days(v->v.ts.sec / 86400, &y, &m, &d);
      uint32_t s = v->v.ts.sec % 86400;
      put_date(b, (unsigned)y, m, d);
      rc_buf_putc(b, 'T');
      put_hms(b, s / 3600, s / 60 % 60, s % 60);
      put_frac(b, v->v.ts.usec, col_fsp(col));
      rc_buf_putc(b, 'Z');
    }
    rc_buf_putc(b, '"');
    return 0;
  }
  case RC_V_TIME:
    rc_buf_putc(b, '"');
    if (v->v.tm.neg) rc_buf_putc(b, '-');
    put_hms(b, v->v.tm.hour, v->v.tm.minute, v->v.tm.second);
    put_frac(b, v->v.tm.usec, col_fsp(col));
    rc_buf_putc(b, '"');
    return 0;
  case RC_V_ENUM:
    if (!col->labels) {
      rc_buf_u64(b, v->v.u);
      return 0;
    }
    if (v->v.u == 0) {
      rc_buf_lit(b, "\"\"");
      return 0;
    }
    if (v->v.u > col->n_labels) return fail_col(col, errstr, es, "ENUM index beyond its labels:", v->v.u);
    if (rc_charset_json_str(b, col->cs_kind == RC_CS_UNKNOWN ? RC_CS_UTF8 : col->cs_kind, col->iconv_cd,
                            (const uint8_t *)col->labels[v->v.u - 1], col->label_lens[v->v.u - 1]) < 0)
      rc_buf_json_str(b, col->labels[v->v.u - 1], col->label_lens[v->v.u - 1]);
    return 0;
  case RC_V_SET: {
    if (!col->labels) {
      rc_buf_u64(b, v->v.u);
      return 0;
    }
    if (col->n_labels < 64 && (v->v.u >> col->n_labels))
      return fail_col(col, errstr, es, "SET bitmask has bits beyond its labels:", v->v.u);
    /* join the labels in a scratch buffer kept for the process (stages are single-threaded),
     * then convert and escape once */
    static rc_buf scratch;
    scratch.len = 0;
    for (uint32_t k = 0; k < col->n_labels && k < 64; k++) {
      if (!((v->v.u >> k) & 1)) continue;
      if (scratch.len) rc_buf_putc(&scratch, ',');
      rc_buf_put(&scratch, col->labels[k], col->label_lens[k]);
    }
    if (rc_charset_json_str(b, col->cs_kind == RC_CS_UNKNOWN ? RC_CS_UTF8 : col->cs_kind, col->iconv_cd,
                            (const uint8_t *)scratch.p, scratch.len) < 0)
      rc_buf_json_str(b, scratch.p, scratch.len);
    return 0;
  }
  case RC_V_STRING:
    if (col->cs_kind == RC_CS_BINARY || col->cs_kind == RC_CS_UNKNOWN ||
        rc_charset_json_str(b, col->cs_kind, col->iconv_cd, v->v.s.p, v->v.s.len) < 0)
      put_bytes(b, v->v.s.p, v->v.s.len, v->v.s.pad_to);
    return 0;
  case RC_V_JSON:
  case RC_V_JSON_DIFF: {
    char inner[256];
    int diff = v->kind == RC_V_JSON_DIFF;
    if ((diff ? rc_json_diff_format : rc_json_binary_format)(b, v->v.s.p, v->v.s.len, inner, sizeof inner) < 0)
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: bad %s: %s", col->name ? col->name : "(unnamed)",
                     diff ? "partial JSON update" : "binary JSON", inner);
    return 0;
  }
  case RC_V_GEOMETRY: {
    uint32_t srid = 0;
    const uint8_t *p = v->v.s.p;
    uint32_t n = v->v.s.len;
    if (n >= 4) {
      srid = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      p += 4, n -= 4;
    }
    rc_buf_lit(b, "{\"srid\":");
    rc_buf_u64(b, srid);
    rc_buf_lit(b, ",\"wkb\":");
    put_bytes(b, p, n, 0);
    rc_buf_putc(b, '}');
    return 0;
  }
  case RC_V_VECTOR: {
    if (v->v.s.len % 4) return fail_col(col, errstr, es, "VECTOR byte length not a multiple of 4:", v->v.s.len);
    rc_buf_putc(b, '[');
    for (uint32_t k = 0; k < v->v.s.len; k += 4) {
      const uint8_t *q = v->v.s.p + k;
      uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
      float f;
      memcpy(&f, &u, 4);
      if (k) rc_buf_putc(b, ',');
      rc_buf_json_float(b, f);
    }
    rc_buf_putc(b, ']');
    return 0;
  }
  default:
    return rc_errf(RC_ERR_ARG, errstr, es, "value kind %d has no JSON form", v->kind);
  }
}

int rc_json_row(rc_buf *b, const rc_table *t, const rc_value *vals, char *errstr, size_t es) {
  rc_buf_putc(b, '{');
  int first = 1;
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (vals[i].kind == RC_V_ABSENT) continue;
    if (!first) rc_buf_putc(b, ',');
    first = 0;
    rc_buf_put(b, t->cols[i].key, t->cols[i].key_len);
    int r = rc_json_value(b, &t->cols[i], &vals[i], errstr, es);
    if (r < 0) return r;
  }
  rc_buf_putc(b, '}');
  return 0;
}

int rc_json_change(rc_buf *b, const rc_table *t, char op, const rc_value *before,
                   const rc_value *after, const rc_change_pos *pos, char *errstr, size_t es) {
  int r;
  rc_buf_lit(b, "{\"db\":");
  rc_buf_json_str(b, t->db, strlen(t->db));
  rc_buf_lit(b, ",\"table\":");
  rc_buf_json_str(b, t->name, strlen(t->name));
  rc_buf_lit(b, ",\"op\":\"");
  rc_buf_putc(b, op);
  rc_buf_lit(b, "\",\"before\":");
  if (before) {
    if ((r = rc_json_row(b, t, before, errstr, es)) < 0) return r;
  } else {
    rc_buf_lit(b, "null");
  }
  rc_buf_lit(b, ",\"after\":");
  if (after) {
    if ((r = rc_json_row(b, t, after, errstr, es)) < 0) return r;
  } else {
    rc_buf_lit(b, "null");
  }
  rc_buf_lit(b, ",\"pos\":{\"file\":");
  rc_buf_json_str(b, pos->file, strlen(pos->file));
  rc_buf_lit(b, ",\"offset\":");
  rc_buf_u64(b, pos->offset);
  rc_buf_lit(b, ",\"row\":");
  rc_buf_u64(b, pos->row);
  rc_buf_lit(b, "},\"gtid\":");
  if (pos->gtid && pos->gtid[0])
    rc_buf_json_str(b, pos->gtid, strlen(pos->gtid));
  else
    rc_buf_lit(b, "null");
  rc_buf_lit(b, ",\"ts\":");
  rc_buf_u64(b, pos->ts);
  if (pos->txn) {
    rc_buf_lit(b, ",\"transaction\":{\"id\":");
    rc_buf_json_str(b, pos->txn->id, strlen(pos->txn->id));
    rc_buf_lit(b, ",\"order\":");
    rc_buf_u64(b, pos->txn->order);
    rc_buf_lit(b, ",\"table_order\":");
    rc_buf_u64(b, pos->txn->table_order);
    rc_buf_putc(b, '}');
  }
  rc_buf_lit(b, "}\n");
  return 0;
}

/* Change lines hold integers past jansson's json_int_t (an unsigned BIGINT's 18446744073709551615):
 * readers here parse every number as a double (JSON_DECODE_INT_AS_REAL), and these are the
 * integers they need: a whole number from 0 to max (exact up to 2^53, far past any offset). */
static int json_whole(const json_t *v, double max, uint64_t *out) {
  if (!json_is_number(v)) return 0;
  double d = json_number_value(v);
  if (!(d >= 0 && d <= max) || d != (double)(uint64_t)d) return 0;
  if (out) *out = (uint64_t)d;
  return 1;
}

int rc_json_change_check(const char *text, size_t len, char *errstr, size_t es) {
  json_error_t je;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
  if (!j) return rc_errf(RC_ERR_CORRUPT, errstr, es, "not valid JSON: %s (at byte %d)", je.text, je.position);
  const char *bad = NULL;
  json_t *op = json_object_get(j, "op"), *pos = json_object_get(j, "pos");
  json_t *before = json_object_get(j, "before"), *after = json_object_get(j, "after");
  json_t *gtid = json_object_get(j, "gtid");
  if (!json_is_object(j)) bad = "not a JSON object";
  else if (!json_is_string(json_object_get(j, "db")) || !json_is_string(json_object_get(j, "table")))
    bad = "no \"db\" and \"table\" strings";
  else if (!json_is_string(op) || json_string_length(op) != 1 || !strchr("curd", json_string_value(op)[0]))
    bad = "no \"op\" of c, u, d or r";
  else if (!before || !after || !(json_is_object(before) || json_is_null(before)) ||
           !(json_is_object(after) || json_is_null(after)))
    bad = "no \"before\" and \"after\" objects (or null)";
  else if (!json_is_object(pos) || !json_is_string(json_object_get(pos, "file")) ||
           !json_whole(json_object_get(pos, "offset"), 9007199254740992.0, NULL) ||
           !json_whole(json_object_get(pos, "row"), (double)UINT32_MAX, NULL))
    bad = "no \"pos\" object with file, offset and row";
  else if (!gtid || !(json_is_string(gtid) || json_is_null(gtid)))
    bad = "no \"gtid\" string (or null)";
  else if (!json_whole(json_object_get(j, "ts"), 9007199254740992.0, NULL))
    bad = "no \"ts\" integer";
  json_decref(j);
  if (bad) return rc_errf(RC_ERR_CORRUPT, errstr, es, "JSON, but not a rowcast change: %s", bad);
  return 0;
}

int rc_json_change_position(const void *text, size_t n, char *file, size_t file_size, uint64_t *offset,
                            uint32_t *row, char *errstr, size_t es) {
  json_error_t jerr;
  json_t *root = json_loadb(text, n, JSON_DECODE_INT_AS_REAL, &jerr);
  if (!root)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "not a JSON change line (near byte %d: %s)", jerr.position, jerr.text);
  const json_t *pos = json_object_get(root, "pos");
  const json_t *f = json_object_get(pos, "file"), *o = json_object_get(pos, "offset"), *r = json_object_get(pos, "row");
  uint64_t off = 0, rw = 0;
  int rc = 0;
  if (!json_is_object(root) || !json_is_object(pos) || !json_is_string(f) || !json_is_number(o) || !json_is_number(r))
    rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "not a rowcast change line: no \"pos\" with a string file and integer "
                 "offset and row");
  else if (json_string_length(f) == 0 || json_string_length(f) >= file_size ||
           strlen(json_string_value(f)) != json_string_length(f))
    rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "pos.file is empty, too long or not text");
  else if (!json_whole(o, 9007199254740992.0, &off) || !json_whole(r, (double)UINT32_MAX, &rw))
    rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "pos.offset %.17g or pos.row %.17g is not a whole number in range",
                 json_number_value(o), json_number_value(r));
  if (rc == 0) {
    memcpy(file, json_string_value(f), json_string_length(f) + 1);
    *offset = off;
    *row = (uint32_t)rw;
  }
  json_decref(root);
  return rc;
}
