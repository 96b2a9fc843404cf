/*
 * row_encode.c: the inverse of table_map.c and rows.c, for snapshots. The reader reads a
 * table's existing rows from the server (reader/snapshot.c) and writes them as the binlog
 * would: a TABLE_MAP event built from the table's definition and WRITE_ROWS events whose row
 * images hold the values. The serializer then decodes them with the same decoder and encodes
 * them with the same encoders as a change read from the binlog, so an `r` change and the `c`
 * change the binlog gives for the same row state are the same values, type by type.
 *
 * Formats written: the TABLE_MAP body with its column metadata and null bitmap, and optional
 * metadata (signedness, column charsets, names, ENUM/SET labels, simple primary key) added by
 * rc_table_map_enrich; WRITE_ROWS_V1 (the table id in 6 bytes, the post-header length every
 * MySQL 5.6+ and MariaDB FORMAT_DESCRIPTION gives it) with every column present. Events carry
 * no checksum (forward them flagged RC_REC_EV_NOCRC). Only new-format temporal columns
 * (DATETIME2, TIMESTAMP2, TIME2) and the types rows.c decodes are written.
 */
#include <stdio.h>
#include <string.h>

#include "binlog_int.h"
#include "buf.h"
#include "decimal.h"

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

static void put_le(rc_buf *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) rc_buf_putc(b, (char)(v >> (8 * i)));
}
static void put_be(rc_buf *b, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) rc_buf_putc(b, (char)(v >> (8 * i)));
}
static void put_lenenc(rc_buf *b, uint64_t v) {
  if (v < 251) {
    rc_buf_putc(b, (char)v);
  } else if (v < 65536) {
    rc_buf_putc(b, (char)0xFC);
    put_le(b, v, 2);
  } else if (v < (1u << 24)) {
    rc_buf_putc(b, (char)0xFD);
    put_le(b, v, 3);
  } else {
    rc_buf_putc(b, (char)0xFE);
    put_le(b, v, 8);
  }
}

int rc_decimal_from_text(const char *s, size_t n, int precision, int scale, uint8_t *out) {
  size_t size = rc_decimal_size(precision, scale);
  if (!size) return RC_ERR_ARG;
  int intg = precision - scale, neg = 0;
  size_t i = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  const char *ip = s + i;
  size_t il = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, il++;
  const char *fp = NULL;
  size_t fl = 0;
  if (i < n && s[i] == '.') {
    fp = s + ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, fl++;
  }
  if (i != n || (il == 0 && fl == 0)) return RC_ERR_ARG;
  while (il > 0 && *ip == '0') ip++, il--; /* leading zeros */
  if (il > (size_t)intg || fl > (size_t)scale) return RC_ERR_ARG;
  /* the digits, right-aligned in intg and left-aligned in scale */
  char dig[130];
  memset(dig, '0', (size_t)precision);
  memcpy(dig + (intg - (int)il), ip, il);
  if (fl) memcpy(dig + intg, fp, fl);
  int nd[12], ng = 0;
  if (intg % 9) nd[ng++] = intg % 9;
  for (int g = 0; g < intg / 9 + scale / 9; g++) nd[ng++] = 9;
  if (scale % 9) nd[ng++] = scale % 9;
  /* the fraction's partial group is its last: it takes the digits after the whole groups */
  uint8_t *o = out;
  const char *d = dig;
  int zero = 1;
  for (int g = 0; g < ng; g++) {
    uint32_t v = 0;
    for (int k = 0; k < nd[g]; k++) v = v * 10 + (uint32_t)(d[k] - '0');
    d += nd[g];
    zero &= v == 0;
    int nb = dig2bytes[nd[g]];
    for (int k = nb - 1; k >= 0; k--) *o++ = (uint8_t)(v >> (8 * k)); /* big-endian */
  }
  if (zero) neg = 0; /* the server stores -0 as 0 */
  if (neg)
    for (size_t k = 0; k < size; k++) out[k] ^= 0xFF;
  out[0] ^= 0x80;
  return 0;
}

