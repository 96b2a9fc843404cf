/*
 * avro_row.h: row changes as Avro (docs/avro.md), with avro-c. The interface of three files:
 *
 *   avro_schema.c  rc_avro_table_new and the schema accessors, rc_avro_name
 *   avro_encode.c  rc_avro_encode_value, rc_avro_encode_key, rc_avro_value_is_lossy
 *   avro_view.c    (private) the reference encoder the tests compare them with
 *   avro_decode.c  rc_avro_value_to_json, rc_avro_value_position, rc_avro_decoder_cache_free
 *
 * (what they share privately is avro_int.h).
 *
 * One rc_avro_table per table version (a table map's shape, see rc_table_signature): it owns
 * the value schema (an envelope: before, after, op, source, ts_ms) and the key schema (the
 * primary-key columns), their Parsing Canonical Forms and CRC-64-AVRO fingerprints (both schemas
 * parsed by avro-c once, so they are valid Avro) and the plan the encoder writes each datum by,
 * straight from the row images into the caller's buffer, with the bytes avro-c's writer would
 * produce. The serializer caches them by signature and encodes every change of that
 * table version with them: no allocation per value once the reused buffers have grown.
 *
 * rc_avro_value_to_json is the inverse, for `rowcast tail` and the tests: it reads a value
 * datum with its writer schema and prints the change as rowcast's canonical JSON line
 * (docs/json-mapping.md), exactly as `rowcast decode` prints the same change.
 *
 * Not thread-safe: an rc_avro_table is used by one thread at a time, and the decoder keeps a
 * small cache of parsed writer schemas per process (stages are single-threaded).
 */
#ifndef RC_AVRO_ROW_H
#define RC_AVRO_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "buf.h"

/* The field of a row record that lists the columns absent from a row image (MINIMAL/NOBLOB).
 * Column names are mapped so that none can take this name. */
#define RC_AVRO_ABSENT_FIELD "__rowcast_absent"

typedef struct rc_avro_table rc_avro_table;

/* Build the value and key schemas of a table map. On success *out is owned by the caller
 * (rc_avro_table_free); `t` is copied and may be freed afterwards. Fails with RC_ERR_UNSUPPORTED
 * (and errstr naming the column) when a column type has no Avro mapping, RC_ERR_CORRUPT when
 * avro-c refuses a generated schema, RC_ERR_NOMEM. */
int rc_avro_table_new(const rc_table *t, rc_avro_table **out, char *errstr, size_t errstr_size);
/* The same, with the envelope's last field `transaction`: union { null, record
 * rowcast.ChangeTransaction { id: string, order: long, table_order: long } }, default null
 * (publisher.transactions_topic; a reader schema without it still reads these datums). */
int rc_avro_table_new_txn(const rc_table *t, rc_avro_table **out, char *errstr, size_t errstr_size);
void rc_avro_table_free(rc_avro_table *at);

/* The schemas as JSON text (with rowcast's properties), owned by `at`. */
const char *rc_avro_value_schema(const rc_avro_table *at);
const char *rc_avro_value_canonical(const rc_avro_table *at); /* Parsing Canonical Form */
uint64_t rc_avro_value_fingerprint(const rc_avro_table *at);  /* CRC-64-AVRO of the PCF */
/* NULL (and fingerprint 0) when the table has no known primary key. */
const char *rc_avro_key_schema(const rc_avro_table *at);
const char *rc_avro_key_canonical(const rc_avro_table *at);
uint64_t rc_avro_key_fingerprint(const rc_avro_table *at);

/* A change's place in its transaction (publisher.transactions_topic): the envelope's
 * `transaction` field, in the schemas of rc_avro_table_new_txn only. */
typedef struct rc_avro_txn {
  const char *id;       /* the transaction id (GTID, else FILE:POS), NUL-terminated */
  uint32_t order;       /* of the change in its transaction, from 1 */
  uint32_t table_order; /* of the change among the transaction's changes of its table, from 1 */
} rc_avro_txn;

/* Where a change comes from. */
typedef struct rc_avro_source {
  uint32_t server_id;
  const char *file;     /* the binlog file's name */
  uint64_t offset;      /* the ROWS event's offset */
  uint32_t row;         /* the row's index in the event */
  const char *gtid;     /* NULL or "" = none */
  uint64_t event_ms;    /* the event's time, ms since 1970 (binlog header seconds * 1000) */
  const rc_avro_txn *txn; /* NULL: none (written as null when the schema has the field) */
} rc_avro_source;

/* Append the binary Avro datum (no header, no framing) of one change's value to out.
 * op is 'c', 'u', 'd' or 'r'; before/after are row images of the table's ncols values (NULL for
 * none); ts_ms is the processing time. Returns 0, or an error naming the column whose value does
 * not fit (out is then left as it was). */
int rc_avro_encode_value(rc_avro_table *at, rc_buf *out, char op, const rc_value *before,
                         const rc_value *after, const rc_avro_source *src, uint64_t ts_ms,
                         char *errstr, size_t errstr_size);
/* Append the key datum of a row image (the before image for updates and deletes, the after
 * image for inserts). RC_ERR_ARG when the table has no key schema; RC_ERR_CORRUPT when a key
 * column is absent from the image. */
int rc_avro_encode_key(rc_avro_table *at, rc_buf *out, const rc_value *image, char *errstr,
                       size_t errstr_size);

/* 1 when a value has no Avro form and is written as null: zero and invalid dates (month or day
 * 0, a day past the month's end, a year past 9999, a time of day out of range), a TIMESTAMP
 * whose stored seconds are 0. The one lossy case of the mapping. */
int rc_avro_value_is_lossy(const rc_column *col, const rc_value *v);

/* Decode a value datum written with writer schema `schema_json` (a schema rowcast produced) and
 * append the change as rowcast's canonical JSON line, trailing newline included (the text
 * `rowcast decode` prints for the same change, with ts = source.ts_ms / 1000). Parsed schemas
 * are cached by their text (a few per process). On error out is left as it was. */
int rc_avro_value_to_json(const char *schema_json, const void *datum, size_t len, rc_buf *out,
                          char *errstr, size_t errstr_size);
/* Decode a value datum written with writer schema `schema_json` (a rowcast value schema) and
 * give the position of its change, from the envelope's `source` record: the binlog file's name
 * (NUL-terminated in file[file_size]), the ROWS event's offset and the row's index. The
 * exactly-once recovery reads it from the last message of each partition. Returns 0, or
 * RC_ERR_CORRUPT / RC_ERR_UNSUPPORTED when the datum does not match the schema or the schema is
 * not rowcast's (errstr says what). */
int rc_avro_value_position(const char *schema_json, const void *datum, size_t len, char *file,
                           size_t file_size, uint64_t *offset, uint32_t *row, char *errstr,
                           size_t errstr_size);
/* Free the decoder's schema cache (at exit, for leak checkers). */
void rc_avro_decoder_cache_free(void);

/* The Avro name a column gets: invalid characters become '_' (byte by byte), a leading digit
 * (or an empty name) gets a leading '_'. Collisions are resolved by the table (suffix _2, _3, ...). */
void rc_avro_name(rc_buf *b, const char *name, size_t n);

#endif
