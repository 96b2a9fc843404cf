/*
 * txn_msg.c: transaction BEGIN/END messages (txn_msg.h). The Avro schemas are fixed text with
 * their Parsing Canonical Forms beside them (fingerprints computed from those); values are
 * built as avro-c generic values and written by avro_value_write, read back by avro_value_read;
 * JSON is written with rowcast's buffers and read back with jansson.
 */
#include "txn_msg.h"

#include <avro.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "rc_err.h"

#define TABLE_REC                                                                                          \
  "{\"type\":\"record\",\"name\":\"TransactionTable\",\"fields\":[{\"name\":\"db\",\"type\":\"string\"},"  \
  "{\"name\":\"table\",\"type\":\"string\"},{\"name\":\"event_count\",\"type\":\"long\"}]}"
#define TABLE_PCF                                                                                          \
  "{\"name\":\"rowcast.TransactionTable\",\"type\":\"record\",\"fields\":[{\"name\":\"db\",\"type\":"      \
  "\"string\"},{\"name\":\"table\",\"type\":\"string\"},{\"name\":\"event_count\",\"type\":\"long\"}]}"

static const char value_schema[] =
    "{\"type\":\"record\",\"name\":\"Transaction\",\"namespace\":\"rowcast\",\"fields\":["
    "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"TransactionStatus\",\"symbols\":[\"BEGIN\",\"END\"]}},"
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"gtid\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"file\",\"type\":\"string\"},"
    "{\"name\":\"offset\",\"type\":\"long\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"event_count\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"tables\",\"type\":[\"null\",{\"type\":\"array\",\"items\":" TABLE_REC "}],\"default\":null}]}";
static const char value_pcf[] =
    "{\"name\":\"rowcast.Transaction\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"status\",\"type\":{\"name\":\"rowcast.TransactionStatus\",\"type\":\"enum\",\"symbols\":[\"BEGIN\",\"END\"]}},"
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"gtid\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"file\",\"type\":\"string\"},"
    "{\"name\":\"offset\",\"type\":\"long\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"event_count\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"tables\",\"type\":[\"null\",{\"type\":\"array\",\"items\":" TABLE_PCF "}]}]}";
static const char key_schema[] =
    "{\"type\":\"record\",\"name\":\"TransactionKey\",\"namespace\":\"rowcast\",\"fields\":"
    "[{\"name\":\"id\",\"type\":\"string\"}]}";
static const char key_pcf[] =
    "{\"name\":\"rowcast.TransactionKey\",\"type\":\"record\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}";

const char *rc_txn_value_schema(void) { return value_schema; }
const char *rc_txn_key_schema(void) { return key_schema; }
uint64_t rc_txn_value_fingerprint(void) { return rc_crc64(value_pcf, sizeof value_pcf - 1); }
uint64_t rc_txn_key_fingerprint(void) { return rc_crc64(key_pcf, sizeof key_pcf - 1); }

struct rc_txn_codec {
  avro_schema_t vsch, ksch;
  avro_value_iface_t *viface, *kiface;
  avro_value_t value, key;
  rc_buf tmp;
};

void rc_txn_codec_free(rc_txn_codec *c) {
  if (!c) return;
  if (c->viface) {
    avro_value_decref(&c->value);
    avro_value_iface_decref(c->viface);
  }
  if (c->kiface) {
    avro_value_decref(&c->key);
    avro_value_iface_decref(c->kiface);
  }
  if (c->vsch) avro_schema_decref(c->vsch);
  if (c->ksch) avro_schema_decref(c->ksch);
  rc_buf_free(&c->tmp);
  free(c);
}

int rc_txn_codec_new(rc_txn_codec **out, char *errstr, size_t es) {
  *out = NULL;
  rc_txn_codec *c = calloc(1, sizeof *c);
  if (!c) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  if (avro_schema_from_json_length(value_schema, sizeof value_schema - 1, &c->vsch) ||
      avro_schema_from_json_length(key_schema, sizeof key_schema - 1, &c->ksch)) {
    rc_txn_codec_free(c);
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c refuses the transaction schemas: %s", avro_strerror());
  }
  if (!(c->viface = avro_generic_class_from_schema(c->vsch)) || avro_generic_value_new(c->viface, &c->value)) {
    if (c->viface) avro_value_iface_decref(c->viface);
    c->viface = NULL;
    rc_txn_codec_free(c);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "avro-c: %s", avro_strerror());
  }
  if (!(c->kiface = avro_generic_class_from_schema(c->ksch)) || avro_generic_value_new(c->kiface, &c->key)) {
    if (c->kiface) avro_value_iface_decref(c->kiface);
    c->kiface = NULL;
    rc_txn_codec_free(c);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "avro-c: %s", avro_strerror());
  }
  *out = c;
  return 0;
}

