/* rc_err.c: error names and the formatting helper of rc_err.h. */
#include "rc_err.h"

#include <stdio.h>

const char *rc_err_name(int err) {
  switch (err) {
  case RC_OK: return "ok";
  case RC_ERR_IO: return "i/o error";
  case RC_ERR_CORRUPT: return "corrupt input";
  case RC_ERR_TRUNCATED: return "truncated input";
  case RC_ERR_CHECKSUM: return "checksum mismatch";
  case RC_ERR_UNSUPPORTED: return "unsupported";
  case RC_ERR_NOMEM: return "out of memory";
  case RC_ERR_ARG: return "bad argument";
  default: return "unknown error";
  }
}

int rc_errf(int err, char *errstr, size_t errstr_size, const char *fmt, ...) {
  if (errstr && errstr_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
  }
  return err;
}
