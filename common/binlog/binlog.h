/*
 * binlog.h: the binlog decoder shared by every rowcast source.
 *
 * Three layers, each usable alone:
 *  - rc_binfile: a captured binlog file (mmap), cut into raw events, with the magic and the
 *    framing checked. The server source hands raw events from the replication socket instead.
 *  - rc_binlog: the decoding state of one stream: the FORMAT_DESCRIPTION (post-header lengths,
 *    checksum algorithm, server flavour), CRC checks, table maps, the current GTID, and the
 *    unpacking of MySQL TRANSACTION_PAYLOAD events. Feed it raw events in order.
 *  - rc_rows: the row images of one ROWS event, decoded column by column into rc_value;
 *    rc_row_iter on top of it yields the event's changes (op, before, after, row index).
 * Beside them, the binlog's rules every consumer shares: the header flag and GTID flag bits,
 * and rc_txn_step, which says where each event stands in the stream's transactions.
 *
 * Nothing here prints; errors come back as rc_err_t with a message naming the file, the
 * offset and what was expected. Pointers in rc_event/rc_value point into the file mapping or
 * into buffers owned by rc_binlog / rc_rows: valid until the next call that advances them.
 */
#ifndef RC_BINLOG_H
#define RC_BINLOG_H

#include <stddef.h>
#include <stdint.h>

#include "mysql_types.h"
#include "rc_err.h"

typedef struct rc_buf rc_buf_t;
typedef struct rc_binlog rc_binlog;

/* Event type codes (MySQL's Log_event_type and MariaDB's additions). */
enum {
  RC_EV_UNKNOWN = 0,
  RC_EV_START_V3 = 1,
  RC_EV_QUERY = 2,
  RC_EV_STOP = 3,
  RC_EV_ROTATE = 4,
  RC_EV_INTVAR = 5,
  RC_EV_SLAVE = 7,
  RC_EV_APPEND_BLOCK = 9,
  RC_EV_DELETE_FILE = 11,
  RC_EV_RAND = 13,
  RC_EV_USER_VAR = 14,
  RC_EV_FORMAT_DESCRIPTION = 15,
  RC_EV_XID = 16,
  RC_EV_BEGIN_LOAD_QUERY = 17,
  RC_EV_EXECUTE_LOAD_QUERY = 18,
  RC_EV_TABLE_MAP = 19,
  RC_EV_WRITE_ROWS_V0 = 20,
  RC_EV_UPDATE_ROWS_V0 = 21,
  RC_EV_DELETE_ROWS_V0 = 22,
  RC_EV_WRITE_ROWS_V1 = 23,
  RC_EV_UPDATE_ROWS_V1 = 24,
  RC_EV_DELETE_ROWS_V1 = 25,
  RC_EV_INCIDENT = 26,
  RC_EV_HEARTBEAT = 27,
  RC_EV_IGNORABLE = 28,
  RC_EV_ROWS_QUERY = 29,
  RC_EV_WRITE_ROWS_V2 = 30,
  RC_EV_UPDATE_ROWS_V2 = 31,
  RC_EV_DELETE_ROWS_V2 = 32,
  RC_EV_GTID = 33,
  RC_EV_ANONYMOUS_GTID = 34,
  RC_EV_PREVIOUS_GTIDS = 35,
  RC_EV_TRANSACTION_CONTEXT = 36,
  RC_EV_VIEW_CHANGE = 37,
  RC_EV_XA_PREPARE = 38,
  RC_EV_PARTIAL_UPDATE_ROWS = 39,
  RC_EV_TRANSACTION_PAYLOAD = 40,
  RC_EV_HEARTBEAT_V2 = 41,
  RC_EV_GTID_TAGGED = 42,
  RC_EV_MARIA_ANNOTATE_ROWS = 160,
  RC_EV_MARIA_BINLOG_CHECKPOINT = 161,
  RC_EV_MARIA_GTID = 162,
  RC_EV_MARIA_GTID_LIST = 163,
  RC_EV_MARIA_START_ENCRYPTION = 164,
  RC_EV_MARIA_QUERY_COMPRESSED = 165,
  RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1 = 166,
  RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1 = 167,
  RC_EV_MARIA_DELETE_ROWS_COMPRESSED_V1 = 168,
  RC_EV_MARIA_WRITE_ROWS_COMPRESSED = 169,
  RC_EV_MARIA_UPDATE_ROWS_COMPRESSED = 170,
  RC_EV_MARIA_DELETE_ROWS_COMPRESSED = 171,
};

