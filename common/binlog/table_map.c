/*
 * table_map.c: parsing TABLE_MAP events, with every optional-metadata field of MySQL 8/9 and
 * MariaDB 10.5+ (signedness, charsets, names, ENUM/SET labels, geometry types, primary key).
 * Called by binlog.c for each TABLE_MAP; the result (rc_table) is what rows.c decodes against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_int.h"
#include "buf.h"
#include "charset.h"
#include "crc64.h"

/* Optional metadata field types (MySQL rows_event.h Optional_metadata_field_type). */
enum {
  OM_SIGNEDNESS = 1,
  OM_DEFAULT_CHARSET,
  OM_COLUMN_CHARSET,
  OM_COLUMN_NAME,
  OM_SET_STR_VALUE,
  OM_ENUM_STR_VALUE,
  OM_GEOMETRY_TYPE,
  OM_SIMPLE_PRIMARY_KEY,
  OM_PRIMARY_KEY_WITH_PREFIX,
  OM_ENUM_AND_SET_DEFAULT_CHARSET,
  OM_ENUM_AND_SET_COLUMN_CHARSET,
  OM_COLUMN_VISIBILITY,
  OM_VECTOR_DIMENSIONALITY,
};


void rc_table_free(rc_table *t) {
  if (!t) return;
  for (uint32_t i = 0; i < t->ncols; i++) {
    rc_column *c = &t->cols[i];
    free(c->name);
    free(c->key);
    for (uint32_t k = 0; k < c->n_labels; k++) free(c->labels[k]);
    free(c->labels);
    free(c->label_lens);
  }
  free(t->cols);
  free(t->db);
  free(t->name);
  free(t->map_body);
  free(t);
}

/* A NUL-terminated copy of n bytes, or NULL without memory. */
static char *dup_mem(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

rc_table *rc_table_dup(const rc_table *t) {
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

static char *dup_bytes(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = 0;
  }
  return s;
}

#define FAIL(...) return rc_errf(RC_ERR_CORRUPT, errstr, es, __VA_ARGS__)

/* Read the per-column metadata block. */
static int parse_column_meta(rc_table *t, rc_cur *m, char *errstr, size_t es) {
  for (uint32_t i = 0; i < t->ncols; i++) {
    rc_column *c = &t->cols[i];
    switch (c->type) {
    case RC_T_FLOAT: case RC_T_DOUBLE: /* pack length */
      c->meta = cur_u8(m);
      break;
    case RC_T_BLOB: case RC_T_TINY_BLOB: case RC_T_MEDIUM_BLOB: case RC_T_LONG_BLOB: case RC_T_GEOMETRY:
    case RC_T_JSON: case RC_T_VECTOR: /* the length-prefix size */
      c->meta = cur_u8(m);
      c->length = c->meta;
      break;
    case RC_T_VARCHAR: case RC_T_VAR_STRING: /* max bytes */
      c->meta = (uint16_t)cur_le(m, 2);
      c->length = c->meta;
      break;
    case RC_T_BIT: { /* bits%8, bytes */
      uint8_t bits = cur_u8(m), bytes = cur_u8(m);
      c->meta = (uint16_t)(bits << 8 | bytes);
      c->length = (uint32_t)bytes * 8 + bits;
      break;
    }
    case RC_T_NEWDECIMAL: /* precision, scale */
      c->precision = cur_u8(m);
      c->scale = cur_u8(m);
      c->meta = (uint16_t)(c->precision << 8 | c->scale);
      break;
    case RC_T_TIMESTAMP2: case RC_T_DATETIME2: case RC_T_TIME2: /* fsp */
      c->fsp = cur_u8(m);
      c->meta = c->fsp;
      break;
    case RC_T_STRING: case RC_T_ENUM: case RC_T_SET: {
      uint8_t b0 = cur_u8(m), b1 = cur_u8(m);
      c->meta = (uint16_t)(b0 << 8 | b1);
      if ((b0 & 0x30) != 0x30) { /* long CHAR: two length bits hide in the type byte */
        c->type = (uint8_t)(b0 | 0x30);
        c->length = b1 | (((uint32_t)(b0 & 0x30) ^ 0x30) << 4);
      } else {
        c->type = b0;
        c->length = b1;
      }
      if (c->type != RC_T_STRING && c->type != RC_T_ENUM && c->type != RC_T_SET)
        FAIL("column %u: STRING metadata names real type %u, expected 254, 247 or 248", i + 1, c->type);
      break;
    }
    default:
      break;
    }
    if (m->bad) FAIL("the column metadata block ends before column %u's metadata", i + 1);
    if (c->type == RC_T_NEWDECIMAL && (c->precision == 0 || c->precision > 65 || c->scale > 38 || c->scale > c->precision))
      FAIL("column %u: DECIMAL(%u,%u) is not a valid precision and scale", i + 1, c->precision, c->scale);
    if (rc_type_has_fsp(c->type) && c->fsp > 6)
      FAIL("column %u: fractional-second precision %u is over 6", i + 1, c->fsp);
    if (c->type == RC_T_BIT && c->length > 64)
      FAIL("column %u: BIT(%u) is over 64 bits", i + 1, c->length);
    if (rc_type_is_lenprefix(c->type) && (c->length < 1 || c->length > 4))
      FAIL("column %u: %s length-prefix size %u, expected 1 to 4", i + 1, rc_type_desc_of(c->type)->code, c->length);
    if (rc_type_has_labels(c->type) && (c->length < 1 || c->length > 8 || (c->type == RC_T_ENUM && c->length > 2)))
      FAIL("column %u: %s pack length %u is not possible", i + 1, c->type == RC_T_ENUM ? "ENUM" : "SET", c->length);
  }
  return 0;
}

/* Apply DEFAULT_CHARSET-style metadata (default, then index/collation pairs) to the columns
 * selected by pred. */
static int apply_default_charset(rc_table *t, rc_cur *v, int (*pred)(const rc_column *, int), int maria) {
  uint64_t def = cur_lenenc(v);
  if (v->bad) return -1;
  uint32_t k = 0;
  for (uint32_t i = 0; i < t->ncols; i++)
    if (pred(&t->cols[i], maria)) t->cols[i].collation = (uint16_t)def;
  while (cur_left(v) > 0) {
    uint64_t idx = cur_lenenc(v), coll = cur_lenenc(v);
    if (v->bad) return -1;
    k = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
      if (!pred(&t->cols[i], maria)) continue;
      if (k++ == idx) {
        t->cols[i].collation = (uint16_t)coll;
        break;
      }
    }
  }
  return 0;
}

