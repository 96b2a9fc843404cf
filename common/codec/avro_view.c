/*
 * avro_view.c: the reference encoder of rowcast's Avro codec: the same datums as
 * avro_encode.c's fast path, written by avro-c's own binary writer (avro_value_write into a
 * memory writer) from a view of rowcast's, an avro_value_iface_t whose nodes read the change
 * where it is: the row images, the source position. A column's value is checked against its
 * Avro form and converted when the writer asks for its union branch (prep_col), into that
 * column's reused buffers.
 *
 * This was the serializer's encoder until the per-table-version plan (avro_encode.c) replaced
 * it on the hot path: avro-c walks callbacks into the view for every field, which cost more
 * than the rest of the serializer together. It stays as an independent implementation that
 * tests/unit/test_avro_row.c compares the fast path with, byte for byte, for every value it
 * has; nothing else calls it. The view's nodes are allocated on the first use per table
 * version and owned by the table (freed by rc_avro_table_free).
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

/* ---- the view -------------------------------------------------------------------------------- */

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

#define view_fail(at, i, ...) (rc_avro_col_err((at), (i), __VA_ARGS__), EINVAL)

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
  switch (ac->fk) {
  case FK_INT:
    if (kind == RC_V_INT) RC_AVRO_WANT(v->v.i >= INT32_MIN && v->v.i <= INT32_MAX);
    else RC_AVRO_WANT((kind == RC_V_UINT || kind == RC_V_YEAR) && v->v.u <= INT32_MAX);
    pp->type = AVRO_INT32;
    pp->l = kind == RC_V_INT ? v->v.i : (int64_t)v->v.u;
    return 0;
  case FK_LONG:
    if (kind != RC_V_INT) RC_AVRO_WANT(kind == RC_V_UINT && v->v.u <= INT64_MAX);
    pp->type = AVRO_INT64;
    pp->l = kind == RC_V_INT ? v->v.i : (int64_t)v->v.u;
    return 0;
  case FK_U64:
    RC_AVRO_WANT(kind == RC_V_UINT);
    pp->type = AVRO_BYTES;
    pp->n = rc_avro_u64_twos(v->v.u, ac->small[slot]);
    pp->p = ac->small[slot];
    return 0;
  case FK_FLOAT:
    RC_AVRO_WANT(kind == RC_V_FLOAT);
    pp->type = AVRO_FLOAT;
    pp->f = v->v.f;
    return 0;
  case FK_DOUBLE:
    RC_AVRO_WANT(kind == RC_V_DOUBLE);
    pp->type = AVRO_DOUBLE;
    pp->d = v->v.d;
    return 0;
  case FK_DECIMAL:
    RC_AVRO_WANT(kind == RC_V_DECIMAL && v->v.s.len == rc_decimal_size(c->precision, c->scale));
    uint32_t limb[BIG / 4];
    int neg;
    if (rc_decimal_unscaled(v->v.s.p, c->precision, c->scale, limb, &neg) < 0)
      return view_fail(at, i, "DECIMAL digit group out of range");
    pp->n = rc_avro_unscaled_twos(limb, neg, ac->small[slot]);
    pp->type = AVRO_BYTES;
    pp->p = ac->small[slot];
    return 0;
  case FK_DATE:
    RC_AVRO_WANT(kind == RC_V_DATE);
    pp->type = AVRO_INT32;
    pp->l = rc_days_from_civil(v->v.dt.year, v->v.dt.month, v->v.dt.day);
    return 0;
  case FK_DATETIME:
    RC_AVRO_WANT(kind == RC_V_DATETIME);
    pp->type = AVRO_INT64;
    pp->l = rc_avro_datetime_us(v);
    return 0;
  case FK_TIMESTAMP:
    RC_AVRO_WANT(kind == RC_V_TIMESTAMP);
    pp->type = AVRO_INT64;
    pp->l = (int64_t)v->v.ts.sec * 1000000 + v->v.ts.usec;
    return 0;
  case FK_TIME: {
    RC_AVRO_WANT(kind == RC_V_TIME);
    pp->type = AVRO_INT64;
    pp->l = rc_avro_time_us(v);
    return 0;
  }
  case FK_BOOL:
    RC_AVRO_WANT(kind == RC_V_BIT && v->v.u <= 1);
    pp->type = AVRO_BOOLEAN;
    pp->l = (int64_t)v->v.u;
    return 0;
  case FK_BITS: {
    RC_AVRO_WANT(kind == RC_V_BIT);
    size_t n = rc_avro_bit_bytes(c);
    RC_AVRO_WANT(n == 8 || v->v.u >> (8 * n) == 0);
    for (size_t k = 0; k < n; k++) ac->small[slot][k] = (uint8_t)(v->v.u >> (8 * (n - 1 - k)));
    pp->type = AVRO_BYTES;
    pp->p = ac->small[slot];
    pp->n = n;
    return 0;
  }
  case FK_LABEL: {
    RC_AVRO_WANT(kind == RC_V_ENUM || kind == RC_V_SET);
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
      if (at->tmp.p[0] == '"') rc_avro_json_literal_to_utf8(s, at->tmp.p, at->tmp.len);
      else rc_buf_put(s, at->tmp.p, at->tmp.len);
    }
    pp->type = AVRO_STRING;
    pp->p = s->p;
    pp->n = s->len;
    return 0;
  }
  case FK_TEXT:
  case FK_TEXT_OR_BYTES: {
    RC_AVRO_WANT(kind == RC_V_STRING);
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
    RC_AVRO_WANT(kind == RC_V_STRING);
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
    RC_AVRO_WANT(kind == RC_V_JSON || kind == RC_V_JSON_DIFF);
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
    RC_AVRO_WANT(kind == RC_V_GEOMETRY);
    const uint8_t *p = v->v.s.p;
    uint32_t n = v->v.s.len, srid = rc_avro_geom_srid(&p, &n);
    pp->type = AVRO_RECORD;
    pp->l = srid;
    pp->p = p;
    pp->n = n;
    return 0;
  }
  case FK_VECTOR:
    RC_AVRO_WANT(kind == RC_V_VECTOR);
    if (v->v.s.len % 4) return view_fail(at, i, "VECTOR byte length not a multiple of 4");
    pp->type = AVRO_ARRAY;
    pp->p = v->v.s.p;
    pp->n = v->v.s.len / 4;
    return 0;
  default: break;
  }
