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

/* The digit groups of a packed decimal, most significant first: values in v, digit counts in
 * nd (the integer part's groups first, then the fraction's); *neg for the sign bit. Returns the
 * number of groups, or RC_ERR_CORRUPT when a group holds more digits than it may (or for an
 * impossible precision/scale). */
#define MAX_GROUPS 10 /* 65 digits: at most 8 whole groups and 2 partial ones */
static int groups_of(const uint8_t *p, int precision, int scale, uint32_t v[MAX_GROUPS], int nd[MAX_GROUPS],
                     int *neg) {
  if (!rc_decimal_size(precision, scale)) return RC_ERR_CORRUPT; /* keeps within MAX_GROUPS */
  int intg = precision - scale, n = 0;
  uint8_t mask = (p[0] & 0x80) ? 0 : 0xFF;
  *neg = mask != 0;
  if (intg % 9) nd[n++] = intg % 9;
  for (int g = 0; g < intg / 9 + scale / 9; g++) nd[n++] = 9;
  if (scale % 9) nd[n++] = scale % 9;
  for (int g = 0; g < n; g++) {
    int nb = dig2bytes[nd[g]];
    v[g] = group(p, nb, mask, g == 0);
    p += nb;
    if (v[g] >= pow10_9[nd[g]]) return RC_ERR_CORRUPT;
  }
  return n;
}

int rc_decimal_format(rc_buf *b, const uint8_t *p, int precision, int scale) {
  uint32_t v[MAX_GROUPS];
  int nd[MAX_GROUPS], neg;
  int n = groups_of(p, precision, scale, v, nd, &neg);
  if (n < 0) return n;
  /* every digit (up to 65), then the integer part without its leading zeros */
  char digits[80];
  int total = 0;
  for (int g = 0; g < n; g++) {
    uint32_t x = v[g];
    for (int i = nd[g] - 1; i >= 0; i--) digits[total + i] = (char)('0' + x % 10), x /= 10;
    total += nd[g];
  }
  int intg = precision - scale, start = 0;
  while (start < intg - 1 && digits[start] == '0') start++;
  /* "-0.00" is printed by the server as "0.00": only a non-zero value carries the sign */
  int nonzero = 0;
  for (int i = start; i < total && !nonzero; i++) nonzero = digits[i] != '0';
  if (neg && nonzero) rc_buf_putc(b, '-');
  if (intg == 0)
    rc_buf_putc(b, '0');
  else
    rc_buf_put(b, digits + start, (size_t)(intg - start));
  if (scale) {
    rc_buf_putc(b, '.');
    rc_buf_put(b, digits + intg, (size_t)scale);
  }
  return 0;
}

int rc_decimal_unscaled64(const uint8_t *p, int precision, int scale, int64_t *out) {
  if (precision > 18) return RC_ERR_ARG;
  if (precision < 1 || scale < 0 || scale > precision) return RC_ERR_CORRUPT;
  /* groups_of's walk, without its arrays: at most 4 groups (a partial one, two whole, a partial) */
  int intg = precision - scale, nd[4], n = 0;
  if (intg % 9) nd[n++] = intg % 9;
  for (int g = 0; g < intg / 9 + scale / 9; g++) nd[n++] = 9;
  if (scale % 9) nd[n++] = scale % 9;
  uint8_t mask = (p[0] & 0x80) ? 0 : 0xFF, flip = 0x80;
  uint64_t u = 0; /* under 10^18: no overflow */
  for (int g = 0; g < n; g++) {
    uint32_t v = 0;
    for (int i = 0, nb = dig2bytes[nd[g]]; i < nb; i++, flip = 0) v = v << 8 | (uint8_t)(*p++ ^ flip ^ mask);
    if (v >= pow10_9[nd[g]]) return RC_ERR_CORRUPT;
    u = u * pow10_9[nd[g]] + v;
  }
  *out = mask ? -(int64_t)u : (int64_t)u;
  return 0;
}

int rc_decimal_unscaled(const uint8_t *p, int precision, int scale, uint32_t limb[8], int *neg) {
  uint32_t v[MAX_GROUPS];
  int nd[MAX_GROUPS];
  int n = groups_of(p, precision, scale, v, nd, neg);
  if (n < 0) return n;
  for (int k = 0; k < 8; k++) limb[k] = 0;
  for (int g = 0; g < n; g++) { /* limb = limb * 10^nd + v */
    uint64_t carry = v[g];
    for (int k = 0; k < 8; k++) {
      uint64_t x = (uint64_t)limb[k] * pow10_9[nd[g]] + carry;
      limb[k] = (uint32_t)x;
      carry = x >> 32;
    }
  }
  return 0;
}
