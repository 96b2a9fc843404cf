/* Unit tests for decimal.c against encodings worked out from MySQL's decimal2bin. */
#include "decimal.h"
#include "rc_err.h"
#include "rc_test.h"

static const char *fmt(const uint8_t *p, int prec, int scale) {
  static rc_buf b;
  b.len = 0;
  if (rc_decimal_format(&b, p, prec, scale) < 0) return "(error)";
  rc_buf_putc(&b, 0);
  return b.p;
}

static void test_sizes(void) {
  RC_CHECK(rc_decimal_size(4, 2) == 2);
  RC_CHECK(rc_decimal_size(10, 0) == 5);
  RC_CHECK(rc_decimal_size(14, 4) == 7);
  RC_CHECK(rc_decimal_size(65, 30) == 30);
  RC_CHECK(rc_decimal_size(0, 0) == 0);
  RC_CHECK(rc_decimal_size(66, 0) == 0);
  RC_CHECK(rc_decimal_size(10, 11) == 0);
}

static void test_values(void) {
  /* DECIMAL(14,4) 1234567890.1234: intg 10 = 1 digit (1 byte) + 9 digits (4 bytes); frac 4 (2 bytes) */
  const uint8_t pos[] = {0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2};
  RC_CHECK_STR(fmt(pos, 14, 4), "1234567890.1234");
  uint8_t neg[7];
  for (int i = 0; i < 7; i++) neg[i] = (uint8_t)~pos[i];
  RC_CHECK_STR(fmt(neg, 14, 4), "-1234567890.1234");
  /* DECIMAL(4,2) 0.00 stored as negative zero prints without a sign */
  const uint8_t negzero[] = {0x7F, 0xFF};
  RC_CHECK_STR(fmt(negzero, 4, 2), "0.00");
  const uint8_t zero[] = {0x80, 0x00};
  RC_CHECK_STR(fmt(zero, 4, 2), "0.00");
  /* DECIMAL(10,0) 0 */
  const uint8_t z10[] = {0x80, 0, 0, 0, 0};
  RC_CHECK_STR(fmt(z10, 10, 0), "0");
  /* DECIMAL(5,5) .12345: no integer digits */
  const uint8_t f5[] = {0x80, 0x30, 0x39};
  RC_CHECK_STR(fmt(f5, 5, 5), "0.12345");
  /* a 9-digit group over 999999999 is corrupt */
  const uint8_t bad[] = {0xBB, 0x9A, 0xCA, 0x00, 0x00}; /* 1000000000 */
  RC_CHECK_STR(fmt(bad, 10, 1), "(error)");
}

void rc_tests(void) {
  RC_RUN(test_sizes);
  RC_RUN(test_values);
}
