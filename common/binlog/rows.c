/*
 * rows.c: decoding ROWS events (v0, v1, v2, MariaDB compressed, MySQL PARTIAL_UPDATE_ROWS) into
 * typed values, one row image at a time, driven by the columns-present and NULL bitmaps.
 * Values are not formatted here (see row_json.c): strings, decimals and JSON stay as pointers
 * into the event, so the hot path neither allocates nor copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binlog_int.h"
#include "decimal.h"

/* The largest row data a MariaDB compressed ROWS event may unpack to (events are capped by
 * max_allowed_packet, at most 1 GiB). */
#define RC_MAX_ROWS_INFLATE ((size_t)1 << 30)

int rc_event_is_rows(int t) {
  return (t >= RC_EV_WRITE_ROWS_V0 && t <= RC_EV_DELETE_ROWS_V1) ||
         (t >= RC_EV_WRITE_ROWS_V2 && t <= RC_EV_DELETE_ROWS_V2) || t == RC_EV_PARTIAL_UPDATE_ROWS ||
         (t >= RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1 && t <= RC_EV_MARIA_DELETE_ROWS_COMPRESSED);
}

void rc_rows_free(rc_rows *rows) {
  free(rows->inflated);
  rows->inflated = NULL;
  rows->inflated_cap = 0;
}

#define EVFAIL(err, ...)                                                                     \
  do {                                                                                       \
    char m_[256];                                                                            \
    snprintf(m_, sizeof m_, __VA_ARGS__);                                                    \
    return rc_errf(err, errstr, es, "%s: %s at offset %llu: %s", bl->file,                   \
                   rc_event_type_name(ev->type), (unsigned long long)ev->offset, m_);        \
  } while (0)

int rc_rows_begin(rc_binlog *bl, const rc_event *ev, rc_rows *rows, char *errstr, size_t es) {
  int t = ev->type, v2 = 0, compressed = 0;
  switch (t) {
  case RC_EV_WRITE_ROWS_V0: case RC_EV_WRITE_ROWS_V1: rows->op = 'c'; break;
  case RC_EV_UPDATE_ROWS_V0: case RC_EV_UPDATE_ROWS_V1: rows->op = 'u'; break;
  case RC_EV_DELETE_ROWS_V0: case RC_EV_DELETE_ROWS_V1: rows->op = 'd'; break;
  case RC_EV_WRITE_ROWS_V2: rows->op = 'c', v2 = 1; break;
  case RC_EV_UPDATE_ROWS_V2: case RC_EV_PARTIAL_UPDATE_ROWS: rows->op = 'u', v2 = 1; break;
  case RC_EV_DELETE_ROWS_V2: rows->op = 'd', v2 = 1; break;
  case RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1: rows->op = 'c', compressed = 1; break;
  case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1: rows->op = 'u', compressed = 1; break;
  case RC_EV_MARIA_DELETE_ROWS_COMPRESSED_V1: rows->op = 'd', compressed = 1; break;
  case RC_EV_MARIA_WRITE_ROWS_COMPRESSED: rows->op = 'c', v2 = compressed = 1; break;
  case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED: rows->op = 'u', v2 = compressed = 1; break;
  case RC_EV_MARIA_DELETE_ROWS_COMPRESSED: rows->op = 'd', v2 = compressed = 1; break;
  default: return rc_errf(RC_ERR_ARG, errstr, es, "event type %d is not a ROWS event", t);
  }
  rows->partial = t == RC_EV_PARTIAL_UPDATE_ROWS;
  rows->ev = ev;
  rows->file = bl->file;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  int phl = rc_binlog_post_header_len(bl, t);
  rows->table_id = cur_le(&c, phl == 6 ? 4 : 6);
  rows->flags = (uint16_t)cur_le(&c, 2);
  if (v2) {
    uint16_t extra = (uint16_t)cur_le(&c, 2);
    if (extra < 2) EVFAIL(RC_ERR_CORRUPT, "extra-data length %u is smaller than its own 2 bytes", extra);
    cur_take(&c, extra - 2u); /* NDB and partition info: not needed to decode rows */
  } else if (phl > 8) {
    cur_take(&c, (size_t)phl - 8);
  }
  uint64_t width = cur_lenenc(&c);
  if (c.bad) EVFAIL(RC_ERR_CORRUPT, "the event ends inside its header");
  const rc_table *tm = rc_binlog_table(bl, rows->table_id);
  if (!tm)
    EVFAIL(RC_ERR_CORRUPT, "refers to table id %llu, but no TABLE_MAP event for it came before",
           (unsigned long long)rows->table_id);
  if (width != tm->ncols)
    EVFAIL(RC_ERR_CORRUPT, "has %llu columns, but the table map of %s.%s has %u", (unsigned long long)width,
           tm->db, tm->name, tm->ncols);
  rows->table = tm;
  rows->width = (uint32_t)width;
  size_t bm = (width + 7) / 8;
  rows->present = cur_take(&c, bm);
  rows->present_after = rows->op == 'u' ? cur_take(&c, bm) : rows->present;
  if (c.bad) EVFAIL(RC_ERR_CORRUPT, "the event ends inside its column bitmaps");
  if (compressed) {
    /* header byte 0x80 | alg<<4 | n, then an n-byte big-endian uncompressed length, then zlib */
    uint8_t h = cur_u8(&c);
    int n = h & 7, alg = (h >> 4) & 7;
    if (c.bad || !(h & 0x80) || n < 1 || n > 4 || alg != 0)
      EVFAIL(RC_ERR_CORRUPT, "compressed row data has header byte 0x%02x, expected 0x8n with zlib", h);
    const uint8_t *lp = cur_take(&c, (size_t)n);
    if (!lp) EVFAIL(RC_ERR_CORRUPT, "the event ends inside the compressed length");
    size_t ulen = (size_t)rd_be_n(lp, n);
    if (ulen > RC_MAX_ROWS_INFLATE)
      EVFAIL(RC_ERR_UNSUPPORTED, "compressed rows unpack to %zu bytes, over the 1 GiB limit", ulen);
    if (rows->inflated_cap < ulen + 1) {
      uint8_t *p = realloc(rows->inflated, ulen + 1);
      if (!p) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
      rows->inflated = p;
      rows->inflated_cap = ulen + 1;
    }
    uLongf got = (uLongf)ulen;
    int zr = uncompress(rows->inflated, &got, c.p, (uLong)cur_left(&c));
    if (zr != Z_OK || got != ulen)
      EVFAIL(RC_ERR_CORRUPT, "compressed rows do not unpack (zlib: %s; %lu of %zu bytes)", zError(zr),
             (unsigned long)got, ulen);
    rows->p = rows->inflated;
    rows->end = rows->inflated + ulen;
  } else {
    rows->p = c.p;
    rows->end = c.end;
  }
  return 0;
}