#define CHECK(call)                                                                              \
  do {                                                                                           \
    if (call) return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s: %s", #call, avro_strerror()); \
  } while (0)

static int set_str(avro_value_t *rec, const char *name, const char *s, char *errstr, size_t es) {
  avro_value_t f;
  CHECK(avro_value_get_by_name(rec, name, &f, NULL));
  CHECK(avro_value_set_string_len(&f, s, strlen(s) + 1));
  return 0;
}

static int set_long(avro_value_t *rec, const char *name, int64_t v, char *errstr, size_t es) {
  avro_value_t f;
  CHECK(avro_value_get_by_name(rec, name, &f, NULL));
  CHECK(avro_value_set_long(&f, v));
  return 0;
}

/* Write value v into out through a memory writer sized by avro_value_sizeof. */
static int write_value(rc_buf *out, avro_value_t *v, char *errstr, size_t es) {
  size_t n = 0;
  CHECK(avro_value_sizeof(v, &n));
  char *dst = rc_buf_reserve(out, n + 1);
  avro_writer_t w = avro_writer_memory(dst, (int64_t)n);
  if (!w) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  int e = avro_value_write(w, v);
  avro_writer_free(w);
  if (e) return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c cannot write a transaction message: %s", avro_strerror());
  out->len += n;
  return 0;
}

int rc_txn_avro_value(rc_txn_codec *c, rc_buf *out, const rc_txn_msg *m, char *errstr, size_t es) {
  avro_value_t *v = &c->value, f, b, arr, el;
  int r;
  avro_value_reset(v);
  CHECK(avro_value_get_by_name(v, "status", &f, NULL));
  CHECK(avro_value_set_enum(&f, m->end ? 1 : 0));
  if ((r = set_str(v, "id", m->id, errstr, es)) < 0 || (r = set_str(v, "file", m->file, errstr, es)) < 0 ||
      (r = set_long(v, "offset", (int64_t)m->offset, errstr, es)) < 0 ||
      (r = set_long(v, "ts_ms", (int64_t)m->ts_ms, errstr, es)) < 0)
    return r;
  CHECK(avro_value_get_by_name(v, "gtid", &f, NULL));
  if (m->gtid && m->gtid[0]) {
    CHECK(avro_value_set_branch(&f, 1, &b));
    CHECK(avro_value_set_string_len(&b, m->gtid, strlen(m->gtid) + 1));
  } else {
    CHECK(avro_value_set_branch(&f, 0, &b));
    CHECK(avro_value_set_null(&b));
  }
  CHECK(avro_value_get_by_name(v, "event_count", &f, NULL));
  CHECK(avro_value_set_branch(&f, m->end ? 1 : 0, &b));
  if (m->end) CHECK(avro_value_set_long(&b, m->count));
  else CHECK(avro_value_set_null(&b));
  CHECK(avro_value_get_by_name(v, "tables", &f, NULL));
  CHECK(avro_value_set_branch(&f, m->end ? 1 : 0, &arr));
  if (!m->end) CHECK(avro_value_set_null(&arr));
  for (size_t i = 0; m->end && i < m->ntables; i++) {
    CHECK(avro_value_append(&arr, &el, NULL));
    if ((r = set_str(&el, "db", m->tables[i].db, errstr, es)) < 0 ||
        (r = set_str(&el, "table", m->tables[i].table, errstr, es)) < 0 ||
        (r = set_long(&el, "event_count", m->tables[i].count, errstr, es)) < 0)
      return r;
  }
  return write_value(out, v, errstr, es);
}

int rc_txn_avro_key(rc_txn_codec *c, rc_buf *out, const char *id, char *errstr, size_t es) {
  avro_value_reset(&c->key);
  int r = set_str(&c->key, "id", id, errstr, es);
  return r < 0 ? r : write_value(out, &c->key, errstr, es);
}

void rc_txn_json_key(rc_buf *out, const char *id) {
  rc_buf_lit(out, "{\"id\":");
  rc_buf_json_str(out, id, strlen(id));
  rc_buf_putc(out, '}');
}

void rc_txn_json_value(rc_buf *out, const rc_txn_msg *m) {
  if (m->end) /* rc_buf_lit takes a literal's size: one per branch */
    rc_buf_lit(out, "{\"status\":\"END\",\"id\":");
  else
    rc_buf_lit(out, "{\"status\":\"BEGIN\",\"id\":");
  rc_buf_json_str(out, m->id, strlen(m->id));
  rc_buf_lit(out, ",\"gtid\":");
  if (m->gtid && m->gtid[0]) rc_buf_json_str(out, m->gtid, strlen(m->gtid));
  else rc_buf_lit(out, "null");
  rc_buf_lit(out, ",\"pos\":{\"file\":");
  rc_buf_json_str(out, m->file, strlen(m->file));
  rc_buf_lit(out, ",\"offset\":");
  rc_buf_u64(out, m->offset);
  rc_buf_lit(out, "},\"ts_ms\":");
  rc_buf_u64(out, m->ts_ms);
  if (!m->end) {
    rc_buf_lit(out, ",\"event_count\":null,\"tables\":null}");
    return;
  }
  rc_buf_lit(out, ",\"event_count\":");
  rc_buf_u64(out, m->count);
  rc_buf_lit(out, ",\"tables\":[");
  for (size_t i = 0; i < m->ntables; i++) {
    if (i) rc_buf_putc(out, ',');
    rc_buf_lit(out, "{\"db\":");
    rc_buf_json_str(out, m->tables[i].db, strlen(m->tables[i].db));
    rc_buf_lit(out, ",\"table\":");
    rc_buf_json_str(out, m->tables[i].table, strlen(m->tables[i].table));
    rc_buf_lit(out, ",\"event_count\":");
    rc_buf_u64(out, m->tables[i].count);
    rc_buf_putc(out, '}');
  }
  rc_buf_lit(out, "]}");
}

/* file, offset and status into the caller's position; 0 or RC_ERR_CORRUPT. */
static int give_position(const char *f, size_t n, int64_t off, int end, char *file, size_t fsz, uint64_t *offset,
                         uint32_t *row, char *errstr, size_t es) {
  if (n == 0 || n >= fsz || memchr(f, 0, n))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "the transaction message's file is empty, too long or not text");
  if (off < 0) return rc_errf(RC_ERR_CORRUPT, errstr, es, "the transaction message's offset %lld is negative", (long long)off);
  memcpy(file, f, n);
  file[n] = 0;
  *offset = (uint64_t)off;
  *row = end ? RC_TXN_END_ROW : 0;
  return 0;
}