/* The column metadata bytes a TABLE_MAP gives a column (the inverse of parse_column_meta). */
static int put_column_meta(rc_buf *m, const rc_column *c) {
  switch (c->type) {
  case RC_T_FLOAT: rc_buf_putc(m, 4); break;
  case RC_T_DOUBLE: rc_buf_putc(m, 8); break;
  case RC_T_BLOB: case RC_T_TINY_BLOB: case RC_T_MEDIUM_BLOB: case RC_T_LONG_BLOB: case RC_T_GEOMETRY:
  case RC_T_JSON:
    rc_buf_putc(m, (char)c->length);
    break;
  case RC_T_VARCHAR: case RC_T_VAR_STRING: put_le(m, c->length, 2); break;
  case RC_T_BIT:
    rc_buf_putc(m, (char)(c->length % 8));
    rc_buf_putc(m, (char)(c->length / 8));
    break;
  case RC_T_NEWDECIMAL:
    rc_buf_putc(m, (char)c->precision);
    rc_buf_putc(m, (char)c->scale);
    break;
  case RC_T_TIMESTAMP2: case RC_T_DATETIME2: case RC_T_TIME2: rc_buf_putc(m, (char)c->fsp); break;
  case RC_T_STRING:
    if (c->length > 1023) return RC_ERR_UNSUPPORTED;
    rc_buf_putc(m, (char)(RC_T_STRING ^ ((c->length & 0x300) >> 4)));
    rc_buf_putc(m, (char)(c->length & 0xFF));
    break;
  case RC_T_ENUM: case RC_T_SET:
    rc_buf_putc(m, (char)c->type);
    rc_buf_putc(m, (char)c->length);
    break;
  case RC_T_TINY: case RC_T_SHORT: case RC_T_INT24: case RC_T_LONG: case RC_T_LONGLONG: case RC_T_YEAR:
  case RC_T_DATE:
    break;
  default:
    return RC_ERR_UNSUPPORTED;
  }
  return 0;
}

static void put_header(rc_buf *b, uint32_t ts, uint8_t type) {
  put_le(b, ts, 4);
  rc_buf_putc(b, (char)type);
  put_le(b, 1, 4); /* server id: patched by nobody, read by nobody */
  put_le(b, 0, 4); /* size: patched when the event is complete */
  put_le(b, 0, 4); /* log_pos: nowhere in a file */
  put_le(b, 0, 2);
}

static void patch_size(rc_buf *b, size_t start) {
  uint32_t size = (uint32_t)(b->len - start);
  for (int i = 0; i < 4; i++) b->p[start + 9 + (size_t)i] = (char)(size >> (8 * i));
}

int rc_table_map_build(const rc_table *t, uint64_t table_id, uint32_t ts, int is_mariadb, rc_buf *out, char *errstr,
                       size_t es) {
  rc_buf base = {0}, meta = {0};
  put_header(&base, ts, RC_EV_TABLE_MAP);
  put_le(&base, table_id, 6);
  put_le(&base, 1, 2); /* flags: STMT_END_F-style 1, as servers write */
  size_t dl = strlen(t->db), tl = strlen(t->name);
  if (dl > 255 || tl > 255) {
    rc_buf_free(&base);
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "%s.%s: a name longer than 255 bytes", t->db, t->name);
  }
  rc_buf_putc(&base, (char)dl);
  rc_buf_put(&base, t->db, dl);
  rc_buf_putc(&base, 0);
  rc_buf_putc(&base, (char)tl);
  rc_buf_put(&base, t->name, tl);
  rc_buf_putc(&base, 0);
  put_lenenc(&base, t->ncols);
  int rc = 0;
  for (uint32_t i = 0; i < t->ncols && rc == 0; i++) {
    const rc_column *c = &t->cols[i];
    uint8_t wire = rc_type_has_labels(c->type) ? RC_T_STRING : c->type;
    rc_buf_putc(&base, (char)wire);
    if ((rc = put_column_meta(&meta, c)) < 0)
      rc = rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "%s.%s column %s: type %s cannot be written as a table map",
                   t->db, t->name, c->name ? c->name : "?", rc_column_sql_name(c));
  }
  if (rc == 0) {
    put_lenenc(&base, meta.len);
    rc_buf_put(&base, meta.p, meta.len);
    size_t at = base.len;
    for (uint32_t i = 0; i < (t->ncols + 7) / 8; i++) rc_buf_putc(&base, 0);
    for (uint32_t i = 0; i < t->ncols; i++)
      if (t->cols[i].nullable) base.p[at + i / 8] |= (char)(1 << (i % 8));
    patch_size(&base, 0);
    rc_table *orig = NULL;
    rc_event ev = {.raw = (const uint8_t *)base.p, .raw_len = base.len,
                   .body = (const uint8_t *)base.p + RC_EVENT_HEADER_LEN, .body_len = base.len - RC_EVENT_HEADER_LEN,
                   .type = RC_EV_TABLE_MAP};
    rc = rc_table_map_parse(ev.body, ev.body_len, 8, is_mariadb, &orig, errstr, es);
    if (rc == 0) rc = rc_table_map_enrich(&ev, orig, t, is_mariadb, out);
    rc_table_free(orig);
  }
  rc_buf_free(&base);
  rc_buf_free(&meta);
  return rc;
}

