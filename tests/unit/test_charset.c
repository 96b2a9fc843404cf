/* Unit tests for charset.c: collation ids to charsets, text to UTF-8. */
#include "binlog.h"
#include "charset.h"
#include "rc_test.h"

static const char *conv(uint16_t coll, const char *p, size_t n) {
  static rc_buf b;
  void *cd;
  int kind = rc_charset_kind(coll, &cd);
  b.len = 0;
  if (rc_charset_json_str(&b, kind, cd, (const uint8_t *)p, n) < 0) return "(bytes)";
  rc_buf_putc(&b, 0);
  return b.p;
}

static const char *conv_utf8(uint16_t coll, const char *p, size_t n) {
  static rc_buf b;
  void *cd;
  int kind = rc_charset_kind(coll, &cd);
  b.len = 0;
  if (rc_charset_utf8(&b, kind, cd, (const uint8_t *)p, n) < 0) return "(bytes)";
  rc_buf_putc(&b, 0);
  return b.p;
}

static void test_kinds(void) {
  void *cd;
  RC_CHECK(rc_charset_kind(63, &cd) == RC_CS_BINARY);
  RC_CHECK(rc_charset_kind(45, &cd) == RC_CS_UTF8);  /* utf8mb4_general_ci */
  RC_CHECK(rc_charset_kind(255, &cd) == RC_CS_UTF8); /* utf8mb4_0900_ai_ci (MySQL 8) */
  RC_CHECK(rc_charset_kind(33, &cd) == RC_CS_UTF8);  /* utf8mb3 */
  RC_CHECK(rc_charset_kind(8, &cd) == RC_CS_LATIN1);
  RC_CHECK(rc_charset_kind(0, &cd) == RC_CS_UNKNOWN);
  RC_CHECK(rc_charset_kind(35, &cd) == RC_CS_ICONV && cd); /* ucs2 */
  RC_CHECK_STR(rc_charset_name(8), "latin1");
}

static void test_conversions(void) {
  /* MySQL latin1 is cp1252: 0x80 is the euro sign; 0x81 (undefined in cp1252) is U+0081 */
  RC_CHECK_STR(conv(8, "\x80\xE9\x81", 3), "\"\xE2\x82\xAC\xC3\xA9\xC2\x81\"");
  RC_CHECK_STR(conv(35, "\x00\x41\x20\xAC", 4), "\"A\xE2\x82\xAC\"");          /* ucs2 */
  RC_CHECK_STR(conv(54, "\xD8\x3D\xDE\x00", 4), "\"\xF0\x9F\x98\x80\"");       /* utf16: U+1F600 */
  RC_CHECK_STR(conv(56, "\x3D\xD8\x00\xDE", 4), "\"\xF0\x9F\x98\x80\"");       /* utf16le */
  RC_CHECK_STR(conv(60, "\x00\x01\xF6\x00", 4), "\"\xF0\x9F\x98\x80\"");       /* utf32 */
  RC_CHECK_STR(conv(45, "\xF0\x9F\x98\x80", 4), "\"\xF0\x9F\x98\x80\"");
  RC_CHECK_STR(conv(14, "\xC0", 1), "\"\xD0\x90\"");                           /* cp1251 А */
  RC_CHECK_STR(conv(35, "\x00", 1), "(bytes)");                                /* odd ucs2 */
  RC_CHECK_STR(conv(63, "x", 1), "(bytes)");
  RC_CHECK_STR(conv(8, "", 0), "\"\"");
}

/* The plain UTF-8 form (Avro strings) holds what the JSON string does. */
static void test_utf8(void) {
  RC_CHECK_STR(conv_utf8(8, "\x80\xE9\x81\"", 4), "\xE2\x82\xAC\xC3\xA9\xC2\x81\"");
  RC_CHECK_STR(conv_utf8(35, "\x00\x41\x20\xAC", 4), "A\xE2\x82\xAC");
  RC_CHECK_STR(conv_utf8(56, "\x3D\xD8\x00\xDE", 4), "\xF0\x9F\x98\x80");
  RC_CHECK_STR(conv_utf8(45, "a\\\n\xF0\x9F\x98\x80", 7), "a\\\n\xF0\x9F\x98\x80");
  RC_CHECK_STR(conv_utf8(45, "\xFFok", 3), "\xEF\xBF\xBDok"); /* invalid UTF-8 in a utf8mb4 column */
  RC_CHECK_STR(conv_utf8(35, "\x00", 1), "(bytes)");
  RC_CHECK_STR(conv_utf8(63, "x", 1), "(bytes)");
  RC_CHECK_STR(conv_utf8(8, "", 0), "");
}

void rc_tests(void) {
  RC_RUN(test_kinds);
  RC_RUN(test_conversions);
  RC_RUN(test_utf8);
}