/* A datum of a rowcast.Transaction writer schema read into *m (strings point into avro-c's
 * value, tables into tb): valid until the value is freed. */
typedef struct {
  avro_schema_t sch;
  avro_value_iface_t *iface;
  avro_value_t v;
  int have_v;
  rc_txn_table *tables;
} txn_read;

static void txn_read_free(txn_read *x) {
  if (x->have_v) avro_value_decref(&x->v);
  if (x->iface) avro_value_iface_decref(x->iface);
  if (x->sch) avro_schema_decref(x->sch);
  free(x->tables);
}

static int get_str(avro_value_t *rec, const char *name, const char **out) {
  avro_value_t f;
  size_t n;
  return avro_value_get_by_name(rec, name, &f, NULL) || avro_value_get_string(&f, out, &n);
}

static int get_long(avro_value_t *rec, const char *name, int64_t *out) {
  avro_value_t f;
  return avro_value_get_by_name(rec, name, &f, NULL) || avro_value_get_long(&f, out);
}

/* The fields of the datum; 0 or RC_ERR_CORRUPT / RC_ERR_NOMEM with errstr. */
static int txn_fields(txn_read *x, rc_txn_msg *m, char *errstr, size_t es) {
  avro_value_t f, b, el;
  int st = -1;
  int64_t off = -1, ts = 0, cnt = 0;
  size_t n = 0;
  memset(m, 0, sizeof *m);
  if (avro_value_get_by_name(&x->v, "status", &f, NULL) || avro_value_get_enum(&f, &st) || (st != 0 && st != 1) ||
      get_str(&x->v, "id", &m->id) || get_str(&x->v, "file", &m->file) || get_long(&x->v, "offset", &off) ||
      get_long(&x->v, "ts_ms", &ts) || off < 0 || avro_value_get_by_name(&x->v, "gtid", &f, NULL) ||
      avro_value_get_current_branch(&f, &b))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "not a transaction message: %s", avro_strerror());
  m->end = st == 1;
  m->offset = (uint64_t)off;
  m->ts_ms = (uint64_t)ts;
  m->gtid = "";
  if (avro_value_get_type(&b) == AVRO_STRING && avro_value_get_string(&b, &m->gtid, &n))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror());
  if (avro_value_get_by_name(&x->v, "event_count", &f, NULL) || avro_value_get_current_branch(&f, &b))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror());
  if (avro_value_get_type(&b) == AVRO_INT64 && !avro_value_get_long(&b, &cnt)) m->count = (uint32_t)cnt;
  if (avro_value_get_by_name(&x->v, "tables", &f, NULL) || avro_value_get_current_branch(&f, &b))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror());
  if (avro_value_get_type(&b) != AVRO_ARRAY) return 0;
  if (avro_value_get_size(&b, &n)) return rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror());
  if (!(x->tables = calloc(n ? n : 1, sizeof *x->tables))) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (avro_value_get_by_index(&b, i, &el, NULL) || get_str(&el, "db", &x->tables[i].db) ||
        get_str(&el, "table", &x->tables[i].table) || get_long(&el, "event_count", &cnt))
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "a table of the transaction message: %s", avro_strerror());
    x->tables[i].count = (uint32_t)cnt;
  }
  m->tables = x->tables;
  m->ntables = n;
  return 0;
}