#define ROWFAIL(err, ...)                                                                     \
  do {                                                                                        \
    char m_[256];                                                                             \
    snprintf(m_, sizeof m_, __VA_ARGS__);                                                     \
    return rc_errf(err, errstr, es, "%s: %s at offset %llu, column %u (%s, %s): %s", rows->file, \
                   rc_event_type_name(rows->ev->type), (unsigned long long)rows->ev->offset,  \
                   i + 1, col->name ? col->name : "unnamed", rc_column_sql_name(col), m_);   \
  } while (0)

#define NEED(n)                                                                               \
  do {                                                                                        \
    if ((size_t)(end - p) < (size_t)(n))                                                      \
      ROWFAIL(RC_ERR_CORRUPT, "the value needs %zu bytes, the row image has %zu left",         \
              (size_t)(n), (size_t)(end - p));                                                \
  } while (0)

/* Read a fractional-seconds part of `fsp` digits; returns microseconds or -1 if impossible. */
static long read_frac(const uint8_t *p, int fsp) {
  switch (fsp) {
  case 1: case 2: { long v = p[0]; return v < 100 ? v * 10000 : -1; }
  case 3: case 4: { long v = (long)rd_be_n(p, 2); return v < 10000 ? v * 100 : -1; }
  case 5: case 6: { long v = (long)rd_be_n(p, 3); return v < 1000000 ? v : -1; }
  default: return 0;
  }
}

