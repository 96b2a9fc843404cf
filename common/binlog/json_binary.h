/*
 * json_binary.h: MySQL's binary JSON (the storage format of JSON columns) rendered as JSON text.
 *
 * Called by the row decoder for MYSQL_TYPE_JSON values and for the JSON diffs of
 * PARTIAL_UPDATE_ROWS events. Both functions parse untrusted bytes: every offset, count and
 * length is checked against the input, nesting is limited to RC_JSON_MAX_DEPTH containers,
 * and documents whose values overlap (so that printing them would not be linear in their
 * size) are rejected. Output is compact JSON (no spaces), as described in docs/json-mapping.md.
 */
#ifndef RC_JSON_BINARY_H
#define RC_JSON_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Deepest nesting of objects/arrays accepted (MySQL's JSON_DOCUMENT_MAX_DEPTH). */
#define RC_JSON_MAX_DEPTH 100

/* Append the JSON text of the binary JSON document p[0..len) (type byte first) to b.
 * len == 0 is the JSON null literal (the server stores it for NULL in a NOT NULL column).
 * Returns 0, or RC_ERR_CORRUPT with errstr naming the problem and its byte offset inside the
 * document. On error b may hold partial output: the caller truncates it back. */
int rc_json_binary_format(rc_buf *b, const uint8_t *p, size_t len, char *errstr,
                          size_t errstr_size);

/* Append a PARTIAL_UPDATE_ROWS JSON diff list p[0..len) (the bytes after its u32 length) as
 * {"json_diff":[{"op":"replace","path":"$.a","value":1},{"op":"remove","path":"$.b"}]}.
 * Ops are "replace", "insert", "remove" (no "value"). Returns 0, or RC_ERR_CORRUPT with
 * errstr naming the problem and its byte offset inside the diff list. On error b may hold
 * partial output. */
int rc_json_diff_format(rc_buf *b, const uint8_t *p, size_t len, char *errstr,
                        size_t errstr_size);

#endif
