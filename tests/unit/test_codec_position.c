/*
 * test_codec_position.c: reading a change's position back from a message value, as the
 * exactly-once recovery does (supervisor/recovery.c): rc_avro_value_position on datums written
 * by rc_avro_encode_value, rc_json_change_position on lines written by rc_json_change; and the
 * refusals of what is not a rowcast change (a foreign schema, a cut or padded datum, JSON
 * without a "pos", a position out of range).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro_row.h"
#include "binlog.h"
#include "rc_err.h"
#include "rc_test.h"
#include "row_json.h"
#include "txn_msg.h"

static char err[512];

/* shop.t (id INT primary key, n BIGINT) with the JSON keys the table-map parser makes */
static rc_table *table_new(void) {
  rc_table *t = calloc(1, sizeof *t);
  t->db = strdup("shop");
  t->name = strdup("t");
  t->ncols = 2;
  t->cols = calloc(2, sizeof *t->cols);
  t->has_names = t->is_numeric_known = t->has_charsets = 1;
  static const char *const names[2] = {"id", "n"};
  static const uint8_t types[2] = {RC_T_LONG, RC_T_LONGLONG};
  for (uint32_t i = 0; i < 2; i++) {
    rc_column *c = &t->cols[i];
    c->name = strdup(names[i]);
    c->type = types[i];
    c->is_signed = 1;
    c->nullable = i != 0;
    c->pk = i == 0;
    rc_buf k = {0};
    rc_buf_json_str(&k, c->name, strlen(c->name));
    rc_buf_putc(&k, ':');
    c->key = k.p;
    c->key_len = (uint32_t)k.len;
  }
  return t;
}

static rc_value vi(int64_t i) {
  rc_value v;
  memset(&v, 0, sizeof v);
  v.kind = RC_V_INT;
  v.v.i = i;
  return v;
}

static void test_avro_position(void) {
  rc_table *t = table_new();
  rc_avro_table *at = NULL;
  RC_CHECK(rc_avro_table_new(t, &at, err, sizeof err) == 0);
  if (!at) {
    fprintf(stderr, "%s\n", err);
    rc_table_free(t);
    return;
  }
  const char *schema = rc_avro_value_schema(at);
  rc_value row[2] = {vi(7), vi(-3)};
  static const struct {
    const char *file;
    uint64_t offset;
    uint32_t row;
    char op;
  } cases[] = {{"mariadb-bin.000042", 123456789012ULL, 3, 'c'},
               {"binlog.1000000", 4, 0, 'd'},
               {"b.000001", UINT64_C(0x7fffffffffffffff), UINT32_MAX, 'u'}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rc_buf d = {0};
    rc_avro_source src = {1, cases[i].file, cases[i].offset, cases[i].row, i ? NULL : "0-1-42", 1700000000999ULL, NULL};
    RC_CHECK(rc_avro_encode_value(at, &d, cases[i].op, cases[i].op == 'c' ? NULL : row, cases[i].op == 'd' ? NULL : row,
                                  &src, 1, err, sizeof err) == 0);
    char file[256] = "";
    uint64_t off = 0;
    uint32_t r = 0;
    RC_CHECK(rc_avro_value_position(schema, d.p, d.len, file, sizeof file, &off, &r, err, sizeof err) == 0);
    RC_CHECK_STR(file, cases[i].file);
    RC_CHECK(off == cases[i].offset && r == cases[i].row);
    /* a cut datum, a trailing byte, a file buffer too small, a schema that is not rowcast's */
    RC_CHECK(rc_avro_value_position(schema, d.p, d.len - 1, file, sizeof file, &off, &r, err, sizeof err) ==
             RC_ERR_CORRUPT);
    rc_buf_putc(&d, 0);
    RC_CHECK(rc_avro_value_position(schema, d.p, d.len, file, sizeof file, &off, &r, err, sizeof err) ==
             RC_ERR_CORRUPT);
    d.len--;
    RC_CHECK(rc_avro_value_position(schema, d.p, d.len, file, 4, &off, &r, err, sizeof err) == RC_ERR_CORRUPT);
    RC_CHECK(rc_avro_value_position("{\"type\":\"record\",\"name\":\"x\",\"fields\":[]}", d.p, d.len, file, sizeof file,
                                    &off, &r, err, sizeof err) < 0);
    rc_buf_free(&d);
  }
  rc_avro_table_free(at);
  rc_table_free(t);
  rc_avro_decoder_cache_free();
}