/* Decode one value; *pp advances. */
static int decode_value(rc_rows *rows, uint32_t i, const rc_column *col, const uint8_t **pp,
                        const uint8_t *end, rc_value *v, int partial_json, char *errstr, size_t es) {
  const uint8_t *p = *pp;
  int unsigned_ = col->is_signed == 0;
  switch (col->type) {
  case RC_T_TINY: NEED(1);
    if (unsigned_) v->kind = RC_V_UINT, v->v.u = p[0];
    else v->kind = RC_V_INT, v->v.i = (int8_t)p[0];
    p += 1;
    break;
  case RC_T_SHORT: NEED(2);
    if (unsigned_) v->kind = RC_V_UINT, v->v.u = rd_le16(p);
    else v->kind = RC_V_INT, v->v.i = (int16_t)rd_le16(p);
    p += 2;
    break;
  case RC_T_INT24: NEED(3);
    if (unsigned_) v->kind = RC_V_UINT, v->v.u = rd_le24(p);
    else v->kind = RC_V_INT, v->v.i = ((int32_t)(rd_le24(p) << 8)) >> 8;
    p += 3;
    break;
  case RC_T_LONG: NEED(4);
    if (unsigned_) v->kind = RC_V_UINT, v->v.u = rd_le32(p);
    else v->kind = RC_V_INT, v->v.i = (int32_t)rd_le32(p);
    p += 4;
    break;
  case RC_T_LONGLONG: NEED(8);
    if (unsigned_) v->kind = RC_V_UINT, v->v.u = rd_le64(p);
    else v->kind = RC_V_INT, v->v.i = (int64_t)rd_le64(p);
    p += 8;
    break;
  case RC_T_FLOAT: { NEED(4);
    uint32_t u = rd_le32(p);
    v->kind = RC_V_FLOAT;
    memcpy(&v->v.f, &u, 4);
    p += 4;
    break;
  }
  case RC_T_DOUBLE: { NEED(8);
    uint64_t u = rd_le64(p);
    v->kind = RC_V_DOUBLE;
    memcpy(&v->v.d, &u, 8);
    p += 8;
    break;
  }
  case RC_T_NEWDECIMAL: {
    size_t n = rc_decimal_size(col->precision, col->scale);
    NEED(n);
    v->kind = RC_V_DECIMAL;
    v->v.s.p = p;
    v->v.s.len = (uint32_t)n;
    p += n;
    break;
  }
  case RC_T_YEAR: NEED(1);
    v->kind = RC_V_YEAR;
    v->v.u = p[0] ? 1900u + p[0] : 0;
    p += 1;
    break;
  case RC_T_DATE: { NEED(3);
    uint32_t d = rd_le24(p);
    v->kind = RC_V_DATE;
    memset(&v->v.dt, 0, sizeof v->v.dt);
    v->v.dt.day = d & 31;
    v->v.dt.month = (d >> 5) & 15;
    v->v.dt.year = (uint16_t)(d >> 9);
    p += 3;
    break;
  }
  case RC_T_TIME: { NEED(3); /* old TIME: signed +-HHMMSS */
    int32_t t = ((int32_t)(rd_le24(p) << 8)) >> 8;
    v->kind = RC_V_TIME;
    v->v.tm.neg = t < 0;
    uint32_t a = t < 0 ? (uint32_t)(-t) : (uint32_t)t;
    v->v.tm.hour = a / 10000;
    v->v.tm.minute = (uint8_t)(a / 100 % 100);
    v->v.tm.second = (uint8_t)(a % 100);
    v->v.tm.usec = 0;
    p += 3;
    break;
  }
  case RC_T_DATETIME: { NEED(8); /* old DATETIME: YYYYMMDDhhmmss */
    uint64_t x = rd_le64(p);
    uint64_t d = x / 1000000, t = x % 1000000;
    if (d > 99991231) ROWFAIL(RC_ERR_CORRUPT, "old DATETIME value %llu is out of range", (unsigned long long)x);
    v->kind = RC_V_DATETIME;
    v->v.dt.year = (uint16_t)(d / 10000);
    v->v.dt.month = (uint8_t)(d / 100 % 100);
    v->v.dt.day = (uint8_t)(d % 100);
    v->v.dt.hour = (uint8_t)(t / 10000);
    v->v.dt.minute = (uint8_t)(t / 100 % 100);
    v->v.dt.second = (uint8_t)(t % 100);
    v->v.dt.usec = 0;
    p += 8;
    break;
  }
  case RC_T_TIMESTAMP: NEED(4);
    v->kind = RC_V_TIMESTAMP;
    v->v.ts.sec = rd_le32(p);
    v->v.ts.usec = 0;
    p += 4;
    break;
  case RC_T_TIMESTAMP2: { size_t fl = (size_t)(col->fsp + 1) / 2;
    NEED(4 + fl);
    long us = read_frac(p + 4, col->fsp);
    if (us < 0) ROWFAIL(RC_ERR_CORRUPT, "fractional seconds out of range");
    v->kind = RC_V_TIMESTAMP;
    v->v.ts.sec = (uint32_t)rd_be_n(p, 4);
    v->v.ts.usec = (uint32_t)us;
    p += 4 + fl;
    break;
  }
  case RC_T_DATETIME2: { size_t fl = (size_t)(col->fsp + 1) / 2;
    NEED(5 + fl);
    int64_t x = (int64_t)rd_be_n(p, 5) - 0x8000000000LL;
    long us = read_frac(p + 5, col->fsp);
    if (x < 0 || us < 0) ROWFAIL(RC_ERR_CORRUPT, "DATETIME value out of range");
    uint64_t ymd = (uint64_t)x >> 17, hms = (uint64_t)x & 0x1FFFF, ym = ymd >> 5;
    v->kind = RC_V_DATETIME;
    v->v.dt.year = (uint16_t)(ym / 13);
    v->v.dt.month = (uint8_t)(ym % 13);
    v->v.dt.day = (uint8_t)(ymd & 31);
    v->v.dt.hour = (uint8_t)(hms >> 12);
    v->v.dt.minute = (uint8_t)((hms >> 6) & 63);
    v->v.dt.second = (uint8_t)(hms & 63);
    v->v.dt.usec = (uint32_t)us;
    p += 5 + fl;
    break;
  }
  case RC_T_TIME2: { size_t fl = (size_t)(col->fsp + 1) / 2;
    NEED(3 + fl);
    int64_t packed;
    switch (col->fsp) {
    case 1: case 2: {
      int64_t ip = (int64_t)rd_be_n(p, 3) - 0x800000;
      int64_t f = p[3];
      if (ip < 0 && f) ip++, f -= 0x100;
      packed = ip * (1 << 24) + f * 10000;
      break;
    }
    case 3: case 4: {
      int64_t ip = (int64_t)rd_be_n(p, 3) - 0x800000;
      int64_t f = (int64_t)rd_be_n(p + 3, 2);
      if (ip < 0 && f) ip++, f -= 0x10000;
      packed = ip * (1 << 24) + f * 100;
      break;
    }
    case 5: case 6:
      packed = (int64_t)rd_be_n(p, 6) - 0x800000000000LL;
      break;
    default:
      packed = ((int64_t)rd_be_n(p, 3) - 0x800000) * (1 << 24);
    }
    v->kind = RC_V_TIME;
    v->v.tm.neg = packed < 0;
    uint64_t a = packed < 0 ? (uint64_t)(-packed) : (uint64_t)packed;
    uint64_t hms = a >> 24;
    v->v.tm.usec = (uint32_t)(a & 0xFFFFFF);
    v->v.tm.hour = (uint32_t)((hms >> 12) & 1023);
    v->v.tm.minute = (uint8_t)((hms >> 6) & 63);
    v->v.tm.second = (uint8_t)(hms & 63);
    if (v->v.tm.usec >= 1000000) ROWFAIL(RC_ERR_CORRUPT, "fractional seconds out of range");
    p += 3 + fl;
    break;
  }
  case RC_T_BIT: { size_t n = (col->length + 7) / 8;
    NEED(n);
    v->kind = RC_V_BIT;
    v->v.u = rd_be_n(p, (int)n);
    p += n;
    break;
  }
  case RC_T_ENUM: case RC_T_SET: NEED(col->length);
    v->kind = col->type == RC_T_ENUM ? RC_V_ENUM : RC_V_SET;
    v->v.u = rd_le_n(p, (int)col->length);
    p += col->length;
    break;
  case RC_T_STRING: case RC_T_VARCHAR: case RC_T_VAR_STRING: {
    size_t lb = col->length < 256 ? 1 : 2;
    NEED(lb);
    size_t n = (size_t)rd_le_n(p, (int)lb);
    p += lb;
    NEED(n);
    if (n > col->length && col->length)
      ROWFAIL(RC_ERR_CORRUPT, "value of %zu bytes is longer than the column's %u", n, col->length);
    v->kind = RC_V_STRING;
    v->v.s.p = p;
    v->v.s.len = (uint32_t)n;
    /* BINARY(n): the server strips trailing 0x00; put them back */
    v->v.s.pad_to = col->type == RC_T_STRING && col->cs_kind == RC_CS_BINARY ? col->length : 0;
    p += n;
    break;
  }
  case RC_T_BLOB: case RC_T_TINY_BLOB: case RC_T_MEDIUM_BLOB: case RC_T_LONG_BLOB: case RC_T_GEOMETRY: case RC_T_JSON:
  case RC_T_VECTOR: {
    if (partial_json) { /* PARTIAL_UPDATE_ROWS: u32 length, then a diff list */
      NEED(4);
      size_t n = rd_le32(p);
      p += 4;
      NEED(n);
      v->kind = RC_V_JSON_DIFF;
      v->v.s.p = p;
      v->v.s.len = (uint32_t)n;
      v->v.s.pad_to = 0;
      p += n;
      break;
    }
    size_t lb = col->length;
    NEED(lb);
    size_t n = (size_t)rd_le_n(p, (int)lb);
    p += lb;
    NEED(n);
    v->kind = col->type == RC_T_GEOMETRY ? RC_V_GEOMETRY
              : col->type == RC_T_JSON   ? RC_V_JSON
              : col->type == RC_T_VECTOR ? RC_V_VECTOR
                                 : RC_V_STRING;
    if (v->kind == RC_V_GEOMETRY && n > 0 && n < 4)
      ROWFAIL(RC_ERR_CORRUPT, "a geometry of %zu bytes has no room for its SRID", n);
    v->v.s.p = p;
    v->v.s.len = (uint32_t)n;
    v->v.s.pad_to = 0;
    p += n;
    break;
  }
  default:
    ROWFAIL(RC_ERR_UNSUPPORTED, "column type %u cannot be decoded from a row image", col->type);
  }
  *pp = p;
  return 0;
}