/* The name SHOW BINLOG EVENTS / the servers' sources use for a type, or NULL if unknown. */
const char *rc_event_type_name(int type);

/* Flags of the common event header (rc_event.flags). */
enum {
  RC_EVF_BINLOG_IN_USE = 0x01, /* FORMAT_DESCRIPTION only: the file was not closed cleanly */
  RC_EVF_SUPPRESS_USE = 0x08,  /* QUERY: no USE db before the statement */
  RC_EVF_ARTIFICIAL = 0x20,    /* made up by the server (the fake ROTATE of a dump): no position */
  RC_EVF_RELAY_LOG = 0x40,     /* written by a replica's SQL thread into its relay log */
  RC_EVF_IGNORABLE = 0x80,     /* a reader that does not know the type may skip it */
};

/* flags2 of a MariaDB GTID event (the byte after seq_no and domain_id). */
enum {
  RC_GTID_FL_STANDALONE = 0x01,      /* a group of its own (DDL, non-transactional): no XID ends it */
  RC_GTID_FL_GROUP_COMMIT_ID = 0x02, /* a commit_id u64 follows */
  RC_GTID_FL_TRANSACTIONAL = 0x04,
  RC_GTID_FL_ALLOW_PARALLEL = 0x08,
  RC_GTID_FL_WAITED = 0x10,
  RC_GTID_FL_DDL = 0x20,
  RC_GTID_FL_PREPARED_XA = 0x40,     /* an XA xid follows */
  RC_GTID_FL_COMPLETED_XA = 0x80,    /* an XA xid follows */
};
#define RC_MARIA_GTID_FLAGS2_AT 12   /* offset of flags2 in a MariaDB GTID body */

/* flags_extra of a MariaDB GTID event (optional, after the commit_id and XA fields). */
enum {
  RC_GTID_FLX_MULTI_ENGINE = 0x01,   /* an extra_engines u8 follows */
  RC_GTID_FLX_START_ALTER = 0x02,
  RC_GTID_FLX_COMMIT_ALTER = 0x04,   /* a sa_seq_no u64 follows */
  RC_GTID_FLX_ROLLBACK_ALTER = 0x08, /* a sa_seq_no u64 follows */
  RC_GTID_FLX_THREAD_ID = 0x10,      /* a thread_id u32 follows */
};

#define RC_EVENT_HEADER_LEN 19
/* Table maps kept at most per stream; past that the decoder forgets them all (a server sends a
 * TABLE_MAP before every statement's rows, so nothing is lost). */
#define RC_MAX_TABLES 4096
#define RC_BINLOG_MAGIC_LEN 4

/* One event. `raw` is the event as stored; `body` starts after the common header and ends
 * before the checksum. `offset` is the event's offset in its file; for an event unpacked from a
 * TRANSACTION_PAYLOAD, the payload event's offset (and in_payload is set). */
typedef struct rc_event {
  const uint8_t *raw;
  size_t raw_len;
  const uint8_t *body;
  size_t body_len;
  uint64_t offset;
  uint32_t ts;
  uint32_t server_id;
  uint32_t size;
  uint32_t log_pos;
  uint16_t flags;
  uint8_t type;
  uint8_t in_payload;
} rc_event;

/* Parse the 19-byte common header of `raw` (len bytes, at least RC_EVENT_HEADER_LEN) into ev,
 * with no other check and no decoder state: for a source that must know what an event is
 * before the decoder sees it. body/body_len then include any checksum. */
void rc_event_parse_header(rc_event *ev, const uint8_t *raw, size_t len, uint64_t offset);

