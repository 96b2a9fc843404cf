/*
 * avro_decode.c: the decoder of rowcast's Avro codec: rc_avro_value_to_json (docs/avro.md).
 *
 * Reads a value datum with its writer schema (avro-c's generic values) and prints the change
 * as rowcast's canonical JSON line (docs/json-mapping.md), the text `rowcast decode` prints
 * for the same change. What avro-c does not expose of the schema, the field properties
 * rowcast writes (rowcast.name, rowcast.sql_type, rowcast.fsp, rowcast.labels) and the
 * logical types, is read from the schema text with jansson once, into a print plan per column.
 * Plans, parsed schemas and readers are cached by schema text, a few per process.
 *
 * Callers: `rowcast tail` (supervisor/tail.c), the tests. Not thread-safe: the cache is the
 * process's (stages are single-threaded); rc_avro_decoder_cache_free empties it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "calendar.h"
#include "crc64.h"
#include "rc_err.h"

/* ---- decimals ---------------------------------------------------------------------------- */

/* Two's complement big-endian bytes to decimal digits (no leading zeros; "" for 0). */
static int twos_to_digits(const uint8_t *p, size_t n, char *digits, size_t *nd, int *neg) {
  uint8_t mag[BIG];
  if (n > BIG) return -1;
  *neg = n > 0 && (p[0] & 0x80);
  memset(mag, *neg ? 0xFF : 0, BIG);
  if (n) memcpy(mag + BIG - n, p, n);
  if (*neg) rc_avro_big_negate(mag);
  char tmp[90];
  size_t k = 0;
  for (;;) {
    int nonzero = 0;
    unsigned rem = 0;
    for (int i = 0; i < BIG; i++) {
      unsigned x = rem * 256 + mag[i];
      mag[i] = (uint8_t)(x / 10);
      rem = x % 10;
      nonzero |= mag[i] != 0;
    }
    tmp[k++] = (char)('0' + rem);
    if (!nonzero) break;
  }
  while (k > 1 && tmp[k - 1] == '0') k--;
  if (k == 1 && tmp[0] == '0') k = 0;
  for (size_t i = 0; i < k; i++) digits[i] = tmp[k - 1 - i];
  *nd = k;
  return 0;
}

/* ---- print plans --------------------------------------------------------------------------- */

enum {
  PK_INT = 1, PK_UDEC, PK_FLOAT, PK_DOUBLE, PK_DECIMAL, PK_DATE, PK_DATETIME, PK_TIMESTAMP, PK_TIME,
  PK_BIT, PK_TEXT, PK_NUMTEXT, PK_BYTES, PK_JSON, PK_GEOMETRY, PK_VECTOR,
};

typedef struct dcol {
  char *name; /* original, UTF-8 */
  size_t name_len;
  int pk, fsp, scale;
} dcol;

typedef struct dplan {
  char *text;
  size_t len;
  uint64_t hash;
  avro_schema_t schema;
  avro_value_iface_t *iface;
  avro_value_t value;
  int value_ok;
  avro_reader_t reader;
  dcol *cols;
  size_t ncols;
  size_t absent_idx; /* index of the absent-list field in the row record */
  int has_absent;
} dplan;

#define PLAN_CACHE 8
static dplan *plan_cache[PLAN_CACHE];
static unsigned plan_next;

static void plan_free(dplan *p) {
  if (!p) return;
  if (p->value_ok) avro_value_decref(&p->value);
  if (p->iface) avro_value_iface_decref(p->iface);
  if (p->schema) avro_schema_decref(p->schema);
  if (p->reader) avro_reader_free(p->reader);
  for (size_t i = 0; i < p->ncols; i++) free(p->cols[i].name);
  free(p->cols);
  free(p->text);
  free(p);
}

void rc_avro_decoder_cache_free(void) {
  for (int i = 0; i < PLAN_CACHE; i++) {
    plan_free(plan_cache[i]);
    plan_cache[i] = NULL;
  }
}

