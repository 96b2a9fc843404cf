/*
 * charset.h: MySQL/MariaDB collations to UTF-8.
 *
 * The collation id from the table map names the charset (through MariaDB Connector/C's
 * collation table); text is converted to UTF-8: utf8mb3/utf8mb4/ascii as they are, latin1 as
 * the server means it (Windows-1252 plus the five bytes it leaves undefined), everything else
 * through iconv. Binary, and any charset that cannot be converted, stays bytes.
 */
#ifndef RC_CHARSET_H
#define RC_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* RC_CS_* for a collation id (0 = unknown); *cd receives an iconv handle for RC_CS_ICONV
 * (cached for the life of the process). */
int rc_charset_kind(uint16_t collation, void **cd);
/* Name of the charset of a collation ("utf8mb4", "latin1", ...), or NULL. */
const char *rc_charset_name(uint16_t collation);

/* Append text as a JSON string converted to UTF-8. Returns 0, or -1 when the bytes are not
 * valid in the charset (nothing is appended then; the caller prints them as bytes). */
int rc_charset_json_str(rc_buf *b, int cs_kind, void *cd, const uint8_t *p, size_t n);
/* The same text as plain UTF-8 (what that JSON string holds, unescaped): invalid UTF-8 becomes
 * U+FFFD as in the JSON. 0, or -1 when the bytes are not valid in the charset. */
int rc_charset_utf8(rc_buf *b, int cs_kind, void *cd, const uint8_t *p, size_t n);

#endif
