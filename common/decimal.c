/*
 * decimal.c: decoding MySQL's packed DECIMAL.
 *
 * The integer part is stored most significant group first: a leading partial group of
 * intg%9 digits, then whole groups of 9 digits in 4 big-endian bytes; the fraction follows in
 * whole groups and a trailing partial group of scale%9 digits. The sign bit is the top bit of
 * the first byte (set for positive); negative values have every byte inverted.
 */
#include "decimal.h"

#include "rc_err.h"

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10_9[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                     100000000, 1000000000};

size_t rc_decimal_size(int precision, int scale) {
  if (precision < 1 || precision > 65 || scale < 0 || scale > precision || scale > 38) return 0;
  int intg = precision - scale;
  return (size_t)((intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9]);
}

/* Read an n-byte big-endian group, inverting bytes when the value is negative. */
static uint32_t group(const uint8_t *p, int n, uint8_t mask, int first) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (first && i == 0) c ^= 0x80;
    v = v << 8 | (uint8_t)(c ^ mask);
  }
  return v;
}

int rc_decimal_format(rc_buf *b, const uint8_t *p, int precision, int scale) {
  int intg = precision - scale;
  int lead = intg % 9, full_int = intg / 9, full_frac = scale / 9, trail = scale % 9;
  uint8_t mask = (p[0] & 0x80) ? 0 : 0xFF;
  int first = 1;
  /* integer digits: up to 65, render into a scratch area then strip leading zeros */
  char digits[80];
  int nd = 0;
  if (lead) {
    int nb = dig2bytes[lead];
    uint32_t v = group(p, nb, mask, first);
    first = 0;
    p += nb;
    if (v >= pow10_9[lead]) return RC_ERR_CORRUPT;
    for (int i = lead - 1; i >= 0; i--) digits[nd + i] = (char)('0' + v % 10), v /= 10;
    nd += lead;
  }
  for (int g = 0; g < full_int; g++) {
    uint32_t v = group(p, 4, mask, first);
    first = 0;
    p += 4;
    if (v > 999999999u) return RC_ERR_CORRUPT;
    for (int i = 8; i >= 0; i--) digits[nd + i] = (char)('0' + v % 10), v /= 10;
    nd += 9;
  }
  int start = 0;
  while (start < nd - 1 && digits[start] == '0') start++;
  char frac[40];
  int nf = 0;
  for (int g = 0; g < full_frac; g++) {
    uint32_t v = group(p, 4, mask, first);
    first = 0;
    p += 4;
    if (v > 999999999u) return RC_ERR_CORRUPT;
    for (int i = 8; i >= 0; i--) frac[nf + i] = (char)('0' + v % 10), v /= 10;
    nf += 9;
  }
  if (trail) {
    int nb = dig2bytes[trail];
    uint32_t v = group(p, nb, mask, first);
    if (v >= pow10_9[trail]) return RC_ERR_CORRUPT;
    for (int i = trail - 1; i >= 0; i--) frac[nf + i] = (char)('0' + v % 10), v /= 10;
    nf += trail;
  }
  /* "-0.00" is printed by the server as "0.00": only a non-zero value carries the sign */
  int nonzero = 0;
  for (int i = start; i < nd && !nonzero; i++) nonzero = digits[i] != '0';
  for (int i = 0; i < nf && !nonzero; i++) nonzero = frac[i] != '0';
  if (mask && nonzero) rc_buf_putc(b, '-');
  if (nd == 0)
    rc_buf_putc(b, '0');
  else
    rc_buf_put(b, digits + start, (size_t)(nd - start));
  if (nf) {
    rc_buf_putc(b, '.');
    rc_buf_put(b, frac, (size_t)nf);
  }
  return 0;
}

/* limb = limb * 10^digits + v */
static void mul_add(uint32_t limb[8], int digits, uint32_t v) {
  uint64_t carry = v;
  for (int k = 0; k < 8; k++) {
    uint64_t x = (uint64_t)limb[k] * pow10_9[digits] + carry;
    limb[k] = (uint32_t)x;
    carry = x >> 32;
  }
}

int rc_decimal_unscaled(const uint8_t *p, int precision, int scale, uint32_t limb[8], int *neg) {
  int intg = precision - scale;
  int lead = intg % 9, full = intg / 9 + scale / 9, trail = scale % 9;
  uint8_t mask = (p[0] & 0x80) ? 0 : 0xFF;
  int first = 1;
  for (int k = 0; k < 8; k++) limb[k] = 0;
  *neg = mask != 0;
  if (lead) {
    int nb = dig2bytes[lead];
    uint32_t v = group(p, nb, mask, first);
    first = 0;
    p += nb;
    if (v >= pow10_9[lead]) return RC_ERR_CORRUPT;
    mul_add(limb, lead, v);
  }
  for (int g = 0; g < full; g++) { /* the integer's whole groups, then the fraction's */
    uint32_t v = group(p, 4, mask, first);
    first = 0;
    p += 4;
    if (v > 999999999u) return RC_ERR_CORRUPT;
    mul_add(limb, 9, v);
  }
  if (trail) {
    uint32_t v = group(p, dig2bytes[trail], mask, first);
    if (v >= pow10_9[trail]) return RC_ERR_CORRUPT;
    mul_add(limb, trail, v);
  }
  return 0;
}