/* A string member of a JSON object, or NULL. */
static const char *str_of(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static int is_sql(const json_t *f, const char *name) {
  const char *s = str_of(f, "rowcast.sql_type");
  return s && !strcmp(s, name);
}

/* A number member of a JSON object as an integer (a fraction truncated), or `dflt` when it is
 * absent or not a number; out of [lo, hi] is an error (-1). */
static int int_of(const json_t *o, const char *key, int dflt, int lo, int hi, int *out) {
  const json_t *j = json_object_get(o, key);
  double x = json_is_integer(j) ? (double)json_integer_value(j) : json_is_real(j) ? json_real_value(j) : dflt;
  if (!(x >= lo && x < hi + 1)) return -1;
  *out = (int)x;
  return 0;
}

/* The print kind of one column field of a rowcast row record. */
static int plan_col(const json_t *f, dcol *d) {
  const json_t *nm = json_object_get(f, "rowcast.name"), *ty = json_object_get(f, "type");
  if (!json_is_string(nm) || !json_is_array(ty)) return -1;
  d->name_len = json_string_length(nm);
  if (!(d->name = rc_avro_dup_mem(json_string_value(nm), d->name_len))) return -1;
  if (int_of(f, "rowcast.fsp", 0, 0, 6, &d->fsp) < 0) return -1;
  const json_t *br = NULL;
  for (size_t i = 0; i < json_array_size(ty) && !br; i++) {
    const json_t *x = json_array_get(ty, i);
    if (!(json_is_string(x) && !strcmp(json_string_value(x), "null"))) br = x;
  }
  if (!br) return -1;
  const char *base = json_is_string(br) ? json_string_value(br) : str_of(br, "type");
  const char *logical = json_is_object(br) ? str_of(br, "logicalType") : NULL;
  if (!base) return -1;
  if (!strcmp(base, "int")) {
    d->pk = logical && !strcmp(logical, "date") ? PK_DATE : PK_INT;
  } else if (!strcmp(base, "long")) {
    if (logical && !strcmp(logical, "timestamp-micros")) d->pk = PK_TIMESTAMP;
    else if (logical && !strcmp(logical, "local-timestamp-micros")) d->pk = PK_DATETIME;
    else d->pk = is_sql(f, "TIME") ? PK_TIME : PK_INT;
  } else if (!strcmp(base, "float")) {
    d->pk = PK_FLOAT;
  } else if (!strcmp(base, "double")) {
    d->pk = PK_DOUBLE;
  } else if (!strcmp(base, "boolean")) {
    d->pk = PK_BIT;
  } else if (!strcmp(base, "bytes")) {
    if (logical && !strcmp(logical, "decimal")) {
      if (int_of(br, "scale", 0, 0, 70, &d->scale) < 0) return -1;
      d->pk = is_sql(f, "BIGINT") ? PK_UDEC : PK_DECIMAL;
    } else {
      d->pk = is_sql(f, "BIT") ? PK_BIT : PK_BYTES;
    }
  } else if (!strcmp(base, "string")) {
    if (json_object_get(f, "rowcast.masked")) d->pk = PK_TEXT; /* a hash in hex, whatever the SQL type */
    else if (is_sql(f, "JSON")) d->pk = PK_JSON;
    else if ((is_sql(f, "ENUM") || is_sql(f, "SET")) && !json_object_get(f, "rowcast.labels")) d->pk = PK_NUMTEXT;
    else d->pk = PK_TEXT;
  } else if (!strcmp(base, "record") || strstr(base, "Geometry")) {
    d->pk = PK_GEOMETRY;
  } else if (!strcmp(base, "array")) {
    d->pk = PK_VECTOR;
  } else {
    return -1;
  }
  return 0;
}

/* The row record of a value schema: the first record branch of its before or after field. */
static const json_t *row_record(const json_t *root) {
  const json_t *fields = json_object_get(root, "fields");
  for (size_t i = 0; i < json_array_size(fields); i++) {
    const json_t *f = json_array_get(fields, i), *ty = json_object_get(f, "type");
    const char *fn = str_of(f, "name");
    if (!fn || (strcmp(fn, "before") && strcmp(fn, "after")) || !json_is_array(ty)) continue;
    for (size_t k = 0; k < json_array_size(ty); k++)
      if (json_is_object(json_array_get(ty, k))) return json_array_get(ty, k);
  }
  return NULL;
}

/* The print plan of a writer schema's row fields, read with jansson from the schema text (the
 * properties avro-c does not expose: original names, SQL types, fsp, labels). */
static int plan_build(dplan *p, const char *text, size_t len, char *errstr, size_t es) {
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!root)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the writer schema is not valid JSON (near byte %d: %s)", jerr.position,
                   jerr.text);
  int r = rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "the writer schema is not a rowcast value schema");
  const json_t *rf = json_object_get(row_record(root), "fields");
  if (json_is_array(rf)) {
    size_t n = json_array_size(rf);
    p->cols = calloc(n ? n : 1, sizeof *p->cols);
    r = p->cols ? 0 : rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    for (size_t i = 0; i < n && r == 0; i++) {
      const json_t *f = json_array_get(rf, i);
      const char *fn = str_of(f, "name");
      if (fn && !strcmp(fn, RC_AVRO_ABSENT_FIELD)) {
        p->absent_idx = i, p->has_absent = 1;
        p->ncols++; /* keeps indexes aligned with the record's fields; pk 0 = skip */
        continue;
      }
      if (plan_col(f, &p->cols[i]) < 0)
        r = rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "row field %s of the writer schema has no rowcast mapping",
                    fn ? fn : "(unnamed)");
      p->ncols++;
    }
  }
  json_decref(root);
  return r;
}

