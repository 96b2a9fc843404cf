/* Unit tests for buf.c: number, base64 and JSON-string formatting. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "rc_test.h"

static rc_buf b;
static const char *s(void) {
  rc_buf_putc(&b, 0);
  b.len--;
  return b.p;
}
#define RESET() (b.len = 0)

static void test_integers(void) {
  RESET(); rc_buf_u64(&b, 18446744073709551615ull); RC_CHECK_STR(s(), "18446744073709551615");
  RESET(); rc_buf_i64(&b, INT64_MIN); RC_CHECK_STR(s(), "-9223372036854775808");
  RESET(); rc_buf_i64(&b, 0); RC_CHECK_STR(s(), "0");
  RESET(); rc_buf_uint_pad(&b, 5, 6); RC_CHECK_STR(s(), "000005");
  RESET(); rc_buf_uint_pad(&b, 123456, 3); RC_CHECK_STR(s(), "123456");
}

static void test_floats(void) {
  RESET(); rc_buf_json_float(&b, 0.1f); RC_CHECK_STR(s(), "0.1");
  RESET(); rc_buf_json_float(&b, FLT_MAX); RC_CHECK_STR(s(), "3.4028235e+38");
  RESET(); rc_buf_json_float(&b, -1.5f); RC_CHECK_STR(s(), "-1.5");
  RESET(); rc_buf_json_float(&b, 16777217.0f); RC_CHECK_STR(s(), "16777216");
  RESET(); rc_buf_json_double(&b, 0.1); RC_CHECK_STR(s(), "0.1");
  RESET(); rc_buf_json_double(&b, DBL_MAX); RC_CHECK_STR(s(), "1.7976931348623157e+308");
  RESET(); rc_buf_json_double(&b, 1.0 / 3); RC_CHECK_STR(s(), "0.3333333333333333");
  RESET(); rc_buf_json_double(&b, -0.0); RC_CHECK_STR(s(), "-0");
  RESET(); rc_buf_json_float(&b, -INFINITY); RC_CHECK_STR(s(), "null");
  RESET(); rc_buf_json_double(&b, NAN); RC_CHECK_STR(s(), "null");
  /* subnormals need fewer digits than normal numbers */
  RESET(); rc_buf_json_float(&b, 1.4e-45f); RC_CHECK_STR(s(), "1e-45");
  RESET(); rc_buf_json_double(&b, 4.9406564584124654e-324); RC_CHECK_STR(s(), "5e-324");
  RESET(); rc_buf_json_double(&b, 123456789012345.0); RC_CHECK_STR(s(), "123456789012345");
  RESET(); rc_buf_json_double(&b, 0.30000000000000004); RC_CHECK_STR(s(), "0.30000000000000004");
  /* every float formats to text that reads back as the same float */
  uint32_t x = 12345;
  for (int i = 0; i < 20000; i++) {
    x = x * 1103515245u + 12345u;
    float f;
    memcpy(&f, &x, 4);
    if (f != f || f - f != 0) continue; /* NaN, inf */
    RESET();
    rc_buf_json_float(&b, f);
    if (strtof(s(), NULL) != f) {
      RC_CHECK(!"float round trip");
      break;
    }
    double d;
    uint64_t y = (uint64_t)x << 32 | (x * 2654435761u);
    memcpy(&d, &y, 8);
    if (d != d || d - d != 0) continue;
    RESET();
    rc_buf_json_double(&b, d);
    if (strtod(s(), NULL) != d) {
      RC_CHECK(!"double round trip");
      break;
    }
  }
}

static void test_base64(void) {
  RESET(); rc_buf_base64(&b, (const uint8_t *)"", 0); RC_CHECK_STR(s(), "");
  RESET(); rc_buf_base64(&b, (const uint8_t *)"f", 1); RC_CHECK_STR(s(), "Zg==");
  RESET(); rc_buf_base64(&b, (const uint8_t *)"fo", 2); RC_CHECK_STR(s(), "Zm8=");
  RESET(); rc_buf_base64(&b, (const uint8_t *)"foobar", 6); RC_CHECK_STR(s(), "Zm9vYmFy");
  RESET(); rc_buf_base64(&b, (const uint8_t *)"\x00\xff\xfe", 3); RC_CHECK_STR(s(), "AP/+");
}