int rc_rows_next_image(rc_rows *rows, rc_value *vals, int after, char *errstr, size_t es) {
  const rc_table *tm = rows->table;
  if (rows->p >= rows->end) {
    if (!after) return 0;
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: %s at offset %llu: the event ends before the after image",
                   rows->file, rc_event_type_name(rows->ev->type), (unsigned long long)rows->ev->offset);
  }
  const uint8_t *present = after ? rows->present_after : rows->present;
  const uint8_t *p = rows->p, *end = rows->end;
  rc_cur c = {p, end, 0};
  const uint8_t *partial_bits = NULL;
  if (rows->partial && after) {
    uint64_t opts = cur_lenenc(&c);
    if (opts & 1) {
      uint32_t njson = 0;
      for (uint32_t i = 0; i < tm->ncols; i++) njson += tm->cols[i].type == RC_T_JSON;
      partial_bits = cur_take(&c, (njson + 7) / 8);
    }
  }
  uint32_t npresent = 0;
  for (uint32_t i = 0; i < tm->ncols; i++) npresent += (present[i / 8] >> (i % 8)) & 1;
  if (npresent == 0) /* it would consume no bytes, and the event would never end */
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: %s at offset %llu: a row image with no columns present",
                   rows->file, rc_event_type_name(rows->ev->type), (unsigned long long)rows->ev->offset);
  const uint8_t *nulls = cur_take(&c, (npresent + 7) / 8);
  if (c.bad)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: %s at offset %llu: the row image ends inside its NULL bitmap",
                   rows->file, rc_event_type_name(rows->ev->type), (unsigned long long)rows->ev->offset);
  p = c.p;
  uint32_t k = 0, jk = 0;
  for (uint32_t i = 0; i < tm->ncols; i++) {
    const rc_column *col = &tm->cols[i];
    int partial_json = 0;
    if (col->type == RC_T_JSON && partial_bits) {
      partial_json = (partial_bits[jk / 8] >> (jk % 8)) & 1;
      jk++;
    }
    if (!((present[i / 8] >> (i % 8)) & 1)) {
      vals[i].kind = RC_V_ABSENT;
      continue;
    }
    if ((nulls[k / 8] >> (k % 8)) & 1) {
      vals[i].kind = RC_V_NULL;
      k++;
      continue;
    }
    k++;
    int r = decode_value(rows, i, col, &p, end, &vals[i], partial_json, errstr, es);
    if (r < 0) return r;
  }
  rows->p = p;
  return 1;
}