/* What a QUERY or QUERY_COMPRESSED event's statement is, for transaction bounds. */
enum {
  RC_QUERY_NONE = 0,  /* not a query event */
  RC_QUERY_BEGIN,
  RC_QUERY_COMMIT,
  RC_QUERY_ROLLBACK,
  RC_QUERY_STATEMENT, /* anything else: DDL, a statement on a non-transactional table, ...
                       * (and a query event too short or too damaged to read the text of) */
};
/* Classify a query event by its statement text (compared whole, case-insensitively; a
 * compressed statement is inflated only when its length could be one of the keywords). */
int rc_event_query_kind(const rc_event *ev);

/* What a schema tracker needs of a QUERY or QUERY_COMPRESSED event (query.c). db and text
 * point into the event, or into `inflated` (owned: rc_query_free) for a compressed statement. */
typedef struct rc_query {
  const char *db;        /* the default database (USE db), db_len bytes, not NUL-terminated */
  size_t db_len;
  const char *text;      /* the statement, text_len bytes */
  size_t text_len;
  uint64_t sql_mode;     /* when has_sql_mode */
  uint16_t cs_client, cs_connection, cs_server; /* when has_charsets */
  uint16_t error_code;
  uint8_t has_sql_mode, has_charsets, suppress_use;
  char *inflated;
} rc_query;
int rc_event_query_parse(const rc_binlog *bl, const rc_event *ev, rc_query *q, char *errstr,
                         size_t errstr_size);
void rc_query_free(rc_query *q);
/* The labels of an ENUM or SET as information_schema.COLUMNS.COLUMN_TYPE and SHOW CREATE TABLE
 * write them ("enum('a','b''c')": each quoted, a quote doubled, backslash escapes). 0 with
 * *labels and *lens (malloc'd, each label too: the caller's) and *count set, or -1. */
int rc_sql_labels_parse(const char *column_type, char ***labels, uint32_t **lens, uint32_t *count);

/* ---- transaction bounds (txn.c) -------------------------------------------------------- */

/* Where an event stands in the stream's transactions: what rc_txn_step returns. BEGINS and
 * ENDS are bits: a statement outside any transaction (DDL, MyISAM) is a transaction of its
 * own, RC_TXN_BEGINS | RC_TXN_ENDS. After an event with RC_TXN_ENDS, or one OUTSIDE, a reader
 * may resume at the event's end: nothing of a transaction is cut. */
enum {
  RC_TXN_OUTSIDE = 0, /* between transactions (FORMAT_DESCRIPTION, ROTATE, GTID_LIST, ...) */
  RC_TXN_BEGINS = 1,  /* opens a transaction: BEGIN, a GTID event */
  RC_TXN_ENDS = 2,    /* closes one: XID, COMMIT, ROLLBACK, the statement after a GTID */
  RC_TXN_INSIDE = 4,  /* part of the open transaction: TABLE_MAP, ROWS, ... */
};

/* The transaction state of one stream; zero it to start (and after a reconnect or a new file). */
typedef struct rc_txn_state {
  uint8_t phase; /* 0 none; 1 a GTID opened a group, its first statement decides; 2 in BEGIN..COMMIT */
} rc_txn_state;

/* Advance st by one event (fed in stream order: an outer event, not one unpacked from a
 * TRANSACTION_PAYLOAD, which holds one whole transaction) and say where the event stands:
 * RC_TXN_* above. The rules: BEGIN, or a MariaDB GTID without FL_STANDALONE (MariaDB writes no
 * BEGIN), opens a transaction that XID, COMMIT or ROLLBACK ends; a MySQL GTID or a standalone
 * MariaDB GTID opens a group that its next statement ends unless that is BEGIN; a statement
 * outside a transaction begins and ends one; so does a TRANSACTION_PAYLOAD. */
int rc_txn_step(rc_txn_state *st, const rc_event *ev);
/* Is a transaction (or a GTID's group) open after the events stepped so far? */
static inline int rc_txn_open(const rc_txn_state *st) { return st->phase != 0; }

