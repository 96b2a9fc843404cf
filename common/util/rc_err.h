/*
 * rc_err.h: rowcast's one error convention.
 *
 * Functions return 0 (or a count) on success and a negative rc_err_t on failure. At API
 * boundaries they also fill the caller's `char *errstr, size_t errstr_size` with a message that
 * names what was wrong and where (file, offset, what was expected).
 */
#ifndef RC_ERR_H
#define RC_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
  RC_OK = 0,
  RC_ERR_IO = -1,        /* the OS refused a read, write or open */
  RC_ERR_CORRUPT = -2,   /* input is not what the binlog format allows */
  RC_ERR_TRUNCATED = -3, /* input ends inside an event */
  RC_ERR_CHECKSUM = -4,  /* an event's CRC32 does not match */
  RC_ERR_UNSUPPORTED = -5, /* valid input that rowcast cannot decode (yet) */
  RC_ERR_NOMEM = -6,
  RC_ERR_ARG = -7,       /* a caller or user passed a wrong argument */
} rc_err_t;

/* Every rc_err_t is above this. Values at or below it are not errors but control values of
 * the layers above (RC_STAGE_STOP, common/pipeline/stage.h), so they can never be taken for
 * one: a new error code stays above it. */
#define RC_ERR_FLOOR (-64)

/* A short name of an error code, for logs ("corrupt", "truncated", ...). */
const char *rc_err_name(int err);

/* snprintf into errstr (if errstr_size > 0) and return err: `return rc_errf(err, es, esz, ...)`. */
int rc_errf(int err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
