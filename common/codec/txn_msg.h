/*
 * txn_msg.h: transaction boundaries as messages (publisher.transactions_topic; docs/avro.md,
 * docs/json-mapping.md, docs/delivery.md). A transaction that changes rows gets a BEGIN and an
 * END message, keyed by its id (its GTID, else FILE:POS of its first event):
 *
 *   status       BEGIN or END
 *   id           the transaction id (also the key: {"id": ...})
 *   gtid         its GTID, or null
 *   file, offset its position: BEGIN the first event of the transaction, END the event ending it
 *   ts_ms        its commit time, ms since 1970
 *   event_count  END: its changes (null at BEGIN)
 *   tables       END: [{db, table, event_count}] per table, in the order of their first change
 *
 * Avro (record rowcast.Transaction, key rowcast.TransactionKey) is written and read with
 * avro-c's generic values: these messages are one per transaction, not per change. JSON is one
 * object per message, in the order above, `file` and `offset` inside "pos".
 *
 * The exactly-once recovery reads the last message of each partition back: rc_txn_position
 * gives its position as rowcast compares positions, BEGIN at (file, offset, row 0) and END at
 * (file, offset, row RC_TXN_END_ROW), so that within the topic every message of the stream comes
 * after the one before it (an END follows every change of its transaction, even those of a
 * MySQL compressed transaction, which share one offset).
 *
 * Callers: the serializer (encoding), the supervisor's recovery (positions), the tests.
 */
#ifndef RC_TXN_MSG_H
#define RC_TXN_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RC_TXN_END_ROW 0xFFFFFFFFu

typedef struct rc_txn_table {
  const char *db, *table; /* NUL-terminated */
  uint32_t count;
} rc_txn_table;

typedef struct rc_txn_msg {
  int end; /* 0 BEGIN, 1 END */
  const char *id, *gtid; /* NUL-terminated; gtid "" for none */
  const char *file;
  uint64_t offset;
  uint64_t ts_ms;
  uint32_t count;             /* END */
  const rc_txn_table *tables; /* END: ntables of them */
  size_t ntables;
} rc_txn_msg;

/* The schemas (JSON text with namespaces) and their CRC-64-AVRO fingerprints. */
const char *rc_txn_value_schema(void);
const char *rc_txn_key_schema(void);
uint64_t rc_txn_value_fingerprint(void);
uint64_t rc_txn_key_fingerprint(void);

typedef struct rc_txn_codec rc_txn_codec;
/* avro-c's parse of the schemas and the values written through them: *out owned by the caller
 * (rc_txn_codec_free). RC_ERR_CORRUPT when avro-c refuses a schema (a broken build), RC_ERR_NOMEM. */
int rc_txn_codec_new(rc_txn_codec **out, char *errstr, size_t errstr_size);
void rc_txn_codec_free(rc_txn_codec *c);
/* Append the binary Avro datum (no framing) of the value, or of the key of id. 0 or an error. */
int rc_txn_avro_value(rc_txn_codec *c, rc_buf *out, const rc_txn_msg *m, char *errstr, size_t errstr_size);
int rc_txn_avro_key(rc_txn_codec *c, rc_buf *out, const char *id, char *errstr, size_t errstr_size);

/* Append the JSON value (no newline) and the JSON key {"id":...}. */
void rc_txn_json_value(rc_buf *out, const rc_txn_msg *m);
void rc_txn_json_key(rc_buf *out, const char *id);

/* The position of a transaction message's value (BEGIN: row 0, END: RC_TXN_END_ROW): Avro when
 * schema_json (its writer schema) is given, JSON when it is NULL. File NUL-terminated in
 * file[file_size]. 0, or RC_ERR_CORRUPT with errstr saying why it is not one of these messages. */
int rc_txn_position(const char *schema_json, const void *value, size_t len, char *file, size_t file_size,
                    uint64_t *offset, uint32_t *row, char *errstr, size_t errstr_size);

/* An Avro value written with writer schema schema_json (a rowcast.Transaction) appended to out
 * as its JSON form and a newline (`rowcast tail`). 0, or RC_ERR_CORRUPT with errstr. */
int rc_txn_value_to_json(const char *schema_json, const void *value, size_t len, rc_buf *out, char *errstr,
                         size_t errstr_size);

#endif