/* Read a datum with its writer schema (a rowcast.Transaction); on error *x is freed. */
static int txn_read_datum(txn_read *x, const char *schema_json, const void *value, size_t len, rc_txn_msg *m,
                          char *errstr, size_t es) {
  memset(x, 0, sizeof *x);
  if (avro_schema_from_json_length(schema_json, strlen(schema_json), &x->sch))
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "its writer schema does not parse: %s", avro_strerror());
  int r = 0;
  avro_reader_t rd = NULL;
  if (!is_avro_record(x->sch) || strcmp(avro_schema_name(x->sch), "Transaction")) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "its writer schema is not rowcast.Transaction");
  } else if (!(x->iface = avro_generic_class_from_schema(x->sch)) || avro_generic_value_new(x->iface, &x->v) ||
             !(x->have_v = 1) || !(rd = avro_reader_memory(value, (int64_t)len))) {
    r = rc_errf(RC_ERR_NOMEM, errstr, es, "avro-c: %s", avro_strerror());
  } else if (avro_skip_data(rd, x->sch)) { /* checked whole first: see avro_decode.c read_value */
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "the datum (%zu bytes) does not match its writer schema: %s", len,
                avro_strerror());
  } else if (avro_skip(rd, 1) == 0) {
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "the datum has bytes after its value (%zu bytes in all)", len);
  } else {
    avro_reader_memory_set_source(rd, value, (int64_t)len);
    r = avro_value_read(rd, &x->v) ? rc_errf(RC_ERR_CORRUPT, errstr, es, "avro-c: %s", avro_strerror())
                                   : txn_fields(x, m, errstr, es);
  }
  if (rd) avro_reader_free(rd);
  if (r < 0) txn_read_free(x);
  return r;
}

static int avro_position(const char *schema_json, const void *value, size_t len, char *file, size_t fsz,
                         uint64_t *offset, uint32_t *row, char *errstr, size_t es) {
  txn_read x;
  rc_txn_msg m;
  int r = txn_read_datum(&x, schema_json, value, len, &m, errstr, es);
  if (r < 0) return r;
  r = give_position(m.file, strlen(m.file), (int64_t)m.offset, m.end, file, fsz, offset, row, errstr, es);
  txn_read_free(&x);
  return r;
}

int rc_txn_value_to_json(const char *schema_json, const void *value, size_t len, rc_buf *out, char *errstr,
                         size_t es) {
  txn_read x;
  rc_txn_msg m;
  int r = txn_read_datum(&x, schema_json, value, len, &m, errstr, es);
  if (r < 0) return r;
  rc_txn_json_value(out, &m);
  rc_buf_putc(out, '\n');
  txn_read_free(&x);
  return 0;
}

int rc_txn_position(const char *schema_json, const void *value, size_t len, char *file, size_t fsz, uint64_t *offset,
                    uint32_t *row, char *errstr, size_t es) {
  if (schema_json) return avro_position(schema_json, value, len, file, fsz, offset, row, errstr, es);
  json_error_t je;
  json_t *j = json_loadb(value, len, JSON_DECODE_INT_AS_REAL, &je);
  if (!j) return rc_errf(RC_ERR_CORRUPT, errstr, es, "not JSON: %s (at byte %d)", je.text, je.position);
  json_t *st = json_object_get(j, "status"), *pos = json_object_get(j, "pos");
  json_t *f = json_object_get(pos, "file"), *o = json_object_get(pos, "offset");
  const char *sv = json_is_string(st) ? json_string_value(st) : "";
  int end = !strcmp(sv, "END"), r;
  double d = json_is_number(o) ? json_number_value(o) : -1;
  if ((!end && strcmp(sv, "BEGIN")) || !json_is_string(f) || !(d >= 0 && d <= 9007199254740992.0) ||
      d != (double)(uint64_t)d)
    r = rc_errf(RC_ERR_CORRUPT, errstr, es, "JSON, but not a transaction message (status BEGIN or END, pos.file, "
                "pos.offset)");
  else
    r = give_position(json_string_value(f), json_string_length(f), (int64_t)d, end, file, fsz, offset, row, errstr, es);
  json_decref(j);
  return r;
}
