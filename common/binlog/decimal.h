/*
 * decimal.h: MySQL's packed NEWDECIMAL ("decimal2bin") format.
 *
 * Used by the row decoder for DECIMAL columns and by the binary-JSON decoder for opaque
 * decimals. Values are rendered exactly, as text with exactly `scale` fraction digits.
 */
#ifndef RC_DECIMAL_H
#define RC_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bytes a DECIMAL(precision, scale) takes in a row image; 0 for an impossible precision/scale. */
size_t rc_decimal_size(int precision, int scale);

/* Append the decimal in p (exactly rc_decimal_size(precision, scale) bytes) as text.
 * Returns 0, or RC_ERR_CORRUPT if a 9-digit group holds more than 9 digits. */
int rc_decimal_format(rc_buf *b, const uint8_t *p, int precision, int scale);

/* The same decimal as its unscaled integer (the digits without the point: value * 10^scale):
 * magnitude in limb[0..7], 32-bit limbs, least significant first; *neg for a negative sign
 * (set on a negative zero too). Returns 0, or RC_ERR_CORRUPT as rc_decimal_format does. */
int rc_decimal_unscaled(const uint8_t *p, int precision, int scale, uint32_t limb[8], int *neg);

/* The same for a DECIMAL of precision 18 or less, whose unscaled integer fits an int64: *out,
 * negative for a negative value (a negative zero is 0). The serializer's path: one multiply
 * a digit group instead of eight limbs. Returns 0, RC_ERR_CORRUPT as rc_decimal_format does,
 * or RC_ERR_ARG for a precision over 18. */
int rc_decimal_unscaled64(const uint8_t *p, int precision, int scale, int64_t *out);

/* The packed form (rc_decimal_size bytes into out) of a decimal written as text ("-12.50",
 * digits, an optional sign and point): the inverse of rc_decimal_format. Returns 0, or
 * RC_ERR_ARG when the text is not a decimal or has more digits than the column holds. */
int rc_decimal_from_text(const char *s, size_t n, int precision, int scale, uint8_t *out);

#endif