static int plan_get(const char *text, size_t len, dplan **out, char *errstr, size_t es) {
  uint64_t h = rc_crc64(text, len);
  for (int i = 0; i < PLAN_CACHE; i++) {
    dplan *p = plan_cache[i];
    if (p && p->hash == h && p->len == len && !memcmp(p->text, text, len)) {
      *out = p;
      return 0;
    }
  }
  dplan *p = calloc(1, sizeof *p);
  if (!p || !(p->text = rc_avro_dup_mem(text, len))) {
    free(p);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  }
  p->len = len, p->hash = h;
  int r = plan_build(p, text, len, errstr, es);
  if (r == 0 && avro_schema_from_json_length(text, len, &p->schema)) {
    p->schema = NULL;
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c refuses the writer schema: %s", avro_strerror());
  }
  if (r == 0 && !(p->iface = avro_generic_class_from_schema(p->schema)))
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "no avro-c class for the writer schema: %s", avro_strerror());
  if (r == 0) {
    if (avro_generic_value_new(p->iface, &p->value) == 0) p->value_ok = 1;
    p->reader = avro_reader_memory(NULL, 0);
    if (!p->value_ok || !p->reader) r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  }
  if (r < 0) {
    plan_free(p);
    return r;
  }
  unsigned slot = plan_next++ % PLAN_CACHE;
  plan_free(plan_cache[slot]);
  plan_cache[slot] = p;
  *out = p;
  return 0;
}

static void put_date(rc_buf *b, int64_t y, unsigned m, unsigned d) {
  rc_buf_uint_pad(b, (uint64_t)(y < 0 ? 0 : y), 4);
  rc_buf_putc(b, '-');
  rc_buf_uint_pad(b, m, 2);
  rc_buf_putc(b, '-');
  rc_buf_uint_pad(b, d, 2);
}

static void put_hms_frac(rc_buf *b, uint64_t h, unsigned mi, unsigned s, uint32_t usec, int fsp) {
  static const uint32_t pow10_6[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
  rc_buf_uint_pad(b, h, 2);
  rc_buf_putc(b, ':');
  rc_buf_uint_pad(b, mi, 2);
  rc_buf_putc(b, ':');
  rc_buf_uint_pad(b, s, 2);
  if (fsp > 0) {
    rc_buf_putc(b, '.');
    rc_buf_uint_pad(b, usec / pow10_6[fsp], fsp);
  }
}

static void put_b64(rc_buf *b, const void *p, size_t n) {
  rc_buf_putc(b, '"');
  rc_buf_base64(b, p, n);
  rc_buf_putc(b, '"');
}

#define DCHECK(x)                                                                              \
  do {                                                                                         \
    if ((x) != 0) return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror());     \
  } while (0)

