/*
 * avro_test.c: what test_avro_row.c and test_avro_encode.c share (avro_test.h): building
 * tables and values by hand, the table of every type and two rows of it, the round trip
 * (encode, decode, compare with rc_json_change; the fast path against the reference encoder,
 * avro_view.c, read back by avro-c's own reader), and the python3-avro check of every datum
 * the round trips exported, run at the end of each test program.
 */
#include "avro_test.h"

#include "avro_int.h" /* the reference encoder, avro_view.c */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "charset.h"
#include "rc_test.h"
#include "row_json.h"

static char err[512];
static char *pydir;        /* temporary folder for the Python check, or NULL */
static FILE *manifest;     /* its manifest.jsonl */
unsigned n_exported;
int fixtures_swept;
unsigned long min_same = 20;
unsigned min_exported = 10;

/* ---- building tables and values ---------------------------------------------------------- */

rc_table *tbl_new(const char *db, const char *name, uint32_t ncols) {
  rc_table *t = calloc(1, sizeof *t);
  t->db = strdup(db);
  t->name = strdup(name);
  t->ncols = ncols;
  t->cols = calloc(ncols, sizeof *t->cols);
  t->has_names = 1;
  t->is_numeric_known = 1;
  t->has_charsets = 1;
  return t;
}

rc_column *col(rc_table *t, uint32_t i, const char *name, uint8_t type) {
  rc_column *c = &t->cols[i];
  c->name = name ? strdup(name) : NULL;
  c->type = type;
  c->is_signed = 1;
  c->nullable = 1;
  return c;
}

void col_cs(rc_column *c, uint16_t collation) {
  c->collation = collation;
  c->cs_kind = (uint8_t)rc_charset_kind(collation, &c->iconv_cd);
}

void col_labels(rc_column *c, const char *const *labels, uint32_t n) {
  c->labels = calloc(n, sizeof *c->labels);
  c->label_lens = calloc(n, sizeof *c->label_lens);
  for (uint32_t k = 0; k < n; k++) {
    c->labels[k] = strdup(labels[k]);
    c->label_lens[k] = (uint32_t)strlen(labels[k]);
  }
  c->n_labels = n;
}

/* The JSON keys, as the table-map parser makes them. */
void tbl_finish(rc_table *t) {
  for (uint32_t i = 0; i < t->ncols; i++) {
    rc_column *c = &t->cols[i];
    rc_buf k = {0};
    if (c->name) {
      rc_buf_json_str(&k, c->name, strlen(c->name));
    } else {
      rc_buf_lit(&k, "\"@");
      rc_buf_u64(&k, i + 1);
      rc_buf_putc(&k, '"');
    }
    rc_buf_putc(&k, ':');
    c->key = k.p;
    c->key_len = (uint32_t)k.len;
  }
}

rc_value V(int kind) {
  rc_value v;
  memset(&v, 0, sizeof v);
  v.kind = (uint8_t)kind;
  return v;
}
rc_value vi(int64_t i) {
  rc_value v = V(RC_V_INT);
  v.v.i = i;
  return v;
}
rc_value vu(int kind, uint64_t u) {
  rc_value v = V(kind);
  v.v.u = u;
  return v;
}
rc_value vflt(float f) {
  rc_value v = V(RC_V_FLOAT);
  v.v.f = f;
  return v;
}
rc_value vdbl(double d) {
  rc_value v = V(RC_V_DOUBLE);
  v.v.d = d;
  return v;
}
rc_value vdt(int kind, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, uint32_t us) {
  rc_value v = V(kind);
  v.v.dt.year = (uint16_t)y, v.v.dt.month = (uint8_t)mo, v.v.dt.day = (uint8_t)d;
  v.v.dt.hour = (uint8_t)h, v.v.dt.minute = (uint8_t)mi, v.v.dt.second = (uint8_t)s, v.v.dt.usec = us;
  return v;
}
rc_value vts(uint32_t sec, uint32_t usec) {
  rc_value v = V(RC_V_TIMESTAMP);
  v.v.ts.sec = sec, v.v.ts.usec = usec;
  return v;
}
rc_value vtime(int neg, uint32_t h, unsigned mi, unsigned s, uint32_t us) {
  rc_value v = V(RC_V_TIME);
  v.v.tm.neg = (uint8_t)neg, v.v.tm.hour = h, v.v.tm.minute = (uint8_t)mi, v.v.tm.second = (uint8_t)s;
  v.v.tm.usec = us;
  return v;
}
rc_value vs(int kind, const void *p, uint32_t len, uint32_t pad_to) {
  rc_value v = V(kind);
  v.v.s.p = p, v.v.s.len = len, v.v.s.pad_to = pad_to;
  return v;
}
rc_value vstr(const char *s) { return vs(RC_V_STRING, s, (uint32_t)strlen(s), 0); }

