/*
 * avro_encode.c: the datum encoder of rowcast's Avro codec: rc_avro_encode_value/key and
 * rc_avro_value_is_lossy (docs/avro.md).
 *
 * Avro binary written straight from the decoded row into the caller's buffer (the serializer's
 * frame), by a plan built once per table version (rc_avro_plan_new, from rc_avro_table_new):
 * the field order of the envelope and the row records, each column's Avro form (acol.fk: its
 * union branch, logical-type conversion, fixed width), the key's columns, the ENUM/SET labels
 * already in UTF-8, and the source's db and table strings already encoded. Each value is
 * checked against its Avro form, converted and written in one step: zigzag varints, IEEE
 * floats little-endian, big-endian two's complement decimals written in place, strings and
 * bytes copied once from the row image, JSON documents and converted text formatted straight
 * into the datum behind a length prefix fixed up afterwards. Nothing is allocated per value or
 * per change once the caller's buffer has grown.
 *
 * avro-c stays the authority for the schemas (avro_schema.c parses every one it makes); the
 * bytes are the ones its writer produces for the same schema, which tests/unit/test_avro_row.c
 * checks value by value against avro_view.c (the same datum through avro_value_write) and by
 * reading every datum back with avro-c's reader.
 *
 * Hot path: the serializer calls it for every change.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "calendar.h"
#include "charset.h"
#include "decimal.h"
#include "json_binary.h"
#include "rc_err.h"
#include "row_json.h"

/* ---- dates ------------------------------------------------------------------------------- */