/* ---- captured files ---------------------------------------------------------------------- */

typedef struct rc_binfile rc_binfile;

/* Open and map a binlog file; checks the magic. On success *out is owned by the caller
 * (rc_binfile_close). */
int rc_binfile_open(rc_binfile **out, const char *path, char *errstr, size_t errstr_size);
/* The same over bytes in memory (tests, fuzzing); the bytes stay the caller's and must outlive f. */
int rc_binfile_open_mem(rc_binfile **out, const char *name, const uint8_t *data, size_t size,
                        char *errstr, size_t errstr_size);
void rc_binfile_close(rc_binfile *f);
const char *rc_binfile_path(const rc_binfile *f);
const char *rc_binfile_name(const rc_binfile *f); /* the base name */
uint64_t rc_binfile_size(const rc_binfile *f);
/* The next raw event: 1 with raw, len and offset set, 0 at the end of the file, or an error
 * (a truncated event, a size smaller than the header). The bytes stay valid until close. */
int rc_binfile_next(rc_binfile *f, const uint8_t **raw, size_t *len, uint64_t *offset,
                    char *errstr, size_t errstr_size);

/* ---- table maps -------------------------------------------------------------------------- */

/* What a text column's bytes are, resolved once from its collation. */
enum { RC_CS_UNKNOWN = 0, RC_CS_BINARY, RC_CS_UTF8, RC_CS_LATIN1, RC_CS_ICONV };

typedef struct rc_column {
  char *name;          /* NULL when the binlog does not carry names */
  char *key;           /* the JSON object key, quoted, with its colon: "name": or "@3": */
  uint32_t key_len;
  char **labels;       /* ENUM/SET labels, NULL when not carried */
  uint32_t *label_lens;
  uint32_t n_labels;
  uint32_t length;     /* CHAR/VARCHAR max bytes; BLOB length-prefix size; BIT bits; ENUM/SET pack length */
  uint16_t meta;       /* the raw table-map metadata */
  uint16_t collation;  /* 0 when unknown */
  uint8_t type;        /* RC_T_*; STRING resolved to its real type (RC_T_ENUM, RC_T_SET, RC_T_STRING) */
  uint8_t precision, scale, fsp;
  uint8_t nullable;
  int8_t is_signed;    /* 1 signed, 0 unsigned, -1 not known (taken as signed) */
  uint8_t cs_kind;     /* RC_CS_* */
  uint8_t pk;          /* part of the primary key (when the metadata says so) */
  uint8_t masked;      /* set by the codec's column filter (codec/row_project.h), never by the
                        * decoder: the values are HMAC-SHA256 hex strings (cs_kind RC_CS_UTF8) */
  uint32_t geometry_type;
  void *iconv_cd;      /* iconv_t for RC_CS_ICONV */
} rc_column;

typedef struct rc_table {
  uint64_t table_id;
  char *db;
  char *name;
  uint32_t ncols;
  rc_column *cols;
  uint16_t flags;
  uint8_t has_names;   /* the optional metadata carried column names */
  uint8_t has_pk;      /* the optional metadata carried the primary key */
  uint8_t is_numeric_known; /* signedness metadata present */
  uint8_t has_charsets;
  uint8_t sig_known;   /* sig holds rc_table_signature() (computed once per table map) */
  uint64_t sig;
  uint8_t *map_body;   /* the TABLE_MAP body it was parsed from (rc_binlog's store), or NULL */
  uint32_t map_body_len;
} rc_table;

/* The SQL name rowcast prints for a column (mysql_types.h's rc_type_sql_name, with the
 * column's charset and length-prefix size). Static. */
static inline const char *rc_column_sql_name(const rc_column *c) {
  return rc_type_sql_name(c->type, c->cs_kind == RC_CS_BINARY ? RC_TS_BINARY
                                   : c->cs_kind == RC_CS_UNKNOWN ? RC_TS_EITHER
                                                                 : RC_TS_TEXT,
                          c->length);
}

/* ---- the decoding state ------------------------------------------------------------------ */