/* MySQL's packed DECIMAL of a decimal text (decimal2bin). */
const uint8_t *pack_decimal(const char *txt, int prec, int scale) {
  static uint8_t out[16][40];
  static int next;
  uint8_t *o = out[next++ % 16];
  static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  int neg = txt[0] == '-';
  if (neg) txt++;
  const char *dot = strchr(txt, '.');
  size_t il = dot ? (size_t)(dot - txt) : strlen(txt);
  const char *fr = dot ? dot + 1 : "";
  int intg = prec - scale;
  char digits[140];
  memset(digits, '0', sizeof digits);
  memcpy(digits + intg - (int)il, txt, il);
  memcpy(digits + intg, fr, strlen(fr));
  size_t n = 0;
  int pos = 0;
#define GROUP(nd)                                                                              \
  do {                                                                                         \
    uint32_t g = 0;                                                                            \
    for (int k = 0; k < (nd); k++) g = g * 10 + (uint32_t)(digits[pos++] - '0');               \
    int nb = dig2bytes[(nd)];                                                                  \
    for (int k = nb - 1; k >= 0; k--) o[n++] = (uint8_t)(g >> (8 * k));                       \
  } while (0)
  if (intg % 9) GROUP(intg % 9);
  for (int g = 0; g < intg / 9; g++) GROUP(9);
  for (int g = 0; g < scale / 9; g++) GROUP(9);
  if (scale % 9) GROUP(scale % 9);
#undef GROUP
  o[0] ^= 0x80;
  if (neg)
    for (size_t k = 0; k < n; k++) o[k] ^= 0xFF;
  return o;
}

/* ---- the round trip ---------------------------------------------------------------------- */

static void export_json_str(FILE *f, const char *s, size_t n) {
  rc_buf b = {0};
  rc_buf_json_str(&b, s, n);
  fwrite(b.p, 1, b.len, f);
  rc_buf_free(&b);
}

static char *write_tmp(const char *name, const void *p, size_t n) {
  size_t l = strlen(pydir) + strlen(name) + 2;
  char *path = malloc(l);
  snprintf(path, l, "%s/%s", pydir, name);
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(p, 1, n, f);
    fclose(f);
  }
  return path;
}

/* One datum for the Python check: schema, its PCF and fingerprint, the datum, the expected JSON. */
static void export_case(const char *kind, const char *schema, const char *pcf, uint64_t fp, const void *datum,
                        size_t len, const char *expect, size_t expect_len) {
  if (!manifest) return;
  char name[64];
  snprintf(name, sizeof name, "schema-%016llx.avsc", (unsigned long long)fp);
  free(write_tmp(name, schema, strlen(schema)));
  snprintf(name, sizeof name, "schema-%016llx.pcf", (unsigned long long)fp);
  free(write_tmp(name, pcf, strlen(pcf)));
  snprintf(name, sizeof name, "datum-%04u.bin", n_exported++);
  free(write_tmp(name, datum, len));
  fprintf(manifest, "{\"kind\":\"%s\",\"schema\":\"schema-%016llx.avsc\",\"pcf\":\"schema-%016llx.pcf\","
                    "\"fingerprint\":\"%016llx\",\"datum\":\"%s\",\"expect\":",
          kind, (unsigned long long)fp, (unsigned long long)fp, (unsigned long long)fp, name);
  export_json_str(manifest, expect, expect_len);
  fputs("}\n", manifest);
}

/* ---- the fast path against avro-c's writer and reader ---------------------------------------- */

/* A writer schema parsed by avro-c, with two generic values and a memory reader, per
 * fingerprint. */
