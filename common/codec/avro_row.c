/*
 * avro_row.c: row changes as Avro with avro-c (docs/avro.md).
 *
 * Schemas: built here as JSON text, together with their Parsing Canonical Form (the same walk
 * writes both), then validated by avro-c (avro_schema_from_json_length) which also gives the
 * generic classes the encoder fills. Encoding: the table's reused avro-c value is filled with
 * the avro_value_* setters (strings and bytes handed over with avro_value_give_*, pointing at
 * the row image or at per-column scratch buffers, so nothing is copied twice or allocated per
 * value) and written with a memory writer straight into the caller's buffer, grown and retried
 * on ENOSPC.
 *
 * Decoding (rc_avro_value_to_json): avro-c reads the datum with the writer schema; the field
 * properties avro-c does not expose (the original names, SQL types, fsp) are read from the
 * schema text by a small JSON reader kept to that purpose. Both are cached per schema text.
 *
 * Callers: the serializer (format=avro), `rowcast tail`, tests/unit/test_avro_row.c.
 */
#include "avro_row.h"

#include <avro.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "crc64.h"
#include "charset.h"
#include "decimal.h"
#include "json_binary.h"
#include "rc_err.h"
#include "row_json.h"

/* ---- small helpers ----------------------------------------------------------------------- */

static const char *cstr(rc_buf *b) { /* NUL-terminate without counting it */
  rc_buf_putc(b, '\0');
  b->len--;
  return b->p;
}

static int is_name_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_name_char(int c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

void rc_avro_name(rc_buf *b, const char *name, size_t n) {
  if (n == 0 || (name[0] >= '0' && name[0] <= '9')) rc_buf_putc(b, '_');
  for (size_t i = 0; i < n; i++) rc_buf_putc(b, is_name_char((unsigned char)name[i]) ? name[i] : '_');
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void put_utf8(rc_buf *b, uint32_t cp) {
  if (cp < 0x80) {
    rc_buf_putc(b, (char)cp);
  } else if (cp < 0x800) {
    rc_buf_putc(b, (char)(0xC0 | cp >> 6));
    rc_buf_putc(b, (char)(0x80 | (cp & 63)));
  } else if (cp < 0x10000) {
    rc_buf_putc(b, (char)(0xE0 | cp >> 12));
    rc_buf_putc(b, (char)(0x80 | ((cp >> 6) & 63)));
    rc_buf_putc(b, (char)(0x80 | (cp & 63)));
  } else {
    rc_buf_putc(b, (char)(0xF0 | cp >> 18));
    rc_buf_putc(b, (char)(0x80 | ((cp >> 12) & 63)));
    rc_buf_putc(b, (char)(0x80 | ((cp >> 6) & 63)));
    rc_buf_putc(b, (char)(0x80 | (cp & 63)));
  }
}

/* The body of a JSON string literal (between its quotes) to UTF-8. Returns the bytes consumed
 * up to the closing quote, or -1 for a bad escape. */
static long json_unescape(rc_buf *out, const char *s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] != '"') {
    if (s[i] != '\\') {
      if ((unsigned char)s[i] < 0x20) return -1;
      rc_buf_putc(out, s[i++]);
      continue;
    }
    if (++i >= n) return -1;
    char c = s[i++];
    switch (c) {
    case '"': case '\\': case '/': rc_buf_putc(out, c); break;
    case 'n': rc_buf_putc(out, '\n'); break;
    case 'r': rc_buf_putc(out, '\r'); break;
    case 't': rc_buf_putc(out, '\t'); break;
    case 'b': rc_buf_putc(out, '\b'); break;
    case 'f': rc_buf_putc(out, '\f'); break;
    case 'u': {
      uint32_t cp = 0;
      for (int k = 0; k < 4; k++) {
        int h = i < n ? hexval((unsigned char)s[i++]) : -1;
        if (h < 0) return -1;
        cp = cp << 4 | (uint32_t)h;
      }
      if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
        uint32_t lo = 0;
        int ok = 1;
        for (int k = 0; k < 4; k++) {
          int h = hexval((unsigned char)s[i + 2 + k]);
          if (h < 0) ok = 0;
          lo = lo << 4 | (uint32_t)(h < 0 ? 0 : h);
        }
        if (ok && lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
      }
      if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* a lone surrogate */
      put_utf8(out, cp);
      break;
    }
    default: return -1;
    }
  }
  return i < n ? (long)i : -1;
}

/* A JSON string literal (quotes included) b[0..n) as UTF-8 into out. */
static int json_literal_to_utf8(rc_buf *out, const char *s, size_t n) {
  if (n < 2 || s[0] != '"') return -1;
  long r = json_unescape(out, s + 1, n - 1);
  return r == (long)n - 2 ? 0 : -1;
}

/* Text as canonical JSON cleans it (invalid UTF-8 -> U+FFFD), as plain UTF-8. */
static char *clean_utf8(const char *p, size_t n, size_t *len_out) {
  rc_buf u = {0};
  rc_buf_utf8_clean(&u, p, n);
  if (len_out) *len_out = u.len;
  rc_buf_putc(&u, '\0');
  return u.p;
}

/* ---- dates ------------------------------------------------------------------------------- */