static void test_json_str(void) {
  RESET(); rc_buf_json_str(&b, "a\"b\\c\n\t\x01", 8); RC_CHECK_STR(s(), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  RESET(); rc_buf_json_str(&b, "\xF0\x9F\x98\x80", 4); RC_CHECK_STR(s(), "\"\xF0\x9F\x98\x80\"");
  /* invalid UTF-8: a lone continuation byte, an overlong form, a surrogate, a cut sequence */
  RESET(); rc_buf_json_str(&b, "\x80", 1); RC_CHECK_STR(s(), "\"\xEF\xBF\xBD\"");
  RESET(); rc_buf_json_str(&b, "\xC0\xAF", 2); RC_CHECK_STR(s(), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  RESET(); rc_buf_json_str(&b, "\xED\xA0\x80", 3); RC_CHECK_STR(s(), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  RESET(); rc_buf_json_str(&b, "a\xE2\x82", 3); RC_CHECK_STR(s(), "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
  RESET(); rc_buf_json_str(&b, "\0x", 2); RC_CHECK_STR(s(), "\"\\u0000x\"");
}

/* The text rc_buf_json_str quotes, unquoted: same replacements, no escapes, NUL kept. */
static void test_utf8_clean(void) {
  RESET(); rc_buf_utf8_clean(&b, "a\"b\\c\n", 6); RC_CHECK_STR(s(), "a\"b\\c\n");
  RESET(); rc_buf_utf8_clean(&b, "\xF0\x9F\x98\x80", 4); RC_CHECK_STR(s(), "\xF0\x9F\x98\x80");
  RESET(); rc_buf_utf8_clean(&b, "\x80", 1); RC_CHECK_STR(s(), "\xEF\xBF\xBD");
  RESET(); rc_buf_utf8_clean(&b, "\xC0\xAF", 2); RC_CHECK_STR(s(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  RESET(); rc_buf_utf8_clean(&b, "\xED\xA0\x80", 3); RC_CHECK_STR(s(), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  RESET(); rc_buf_utf8_clean(&b, "a\xE2\x82", 3); RC_CHECK_STR(s(), "a\xEF\xBF\xBD\xEF\xBF\xBD");
  RESET(); rc_buf_utf8_clean(&b, "\0x\xC3\xA9", 4); RC_CHECK(b.len == 4 && !memcmp(b.p, "\0x\xC3\xA9", 4));
  RESET(); rc_buf_utf8_clean(&b, "", 0); RC_CHECK(b.len == 0);
  RC_CHECK(rc_utf8_valid("a\xC3\xA9\xF0\x9F\x98\x80", 7) && rc_utf8_valid("", 0) && rc_utf8_valid("\0", 1));
  RC_CHECK(!rc_utf8_valid("\x80", 1) && !rc_utf8_valid("a\xE2\x82", 3) && !rc_utf8_valid("\xED\xA0\x80", 3));
  /* a sequence at every place of an ASCII text (the eight-byte steps and their ends), valid
   * and cut short */
  for (size_t at = 0; at < 24; at++) {
    char t[32];
    memset(t, 'a', sizeof t);
    memcpy(t + at, "\xC3\xA9", 2);
    RC_CHECK(rc_utf8_valid(t, 26) && rc_utf8_valid(t, at + 2) && !rc_utf8_valid(t, at + 1));
    t[at + 1] = 'a'; /* a lead byte without its continuation */
    RC_CHECK(!rc_utf8_valid(t, 26));
    t[at] = '\xFF';
    RC_CHECK(!rc_utf8_valid(t, 26) && rc_utf8_valid(t, at));
  }
}

static void test_url_redact(void) {
  char out[256];
  rc_url_redact("https://bob:s3cret@registry:8081/x", out, sizeof out);
  RC_CHECK_STR(out, "https://bob:(redacted)@registry:8081/x");
  rc_url_redact("http://bob@registry:8081", out, sizeof out); /* no password */
  RC_CHECK_STR(out, "http://bob@registry:8081");
  rc_url_redact("http://registry:8081/a:b@c", out, sizeof out); /* an @ in the path is no userinfo */
  RC_CHECK_STR(out, "http://registry:8081/a:b@c");
  rc_url_redact("http://u:p@ss@h", out, sizeof out); /* the last @ ends the userinfo */
  RC_CHECK_STR(out, "http://u:(redacted)@h");
  rc_url_redact("", out, sizeof out);
  RC_CHECK_STR(out, "");
}

/* A buffer writing into borrowed memory: in place while it fits, then moved into memory of its
 * own (the borrowed bytes never realloc'd nor freed: ASan would say so). */
static void test_borrow(void) {
  char mem[8] = "........";
  rc_buf x = {0};
  rc_buf_borrow(&x, mem, sizeof mem);
  rc_buf_put(&x, "abcd", 4);
  RC_CHECK(x.p == mem && x.borrowed && !memcmp(mem, "abcd....", 8));
  rc_buf_put(&x, "efghijkl", 8);
  RC_CHECK(x.p != mem && !x.borrowed && x.len == 12 && !memcmp(x.p, "abcdefghijkl", 12));
  RC_CHECK(!memcmp(mem, "abcd....", 8));
  rc_buf_free(&x);
  rc_buf_borrow(&x, mem, sizeof mem);
  rc_buf_free(&x); /* not freed: the memory is the caller's */
  RC_CHECK(x.p == NULL && !x.borrowed);
}

void rc_tests(void) {
  RC_RUN(test_borrow);
  RC_RUN(test_integers);
  RC_RUN(test_floats);
  RC_RUN(test_base64);
  RC_RUN(test_json_str);
  RC_RUN(test_utf8_clean);
  RC_RUN(test_url_redact);
  rc_buf_free(&b);
}