typedef struct reader_ent {
  uint64_t fp;
  avro_schema_t sch;
  avro_value_iface_t *iface;
  avro_value_t v[2];
  avro_reader_t rd;
} reader_ent;

static reader_ent readers[256];
static size_t nreaders;
unsigned long n_same, n_same_err, n_differ;
int quiet; /* the self-check's expected differences are not printed */

static reader_ent *reader_for(uint64_t fp, const char *schema) {
  for (size_t k = 0; k < nreaders; k++)
    if (readers[k].fp == fp) return &readers[k];
  if (nreaders == sizeof readers / sizeof readers[0]) return NULL;
  reader_ent *e = &readers[nreaders];
  if (avro_schema_from_json_length(schema, strlen(schema), &e->sch)) return NULL;
  e->iface = avro_generic_class_from_schema(e->sch);
  if (!e->iface || avro_generic_value_new(e->iface, &e->v[0]) || avro_generic_value_new(e->iface, &e->v[1])) return NULL;
  e->rd = avro_reader_memory(NULL, 0);
  e->fp = fp;
  nreaders++;
  return e;
}

static void readers_free(void) {
  for (size_t k = 0; k < nreaders; k++) {
    avro_value_decref(&readers[k].v[0]);
    avro_value_decref(&readers[k].v[1]);
    avro_value_iface_decref(readers[k].iface);
    avro_schema_decref(readers[k].sch);
    avro_reader_free(readers[k].rd);
  }
  nreaders = 0;
}

/* avro-c's reader over the whole datum: 0 when it reads one value and nothing is left over. */
static int read_datum(reader_ent *e, int which, const rc_buf *d) {
  avro_value_reset(&e->v[which]);
  avro_reader_memory_set_source(e->rd, d->len ? d->p : "", (int64_t)d->len);
  if (avro_value_read(e->rd, &e->v[which])) return -1;
  char extra;
  return avro_read(e->rd, &extra, 1) == 0 ? -1 : 0; /* a byte past the datum */
}

/* Compare two records read by avro-c field by field, descending into the before/after rows;
 * name the first field that differs in `where`. */
static int same_fields(avro_value_t *a, avro_value_t *b, char *where, size_t wsz, int depth) {
  size_t n = 0, m = 0;
  if (avro_value_get_type(a) != AVRO_RECORD || depth > 1) return avro_value_equal_fast(a, b) ? 0 : -1;
  avro_value_get_size(a, &n);
  avro_value_get_size(b, &m);
  if (n != m) return snprintf(where, wsz, "record sizes %zu/%zu", n, m), -1;
  for (size_t k = 0; k < n; k++) {
    avro_value_t fa, fb;
    const char *name = NULL;
    avro_value_get_by_index(a, k, &fa, &name);
    avro_value_get_by_index(b, k, &fb, NULL);
    if (avro_value_equal_fast(&fa, &fb)) continue;
    if (avro_value_get_type(&fa) == AVRO_UNION) { /* before/after: the row's columns */
      avro_value_t ba, bb;
      avro_value_get_current_branch(&fa, &ba);
      avro_value_get_current_branch(&fb, &bb);
      size_t used = (size_t)snprintf(where, wsz, "%s.", name);
      if (used < wsz && avro_value_get_type(&ba) == AVRO_RECORD && avro_value_get_type(&bb) == AVRO_RECORD &&
          same_fields(&ba, &bb, where + used, wsz - used, depth + 1) < 0)
        return -1;
    }
    snprintf(where, wsz, "field %s", name);
    return -1;
  }
  return 0;
}

/* The datum the fast path wrote (fast, or its error fr) against the reference encoder's (ref,
 * rr): both refuse, or both write the same bytes that avro-c reads back to equal values. */
