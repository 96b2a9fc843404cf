/*
 * dtoa.h: shortest round-trip text of a float or double, through Google's double-conversion
 * library (Debian's libdouble-conversion). The only C++ in rowcast: a thin extern "C" shim.
 */
#ifndef RC_DTOA_H
#define RC_DTOA_H

#ifdef __cplusplus
extern "C" {
#endif

#define RC_DTOA_BUF 32

/* Write the shortest JSON number that reads back as the same value; returns its length.
 * Non-finite values (which MySQL cannot store) write "null". buf has RC_DTOA_BUF bytes. */
int rc_dtoa_double(double d, char *buf);
int rc_dtoa_float(float f, char *buf);

#ifdef __cplusplus
}
#endif

#endif
