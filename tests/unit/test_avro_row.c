/*
 * test_avro_row.c: Avro schemas and datums of row changes (common/codec/avro_*.c).
 *
 * - CRC-64-AVRO against the specification's test values; name mapping and collisions.
 * - Round trips: values of every kind encoded with rc_avro_encode_value, decoded with
 *   rc_avro_value_to_json and compared byte for byte with rc_json_change for the same change
 *   (zero/invalid dates, the one lossy case, compared as null). Tables are hand-built, parsed
 *   from TABLE_MAP events of the public fixtures (embedded below), and, when the fixtures folder
 *   is there, every row change of every public binlog fixture goes through the round trip.
 * - Golden files: the value/key schemas of a fixed set of tables, byte for byte, under
 *   $ROWCAST_SOURCE_DIR/tests/golden (ROWCAST_UPDATE_GOLDEN=1 rewrites them).
 * - The fast path against the reference encoder: every datum (value and key) the round trips
 *   write with rc_avro_encode_value/key is written again by avro_view.c (avro-c's
 *   avro_value_write over rowcast's value view, the serializer's encoder before the plan) and
 *   must be the same bytes; both are read back with avro-c's own reader (avro_value_read into
 *   generic values of the parsed writer schema), which must consume every byte, and compared
 *   field by field, column by column, naming the first that differs. A datum with one byte
 *   changed must fail that check (the check checks itself).
 * - python3-avro: the datums and schemas are written to a temporary folder and
 *   tests/integration/check_avro_python.py (Debian's /usr/bin/python3) parses the schemas,
 *   recomputes the canonical forms and fingerprints, decodes every datum, compares it with the
 *   canonical JSON, and reads it again through a newer reader schema (one column added).
 */
#include "avro_row.h"
#include "avro_int.h" /* the reference encoder, avro_view.c */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "binlog.h"
#include "charset.h"
#include "crc64.h"
#include "rc_test.h"
#include "row_json.h"

static char err[512];
static char *pydir;        /* temporary folder for the Python check, or NULL */
static FILE *manifest;     /* its manifest.jsonl */
static unsigned n_exported;

/* ---- building tables and values ---------------------------------------------------------- */