int same_as_reference(const char *what, uint64_t fp, const char *schema, const rc_buf *fast, int fr,
                             const rc_buf *ref, int rr) {
  if (fr < 0 || rr < 0) {
    if (fr < 0 && rr < 0) return n_same_err++, 0;
    if (!quiet) fprintf(stderr, "%s: fast path %s, reference %s\n", what, fr < 0 ? "refused" : "wrote", rr < 0 ? "refused" : "wrote");
    return n_differ++, -1;
  }
  reader_ent *e = reader_for(fp, schema);
  char where[512] = "";
  int r = !e ? -2 : read_datum(e, 0, fast) < 0 ? -3 : read_datum(e, 1, ref) < 0 ? -4 : 0;
  if (r == 0 && same_fields(&e->v[0], &e->v[1], where, sizeof where, 0) < 0) r = -5;
  if (r == 0 && (fast->len != ref->len || memcmp(fast->p, ref->p, fast->len))) r = -6;
  if (r == 0) return n_same++, 0;
  static const char *const why[] = {"", "", "avro-c refuses the schema", "avro-c cannot read the fast datum exactly",
                                    "avro-c cannot read the reference datum exactly", "the values differ", "the bytes differ"};
  if (!quiet) fprintf(stderr, "%s: %s %s (%zu bytes fast, %zu reference)\n", what, why[-r], where, fast->len, ref->len);
  return n_differ++, -1;
}

/* Both encoders over one change: the value, and the key when the table has one. */
int check_encoders(rc_avro_table *at, char op, const rc_value *before, const rc_value *after,
                          const rc_avro_source *src) {
  rc_buf f = {0}, v = {0};
  char e2[512];
  int fr = rc_avro_encode_value(at, &f, op, before, after, src, 1700000000123ULL, err, sizeof err);
  int vr = rc_avro_view_encode_value(at, &v, op, before, after, src, 1700000000123ULL, e2, sizeof e2);
  int res = same_as_reference("value", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, fr, &v, vr);
  if (fr < 0 && vr < 0 && strcmp(err, e2)) {
    fprintf(stderr, "value: the errors differ: \"%s\" / \"%s\"\n", err, e2);
    res = -1;
  }
  const rc_value *kimg = op == 'c' ? after : before;
  if (rc_avro_key_schema(at) && kimg) {
    f.len = v.len = 0;
    fr = rc_avro_encode_key(at, &f, kimg, err, sizeof err);
    vr = rc_avro_view_encode_key(at, &v, kimg, e2, sizeof e2);
    if (same_as_reference("key", rc_avro_key_fingerprint(at), rc_avro_key_schema(at), &f, fr, &v, vr) < 0) res = -1;
  }
  rc_buf_free(&f);
  rc_buf_free(&v);
  return res;
}

/* Encode a change, decode it back and compare with rc_json_change (lossy values as null).
 * Returns 1 when compared, 0 when both sides refused the change, -1 on a mismatch. */