static int is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static unsigned days_in_month(unsigned y, unsigned m) {
  static const uint8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int date_ok(unsigned y, unsigned m, unsigned d) {
  return y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

#define US_PER_DAY 86400000000LL

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

#define BIG 32 /* bytes: DECIMAL(65) needs 28 */
_Static_assert(BIG / 4 == 8, "rc_decimal_unscaled gives 8 limbs");

/* Minimal big-endian two's complement of a 32-byte value into out; returns its length. */
static size_t twos_minimal(const uint8_t mag[BIG], uint8_t *out) {
  size_t s = 0;
  while (s < BIG - 1 && ((mag[s] == 0 && !(mag[s + 1] & 0x80)) || (mag[s] == 0xFF && (mag[s + 1] & 0x80)))) s++;
  memcpy(out, mag + s, BIG - s);
  return BIG - s;
}

static void big_negate(uint8_t mag[BIG]) {
  unsigned carry = 1;
  for (int k = BIG - 1; k >= 0; k--) {
    unsigned x = (uint8_t)~mag[k] + carry;
    mag[k] = (uint8_t)x;
    carry = x >> 8;
  }
}

/* Decimal digits (an optional '-', digits and one optional '.') to the unscaled value as minimal
 * two's complement. Nine digits at a time into 32-bit limbs. Returns the length, or 0 if the
 * text has too many digits. */
/* An unscaled decimal (32-bit limbs, least significant first, and a sign) as minimal
 * big-endian two's complement. */
static size_t unscaled_to_twos(const uint32_t limb[BIG / 4], int neg, uint8_t *out) {
  uint8_t mag[BIG];
  for (int k = 0; k < BIG / 4; k++) {
    uint32_t l = limb[BIG / 4 - 1 - k];
    mag[4 * k] = (uint8_t)(l >> 24), mag[4 * k + 1] = (uint8_t)(l >> 16);
    mag[4 * k + 2] = (uint8_t)(l >> 8), mag[4 * k + 3] = (uint8_t)l;
  }
  if (neg) big_negate(mag);
  return twos_minimal(mag, out);
}

static size_t u64_to_twos(uint64_t u, uint8_t *out) {
  uint8_t mag[BIG] = {0};
  for (int k = 0; k < 8; k++) mag[BIG - 1 - k] = (uint8_t)(u >> (8 * k));
  return twos_minimal(mag, out);
}

/* Two's complement big-endian bytes to decimal digits (no leading zeros; "" for 0). */
static int twos_to_digits(const uint8_t *p, size_t n, char *digits, size_t *nd, int *neg) {
  uint8_t mag[BIG];
  if (n > BIG) return -1;
  *neg = n > 0 && (p[0] & 0x80);
  memset(mag, *neg ? 0xFF : 0, BIG);
  if (n) memcpy(mag + BIG - n, p, n);
  if (*neg) big_negate(mag);
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

/* ---- the column mapping ------------------------------------------------------------------ */

enum {
  FK_INT = 1, FK_LONG, FK_U64, FK_FLOAT, FK_DOUBLE, FK_DECIMAL, FK_DATE, FK_DATETIME,
  FK_TIMESTAMP, FK_TIME, FK_BOOL, FK_BITS, FK_LABEL, FK_TEXT, FK_TEXT_OR_BYTES, FK_BYTES,
  FK_JSON, FK_GEOMETRY, FK_VECTOR,
};

static int col_fk(const rc_column *c) {
  int uns = c->is_signed == 0;
  switch (c->type) {
  case RC_T_TINY: case RC_T_SHORT: case RC_T_INT24: case RC_T_YEAR: return FK_INT;
  case RC_T_LONG: return uns ? FK_LONG : FK_INT;
  case RC_T_LONGLONG: return uns ? FK_U64 : FK_LONG;
  case RC_T_FLOAT: return FK_FLOAT;
  case RC_T_DOUBLE: return FK_DOUBLE;
  case RC_T_NEWDECIMAL: return FK_DECIMAL;
  case RC_T_DATE: return FK_DATE;
  case RC_T_TIMESTAMP: case RC_T_TIMESTAMP2: return FK_TIMESTAMP;
  case RC_T_DATETIME: case RC_T_DATETIME2: return FK_DATETIME;
  case RC_T_TIME: case RC_T_TIME2: return FK_TIME;
  case RC_T_BIT: return c->length == 1 ? FK_BOOL : FK_BITS;
  case RC_T_ENUM: case RC_T_SET: return FK_LABEL;
  case RC_T_STRING: case RC_T_VARCHAR: case RC_T_VAR_STRING: case RC_T_BLOB: case RC_T_TINY_BLOB:
  case RC_T_MEDIUM_BLOB: case RC_T_LONG_BLOB:
    if (c->cs_kind == RC_CS_BINARY || c->cs_kind == RC_CS_UNKNOWN) return FK_BYTES;
    return c->cs_kind == RC_CS_ICONV ? FK_TEXT_OR_BYTES : FK_TEXT;
  case RC_T_JSON: return FK_JSON;
  case RC_T_GEOMETRY: return FK_GEOMETRY;
  case RC_T_VECTOR: return FK_VECTOR;
  default: return -1;
  }
}

static int col_fsp(const rc_column *c) { return rc_type_has_fsp(c->type) ? c->fsp : 0; }

/* ---- the table version ------------------------------------------------------------------- */

/* A column's value, ready for the writer: the union branch and what it holds. */
typedef struct prep {
  int disc;  /* 0 null, 1 the column's type, 2 bytes (text not valid in its charset) */
  int type;  /* avro_type_t of the branch */
  int64_t l; /* int, long, boolean; GEOMETRY: srid */
  double d;
  float f;
  const void *p; /* string (n bytes, no NUL needed), bytes, GEOMETRY wkb, VECTOR floats */
  size_t n;
} prep;

typedef struct vnode vnode;

typedef struct acol {
  char *avro_name;
  char *orig;            /* original name ("@3" without names), UTF-8, NUL-terminated */
  size_t orig_len;
  int fk;
  rc_buf scratch[2];     /* converted text / padded bytes, per image slot */
  uint8_t small[2][BIG]; /* decimals and BIT bytes, per image slot */
  /* ENUM/SET labels already in UTF-8, when the column's charset converts label by label (UTF-8,
   * latin1): the value is then a lookup (ENUM) or a join (SET) instead of a conversion */
  rc_buf labels;    /* the labels one after the other */
  size_t *label_at; /* label k is labels.p[label_at[k] .. label_at[k + 1]) */
  prep prep[2];     /* the value being written, per image slot */
} acol;

struct rc_avro_table {
  rc_table *t; /* a private copy of the table map */
  acol *cols;
  char *db, *table; /* UTF-8 */
  size_t db_len, table_len;
  rc_buf vschema, vpcf, kschema, kpcf;
  uint64_t vfp, kfp;
  int has_key;
  avro_schema_t vsch, ksch; /* avro-c's parse of the schemas: they are valid Avro */
  avro_writer_t writer;
  rc_buf tmp;
  /* the view avro-c writes from (see encoding below) and the change it shows */
  vnode *nodes;
  uint32_t *pk, npk;           /* the key's columns */
  uint32_t *absent[2], nabsent[2]; /* columns absent from each image */
  const rc_value *img[2];      /* before (or the key's image), after */
  const rc_avro_source *src;
  uint64_t ts_ms;
  int op;
  size_t item; /* the VECTOR item being written */
  char err[600];
};

static char *dup_mem(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static rc_table *table_dup(const rc_table *t) {
  rc_table *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  *c = *t;
  c->db = c->name = NULL;
  c->map_body = NULL;
  c->map_body_len = 0;
  c->cols = calloc(t->ncols ? t->ncols : 1, sizeof *c->cols);
  if (!c->cols) {
    free(c);
    return NULL;
  }
  int bad = !(c->db = dup_mem(t->db ? t->db : "", t->db ? strlen(t->db) : 0)) ||
            !(c->name = dup_mem(t->name ? t->name : "", t->name ? strlen(t->name) : 0));
  for (uint32_t i = 0; i < t->ncols && !bad; i++) {
    const rc_column *s = &t->cols[i];
    rc_column *d = &c->cols[i];
    *d = *s;
    d->name = NULL, d->key = NULL, d->labels = NULL, d->label_lens = NULL, d->n_labels = 0;
    if (s->name && !(d->name = dup_mem(s->name, strlen(s->name)))) bad = 1;
    if (s->key && !(d->key = dup_mem(s->key, s->key_len))) bad = 1;
    if (s->labels && !bad) {
      d->labels = calloc(s->n_labels ? s->n_labels : 1, sizeof *d->labels);
      d->label_lens = calloc(s->n_labels ? s->n_labels : 1, sizeof *d->label_lens);
      if (!d->labels || !d->label_lens) bad = 1;
      for (uint32_t k = 0; k < s->n_labels && !bad; k++) {
        if (!(d->labels[k] = dup_mem(s->labels[k], s->label_lens[k]))) bad = 1;
        d->label_lens[k] = s->label_lens[k];
        d->n_labels = k + 1;
      }
    }
  }
  if (bad) {
    rc_table_free(c);
    return NULL;
  }
  return c;
}

/* The original name as canonical JSON prints it (a JSON string literal). */
static void orig_name_json(rc_buf *b, const rc_column *c, uint32_t i) {
  if (c->name) {
    rc_buf_json_str(b, c->name, strlen(c->name));
  } else {
    rc_buf_lit(b, "\"@");
    rc_buf_u64(b, i + 1);
    rc_buf_putc(b, '"');
  }
}

/* A label (or a joined SET) as canonical JSON prints it. */
static void label_json(rc_buf *b, const rc_column *c, const char *p, size_t n) {
  if (rc_charset_json_str(b, c->cs_kind == RC_CS_UNKNOWN ? RC_CS_UTF8 : c->cs_kind, c->iconv_cd,
                          (const uint8_t *)p, n) < 0)
    rc_buf_json_str(b, p, n);
}

/* ---- schema text: the full form and the Parsing Canonical Form, written together ---------- */

typedef struct sw {
  rc_buf *full, *pcf;
  int geometry_defined;
} sw;

#define BOTH(s, lit) (rc_buf_lit((s)->full, lit), rc_buf_lit((s)->pcf, lit))
#define FULL(s, lit) rc_buf_lit((s)->full, lit)
#define PCF(s, lit) rc_buf_lit((s)->pcf, lit)

static void both_str(sw *s, const char *p) {
  rc_buf_puts(s->full, p);
  rc_buf_puts(s->pcf, p);
}

static void emit_col_type(sw *s, const rc_column *c, int fk) {
  BOTH(s, "[\"null\",");
  switch (fk) {
  case FK_INT: BOTH(s, "\"int\""); break;
  case FK_LONG: case FK_TIME: BOTH(s, "\"long\""); break;
  case FK_U64:
    FULL(s, "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":20,\"scale\":0}");
    PCF(s, "\"bytes\"");
    break;
  case FK_FLOAT: BOTH(s, "\"float\""); break;
  case FK_DOUBLE: BOTH(s, "\"double\""); break;
  case FK_DECIMAL:
    rc_buf_printf(s->full, "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":%u,\"scale\":%u}",
                  c->precision, c->scale);
    PCF(s, "\"bytes\"");
    break;
  case FK_DATE:
    FULL(s, "{\"type\":\"int\",\"logicalType\":\"date\"}");
    PCF(s, "\"int\"");
    break;
  case FK_DATETIME:
    FULL(s, "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}");
    PCF(s, "\"long\"");
    break;
  case FK_TIMESTAMP:
    FULL(s, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}");
    PCF(s, "\"long\"");
    break;
  case FK_BOOL: BOTH(s, "\"boolean\""); break;
  case FK_BITS: case FK_BYTES: BOTH(s, "\"bytes\""); break;
  case FK_LABEL: case FK_TEXT: case FK_JSON: BOTH(s, "\"string\""); break;
  case FK_TEXT_OR_BYTES: BOTH(s, "\"string\",\"bytes\""); break;
  case FK_GEOMETRY:
    if (s->geometry_defined) {
      BOTH(s, "\"rowcast.Geometry\"");
    } else {
      FULL(s, "{\"type\":\"record\",\"name\":\"Geometry\",\"namespace\":\"rowcast\",\"fields\":[");
      PCF(s, "{\"name\":\"rowcast.Geometry\",\"type\":\"record\",\"fields\":[");
      BOTH(s, "{\"name\":\"srid\",\"type\":\"long\"},{\"name\":\"wkb\",\"type\":\"bytes\"}]}");
      s->geometry_defined = 1;
    }
    break;
  case FK_VECTOR: BOTH(s, "{\"type\":\"array\",\"items\":\"float\"}"); break;
  }
  BOTH(s, "]");
}

static void emit_col_field(sw *s, const rc_column *c, const acol *ac, uint32_t i) {
  BOTH(s, "{\"name\":\"");
  both_str(s, ac->avro_name);
  BOTH(s, "\",\"type\":");
  emit_col_type(s, c, ac->fk);
  rc_buf *f = s->full;
  FULL(s, ",\"default\":null,\"rowcast.name\":");
  orig_name_json(f, c, i);
  FULL(s, ",\"rowcast.sql_type\":\"");
  rc_buf_puts(f, rc_column_sql_name(c));
  FULL(s, "\"");
  if (c->is_signed == 0) FULL(s, ",\"rowcast.unsigned\":true");
  rc_buf_printf(f, ",\"rowcast.nullable\":%s", c->nullable ? "true" : "false");
  if (c->pk) FULL(s, ",\"rowcast.pk\":true");
  switch (c->type) {
  case RC_T_TIMESTAMP: case RC_T_TIMESTAMP2: case RC_T_DATETIME: case RC_T_DATETIME2: case RC_T_TIME: case RC_T_TIME2:
    rc_buf_printf(f, ",\"rowcast.fsp\":%d", col_fsp(c));
    break;
  case RC_T_BIT: rc_buf_printf(f, ",\"rowcast.bits\":%u", c->length); break;
  case RC_T_STRING: case RC_T_VARCHAR: case RC_T_VAR_STRING: rc_buf_printf(f, ",\"rowcast.length\":%u", c->length); break;
  case RC_T_GEOMETRY: rc_buf_printf(f, ",\"rowcast.geometry_type\":%u", c->geometry_type); break;
  default: break;
  }
  if (c->collation && (ac->fk == FK_TEXT || ac->fk == FK_TEXT_OR_BYTES || ac->fk == FK_BYTES || ac->fk == FK_LABEL)) {
    const char *cs = rc_charset_name(c->collation);
    if (cs) {
      FULL(s, ",\"rowcast.charset\":");
      rc_buf_json_str(f, cs, strlen(cs));
    }
    rc_buf_printf(f, ",\"rowcast.collation\":%u", c->collation);
  }
  if (ac->fk == FK_LABEL && c->labels) {
    FULL(s, ",\"rowcast.labels\":[");
    for (uint32_t k = 0; k < c->n_labels; k++) {
      if (k) FULL(s, ",");
      label_json(f, c, c->labels[k], c->label_lens[k]);
    }
    FULL(s, "]");
  }
  BOTH(s, "}");
}

/* The start of a named record: full form with namespace and properties, PCF with the full name. */
static void emit_record_start(rc_avro_table *at, sw *s, const char *suffix, int with_ns) {
  const rc_table *t = at->t;
  rc_buf ns = {0}, nm = {0};
  rc_buf_lit(&ns, "rowcast.");
  rc_avro_name(&ns, t->db, strlen(t->db));
  rc_avro_name(&nm, t->name, strlen(t->name));
  rc_buf_puts(&nm, suffix);
  FULL(s, "{\"type\":\"record\",\"name\":\"");
  rc_buf_put(s->full, nm.p, nm.len);
  FULL(s, "\"");
  if (with_ns) {
    FULL(s, ",\"namespace\":\"");
    rc_buf_put(s->full, ns.p, ns.len);
    FULL(s, "\",\"rowcast.db\":");
    rc_buf_json_str(s->full, at->db, at->db_len);
    FULL(s, ",\"rowcast.table\":");
    rc_buf_json_str(s->full, at->table, at->table_len);
  }
  FULL(s, ",\"fields\":[");
  PCF(s, "{\"name\":\"");
  rc_buf_put(s->pcf, ns.p, ns.len);
  PCF(s, ".");
  rc_buf_put(s->pcf, nm.p, nm.len);
  PCF(s, "\",\"type\":\"record\",\"fields\":[");
  rc_buf_free(&ns);
  rc_buf_free(&nm);
}

static void emit_value_schema(rc_avro_table *at) {
  const rc_table *t = at->t;
  sw s = {&at->vschema, &at->vpcf, 0};
  emit_record_start(at, &s, "_Value", 1);
  BOTH(&s, "{\"name\":\"before\",\"type\":[\"null\",");
  emit_record_start(at, &s, "_Row", 0);
  for (uint32_t i = 0; i < t->ncols; i++) {
    emit_col_field(&s, &t->cols[i], &at->cols[i], i);
    BOTH(&s, ",");
  }
  BOTH(&s, "{\"name\":\"" RC_AVRO_ABSENT_FIELD "\",\"type\":{\"type\":\"array\",\"items\":\"string\"}");
  FULL(&s, ",\"default\":[]");
  BOTH(&s, "}]}]");
  FULL(&s, ",\"default\":null");
  BOTH(&s, "},{\"name\":\"after\",\"type\":[\"null\",\"rowcast.");
  rc_avro_name(s.full, t->db, strlen(t->db));
  rc_avro_name(s.pcf, t->db, strlen(t->db));
  BOTH(&s, ".");
  rc_avro_name(s.full, t->name, strlen(t->name));
  rc_avro_name(s.pcf, t->name, strlen(t->name));
  BOTH(&s, "_Row\"]");
  FULL(&s, ",\"default\":null");
  BOTH(&s, "},{\"name\":\"op\",\"type\":");
  FULL(&s, "{\"type\":\"enum\",\"name\":\"Op\",\"namespace\":\"rowcast\",\"symbols\":[\"c\",\"u\",\"d\",\"r\"]}");
  PCF(&s, "{\"name\":\"rowcast.Op\",\"type\":\"enum\",\"symbols\":[\"c\",\"u\",\"d\",\"r\"]}");
  BOTH(&s, "},{\"name\":\"source\",\"type\":");
  FULL(&s, "{\"type\":\"record\",\"name\":\"Source\",\"namespace\":\"rowcast\",\"fields\":[");
  PCF(&s, "{\"name\":\"rowcast.Source\",\"type\":\"record\",\"fields\":[");
  BOTH(&s, "{\"name\":\"server_id\",\"type\":\"long\"},{\"name\":\"file\",\"type\":\"string\"},"
           "{\"name\":\"offset\",\"type\":\"long\"},{\"name\":\"row\",\"type\":\"long\"},"
           "{\"name\":\"gtid\",\"type\":[\"null\",\"string\"]");
  FULL(&s, ",\"default\":null");
  BOTH(&s, "},{\"name\":\"db\",\"type\":\"string\"},{\"name\":\"table\",\"type\":\"string\"},"
           "{\"name\":\"ts_ms\",\"type\":\"long\"}]}},{\"name\":\"ts_ms\",\"type\":\"long\"}]}");
  cstr(s.full);
  cstr(s.pcf);
}

static void emit_key_schema(rc_avro_table *at) {
  const rc_table *t = at->t;
  sw s = {&at->kschema, &at->kpcf, 0};
  emit_record_start(at, &s, "_Key", 1);
  int first = 1;
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (!t->cols[i].pk) continue;
    if (!first) BOTH(&s, ",");
    first = 0;
    emit_col_field(&s, &t->cols[i], &at->cols[i], i);
  }
  BOTH(&s, "]}");
  cstr(s.full);
  cstr(s.pcf);
}

/* Avro field names of the columns: sanitized, unique, never the absent-list field's name. */
static int map_names(rc_avro_table *at) {
  const rc_table *t = at->t;
  rc_buf nm = {0};
  int r = 0;
  for (uint32_t i = 0; i < t->ncols && !r; i++) {
    const rc_column *c = &t->cols[i];
    acol *ac = &at->cols[i];
    rc_buf o = {0};
    orig_name_json(&o, c, i);
    rc_buf u = {0};
    json_literal_to_utf8(&u, o.p, o.len);
    rc_buf_free(&o);
    ac->orig_len = u.len;
    ac->orig = dup_mem(u.p ? u.p : "", u.len);
    nm.len = 0;
    rc_avro_name(&nm, u.p ? u.p : "", u.len);
    rc_buf_free(&u);
    size_t base = nm.len;
    for (unsigned k = 1;; k++) {
      if (k > 1) {
        nm.len = base;
        rc_buf_printf(&nm, "_%u", k);
      }
      int clash = nm.len == sizeof RC_AVRO_ABSENT_FIELD - 1 && !memcmp(nm.p, RC_AVRO_ABSENT_FIELD, nm.len);
      for (uint32_t j = 0; j < i && !clash; j++)
        clash = strlen(at->cols[j].avro_name) == nm.len && !memcmp(at->cols[j].avro_name, nm.p, nm.len);
      if (!clash) break;
    }
    ac->avro_name = dup_mem(nm.p, nm.len);
    if (!ac->orig || !ac->avro_name) r = RC_ERR_NOMEM;
  }
  rc_buf_free(&nm);
  return r;
}

void rc_avro_table_free(rc_avro_table *at) {
  if (!at) return;
  free(at->nodes);
  free(at->pk);
  free(at->absent[0]);
  free(at->absent[1]);
  if (at->vsch) avro_schema_decref(at->vsch);
  if (at->ksch) avro_schema_decref(at->ksch);
  if (at->writer) avro_writer_free(at->writer);
  if (at->cols) {
    for (uint32_t i = 0; i < at->t->ncols; i++) {
      free(at->cols[i].avro_name);
      free(at->cols[i].orig);
      rc_buf_free(&at->cols[i].scratch[0]);
      rc_buf_free(&at->cols[i].scratch[1]);
      rc_buf_free(&at->cols[i].labels);
      free(at->cols[i].label_at);
    }
    free(at->cols);
  }
  rc_table_free(at->t);
  free(at->db);
  free(at->table);
  rc_buf_free(&at->vschema);
  rc_buf_free(&at->vpcf);
  rc_buf_free(&at->kschema);
  rc_buf_free(&at->kpcf);
  rc_buf_free(&at->tmp);
  free(at);
}

static int parse_schema(const rc_buf *json, avro_schema_t *sch, const char *what, const rc_table *t, char *errstr,
                        size_t es) {
  if (avro_schema_from_json_length(json->p, json->len, sch))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s.%s: avro-c refuses the generated %s schema: %s", t->db,
                   t->name, what, avro_strerror());
  return 0;
}

static int view_nodes(rc_avro_table *at);

int rc_avro_table_new(const rc_table *t, rc_avro_table **out, char *errstr, size_t es) {
  *out = NULL;
  for (uint32_t i = 0; i < t->ncols; i++)
    if (col_fk(&t->cols[i]) < 0)
      return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "%s.%s: column %u (%s) has binlog type %u, which has no Avro mapping",
                     t->db, t->name, i + 1, t->cols[i].name ? t->cols[i].name : "unnamed", t->cols[i].type);
  rc_avro_table *at = calloc(1, sizeof *at);
  if (!at || !(at->t = table_dup(t))) {
    free(at);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  }
  int r;
  at->cols = calloc(t->ncols ? t->ncols : 1, sizeof *at->cols);
  at->db = clean_utf8(at->t->db, strlen(at->t->db), &at->db_len);
  at->table = clean_utf8(at->t->name, strlen(at->t->name), &at->table_len);
  at->writer = avro_writer_memory(NULL, 0);
  if (!at->cols || !at->db || !at->table || !at->writer) {
    r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i < t->ncols; i++) {
    acol *ac = &at->cols[i];
    const rc_column *c = &at->t->cols[i];
    ac->fk = col_fk(c);
    int kind = c->cs_kind == RC_CS_UNKNOWN ? RC_CS_UTF8 : c->cs_kind;
    if (ac->fk != FK_LABEL || !c->labels || (kind != RC_CS_UTF8 && kind != RC_CS_LATIN1)) continue;
    if (!(ac->label_at = calloc(c->n_labels + 1, sizeof *ac->label_at))) {
      r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
      goto fail;
    }
    for (uint32_t k = 0; k < c->n_labels; k++) {
      rc_charset_utf8(&ac->labels, kind, NULL, (const uint8_t *)c->labels[k], c->label_lens[k]); /* cannot fail */
      ac->label_at[k + 1] = ac->labels.len;
    }
  }
  if ((r = map_names(at)) < 0) {
    r = rc_errf(r, errstr, es, "out of memory");
    goto fail;
  }
  emit_value_schema(at);
  at->vfp = rc_crc64(at->vpcf.p, at->vpcf.len);
  for (uint32_t i = 0; i < t->ncols; i++) at->has_key |= t->has_pk && t->cols[i].pk;
  if (at->has_key) {
    emit_key_schema(at);
    at->kfp = rc_crc64(at->kpcf.p, at->kpcf.len);
  }
  if ((r = parse_schema(&at->vschema, &at->vsch, "value", t, errstr, es)) < 0) goto fail;
  if (at->has_key && (r = parse_schema(&at->kschema, &at->ksch, "key", t, errstr, es)) < 0) goto fail;
  if (view_nodes(at) < 0) {
    r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    goto fail;
  }
  *out = at;
  return 0;
fail:
  rc_avro_table_free(at);
  return r;
}

const char *rc_avro_value_schema(const rc_avro_table *at) { return at->vschema.p; }
const char *rc_avro_value_canonical(const rc_avro_table *at) { return at->vpcf.p; }
uint64_t rc_avro_value_fingerprint(const rc_avro_table *at) { return at->vfp; }
const char *rc_avro_key_schema(const rc_avro_table *at) { return at->has_key ? at->kschema.p : NULL; }
const char *rc_avro_key_canonical(const rc_avro_table *at) { return at->has_key ? at->kpcf.p : NULL; }
uint64_t rc_avro_key_fingerprint(const rc_avro_table *at) { return at->has_key ? at->kfp : 0; }

/* ---- encoding ----------------------------------------------------------------------------- */

/*
 * avro-c writes each datum (avro_value_write, its binary encoder, a memory writer) from a view:
 * an avro_value_iface_t of rowcast's whose values read the change where it is (the row images,
 * the source) instead of being copied into avro-c's generic values first. Every node of the
 * tree (envelope, images, columns, source fields) is allocated once per table version; a column
 * value is checked and converted when the writer asks for its union branch, into that column's
 * reused buffers.
 */
enum {
  N_NULL, N_ENV, N_IMAGE, N_ROW, N_UNION, N_COL, N_COL_A, N_COL_B, N_ABSENT, N_ABSENT_ITEM, N_OP, N_SOURCE,
  N_SRC, N_GTID, N_TS, N_KEY
};

/* positions of the nodes that are not per column */
enum {
  N_NULL_0, N_ENV_0, N_IMAGE_0, N_ROW_0 = N_IMAGE_0 + 2, N_ABSENT_0 = N_ROW_0 + 2, N_ABSENT_ITEM_0 = N_ABSENT_0 + 2,
  N_OP_0 = N_ABSENT_ITEM_0 + 2, N_SOURCE_0, N_SRC_0, N_GTID_0 = N_SRC_0 + 8, N_TS_0, N_KEY_0, N_FIXED
};

struct vnode {
  rc_avro_table *at;
  uint8_t kind, slot; /* slot: 0 the before image (or the key's image), 1 the after image */
  uint32_t i;         /* column; source field; array item */
};

static avro_value_iface_t view_iface;

static void view_at(avro_value_t *v, vnode *n) {
  v->iface = &view_iface;
  v->self = n;
}

/* The nodes of one image slot: per column a union, its value and two children (GEOMETRY's
 * fields, a VECTOR's item). */
static vnode *col_node(rc_avro_table *at, int slot, uint32_t i, int which) {
  return &at->nodes[N_FIXED + ((size_t)slot * at->t->ncols + i) * 4 + (size_t)which];
}

static int view_fail(rc_avro_table *at, uint32_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int view_fail(rc_avro_table *at, uint32_t i, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(at->err, sizeof at->err, "%s.%s column %s: %s", at->t->db, at->t->name, at->cols[i].orig, what);
  return EINVAL;
}

/* Check and convert column i of the image in `slot` for the writer. */
static int prep_col(rc_avro_table *at, int slot, uint32_t i) {
  acol *ac = &at->cols[i];
  const rc_column *c = &at->t->cols[i];
  const rc_value *v = &at->img[slot][i];
  prep *pp = &ac->prep[slot];
  pp->disc = 1;
  if (v->kind == RC_V_NULL || v->kind == RC_V_ABSENT || rc_avro_value_is_lossy(c, v)) {
    pp->disc = 0;
    pp->type = AVRO_NULL;
    return 0;
  }
  int kind = v->kind;
#define WANT(cond)                                                                             \
  do {                                                                                         \
    if (!(cond)) goto mismatch;                                                                \
  } while (0)
  switch (ac->fk) {
  case FK_INT:
    if (kind == RC_V_INT) WANT(v->v.i >= INT32_MIN && v->v.i <= INT32_MAX);
    else WANT((kind == RC_V_UINT || kind == RC_V_YEAR) && v->v.u <= INT32_MAX);
    pp->type = AVRO_INT32;
    pp->l = kind == RC_V_INT ? v->v.i : (int64_t)v->v.u;
    return 0;
  case FK_LONG:
    if (kind != RC_V_INT) WANT(kind == RC_V_UINT && v->v.u <= INT64_MAX);
    pp->type = AVRO_INT64;
    pp->l = kind == RC_V_INT ? v->v.i : (int64_t)v->v.u;
    return 0;
  case FK_U64:
    WANT(kind == RC_V_UINT);
    pp->type = AVRO_BYTES;
    pp->n = u64_to_twos(v->v.u, ac->small[slot]);
    pp->p = ac->small[slot];
    return 0;
  case FK_FLOAT:
    WANT(kind == RC_V_FLOAT);
    pp->type = AVRO_FLOAT;
    pp->f = v->v.f;
    return 0;
  case FK_DOUBLE:
    WANT(kind == RC_V_DOUBLE);
    pp->type = AVRO_DOUBLE;
    pp->d = v->v.d;
    return 0;
  case FK_DECIMAL:
    WANT(kind == RC_V_DECIMAL && v->v.s.len == rc_decimal_size(c->precision, c->scale));
    uint32_t limb[BIG / 4];
    int neg;
    if (rc_decimal_unscaled(v->v.s.p, c->precision, c->scale, limb, &neg) < 0)
      return view_fail(at, i, "DECIMAL digit group out of range");
    pp->n = unscaled_to_twos(limb, neg, ac->small[slot]);
    pp->type = AVRO_BYTES;
    pp->p = ac->small[slot];
    return 0;
  case FK_DATE:
    WANT(kind == RC_V_DATE);
    pp->type = AVRO_INT32;
    pp->l = rc_days_from_civil(v->v.dt.year, v->v.dt.month, v->v.dt.day);
    return 0;
  case FK_DATETIME:
    WANT(kind == RC_V_DATETIME);
    pp->type = AVRO_INT64;
    pp->l = rc_days_from_civil(v->v.dt.year, v->v.dt.month, v->v.dt.day) * US_PER_DAY +
            ((int64_t)v->v.dt.hour * 3600 + v->v.dt.minute * 60 + v->v.dt.second) * 1000000 + v->v.dt.usec;
    return 0;
  case FK_TIMESTAMP:
    WANT(kind == RC_V_TIMESTAMP);
    pp->type = AVRO_INT64;
    pp->l = (int64_t)v->v.ts.sec * 1000000 + v->v.ts.usec;
    return 0;
  case FK_TIME: {
    WANT(kind == RC_V_TIME);
    int64_t us = ((int64_t)v->v.tm.hour * 3600 + v->v.tm.minute * 60 + v->v.tm.second) * 1000000 + v->v.tm.usec;
    pp->type = AVRO_INT64;
    pp->l = v->v.tm.neg ? -us : us;
    return 0;
  }
  case FK_BOOL:
    WANT(kind == RC_V_BIT && v->v.u <= 1);
    pp->type = AVRO_BOOLEAN;
    pp->l = (int64_t)v->v.u;
    return 0;
  case FK_BITS: {
    WANT(kind == RC_V_BIT);
    size_t n = (c->length + 7) / 8;
    if (n > 8) n = 8;
    WANT(n == 8 || v->v.u >> (8 * n) == 0);
    for (size_t k = 0; k < n; k++) ac->small[slot][k] = (uint8_t)(v->v.u >> (8 * (n - 1 - k)));
    pp->type = AVRO_BYTES;
    pp->p = ac->small[slot];
    pp->n = n;
    return 0;
  }
  case FK_LABEL: {
    WANT(kind == RC_V_ENUM || kind == RC_V_SET);
    const uint64_t u = v->v.u;
    rc_buf *s = &ac->scratch[slot];
    s->len = 0;
    if (ac->label_at && ((kind == RC_V_ENUM && u <= c->n_labels) ||
                         (kind == RC_V_SET && (c->n_labels >= 64 || !(u >> c->n_labels))))) {
      if (kind == RC_V_ENUM && u) {
        rc_buf_put(s, ac->labels.p + ac->label_at[u - 1], ac->label_at[u] - ac->label_at[u - 1]);
      } else if (kind == RC_V_SET) {
        for (uint32_t k = 0; k < c->n_labels && k < 64; k++) {
          if (!((u >> k) & 1)) continue;
          if (s->len) rc_buf_putc(s, ',');
          rc_buf_put(s, ac->labels.p + ac->label_at[k], ac->label_at[k + 1] - ac->label_at[k]);
        }
      }
    } else { /* no labels, or a value beyond them: as the JSON mapping says (or refuses) */
      at->tmp.len = 0;
      char inner[300];
      if (rc_json_value(&at->tmp, c, v, inner, sizeof inner) < 0) {
        snprintf(at->err, sizeof at->err, "%s", inner);
        return EINVAL;
      }
      if (at->tmp.p[0] == '"') json_literal_to_utf8(s, at->tmp.p, at->tmp.len);
      else rc_buf_put(s, at->tmp.p, at->tmp.len);
    }
    pp->type = AVRO_STRING;
    pp->p = s->p;
    pp->n = s->len;
    return 0;
  }
  case FK_TEXT:
  case FK_TEXT_OR_BYTES: {
    WANT(kind == RC_V_STRING);
    if (c->cs_kind == RC_CS_UTF8 && rc_utf8_valid((const char *)v->v.s.p, v->v.s.len)) {
      pp->type = AVRO_STRING; /* as it is in the row image */
      pp->p = v->v.s.p;
      pp->n = v->v.s.len;
      return 0;
    }
    rc_buf *s = &ac->scratch[slot];
    s->len = 0;
    if (rc_charset_utf8(s, c->cs_kind, c->iconv_cd, v->v.s.p, v->v.s.len) < 0) {
      if (ac->fk == FK_TEXT) return view_fail(at, i, "text not valid in its character set");
      pp->disc = 2;
      pp->type = AVRO_BYTES;
      pp->p = v->v.s.p;
      pp->n = v->v.s.len;
      return 0;
    }
    pp->type = AVRO_STRING;
    pp->p = s->p;
    pp->n = s->len;
    return 0;
  }
  case FK_BYTES: {
    WANT(kind == RC_V_STRING);
    pp->type = AVRO_BYTES;
    pp->p = v->v.s.p;
    pp->n = v->v.s.len;
    if (v->v.s.pad_to > pp->n) { /* BINARY(n): re-padded with 0x00 like the JSON mapping */
      rc_buf *s = &ac->scratch[slot];
      s->len = 0;
      rc_buf_put(s, v->v.s.p, v->v.s.len);
      memset(rc_buf_reserve(s, v->v.s.pad_to - v->v.s.len), 0, v->v.s.pad_to - v->v.s.len);
      s->len = v->v.s.pad_to;
      pp->p = s->p;
      pp->n = s->len;
    }
    return 0;
  }
  case FK_JSON: {
    WANT(kind == RC_V_JSON || kind == RC_V_JSON_DIFF);
    rc_buf *s = &ac->scratch[slot];
    s->len = 0;
    char inner[256];
    int r = kind == RC_V_JSON ? rc_json_binary_format(s, v->v.s.p, v->v.s.len, inner, sizeof inner)
                              : rc_json_diff_format(s, v->v.s.p, v->v.s.len, inner, sizeof inner);
    if (r < 0)
      return view_fail(at, i, "bad %s: %s", kind == RC_V_JSON ? "binary JSON" : "partial JSON update", inner);
    pp->type = AVRO_STRING;
    pp->p = s->p;
    pp->n = s->len;
    return 0;
  }
  case FK_GEOMETRY: {
    WANT(kind == RC_V_GEOMETRY);
    const uint8_t *p = v->v.s.p;
    uint32_t n = v->v.s.len, srid = 0;
    if (n >= 4) {
      srid = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      p += 4, n -= 4;
    }
    pp->type = AVRO_RECORD;
    pp->l = srid;
    pp->p = p;
    pp->n = n;
    return 0;
  }
  case FK_VECTOR:
    WANT(kind == RC_V_VECTOR);
    if (v->v.s.len % 4) return view_fail(at, i, "VECTOR byte length not a multiple of 4");
    pp->type = AVRO_ARRAY;
    pp->p = v->v.s.p;
    pp->n = v->v.s.len / 4;
    return 0;
  default: break;
  }
mismatch:
  return view_fail(at, i, "a value of kind %d does not fit its Avro type (%s)", kind, rc_column_sql_name(c));
#undef WANT
}

static avro_type_t view_type(const avro_value_iface_t *iface, const void *self) {
  (void)iface;
  const vnode *n = self;
  switch (n->kind) {
  case N_NULL: return AVRO_NULL;
  case N_ENV: case N_ROW: case N_SOURCE: case N_KEY: return AVRO_RECORD;
  case N_IMAGE: case N_UNION: case N_GTID: return AVRO_UNION;
  case N_COL: return (avro_type_t)n->at->cols[n->i].prep[n->slot].type;
  case N_COL_A: return n->at->cols[n->i].fk == FK_GEOMETRY ? AVRO_INT64 : AVRO_FLOAT;
  case N_COL_B: return AVRO_BYTES;
  case N_ABSENT: return AVRO_ARRAY;
  case N_ABSENT_ITEM: return AVRO_STRING;
  case N_OP: return AVRO_ENUM;
  case N_SRC: return n->i == 1 || n->i == 5 || n->i == 6 || n->i == 4 ? AVRO_STRING : AVRO_INT64;
  case N_TS: return AVRO_INT64;
  }
  return (avro_type_t)-1;
}

static int view_size(const avro_value_iface_t *iface, const void *self, size_t *size) {
  (void)iface;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  switch (n->kind) {
  case N_ENV: *size = 5; return 0;
  case N_ROW: *size = at->t->ncols + 1; return 0;
  case N_SOURCE: *size = 8; return 0;
  case N_KEY: *size = at->npk; return 0;
  case N_ABSENT: *size = at->nabsent[n->slot]; return 0;
  case N_COL: *size = at->cols[n->i].fk == FK_GEOMETRY ? 2 : at->cols[n->i].prep[n->slot].n; return 0;
  }
  return EINVAL;
}

static int view_child(const avro_value_iface_t *iface, const void *self, size_t index, avro_value_t *child,
                      const char **name) {
  (void)iface;
  if (name) *name = NULL;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  vnode *c;
  switch (n->kind) {
  case N_ENV:
    c = index < 2 ? &at->nodes[N_IMAGE_0 + index] : index == 2 ? &at->nodes[N_OP_0] : index == 3 ? &at->nodes[N_SOURCE_0] : &at->nodes[N_TS_0];
    break;
  case N_ROW:
    c = index < at->t->ncols ? col_node(at, n->slot, (uint32_t)index, 0) : &at->nodes[N_ABSENT_0 + n->slot];
    break;
  case N_SOURCE:
    c = index == 4 ? &at->nodes[N_GTID_0] : &at->nodes[N_SRC_0 + index];
    break;
  case N_KEY:
    c = col_node(at, 0, at->pk[index], 0);
    break;
  case N_ABSENT:
    c = &at->nodes[N_ABSENT_ITEM_0 + n->slot];
    c->i = at->absent[n->slot][index];
    break;
  case N_COL:
    if (at->cols[n->i].fk == FK_GEOMETRY) {
      c = col_node(at, n->slot, n->i, index ? 3 : 2);
    } else {
      c = col_node(at, n->slot, n->i, 2);
      at->item = index;
    }
    break;
  default: return EINVAL;
  }
  view_at(child, c);
  return 0;
}

static int view_disc(const avro_value_iface_t *iface, const void *self, int *out) {
  (void)iface;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  switch (n->kind) {
  case N_IMAGE: *out = at->img[n->slot] != NULL; return 0;
  case N_GTID: *out = at->src->gtid && at->src->gtid[0]; return 0;
  case N_UNION: {
    int r = prep_col(at, n->slot, n->i);
    if (r) return r;
    *out = at->cols[n->i].prep[n->slot].disc;
    return 0;
  }
  }
  return EINVAL;
}

static int view_branch(const avro_value_iface_t *iface, const void *self, avro_value_t *branch) {
  (void)iface;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  switch (n->kind) {
  case N_IMAGE: view_at(branch, at->img[n->slot] ? &at->nodes[N_ROW_0 + n->slot] : &at->nodes[N_NULL_0]); return 0;
  case N_GTID: view_at(branch, at->src->gtid && at->src->gtid[0] ? &at->nodes[N_SRC_0 + 4] : &at->nodes[N_NULL_0]); return 0;
  case N_UNION: view_at(branch, col_node(at, n->slot, n->i, 1)); return 0;
  }
  return EINVAL;
}

static int view_null(const avro_value_iface_t *iface, const void *self) {
  (void)iface;
  const vnode *n = self;
  return n->kind == N_NULL || (n->kind == N_COL && n->at->cols[n->i].prep[n->slot].disc == 0) ? 0 : EINVAL;
}

static int view_long(const avro_value_iface_t *iface, const void *self, int64_t *out) {
  (void)iface;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  switch (n->kind) {
  case N_COL: case N_COL_A: *out = at->cols[n->i].prep[n->slot].l; return 0;
  case N_TS: *out = (int64_t)at->ts_ms; return 0;
  case N_SRC:
    switch (n->i) {
    case 0: *out = at->src->server_id; return 0;
    case 2: *out = (int64_t)at->src->offset; return 0;
    case 3: *out = at->src->row; return 0;
    case 7: *out = (int64_t)at->src->event_ms; return 0;
    }
  }
  return EINVAL;
}

static int view_int(const avro_value_iface_t *iface, const void *self, int32_t *out) {
  int64_t l = 0;
  int r = view_long(iface, self, &l);
  *out = (int32_t)l;
  return r;
}

static int view_bool(const avro_value_iface_t *iface, const void *self, int *out) {
  int64_t l = 0;
  int r = view_long(iface, self, &l);
  *out = (int)l;
  return r;
}

static int view_float(const avro_value_iface_t *iface, const void *self, float *out) {
  (void)iface;
  const vnode *n = self;
  const prep *pp = &n->at->cols[n->i].prep[n->slot];
  if (n->kind == N_COL) {
    *out = pp->f;
    return 0;
  }
  /* a VECTOR item: little-endian IEEE 754 single */
  const uint8_t *q = (const uint8_t *)pp->p + 4 * n->at->item;
  uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
  memcpy(out, &u, 4);
  return 0;
}

static int view_double(const avro_value_iface_t *iface, const void *self, double *out) {
  (void)iface;
  const vnode *n = self;
  *out = n->at->cols[n->i].prep[n->slot].d;
  return 0;
}

static int view_bytes(const avro_value_iface_t *iface, const void *self, const void **buf, size_t *size) {
  (void)iface;
  const vnode *n = self;
  const prep *pp = &n->at->cols[n->i].prep[n->slot];
  *buf = pp->n ? pp->p : "";
  *size = pp->n;
  return 0;
}

/* avro-c's strings count a terminating NUL that the writer does not write: size is n + 1. */
static int view_string(const avro_value_iface_t *iface, const void *self, const char **str, size_t *size) {
  (void)iface;
  const vnode *n = self;
  rc_avro_table *at = n->at;
  switch (n->kind) {
  case N_COL: {
    const prep *pp = &at->cols[n->i].prep[n->slot];
    *str = pp->n ? pp->p : "";
    *size = pp->n + 1;
    return 0;
  }
  case N_ABSENT_ITEM:
    *str = at->cols[n->i].orig;
    *size = at->cols[n->i].orig_len + 1;
    return 0;
  case N_SRC: /* the source's string fields (gtid: the branch of its union) */
    switch (n->i) {
    case 1: *str = at->src->file ? at->src->file : ""; *size = strlen(*str) + 1; return 0;
    case 4: *str = at->src->gtid; *size = strlen(*str) + 1; return 0;
    case 5: *str = at->db; *size = at->db_len + 1; return 0;
    case 6: *str = at->table; *size = at->table_len + 1; return 0;
    }
  }
  return EINVAL;
}

static int view_enum(const avro_value_iface_t *iface, const void *self, int *out) {
  (void)iface;
  const vnode *n = self;
  *out = n->at->op;
  return 0;
}

static avro_value_iface_t view_iface = {
    .get_type = view_type,
    .get_boolean = view_bool,
    .get_bytes = view_bytes,
    .get_double = view_double,
    .get_float = view_float,
    .get_int = view_int,
    .get_long = view_long,
    .get_null = view_null,
    .get_string = view_string,
    .get_enum = view_enum,
    .get_size = view_size,
    .get_by_index = view_child,
    .get_discriminant = view_disc,
    .get_current_branch = view_branch,
};

/* The nodes of a table version's view, once. */
static int view_nodes(rc_avro_table *at) {
  const rc_table *t = at->t;
  size_t n = N_FIXED + (size_t)2 * t->ncols * 4;
  if (!(at->nodes = calloc(n, sizeof *at->nodes)) || !(at->absent[0] = calloc(t->ncols + 1, sizeof(uint32_t))) ||
      !(at->absent[1] = calloc(t->ncols + 1, sizeof(uint32_t))) || !(at->pk = calloc(t->ncols + 1, sizeof(uint32_t))))
    return RC_ERR_NOMEM;
  for (size_t k = 0; k < n; k++) at->nodes[k].at = at;
  static const uint8_t fixed[N_FIXED] = {
      [N_NULL_0] = N_NULL,       [N_ENV_0] = N_ENV,         [N_IMAGE_0] = N_IMAGE,  [N_IMAGE_0 + 1] = N_IMAGE,
      [N_ROW_0] = N_ROW,         [N_ROW_0 + 1] = N_ROW,     [N_ABSENT_0] = N_ABSENT, [N_ABSENT_0 + 1] = N_ABSENT,
      [N_ABSENT_ITEM_0] = N_ABSENT_ITEM, [N_ABSENT_ITEM_0 + 1] = N_ABSENT_ITEM, [N_OP_0] = N_OP,
      [N_SOURCE_0] = N_SOURCE,   [N_GTID_0] = N_GTID,       [N_TS_0] = N_TS,        [N_KEY_0] = N_KEY,
      [N_SRC_0] = N_SRC,         [N_SRC_0 + 1] = N_SRC,     [N_SRC_0 + 2] = N_SRC,  [N_SRC_0 + 3] = N_SRC,
      [N_SRC_0 + 4] = N_SRC,     [N_SRC_0 + 5] = N_SRC,     [N_SRC_0 + 6] = N_SRC,  [N_SRC_0 + 7] = N_SRC,
  };
  for (size_t k = 0; k < N_FIXED; k++) at->nodes[k].kind = fixed[k];
  for (int s = 0; s < 2; s++) {
    at->nodes[N_IMAGE_0 + s].slot = at->nodes[N_ROW_0 + s].slot = (uint8_t)s;
    at->nodes[N_ABSENT_0 + s].slot = at->nodes[N_ABSENT_ITEM_0 + s].slot = (uint8_t)s;
  }
  for (uint32_t k = 0; k < 8; k++) at->nodes[N_SRC_0 + k].i = k;
  for (int s = 0; s < 2; s++)
    for (uint32_t i = 0; i < t->ncols; i++) {
      static const uint8_t kinds[4] = {N_UNION, N_COL, N_COL_A, N_COL_B};
      for (int w = 0; w < 4; w++) {
        vnode *c = col_node(at, s, i, w);
        c->kind = kinds[w];
        c->slot = (uint8_t)s;
        c->i = i;
      }
    }
  for (uint32_t i = 0; i < t->ncols; i++)
    if (t->cols[i].pk) at->pk[at->npk++] = i;
  return 0;
}

/* avro_value_write of the view into the free space of out, growing it until the datum fits. On
 * error out is as it was. */
static int write_view(rc_avro_table *at, vnode *root, rc_buf *out, char *errstr, size_t es) {
  avro_value_t v;
  view_at(&v, root);
  size_t room = 256;
  for (;;) {
    char *dst = rc_buf_reserve(out, room);
    size_t avail = out->cap - out->len;
    avro_writer_memory_set_dest(at->writer, dst, (int64_t)avail);
    at->err[0] = 0;
    int rv = avro_value_write(at->writer, &v);
    if (rv == 0) {
      out->len += (size_t)avro_writer_tell(at->writer);
      return 0;
    }
    if (rv != ENOSPC || at->err[0])
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s",
                     at->err[0] ? at->err : avro_strerror());
    room = avail * 2;
  }
}

int rc_avro_encode_value(rc_avro_table *at, rc_buf *out, char op, const rc_value *before, const rc_value *after,
                         const rc_avro_source *src, uint64_t ts_ms, char *errstr, size_t es) {
  static const char ops[] = "cudr";
  const char *o = op ? strchr(ops, op) : NULL;
  if (!o) return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s: op '%c' is not one of c, u, d, r", at->t->db, at->t->name, op);
  at->op = (int)(o - ops);
  at->img[0] = before;
  at->img[1] = after;
  at->src = src;
  at->ts_ms = ts_ms;
  for (int s = 0; s < 2; s++) {
    at->nabsent[s] = 0;
    if (at->img[s])
      for (uint32_t i = 0; i < at->t->ncols; i++)
        if (at->img[s][i].kind == RC_V_ABSENT) at->absent[s][at->nabsent[s]++] = i;
  }
  return write_view(at, &at->nodes[N_ENV_0], out, errstr, es);
}

int rc_avro_encode_key(rc_avro_table *at, rc_buf *out, const rc_value *image, char *errstr, size_t es) {
  if (!at->has_key)
    return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s has no known primary key: no key schema", at->t->db, at->t->name);
  for (uint32_t k = 0; k < at->npk; k++)
    if (image[at->pk[k]].kind == RC_V_ABSENT)
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s.%s: primary-key column %s is absent from the row image",
                     at->t->db, at->t->name, at->cols[at->pk[k]].orig);
  at->img[0] = image;
  return write_view(at, &at->nodes[N_KEY_0], out, errstr, es);
}

