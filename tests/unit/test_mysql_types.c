/* Unit tests for mysql_types.h: the RC_T_* codes are the servers' type codes, the descriptor
 * table gives every code the properties the decoder relies on (and no code any property it
 * does not have), and the SQL names are those rowcast prints in Avro schemas and errors. */
#include <string.h>

#include "buf.h"

#include "binlog.h"
#include "mysql_types.h"
#include "rc_test.h"

static void test_codes(void) {
  static const struct {
    int code, want;
  } codes[] = {
      {RC_T_DECIMAL, 0},     {RC_T_TINY, 1},        {RC_T_SHORT, 2},        {RC_T_LONG, 3},
      {RC_T_FLOAT, 4},       {RC_T_DOUBLE, 5},      {RC_T_NULL, 6},         {RC_T_TIMESTAMP, 7},
      {RC_T_LONGLONG, 8},    {RC_T_INT24, 9},       {RC_T_DATE, 10},        {RC_T_TIME, 11},
      {RC_T_DATETIME, 12},   {RC_T_YEAR, 13},       {RC_T_NEWDATE, 14},     {RC_T_VARCHAR, 15},
      {RC_T_BIT, 16},        {RC_T_TIMESTAMP2, 17}, {RC_T_DATETIME2, 18},   {RC_T_TIME2, 19},
      {RC_T_TYPED_ARRAY, 20}, {RC_T_VECTOR, 242},   {RC_T_JSON, 245},       {RC_T_NEWDECIMAL, 246},
      {RC_T_ENUM, 247},      {RC_T_SET, 248},       {RC_T_TINY_BLOB, 249},  {RC_T_MEDIUM_BLOB, 250},
      {RC_T_LONG_BLOB, 251}, {RC_T_BLOB, 252},      {RC_T_VAR_STRING, 253}, {RC_T_STRING, 254},
      {RC_T_GEOMETRY, 255},
  };
  int named = 0;
  for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
    RC_CHECK(codes[k].code == codes[k].want);
    RC_CHECK(rc_type_desc_of((uint8_t)codes[k].code)->code != NULL);
  }
  for (int t = 0; t < 256; t++) named += rc_type_desc_of((uint8_t)t)->code != NULL;
  RC_CHECK(named == (int)(sizeof codes / sizeof codes[0])); /* no other code has a name */
  RC_CHECK_STR(rc_type_desc_of(RC_T_VAR_STRING)->code, "VAR_STRING");
  RC_CHECK_STR(rc_type_desc_of(RC_T_NEWDECIMAL)->code, "NEWDECIMAL");
}

static int in(int t, const int *set, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (set[k] == t) return 1;
  return 0;
}
#define IN(t, ...) in((t), (const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* The sets the decoder's switches tested before there was a table, code by code. */
static void test_properties(void) {
  for (int t = 0; t < 256; t++) {
    uint8_t u = (uint8_t)t;
    RC_CHECK(rc_type_is_numeric(u) == IN(t, 0, 1, 2, 3, 4, 5, 8, 9, 13, 246));
    RC_CHECK(rc_type_is_char(u, 0) == IN(t, 254, 253, 15, 252, 249, 250, 251));
    RC_CHECK(rc_type_is_char(u, 1) == IN(t, 254, 253, 15, 252, 249, 250, 251, 255));
    RC_CHECK(rc_type_has_fsp(u) == IN(t, 17, 18, 19));
    RC_CHECK(rc_type_has_labels(u) == IN(t, 247, 248));
    RC_CHECK(rc_type_is_lenprefix(u) == IN(t, 252, 249, 250, 251, 255, 245, 242));
    RC_CHECK(rc_type_has_maxlen(u) == IN(t, 254, 15, 253));
  }
}

static const char *colname(uint8_t type, uint8_t cs_kind, uint32_t length) {
  rc_column c;
  memset(&c, 0, sizeof c);
  c.type = type;
  c.cs_kind = cs_kind;
  c.length = length;
  return rc_column_sql_name(&c);
}