static int apply_column_charset(rc_table *t, rc_cur *v, int (*pred)(const rc_column *, int), int maria) {
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (!pred(&t->cols[i], maria)) continue;
    uint64_t coll = cur_lenenc(v);
    if (v->bad) return -1;
    t->cols[i].collation = (uint16_t)coll;
  }
  return 0;
}

static int pred_char(const rc_column *c, int maria) { return rc_type_is_char(c->type, maria); }
static int pred_enum_set(const rc_column *c, int maria) {
  (void)maria;
  return rc_type_has_labels(c->type);
}

static int read_labels(rc_table *t, rc_cur *v, uint8_t type) {
  for (uint32_t i = 0; i < t->ncols; i++) {
    rc_column *c = &t->cols[i];
    if (c->type != type) continue;
    uint64_t n = cur_lenenc(v);
    if (v->bad || n > cur_left(v) || n > 65535) return -1; /* each label takes at least 1 byte */
    if (c->labels) return -1;                               /* given twice */
    c->labels = calloc(n ? n : 1, sizeof *c->labels);
    c->label_lens = calloc(n ? n : 1, sizeof *c->label_lens);
    if (!c->labels || !c->label_lens) return -1;
    c->n_labels = (uint32_t)n;
    for (uint64_t k = 0; k < n; k++) {
      uint64_t l = cur_lenenc(v);
      const uint8_t *s = cur_take(v, l);
      if (!s) return -1;
      c->labels[k] = dup_bytes(s, l);
      if (!c->labels[k]) return -1;
      c->label_lens[k] = (uint32_t)l;
    }
  }
  return 0;
}