static void test_json_position(void) {
  rc_table *t = table_new();
  rc_value row[2] = {vi(7), vi(-3)};
  rc_buf b = {0};
  rc_change_pos pos = {"mariadb-bin.000042", 123456789012ULL, 3, "0-1-42", 1700000000, NULL};
  RC_CHECK(rc_json_change(&b, t, 'c', NULL, row, &pos, err, sizeof err) == 0);
  char file[256] = "";
  uint64_t off = 0;
  uint32_t r = 0;
  RC_CHECK(rc_json_change_position(b.p, b.len, file, sizeof file, &off, &r, err, sizeof err) == 0);
  RC_CHECK_STR(file, "mariadb-bin.000042");
  RC_CHECK(off == 123456789012ULL && r == 3);
  static const char *const bad[] = {
      "{garbage",
      "[1,2]",
      "{\"db\":\"shop\",\"table\":\"t\"}",
      "{\"pos\":{\"file\":\"b.000001\",\"offset\":\"4\",\"row\":0}}",
      "{\"pos\":{\"file\":\"b.000001\",\"offset\":-4,\"row\":0}}",
      "{\"pos\":{\"file\":\"b.000001\",\"offset\":4,\"row\":4294967296}}",
      "{\"pos\":{\"file\":\"\",\"offset\":4,\"row\":0}}",
      "{\"pos\":{\"file\":\"b.0\\u00001\",\"offset\":4,\"row\":0}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int e = rc_json_change_position(bad[i], strlen(bad[i]), file, sizeof file, &off, &r, err, sizeof err);
    if (e != RC_ERR_CORRUPT) fprintf(stderr, "accepted: %s\n", bad[i]);
    RC_CHECK(e == RC_ERR_CORRUPT);
  }
  RC_CHECK(rc_json_change_position(b.p, b.len, file, 8, &off, &r, err, sizeof err) == RC_ERR_CORRUPT);
  rc_buf_free(&b);
  rc_table_free(t);
}

/* An unsigned BIGINT past jansson's json_int_t (18446744073709551615) in a change line: the line is
 * still a change (rowcast tail prints it) and its position is still read (recovery). */
static void test_json_big_integers(void) {
  const char *line = "{\"db\":\"d\",\"table\":\"t\",\"op\":\"c\",\"before\":null,"
                     "\"after\":{\"n\":18446744073709551615,\"m\":-9223372036854775808},"
                     "\"pos\":{\"file\":\"b.000007\",\"offset\":9007199254740992,\"row\":4294967295},"
                     "\"gtid\":null,\"ts\":1700000000}\n";
  RC_CHECK(rc_json_change_check(line, strlen(line), err, sizeof err) == 0);
  char file[64] = "";
  uint64_t off = 0;
  uint32_t r = 0;
  RC_CHECK(rc_json_change_position(line, strlen(line), file, sizeof file, &off, &r, err, sizeof err) == 0);
  RC_CHECK_STR(file, "b.000007");
  RC_CHECK(off == 9007199254740992ULL && r == 4294967295u);
  const char *frac = "{\"pos\":{\"file\":\"b.000001\",\"offset\":4.5,\"row\":0}}";
  RC_CHECK(rc_json_change_position(frac, strlen(frac), file, sizeof file, &off, &r, err, sizeof err) == RC_ERR_CORRUPT);
}

/* Transaction messages (txn_msg.h): BEGIN at row 0, END at RC_TXN_END_ROW, in Avro (written by
 * avro-c) and JSON; a change's datum or line is not one. The envelope with the `transaction`
 * field still gives its change's position, and decodes to the JSON line with it. */