static int print_col(rc_buf *b, const dcol *d, avro_value_t *v, char *errstr, size_t es) {
  avro_type_t t = avro_value_get_type(v);
  int32_t i32;
  int64_t i64;
  const void *bp;
  size_t bn;
  switch (t) {
  case AVRO_INT32:
    DCHECK(avro_value_get_int(v, &i32));
    if (d->pk == PK_DATE) {
      int64_t y;
      unsigned m, dd;
      rc_civil_from_days(i32, &y, &m, &dd);
      rc_buf_putc(b, '"');
      put_date(b, y, m, dd);
      rc_buf_putc(b, '"');
    } else {
      rc_buf_i64(b, i32);
    }
    return 0;
  case AVRO_INT64:
    DCHECK(avro_value_get_long(v, &i64));
    if (d->pk == PK_DATETIME || d->pk == PK_TIMESTAMP) {
      int64_t days = i64 / US_PER_DAY, rem = i64 % US_PER_DAY;
      if (rem < 0) rem += US_PER_DAY, days--;
      int64_t y;
      unsigned m, dd;
      rc_civil_from_days(days, &y, &m, &dd);
      uint64_t s = (uint64_t)rem / 1000000;
      rc_buf_putc(b, '"');
      put_date(b, y, m, dd);
      rc_buf_putc(b, d->pk == PK_DATETIME ? ' ' : 'T');
      put_hms_frac(b, s / 3600, (unsigned)(s / 60 % 60), (unsigned)(s % 60), (uint32_t)(rem % 1000000), d->fsp);
      if (d->pk == PK_TIMESTAMP) rc_buf_putc(b, 'Z');
      rc_buf_putc(b, '"');
    } else if (d->pk == PK_TIME) {
      uint64_t a = i64 < 0 ? (uint64_t)0 - (uint64_t)i64 : (uint64_t)i64, s = a / 1000000;
      rc_buf_putc(b, '"');
      if (i64 < 0) rc_buf_putc(b, '-');
      put_hms_frac(b, s / 3600, (unsigned)(s / 60 % 60), (unsigned)(s % 60), (uint32_t)(a % 1000000), d->fsp);
      rc_buf_putc(b, '"');
    } else {
      rc_buf_i64(b, i64);
    }
    return 0;
  case AVRO_FLOAT: {
    float f;
    DCHECK(avro_value_get_float(v, &f));
    rc_buf_json_float(b, f);
    return 0;
  }
  case AVRO_DOUBLE: {
    double x;
    DCHECK(avro_value_get_double(v, &x));
    rc_buf_json_double(b, x);
    return 0;
  }
  case AVRO_BOOLEAN: {
    int x;
    DCHECK(avro_value_get_boolean(v, &x));
    rc_buf_putc(b, x ? '1' : '0');
    return 0;
  }
  case AVRO_BYTES:
    DCHECK(avro_value_get_bytes(v, &bp, &bn));
    if (d->pk == PK_BIT) {
      if (bn > 8) return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: BIT value of %zu bytes", d->name, bn);
      uint64_t u = 0;
      for (size_t k = 0; k < bn; k++) u = u << 8 | ((const uint8_t *)bp)[k];
      rc_buf_u64(b, u);
    } else if (d->pk == PK_UDEC || d->pk == PK_DECIMAL) {
      char dig[90];
      size_t nd;
      int neg;
      if (twos_to_digits(bp, bn, dig, &nd, &neg) < 0)
        return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: decimal of %zu bytes", d->name, bn);
      if (d->pk == PK_UDEC) {
        if (neg || nd > 20) return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: not a BIGINT UNSIGNED", d->name);
        if (nd == 0) rc_buf_putc(b, '0');
        else rc_buf_put(b, dig, nd);
        return 0;
      }
      size_t sc = (size_t)d->scale;
      rc_buf_putc(b, '"');
      if (neg && nd) rc_buf_putc(b, '-');
      if (nd <= sc) {
        rc_buf_putc(b, '0');
      } else {
        rc_buf_put(b, dig, nd - sc);
      }
      if (sc) {
        rc_buf_putc(b, '.');
        for (size_t k = nd; k < sc; k++) rc_buf_putc(b, '0');
        rc_buf_put(b, dig + (nd > sc ? nd - sc : 0), nd > sc ? sc : nd);
      }
      rc_buf_putc(b, '"');
    } else {
      put_b64(b, bp, bn);
    }
    return 0;
  case AVRO_STRING: {
    const char *s;
    DCHECK(avro_value_get_string(v, &s, &bn));
    bn = bn ? bn - 1 : 0;
    if (d->pk == PK_JSON) {
      rc_buf_put(b, s, bn);
    } else if (d->pk == PK_NUMTEXT) {
      for (size_t k = 0; k < bn; k++)
        if (s[k] < '0' || s[k] > '9')
          return rc_errf(RC_ERR_CORRUPT, errstr, es, "column %s: ENUM/SET without labels is not a number", d->name);
      rc_buf_put(b, s, bn);
    } else {
      rc_buf_json_str(b, s, bn);
    }
    return 0;
  }
  case AVRO_RECORD: {
    avro_value_t f;
    DCHECK(avro_value_get_by_name(v, "srid", &f, NULL));
    DCHECK(avro_value_get_long(&f, &i64));
    rc_buf_lit(b, "{\"srid\":");
    rc_buf_i64(b, i64);
    DCHECK(avro_value_get_by_name(v, "wkb", &f, NULL));
    DCHECK(avro_value_get_bytes(&f, &bp, &bn));
    rc_buf_lit(b, ",\"wkb\":");
    put_b64(b, bp, bn);
    rc_buf_putc(b, '}');
    return 0;
  }
  case AVRO_ARRAY: {
    DCHECK(avro_value_get_size(v, &bn));
    rc_buf_putc(b, '[');
    for (size_t k = 0; k < bn; k++) {
      avro_value_t e;
      float f;
      DCHECK(avro_value_get_by_index(v, k, &e, NULL));
      DCHECK(avro_value_get_float(&e, &f));
      if (k) rc_buf_putc(b, ',');
      rc_buf_json_float(b, f);
    }
    rc_buf_putc(b, ']');
    return 0;
  }
  default:
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "column %s: Avro type %d has no canonical JSON form", d->name, t);
  }
}

