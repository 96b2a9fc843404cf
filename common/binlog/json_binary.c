/*
 * json_binary.c: MySQL binary JSON (sql-common/json_binary.h) to JSON text.
 *
 * A document is `type u8 | value`. Objects and arrays come in a small form (u16 counts, sizes
 * and offsets) and a large form (u32): `count | size | key_entry[count] (objects) |
 * value_entry[count] | keys and values`, offsets relative to the container's first byte.
 * Literals and 16-bit integers are stored inside the value entry ("inlined"), and so are
 * 32-bit integers in the large form. Strings carry a 1-5 byte varlen length; opaque values a
 * column type code (RC_T_*, mysql_types.h), a varlen length and the data (decimals,
 * temporals, anything else).
 *
 * Every container is parsed against its own declared size, which is itself checked against
 * the bytes its parent leaves it. A document built by the server never stores two values in
 * the same bytes, so each value "charges" the bytes it occupies to a budget equal to the
 * document's length: a crafted document that points many entries at one big child (which
 * would print exponentially) runs out of budget and is rejected as corrupt.
 */
#include "json_binary.h"

#include <stdarg.h>
#include <stdio.h>

#include "decimal.h"
#include "mysql_types.h"
#include "rc_err.h"

enum {
  JB_SMALL_OBJECT = 0,
  JB_LARGE_OBJECT = 1,
  JB_SMALL_ARRAY = 2,
  JB_LARGE_ARRAY = 3,
  JB_LITERAL = 4,
  JB_INT16 = 5,
  JB_UINT16 = 6,
  JB_INT32 = 7,
  JB_UINT32 = 8,
  JB_INT64 = 9,
  JB_UINT64 = 10,
  JB_DOUBLE = 11,
  JB_STRING = 12,
  JB_OPAQUE = 15,
};

typedef struct {
  rc_buf *b;
  const uint8_t *base; /* error offsets are counted from here */
  const char *what;    /* error message prefix */
  size_t budget;       /* bytes left to charge, see the file comment */
  char *errstr;
  size_t errstr_size;
} jb_ctx;