rc_binlog *rc_binlog_new(void);
void rc_binlog_free(rc_binlog *bl);
/* Start a new file: forget the FORMAT_DESCRIPTION and table maps; `name` is used in errors and
 * positions. Starting the file that is already current (same name) keeps the parsed table maps:
 * a TABLE_MAP with the same bytes then reuses its table instead of parsing it again (a
 * serializer starts each batch that way), one with other bytes replaces it. */
void rc_binlog_start_file(rc_binlog *bl, const char *name);
const char *rc_binlog_file(const rc_binlog *bl);
/* Checksums are verified by default. Off, they are not even computed: the serializer turns this
 * off for events the reader already verified, and the fuzz targets so that mutated inputs reach
 * the decoders behind the CRC check. */
void rc_binlog_set_verify_checksums(rc_binlog *bl, int on);

/* Decode the framing of one raw event, check its CRC, and update the state (FORMAT_DESCRIPTION,
 * table maps, GTID, rotation). `raw` must stay valid while `ev` is used. A TRANSACTION_PAYLOAD
 * is unpacked: its inner events then come from rc_binlog_next_inner until it returns 0.
 * Unknown event types are accepted (and counted by the caller): the length frames them. */
int rc_binlog_feed(rc_binlog *bl, const uint8_t *raw, size_t len, uint64_t offset, rc_event *ev,
                   char *errstr, size_t errstr_size);
int rc_binlog_next_inner(rc_binlog *bl, rc_event *ev, char *errstr, size_t errstr_size);
/* Feed an event that carries no checksum whatever the FORMAT_DESCRIPTION says: one unpacked
 * from a TRANSACTION_PAYLOAD, forwarded by another stage. It is marked in_payload. */
int rc_binlog_feed_nocrc(rc_binlog *bl, const uint8_t *raw, size_t len, uint64_t offset,
                         rc_event *ev, char *errstr, size_t errstr_size);

/* The current transaction's GTID as text ("0-1-42", "uuid:7"), or "" when it has none. */
const char *rc_binlog_gtid(const rc_binlog *bl);
/* When the current transaction committed, in microseconds since 1970: MySQL's
 * immediate_commit_timestamp from its GTID event, else the event header's seconds. */
uint64_t rc_binlog_commit_us(const rc_binlog *bl, const rc_event *ev);
/* Server version from the FORMAT_DESCRIPTION; is it MariaDB? */
const char *rc_binlog_server_version(const rc_binlog *bl);
int rc_binlog_is_mariadb(const rc_binlog *bl);
const rc_table *rc_binlog_table(const rc_binlog *bl, uint64_t table_id);

/* Parse a TABLE_MAP body into a new table (exported for tests and fuzzing). *out is owned by
 * the caller: rc_table_free. */
int rc_table_map_parse(const uint8_t *body, size_t len, int post_header_len, int is_mariadb,
                       rc_table **out, char *errstr, size_t errstr_size);
void rc_table_free(rc_table *t);
/* A deep copy of a table (names, keys, labels; not map_body, which it leaves NULL), owned by the
 * caller (rc_table_free), or NULL without memory. For whoever keeps a table beyond the table map
 * it came from (the codec's schemas). */
rc_table *rc_table_dup(const rc_table *t);
/* Rewrite a TABLE_MAP event (raw, as fed; body_len excludes any CRC) so that its optional
 * metadata also carries what `full` knows and the event lacks: signedness, column charsets,
 * column names, ENUM/SET labels, the primary key (from information_schema, when the server logs MINIMAL or
 * no metadata). `orig` is the event's own parse. The result, in out, has no checksum (feed it
 * with rc_binlog_feed_nocrc). */
int rc_table_map_enrich(const rc_event *ev, const rc_table *orig, const rc_table *full, int is_mariadb,
                        rc_buf_t *out);
/* (rc_type_is_char, rc_type_is_numeric and the other type properties: mysql_types.h.) */