int roundtrip_ex(rc_avro_table *at, const rc_table *t, char op, const rc_value *before,
                        const rc_value *after, const rc_change_pos *pos, int export) {
  rc_value *b2 = NULL, *a2 = NULL;
  if (before) {
    b2 = malloc(t->ncols * sizeof *b2);
    memcpy(b2, before, t->ncols * sizeof *b2);
  }
  if (after) {
    a2 = malloc(t->ncols * sizeof *a2);
    memcpy(a2, after, t->ncols * sizeof *a2);
  }
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (b2 && rc_avro_value_is_lossy(&t->cols[i], &b2[i])) b2[i].kind = RC_V_NULL;
    if (a2 && rc_avro_value_is_lossy(&t->cols[i], &a2[i])) a2[i].kind = RC_V_NULL;
  }
  rc_buf want = {0}, datum = {0}, got = {0};
  char jerr[256] = "";
  int jr = rc_json_change(&want, t, op, b2, a2, pos, jerr, sizeof jerr);
  rc_avro_source src = {7, pos->file, pos->offset, pos->row, pos->gtid, (uint64_t)pos->ts * 1000 + 999, NULL};
  int same = check_encoders(at, op, before, after, &src);
  int er = rc_avro_encode_value(at, &datum, op, before, after, &src, 1700000000123ULL, err, sizeof err);
  int res;
  if (jr < 0 || er < 0) {
    res = jr < 0 && er < 0 ? 0 : -1;
    if (res < 0) fprintf(stderr, "json: %d %s / avro: %d %s\n", jr, jerr, er, er < 0 ? err : "");
  } else {
    int dr = rc_avro_value_to_json(rc_avro_value_schema(at), datum.p, datum.len, &got, err, sizeof err);
    if (dr < 0) fprintf(stderr, "decode: %s\n", err);
    rc_buf_putc(&got, '\0');
    rc_buf_putc(&want, '\0');
    res = dr == 0 && !strcmp(got.p, want.p) ? 1 : -1;
    if (res < 0) fprintf(stderr, "avro round trip differs:\n got  %s want %s", got.p, want.p);
    if (res > 0 && export) {
      export_case("value", rc_avro_value_schema(at), rc_avro_value_canonical(at), rc_avro_value_fingerprint(at),
                  datum.p, datum.len, want.p, want.len - 1);
      const rc_value *img = op == 'c' ? a2 : b2;
      const rc_value *raw = op == 'c' ? after : before;
      if (rc_avro_key_schema(at) && img) {
        /* the expected key: the row with the non-key columns left out */
        rc_value *k = malloc(t->ncols * sizeof *k);
        for (uint32_t i = 0; i < t->ncols; i++) k[i] = t->cols[i].pk ? img[i] : V(RC_V_ABSENT);
        rc_buf kj = {0}, kd = {0};
        if (rc_json_row(&kj, t, k, jerr, sizeof jerr) == 0 &&
            rc_avro_encode_key(at, &kd, raw, err, sizeof err) == 0)
          export_case("key", rc_avro_key_schema(at), rc_avro_key_canonical(at), rc_avro_key_fingerprint(at),
                      kd.p, kd.len, kj.p, kj.len);
        rc_buf_free(&kj);
        rc_buf_free(&kd);
        free(k);
      }
    }
  }
  if (same < 0) res = -1;
  rc_buf_free(&want);
  rc_buf_free(&datum);
  rc_buf_free(&got);
  free(b2);
  free(a2);
  return res;
}

int roundtrip(rc_avro_table *at, const rc_table *t, char op, const rc_value *before, const rc_value *after) {
  rc_change_pos pos = {"mariadb-bin.000042", 123456789012ULL, 3, "0-1-42", 1700000000, NULL};
  return roundtrip_ex(at, t, op, before, after, &pos, 1);
}

/* ---- the table of every type ------------------------------------------------------------ */

