/*
 * row_json.h: rowcast's canonical JSON for decoded values and row changes
 * (docs/json-mapping.md). Used by `rowcast decode` and by the serializer's JSON format.
 */
#ifndef RC_ROW_JSON_H
#define RC_ROW_JSON_H

#include "binlog.h"
#include "buf.h"

/* Append one value of column `col` (index i, for messages). Returns 0 or an error that names
 * the column (a JSON document or a label index that does not fit). */
int rc_json_value(rc_buf *b, const rc_column *col, const rc_value *v, char *errstr, size_t es);
/* Append a row image as a JSON object; absent columns are left out. */
int rc_json_row(rc_buf *b, const rc_table *t, const rc_value *vals, char *errstr, size_t es);

/* A change's place in its transaction (publisher.transactions_topic). */
typedef struct rc_change_txn {
  const char *id;       /* NUL-terminated */
  uint32_t order;       /* in the transaction, from 1 */
  uint32_t table_order; /* among its table's changes in the transaction, from 1 */
} rc_change_txn;

/* Where a change comes from. */
typedef struct rc_change_pos {
  const char *file;
  uint64_t offset;
  uint32_t row;
  const char *gtid; /* "" or NULL: no GTID */
  uint32_t ts;
  const rc_change_txn *txn; /* NULL: the line has no "transaction" */
} rc_change_pos;

/* Append one change as a JSON line (with the trailing newline). before/after may be NULL.
 * With pos->txn, the line ends with "transaction":{"id":...,"order":...,"table_order":...}. */
int rc_json_change(rc_buf *b, const rc_table *t, char op, const rc_value *before,
                   const rc_value *after, const rc_change_pos *pos, char *errstr, size_t es);

/* Is `text` (len bytes, a trailing newline allowed) a change line of rc_json_change's shape:
 * one JSON object with db and table strings, op one of "c" "u" "d" "r", before and after
 * objects or null, pos {file string, offset and row integers}, gtid string or null, ts integer?
 * 0, or RC_ERR_CORRUPT with what is wrong in errstr. For readers of JSON messages (`tail`), so
 * that a value that merely starts with '{' is never taken for a change. Parsed with jansson. */
int rc_json_change_check(const char *text, size_t len, char *errstr, size_t es);

/* The position of the change a JSON line (rc_json_change's text, n bytes, a trailing newline
 * allowed) holds: its "pos" object's file (NUL-terminated in file[file_size]), offset and row.
 * Returns 0, or RC_ERR_CORRUPT naming what is missing when the text is not a JSON object with
 * such a "pos" (not one of rowcast's change lines). */
int rc_json_change_position(const void *text, size_t n, char *file, size_t file_size, uint64_t *offset,
                            uint32_t *row, char *errstr, size_t es);

#endif