static int parse_optional_meta(rc_table *t, rc_cur *c, int maria, char *errstr, size_t es) {
  while (cur_left(c) > 0) {
    uint8_t ft = cur_u8(c);
    uint64_t len = cur_lenenc(c);
    if (c->bad || len > cur_left(c))
      FAIL("optional metadata field %u: length %llu runs past the end of the event", ft, (unsigned long long)len);
    rc_cur v = {c->p, c->p + len, 0};
    c->p += len;
    int bad = 0;
    switch (ft) {
    case OM_SIGNEDNESS: {
      uint32_t k = 0;
      for (uint32_t i = 0; i < t->ncols; i++) {
        rc_column *col = &t->cols[i];
        if (!rc_type_is_numeric(col->type)) continue;
        if (k / 8 >= len) {
          bad = 1;
          break;
        }
        col->is_signed = (v.p[k / 8] & (0x80 >> (k % 8))) ? 0 : 1;
        k++;
      }
      t->is_numeric_known = 1;
      break;
    }
    case OM_DEFAULT_CHARSET:
      bad = apply_default_charset(t, &v, pred_char, maria) < 0;
      t->has_charsets = 1;
      break;
    case OM_COLUMN_CHARSET:
      bad = apply_column_charset(t, &v, pred_char, maria) < 0;
      t->has_charsets = 1;
      break;
    case OM_ENUM_AND_SET_DEFAULT_CHARSET:
      bad = apply_default_charset(t, &v, pred_enum_set, maria) < 0;
      break;
    case OM_ENUM_AND_SET_COLUMN_CHARSET:
      bad = apply_column_charset(t, &v, pred_enum_set, maria) < 0;
      break;
    case OM_COLUMN_NAME:
      for (uint32_t i = 0; i < t->ncols && !bad; i++) {
        uint64_t l = cur_lenenc(&v);
        const uint8_t *s = cur_take(&v, l);
        if (!s || t->cols[i].name) {
          bad = 1;
          break;
        }
        if (!(t->cols[i].name = dup_bytes(s, l))) bad = 1;
      }
      t->has_names = !bad;
      break;
    case OM_SET_STR_VALUE:
      bad = read_labels(t, &v, RC_T_SET) < 0;
      break;
    case OM_ENUM_STR_VALUE:
      bad = read_labels(t, &v, RC_T_ENUM) < 0;
      break;
    case OM_GEOMETRY_TYPE:
      for (uint32_t i = 0; i < t->ncols; i++)
        if (t->cols[i].type == RC_T_GEOMETRY) t->cols[i].geometry_type = (uint32_t)cur_lenenc(&v);
      bad = v.bad;
      break;
    case OM_SIMPLE_PRIMARY_KEY:
      while (cur_left(&v) > 0 && !bad) {
        uint64_t idx = cur_lenenc(&v);
        if (v.bad || idx >= t->ncols) bad = 1;
        else t->cols[idx].pk = 1;
      }
      t->has_pk = 1;
      break;
    case OM_PRIMARY_KEY_WITH_PREFIX:
      while (cur_left(&v) > 0 && !bad) {
        uint64_t idx = cur_lenenc(&v);
        cur_lenenc(&v); /* prefix length: the key covers only a prefix; the column is still the key */
        if (v.bad || idx >= t->ncols) bad = 1;
        else t->cols[idx].pk = 1;
      }
      t->has_pk = 1;
      break;
    default:
      /* COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY and fields of newer servers: nothing the
       * decoder needs; the TLV length frames them. */
      break;
    }
    if (bad || v.bad)
      FAIL("optional metadata field %u (%llu bytes) does not match the table's %u columns", ft,
           (unsigned long long)len, t->ncols);
  }
  return 0;
}