void rc_rows_build_begin(rc_buf *out, uint64_t table_id, uint32_t ncols, uint32_t ts) {
  out->len = 0;
  put_header(out, ts, RC_EV_WRITE_ROWS_V1);
  put_le(out, table_id, 6);
  put_le(out, 1, 2);
  put_lenenc(out, ncols);
  for (uint32_t i = 0; i < (ncols + 7) / 8; i++)
    rc_buf_putc(out, (char)(i + 1 < (ncols + 7) / 8 || ncols % 8 == 0 ? 0xFF : (1 << (ncols % 8)) - 1));
}

void rc_rows_build_finish(rc_buf *out) { patch_size(out, 0); }

/* Fractional seconds of `fsp` digits, big-endian (TIMESTAMP2, DATETIME2). */
static void put_frac(rc_buf *b, uint32_t usec, int fsp) {
  switch (fsp) {
  case 1: case 2: rc_buf_putc(b, (char)(usec / 10000)); break;
  case 3: case 4: put_be(b, usec / 100, 2); break;
  case 5: case 6: put_be(b, usec, 3); break;
  default: break;
  }
}

/* TIME2: the packed value (hms << 24 | usec, negated when negative), stored per fsp as the
 * server does (my_time_packed_to_binary): the integer part with an offset, then the fraction
 * as a signed byte or 16-bit value, or the whole in 6 bytes. */
static void put_time2(rc_buf *b, const rc_value *v, int fsp) {
  int64_t hms = (int64_t)v->v.tm.hour << 12 | (int64_t)v->v.tm.minute << 6 | v->v.tm.second;
  int64_t packed = hms * (1 << 24) + v->v.tm.usec;
  if (v->v.tm.neg) packed = -packed;
  int64_t ip = packed >= 0 ? packed / (1 << 24) : -((-packed + (1 << 24) - 1) / (1 << 24)); /* floor */
  int64_t frac = packed % (1 << 24); /* truncated toward zero, as C's % */
  switch (fsp) {
  case 1: case 2:
    put_be(b, (uint64_t)(ip + 0x800000), 3);
    rc_buf_putc(b, (char)(int8_t)(frac / 10000));
    break;
  case 3: case 4:
    put_be(b, (uint64_t)(ip + 0x800000), 3);
    put_be(b, (uint64_t)(uint16_t)(int16_t)(frac / 100), 2);
    break;
  case 5: case 6: put_be(b, (uint64_t)(packed + 0x800000000000LL), 6); break;
  default: put_be(b, (uint64_t)(ip + 0x800000), 3); break;
  }
}