rc_table *alltypes_table(void) {
  rc_table *t = tbl_new("shop", "all_types", C_NCOLS);
  rc_column *c;
  col(t, C_TINY, "id", RC_T_TINY)->pk = 1;
  t->cols[C_TINY].nullable = 0;
  col(t, C_UTINY, "u tiny", RC_T_TINY)->is_signed = 0;
  col(t, C_SMALL, "small", RC_T_SHORT);
  col(t, C_USMALL, "usmall", RC_T_SHORT)->is_signed = 0;
  col(t, C_MED, "med", RC_T_INT24);
  col(t, C_UMED, "umed", RC_T_INT24)->is_signed = 0;
  col(t, C_INT, "i", RC_T_LONG);
  col(t, C_UINT, "ui", RC_T_LONG)->is_signed = 0;
  col(t, C_BIG, "big", RC_T_LONGLONG);
  c = col(t, C_UBIG, "ubig", RC_T_LONGLONG);
  c->is_signed = 0, c->pk = 1, c->nullable = 0;
  col(t, C_FLOAT, "f", RC_T_FLOAT);
  col(t, C_DOUBLE, "d", RC_T_DOUBLE);
  c = col(t, C_DEC, "price", RC_T_NEWDECIMAL);
  c->precision = 10, c->scale = 2;
  c = col(t, C_DEC0, "dec0", RC_T_NEWDECIMAL);
  c->precision = 5, c->scale = 0;
  c = col(t, C_DECBIG, "decbig", RC_T_NEWDECIMAL);
  c->precision = 65, c->scale = 30;
  col(t, C_DATE, "day", RC_T_DATE);
  col(t, C_DT0, "dt0", RC_T_DATETIME2);
  c = col(t, C_DT6, "dt6", RC_T_DATETIME2);
  c->fsp = 6;
  col(t, C_DTOLD, "dtold", RC_T_DATETIME);
  col(t, C_TS0, "ts0", RC_T_TIMESTAMP2);
  c = col(t, C_TS3, "ts3", RC_T_TIMESTAMP2);
  c->fsp = 3;
  col(t, C_TSOLD, "tsold", RC_T_TIMESTAMP);
  col(t, C_TIME0, "t0", RC_T_TIME2);
  c = col(t, C_TIME6, "t6", RC_T_TIME2);
  c->fsp = 6;
  col(t, C_TIMEOLD, "told", RC_T_TIME);
  col(t, C_YEAR, "y", RC_T_YEAR);
  col(t, C_BIT1, "flag", RC_T_BIT)->length = 1;
  col(t, C_BIT5, "bits5", RC_T_BIT)->length = 5;
  col(t, C_BIT64, "bits64", RC_T_BIT)->length = 64;
  static const char *const colors[] = {"red", "green", "bl\"ue", "\xc3\xa9t\xc3\xa9"};
  c = col(t, C_ENUM, "color", RC_T_ENUM);
  c->length = 1;
  col_cs(c, 45);
  col_labels(c, colors, 4);
  c = col(t, C_SET, "tags", RC_T_SET);
  c->length = 1;
  col_cs(c, 8);
  static const char *const tags[] = {"a", "b", "c", "\xe9"};
  col_labels(c, tags, 4);
  col(t, C_ENUM_NL, "enum_nl", RC_T_ENUM)->length = 1;
  col(t, C_SET_NL, "set_nl", RC_T_SET)->length = 8;
  c = col(t, C_VARCHAR, "name", RC_T_VARCHAR);
  c->length = 200;
  col_cs(c, 45);
  c = col(t, C_LATIN1, "latin", RC_T_STRING);
  c->length = 10;
  col_cs(c, 8);
  c = col(t, C_UCS2, "ucs2", RC_T_VARCHAR);
  c->length = 20;
  col_cs(c, 35);
  c = col(t, C_CHAR_BIN, "bin4", RC_T_STRING);
  c->length = 4;
  col_cs(c, 63);
  c = col(t, C_VARBIN, "vb", RC_T_VARCHAR);
  c->length = 16;
  col_cs(c, 63);
  c = col(t, C_BLOB, "blob", RC_T_BLOB);
  c->length = 2;
  col_cs(c, 63);
  c = col(t, C_TEXT_UNK, "text_unknown", RC_T_BLOB);
  c->length = 4;
  col(t, C_JSON, "doc", RC_T_JSON)->length = 4;
  col(t, C_GEOM, "shape", RC_T_GEOMETRY)->length = 4;
  col(t, C_GEOM2, "shape2", RC_T_GEOMETRY)->length = 4;
  col(t, C_VECTOR, "embedding", RC_T_VECTOR)->length = 4;
  t->has_pk = 1;
  tbl_finish(t);
  return t;
}

static const uint8_t json_arr[] = {0x02, 0x02, 0x00, 0x0a, 0x00, 0x05, 0x01, 0x00, 0x04, 0x01, 0x00};
static const uint8_t json_diff[] = {
    0x00, 0x05, '$', '.', 'a', 'g', 'e', 0x03, 0x05, 0x1a, 0x00,
    0x01, 0x06, '$', '.', 'b', '[', '1', ']', 0x03, 0x0c, 0x01, 'x',
    0x02, 0x03, '$', '.', 'c',
};
static const uint8_t geom[] = {0xE6, 0x10, 0, 0, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,
                               0, 0, 0, 0, 0, 0, 0, 0x40};
static const uint8_t vec[] = {0x00, 0x00, 0x80, 0x3F, 0xCD, 0xCC, 0xCC, 0x3D, 0x00, 0x00, 0x80, 0xBF};