static int is_absent(avro_value_t *arr, const dcol *d, char *errstr, size_t es) {
  size_t n;
  DCHECK(avro_value_get_size(arr, &n));
  for (size_t k = 0; k < n; k++) {
    avro_value_t e;
    const char *s;
    size_t sl;
    DCHECK(avro_value_get_by_index(arr, k, &e, NULL));
    DCHECK(avro_value_get_string(&e, &s, &sl));
    if (sl && sl - 1 == d->name_len && !memcmp(s, d->name, d->name_len)) return 1;
  }
  return 0;
}

static int print_row(rc_buf *b, const dplan *p, avro_value_t *un, char *errstr, size_t es) {
  avro_value_t rec, arr, f, br;
  int disc;
  DCHECK(avro_value_get_discriminant(un, &disc));
  DCHECK(avro_value_get_current_branch(un, &rec));
  if (avro_value_get_type(&rec) == AVRO_NULL) {
    rc_buf_lit(b, "null");
    return 0;
  }
  size_t nf;
  DCHECK(avro_value_get_size(&rec, &nf));
  if (nf != p->ncols) return rc_errf(RC_ERR_CORRUPT, errstr, es, "row record has %zu fields, the plan %zu", nf, p->ncols);
  if (p->has_absent) DCHECK(avro_value_get_by_index(&rec, p->absent_idx, &arr, NULL));
  rc_buf_putc(b, '{');
  int first = 1;
  for (size_t i = 0; i < p->ncols; i++) {
    const dcol *d = &p->cols[i];
    if (p->has_absent && i == p->absent_idx) continue;
    DCHECK(avro_value_get_by_index(&rec, i, &f, NULL));
    DCHECK(avro_value_get_current_branch(&f, &br));
    int null = avro_value_get_type(&br) == AVRO_NULL;
    if (null && p->has_absent) {
      int a = is_absent(&arr, d, errstr, es);
      if (a < 0) return a;
      if (a) continue;
    }
    if (!first) rc_buf_putc(b, ',');
    first = 0;
    rc_buf_json_str(b, d->name, d->name_len);
    rc_buf_putc(b, ':');
    if (null) {
      rc_buf_lit(b, "null");
      continue;
    }
    int r = print_col(b, d, &br, errstr, es);
    if (r < 0) return r;
  }
  rc_buf_putc(b, '}');
  return 0;
}

