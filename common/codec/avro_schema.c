/*
 * avro_schema.c: a table version as Avro (docs/avro.md): rc_avro_table_new and its accessors.
 *
 * Maps each column to its Avro form (FK_*, from mysql_types.h's codes, the signedness and the
 * charset), gives it a unique valid Avro name, and writes the value schema (the envelope) and
 * the key schema as JSON text, with rowcast's properties, together with their Parsing
 * Canonical Form (one walk writes both) and the CRC-64-AVRO fingerprints. avro-c then parses
 * both schemas once (avro_schema_from_json_length), so they are valid Avro; the encoder's plan
 * (avro_encode.c) is built here too, so a table version is ready to encode when it exists.
 *
 * Callers: the serializer (one rc_avro_table per table version, cached by signature), the
 * tests. An rc_avro_table owns a private copy of the table map and everything it points to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "charset.h"
#include "crc64.h"
#include "rc_err.h"

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

int rc_avro_json_literal_to_utf8(rc_buf *out, const char *s, size_t n) {
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

/* ---- the column mapping ------------------------------------------------------------------ */

static int col_fk(const rc_column *c) {
  if (c->masked) return FK_TEXT; /* an HMAC in hex (row_project.h) */
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
  rc_buf_puts(f, c->masked ? rc_type_sql_name(c->type, RC_TS_EITHER, c->length) : rc_column_sql_name(c));
  FULL(s, "\"");
  if (c->masked) { /* the type's details do not apply to its hash */
    rc_buf_printf(f, ",\"rowcast.nullable\":%s,\"rowcast.masked\":\"hmac-sha256\"", c->nullable ? "true" : "false");
    if (c->pk) FULL(s, ",\"rowcast.pk\":true");
    BOTH(s, "}");
    return;
  }
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
           "{\"name\":\"ts_ms\",\"type\":\"long\"}]}},{\"name\":\"ts_ms\",\"type\":\"long\"}");
  if (at->txn) {
    BOTH(&s, ",{\"name\":\"transaction\",\"type\":[\"null\",");
    FULL(&s, "{\"type\":\"record\",\"name\":\"ChangeTransaction\",\"namespace\":\"rowcast\",\"fields\":[");
    PCF(&s, "{\"name\":\"rowcast.ChangeTransaction\",\"type\":\"record\",\"fields\":[");
    BOTH(&s, "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"order\",\"type\":\"long\"},"
             "{\"name\":\"table_order\",\"type\":\"long\"}]}]");
    FULL(&s, ",\"default\":null");
    BOTH(&s, "}");
  }
  BOTH(&s, "]}");
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
    rc_avro_json_literal_to_utf8(&u, o.p, o.len);
    rc_buf_free(&o);
    ac->orig_len = u.len;
    ac->orig = rc_avro_dup_mem(u.p ? u.p : "", u.len);
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
    ac->avro_name = rc_avro_dup_mem(nm.p, nm.len);
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
  rc_buf_free(&at->dbtab);
  free(at);
}

static int parse_schema(const rc_buf *json, avro_schema_t *sch, const char *what, const rc_table *t, char *errstr,
                        size_t es) {
  if (avro_schema_from_json_length(json->p, json->len, sch))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s.%s: avro-c refuses the generated %s schema: %s", t->db,
                   t->name, what, avro_strerror());
  return 0;
}

static int table_new(const rc_table *t, int txn, rc_avro_table **out, char *errstr, size_t es);

int rc_avro_table_new(const rc_table *t, rc_avro_table **out, char *errstr, size_t es) {
  return table_new(t, 0, out, errstr, es);
}

int rc_avro_table_new_txn(const rc_table *t, rc_avro_table **out, char *errstr, size_t es) {
  return table_new(t, 1, out, errstr, es);
}

static int table_new(const rc_table *t, int txn, rc_avro_table **out, char *errstr, size_t es) {
  *out = NULL;
  for (uint32_t i = 0; i < t->ncols; i++)
    if (col_fk(&t->cols[i]) < 0)
      return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "%s.%s: column %u (%s) has binlog type %u, which has no Avro mapping",
                     t->db, t->name, i + 1, t->cols[i].name ? t->cols[i].name : "unnamed", t->cols[i].type);
  rc_avro_table *at = calloc(1, sizeof *at);
  if (!at || !(at->t = rc_table_dup(t))) {
    free(at);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  }
  int r;
  at->txn = txn;
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
  if (rc_avro_plan_new(at) < 0) {
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
