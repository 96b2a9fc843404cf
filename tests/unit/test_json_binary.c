/*
 * test_json_binary.c: MySQL binary JSON and PARTIAL_UPDATE_ROWS diffs to JSON text
 * (common/binlog/json_binary.c). Documents are built byte by byte; outputs are compared exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_binary.h"
#include "rc_err.h"
#include "rc_test.h"

static rc_buf out;
static char err[256];
static int last_rc;

/* Format a document; the JSON text, or NULL on error (err and last_rc say why). */
static const char *fmt(const uint8_t *p, size_t n) {
  out.len = 0;
  err[0] = 0;
  last_rc = rc_json_binary_format(&out, p, n, err, sizeof err);
  if (last_rc) return NULL;
  rc_buf_putc(&out, 0);
  return out.p;
}

static const char *fmt_diff(const uint8_t *p, size_t n) {
  out.len = 0;
  err[0] = 0;
  last_rc = rc_json_diff_format(&out, p, n, err, sizeof err);
  if (last_rc) return NULL;
  rc_buf_putc(&out, 0);
  return out.p;
}

#define FMT(doc) fmt((doc), sizeof(doc))
/* The document is rejected as corrupt and the message names `where` (e.g. "at byte 5"). */
#define CHECK_CORRUPT(doc, where)                                                        \
  do {                                                                                   \
    RC_CHECK(fmt((doc), sizeof(doc)) == NULL);                                           \
    RC_CHECK(last_rc == RC_ERR_CORRUPT);                                                 \
    if (!strstr(err, (where))) {                                                         \
      fprintf(stderr, "%s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, err, where); \
      rc_test_failed_checks++;                                                           \
    }                                                                                    \
  } while (0)

/* ---- containers ---- */

static void test_small_object_nested_array(void) {
  static const uint8_t doc[] = {
      0x00,                   /* small object */
      0x02, 0x00, 0x1e, 0x00, /* 2 members, 30 bytes */
      0x12, 0x00, 0x01, 0x00, /* key "a" at 18 */
      0x13, 0x00, 0x01, 0x00, /* key "b" at 19 */
      0x05, 0x01, 0x00,       /* int16 1, inlined */
      0x02, 0x14, 0x00,       /* small array at 20 */
      'a',  'b',
      0x02, 0x00, 0x0a, 0x00, /* array: 2 elements, 10 bytes */
      0x05, 0x01, 0x00,       /* 1 */
      0x05, 0x02, 0x00,       /* 2 */
  };
  RC_CHECK_STR(FMT(doc), "{\"a\":1,\"b\":[1,2]}");
}

static void test_empty_containers_and_null_doc(void) {
  static const uint8_t obj[] = {0x00, 0x00, 0x00, 0x04, 0x00};
  static const uint8_t arr[] = {0x02, 0x00, 0x00, 0x04, 0x00};
  static const uint8_t larr[] = {0x03, 0, 0, 0, 0, 0x08, 0, 0, 0};
  static const uint8_t lobj[] = {0x01, 0, 0, 0, 0, 0x08, 0, 0, 0};
  RC_CHECK_STR(FMT(obj), "{}");
  RC_CHECK_STR(FMT(arr), "[]");
  RC_CHECK_STR(FMT(larr), "[]");
  RC_CHECK_STR(FMT(lobj), "{}");
  RC_CHECK_STR(fmt((const uint8_t *)"", 0), "null");
}

static void test_nested_objects(void) {
  static const uint8_t doc[] = {
      0x00, 0x01, 0x00, 0x1c, 0x00, /* 1 member, 28 bytes */
      0x0b, 0x00, 0x01, 0x00,       /* key "a" at 11 */
      0x00, 0x0c, 0x00,             /* small object at 12 */
      'a',
      0x01, 0x00, 0x10, 0x00,       /* inner: 1 member, 16 bytes */
      0x0b, 0x00, 0x01, 0x00,       /* key "b" at 11 */
      0x02, 0x0c, 0x00,             /* small array at 12 */
      'b',
      0x00, 0x00, 0x04, 0x00,       /* [] */
  };
  RC_CHECK_STR(FMT(doc), "{\"a\":{\"b\":[]}}");
}

static void test_large_array_inlines_int32(void) {
  static const uint8_t doc[] = {
      0x03,                         /* large array */
      0x06, 0x00, 0x00, 0x00,       /* 6 elements */
      0x2e, 0x00, 0x00, 0x00,       /* 46 bytes */
      0x07, 0x60, 0x79, 0xfe, 0xff, /* int32 -100000 inlined */
      0x08, 0x00, 0x28, 0x6b, 0xee, /* uint32 4000000000 inlined */
      0x05, 0xfe, 0xff, 0x00, 0x00, /* int16 -2 inlined */
      0x04, 0x01, 0x00, 0x00, 0x00, /* true */
      0x04, 0x00, 0x00, 0x00, 0x00, /* null */
      0x09, 0x26, 0x00, 0x00, 0x00, /* int64 at 38 */
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
  };
  RC_CHECK_STR(FMT(doc), "[-100000,4000000000,-2,true,null,-9223372036854775808]");
}

static void test_small_array_int32_by_offset(void) {
  static const uint8_t doc[] = {
      0x02, 0x04, 0x00, 0x18, 0x00, /* 4 elements, 24 bytes */
      0x07, 0x10, 0x00,             /* int32 at 16 */
      0x08, 0x14, 0x00,             /* uint32 at 20 */
      0x06, 0xff, 0xff,             /* uint16 65535 inlined */
      0x04, 0x02, 0x00,             /* false */
      0xfb, 0xff, 0xff, 0xff,       /* -5 */
      0xff, 0xff, 0xff, 0xff,       /* 4294967295 */
  };
  RC_CHECK_STR(FMT(doc), "[-5,4294967295,65535,false]");
}

static void test_large_object(void) {
  static const uint8_t doc[] = {
      0x01,                         /* large object */
      0x02, 0x00, 0x00, 0x00,       /* 2 members */
      0x24, 0x00, 0x00, 0x00,       /* 36 bytes */
      0x1e, 0x00, 0x00, 0x00, 0x01, 0x00, /* key "k" at 30 */
      0x1f, 0x00, 0x00, 0x00, 0x01, 0x00, /* key "n" at 31 */
      0x0c, 0x20, 0x00, 0x00, 0x00, /* string at 32 */
      0x07, 0x2a, 0x00, 0x00, 0x00, /* int32 42 inlined */
      'k',  'n',
      0x03, 'a',  'b',  'c',
  };
  RC_CHECK_STR(FMT(doc), "{\"k\":\"abc\",\"n\":42}");
}

static void test_keys_in_stored_order_and_escaped(void) {
  static const uint8_t doc[] = {
      0x00, 0x02, 0x00, 0x15, 0x00, /* 2 members, 21 bytes */
      0x12, 0x00, 0x01, 0x00,       /* key at 18, "\"" */
      0x13, 0x00, 0x02, 0x00,       /* key at 19, "z\n" */
      0x04, 0x00, 0x00,             /* null */
      0x05, 0x00, 0x80,             /* -32768 */
      '"',  'z',  '\n',
  };
  RC_CHECK_STR(FMT(doc), "{\"\\\"\":null,\"z\\n\":-32768}");
}

/* ---- scalars ---- */

static void test_top_level_scalars(void) {
  static const uint8_t lnull[] = {0x04, 0x00}, ltrue[] = {0x04, 0x01}, lfalse[] = {0x04, 0x02};
  static const uint8_t i16[] = {0x05, 0x00, 0x80}, u16[] = {0x06, 0x00, 0x80};
  static const uint8_t i32[] = {0x07, 0x00, 0x00, 0x00, 0x80};
  static const uint8_t u32[] = {0x08, 0x00, 0x00, 0x00, 0x80};
  static const uint8_t i64[] = {0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  static const uint8_t u64[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t i64m1[] = {0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t d1[] = {0x0b, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f};
  static const uint8_t d2[] = {0x0b, 0x2f, 0x30, 0xb7, 0xb3, 0xa7, 0xc9, 0xba, 0x81};
  static const uint8_t d3[] = {0x0b, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
  static const uint8_t s[] = {0x0c, 0x08, 'h', 0xc3, 0xa9, 'l', '"', '\\', '\t', 0x01};
  static const uint8_t s0[] = {0x0c, 0x00};
  RC_CHECK_STR(FMT(lnull), "null");
  RC_CHECK_STR(FMT(ltrue), "true");
  RC_CHECK_STR(FMT(lfalse), "false");
  RC_CHECK_STR(FMT(i16), "-32768");
  RC_CHECK_STR(FMT(u16), "32768");
  RC_CHECK_STR(FMT(i32), "-2147483648");
  RC_CHECK_STR(FMT(u32), "2147483648");
  RC_CHECK_STR(FMT(i64), "9223372036854775807");
  RC_CHECK_STR(FMT(u64), "18446744073709551615");
  RC_CHECK_STR(FMT(i64m1), "-1");
  RC_CHECK_STR(FMT(d1), "0.1");
  RC_CHECK_STR(FMT(d2), "-2.5e-300");
  RC_CHECK_STR(FMT(d3), "1");
  RC_CHECK_STR(FMT(s), "\"h\xc3\xa9l\\\"\\\\\\t\\u0001\"");
  RC_CHECK_STR(FMT(s0), "\"\"");
}

static void test_string_two_byte_length(void) {
  uint8_t doc[3 + 200];
  doc[0] = 0x0c;
  doc[1] = 0xc8; /* 200 = 0x48 | continue, then 1 << 7 */
  doc[2] = 0x01;
  memset(doc + 3, 'x', 200);
  char want[203];
  want[0] = '"';
  memset(want + 1, 'x', 200);
  want[201] = '"';
  want[202] = 0;
  RC_CHECK_STR(FMT(doc), want);
  /* the same string as an array element, by offset */
  uint8_t arr[7 + 203];
  const uint8_t head[] = {0x02, 0x01, 0x00, (uint8_t)209, 0x00, 0x0c, 0x07, 0x00};
  memcpy(arr, head, 8);
  memcpy(arr + 8, doc + 1, 202);
  char want2[205];
  snprintf(want2, sizeof want2, "[%s]", want);
  RC_CHECK_STR(fmt(arr, sizeof arr), want2);
}

/* ---- opaque ---- */

static void test_opaque_decimal(void) {
  static const uint8_t pos[] = {0x0f, 0xf6, 0x05, 0x05, 0x02, 0x80, 0x7b, 0x2d};
  static const uint8_t neg[] = {0x0f, 0xf6, 0x05, 0x05, 0x02, 0x7f, 0x84, 0xd2};
  static const uint8_t frac_only[] = {0x0f, 0xf6, 0x04, 0x04, 0x04, 0x93, 0x88};
  static const uint8_t frac_neg[] = {0x0f, 0xf6, 0x04, 0x04, 0x04, 0x6c, 0x77};
  static const uint8_t big[] = {0x0f, 0xf6, 0x0b, 0x14, 0x00, 0x8c, 0x14, 0x9a,
                                0xa4, 0x35, 0x0d, 0xfb, 0x38, 0xd2};
  static const uint8_t neg2[] = {0x0f, 0xf6, 0x08, 0x0a, 0x03, 0x7f, 0xed, 0x29, 0x78, 0xfc, 0x84};
  RC_CHECK_STR(FMT(pos), "123.45");
  RC_CHECK_STR(FMT(neg), "-123.45");
  RC_CHECK_STR(FMT(frac_only), "0.5000");
  RC_CHECK_STR(FMT(frac_neg), "-0.5000");
  RC_CHECK_STR(FMT(big), "12345678901234567890");
  RC_CHECK_STR(FMT(neg2), "-1234567.891");
  /* inside an array: [1.50] is a number, not a string */
  static const uint8_t arr[] = {0x02, 0x01, 0x00, 0x0d, 0x00, 0x0f, 0x07, 0x00,
                                0xf6, 0x04, 0x03, 0x02, 0x81, 0x32};
  RC_CHECK_STR(FMT(arr), "[1.50]");
}

static void test_opaque_temporals(void) {
  static const uint8_t date[] = {0x0f, 0x0a, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0xba, 0xb2, 0x19};
  static const uint8_t dt[] = {0x0f, 0x0c, 0x08, 0x40, 0xe2, 0x01, 0xfb, 0x7e, 0xbb, 0xb2, 0x19};
  static const uint8_t ts[] = {0x0f, 0x07, 0x08, 0x00, 0x00, 0x00, 0x87, 0x33, 0xe6, 0xdf, 0x19};
  static const uint8_t tneg[] = {0x0f, 0x0b, 0x08, 0x00, 0x00, 0x00, 0x05, 0x91, 0xcb, 0xff, 0xff};
  static const uint8_t tfrac[] = {0x0f, 0x0b, 0x08, 0xe0, 0x5e, 0xf8, 0x7c, 0xef, 0xff, 0xff, 0xff};
  static const uint8_t tpos[] = {0x0f, 0x0b, 0x08, 0xf1, 0xfb, 0x09, 0x8f, 0xd3, 0x00, 0x00, 0x00};
  static const uint8_t tzero[] = {0x0f, 0x0b, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t dzero[] = {0x0f, 0x0c, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
  RC_CHECK_STR(FMT(date), "\"2024-02-29\"");
  RC_CHECK_STR(FMT(dt), "\"2024-02-29 23:59:59.123456\"");
  RC_CHECK_STR(FMT(ts), "\"2038-01-19 03:14:07.000000\"");
  RC_CHECK_STR(FMT(tneg), "\"-838:59:59.000000\"");
  RC_CHECK_STR(FMT(tfrac), "\"-01:02:03.500000\"");
  RC_CHECK_STR(FMT(tpos), "\"13:14:15.654321\"");
  RC_CHECK_STR(FMT(tzero), "\"00:00:00.000000\"");
  RC_CHECK_STR(FMT(dzero), "\"0000-00-00 00:00:00.000000\"");
}

static void test_opaque_other_types(void) {
  static const uint8_t vc[] = {0x0f, 0x0f, 0x03, 'a', 'b', 'c'};
  static const uint8_t blob[] = {0x0f, 0xfc, 0x02, 0x00, 0xff};
  static const uint8_t empty[] = {0x0f, 0x10, 0x00};
  static const uint8_t small_type[] = {0x0f, 0x01, 0x01, 0x7f};
  RC_CHECK_STR(FMT(vc), "\"base64:type15:YWJj\"");
  RC_CHECK_STR(FMT(blob), "\"base64:type252:AP8=\"");
  RC_CHECK_STR(FMT(empty), "\"base64:type16:\"");
  RC_CHECK_STR(FMT(small_type), "\"base64:type1:fw==\""); /* MySQL prints the number unpadded */
}

/* ---- corrupt documents ---- */

static void test_corrupt_containers(void) {
  /* declared size 30 but only 4 bytes follow the type byte */
  static const uint8_t size_past_end[] = {0x00, 0x02, 0x00, 0x1e, 0x00};
  CHECK_CORRUPT(size_past_end, "at byte 1");
  /* 1000 elements cannot fit in 10 bytes */
  static const uint8_t count_too_big[] = {0x02, 0xe8, 0x03, 0x0a, 0x00, 0x05, 0x01, 0x00, 0x05, 0x02, 0x00};
  CHECK_CORRUPT(count_too_big, "does not fit");
  /* value offset 0x40 past the array's 10 bytes */
  static const uint8_t voff_past[] = {0x02, 0x01, 0x00, 0x0a, 0x00, 0x0c, 0x40, 0x00, 0x01, 'x', 0x00};
  CHECK_CORRUPT(voff_past, "at byte 5");
  /* value offset pointing back into the header */
  static const uint8_t voff_header[] = {0x02, 0x01, 0x00, 0x09, 0x00, 0x0c, 0x02, 0x00, 0x00, 0x00};
  CHECK_CORRUPT(voff_header, "outside");
  /* key offset + length past the object */
  static const uint8_t koff_past[] = {0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x05, 0x00,
                                      0x04, 0x00, 0x00, 'a'};
  CHECK_CORRUPT(koff_past, "key 0");
  /* header truncated */
  static const uint8_t hdr_short[] = {0x03, 0x01, 0x00, 0x00};
  CHECK_CORRUPT(hdr_short, "at byte 1");
  /* nested array whose size exceeds what its parent has left */
  static const uint8_t nested_big[] = {0x02, 0x01, 0x00, 0x0b, 0x00, 0x02, 0x07, 0x00,
                                       0x00, 0x00, 0x09, 0x00};
  CHECK_CORRUPT(nested_big, "at byte 8");
  /* unknown type in a value entry, and a bad inlined literal */
  static const uint8_t bad_type[] = {0x02, 0x01, 0x00, 0x08, 0x00, 0x0d, 0x07, 0x00, 0x00};
  CHECK_CORRUPT(bad_type, "unknown value type 0x0d at byte 8");
  static const uint8_t bad_lit[] = {0x02, 0x01, 0x00, 0x07, 0x00, 0x04, 0x03, 0x00};
  CHECK_CORRUPT(bad_lit, "literal");
  /* int32 in a small array is not inlined: its "offset" 0x0001 points into the header */
  static const uint8_t i32_small[] = {0x02, 0x01, 0x00, 0x07, 0x00, 0x07, 0x01, 0x00};
  CHECK_CORRUPT(i32_small, "outside");
  /* two entries pointing at the same string: overlapping values */
  static const uint8_t overlap[] = {0x02, 0x02, 0x00, 0x0d, 0x00, 0x0c, 0x0a, 0x00,
                                    0x0c, 0x0a, 0x00, 0x02, 'a', 'b'};
  CHECK_CORRUPT(overlap, "overlap");
}

static void test_corrupt_scalars(void) {
  static const uint8_t varlen_trunc[] = {0x0c, 0x80};
  CHECK_CORRUPT(varlen_trunc, "string length at byte 1");
  static const uint8_t varlen_6[] = {0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  CHECK_CORRUPT(varlen_6, "at byte 1");
  static const uint8_t varlen_big[] = {0x0c, 0xff, 0xff, 0xff, 0xff, 0x7f};
  CHECK_CORRUPT(varlen_big, "at byte 1");
  static const uint8_t str_short[] = {0x0c, 0x05, 'a', 'b'};
  CHECK_CORRUPT(str_short, "exceeds");
  static const uint8_t i64_short[] = {0x09, 0x01, 0x02, 0x03};
  CHECK_CORRUPT(i64_short, "needs 8 bytes");
  static const uint8_t dbl_short[] = {0x0b, 0x00};
  CHECK_CORRUPT(dbl_short, "at byte 1");
  static const uint8_t lit_empty[] = {0x04};
  CHECK_CORRUPT(lit_empty, "at byte 1");
  static const uint8_t bad_top[] = {0x10, 0x00};
  CHECK_CORRUPT(bad_top, "unknown value type 0x10 at byte 1");
  static const uint8_t opq_empty[] = {0x0f};
  CHECK_CORRUPT(opq_empty, "field type");
  static const uint8_t opq_len[] = {0x0f, 0x0f, 0x05, 'a'};
  CHECK_CORRUPT(opq_len, "opaque length 5");
  static const uint8_t opq_varlen[] = {0x0f, 0x0f, 0x80};
  CHECK_CORRUPT(opq_varlen, "at byte 2");
  /* decimal: size mismatch, impossible precision, and a group of more than 9 digits */
  static const uint8_t dec_size[] = {0x0f, 0xf6, 0x04, 0x05, 0x02, 0x80, 0x7b};
  CHECK_CORRUPT(dec_size, "needs 3 bytes");
  static const uint8_t dec_prec[] = {0x0f, 0xf6, 0x03, 0x00, 0x00, 0x80};
  CHECK_CORRUPT(dec_prec, "precision");
  static const uint8_t dec_scale[] = {0x0f, 0xf6, 0x03, 0x02, 0x03, 0x80};
  CHECK_CORRUPT(dec_scale, "precision");
  static const uint8_t dec_short[] = {0x0f, 0xf6, 0x01, 0x05};
  CHECK_CORRUPT(dec_short, "precision/scale");
  static const uint8_t dec_digits[] = {0x0f, 0xf6, 0x06, 0x09, 0x00, 0xbf, 0xff, 0xff, 0xff};
  CHECK_CORRUPT(dec_digits, "digit group");
  /* temporals: wrong length, microseconds out of range */
  static const uint8_t tm_len[] = {0x0f, 0x0b, 0x04, 0, 0, 0, 0};
  CHECK_CORRUPT(tm_len, "not 8");
  static const uint8_t tm_us[] = {0x0f, 0x0c, 0x08, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0};
  CHECK_CORRUPT(tm_us, "microseconds");
}

/* A document of n single-element small arrays wrapped around [] (n + 1 arrays in all). */
static size_t nested_arrays(uint8_t *doc, size_t cap, int n) {
  /* built from the inside out: each level is `count=1 | size | entry(0x02, offset 7)` */
  size_t start = cap - 4;
  memcpy(doc + start, (const uint8_t[]){0x00, 0x00, 0x04, 0x00}, 4);
  for (int i = 0; i < n; i++) {
    size_t size = 7 + (cap - start);
    start -= 7;
    const uint8_t level[7] = {0x01, 0x00, (uint8_t)(size & 0xff), (uint8_t)(size >> 8),
                              0x02, 0x07, 0x00};
    memcpy(doc + start, level, 7);
  }
  doc[--start] = 0x02;
  memmove(doc, doc + start, cap - start);
  return cap - start;
}

static void test_nesting_depth(void) {
  static uint8_t doc[8192];
  size_t n = nested_arrays(doc, sizeof doc, 99); /* 100 arrays in all: allowed */
  const char *s = fmt(doc, n);
  RC_CHECK(s != NULL);
  if (s) {
    RC_CHECK(strlen(s) == 200);
    RC_CHECK(s[0] == '[' && s[99] == '[' && s[100] == ']' && s[199] == ']');
  }
  n = nested_arrays(doc, sizeof doc, 100); /* 101 arrays */
  RC_CHECK(fmt(doc, n) == NULL);
  RC_CHECK(last_rc == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "nesting deeper than 100") != NULL);
  n = nested_arrays(doc, sizeof doc, 1000);
  RC_CHECK(fmt(doc, n) == NULL);
  RC_CHECK(last_rc == RC_ERR_CORRUPT);
}

/* Every truncation and every single-byte change of valid documents either formats or is
 * rejected as corrupt, and never reads outside the input (run under ASan). */
static void test_mutations_stay_in_bounds(void) {
  static const uint8_t doc1[] = {
      0x00, 0x02, 0x00, 0x1e, 0x00, 0x12, 0x00, 0x01, 0x00, 0x13, 0x00, 0x01, 0x00, 0x05, 0x01,
      0x00, 0x02, 0x14, 0x00, 'a',  'b',  0x02, 0x00, 0x0a, 0x00, 0x05, 0x01, 0x00, 0x05, 0x02, 0x00,
  };
  static const uint8_t doc2[] = {
      0x01, 0x02, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x01, 0x00,
      0x1f, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0c, 0x20, 0x00, 0x00, 0x00, 0x07, 0x2a, 0x00, 0x00,
      0x00, 'k',  'n',  0x03, 'a',  'b',  'c',
  };
  static const uint8_t doc3[] = {0x02, 0x02, 0x00, 0x1b, 0x00, 0x0f, 0x0a, 0x00, 0x0f, 0x11,
                                 0x00, 0xf6, 0x05, 0x05, 0x02, 0x80, 0x7b, 0x2d, 0x0a, 0x08,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0xba, 0xb2, 0x19};
  const uint8_t *docs[] = {doc1, doc2, doc3};
  const size_t lens[] = {sizeof doc1, sizeof doc2, sizeof doc3};
  int bad = 0;
  for (int d = 0; d < 3; d++) {
    uint8_t *m = malloc(lens[d]);
    for (size_t cut = 0; cut <= lens[d]; cut++) {
      uint8_t *t = malloc(cut ? cut : 1); /* exact-size copy so ASan sees over-reads */
      memcpy(t, docs[d], cut);
      fmt(t, cut);
      if (last_rc != 0 && last_rc != RC_ERR_CORRUPT) bad++;
      free(t);
    }
    for (size_t i = 0; i < lens[d]; i++) {
      for (int v = 0; v < 256; v++) {
        memcpy(m, docs[d], lens[d]);
        m[i] = (uint8_t)v;
        fmt(m, lens[d]);
        if (last_rc != 0 && last_rc != RC_ERR_CORRUPT) bad++;
      }
    }
    free(m);
  }
  RC_CHECK(bad == 0);
  /* the un-mutated third document, for reference */
  RC_CHECK_STR(FMT(doc3), "[123.45,\"2024-02-29\"]");
}

/* ---- JSON diffs ---- */

static void test_json_diff(void) {
  static const uint8_t diff[] = {
      0x00, 0x05, '$', '.', 'a', 'g', 'e', 0x03, 0x05, 0x1a, 0x00,   /* REPLACE $.age 26 */
      0x01, 0x06, '$', '.', 'b', '[', '1', ']', 0x03, 0x0c, 0x01, 'x', /* INSERT $.b[1] "x" */
      0x02, 0x03, '$', '.', 'c',                                    /* REMOVE $.c */
      0x00, 0x01, '$', 0x05, 0x02, 0x00, 0x00, 0x04, 0x00,          /* REPLACE $ [] */
  };
  RC_CHECK_STR(fmt_diff(diff, sizeof diff),
               "{\"json_diff\":[{\"op\":\"replace\",\"path\":\"$.age\",\"value\":26},"
               "{\"op\":\"insert\",\"path\":\"$.b[1]\",\"value\":\"x\"},"
               "{\"op\":\"remove\",\"path\":\"$.c\"},"
               "{\"op\":\"replace\",\"path\":\"$\",\"value\":[]}]}");
  RC_CHECK_STR(fmt_diff(diff, 0), "{\"json_diff\":[]}");

  /* path length as 0xfc + u16 */
  static const uint8_t long_path[] = {0x02, 0xfc, 0x03, 0x00, '$', '.', 'c'};
  RC_CHECK_STR(fmt_diff(long_path, sizeof long_path),
               "{\"json_diff\":[{\"op\":\"remove\",\"path\":\"$.c\"}]}");
}

static void test_json_diff_corrupt(void) {
  static const uint8_t bad_op[] = {0x03, 0x01, '$'};
  RC_CHECK(fmt_diff(bad_op, sizeof bad_op) == NULL && last_rc == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "unknown operation 3 at byte 0") != NULL);
  static const uint8_t path_long[] = {0x02, 0x09, '$', '.'};
  RC_CHECK(fmt_diff(path_long, sizeof path_long) == NULL && last_rc == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "path length 9") != NULL);
  static const uint8_t path_trunc[] = {0x02, 0xfc, 0x01};
  RC_CHECK(fmt_diff(path_trunc, sizeof path_trunc) == NULL && last_rc == RC_ERR_CORRUPT);
  static const uint8_t null_len[] = {0x02, 0xfb};
  RC_CHECK(fmt_diff(null_len, sizeof null_len) == NULL && last_rc == RC_ERR_CORRUPT);
  static const uint8_t no_value[] = {0x00, 0x01, '$'};
  RC_CHECK(fmt_diff(no_value, sizeof no_value) == NULL && last_rc == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "value length at byte 3") != NULL);
  static const uint8_t value_long[] = {0x00, 0x01, '$', 0x05, 0x05, 0x01};
  RC_CHECK(fmt_diff(value_long, sizeof value_long) == NULL && last_rc == RC_ERR_CORRUPT);
  /* the value document itself is corrupt: offsets count from the start of the diff list */
  static const uint8_t value_bad[] = {0x00, 0x01, '$', 0x02, 0x09, 0x00};
  RC_CHECK(fmt_diff(value_bad, sizeof value_bad) == NULL && last_rc == RC_ERR_CORRUPT);
  RC_CHECK(strstr(err, "needs 8 bytes, 1 left at byte 5") != NULL);
}

void rc_tests(void) {
  RC_RUN(test_small_object_nested_array);
  RC_RUN(test_empty_containers_and_null_doc);
  RC_RUN(test_nested_objects);
  RC_RUN(test_large_array_inlines_int32);
  RC_RUN(test_small_array_int32_by_offset);
  RC_RUN(test_large_object);
  RC_RUN(test_keys_in_stored_order_and_escaped);
  RC_RUN(test_top_level_scalars);
  RC_RUN(test_string_two_byte_length);
  RC_RUN(test_opaque_decimal);
  RC_RUN(test_opaque_temporals);
  RC_RUN(test_opaque_other_types);
  RC_RUN(test_corrupt_containers);
  RC_RUN(test_corrupt_scalars);
  RC_RUN(test_nesting_depth);
  RC_RUN(test_mutations_stay_in_bounds);
  RC_RUN(test_json_diff);
  RC_RUN(test_json_diff_corrupt);
  rc_buf_free(&out);
}