void fill_row_a(rc_value *r) {
  r[C_TINY] = vi(-128);
  r[C_UTINY] = vu(RC_V_UINT, 255);
  r[C_SMALL] = vi(-32768);
  r[C_USMALL] = vu(RC_V_UINT, 65535);
  r[C_MED] = vi(-8388608);
  r[C_UMED] = vu(RC_V_UINT, 16777215);
  r[C_INT] = vi(INT32_MIN);
  r[C_UINT] = vu(RC_V_UINT, 4294967295u);
  r[C_BIG] = vi(INT64_MIN);
  r[C_UBIG] = vu(RC_V_UINT, UINT64_MAX);
  r[C_FLOAT] = vflt(3.4028235e+38f);
  r[C_DOUBLE] = vdbl(0.1);
  r[C_DEC] = vs(RC_V_DECIMAL, pack_decimal("-12345678.90", 10, 2), 5, 0);
  r[C_DEC0] = vs(RC_V_DECIMAL, pack_decimal("99999", 5, 0), 3, 0);
  r[C_DECBIG] = vs(RC_V_DECIMAL,
                   pack_decimal("-99999999999999999999999999999999999.999999999999999999999999999999", 65, 30), 30, 0);
  r[C_DATE] = vdt(RC_V_DATE, 2024, 2, 29, 0, 0, 0, 0);
  r[C_DT0] = vdt(RC_V_DATETIME, 1000, 1, 1, 0, 0, 0, 0);
  r[C_DT6] = vdt(RC_V_DATETIME, 9999, 12, 31, 23, 59, 59, 999999);
  r[C_DTOLD] = vdt(RC_V_DATETIME, 1969, 12, 31, 23, 59, 59, 0);
  r[C_TS0] = vts(2147483647, 0);
  r[C_TS3] = vts(1, 123000);
  r[C_TSOLD] = vts(1700000000, 0);
  r[C_TIME0] = vtime(1, 838, 59, 59, 0);
  r[C_TIME6] = vtime(1, 0, 0, 0, 500000);
  r[C_TIMEOLD] = vtime(0, 100, 0, 1, 0);
  r[C_YEAR] = vu(RC_V_YEAR, 2155);
  r[C_BIT1] = vu(RC_V_BIT, 1);
  r[C_BIT5] = vu(RC_V_BIT, 31);
  r[C_BIT64] = vu(RC_V_BIT, UINT64_MAX);
  r[C_ENUM] = vu(RC_V_ENUM, 3);
  r[C_SET] = vu(RC_V_SET, 0xF);
  r[C_ENUM_NL] = vu(RC_V_ENUM, 2);
  r[C_SET_NL] = vu(RC_V_SET, 0x8000000000000001ULL);
  r[C_VARCHAR] = vstr("h\xc3\xa9llo \"w\"\n\t\\ \xf0\x9f\x98\x80 \x01");
  r[C_LATIN1] = vs(RC_V_STRING, "caf\xe9\x80", 5, 0);
  r[C_UCS2] = vs(RC_V_STRING, "\x00h\x00i", 4, 0);
  r[C_CHAR_BIN] = vs(RC_V_STRING, "\x01", 1, 4);
  r[C_VARBIN] = vs(RC_V_STRING, "\x00\xff\x10", 3, 0);
  r[C_BLOB] = vs(RC_V_STRING, "", 0, 0);
  r[C_TEXT_UNK] = vs(RC_V_STRING, "abc", 3, 0);
  r[C_JSON] = vs(RC_V_JSON, json_arr, sizeof json_arr, 0);
  r[C_GEOM] = vs(RC_V_GEOMETRY, geom, sizeof geom, 0);
  r[C_GEOM2] = vs(RC_V_GEOMETRY, "", 0, 0);
  r[C_VECTOR] = vs(RC_V_VECTOR, vec, sizeof vec, 0);
}

