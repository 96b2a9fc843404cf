// dtoa.cc: the extern "C" shim of dtoa.h over double-conversion's shortest conversions.
#include "dtoa.h"

#include <double-conversion/double-to-string.h>

using double_conversion::DoubleToStringConverter;
using double_conversion::StringBuilder;

// JSON-friendly: "1e+21", "-0" kept (the sign of zero is part of the value), plain decimals
// for exponents -6..20 as in JavaScript.
static const DoubleToStringConverter converter(DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN,
                                               "null", "null", 'e', -6, 21, 0, 0);

extern "C" int rc_dtoa_double(double d, char *buf) {
  StringBuilder sb(buf, RC_DTOA_BUF);
  converter.ToShortest(d, &sb);
  int n = sb.position();
  sb.Finalize();
  return n;
}

extern "C" int rc_dtoa_float(float f, char *buf) {
  StringBuilder sb(buf, RC_DTOA_BUF);
  converter.ToShortestSingle(f, &sb);
  int n = sb.position();
  sb.Finalize();
  return n;
}