/* Signature of a table map's shape (db, table, names, types, metadata, signedness, charsets,
 * labels, nullability, primary key): two table maps with the same signature get the same
 * schemas. A CRC-64-AVRO over a length-prefixed serialization of those fields, computed once
 * and kept in the table (t->sig): t must not be defined const, nor changed afterwards. */
uint64_t rc_table_signature(const rc_table *t);
/* The table id a TABLE_MAP event defines (without parsing the rest). */
uint64_t rc_table_map_id(const rc_binlog *bl, const rc_event *ev);
/* The table id a ROWS event (any rc_event_is_rows type) refers to, from its post-header alone:
 * nothing decoded, nothing inflated (for a reader that drops the rows of some tables). */
uint64_t rc_rows_table_id(const rc_binlog *bl, const rc_event *ev);

/* ---- row images -------------------------------------------------------------------------- */

enum {
  RC_V_ABSENT = 0, /* not in this row image (MINIMAL/NOBLOB) */
  RC_V_NULL,
  RC_V_INT,       /* .i */
  RC_V_UINT,      /* .u */
  RC_V_FLOAT,     /* .f */
  RC_V_DOUBLE,    /* .d */
  RC_V_DECIMAL,   /* .s: packed bytes; precision/scale from the column */
  RC_V_DATE,      /* .dt */
  RC_V_DATETIME,  /* .dt */
  RC_V_TIMESTAMP, /* .ts */
  RC_V_TIME,      /* .tm */
  RC_V_YEAR,      /* .u */
  RC_V_BIT,       /* .u */
  RC_V_ENUM,      /* .u: the index */
  RC_V_SET,       /* .u: the bitmask */
  RC_V_STRING,    /* .s: bytes in the column's charset; .s.pad_to for BINARY(n) */
  RC_V_JSON,      /* .s: MySQL binary JSON */
  RC_V_JSON_DIFF, /* .s: a PARTIAL_UPDATE_ROWS diff list */
  RC_V_GEOMETRY,  /* .s: SRID u32 LE + WKB */
  RC_V_VECTOR,    /* .s: float32 LE array */
};

typedef struct rc_value {
  uint8_t kind;
  union {
    int64_t i;
    uint64_t u;
    float f;
    double d;
    struct {
      uint16_t year;
      uint8_t month, day, hour, minute, second;
      uint32_t usec;
    } dt;
    struct {
      uint32_t sec, usec;
    } ts;
    struct {
      uint8_t neg;
      uint32_t hour;
      uint8_t minute, second;
      uint32_t usec;
    } tm;
    struct {
      const uint8_t *p;
      uint32_t len;
      uint32_t pad_to;
    } s;
  } v;
} rc_value;

typedef struct rc_rows {
  const rc_table *table;
  const rc_event *ev;
  const uint8_t *present;       /* columns-present bitmap (before image / only image) */
  const uint8_t *present_after; /* for updates */
  const uint8_t *p, *end;       /* cursor in the row data */
  uint64_t table_id;
  uint32_t width;
  uint16_t flags;
  char op;                      /* 'c', 'u', 'd' */
  uint8_t partial;              /* PARTIAL_UPDATE_ROWS */
  uint8_t *inflated;            /* MariaDB compressed rows: owned */
  size_t inflated_cap;
  const char *file;
} rc_rows;

/* Is this a ROWS event type (any version, compressed or not, partial update)? */
int rc_event_is_rows(int type);

/* Parse the header of a ROWS event and find its table map. `rows` may be reused across events
 * (it keeps its inflate buffer); zero it before first use and call rc_rows_free at the end. */
int rc_rows_begin(rc_binlog *bl, const rc_event *ev, rc_rows *rows, char *errstr,
                  size_t errstr_size);
/* Decode the next row image into vals[0..table->ncols). For updates, call with after=0 for the
 * before image and after=1 for the after image. Returns 1, 0 when the event has no more rows,
 * or an error naming the column, the event offset and what did not fit. */
int rc_rows_next_image(rc_rows *rows, rc_value *vals, int after, char *errstr,
                       size_t errstr_size);
void rc_rows_free(rc_rows *rows);

/* ---- row changes (row_change.c) -------------------------------------------------------- */