void fill_row_b(rc_value *r) {
  r[C_TINY] = vi(0);
  r[C_UTINY] = vu(RC_V_UINT, 0);
  r[C_SMALL] = vi(32767);
  r[C_USMALL] = V(RC_V_NULL);
  r[C_MED] = vi(8388607);
  r[C_UMED] = vu(RC_V_UINT, 0);
  r[C_INT] = vi(INT32_MAX);
  r[C_UINT] = vu(RC_V_UINT, 0);
  r[C_BIG] = vi(INT64_MAX);
  r[C_UBIG] = vu(RC_V_UINT, 9223372036854775808ULL);
  r[C_FLOAT] = vflt(-1.5e-45f);
  r[C_DOUBLE] = vdbl(-1.7976931348623157e308);
  r[C_DEC] = vs(RC_V_DECIMAL, pack_decimal("0.05", 10, 2), 5, 0);
  r[C_DEC0] = vs(RC_V_DECIMAL, pack_decimal("-1", 5, 0), 3, 0);
  r[C_DECBIG] = vs(RC_V_DECIMAL, pack_decimal("0.000000000000000000000000000001", 65, 30), 30, 0);
  r[C_DATE] = vdt(RC_V_DATE, 1, 1, 1, 0, 0, 0, 0);
  r[C_DT0] = vdt(RC_V_DATETIME, 1970, 1, 1, 0, 0, 0, 0);
  r[C_DT6] = vdt(RC_V_DATETIME, 1900, 3, 1, 12, 0, 0, 1);
  r[C_DTOLD] = V(RC_V_ABSENT);
  r[C_TS0] = vts(86400, 0);
  r[C_TS3] = vts(1700000000, 999000);
  r[C_TSOLD] = V(RC_V_NULL);
  r[C_TIME0] = vtime(0, 0, 0, 0, 0);
  r[C_TIME6] = vtime(0, 23, 59, 59, 1);
  r[C_TIMEOLD] = vtime(1, 0, 0, 1, 0);
  r[C_YEAR] = vu(RC_V_YEAR, 0);
  r[C_BIT1] = vu(RC_V_BIT, 0);
  r[C_BIT5] = vu(RC_V_BIT, 0);
  r[C_BIT64] = vu(RC_V_BIT, 0x8000000000000000ULL);
  r[C_ENUM] = vu(RC_V_ENUM, 0);
  r[C_SET] = vu(RC_V_SET, 0);
  r[C_ENUM_NL] = vu(RC_V_ENUM, 0);
  r[C_SET_NL] = vu(RC_V_SET, 0);
  r[C_VARCHAR] = vstr("");
  r[C_LATIN1] = vs(RC_V_STRING, "", 0, 0);
  r[C_UCS2] = vs(RC_V_STRING, "\x00", 1, 0); /* not valid UCS-2: the bytes branch */
  r[C_CHAR_BIN] = vs(RC_V_STRING, "\x01\x02\x03\x04", 4, 4);
  r[C_VARBIN] = V(RC_V_ABSENT);
  r[C_BLOB] = V(RC_V_ABSENT);
  r[C_TEXT_UNK] = V(RC_V_NULL);
  r[C_JSON] = vs(RC_V_JSON_DIFF, json_diff, sizeof json_diff, 0);
  r[C_GEOM] = V(RC_V_NULL);
  r[C_GEOM2] = vs(RC_V_GEOMETRY, geom, sizeof geom, 0);
  r[C_VECTOR] = vs(RC_V_VECTOR, "", 0, 0);
}

/* ---- python3-avro ----------------------------------------------------------------------------- */

void python_start(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src) return;
  static char tmpl[] = "/tmp/rowcast-avro-XXXXXX";
  pydir = mkdtemp(tmpl);
  if (!pydir) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/manifest.jsonl", pydir);
  manifest = fopen(path, "w");
}

void test_python_avro(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src || !manifest) {
    fprintf(stderr, "test_python_avro: ROWCAST_SOURCE_DIR unset, skipped\n");
    return;
  }
  fclose(manifest);
  manifest = NULL;
  RC_CHECK(n_exported > (fixtures_swept ? 20u : min_exported)); /* the fixtures' datums, when they are there */
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/integration/check_avro_python.py' --dir '%s' --golden '%s/tests/golden'",
           src, pydir, src);
  int st = system(cmd);
  int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (code == 77) fprintf(stderr, "test_python_avro: python3-avro not available, skipped\n");
  RC_CHECK(code == 0 || code == 77);
  if (code == 0 || code == 77) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pydir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", pydir);
  } else {
    fprintf(stderr, "test_python_avro: the datums are kept in %s\n", pydir);
  }
}

/* Every datum of the round trips above (the hand-built tables and values, the fixture tables,
 * every row change of the public fixtures) was the same through both encoders. */
void test_fast_matches_reference(void) {
  fprintf(stderr, "test_fast_matches_reference: %lu datums identical and read back equal by avro-c, %lu refused by "
                  "both, %lu differ\n", n_same, n_same_err, n_differ);
  RC_CHECK(n_differ == 0);
  RC_CHECK(n_same > (fixtures_swept ? 200u : min_same));
  readers_free();
}