static void test_txn_position(void) {
  rc_txn_codec *c = NULL;
  RC_CHECK(rc_txn_codec_new(&c, err, sizeof err) == 0);
  if (!c) return;
  rc_txn_table tabs[2] = {{"shop", "t", 2}, {"shop", "u", 1}};
  rc_txn_msg m = {1, "0-1-42", "0-1-42", "mariadb-bin.000042", 9000, 1700000000123ull, 3, tabs, 2};
  rc_buf v = {0};
  char file[64];
  uint64_t off = 0;
  uint32_t row = 0;
  RC_CHECK(rc_txn_avro_value(c, &v, &m, err, sizeof err) == 0);
  RC_CHECK(rc_txn_position(rc_txn_value_schema(), v.p, v.len, file, sizeof file, &off, &row, err, sizeof err) == 0 &&
           !strcmp(file, "mariadb-bin.000042") && off == 9000 && row == RC_TXN_END_ROW);
  RC_CHECK(rc_txn_position(rc_txn_value_schema(), v.p, v.len - 1, file, sizeof file, &off, &row, err, sizeof err) ==
           RC_ERR_CORRUPT);
  rc_buf j = {0}, jj = {0}; /* Avro read back as JSON: the JSON form of the same message */
  RC_CHECK(rc_txn_value_to_json(rc_txn_value_schema(), v.p, v.len, &j, err, sizeof err) == 0);
  rc_txn_json_value(&jj, &m);
  rc_buf_putc(&jj, '\n');
  RC_CHECK(j.len == jj.len && !memcmp(j.p, jj.p, j.len));
  rc_buf_free(&j);
  rc_buf_free(&jj);
  m.end = 0;
  v.len = 0;
  rc_txn_json_value(&v, &m);
  RC_CHECK(rc_txn_position(NULL, v.p, v.len, file, sizeof file, &off, &row, err, sizeof err) == 0 && off == 9000 &&
           row == 0);
  RC_CHECK(rc_txn_position(NULL, "{\"status\":\"X\"}", 14, file, sizeof file, &off, &row, err, sizeof err) ==
           RC_ERR_CORRUPT);
  /* a change's envelope with the transaction field */
  rc_table *t = table_new();
  rc_avro_table *at = NULL;
  RC_CHECK(rc_avro_table_new_txn(t, &at, err, sizeof err) == 0);
  if (at) {
    rc_value img[2] = {vi(5), vi(-7)};
    rc_avro_txn x = {"0-1-42", 4, 2};
    rc_avro_source src = {1, "mariadb-bin.000042", 8000, 3, "0-1-42", 1700000000999ULL, &x};
    v.len = 0;
    RC_CHECK(rc_avro_encode_value(at, &v, 'c', NULL, img, &src, 1, err, sizeof err) == 0);
    RC_CHECK(rc_avro_value_position(rc_avro_value_schema(at), v.p, v.len, file, sizeof file, &off, &row, err,
                                    sizeof err) == 0 && off == 8000 && row == 3);
    rc_buf j = {0};
    RC_CHECK(rc_avro_value_to_json(rc_avro_value_schema(at), v.p, v.len, &j, err, sizeof err) == 0 && j.p &&
             strstr(j.p, ",\"transaction\":{\"id\":\"0-1-42\",\"order\":4,\"table_order\":2}}\n"));
    RC_CHECK(rc_txn_position(rc_avro_value_schema(at), v.p, v.len, file, sizeof file, &off, &row, err, sizeof err) ==
             RC_ERR_CORRUPT);
    rc_buf_free(&j);
    rc_avro_table_free(at);
  }
  rc_table_free(t);
  rc_buf_free(&v);
  rc_txn_codec_free(c);
}

void rc_tests(void) {
  RC_RUN(test_txn_position);
  RC_RUN(test_json_big_integers);
  RC_RUN(test_avro_position);
  RC_RUN(test_json_position);
}
