/*
 * avro_int.h: what the three files of rowcast's Avro codec share, and nobody else may use.
 *
 *   avro_schema.c  a table version (rc_avro_table): column mapping, Avro names, the value and
 *                  key schemas with their Parsing Canonical Forms and fingerprints
 *   avro_encode.c  the datum encoder (the serializer's hot path): the plan of a table version,
 *                  the value checks and conversions, rc_avro_encode_value/key
 *   avro_view.c    the reference encoder the tests compare it with: avro-c's avro_value_write
 *                  over an avro_value_iface_t view of the row images
 *   avro_decode.c  the decoder (rc_avro_value_to_json) `rowcast tail` and the tests use
 *
 * Private: only common/codec/avro_*.c include it. The layout of rc_avro_table is here because
 * the schema side builds it and the encoder fills and reads it.
 */
#ifndef RC_AVRO_INT_H
#define RC_AVRO_INT_H

#include <avro.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro_row.h"
#include "binlog.h"
#include "buf.h"
#include "calendar.h"

#define BIG 32 /* bytes of the big integers of decimals: DECIMAL(65) needs 28 */
_Static_assert(BIG / 4 == 8, "rc_decimal_unscaled gives 8 limbs");

#define US_PER_DAY 86400000000LL

/* How a column is written (acol.fk), from its type, signedness and charset (avro_schema.c). */
enum {
  FK_INT = 1, FK_LONG, FK_U64, FK_FLOAT, FK_DOUBLE, FK_DECIMAL, FK_DATE, FK_DATETIME,
  FK_TIMESTAMP, FK_TIME, FK_BOOL, FK_BITS, FK_LABEL, FK_TEXT, FK_TEXT_OR_BYTES, FK_BYTES,
  FK_JSON, FK_GEOMETRY, FK_VECTOR,
};

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
  int txn; /* the envelope has the `transaction` field (rc_avro_table_new_txn) */
  avro_schema_t vsch, ksch; /* avro-c's parse of the schemas: they are valid Avro */
  rc_buf tmp;
  /* the plan of the fast path (avro_encode.c), with cols[].fk and cols[].labels */
  uint32_t *pk, npk; /* the key's columns */
  rc_buf dbtab;      /* source.db and source.table, encoded (Avro strings) */
  /* the view avro-c writes from in the reference encoder (avro_view.c) and the change it shows */
  avro_writer_t writer;
  vnode *nodes; /* allocated on first use */
  uint32_t *absent[2], nabsent[2]; /* columns absent from each image */
  const rc_value *img[2];      /* before (or the key's image), after */
  const rc_avro_source *src;
  uint64_t ts_ms;
  int op;
  size_t item; /* the VECTOR item being written */
  char err[600];
};

/* A NUL-terminated copy of n bytes, owned by the caller (free), or NULL without memory. */
static inline char *rc_avro_dup_mem(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Negate a big-endian two's complement value of BIG bytes in place. */
static inline void rc_avro_big_negate(uint8_t mag[BIG]) {
  unsigned carry = 1;
  for (int k = BIG - 1; k >= 0; k--) {
    unsigned x = (uint8_t)~mag[k] + carry;
    mag[k] = (uint8_t)x;
    carry = x >> 8;
  }
}

/* A JSON string literal s[0..n) (quotes included) appended to out as UTF-8; -1 if it is not
 * one (avro_schema.c). For the text rowcast's own JSON writers produce. */
int rc_avro_json_literal_to_utf8(rc_buf *out, const char *s, size_t n);

/* Build the fast path's plan of a table version, once (avro_encode.c): called by
 * rc_avro_table_new once the columns are mapped. RC_ERR_NOMEM. */
int rc_avro_plan_new(rc_avro_table *at);

/* Minimal big-endian two's complement of an unscaled decimal (32-bit limbs, least significant
 * first, and a sign) or of an unsigned 64-bit integer into out (up to BIG bytes); returns its
 * length (avro_encode.c). */
size_t rc_avro_unscaled_twos(const uint32_t limb[BIG / 4], int neg, uint8_t *out);
size_t rc_avro_u64_twos(uint64_t u, uint8_t *out);
/* x as minimal big-endian two's complement (1 to 8 bytes) into out; returns its length. */
size_t rc_avro_i64_twos(int64_t x, uint8_t *out);

/* What both encoders share (avro_encode.c): the message of a column that cannot be written
 * (into at->err, "db.table column name: what"), and the key's preconditions (a known primary
 * key, none of its columns absent from the image): 0, or a negative rc_err_t and errstr. */
void rc_avro_col_err(rc_avro_table *at, uint32_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rc_avro_key_check(const rc_avro_table *at, const rc_value *image, char *errstr, size_t es);

/* A DATETIME as Avro's timestamp-micros (days from the civil date, then the time of day), and
 * a TIME as time-micros (negative when the TIME is). The value is of that kind and not lossy. */
static inline int64_t rc_avro_datetime_us(const rc_value *v) {
  return rc_days_from_civil(v->v.dt.year, v->v.dt.month, v->v.dt.day) * US_PER_DAY +
         ((int64_t)v->v.dt.hour * 3600 + v->v.dt.minute * 60 + v->v.dt.second) * 1000000 + v->v.dt.usec;
}
static inline int64_t rc_avro_time_us(const rc_value *v) {
  int64_t us = ((int64_t)v->v.tm.hour * 3600 + v->v.tm.minute * 60 + v->v.tm.second) * 1000000 + v->v.tm.usec;
  return v->v.tm.neg ? -us : us;
}

/* The reference encoder (avro_view.c): the same contract and the same bytes as
 * rc_avro_encode_value/key, written by avro-c's avro_value_write. For tests only. */
int rc_avro_view_encode_value(rc_avro_table *at, rc_buf *out, char op, const rc_value *before,
                              const rc_value *after, const rc_avro_source *src, uint64_t ts_ms,
                              char *errstr, size_t errstr_size);
int rc_avro_view_encode_key(rc_avro_table *at, rc_buf *out, const rc_value *image, char *errstr,
                            size_t errstr_size);

/* In a value's conversion (avro_encode.c, avro_view.c): the value does not fit its Avro type
 * unless cond holds; the function's `mismatch:` label says which column and why. */
#define RC_AVRO_WANT(cond)                                                                     \
  do {                                                                                         \
    if (!(cond)) goto mismatch;                                                                \
  } while (0)

/* A GEOMETRY value as MySQL stores it: a little-endian SRID (u32), then the WKB. Returns the
 * SRID (0 when the value is too short to hold one) and moves *g and *n past it. */
static inline uint32_t rc_avro_geom_srid(const uint8_t **g, uint32_t *n) {
  if (*n < 4) return 0;
  const uint8_t *p = *g;
  *g += 4, *n -= 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The bytes a BIT(length) value takes as Avro bytes: big-endian, (length + 7) / 8 of them. */
static inline size_t rc_avro_bit_bytes(const rc_column *c) {
  size_t n = (c->length + 7) / 8;
  return n > 8 ? 8 : n;
}

#endif