int rc_table_map_parse(const uint8_t *body, size_t len, int post_header_len, int is_mariadb,
                       rc_table **out, char *errstr, size_t es) {
  rc_cur c = {body, body + len, 0};
  rc_table *t = calloc(1, sizeof *t);
  if (!t) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  int r;
  /* post-header: table_id (6 bytes; 4 before MySQL 5.1.4, when the length is 6) and flags */
  t->table_id = cur_le(&c, post_header_len == 6 ? 4 : 6);
  t->flags = (uint16_t)cur_le(&c, 2);
  if (post_header_len > 8) cur_take(&c, (size_t)post_header_len - 8);
  uint8_t dl = cur_u8(&c);
  const uint8_t *db = cur_take(&c, dl);
  cur_take(&c, 1);
  uint8_t tl = cur_u8(&c);
  const uint8_t *tn = cur_take(&c, tl);
  cur_take(&c, 1);
  uint64_t ncols = cur_lenenc(&c);
  if (c.bad) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "the event ends inside the table name");
    goto fail;
  }
  if (ncols == 0 || ncols > 4096 || ncols > cur_left(&c)) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "column count %llu is not possible here", (unsigned long long)ncols);
    goto fail;
  }
  t->ncols = (uint32_t)ncols;
  t->db = dup_bytes(db, dl);
  t->name = dup_bytes(tn, tl);
  t->cols = calloc(ncols, sizeof *t->cols);
  if (!t->db || !t->name || !t->cols) {
    r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    goto fail;
  }
  const uint8_t *types = cur_take(&c, ncols);
  for (uint32_t i = 0; i < ncols; i++) {
    t->cols[i].type = types[i];
    t->cols[i].is_signed = -1;
  }
  uint64_t mlen = cur_lenenc(&c);
  const uint8_t *meta = cur_take(&c, mlen);
  if (c.bad) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "the event ends inside the column metadata");
    goto fail;
  }
  rc_cur m = {meta, meta + mlen, 0};
  if ((r = parse_column_meta(t, &m, errstr, es)) < 0) goto fail;
  if (cur_left(&m) != 0) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "column metadata has %zu bytes more than the column types need",
                cur_left(&m));
    goto fail;
  }
  const uint8_t *nulls = cur_take(&c, (ncols + 7) / 8);
  if (!nulls) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "the event ends inside the NULL bitmap");
    goto fail;
  }
  for (uint32_t i = 0; i < ncols; i++) t->cols[i].nullable = (nulls[i / 8] >> (i % 8)) & 1;
  if ((r = parse_optional_meta(t, &c, is_mariadb, errstr, es)) < 0) goto fail;
  for (uint32_t i = 0; i < ncols; i++) {
    rc_column *col = &t->cols[i];
    if (rc_type_is_char(col->type, 1) || rc_type_has_labels(col->type))
      col->cs_kind = (uint8_t)rc_charset_kind(col->collation, &col->iconv_cd);
    rc_buf k = {0};
    if (col->name) {
      rc_buf_json_str(&k, col->name, strlen(col->name));
    } else {
      rc_buf_lit(&k, "\"@");
      rc_buf_u64(&k, i + 1);
      rc_buf_putc(&k, '"');
    }
    rc_buf_putc(&k, ':');
    col->key = k.p;
    col->key_len = (uint32_t)k.len;
  }
  *out = t;
  return 0;
fail:
  rc_table_free(t);
  return r;
}

static void put_lenenc(rc_buf *b, uint64_t v) {
  if (v < 251) {
    rc_buf_putc(b, (char)v);
  } else if (v < 65536) {
    rc_buf_putc(b, (char)0xFC);
    rc_buf_putc(b, (char)v);
    rc_buf_putc(b, (char)(v >> 8));
  } else if (v < (1u << 24)) {
    rc_buf_putc(b, (char)0xFD);
    for (int i = 0; i < 3; i++) rc_buf_putc(b, (char)(v >> (8 * i)));
  } else {
    rc_buf_putc(b, (char)0xFE);
    for (int i = 0; i < 8; i++) rc_buf_putc(b, (char)(v >> (8 * i)));
  }
}

/* One optional-metadata field: type, lenenc length, value (built in tmp). */
static void put_field(rc_buf *out, uint8_t type, const rc_buf *value) {
  rc_buf_putc(out, (char)type);
  put_lenenc(out, value->len);
  rc_buf_put(out, value->p, value->len);
}