static int jb_corrupt(jb_ctx *c, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jb_corrupt(jb_ctx *c, const uint8_t *at, const char *fmt, ...) {
  char msg[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rc_errf(RC_ERR_CORRUPT, c->errstr, c->errstr_size, "%s: %s at byte %zu", c->what, msg,
                 (size_t)(at - c->base));
}

static int jb_charge(jb_ctx *c, const uint8_t *at, size_t n) {
  if (n > c->budget)
    return jb_corrupt(c, at, "values overlap (more bytes referenced than the document holds)");
  c->budget -= n;
  return 0;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (uint16_t)p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Two's complement reinterpretation without implementation-defined conversions. */
static int64_t as_i64(uint64_t u) {
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Read binary JSON's varlen (7 bits a byte, least significant group first, at most 5
 * bytes, at most UINT32_MAX). Returns the bytes used, or 0 if ill-formed or truncated. */
static size_t rd_varlen(const uint8_t *p, size_t len, uint32_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < 5; i++) {
    if (i >= len) return 0;
    v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) {
      if (v > UINT32_MAX) return 0;
      *out = (uint32_t)v;
      return i + 1;
    }
  }
  return 0;
}

static int jb_value(jb_ctx *c, uint8_t type, const uint8_t *p, size_t len, int depth);

static int jb_literal(jb_ctx *c, const uint8_t *p) {
  switch (p[0]) {
  case 0: rc_buf_lit(c->b, "null"); return 0;
  case 1: rc_buf_lit(c->b, "true"); return 0;
  case 2: rc_buf_lit(c->b, "false"); return 0;
  default: return jb_corrupt(c, p, "unknown literal 0x%02x", p[0]);
  }
}

/* "HH:MM:SS.ffffff": hours h, minutes and seconds from the low 12 bits of a packed hms, us. */
static void put_hms_us(rc_buf *b, uint64_t h, uint64_t hms, uint64_t us) {
  rc_buf_uint_pad(b, h, 2);
  rc_buf_putc(b, ':');
  rc_buf_uint_pad(b, (hms >> 6) & 63, 2);
  rc_buf_putc(b, ':');
  rc_buf_uint_pad(b, hms & 63, 2);
  rc_buf_putc(b, '.');
  rc_buf_uint_pad(b, us, 6);
}

/* "[-]HH:MM:SS.ffffff" from a packed TIME. */
static void put_time(rc_buf *b, int64_t v) {
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  uint64_t us = u & 0xFFFFFF, hms = u >> 24;
  rc_buf_putc(b, '"');
  if (v < 0) rc_buf_putc(b, '-');
  put_hms_us(b, (hms >> 12) % 1024, hms, us);
  rc_buf_putc(b, '"');
}

/* "YYYY-MM-DD[ HH:MM:SS.ffffff]" from a packed DATETIME (a DATE is packed the same way). */
static void put_datetime(rc_buf *b, int64_t v, int with_time) {
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; /* the server ignores the sign */
  uint64_t us = u & 0xFFFFFF, ip = u >> 24;
  uint64_t ymd = ip >> 17, ym = ymd >> 5, hms = ip & 0x1FFFF;
  rc_buf_putc(b, '"');
  rc_buf_uint_pad(b, ym / 13, 4);
  rc_buf_putc(b, '-');
  rc_buf_uint_pad(b, ym % 13, 2);
  rc_buf_putc(b, '-');
  rc_buf_uint_pad(b, ymd & 31, 2);
  if (with_time) {
    rc_buf_putc(b, ' ');
    put_hms_us(b, hms >> 12, hms, us);
  }
  rc_buf_putc(b, '"');
}

static int jb_opaque(jb_ctx *c, const uint8_t *p, size_t len) {
  if (len < 1) return jb_corrupt(c, p, "opaque value has no field type");
  uint8_t ft = p[0];
  uint32_t n;
  size_t nb = rd_varlen(p + 1, len - 1, &n);
  if (!nb) return jb_corrupt(c, p + 1, "ill-formed or truncated opaque length");
  if ((uint64_t)n > len - 1 - nb)
    return jb_corrupt(c, p + 1, "opaque length %u exceeds the %zu bytes left", n, len - 1 - nb);
  const uint8_t *d = p + 1 + nb;
  int rc = jb_charge(c, p, 1 + nb + (size_t)n);
  if (rc) return rc;
  switch (ft) {
  case RC_T_NEWDECIMAL: {
    if (n < 2) return jb_corrupt(c, d, "opaque decimal of %u bytes has no precision/scale", n);
    size_t sz = rc_decimal_size(d[0], d[1]);
    if (!sz) return jb_corrupt(c, d, "opaque decimal has invalid precision %u, scale %u", d[0], d[1]);
    if (sz != n - 2)
      return jb_corrupt(c, d, "opaque decimal(%u,%u) needs %zu bytes, has %u", d[0], d[1], sz,
                        n - 2);
    if (rc_decimal_format(c->b, d + 2, d[0], d[1]) < 0)
      return jb_corrupt(c, d + 2, "opaque decimal has a digit group above 999999999");
    return 0;
  }
  case RC_T_DATE:
  case RC_T_TIME:
  case RC_T_DATETIME:
  case RC_T_TIMESTAMP: {
    if (n != 8) return jb_corrupt(c, d, "opaque temporal of type %u has %u bytes, not 8", ft, n);
    int64_t v = as_i64(rd64(d));
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if ((u & 0xFFFFFF) > 999999)
      return jb_corrupt(c, d, "opaque temporal has %llu microseconds",
                        (unsigned long long)(u & 0xFFFFFF));
    if (ft == RC_T_TIME)
      put_time(c->b, v);
    else
      put_datetime(c->b, v, ft != RC_T_DATE);
    return 0;
  }
  default:
    rc_buf_lit(c->b, "\"base64:type");
    rc_buf_u64(c->b, ft);
    rc_buf_putc(c->b, ':');
    rc_buf_base64(c->b, d, n);
    rc_buf_putc(c->b, '"');
    return 0;
  }
}

/* An object or array: p[0..len) is what the parent leaves it, its own size must fit. */
static int jb_container(jb_ctx *c, const uint8_t *p, size_t len, int large, int obj, int depth) {
  if (depth >= RC_JSON_MAX_DEPTH)
    return jb_corrupt(c, p, "nesting deeper than %d levels", RC_JSON_MAX_DEPTH);
  size_t osz = large ? 4 : 2, ksz = osz + 2, vsz = osz + 1;
  if (len < 2 * osz)
    return jb_corrupt(c, p, "%s header needs %zu bytes, %zu left", obj ? "object" : "array",
                      2 * osz, len);
  uint32_t count = large ? rd32(p) : rd16(p);
  uint32_t size = large ? rd32(p + osz) : rd16(p + osz);
  if (size > len)
    return jb_corrupt(c, p, "%s size %u exceeds the %zu bytes left", obj ? "object" : "array",
                      size, len);
  uint64_t header = 2 * osz + (uint64_t)count * ((obj ? ksz : 0) + vsz);
  if (header > size)
    return jb_corrupt(c, p, "%s of %u elements does not fit in its size %u",
                      obj ? "object" : "array", count, size);
  int rc = jb_charge(c, p, (size_t)header);
  if (rc) return rc;
  const uint8_t *ve = p + 2 * osz + (obj ? (size_t)count * ksz : 0);
  rc_buf_putc(c->b, obj ? '{' : '[');
  for (uint32_t i = 0; i < count; i++, ve += vsz) {
    if (i) rc_buf_putc(c->b, ',');
    if (obj) {
      const uint8_t *ke = p + 2 * osz + (size_t)i * ksz;
      uint32_t koff = large ? rd32(ke) : rd16(ke);
      uint16_t klen = rd16(ke + osz);
      if (koff < header || (uint64_t)koff + klen > size)
        return jb_corrupt(c, ke, "key %u (offset %u, length %u) outside its object (%u..%u)", i,
                          koff, klen, (unsigned)header, size);
      if ((rc = jb_charge(c, p + koff, klen))) return rc;
      rc_buf_json_str(c->b, (const char *)p + koff, klen);
      rc_buf_putc(c->b, ':');
    }
    uint8_t t = ve[0];
    const uint8_t *slot = ve + 1;
    if (t == JB_LITERAL) {
      rc = jb_literal(c, slot);
    } else if (t == JB_INT16) {
      rc_buf_i64(c->b, (int16_t)rd16(slot));
    } else if (t == JB_UINT16) {
      rc_buf_u64(c->b, rd16(slot));
    } else if (large && t == JB_INT32) {
      rc_buf_i64(c->b, (int32_t)rd32(slot));
    } else if (large && t == JB_UINT32) {
      rc_buf_u64(c->b, rd32(slot));
    } else {
      uint32_t voff = large ? rd32(slot) : rd16(slot);
      if (voff < header || voff >= size)
        return jb_corrupt(c, ve, "value %u (type %u) offset %u outside its %s (%u..%u)", i, t,
                          voff, obj ? "object" : "array", (unsigned)header, size);
      rc = jb_value(c, t, p + voff, size - voff, depth + 1);
    }
    if (rc) return rc;
  }
  rc_buf_putc(c->b, obj ? '}' : ']');
  return 0;
}

/* A value of type `type` stored at p, with at most len bytes available to it. */
static int jb_value(jb_ctx *c, uint8_t type, const uint8_t *p, size_t len, int depth) {
  static const uint8_t fixed[16] = {[JB_LITERAL] = 1, [JB_INT16] = 2, [JB_UINT16] = 2,
                                    [JB_INT32] = 4,   [JB_UINT32] = 4, [JB_INT64] = 8,
                                    [JB_UINT64] = 8,  [JB_DOUBLE] = 8};
  int rc;
  switch (type) {
  case JB_SMALL_OBJECT: return jb_container(c, p, len, 0, 1, depth);
  case JB_LARGE_OBJECT: return jb_container(c, p, len, 1, 1, depth);
  case JB_SMALL_ARRAY: return jb_container(c, p, len, 0, 0, depth);
  case JB_LARGE_ARRAY: return jb_container(c, p, len, 1, 0, depth);
  case JB_LITERAL:
  case JB_INT16:
  case JB_UINT16:
  case JB_INT32:
  case JB_UINT32:
  case JB_INT64:
  case JB_UINT64:
  case JB_DOUBLE:
    if (len < fixed[type])
      return jb_corrupt(c, p, "value of type %u needs %u bytes, %zu left", type, fixed[type], len);
    if ((rc = jb_charge(c, p, fixed[type]))) return rc;
    switch (type) {
    case JB_LITERAL: return jb_literal(c, p);
    case JB_INT16: rc_buf_i64(c->b, (int16_t)rd16(p)); break;
    case JB_UINT16: rc_buf_u64(c->b, rd16(p)); break;
    case JB_INT32: rc_buf_i64(c->b, (int32_t)rd32(p)); break;
    case JB_UINT32: rc_buf_u64(c->b, rd32(p)); break;
    case JB_INT64: rc_buf_i64(c->b, as_i64(rd64(p))); break;
    case JB_UINT64: rc_buf_u64(c->b, rd64(p)); break;
    default: {
      uint64_t u = rd64(p);
      double d;
      memcpy(&d, &u, sizeof d);
      rc_buf_json_double(c->b, d);
    }
    }
    return 0;
  case JB_STRING: {
    uint32_t n;
    size_t nb = rd_varlen(p, len, &n);
    if (!nb) return jb_corrupt(c, p, "ill-formed or truncated string length");
    if ((uint64_t)n > len - nb)
      return jb_corrupt(c, p, "string length %u exceeds the %zu bytes left", n, len - nb);
    if ((rc = jb_charge(c, p, nb + (size_t)n))) return rc;
    rc_buf_json_str(c->b, (const char *)p + nb, n);
    return 0;
  }
  case JB_OPAQUE: return jb_opaque(c, p, len);
  default: return jb_corrupt(c, p, "unknown value type 0x%02x", type);
  }
}

static int jb_document(jb_ctx *c, const uint8_t *p, size_t len) {
  if (len == 0) {
    rc_buf_lit(c->b, "null");
    return 0;
  }
  c->budget = len - 1;
  return jb_value(c, p[0], p + 1, len - 1, 0);
}

int rc_json_binary_format(rc_buf *b, const uint8_t *p, size_t len, char *errstr,
                          size_t errstr_size) {
  jb_ctx c = {b, p, "binary JSON", 0, errstr, errstr_size};
  return jb_document(&c, p, len);
}

/* A MySQL length-encoded integer (net_field_length); 0xfb (NULL) and 0xff are not lengths.
 * Returns the bytes used, or 0 if ill-formed or truncated. */
static size_t rd_lenenc(const uint8_t *p, size_t len, uint64_t *out) {
  if (len < 1) return 0;
  switch (p[0]) {
  case 0xfb:
  case 0xff: return 0;
  case 0xfc:
    if (len < 3) return 0;
    *out = rd16(p + 1);
    return 3;
  case 0xfd:
    if (len < 4) return 0;
    *out = (uint64_t)rd16(p + 1) | (uint64_t)p[3] << 16;
    return 4;
  case 0xfe:
    if (len < 9) return 0;
    *out = rd64(p + 1);
    return 9;
  default: *out = p[0]; return 1;
  }
}

int rc_json_diff_format(rc_buf *b, const uint8_t *p, size_t len, char *errstr,
                        size_t errstr_size) {
  static const char *const ops[] = {"replace", "insert", "remove"};
  jb_ctx c = {b, p, "JSON diff", 0, errstr, errstr_size};
  size_t pos = 0;
  uint64_t n;
  rc_buf_lit(b, "{\"json_diff\":[");
  for (int i = 0; pos < len; i++) {
    uint8_t op = p[pos];
    if (op > 2) return jb_corrupt(&c, p + pos, "diff %d has unknown operation %u", i, op);
    pos++;
    size_t nb = rd_lenenc(p + pos, len - pos, &n);
    if (!nb) return jb_corrupt(&c, p + pos, "diff %d has an ill-formed or truncated path length", i);
    pos += nb;
    if (n > len - pos)
      return jb_corrupt(&c, p + pos - nb, "diff %d path length %llu exceeds the %zu bytes left", i,
                        (unsigned long long)n, len - pos);
    if (i) rc_buf_putc(b, ',');
    rc_buf_lit(b, "{\"op\":\"");
    rc_buf_puts(b, ops[op]);
    rc_buf_lit(b, "\",\"path\":");
    rc_buf_json_str(b, (const char *)p + pos, (size_t)n);
    pos += (size_t)n;
    if (op != 2) {
      nb = rd_lenenc(p + pos, len - pos, &n);
      if (!nb)
        return jb_corrupt(&c, p + pos, "diff %d has an ill-formed or truncated value length", i);
      pos += nb;
      if (n > len - pos)
        return jb_corrupt(&c, p + pos - nb, "diff %d value length %llu exceeds the %zu bytes left",
                          i, (unsigned long long)n, len - pos);
      rc_buf_lit(b, ",\"value\":");
      int rc = jb_document(&c, p + pos, (size_t)n);
      if (rc) return rc;
      pos += (size_t)n;
    }
    rc_buf_putc(b, '}');
  }
  rc_buf_lit(b, "]}");
  return 0;
}
