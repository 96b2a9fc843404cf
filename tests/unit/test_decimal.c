/* Unit tests for decimal.c against encodings worked out from MySQL's decimal2bin. */
#include <stdio.h>
#include <string.h>

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

/* The unscaled integer as decimal text ("-" for a negative sign, no leading zeros). */
static const char *unscaled(const uint8_t *p, int prec, int scale) {
  static char out[100];
  uint32_t limb[8];
  int neg;
  if (rc_decimal_unscaled(p, prec, scale, limb, &neg) < 0) return "(error)";
  char rev[90];
  int n = 0, zero;
  do { /* divide by 10 until nothing is left */
    uint64_t rem = 0;
    zero = 1;
    for (int k = 7; k >= 0; k--) {
      uint64_t x = rem << 32 | limb[k];
      limb[k] = (uint32_t)(x / 10);
      rem = x % 10;
      zero &= limb[k] == 0;
    }
    rev[n++] = (char)('0' + rem);
  } while (!zero);
  int o = 0;
  if (neg) out[o++] = '-';
  while (n) out[o++] = rev[--n];
  out[o] = 0;
  return out;
}

/* Pack a decimal string of digits (intg integer digits then scale fraction digits) as
 * decimal2bin does: the encoder the tests below check the decoder against. */
static void pack(const char *digits, int intg, int scale, int negative, uint8_t *out) {
  static const int d2b[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  int sizes[20], values[20], ng = 0, pos = 0;
  int lead = intg % 9, trail = scale % 9;
  if (lead) sizes[ng++] = lead;
  for (int g = 0; g < intg / 9 + scale / 9; g++) sizes[ng++] = 9;
  if (trail) sizes[ng++] = trail;
  for (int g = 0; g < ng; g++) {
    values[g] = 0;
    for (int k = 0; k < sizes[g]; k++) values[g] = values[g] * 10 + (digits[pos++] - '0');
  }
  int o = 0;
  for (int g = 0; g < ng; g++) {
    int nb = d2b[sizes[g]];
    for (int k = nb - 1; k >= 0; k--) out[o++] = (uint8_t)(values[g] >> (8 * k));
  }
  out[0] ^= 0x80;
  if (negative)
    for (int k = 0; k < o; k++) out[k] = (uint8_t)~out[k];
}

/* rc_decimal_unscaled against rc_decimal_format on random values of random shapes. */
static void test_unscaled(void) {
  uint32_t seed = 12345;
  int checked = 0;
  for (int it = 0; it < 20000; it++) {
    seed = seed * 1103515245u + 12345u;
    int prec = 1 + (int)(seed >> 8) % 65;
    seed = seed * 1103515245u + 12345u;
    int scale = (int)(seed >> 8) % (prec < 30 ? prec + 1 : 31);
    char digits[80];
    for (int k = 0; k < prec; k++) {
      seed = seed * 1103515245u + 12345u;
      digits[k] = (char)('0' + (it % 7 == 0 ? 0 : (seed >> 16) % 10)); /* some zeros */
    }
    int negative = (int)(seed >> 4) & 1;
    uint8_t bin[40] = {0};
    pack(digits, prec - scale, scale, negative, bin);
    /* the text, without point and leading zeros, is the unscaled integer */
    const char *t = fmt(bin, prec, scale);
    char want[100];
    int w = 0;
    for (const char *q = t; *q; q++) {
      if (*q == '-' || *q == '.' || (*q == '0' && w == 0)) continue; /* sign, point, leading zeros */
      want[w++] = *q;
    }
    want[w] = 0;
    int zero = w == 0;
    char got[100];
    snprintf(got, sizeof got, "%s", unscaled(bin, prec, scale));
    const char *g = got[0] == '-' ? got + 1 : got;
    RC_CHECK(!strcmp(g, zero ? "0" : want));
    RC_CHECK((got[0] == '-') == negative); /* the sign as stored, even for -0 */
    if (prec <= 18) { /* the int64 path gives the same integer */
      int64_t u64 = 0;
      uint32_t limb[8];
      int neg;
      RC_CHECK(rc_decimal_unscaled64(bin, prec, scale, &u64) == 0);
      RC_CHECK(rc_decimal_unscaled(bin, prec, scale, limb, &neg) == 0);
      uint64_t mag = (uint64_t)limb[1] << 32 | limb[0];
      RC_CHECK(limb[2] == 0 && u64 == (neg ? -(int64_t)mag : (int64_t)mag));
    }
    if (strcmp(g, zero ? "0" : want)) fprintf(stderr, "  DECIMAL(%d,%d) %s: unscaled %s\n", prec, scale, t, got);
    checked++;
  }
  RC_CHECK(checked == 20000);
  /* a digit group out of range is refused by both */
  const uint8_t bad[] = {0x80 | 0x3B, 0x9A, 0xCA, 0x00}; /* DECIMAL(9,0) 1000000000 */
  RC_CHECK_STR(fmt(bad, 9, 0), "(error)");
  RC_CHECK_STR(unscaled(bad, 9, 0), "(error)");
  int64_t u64;
  RC_CHECK(rc_decimal_unscaled64(bad, 9, 0, &u64) == RC_ERR_CORRUPT);
  RC_CHECK(rc_decimal_unscaled64(bad, 19, 0, &u64) == RC_ERR_ARG); /* over 18 digits: the limbs' way */
  uint8_t max18[16], min18[16];
  RC_CHECK(rc_decimal_from_text("999999999999999999", 18, 18, 0, max18) == 0);
  RC_CHECK(rc_decimal_unscaled64(max18, 18, 0, &u64) == 0 && u64 == 999999999999999999ll);
  RC_CHECK(rc_decimal_from_text("-0.999999999999999999", 21, 18, 18, min18) == 0);
  RC_CHECK(rc_decimal_unscaled64(min18, 18, 18, &u64) == 0 && u64 == -999999999999999999ll);
  RC_CHECK_STR(unscaled((const uint8_t[]){0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2}, 14, 4), "12345678901234");
}

/* rc_decimal_from_text is the inverse of rc_decimal_format (the snapshot writes DECIMALs read
 * as text): the known encoding, and text -> packed -> text for edge values. */
static void test_from_text(void) {
  uint8_t out[32];
  const uint8_t pos[] = {0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2};
  RC_CHECK(rc_decimal_from_text("1234567890.1234", 15, 14, 4, out) == 0 && !memcmp(out, pos, 7));
  static const struct { const char *in, *out; int p, s; } cases[] = {
      {"99999999999999999999999999999999999.999999999999999999999999999999",
       "99999999999999999999999999999999999.999999999999999999999999999999", 65, 30},
      {"-0.000000000000000000000000000001", "-0.000000000000000000000000000001", 65, 30},
      {"0.00", "0.00", 4, 2}, {"-0.00", "0.00", 4, 2}, {"-99.99", "-99.99", 4, 2}, {"5", "5", 1, 0},
      {"-9999999999", "-9999999999", 10, 0}, {"-0.999999999", "-0.999999999", 9, 9},
      {"123456789012345678901.12345678901234567", "123456789012345678901.12345678901234567", 38, 17},
      {"1.5", "1.50000000000000000", 38, 17}, {"007", "7", 3, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = rc_decimal_from_text(cases[i].in, strlen(cases[i].in), cases[i].p, cases[i].s, out);
    RC_CHECK(rc == 0);
    if (rc == 0) RC_CHECK_STR(fmt(out, cases[i].p, cases[i].s), cases[i].out);
  }
  RC_CHECK(rc_decimal_from_text("100", 3, 4, 2, out) == RC_ERR_ARG);   /* too many integer digits */
  RC_CHECK(rc_decimal_from_text("1.234", 5, 4, 2, out) == RC_ERR_ARG); /* too many fraction digits */
  RC_CHECK(rc_decimal_from_text("1e5", 3, 10, 0, out) == RC_ERR_ARG);
  RC_CHECK(rc_decimal_from_text("", 0, 10, 0, out) == RC_ERR_ARG);
}

void rc_tests(void) {
  RC_RUN(test_from_text);
  RC_RUN(test_sizes);
  RC_RUN(test_values);
  RC_RUN(test_unscaled);
}