static int print_change(rc_buf *b, dplan *p, char *errstr, size_t es) {
  avro_value_t *env = &p->value, f, s, x;
  const char *str;
  size_t n;
  int64_t l = 0;
  int r;
  DCHECK(avro_value_get_by_name(env, "source", &s, NULL));
  rc_buf_lit(b, "{\"db\":");
  DCHECK(avro_value_get_by_name(&s, "db", &f, NULL));
  DCHECK(avro_value_get_string(&f, &str, &n));
  rc_buf_json_str(b, str, n ? n - 1 : 0);
  rc_buf_lit(b, ",\"table\":");
  DCHECK(avro_value_get_by_name(&s, "table", &f, NULL));
  DCHECK(avro_value_get_string(&f, &str, &n));
  rc_buf_json_str(b, str, n ? n - 1 : 0);
  rc_buf_lit(b, ",\"op\":\"");
  int op;
  DCHECK(avro_value_get_by_name(env, "op", &f, NULL));
  DCHECK(avro_value_get_enum(&f, &op));
  const char *sym = avro_schema_enum_get(avro_value_get_schema(&f), op);
  if (!sym) return rc_errf(RC_ERR_CORRUPT, errstr, es, "op symbol %d is not in the schema", op);
  rc_buf_puts(b, sym);
  rc_buf_lit(b, "\",\"before\":");
  DCHECK(avro_value_get_by_name(env, "before", &f, NULL));
  if ((r = print_row(b, p, &f, errstr, es)) < 0) return r;
  rc_buf_lit(b, ",\"after\":");
  DCHECK(avro_value_get_by_name(env, "after", &f, NULL));
  if ((r = print_row(b, p, &f, errstr, es)) < 0) return r;
  rc_buf_lit(b, ",\"pos\":{\"file\":");
  DCHECK(avro_value_get_by_name(&s, "file", &f, NULL));
  DCHECK(avro_value_get_string(&f, &str, &n));
  rc_buf_json_str(b, str, n ? n - 1 : 0);
  rc_buf_lit(b, ",\"offset\":");
  DCHECK(avro_value_get_by_name(&s, "offset", &f, NULL));
  DCHECK(avro_value_get_long(&f, &l));
  rc_buf_u64(b, (uint64_t)l);
  rc_buf_lit(b, ",\"row\":");
  DCHECK(avro_value_get_by_name(&s, "row", &f, NULL));
  DCHECK(avro_value_get_long(&f, &l));
  rc_buf_u64(b, (uint64_t)l);
  rc_buf_lit(b, "},\"gtid\":");
  DCHECK(avro_value_get_by_name(&s, "gtid", &f, NULL));
  DCHECK(avro_value_get_current_branch(&f, &x));
  if (avro_value_get_type(&x) == AVRO_STRING) {
    DCHECK(avro_value_get_string(&x, &str, &n));
    rc_buf_json_str(b, str, n ? n - 1 : 0);
  } else {
    rc_buf_lit(b, "null");
  }
  rc_buf_lit(b, ",\"ts\":");
  DCHECK(avro_value_get_by_name(&s, "ts_ms", &f, NULL));
  DCHECK(avro_value_get_long(&f, &l));
  rc_buf_u64(b, (uint64_t)l / 1000);
  /* publisher.transactions_topic: the change's transaction, as the JSON line prints it */
  if (avro_value_get_by_name(env, "transaction", &f, NULL) == 0) {
    DCHECK(avro_value_get_current_branch(&f, &x));
    if (avro_value_get_type(&x) == AVRO_RECORD) {
      avro_value_t y;
      rc_buf_lit(b, ",\"transaction\":{\"id\":");
      DCHECK(avro_value_get_by_name(&x, "id", &y, NULL));
      DCHECK(avro_value_get_string(&y, &str, &n));
      rc_buf_json_str(b, str, n ? n - 1 : 0);
      rc_buf_lit(b, ",\"order\":");
      DCHECK(avro_value_get_by_name(&x, "order", &y, NULL));
      DCHECK(avro_value_get_long(&y, &l));
      rc_buf_u64(b, (uint64_t)l);
      rc_buf_lit(b, ",\"table_order\":");
      DCHECK(avro_value_get_by_name(&x, "table_order", &y, NULL));
      DCHECK(avro_value_get_long(&y, &l));
      rc_buf_u64(b, (uint64_t)l);
      rc_buf_putc(b, '}');
    }
  }
  rc_buf_lit(b, "}\n");
  return 0;
}