/* One change of a ROWS event: an insert has only an after image, a delete only a before image,
 * an update both (paired from the event's before/after images). The images are the iterator's
 * arrays of table->ncols values: valid until the next rc_row_iter_next or rc_row_iter_begin. */
typedef struct rc_row_change {
  char op;                /* 'c', 'u', 'd' */
  const rc_value *before; /* NULL for an insert */
  const rc_value *after;  /* NULL for a delete */
  uint32_t row;           /* the change's index: first_row, first_row + 1, ... */
} rc_row_change;

/* Walks the changes of one ROWS event after another. Zero it before first use, reuse it across
 * events (it keeps its image arrays and the inflate buffer: no allocation per change, nor per
 * event once the widest table was seen), rc_row_iter_free at the end. */
typedef struct rc_row_iter {
  rc_rows rows;          /* rows.table: the event's table, after rc_row_iter_begin */
  rc_value *img[2];      /* before (or only) image, after image */
  uint32_t img_cap;
  uint32_t row;          /* the index the next change gets */
} rc_row_iter;

/* Start on a ROWS event (see rc_rows_begin); changes are numbered from first_row (the rows of
 * earlier ROWS events at the same offset, inside a TRANSACTION_PAYLOAD). */
int rc_row_iter_begin(rc_row_iter *it, rc_binlog *bl, const rc_event *ev, uint32_t first_row,
                      char *errstr, size_t errstr_size);
void rc_row_iter_free(rc_row_iter *it);

/* The next change: 1 with ch filled, 0 when the event has no more, or an error (see
 * rc_rows_next_image). Inline: it is the serializer's per-change path. */
static inline int rc_row_iter_next(rc_row_iter *it, rc_row_change *ch, char *errstr,
                                   size_t errstr_size) {
  int r = rc_rows_next_image(&it->rows, it->img[0], 0, errstr, errstr_size);
  if (r <= 0) return r;
  ch->op = it->rows.op;
  ch->row = it->row++;
  if (ch->op == 'u') {
    if ((r = rc_rows_next_image(&it->rows, it->img[1], 1, errstr, errstr_size)) < 0) return r;
    ch->before = it->img[0];
    ch->after = it->img[1];
  } else if (ch->op == 'c') {
    ch->before = NULL;
    ch->after = it->img[0];
  } else {
    ch->before = it->img[0];
    ch->after = NULL;
  }
  return 1;
}

/* ---- writing the binlog's forms (row_encode.c), for snapshots ------------------------- */

/* A complete TABLE_MAP event (header, body, optional metadata for signedness, column charsets,
 * names, ENUM/SET labels and the simple primary key; no checksum) for table t, with table_id
 * and timestamp ts. t needs db, name, and per column: type (RC_T_ENUM/SET as such), length,
 * precision/scale, fsp, nullable, is_signed, collation, name, labels, pk; and has_names,
 * has_pk, has_charsets set. out is overwritten. 0, or RC_ERR_UNSUPPORTED naming the column whose
 * type has no table-map form here. */
int rc_table_map_build(const rc_table *t, uint64_t table_id, uint32_t ts, int is_mariadb, rc_buf_t *out,
                       char *errstr, size_t errstr_size);
/* A WRITE_ROWS_V1 event in out (overwritten): begin writes its header for table_id (every
 * column present); rc_row_image_put appends one row image (vals[i].kind RC_V_NULL or the
 * value in the kind rows.c decodes for the column's type; strings, decimals and blobs point to
 * their bytes, a DECIMAL in its packed form); finish sets the event's size. The event has no
 * checksum. rc_row_image_put returns 0, or RC_ERR_ARG / RC_ERR_UNSUPPORTED naming the column
 * (out is then as before the call). */
void rc_rows_build_begin(rc_buf_t *out, uint64_t table_id, uint32_t ncols, uint32_t ts);
int rc_row_image_put(rc_buf_t *out, const rc_table *t, const rc_value *vals, char *errstr, size_t errstr_size);
void rc_rows_build_finish(rc_buf_t *out);

#endif