static rc_table *tbl_new(const char *db, const char *name, uint32_t ncols) {
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

static rc_column *col(rc_table *t, uint32_t i, const char *name, uint8_t type) {
  rc_column *c = &t->cols[i];
  c->name = name ? strdup(name) : NULL;
  c->type = type;
  c->is_signed = 1;
  c->nullable = 1;
  return c;
}

static void col_cs(rc_column *c, uint16_t collation) {
  c->collation = collation;
  c->cs_kind = (uint8_t)rc_charset_kind(collation, &c->iconv_cd);
}

static void col_labels(rc_column *c, const char *const *labels, uint32_t n) {
  c->labels = calloc(n, sizeof *c->labels);
  c->label_lens = calloc(n, sizeof *c->label_lens);
  for (uint32_t k = 0; k < n; k++) {
    c->labels[k] = strdup(labels[k]);
    c->label_lens[k] = (uint32_t)strlen(labels[k]);
  }
  c->n_labels = n;
}

/* The JSON keys, as the table-map parser makes them. */
static void tbl_finish(rc_table *t) {
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

static rc_value V(int kind) {
  rc_value v;
  memset(&v, 0, sizeof v);
  v.kind = (uint8_t)kind;
  return v;
}
static rc_value vi(int64_t i) {
  rc_value v = V(RC_V_INT);
  v.v.i = i;
  return v;
}
static rc_value vu(int kind, uint64_t u) {
  rc_value v = V(kind);
  v.v.u = u;
  return v;
}
static rc_value vflt(float f) {
  rc_value v = V(RC_V_FLOAT);
  v.v.f = f;
  return v;
}
static rc_value vdbl(double d) {
  rc_value v = V(RC_V_DOUBLE);
  v.v.d = d;
  return v;
}
static rc_value vdt(int kind, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, uint32_t us) {
  rc_value v = V(kind);
  v.v.dt.year = (uint16_t)y, v.v.dt.month = (uint8_t)mo, v.v.dt.day = (uint8_t)d;
  v.v.dt.hour = (uint8_t)h, v.v.dt.minute = (uint8_t)mi, v.v.dt.second = (uint8_t)s, v.v.dt.usec = us;
  return v;
}
static rc_value vts(uint32_t sec, uint32_t usec) {
  rc_value v = V(RC_V_TIMESTAMP);
  v.v.ts.sec = sec, v.v.ts.usec = usec;
  return v;
}
static rc_value vtime(int neg, uint32_t h, unsigned mi, unsigned s, uint32_t us) {
  rc_value v = V(RC_V_TIME);
  v.v.tm.neg = (uint8_t)neg, v.v.tm.hour = h, v.v.tm.minute = (uint8_t)mi, v.v.tm.second = (uint8_t)s;
  v.v.tm.usec = us;
  return v;
}
static rc_value vs(int kind, const void *p, uint32_t len, uint32_t pad_to) {
  rc_value v = V(kind);
  v.v.s.p = p, v.v.s.len = len, v.v.s.pad_to = pad_to;
  return v;
}
static rc_value vstr(const char *s) { return vs(RC_V_STRING, s, (uint32_t)strlen(s), 0); }

/* MySQL's packed DECIMAL of a decimal text (decimal2bin). */
static const uint8_t *pack_decimal(const char *txt, int prec, int scale) {
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
static unsigned long n_same, n_same_err, n_differ;
static int quiet; /* the self-check's expected differences are not printed */

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
static int same_as_reference(const char *what, uint64_t fp, const char *schema, const rc_buf *fast, int fr,
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
static int check_encoders(rc_avro_table *at, char op, const rc_value *before, const rc_value *after,
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
static int roundtrip_ex(rc_avro_table *at, const rc_table *t, char op, const rc_value *before,
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
  rc_avro_source src = {7, pos->file, pos->offset, pos->row, pos->gtid, (uint64_t)pos->ts * 1000 + 999};
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

static int roundtrip(rc_avro_table *at, const rc_table *t, char op, const rc_value *before, const rc_value *after) {
  rc_change_pos pos = {"mariadb-bin.000042", 123456789012ULL, 3, "0-1-42", 1700000000};
  return roundtrip_ex(at, t, op, before, after, &pos, 1);
}

/* ---- CRC-64-AVRO and names --------------------------------------------------------------- */

static void test_crc64(void) {
  /* share/test/data/schema-tests.txt of the Avro project */
  RC_CHECK(rc_crc64("\"null\"", 6) == (uint64_t)7195948357588979594LL);
  RC_CHECK(rc_crc64("\"boolean\"", 9) == (uint64_t)-6970731678124411036LL);
  RC_CHECK(rc_crc64("\"int\"", 5) == (uint64_t)8247732601305521295LL);
  RC_CHECK(rc_crc64("\"long\"", 6) == (uint64_t)-3434872931120570953LL);
  const char *rec = "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}";
  RC_CHECK(rc_crc64(rec, strlen(rec)) == (uint64_t)7843277075252814651LL);
  const char *ns = "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}";
  RC_CHECK(rc_crc64(ns, strlen(ns)) == (uint64_t)5916914534497305771LL);
  const char *en = "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}";
  RC_CHECK(rc_crc64(en, strlen(en)) == (uint64_t)-4448647247586288245LL);
  const char *arr = "{\"type\":\"array\",\"items\":\"null\"}";
  RC_CHECK(rc_crc64(arr, strlen(arr)) == (uint64_t)-589620603366471059LL);
  /* incremental = one shot */
  RC_CHECK(rc_crc64_update(rc_crc64_update(RC_CRC64_EMPTY, rec, 10), rec + 10, strlen(rec) - 10) ==
           rc_crc64(rec, strlen(rec)));
  RC_CHECK(rc_crc64("", 0) == RC_CRC64_EMPTY);
}

static const char *avro_name(const char *s) {
  static rc_buf b;
  b.len = 0;
  rc_avro_name(&b, s, strlen(s));
  rc_buf_putc(&b, '\0');
  return b.p;
}

static void test_names(void) {
  RC_CHECK_STR(avro_name("id"), "id");
  RC_CHECK_STR(avro_name("order id"), "order_id");
  RC_CHECK_STR(avro_name("@3"), "_3");
  RC_CHECK_STR(avro_name("3d"), "_3d");
  RC_CHECK_STR(avro_name(""), "_");
  RC_CHECK_STR(avro_name("_x9"), "_x9");
  RC_CHECK_STR(avro_name("caf\xc3\xa9"), "caf__");
  RC_CHECK_STR(avro_name("a-b.c"), "a_b_c");

  /* collisions within a table, and the absent-list field's name taken by a column */
  rc_table *t = tbl_new("my-db", "1 weird.table", 6);
  col(t, 0, "a b", RC_T_LONG);
  col(t, 1, "a_b", RC_T_LONG);
  col(t, 2, "a-b", RC_T_LONG);
  col(t, 3, RC_AVRO_ABSENT_FIELD, RC_T_LONG);
  col(t, 4, "a_b_2", RC_T_LONG);
  col(t, 5, "caf\xc3\xa9", RC_T_LONG);
  tbl_finish(t);
  rc_avro_table *at;
  int r = rc_avro_table_new(t, &at, err, sizeof err);
  RC_CHECK(r == 0);
  if (r == 0) {
    const char *s = rc_avro_value_canonical(at);
    RC_CHECK(strstr(s, "{\"name\":\"rowcast.my_db._1_weird_table_Value\",\"type\":\"record\"") == s);
    RC_CHECK(strstr(s, "{\"name\":\"a_b\",\"type\":[\"null\",\"int\"]},{\"name\":\"a_b_2\",\"type\":[\"null\",\"int\"]},"
                       "{\"name\":\"a_b_3\",\"type\":[\"null\",\"int\"]},{\"name\":\"__rowcast_absent_2\",\"type\":"
                       "[\"null\",\"int\"]},{\"name\":\"a_b_2_2\",\"type\":[\"null\",\"int\"]},{\"name\":\"caf__\"") != NULL);
    RC_CHECK(strstr(rc_avro_value_schema(at), "\"rowcast.name\":\"a-b\"") != NULL);
    RC_CHECK(strstr(rc_avro_value_schema(at), "\"rowcast.name\":\"caf\xc3\xa9\"") != NULL);
    RC_CHECK(rc_avro_key_schema(at) == NULL && rc_avro_key_fingerprint(at) == 0);
    rc_value row[6] = {vi(1), V(RC_V_ABSENT), vi(-3), V(RC_V_NULL), V(RC_V_ABSENT), vi(2147483647)};
    RC_CHECK(roundtrip(at, t, 'c', NULL, row) == 1);
    rc_buf k = {0};
    RC_CHECK(rc_avro_encode_key(at, &k, row, err, sizeof err) == RC_ERR_ARG);
    rc_buf_free(&k);
    rc_avro_table_free(at);
  }
  rc_table_free(t);
}

/* ---- every type ---------------------------------------------------------------------------- */

enum { C_TINY, C_UTINY, C_SMALL, C_USMALL, C_MED, C_UMED, C_INT, C_UINT, C_BIG, C_UBIG, C_FLOAT, C_DOUBLE,
       C_DEC, C_DEC0, C_DECBIG, C_DATE, C_DT0, C_DT6, C_DTOLD, C_TS0, C_TS3, C_TSOLD, C_TIME0, C_TIME6, C_TIMEOLD,
       C_YEAR, C_BIT1, C_BIT5, C_BIT64, C_ENUM, C_SET, C_ENUM_NL, C_SET_NL, C_VARCHAR, C_LATIN1, C_UCS2, C_CHAR_BIN,
       C_VARBIN, C_BLOB, C_TEXT_UNK, C_JSON, C_GEOM, C_GEOM2, C_VECTOR, C_NCOLS };

static rc_table *alltypes_table(void) {
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

static const uint8_t json_str_abc[] = {0x0c, 0x03, 'a', 'b', 'c'};
static const uint8_t json_arr[] = {0x02, 0x02, 0x00, 0x0a, 0x00, 0x05, 0x01, 0x00, 0x04, 0x01, 0x00};
static const uint8_t json_diff[] = {
    0x00, 0x05, '$', '.', 'a', 'g', 'e', 0x03, 0x05, 0x1a, 0x00,
    0x01, 0x06, '$', '.', 'b', '[', '1', ']', 0x03, 0x0c, 0x01, 'x',
    0x02, 0x03, '$', '.', 'c',
};
static const uint8_t geom[] = {0xE6, 0x10, 0, 0, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,
                               0, 0, 0, 0, 0, 0, 0, 0x40};
static const uint8_t vec[] = {0x00, 0x00, 0x80, 0x3F, 0xCD, 0xCC, 0xCC, 0x3D, 0x00, 0x00, 0x80, 0xBF};

static void fill_row_a(rc_value *r) {
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

static void fill_row_b(rc_value *r) {
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

static void test_all_types(void) {
  rc_table *t = alltypes_table();
  rc_avro_table *at;
  int r = rc_avro_table_new(t, &at, err, sizeof err);
  RC_CHECK(r == 0);
  if (r < 0) {
    fprintf(stderr, "%s\n", err);
    rc_table_free(t);
    return;
  }
  rc_value a[C_NCOLS], b[C_NCOLS];
  fill_row_a(a);
  fill_row_b(b);
  RC_CHECK(roundtrip(at, t, 'c', NULL, a) == 1);
  RC_CHECK(roundtrip(at, t, 'u', a, b) == 1);
  RC_CHECK(roundtrip(at, t, 'u', b, a) == 1);
  RC_CHECK(roundtrip(at, t, 'd', b, NULL) == 1);
  RC_CHECK(roundtrip(at, t, 'r', NULL, b) == 1);
  rc_value c2[C_NCOLS];
  memcpy(c2, a, sizeof c2);
  c2[C_JSON] = vs(RC_V_JSON, json_str_abc, sizeof json_str_abc, 0);
  c2[C_VECTOR] = V(RC_V_NULL);
  c2[C_GEOM] = V(RC_V_ABSENT);
  RC_CHECK(roundtrip(at, t, 'u', c2, a) == 1);
  /* every column NULL, every column absent */
  rc_value n[C_NCOLS], ab[C_NCOLS];
  for (int i = 0; i < C_NCOLS; i++) n[i] = V(RC_V_NULL), ab[i] = V(RC_V_ABSENT);
  n[C_TINY] = vi(5), ab[C_TINY] = vi(5), n[C_UBIG] = ab[C_UBIG] = vu(RC_V_UINT, 5);
  RC_CHECK(roundtrip(at, t, 'u', n, ab) == 1);
  /* decoded text: spot checks of the mapping */
  rc_buf d = {0}, j = {0};
  rc_avro_source src = {1, "f.000001", 4, 0, NULL, 1700000000999ULL};
  RC_CHECK(rc_avro_encode_value(at, &d, 'c', NULL, a, &src, 1, err, sizeof err) == 0);
  RC_CHECK(rc_avro_value_to_json(rc_avro_value_schema(at), d.p, d.len, &j, err, sizeof err) == 0);
  rc_buf_putc(&j, '\0');
  RC_CHECK(strstr(j.p, "\"ubig\":18446744073709551615,") != NULL);
  RC_CHECK(strstr(j.p, "\"price\":\"-12345678.90\"") != NULL);
  RC_CHECK(strstr(j.p, "\"dt6\":\"9999-12-31 23:59:59.999999\"") != NULL);
  RC_CHECK(strstr(j.p, "\"ts3\":\"1970-01-01T00:00:01.123Z\"") != NULL);
  RC_CHECK(strstr(j.p, "\"t0\":\"-838:59:59\"") != NULL);
  RC_CHECK(strstr(j.p, "\"t6\":\"-00:00:00.500000\"") != NULL);
  RC_CHECK(strstr(j.p, "\"tags\":\"a,b,c,\xc3\xa9\"") != NULL);
  RC_CHECK(strstr(j.p, "\"set_nl\":9223372036854775809") != NULL);
  RC_CHECK(strstr(j.p, "\"bin4\":\"AQAAAA==\"") != NULL);
  RC_CHECK(strstr(j.p, "\"doc\":[1,true]") != NULL);
  RC_CHECK(strstr(j.p, "\"gtid\":null,\"ts\":1700000000}\n") != NULL);
  /* the datum itself: before = null (0), after = branch 1, first column tinyint -128 = zigzag 255 */
  RC_CHECK(d.len > 3 && (uint8_t)d.p[0] == 0 && (uint8_t)d.p[1] == 2 && (uint8_t)d.p[2] == 2 &&
           (uint8_t)d.p[3] == 0xFF && (uint8_t)d.p[4] == 0x01);
  /* a trailing byte, a truncated datum, a foreign schema */
  j.len = 0;
  rc_buf_putc(&d, 0);
  RC_CHECK(rc_avro_value_to_json(rc_avro_value_schema(at), d.p, d.len, &j, err, sizeof err) < 0 && j.len == 0);
  RC_CHECK(rc_avro_value_to_json(rc_avro_value_schema(at), d.p, d.len / 2, &j, err, sizeof err) < 0 && j.len == 0);
  RC_CHECK(rc_avro_value_to_json("{\"type\":\"record\",\"name\":\"x\",\"fields\":[]}", d.p, d.len, &j, err,
                                 sizeof err) == RC_ERR_UNSUPPORTED);
  RC_CHECK(rc_avro_value_to_json("{\"type\":", d.p, d.len, &j, err, sizeof err) == RC_ERR_CORRUPT);
  /* keys */
  rc_buf k = {0};
  RC_CHECK(rc_avro_key_schema(at) != NULL);
  RC_CHECK(rc_avro_encode_key(at, &k, a, err, sizeof err) == 0);
  /* union branch 1, zigzag(-128), branch 1, bytes len 9: 00 FF*8 */
  static const uint8_t want_key[] = {0x02, 0xFF, 0x01, 0x02, 0x12, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  RC_CHECK(k.len == sizeof want_key && !memcmp(k.p, want_key, sizeof want_key));
  k.len = 0;
  RC_CHECK(rc_avro_encode_key(at, &k, ab, err, sizeof err) == 0);
  rc_value nokey[C_NCOLS];
  memcpy(nokey, ab, sizeof nokey);
  nokey[C_UBIG] = V(RC_V_ABSENT);
  RC_CHECK(rc_avro_encode_key(at, &k, nokey, err, sizeof err) == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "ubig") != NULL);
  /* values that do not fit: an error naming the column, out untouched */
  size_t mark = d.len;
  rc_value bad[C_NCOLS];
  memcpy(bad, a, sizeof bad);
  bad[C_INT] = vi((int64_t)INT32_MAX + 1);
  RC_CHECK(rc_avro_encode_value(at, &d, 'c', NULL, bad, &src, 1, err, sizeof err) == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "column i:") != NULL && d.len == mark);
  memcpy(bad, a, sizeof bad);
  bad[C_ENUM] = vu(RC_V_ENUM, 9);
  RC_CHECK(rc_avro_encode_value(at, &d, 'c', NULL, bad, &src, 1, err, sizeof err) < 0 && d.len == mark);
  memcpy(bad, a, sizeof bad);
  bad[C_DATE] = vstr("x");
  RC_CHECK(rc_avro_encode_value(at, &d, 'c', NULL, bad, &src, 1, err, sizeof err) == RC_ERR_CORRUPT);
  RC_CHECK(rc_avro_encode_value(at, &d, 'x', NULL, a, &src, 1, err, sizeof err) == RC_ERR_ARG);
  /* many rows through the same table: reused values, growing output */
  for (int i = 0; i < 1000; i++) {
    a[C_INT] = vi(i);
    RC_CHECK(rc_avro_encode_value(at, &d, i % 2 ? 'u' : 'c', i % 2 ? b : NULL, a, &src, (uint64_t)i, err, sizeof err) == 0);
  }
  rc_buf_free(&d);
  rc_buf_free(&j);
  rc_buf_free(&k);
  rc_avro_table_free(at);
  rc_table_free(t);
}

/* Zero and invalid dates: the lossy case, null in Avro. */
static void test_zero_dates(void) {
  rc_table *t = tbl_new("d", "z", 5);
  col(t, 0, "d", RC_T_DATE);
  col(t, 1, "dt", RC_T_DATETIME2);
  col(t, 2, "ts", RC_T_TIMESTAMP2);
  col(t, 3, "y0", RC_T_DATE);
  col(t, 4, "feb30", RC_T_DATE);
  tbl_finish(t);
  rc_avro_table *at;
  RC_CHECK(rc_avro_table_new(t, &at, err, sizeof err) == 0);
  rc_value z[5] = {vdt(RC_V_DATE, 0, 0, 0, 0, 0, 0, 0), vdt(RC_V_DATETIME, 2024, 0, 15, 0, 0, 0, 0), vts(0, 0),
                   vdt(RC_V_DATE, 0, 1, 1, 0, 0, 0, 0), vdt(RC_V_DATE, 2023, 2, 30, 0, 0, 0, 0)};
  RC_CHECK(rc_avro_value_is_lossy(&t->cols[0], &z[0]) && rc_avro_value_is_lossy(&t->cols[1], &z[1]) &&
           rc_avro_value_is_lossy(&t->cols[2], &z[2]) && !rc_avro_value_is_lossy(&t->cols[3], &z[3]) &&
           rc_avro_value_is_lossy(&t->cols[4], &z[4]));
  rc_buf d = {0}, j = {0};
  rc_avro_source src = {1, "f", 4, 0, "", 5000};
  RC_CHECK(rc_avro_encode_value(at, &d, 'c', NULL, z, &src, 1, err, sizeof err) == 0);
  RC_CHECK(rc_avro_value_to_json(rc_avro_value_schema(at), d.p, d.len, &j, err, sizeof err) == 0);
  rc_buf_putc(&j, '\0');
  RC_CHECK_STR(j.p, "{\"db\":\"d\",\"table\":\"z\",\"op\":\"c\",\"before\":null,\"after\":{\"d\":null,\"dt\":null,"
                    "\"ts\":null,\"y0\":\"0000-01-01\",\"feb30\":null},\"pos\":{\"file\":\"f\",\"offset\":4,\"row\":0},"
                    "\"gtid\":null,\"ts\":5}\n");
  /* year 0 is not lossy but Python's date cannot hold it: not exported */
  rc_change_pos pos = {"f", 4, 0, NULL, 5};
  RC_CHECK(roundtrip_ex(at, t, 'c', NULL, z, &pos, 0) == 1);
  rc_buf_free(&d);
  rc_buf_free(&j);
  rc_avro_table_free(at);
  rc_table_free(t);
}

/* ---- real table maps ---------------------------------------------------------------------- */

typedef struct fixture_tm {
  const char *name; /* golden file stem */
  const char *hex;  /* TABLE_MAP body, without header and checksum */
  int mariadb;
} fixture_tm;

/* TABLE_MAP events of rust_mysql_common's fixtures (shared/fixtures/public-binlogs). */
static const fixture_tm fixture_tms[] = {
    {"mysql_enum_string_set",
     "7c00000000000100056d7973716c0001740005fe0ffefefc09de00b004f701f801021f0203fcff00040f02663102663202663302663402"
     "66350a03fcff00051404036f6e650374776f05746872656504666f757206130304766172310876617269616e743203666f6f0c01f8",
     0},
    {"mariadb_outbox",
     "26000000000001000a746f6464795f7465737400066f7574626f780005030ffefc1106fc03f70102000401010003022d3f04220269640574"
     "6f7069630a6576656e745f74797065056576656e7407637265617465640a012d06140304424c4f42044a534f4e0850524f544f425546080100",
     1},
    {"mysql_type_bit", "7c00000000000100056d7973716c0003666f6f000310fc10050300020001070203fcff0004060161016201630c01e0", 0},
    {"mysql_json_noname", "7700000000000100056d7973716c000174000403f50f03030490010e0101000203fcff00", 0},
    {"mysql_minimal_noname", "6f00000000000100056e6f72696100027431000503fcfe03030302fe081e01012003043ffcff00", 0},
};

static rc_table *parse_tm(const fixture_tm *f) {
  size_t n = strlen(f->hex) / 2;
  uint8_t *body = malloc(n);
  for (size_t i = 0; i < n; i++) {
    unsigned x;
    sscanf(f->hex + 2 * i, "%2x", &x);
    body[i] = (uint8_t)x;
  }
  rc_table *t = NULL;
  int r = rc_table_map_parse(body, n, 8, f->mariadb, &t, err, sizeof err);
  if (r < 0) fprintf(stderr, "%s: %s\n", f->name, err);
  free(body);
  return t;
}

static void test_fixture_tables(void) {
  for (size_t k = 0; k < sizeof fixture_tms / sizeof *fixture_tms; k++) {
    rc_table *t = parse_tm(&fixture_tms[k]);
    RC_CHECK(t != NULL);
    if (!t) continue;
    rc_avro_table *at;
    int r = rc_avro_table_new(t, &at, err, sizeof err);
    RC_CHECK(r == 0);
    if (r == 0) {
      /* a second parse of the same event: same signature, same schemas */
      rc_table *t2 = parse_tm(&fixture_tms[k]);
      RC_CHECK(rc_table_signature(t) == rc_table_signature(t2));
      rc_avro_table *at2;
      RC_CHECK(rc_avro_table_new(t2, &at2, err, sizeof err) == 0);
      rc_table_free(t2); /* the avro table keeps its own copy */
      RC_CHECK_STR(rc_avro_value_schema(at2), rc_avro_value_schema(at));
      RC_CHECK(rc_avro_value_fingerprint(at2) == rc_avro_value_fingerprint(at));
      rc_avro_table_free(at2);
      rc_avro_table_free(at);
    }
    rc_table_free(t);
  }
  /* a different shape, a different signature */
  rc_table *a = parse_tm(&fixture_tms[0]), *b = parse_tm(&fixture_tms[0]);
  b->cols[0].length++;
  RC_CHECK(rc_table_signature(a) != rc_table_signature(b));
  rc_table_free(b);
  b = parse_tm(&fixture_tms[0]);
  b->cols[3].label_lens[0]--;
  RC_CHECK(rc_table_signature(a) != rc_table_signature(b));
  rc_table_free(a);
  rc_table_free(b);
}

/* ---- golden schemas ------------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  rc_buf b = {0};
  char tmp[4096];
  size_t r;
  while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) rc_buf_put(&b, tmp, r);
  fclose(f);
  rc_buf_putc(&b, '\0');
  *n = b.len - 1;
  return b.p;
}

static void golden(const char *src, const char *stem, const char *what, const char *schema) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/golden/avro_%s.%s.avsc", src, stem, what);
  const char *upd = getenv("ROWCAST_UPDATE_GOLDEN");
  if (upd && !strcmp(upd, "1")) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/golden", src);
    mkdir(dir, 0777);
    FILE *f = fopen(path, "wb");
    RC_CHECK(f != NULL);
    if (f) {
      fputs(schema, f);
      fputc('\n', f);
      fclose(f);
    }
    return;
  }
  size_t n;
  char *have = read_all(path, &n);
  if (!have) fprintf(stderr, "missing golden file %s (ROWCAST_UPDATE_GOLDEN=1 writes it)\n", path);
  RC_CHECK(have != NULL);
  if (!have) return;
  int same = n == strlen(schema) + 1 && !memcmp(have, schema, n - 1) && have[n - 1] == '\n';
  if (!same) fprintf(stderr, "%s differs from the generated schema:\n%s\n", path, schema);
  RC_CHECK(same);
  free(have);
}

static void golden_table(const char *src, const char *stem, rc_table *t) {
  rc_avro_table *at;
  int r = rc_avro_table_new(t, &at, err, sizeof err);
  RC_CHECK(r == 0);
  if (r < 0) return;
  golden(src, stem, "value", rc_avro_value_schema(at));
  if (rc_avro_key_schema(at)) golden(src, stem, "key", rc_avro_key_schema(at));
  rc_avro_table_free(at);
}

static void test_golden(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "test_golden: ROWCAST_SOURCE_DIR unset, skipped\n");
    return;
  }
  rc_table *t = alltypes_table();
  golden_table(src, "all_types", t);
  rc_table_free(t);
  for (size_t k = 0; k < sizeof fixture_tms / sizeof *fixture_tms; k++) {
    t = parse_tm(&fixture_tms[k]);
    if (t) golden_table(src, fixture_tms[k].name, t);
    rc_table_free(t);
  }
}

/* ---- every row change of the public fixtures ------------------------------------------------ */

typedef struct cache_ent {
  uint64_t sig;
  rc_avro_table *at;
} cache_ent;

static unsigned long n_compared, n_refused, n_mismatch;

typedef struct sweep {
  cache_ent *cache;
  size_t *ncache;
  rc_rows rows;
  rc_value *before, *after;
  uint32_t cap;
  const char *path;
} sweep;

/* Every row change of one ROWS event through the round trip. */
static void sweep_event(sweep *sw, rc_binlog *bl, const rc_event *ev, uint32_t *row_index) {
  if (!rc_event_is_rows(ev->type) || rc_rows_begin(bl, ev, &sw->rows, err, sizeof err) < 0) return;
  const rc_table *t = sw->rows.table;
  if (t->ncols > sw->cap) {
    free(sw->before);
    free(sw->after);
    sw->cap = t->ncols;
    sw->before = calloc(sw->cap, sizeof *sw->before);
    sw->after = calloc(sw->cap, sizeof *sw->after);
  }
  uint64_t sig = rc_table_signature(t);
  rc_avro_table *at = NULL;
  for (size_t i = 0; i < *sw->ncache && !at; i++)
    if (sw->cache[i].sig == sig) at = sw->cache[i].at;
  if (!at) {
    if (*sw->ncache == 64 || rc_avro_table_new(t, &at, err, sizeof err) < 0) {
      fprintf(stderr, "%s: %s\n", sw->path, *sw->ncache == 64 ? "too many table versions" : err);
      n_mismatch++;
      return;
    }
    sw->cache[(*sw->ncache)++] = (cache_ent){sig, at};
  }
  rc_change_pos pos = {rc_binlog_file(bl), ev->offset, 0, rc_binlog_gtid(bl), ev->ts};
  while (rc_rows_next_image(&sw->rows, sw->before, 0, err, sizeof err) > 0) {
    const rc_value *b = NULL, *a = NULL;
    if (sw->rows.op == 'u') {
      if (rc_rows_next_image(&sw->rows, sw->after, 1, err, sizeof err) <= 0) break;
      b = sw->before, a = sw->after;
    } else if (sw->rows.op == 'c') {
      a = sw->before;
    } else {
      b = sw->before;
    }
    pos.row = (*row_index)++;
    int r = roundtrip_ex(at, t, sw->rows.op, b, a, &pos, n_exported < 400);
    if (r > 0) {
      n_compared++;
    } else if (r == 0) {
      n_refused++;
    } else {
      n_mismatch++;
      fprintf(stderr, "  in %s at offset %llu\n", sw->path, (unsigned long long)ev->offset);
    }
  }
}

static void sweep_file(const char *path, cache_ent *cache, size_t *ncache) {
  rc_binfile *f;
  if (rc_binfile_open(&f, path, err, sizeof err) < 0) return;
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, rc_binfile_name(f));
  sweep sw;
  memset(&sw, 0, sizeof sw);
  sw.cache = cache, sw.ncache = ncache, sw.path = path;
  const uint8_t *raw;
  size_t len;
  uint64_t off;
  while (rc_binfile_next(f, &raw, &len, &off, err, sizeof err) > 0) {
    rc_event ev, inner;
    uint32_t row_index = 0;
    if (rc_binlog_feed(bl, raw, len, off, &ev, err, sizeof err) < 0) break;
    sweep_event(&sw, bl, &ev, &row_index);
    if (ev.type == RC_EV_TRANSACTION_PAYLOAD)
      while (rc_binlog_next_inner(bl, &inner, err, sizeof err) > 0) sweep_event(&sw, bl, &inner, &row_index);
  }
  rc_rows_free(&sw.rows);
  free(sw.before);
  free(sw.after);
  rc_binlog_free(bl);
  rc_binfile_close(f);
}

static int fixtures_swept; /* test_fixture_rows found the fixtures (and exported their datums) */

static void test_fixture_rows(void) {
  const char *dir = getenv("ROWCAST_FIXTURES");
  char def[1024];
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!dir && src) {
    snprintf(def, sizeof def, "%s/../shared/fixtures/public-binlogs", src);
    dir = def;
  }
  char index[1100];
  snprintf(index, sizeof index, "%s/INDEX.tsv", dir ? dir : ".");
  FILE *ix = dir ? fopen(index, "r") : NULL;
  if (!ix) {
    fprintf(stderr, "test_fixture_rows: no public binlog fixtures (%s), skipped\n", dir ? index : "ROWCAST_SOURCE_DIR unset");
    return;
  }
  cache_ent cache[64];
  size_t ncache = 0;
  char line[4096];
  while (fgets(line, sizeof line, ix)) {
    char *tab = strchr(line, '\t');
    if (!tab || !strncmp(line, "path\t", 5) || strstr(line, "NOT A BINLOG")) continue;
    *tab = '\0';
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, line);
    sweep_file(path, cache, &ncache);
  }
  fclose(ix);
  fixtures_swept = 1;
  for (size_t i = 0; i < ncache; i++) rc_avro_table_free(cache[i].at);
  fprintf(stderr, "test_fixture_rows: %lu changes round-tripped, %lu refused by both, %lu mismatches, %zu table versions\n",
          n_compared, n_refused, n_mismatch, ncache);
  RC_CHECK(n_mismatch == 0);
  RC_CHECK(n_compared > 100);
}

/* ---- python3-avro ----------------------------------------------------------------------------- */

static void python_start(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src) return;
  static char tmpl[] = "/tmp/rowcast-avro-XXXXXX";
  pydir = mkdtemp(tmpl);
  if (!pydir) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/manifest.jsonl", pydir);
  manifest = fopen(path, "w");
}

static void test_python_avro(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src || !manifest) {
    fprintf(stderr, "test_python_avro: ROWCAST_SOURCE_DIR unset, skipped\n");
    return;
  }
  fclose(manifest);
  manifest = NULL;
  RC_CHECK(n_exported > (fixtures_swept ? 20u : 10u)); /* the fixtures' datums, when they are there */
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

/* Lengths near the one-byte varint limit (63 bytes) for what the fast path formats straight
 * into the datum behind a guessed length prefix (converted latin1 text, JSON documents), so
 * that both a too-short and a too-long guess are taken; and the check itself: one changed
 * byte, anywhere in a datum, one byte too many or too few, must fail it. */
static void test_reference_edges(void) {
  rc_table *t = alltypes_table();
  rc_avro_table *at;
  RC_CHECK(rc_avro_table_new(t, &at, err, sizeof err) == 0);
  rc_value a[C_NCOLS];
  fill_row_a(a);
  static uint8_t latin[300], js[300];
  memset(latin, 0xE9, sizeof latin);
  const uint32_t lens[] = {0, 1, 31, 32, 42, 50, 61, 62, 63, 64, 65, 100, 127, 128, 200};
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    uint32_t n = lens[k];
    a[C_LATIN1] = vs(RC_V_STRING, latin, n, 0);
    js[0] = 0x0c; /* a JSON string of n 'x' (n < 128: a one-byte length) */
    js[1] = (uint8_t)(n < 128 ? n : 127);
    memset(js + 2, 'x', js[1]);
    a[C_JSON] = vs(RC_V_JSON, js, 2u + js[1], 0);
    RC_CHECK(roundtrip(at, t, 'c', NULL, a) == 1);
  }
  /* values both encoders refuse, with the same message */
  static const uint8_t bad_json[] = {0x0c, 0x7f, 'x'};
  static const uint8_t vec5[] = {0, 0, 0x80, 0x3f, 0};
  const rc_value bad[][2] = {{vi(INT64_C(1) << 40), V(C_SMALL)}, {vstr("text"), V(C_INT)},
                             {vs(RC_V_JSON, bad_json, sizeof bad_json, 0), V(C_JSON)},
                             {vs(RC_V_VECTOR, vec5, sizeof vec5, 0), V(C_VECTOR)},
                             {vu(RC_V_BIT, 2), V(C_BIT1)}, {vu(RC_V_UINT, 1), V(C_DATE)}};
  rc_avro_source bsrc = {7, "mariadb-bin.000042", 4, 0, NULL, 1700000000999ULL};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    fill_row_a(a);
    a[bad[k][1].kind] = bad[k][0];
    unsigned long refused = n_same_err;
    RC_CHECK(check_encoders(at, 'c', NULL, a, &bsrc) == 0);
    RC_CHECK(n_same_err == refused + 1);
  }
  /* the check checks itself */
  rc_avro_source src = {7, "mariadb-bin.000042", 4, 0, "0-1-42", 1700000000999ULL};
  rc_buf f = {0}, v = {0};
  fill_row_a(a);
  RC_CHECK(rc_avro_encode_value(at, &f, 'c', NULL, a, &src, 1, err, sizeof err) == 0);
  RC_CHECK(rc_avro_view_encode_value(at, &v, 'c', NULL, a, &src, 1, err, sizeof err) == 0);
  unsigned long before = n_differ;
  RC_CHECK(same_as_reference("self-check", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) == 0);
  int caught = 0;
  quiet = 1;
  for (size_t k = 0; k < f.len; k++) {
    f.p[k] ^= 0x01;
    caught += same_as_reference("changed byte", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0;
    f.p[k] ^= 0x01;
  }
  RC_CHECK(caught == (int)f.len);
  rc_buf_putc(&f, 0);
  RC_CHECK(same_as_reference("byte too many", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0);
  f.len -= 2;
  RC_CHECK(same_as_reference("byte too few", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0);
  quiet = 0;
  n_differ = before; /* those were meant to differ */
  rc_buf_free(&f);
  rc_buf_free(&v);
  rc_avro_table_free(at);
  rc_table_free(t);
}

/* Every datum of the round trips above (the hand-built tables and values, the fixture tables,
 * every row change of the public fixtures) was the same through both encoders. */
static void test_fast_matches_reference(void) {
  fprintf(stderr, "test_fast_matches_reference: %lu datums identical and read back equal by avro-c, %lu refused by "
                  "both, %lu differ\n", n_same, n_same_err, n_differ);
  RC_CHECK(n_differ == 0);
  RC_CHECK(n_same > (fixtures_swept ? 200u : 20u));
  readers_free();
}

void rc_tests(void) {
  python_start();
  RC_RUN(test_crc64);
  RC_RUN(test_names);
  RC_RUN(test_all_types);
  RC_RUN(test_reference_edges);
  RC_RUN(test_zero_dates);
  RC_RUN(test_fixture_tables);
  RC_RUN(test_golden);
  RC_RUN(test_fixture_rows);
  RC_RUN(test_python_avro);
  RC_RUN(test_fast_matches_reference);
  rc_avro_decoder_cache_free();
}