static int put_value(rc_buf *b, const rc_column *c, const rc_value *v) {
  switch (c->type) {
  case RC_T_TINY: put_le(b, v->v.u, 1); break;
  case RC_T_SHORT: put_le(b, v->v.u, 2); break;
  case RC_T_INT24: put_le(b, v->v.u, 3); break;
  case RC_T_LONG: put_le(b, v->v.u, 4); break;
  case RC_T_LONGLONG: put_le(b, v->v.u, 8); break;
  case RC_T_FLOAT: {
    uint32_t u;
    memcpy(&u, &v->v.f, 4);
    put_le(b, u, 4);
    break;
  }
  case RC_T_DOUBLE: {
    uint64_t u;
    memcpy(&u, &v->v.d, 8);
    put_le(b, u, 8);
    break;
  }
  case RC_T_NEWDECIMAL:
    if (v->v.s.len != rc_decimal_size(c->precision, c->scale)) return RC_ERR_ARG;
    rc_buf_put(b, v->v.s.p, v->v.s.len);
    break;
  case RC_T_YEAR: rc_buf_putc(b, (char)(v->v.u ? v->v.u - 1900 : 0)); break;
  case RC_T_DATE: put_le(b, (uint32_t)v->v.dt.day | (uint32_t)v->v.dt.month << 5 | (uint32_t)v->v.dt.year << 9, 3); break;
  case RC_T_TIMESTAMP2:
    put_be(b, v->v.ts.sec, 4);
    put_frac(b, v->v.ts.usec, c->fsp);
    break;
  case RC_T_DATETIME2: {
    uint64_t ym = (uint64_t)v->v.dt.year * 13 + v->v.dt.month;
    uint64_t ymd = ym << 5 | v->v.dt.day;
    uint64_t hms = (uint64_t)v->v.dt.hour << 12 | (uint64_t)v->v.dt.minute << 6 | v->v.dt.second;
    put_be(b, (ymd << 17 | hms) + 0x8000000000ULL, 5);
    put_frac(b, v->v.dt.usec, c->fsp);
    break;
  }
  case RC_T_TIME2: put_time2(b, v, c->fsp); break;
  case RC_T_BIT: put_be(b, v->v.u, (int)((c->length + 7) / 8)); break;
  case RC_T_ENUM: case RC_T_SET: put_le(b, v->v.u, (int)c->length); break;
  case RC_T_STRING: case RC_T_VARCHAR: case RC_T_VAR_STRING: {
    uint32_t n = v->v.s.len;
    if (c->type == RC_T_STRING && c->cs_kind == RC_CS_BINARY)
      while (n && v->v.s.p[n - 1] == 0) n--; /* BINARY(n): the server strips the padding */
    if (c->length && n > c->length) return RC_ERR_ARG;
    put_le(b, n, c->length < 256 ? 1 : 2);
    rc_buf_put(b, v->v.s.p, n);
    break;
  }
  case RC_T_BLOB: case RC_T_TINY_BLOB: case RC_T_MEDIUM_BLOB: case RC_T_LONG_BLOB: case RC_T_GEOMETRY:
  case RC_T_JSON:
    if (c->length < 4 && v->v.s.len >> (8 * c->length)) return RC_ERR_ARG;
    put_le(b, v->v.s.len, (int)c->length);
    rc_buf_put(b, v->v.s.p, v->v.s.len);
    break;
  default:
    return RC_ERR_UNSUPPORTED;
  }
  return 0;
}

int rc_row_image_put(rc_buf *out, const rc_table *t, const rc_value *vals, char *errstr, size_t es) {
  size_t at = out->len;
  for (uint32_t i = 0; i < (t->ncols + 7) / 8; i++) rc_buf_putc(out, 0);
  for (uint32_t i = 0; i < t->ncols; i++) {
    const rc_column *c = &t->cols[i];
    if (vals[i].kind == RC_V_NULL) {
      out->p[at + i / 8] |= (char)(1 << (i % 8));
      continue;
    }
    int rc = put_value(out, c, &vals[i]);
    if (rc < 0) {
      out->len = at;
      return rc_errf(rc, errstr, es, "%s.%s column %s (%s): the value does not fit the column's binlog form",
                     t->db, t->name, c->name ? c->name : "?", rc_column_sql_name(c));
    }
  }
  return 0;
}