static int is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static unsigned days_in_month(unsigned y, unsigned m) {
  static const uint8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int date_ok(unsigned y, unsigned m, unsigned d) {
  return y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int rc_avro_value_is_lossy(const rc_column *col, const rc_value *v) {
  (void)col;
  switch (v->kind) {
  case RC_V_DATE: return !date_ok(v->v.dt.year, v->v.dt.month, v->v.dt.day);
  case RC_V_DATETIME:
    return !date_ok(v->v.dt.year, v->v.dt.month, v->v.dt.day) || v->v.dt.hour > 23 ||
           v->v.dt.minute > 59 || v->v.dt.second > 59 || v->v.dt.usec > 999999;
  case RC_V_TIMESTAMP: return v->v.ts.sec == 0 || v->v.ts.usec > 999999;
  case RC_V_TIME: return v->v.tm.minute > 59 || v->v.tm.second > 59 || v->v.tm.usec > 999999;
  default: return 0;
  }
}

/* ---- big integers for decimals ----------------------------------------------------------- */

/* Minimal big-endian two's complement of a 32-byte value into out; returns its length. */
static size_t twos_minimal(const uint8_t mag[BIG], uint8_t *out) {
  size_t s = 0;
  while (s < BIG - 1 && ((mag[s] == 0 && !(mag[s + 1] & 0x80)) || (mag[s] == 0xFF && (mag[s + 1] & 0x80)))) s++;
  memcpy(out, mag + s, BIG - s);
  return BIG - s;
}

/* An unscaled decimal (32-bit limbs, least significant first, and a sign) as minimal
 * big-endian two's complement. */
size_t rc_avro_unscaled_twos(const uint32_t limb[BIG / 4], int neg, uint8_t *out) {
  uint8_t mag[BIG];
  for (int k = 0; k < BIG / 4; k++) {
    uint32_t l = limb[BIG / 4 - 1 - k];
    mag[4 * k] = (uint8_t)(l >> 24), mag[4 * k + 1] = (uint8_t)(l >> 16);
    mag[4 * k + 2] = (uint8_t)(l >> 8), mag[4 * k + 3] = (uint8_t)l;
  }
  if (neg) rc_avro_big_negate(mag);
  return twos_minimal(mag, out);
}

size_t rc_avro_i64_twos(int64_t x, uint8_t *out) {
  uint64_t m = x < 0 ? ~(uint64_t)x : (uint64_t)x; /* the bits below the sign */
  size_t n = m ? (size_t)(64 - __builtin_clzll(m)) / 8 + 1 : 1;
  for (size_t k = 0; k < n; k++) out[k] = (uint8_t)((uint64_t)x >> (8 * (n - 1 - k)));
  return n;
}

size_t rc_avro_u64_twos(uint64_t u, uint8_t *out) {
  if (u <= INT64_MAX) return rc_avro_i64_twos((int64_t)u, out);
  out[0] = 0; /* the top bit set: a zero byte keeps it positive */
  for (int k = 0; k < 8; k++) out[1 + k] = (uint8_t)(u >> (8 * (7 - k)));
  return 9;
}


/* ---- the writer's primitives ---------------------------------------------------------------- */

/* The most a column value takes in the datum apart from its variable part: a union branch, a
 * length or count prefix (10 bytes), a decimal's 32 bytes. */
#define ROOM 48

/* A zigzag varint (Avro int and long) at p; returns the end. */
static inline uint8_t *put_long(uint8_t *p, int64_t l) {
  uint64_t z = ((uint64_t)l << 1) ^ (uint64_t)(l >> 63);
  while (z > 0x7F) {
    *p++ = (uint8_t)(z | 0x80);
    z >>= 7;
  }
  *p++ = (uint8_t)z;
  return p;
}

static inline size_t long_len(int64_t l) {
  uint64_t z = ((uint64_t)l << 1) ^ (uint64_t)(l >> 63);
  size_t k = 1;
  while (z > 0x7F) z >>= 7, k++;
  return k;
}

static inline uint8_t *room(rc_buf *out, size_t n) { return (uint8_t *)rc_buf_reserve(out, n); }
static inline void done(rc_buf *out, const uint8_t *p) { out->len = (size_t)((const char *)p - out->p); }

/* An Avro string or bytes: length, then the bytes. */
static inline void put_str(rc_buf *out, const void *s, size_t n) {
  uint8_t *p = put_long(room(out, n + 10), (int64_t)n);
  if (n) memcpy(p, s, n);
  done(out, p + n);
}

/* The start of text that a formatter appends straight into the datum: room for a length prefix
 * of `guess` bytes. fix_len writes the prefix once the text is there, moving the text only when
 * the guess was wrong (it is taken from the input's size: rarely). */
static inline size_t text_begin(rc_buf *out, size_t guess) {
  size_t at = out->len;
  room(out, guess);
  out->len += guess;
  return at;
}

static void fix_len(rc_buf *out, size_t at, size_t guess) {
  size_t n = out->len - at - guess;
  uint8_t pre[10];
  size_t k = (size_t)(put_long(pre, (int64_t)n) - pre);
  if (k != guess) {
    room(out, k > guess ? k - guess : 0);
    memmove(out->p + at + k, out->p + at + guess, n);
    out->len = out->len - guess + k;
  }
  memcpy(out->p + at, pre, k);
}

void rc_avro_col_err(rc_avro_table *at, uint32_t i, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(at->err, sizeof at->err, "%s.%s column %s: %s", at->t->db, at->t->name, at->cols[i].orig, what);
}

#define col_fail(at, i, ...) (rc_avro_col_err((at), (i), __VA_ARGS__), -1)

/* ---- column values ---------------------------------------------------------------------------- */

/* An ENUM or SET value's text from the labels converted once (ac->label_at), or from the JSON
 * mapping when there are none or the value is beyond them. */
static int put_label(rc_avro_table *at, rc_buf *out, uint32_t i, const rc_value *v) {
  const acol *ac = &at->cols[i];
  const rc_column *c = &at->t->cols[i];
  const uint64_t u = v->v.u;
  const char *lp = ac->labels.p;
  if (ac->label_at && v->kind == RC_V_ENUM && u <= c->n_labels) {
    *room(out, 1) = 2, out->len++;
    if (u) put_str(out, lp + ac->label_at[u - 1], ac->label_at[u] - ac->label_at[u - 1]);
    else put_str(out, "", 0);
    return 0;
  }
  if (ac->label_at && v->kind == RC_V_SET && (c->n_labels >= 64 || !(u >> c->n_labels))) {
    uint32_t nl = c->n_labels < 64 ? c->n_labels : 64;
    size_t n = 0;
    for (uint32_t k = 0; k < nl; k++)
      if ((u >> k) & 1) n += (n ? 1 : 0) + (ac->label_at[k + 1] - ac->label_at[k]);
    uint8_t *p = room(out, n + 11);
    *p++ = 2;
    p = put_long(p, (int64_t)n);
    uint8_t *q = p;
    for (uint32_t k = 0; k < nl; k++) {
      if (!((u >> k) & 1)) continue;
      if (q != p) *q++ = ',';
      memcpy(q, lp + ac->label_at[k], ac->label_at[k + 1] - ac->label_at[k]);
      q += ac->label_at[k + 1] - ac->label_at[k];
    }
    done(out, q);
    return 0;
  }
  at->tmp.len = 0; /* rare: no labels (or a value beyond them), as the JSON mapping says */
  char inner[300];
  if (rc_json_value(&at->tmp, c, v, inner, sizeof inner) < 0) {
    snprintf(at->err, sizeof at->err, "%s", inner);
    return -1;
  }
  *room(out, 1) = 2, out->len++;
  size_t s = text_begin(out, long_len((int64_t)at->tmp.len));
  if (at->tmp.p[0] == '"') rc_avro_json_literal_to_utf8(out, at->tmp.p, at->tmp.len);
  else rc_buf_put(out, at->tmp.p, at->tmp.len);
  fix_len(out, s, long_len((int64_t)at->tmp.len));
  return 0;
}

/* Text of a charset other than valid UTF-8, converted straight into the datum. */
static int put_converted(rc_avro_table *at, rc_buf *out, uint32_t i, const rc_value *v) {
  const rc_column *c = &at->t->cols[i];
  size_t start = out->len, guess = long_len((int64_t)v->v.s.len);
  *room(out, 1) = 2, out->len++;
  size_t s = text_begin(out, guess);
  if (rc_charset_utf8(out, c->cs_kind, c->iconv_cd, v->v.s.p, v->v.s.len) == 0) {
    fix_len(out, s, guess);
    return 0;
  }
  out->len = start;
  if (at->cols[i].fk == FK_TEXT) return col_fail(at, i, "text not valid in its character set");
  *room(out, 1) = 4, out->len++; /* the bytes branch */
  put_str(out, v->v.s.p, v->v.s.len);
  return 0;
}

/* A MySQL binary JSON document (or a partial update's diff) as JSON text, formatted straight
 * into the datum. */
static int put_json(rc_avro_table *at, rc_buf *out, uint32_t i, const rc_value *v) {
  size_t start = out->len, guess = long_len((int64_t)v->v.s.len + v->v.s.len / 2);
  *room(out, 1) = 2, out->len++;
  size_t s = text_begin(out, guess);
  char inner[256];
  int r = v->kind == RC_V_JSON ? rc_json_binary_format(out, v->v.s.p, v->v.s.len, inner, sizeof inner)
                               : rc_json_diff_format(out, v->v.s.p, v->v.s.len, inner, sizeof inner);
  if (r < 0) {
    out->len = start;
    return col_fail(at, i, "bad %s: %s", v->kind == RC_V_JSON ? "binary JSON" : "partial JSON update", inner);
  }
  fix_len(out, s, guess);
  return 0;
}

static uint8_t *put_float_le(uint8_t *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  for (int k = 0; k < 4; k++) *p++ = (uint8_t)(u >> (8 * k));
  return p;
}

static uint8_t *put_double_le(uint8_t *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  for (int k = 0; k < 8; k++) *p++ = (uint8_t)(u >> (8 * k));
  return p;
}

/* Column i's value v, with its union branch (0 null, 1 its type, 2 bytes for text that is not
 * valid in its charset). On error out may hold part of the value (the caller truncates it) and
 * at->err says why. */
static int put_col(rc_avro_table *at, rc_buf *out, uint32_t i, const rc_value *v) {
  const acol *ac = &at->cols[i];
  const rc_column *c = &at->t->cols[i];
  const int kind = v->kind;
  uint8_t *p = room(out, ROOM);
  if (kind == RC_V_NULL || kind == RC_V_ABSENT) goto null;
  switch (ac->fk) {
  case FK_INT:
    if (kind == RC_V_INT) RC_AVRO_WANT(v->v.i >= INT32_MIN && v->v.i <= INT32_MAX);
    else RC_AVRO_WANT((kind == RC_V_UINT || kind == RC_V_YEAR) && v->v.u <= INT32_MAX);
    *p++ = 2;
    done(out, put_long(p, kind == RC_V_INT ? v->v.i : (int64_t)v->v.u));
    return 0;
  case FK_LONG:
    if (kind != RC_V_INT) RC_AVRO_WANT(kind == RC_V_UINT && v->v.u <= INT64_MAX);
    *p++ = 2;
    done(out, put_long(p, kind == RC_V_INT ? v->v.i : (int64_t)v->v.u));
    return 0;
  case FK_U64: { /* at most 9 bytes: a one-byte length */
    RC_AVRO_WANT(kind == RC_V_UINT);
    size_t n = rc_avro_u64_twos(v->v.u, p + 2);
    p[0] = 2, p[1] = (uint8_t)(2 * n);
    done(out, p + 2 + n);
    return 0;
  }
  case FK_FLOAT:
    RC_AVRO_WANT(kind == RC_V_FLOAT);
    *p++ = 2;
    done(out, put_float_le(p, v->v.f));
    return 0;
  case FK_DOUBLE:
    RC_AVRO_WANT(kind == RC_V_DOUBLE);
    *p++ = 2;
    done(out, put_double_le(p, v->v.d));
    return 0;
  case FK_DECIMAL: { /* at most 32 bytes: a one-byte length */
    RC_AVRO_WANT(kind == RC_V_DECIMAL && v->v.s.len == rc_decimal_size(c->precision, c->scale));
    size_t n;
    if (c->precision <= 18) { /* the unscaled value fits an int64 (most money columns) */
      int64_t u;
      if (rc_decimal_unscaled64(v->v.s.p, c->precision, c->scale, &u) < 0)
        return col_fail(at, i, "DECIMAL digit group out of range");
      n = rc_avro_i64_twos(u, p + 2);
    } else {
      uint32_t limb[BIG / 4];
      int neg;
      if (rc_decimal_unscaled(v->v.s.p, c->precision, c->scale, limb, &neg) < 0)
        return col_fail(at, i, "DECIMAL digit group out of range");
      n = rc_avro_unscaled_twos(limb, neg, p + 2);
    }
    p[0] = 2, p[1] = (uint8_t)(2 * n);
    done(out, p + 2 + n);
    return 0;
  }
  case FK_DATE:
    RC_AVRO_WANT(kind == RC_V_DATE);
    if (!date_ok(v->v.dt.year, v->v.dt.month, v->v.dt.day)) goto null;
    *p++ = 2;
    done(out, put_long(p, rc_days_from_civil(v->v.dt.year, v->v.dt.month, v->v.dt.day)));
    return 0;
  case FK_DATETIME:
    RC_AVRO_WANT(kind == RC_V_DATETIME);
    if (rc_avro_value_is_lossy(c, v)) goto null;
    *p++ = 2;
    done(out, put_long(p, rc_avro_datetime_us(v)));
    return 0;
  case FK_TIMESTAMP:
    RC_AVRO_WANT(kind == RC_V_TIMESTAMP);
    if (v->v.ts.sec == 0 || v->v.ts.usec > 999999) goto null;
    *p++ = 2;
    done(out, put_long(p, (int64_t)v->v.ts.sec * 1000000 + v->v.ts.usec));
    return 0;
  case FK_TIME: {
    RC_AVRO_WANT(kind == RC_V_TIME);
    if (rc_avro_value_is_lossy(c, v)) goto null;
    *p++ = 2;
    done(out, put_long(p, rc_avro_time_us(v)));
    return 0;
  }
  case FK_BOOL:
    RC_AVRO_WANT(kind == RC_V_BIT && v->v.u <= 1);
    p[0] = 2, p[1] = (uint8_t)v->v.u;
    done(out, p + 2);
    return 0;
  case FK_BITS: {
    RC_AVRO_WANT(kind == RC_V_BIT);
    size_t n = rc_avro_bit_bytes(c);
    RC_AVRO_WANT(n == 8 || v->v.u >> (8 * n) == 0);
    p[0] = 2, p[1] = (uint8_t)(2 * n);
    for (size_t k = 0; k < n; k++) p[2 + k] = (uint8_t)(v->v.u >> (8 * (n - 1 - k)));
    done(out, p + 2 + n);
    return 0;
  }
  case FK_LABEL:
    RC_AVRO_WANT(kind == RC_V_ENUM || kind == RC_V_SET);
    return put_label(at, out, i, v);
  case FK_TEXT:
  case FK_TEXT_OR_BYTES:
    RC_AVRO_WANT(kind == RC_V_STRING);
    if (c->cs_kind == RC_CS_UTF8 && rc_utf8_valid((const char *)v->v.s.p, v->v.s.len)) {
      *p = 2, out->len++; /* as it is in the row image */
      put_str(out, v->v.s.p, v->v.s.len);
      return 0;
    }
    return put_converted(at, out, i, v);
  case FK_BYTES: {
    RC_AVRO_WANT(kind == RC_V_STRING);
    size_t n = v->v.s.len, pad = v->v.s.pad_to > n ? v->v.s.pad_to - n : 0; /* BINARY(n): re-padded */
    p = room(out, 11 + n + pad);
    *p++ = 2;
    p = put_long(p, (int64_t)(n + pad));
    if (n) memcpy(p, v->v.s.p, n);
    memset(p + n, 0, pad);
    done(out, p + n + pad);
    return 0;
  }
  case FK_JSON:
    RC_AVRO_WANT(kind == RC_V_JSON || kind == RC_V_JSON_DIFF);
    return put_json(at, out, i, v);
  case FK_GEOMETRY: {
    RC_AVRO_WANT(kind == RC_V_GEOMETRY);
    const uint8_t *g = v->v.s.p;
    uint32_t n = v->v.s.len, srid = rc_avro_geom_srid(&g, &n);
    *p++ = 2;
    done(out, put_long(p, srid));
    put_str(out, g, n);
    return 0;
  }
  case FK_VECTOR: { /* little-endian IEEE 754 singles in the row image, as Avro writes floats */
    RC_AVRO_WANT(kind == RC_V_VECTOR);
    if (v->v.s.len % 4) return col_fail(at, i, "VECTOR byte length not a multiple of 4");
    size_t n = v->v.s.len;
    p = room(out, n + 12);
    *p++ = 2;
    if (n) {
      p = put_long(p, (int64_t)(n / 4));
      memcpy(p, v->v.s.p, n);
      p += n;
    }
    *p++ = 0;
    done(out, p);
    return 0;
  }
  default: break;
  }
mismatch:
  if (rc_avro_value_is_lossy(c, v)) goto null; /* lossy values are null whatever the column */
  return col_fail(at, i, "a value of kind %d does not fit its Avro type (%s)", kind, rc_column_sql_name(c));
null:
  *p = 0;
  out->len++;
  return 0;
}

/* ---- records ---------------------------------------------------------------------------------- */

/* A row record: every column in order, then the names of the columns absent from the image. */
static int put_row(rc_avro_table *at, rc_buf *out, const rc_value *img) {
  const uint32_t ncols = at->t->ncols;
  uint32_t nabsent = 0;
  for (uint32_t i = 0; i < ncols; i++) {
    if (put_col(at, out, i, &img[i]) < 0) return -1;
    nabsent += img[i].kind == RC_V_ABSENT;
  }
  uint8_t *p = room(out, 11);
  if (nabsent) {
    done(out, put_long(p, nabsent));
    for (uint32_t i = 0; i < ncols; i++)
      if (img[i].kind == RC_V_ABSENT) put_str(out, at->cols[i].orig, at->cols[i].orig_len);
    p = room(out, 1);
  }
  *p = 0;
  out->len++;
  return 0;
}

int rc_avro_plan_new(rc_avro_table *at) {
  const rc_table *t = at->t;
  if (!(at->absent[0] = calloc(t->ncols + 1, sizeof(uint32_t))) ||
      !(at->absent[1] = calloc(t->ncols + 1, sizeof(uint32_t))) || !(at->pk = calloc(t->ncols + 1, sizeof(uint32_t))))
    return RC_ERR_NOMEM;
  for (uint32_t i = 0; i < t->ncols; i++)
    if (t->cols[i].pk) at->pk[at->npk++] = i;
  at->dbtab.len = 0;
  put_str(&at->dbtab, at->db, at->db_len);
  put_str(&at->dbtab, at->table, at->table_len);
  return 0;
}

int rc_avro_encode_value(rc_avro_table *at, rc_buf *out, char op, const rc_value *before, const rc_value *after,
                         const rc_avro_source *src, uint64_t ts_ms, char *errstr, size_t es) {
  static const char ops[] = "cudr";
  const char *o = op ? strchr(ops, op) : NULL;
  if (!o) return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s: op '%c' is not one of c, u, d, r", at->t->db, at->t->name, op);
  const size_t start = out->len;
  const rc_value *img[2] = {before, after};
  for (int s = 0; s < 2; s++) { /* before, after: each a union of null and the row record */
    *room(out, 1) = img[s] ? 2 : 0;
    out->len++;
    if (img[s] && put_row(at, out, img[s]) < 0) {
      out->len = start;
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s", at->err);
    }
  }
  const char *file = src->file ? src->file : "";
  const size_t flen = strlen(file);
  const int has_gtid = src->gtid && src->gtid[0];
  const size_t glen = has_gtid ? strlen(src->gtid) : 0;
  uint8_t *p = room(out, 80 + flen + glen + at->dbtab.len);
  p = put_long(p, o - ops); /* op */
  p = put_long(p, src->server_id); /* source */
  p = put_long(p, (int64_t)flen);
  memcpy(p, file, flen);
  p = put_long(p + flen, (int64_t)src->offset);
  p = put_long(p, src->row);
  *p++ = has_gtid ? 2 : 0;
  if (has_gtid) {
    p = put_long(p, (int64_t)glen);
    memcpy(p, src->gtid, glen);
    p += glen;
  }
  memcpy(p, at->dbtab.p, at->dbtab.len);
  p = put_long(p + at->dbtab.len, (int64_t)src->event_ms);
  done(out, put_long(p, (int64_t)ts_ms)); /* ts_ms */
  if (at->txn) { /* transaction: union { null, ChangeTransaction } */
    const rc_avro_txn *x = src->txn;
    *room(out, 1) = x ? 2 : 0;
    out->len++;
    if (x) {
      put_str(out, x->id, strlen(x->id));
      p = room(out, 20);
      p = put_long(p, x->order);
      done(out, put_long(p, x->table_order));
    }
  }
  return 0;
}

int rc_avro_key_check(const rc_avro_table *at, const rc_value *image, char *errstr, size_t es) {
  if (!at->has_key)
    return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s has no known primary key: no key schema", at->t->db, at->t->name);
  for (uint32_t k = 0; k < at->npk; k++)
    if (image[at->pk[k]].kind == RC_V_ABSENT)
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s.%s: primary-key column %s is absent from the row image",
                     at->t->db, at->t->name, at->cols[at->pk[k]].orig);
  return 0;
}

int rc_avro_encode_key(rc_avro_table *at, rc_buf *out, const rc_value *image, char *errstr, size_t es) {
  int err = rc_avro_key_check(at, image, errstr, es);
  if (err) return err;
  const size_t start = out->len;
  for (uint32_t k = 0; k < at->npk; k++)
    if (put_col(at, out, at->pk[k], &image[at->pk[k]]) < 0) {
      out->len = start;
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s", at->err);
    }
  return 0;
}