/* ---- a JSON reader for the schema properties avro-c does not expose ----------------------- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int t;
  size_t n;        /* string length; array/object member count */
  char *s;         /* string (NUL-terminated) or number text */
  struct jv *v;    /* array items / object values */
  char **k;        /* object keys */
} jv;

typedef struct jp {
  const char *p, *end;
  int depth;
} jp;

static void jv_free(jv *j) {
  if (!j) return;
  free(j->s);
  for (size_t i = 0; i < j->n && (j->t == J_ARR || j->t == J_OBJ); i++) {
    jv_free(&j->v[i]);
    if (j->k) free(j->k[i]);
  }
  free(j->v);
  free(j->k);
  memset(j, 0, sizeof *j);
}

static void jp_ws(jp *P) {
  while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) P->p++;
}

static int jp_string(jp *P, char **out, size_t *len) {
  rc_buf b = {0};
  P->p++; /* the opening quote */
  long r = json_unescape(&b, P->p, (size_t)(P->end - P->p));
  if (r < 0) {
    rc_buf_free(&b);
    return -1;
  }
  P->p += r + 1;
  *len = b.len;
  *out = dup_mem(b.p ? b.p : "", b.len);
  rc_buf_free(&b);
  return *out ? 0 : -1;
}

static int jp_value(jp *P, jv *out) {
  memset(out, 0, sizeof *out);
  jp_ws(P);
  if (P->p >= P->end || ++P->depth > 64) return -1;
  int r = 0;
  char c = *P->p;
  if (c == '"') {
    out->t = J_STR;
    r = jp_string(P, &out->s, &out->n);
  } else if (c == '{' || c == '[') {
    int obj = c == '{';
    out->t = obj ? J_OBJ : J_ARR;
    P->p++;
    size_t cap = 0;
    jp_ws(P);
    if (P->p < P->end && *P->p == (obj ? '}' : ']')) {
      P->p++;
    } else {
      for (;;) {
        if (out->n == cap) {
          cap = cap ? cap * 2 : 8;
          jv *nv = realloc(out->v, cap * sizeof *nv);
          if (!nv) return -1;
          out->v = nv;
          if (obj) {
            char **nk = realloc(out->k, cap * sizeof *nk);
            if (!nk) return -1;
            out->k = nk;
          }
        }
        if (obj) {
          size_t kl;
          jp_ws(P);
          if (P->p >= P->end || *P->p != '"') return -1;
          if (jp_string(P, &out->k[out->n], &kl) < 0) return -1;
          jp_ws(P);
          if (P->p >= P->end || *P->p != ':') {
            free(out->k[out->n]);
            return -1;
          }
          P->p++;
        }
        r = jp_value(P, &out->v[out->n]);
        out->n++;
        if (r < 0) return -1;
        jp_ws(P);
        if (P->p < P->end && *P->p == ',') {
          P->p++;
          continue;
        }
        if (P->p < P->end && *P->p == (obj ? '}' : ']')) {
          P->p++;
          break;
        }
        return -1;
      }
    }
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    const char *s = P->p;
    while (P->p < P->end && (strchr("+-.eE", *P->p) || (*P->p >= '0' && *P->p <= '9'))) P->p++;
    out->t = J_NUM;
    out->s = dup_mem(s, (size_t)(P->p - s));
    r = out->s ? 0 : -1;
  } else if (P->end - P->p >= 4 && !memcmp(P->p, "null", 4)) {
    out->t = J_NULL, P->p += 4;
  } else if (P->end - P->p >= 4 && !memcmp(P->p, "true", 4)) {
    out->t = J_TRUE, P->p += 4;
  } else if (P->end - P->p >= 5 && !memcmp(P->p, "false", 5)) {
    out->t = J_FALSE, P->p += 5;
  } else {
    r = -1;
  }
  P->depth--;
  return r;
}