/* Read a value datum into its plan's value (the plan of schema_json, cached). */
static int read_value(const char *schema_json, const void *datum, size_t len, dplan **out, char *errstr, size_t es) {
  dplan *p = NULL;
  int r = plan_get(schema_json, strlen(schema_json), &p, errstr, es);
  if (r < 0) return r;
  /* A first pass that only skips: avro-c's reader leaks the buffer of a string or bytes value
   * that the datum cuts short, so the datum is checked whole before it is read. */
  avro_reader_memory_set_source(p->reader, datum, (int64_t)len);
  if (avro_skip_data(p->reader, p->schema))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the datum (%zu bytes) does not match its writer schema: %s", len,
                   avro_strerror());
  if (avro_skip(p->reader, 1) == 0) /* memory readers have no tell: one more byte must not be there */
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the datum has bytes after its value (%zu bytes in all)", len);
  avro_value_reset(&p->value);
  avro_reader_memory_set_source(p->reader, datum, (int64_t)len);
  if (avro_value_read(p->reader, &p->value))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the datum (%zu bytes) does not match its writer schema: %s", len,
                   avro_strerror());
  *out = p;
  return 0;
}

int rc_avro_value_to_json(const char *schema_json, const void *datum, size_t len, rc_buf *out, char *errstr,
                          size_t es) {
  dplan *p = NULL;
  int r = read_value(schema_json, datum, len, &p, errstr, es);
  if (r < 0) return r;
  size_t mark = out->len;
  r = print_change(out, p, errstr, es);
  if (r < 0) out->len = mark;
  return r;
}

int rc_avro_value_position(const char *schema_json, const void *datum, size_t len, char *file, size_t file_size,
                           uint64_t *offset, uint32_t *row, char *errstr, size_t es) {
  dplan *p = NULL;
  int r = read_value(schema_json, datum, len, &p, errstr, es);
  if (r < 0) return r;
  avro_value_t s, f;
  const char *str;
  size_t n;
  int64_t off = 0, rw = 0;
  DCHECK(avro_value_get_by_name(&p->value, "source", &s, NULL));
  DCHECK(avro_value_get_by_name(&s, "file", &f, NULL));
  DCHECK(avro_value_get_string(&f, &str, &n));
  DCHECK(avro_value_get_by_name(&s, "offset", &f, NULL));
  DCHECK(avro_value_get_long(&f, &off));
  DCHECK(avro_value_get_by_name(&s, "row", &f, NULL));
  DCHECK(avro_value_get_long(&f, &rw));
  n = n ? n - 1 : 0; /* avro-c counts the NUL */
  if (n == 0 || n >= file_size || memchr(str, 0, n))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "source.file is empty, too long or not text (%zu bytes)", n);
  if (off < 0 || rw < 0 || rw > UINT32_MAX)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "source.offset %lld or source.row %lld is out of range",
                   (long long)off, (long long)rw);
  memcpy(file, str, n);
  file[n] = 0;
  *offset = (uint64_t)off;
  *row = (uint32_t)rw;
  return 0;
}