static void test_sql_names(void) {
  RC_CHECK_STR(rc_type_sql_name(RC_T_TINY, RC_TS_TEXT, 0), "TINYINT");
  RC_CHECK_STR(rc_type_sql_name(RC_T_INT24, RC_TS_BINARY, 0), "MEDIUMINT");
  RC_CHECK_STR(rc_type_sql_name(RC_T_LONGLONG, RC_TS_EITHER, 0), "BIGINT");
  RC_CHECK_STR(rc_type_sql_name(RC_T_NEWDECIMAL, RC_TS_TEXT, 0), "DECIMAL");
  RC_CHECK_STR(rc_type_sql_name(RC_T_TIMESTAMP2, RC_TS_TEXT, 0), "TIMESTAMP");
  RC_CHECK_STR(rc_type_sql_name(RC_T_TIME, RC_TS_TEXT, 0), "TIME");
  RC_CHECK_STR(rc_type_sql_name(RC_T_DATETIME2, RC_TS_TEXT, 0), "DATETIME");
  RC_CHECK_STR(rc_type_sql_name(RC_T_NEWDATE, RC_TS_TEXT, 0), "UNKNOWN");
  RC_CHECK_STR(rc_type_sql_name(RC_T_DECIMAL, RC_TS_TEXT, 0), "UNKNOWN");
  RC_CHECK_STR(rc_type_sql_name(100, RC_TS_TEXT, 0), "UNKNOWN");
  /* character types by charset, and BLOBs by their length-prefix size */
  RC_CHECK_STR(colname(RC_T_STRING, RC_CS_UTF8, 8), "CHAR");
  RC_CHECK_STR(colname(RC_T_STRING, RC_CS_BINARY, 16), "BINARY");
  RC_CHECK_STR(colname(RC_T_STRING, RC_CS_UNKNOWN, 16), "CHAR/BINARY");
  RC_CHECK_STR(colname(RC_T_VARCHAR, RC_CS_ICONV, 20), "VARCHAR");
  RC_CHECK_STR(colname(RC_T_VAR_STRING, RC_CS_BINARY, 20), "VARBINARY");
  RC_CHECK_STR(colname(RC_T_VAR_STRING, RC_CS_UNKNOWN, 20), "VARCHAR/VARBINARY");
  RC_CHECK_STR(colname(RC_T_BLOB, RC_CS_UTF8, 1), "TINYTEXT");
  RC_CHECK_STR(colname(RC_T_BLOB, RC_CS_LATIN1, 2), "TEXT");
  RC_CHECK_STR(colname(RC_T_BLOB, RC_CS_BINARY, 3), "MEDIUMBLOB");
  RC_CHECK_STR(colname(RC_T_BLOB, RC_CS_UNKNOWN, 4), "LONGBLOB/LONGTEXT");
  RC_CHECK_STR(colname(RC_T_BLOB, RC_CS_BINARY, 9), "LONGBLOB");
  RC_CHECK_STR(colname(RC_T_TINY_BLOB, RC_CS_BINARY, 2), "BLOB");
  RC_CHECK_STR(colname(RC_T_ENUM, RC_CS_UTF8, 1), "ENUM");
  RC_CHECK_STR(colname(RC_T_SET, RC_CS_UNKNOWN, 8), "SET");
  RC_CHECK_STR(colname(RC_T_GEOMETRY, RC_CS_BINARY, 4), "GEOMETRY");
  RC_CHECK_STR(colname(RC_T_JSON, RC_CS_UNKNOWN, 4), "JSON");
  RC_CHECK_STR(colname(RC_T_VECTOR, RC_CS_UNKNOWN, 4), "VECTOR");
}

static void put_event(rc_buf *b, uint8_t type, const uint8_t *body, size_t n) {
  uint8_t hdr[19] = {0};
  hdr[4] = type;
  uint32_t size = (uint32_t)(19 + n);
  for (int i = 0; i < 4; i++) hdr[9 + i] = (uint8_t)(size >> (8 * i));
  b->len = 0;
  rc_buf_put(b, hdr, 19);
  rc_buf_put(b, body, n);
}

/* A row decoding error names the column's type as the Avro schema does (VARBINARY here, where
 * the decoder's own table used to say VARCHAR). */
static void test_row_error_names_sql_type(void) {
  static const uint8_t map[] = {
      1, 0, 0, 0, 0, 0, 1, 0, 1, 'd', 0, 1, 't', 0,
      1,          /* ncols */
      RC_T_VARCHAR,
      2, 4, 0,    /* metadata: max 4 bytes */
      0x01,       /* nullable */
      2, 1, 63,   /* DEFAULT_CHARSET: binary */
  };
  static const uint8_t rows[] = {
      1, 0, 0, 0, 0, 0, 0, 0, /* table id, flags */
      1, 0x01,                /* width, columns present */
      0x00, 9, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', /* NULL bitmap, a 9-byte value */
  };
  rc_buf raw = {0};
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "x");
  rc_event ev;
  char err[512] = "";
  put_event(&raw, RC_EV_TABLE_MAP, map, sizeof map);
  RC_CHECK(rc_binlog_feed_nocrc(bl, (uint8_t *)raw.p, raw.len, 4, &ev, err, sizeof err) == 0);
  const rc_table *t = rc_binlog_table(bl, 1);
  RC_CHECK(t && t->cols[0].cs_kind == RC_CS_BINARY);
  put_event(&raw, RC_EV_WRITE_ROWS_V1, rows, sizeof rows);
  RC_CHECK(rc_binlog_feed_nocrc(bl, (uint8_t *)raw.p, raw.len, 100, &ev, err, sizeof err) == 0);
  rc_rows r = {0};
  rc_value v[1];
  RC_CHECK(rc_rows_begin(bl, &ev, &r, err, sizeof err) == 0);
  RC_CHECK(rc_rows_next_image(&r, v, 0, err, sizeof err) == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "column 1 (unnamed, VARBINARY): value of 9 bytes is longer than the column's 4") != NULL);
  if (!strstr(err, "VARBINARY")) fprintf(stderr, "error: %s\n", err);
  rc_rows_free(&r);
  rc_binlog_free(bl);
  rc_buf_free(&raw);
}

void rc_tests(void) {
  RC_RUN(test_codes);
  RC_RUN(test_properties);
  RC_RUN(test_sql_names);
  RC_RUN(test_row_error_names_sql_type);
}
