/*
 * binlog.h: the binlog decoder shared by every rowcast source.
 *
 * Three layers, each usable alone:
 *  - rc_binfile: a captured binlog file (mmap), cut into raw events, with the magic and the
 *    framing checked. The server source hands raw events from the replication socket instead.
 *  - rc_binlog: the decoding state of one stream: the FORMAT_DESCRIPTION (post-header lengths,
 *    checksum algorithm, server flavour), CRC checks, table maps, the current GTID, and the
 *    unpacking of MySQL TRANSACTION_PAYLOAD events. Feed it raw events in order.
 *  - rc_rows: the row images of one ROWS event, decoded column by column into rc_value.
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

typedef struct rc_binlog rc_binlog;

rc_binlog *rc_binlog_new(void);
void rc_binlog_free(rc_binlog *bl);
/* Start a new file: forget the FORMAT_DESCRIPTION and table maps; `name` is used in errors and
 * positions. */
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

#endif