static const jv *jv_get(const jv *o, const char *key) {
  if (!o || o->t != J_OBJ) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->k[i], key)) return &o->v[i];
  return NULL;
}

static const char *jv_str(const jv *j) { return j && j->t == J_STR ? j->s : NULL; }

/* ---- decoding ---------------------------------------------------------------------------- */

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

static int is_sql(const jv *f, const char *name) {
  const char *s = jv_str(jv_get(f, "rowcast.sql_type"));
  return s && !strcmp(s, name);
}

/* The print kind of one column field of a rowcast row record. */
static int plan_col(const jv *f, dcol *d) {
  const char *nm = jv_str(jv_get(f, "rowcast.name"));
  const jv *ty = jv_get(f, "type");
  if (!nm || !ty || ty->t != J_ARR) return -1;
  d->name_len = jv_get(f, "rowcast.name")->n;
  if (!(d->name = dup_mem(nm, d->name_len))) return -1;
  const jv *fsp = jv_get(f, "rowcast.fsp");
  d->fsp = fsp && fsp->t == J_NUM ? atoi(fsp->s) : 0;
  if (d->fsp < 0 || d->fsp > 6) return -1;
  const jv *br = NULL;
  for (size_t i = 0; i < ty->n && !br; i++)
    if (!(ty->v[i].t == J_STR && !strcmp(ty->v[i].s, "null"))) br = &ty->v[i];
  if (!br) return -1;
  const char *base = br->t == J_STR ? br->s : jv_str(jv_get(br, "type"));
  const char *logical = br->t == J_OBJ ? jv_str(jv_get(br, "logicalType")) : NULL;
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
      const jv *sc = jv_get(br, "scale");
      d->scale = sc && sc->t == J_NUM ? atoi(sc->s) : 0;
      if (d->scale < 0 || d->scale > 70) return -1;
      d->pk = is_sql(f, "BIGINT") ? PK_UDEC : PK_DECIMAL;
    } else {
      d->pk = is_sql(f, "BIT") ? PK_BIT : PK_BYTES;
    }
  } else if (!strcmp(base, "string")) {
    if (is_sql(f, "JSON")) d->pk = PK_JSON;
    else if ((is_sql(f, "ENUM") || is_sql(f, "SET")) && !jv_get(f, "rowcast.labels")) d->pk = PK_NUMTEXT;
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

static int plan_build(dplan *p, const char *text, size_t len, char *errstr, size_t es) {
  jp P = {text, text + len, 0};
  jv root;
  int r = jp_value(&P, &root);
  jp_ws(&P);
  if (r < 0 || P.p != P.end) {
    jv_free(&root);
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the writer schema is not valid JSON (near byte %zu)",
                   (size_t)(P.p - text));
  }
  r = rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "the writer schema is not a rowcast value schema");
  const jv *fields = jv_get(&root, "fields"), *row = NULL;
  for (size_t i = 0; fields && fields->t == J_ARR && i < fields->n && !row; i++) {
    const char *fn = jv_str(jv_get(&fields->v[i], "name"));
    const jv *ty = jv_get(&fields->v[i], "type");
    if (!fn || (strcmp(fn, "before") && strcmp(fn, "after")) || !ty || ty->t != J_ARR) continue;
    for (size_t k = 0; k < ty->n && !row; k++)
      if (ty->v[k].t == J_OBJ) row = &ty->v[k];
  }
  const jv *rf = jv_get(row, "fields");
  if (rf && rf->t == J_ARR) {
    p->cols = calloc(rf->n ? rf->n : 1, sizeof *p->cols);
    r = p->cols ? 0 : rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    for (size_t i = 0; i < rf->n && r == 0; i++) {
      const char *fn = jv_str(jv_get(&rf->v[i], "name"));
      if (fn && !strcmp(fn, RC_AVRO_ABSENT_FIELD)) {
        p->absent_idx = i, p->has_absent = 1;
        p->ncols++; /* keeps indexes aligned with the record's fields; pk 0 = skip */
        continue;
      }
      if (plan_col(&rf->v[i], &p->cols[i]) < 0)
        r = rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "row field %s of the writer schema has no rowcast mapping",
                    fn ? fn : "(unnamed)");
      p->ncols++;
    }
  }
  jv_free(&root);
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
  if (!p || !(p->text = dup_mem(text, len))) {
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
  rc_buf_lit(b, "}\n");
  return 0;
}

int rc_avro_value_to_json(const char *schema_json, const void *datum, size_t len, rc_buf *out, char *errstr,
                          size_t es) {
  dplan *p;
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
  size_t mark = out->len;
  r = print_change(out, p, errstr, es);
  if (r < 0) out->len = mark;
  return r;
}