int rc_table_map_enrich(const rc_event *ev, const rc_table *orig, const rc_table *full, int is_mariadb,
                        rc_buf *out) {
  if (orig->ncols != full->ncols) return RC_ERR_ARG;
  out->len = 0;
  rc_buf_put(out, ev->raw, RC_EVENT_HEADER_LEN + ev->body_len);
  rc_buf v = {0};
  if (!orig->is_numeric_known) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < full->ncols; i++) {
      if (!rc_type_is_numeric(orig->cols[i].type)) continue;
      if (k % 8 == 0) rc_buf_putc(&v, 0);
      if (full->cols[i].is_signed == 0) v.p[v.len - 1] |= (char)(0x80 >> (k % 8));
      k++;
    }
    if (k) put_field(out, OM_SIGNEDNESS, &v);
  }
  if (!orig->has_charsets && full->has_charsets) {
    v.len = 0;
    int any = 0;
    for (uint32_t i = 0; i < full->ncols; i++)
      if (rc_type_is_char(orig->cols[i].type, is_mariadb)) {
        put_lenenc(&v, full->cols[i].collation ? full->cols[i].collation : 63);
        any = 1;
      }
    if (any) put_field(out, OM_COLUMN_CHARSET, &v);
  }
  if (!orig->has_names && full->has_names) {
    v.len = 0;
    for (uint32_t i = 0; i < full->ncols; i++) {
      const char *n = full->cols[i].name ? full->cols[i].name : "";
      put_lenenc(&v, strlen(n));
      rc_buf_puts(&v, n);
    }
    put_field(out, OM_COLUMN_NAME, &v);
  }
  for (int pass = 0; pass < 2; pass++) { /* SET (5), then ENUM (6) */
    uint8_t type = pass ? RC_T_ENUM : RC_T_SET;
    int any = 0, missing = 0, known = 1;
    for (uint32_t i = 0; i < orig->ncols; i++)
      if (orig->cols[i].type == type) {
        any = 1;
        missing |= !orig->cols[i].labels;
        known &= full->cols[i].labels != NULL;
      }
    if (!any || !missing || !known) continue;
    v.len = 0;
    for (uint32_t i = 0; i < orig->ncols; i++) {
      if (orig->cols[i].type != type) continue;
      put_lenenc(&v, full->cols[i].n_labels);
      for (uint32_t k = 0; k < full->cols[i].n_labels; k++) {
        put_lenenc(&v, full->cols[i].label_lens[k]);
        rc_buf_put(&v, full->cols[i].labels[k], full->cols[i].label_lens[k]);
      }
    }
    put_field(out, pass ? OM_ENUM_STR_VALUE : OM_SET_STR_VALUE, &v);
  }
  if (!orig->has_pk && full->has_pk) {
    v.len = 0;
    for (uint32_t i = 0; i < full->ncols; i++)
      if (full->cols[i].pk) put_lenenc(&v, i);
    put_field(out, OM_SIMPLE_PRIMARY_KEY, &v);
  }
  rc_buf_free(&v);
  uint32_t size = (uint32_t)out->len;
  for (int i = 0; i < 4; i++) out->p[9 + i] = (char)(size >> (8 * i));
  return 0;
}

uint64_t rc_table_signature(const rc_table *t) {
  if (t->sig_known) return t->sig;
  rc_buf b = {0};
#define PUT_STR(s, n)                                                                          \
  do {                                                                                         \
    uint32_t l_ = (uint32_t)(n);                                                               \
    rc_buf_put(&b, &l_, 4);                                                                    \
    rc_buf_put(&b, (s), l_);                                                                   \
  } while (0)
#define PUT_U32(x)                                                                             \
  do {                                                                                         \
    uint32_t x_ = (uint32_t)(x);                                                               \
    rc_buf_put(&b, &x_, 4);                                                                    \
  } while (0)
  rc_buf_lit(&b, "rowcast-avro-1");
  PUT_STR(t->db ? t->db : "", t->db ? strlen(t->db) : 0);
  PUT_STR(t->name ? t->name : "", t->name ? strlen(t->name) : 0);
  PUT_U32(t->ncols);
  PUT_U32(t->has_names | t->has_pk << 1);
  for (uint32_t i = 0; i < t->ncols; i++) {
    const rc_column *c = &t->cols[i];
    PUT_U32(c->type | (uint32_t)c->meta << 8);
    PUT_U32(c->length);
    PUT_U32(c->precision | c->scale << 8 | c->fsp << 16 | (uint32_t)(uint8_t)c->is_signed << 24);
    PUT_U32(c->collation | c->cs_kind << 16 | c->pk << 24 | c->nullable << 28);
    PUT_U32(c->geometry_type);
    if (c->name) PUT_STR(c->name, strlen(c->name));
    else PUT_U32(0xFFFFFFFFu);
    if (c->labels) {
      PUT_U32(c->n_labels);
      for (uint32_t k = 0; k < c->n_labels; k++) PUT_STR(c->labels[k], c->label_lens[k]);
    } else {
      PUT_U32(0xFFFFFFFFu);
    }
  }
#undef PUT_STR
#undef PUT_U32
  uint64_t fp = rc_crc64(b.p, b.len);
  rc_buf_free(&b);
  /* a table map is not changed once parsed: remember it (the caller's table is not const) */
  ((rc_table *)t)->sig = fp;
  ((rc_table *)t)->sig_known = 1;
  return fp;
}