mismatch:
  return view_fail(at, i, "a value of kind %d does not fit its Avro type (%s)", kind, rc_column_sql_name(c));
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

/* Allocate the nodes of a table version's view, once. RC_ERR_NOMEM. */
static int view_new(rc_avro_table *at) {
  const rc_table *t = at->t;
  size_t n = N_FIXED + (size_t)2 * t->ncols * 4;
  if (!(at->nodes = calloc(n, sizeof *at->nodes))) return RC_ERR_NOMEM;
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

int rc_avro_view_encode_value(rc_avro_table *at, rc_buf *out, char op, const rc_value *before,
                              const rc_value *after, const rc_avro_source *src, uint64_t ts_ms, char *errstr, size_t es) {
  static const char ops[] = "cudr";
  const char *o = op ? strchr(ops, op) : NULL;
  if (!o) return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s: op '%c' is not one of c, u, d, r", at->t->db, at->t->name, op);
  if (!at->nodes && view_new(at) < 0) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
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

int rc_avro_view_encode_key(rc_avro_table *at, rc_buf *out, const rc_value *image, char *errstr, size_t es) {
  int err = rc_avro_key_check(at, image, errstr, es);
  if (err) return err;
  if (!at->nodes && view_new(at) < 0) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  at->img[0] = image;
  return write_view(at, &at->nodes[N_KEY_0], out, errstr, es);
}
