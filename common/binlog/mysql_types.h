/*
 * mysql_types.h: the MySQL/MariaDB column type codes, one name each, and one descriptor table.
 *
 * A TABLE_MAP event lists one type byte per column (rc_column.type, with STRING resolved to its
 * real type: CHAR/BINARY, ENUM or SET, see table_map.c). Those bytes are also the field types
 * of opaque values inside MySQL's binary JSON (json_binary.c). Every switch and comparison on
 * a column type in rowcast uses the RC_T_* names below, and every property that code asks of
 * a type (numeric for the SIGNEDNESS metadata, a character column, fractional seconds, a
 * length-prefixed value, labels) and the SQL name rowcast prints come from the one table
 * rc_type_descs (mysql_types.c), read through the static inline accessors here.
 *
 * Callers: the binlog layer (table_map.c, rows.c, json_binary.c), the codec (Avro schemas,
 * canonical JSON), the reader's information_schema lookup, tools. Owns nothing: the table is
 * constant data.
 */
#ifndef RC_MYSQL_TYPES_H
#define RC_MYSQL_TYPES_H

#include <stdint.h>

/* The type codes (the servers' enum_field_types), as they appear in a TABLE_MAP. */
enum rc_type {
  RC_T_DECIMAL = 0,       /* the pre-5.0 DECIMAL, never in a row binlog of a supported server */
  RC_T_TINY = 1,          /* TINYINT */
  RC_T_SHORT = 2,         /* SMALLINT */
  RC_T_LONG = 3,          /* INT */
  RC_T_FLOAT = 4,
  RC_T_DOUBLE = 5,
  RC_T_NULL = 6,
  RC_T_TIMESTAMP = 7,     /* the old TIMESTAMP (no fractional seconds) */
  RC_T_LONGLONG = 8,      /* BIGINT */
  RC_T_INT24 = 9,         /* MEDIUMINT */
  RC_T_DATE = 10,
  RC_T_TIME = 11,         /* the old TIME */
  RC_T_DATETIME = 12,     /* the old DATETIME */
  RC_T_YEAR = 13,
  RC_T_NEWDATE = 14,      /* internal to the server */
  RC_T_VARCHAR = 15,
  RC_T_BIT = 16,
  RC_T_TIMESTAMP2 = 17,   /* TIMESTAMP(fsp), MySQL 5.6+ / MariaDB 10.1+ */
  RC_T_DATETIME2 = 18,
  RC_T_TIME2 = 19,
  RC_T_TYPED_ARRAY = 20,  /* MySQL: multi-valued index internals, not a column type */
  RC_T_VECTOR = 242,      /* MySQL 9 */
  RC_T_JSON = 245,        /* MySQL binary JSON (MariaDB logs JSON as a BLOB) */
  RC_T_NEWDECIMAL = 246,  /* DECIMAL */
  RC_T_ENUM = 247,        /* only as the real type of a STRING */
  RC_T_SET = 248,         /* only as the real type of a STRING */
  RC_T_TINY_BLOB = 249,
  RC_T_MEDIUM_BLOB = 250,
  RC_T_LONG_BLOB = 251,
  RC_T_BLOB = 252,        /* every BLOB and TEXT; the length-prefix size tells which */
  RC_T_VAR_STRING = 253,  /* VARCHAR, VARBINARY */
  RC_T_STRING = 254,      /* CHAR, BINARY (ENUM and SET resolve to 247/248) */
  RC_T_GEOMETRY = 255,
};

/* Properties of a type (rc_type_desc.flags). */
enum {
  RC_TF_NUMERIC = 1 << 0,   /* has a bit in the SIGNEDNESS metadata (YEAR included) */
  RC_TF_CHAR = 1 << 1,      /* a character column of the charset metadata (MariaDB adds GEOMETRY) */
  RC_TF_FSP = 1 << 2,       /* carries fractional-second precision in its metadata */
  RC_TF_LABELS = 1 << 3,    /* ENUM or SET: labels in the metadata, an index or a bitmask in rows */
  RC_TF_LENPREFIX = 1 << 4, /* a value with a length prefix of 1-4 bytes, the metadata says how many */
  RC_TF_MAXLEN = 1 << 5,    /* CHAR/VARCHAR: the metadata gives a maximum byte length */
};

typedef struct rc_type_desc {
  const char *code;   /* the servers' name of the code ("VAR_STRING"), NULL for an unknown code */
  const char *sql;    /* the SQL name rowcast prints ("TINYINT"); character types: the text form */
  const char *sql_binary; /* character types: the name with the binary charset ("VARBINARY") */
  const char *sql_either; /* character types: the name when the charset is not known */
  uint8_t flags;      /* RC_TF_* */
} rc_type_desc;

/* Indexed by the type code; codes no server uses have code == NULL and no flags. */
extern const rc_type_desc rc_type_descs[256];

static inline const rc_type_desc *rc_type_desc_of(uint8_t type) { return &rc_type_descs[type]; }

/* Numeric in the sense of the SIGNEDNESS metadata. */
static inline int rc_type_is_numeric(uint8_t type) { return (rc_type_descs[type].flags & RC_TF_NUMERIC) != 0; }

/* A "character column" of the charset metadata; MariaDB counts GEOMETRY among them. */
static inline int rc_type_is_char(uint8_t type, int is_mariadb) {
  return (rc_type_descs[type].flags & RC_TF_CHAR) != 0 || (is_mariadb && type == RC_T_GEOMETRY);
}

/* TIMESTAMP2, DATETIME2, TIME2: the metadata holds the fractional-second precision. */
static inline int rc_type_has_fsp(uint8_t type) { return (rc_type_descs[type].flags & RC_TF_FSP) != 0; }

/* ENUM and SET. */
static inline int rc_type_has_labels(uint8_t type) { return (rc_type_descs[type].flags & RC_TF_LABELS) != 0; }

/* BLOBs, GEOMETRY, JSON, VECTOR: a length prefix whose size is the column's metadata byte. */
static inline int rc_type_is_lenprefix(uint8_t type) {
  return (rc_type_descs[type].flags & RC_TF_LENPREFIX) != 0;
}

/* CHAR/BINARY and VARCHAR/VARBINARY: the metadata gives a maximum byte length. */
static inline int rc_type_has_maxlen(uint8_t type) { return (rc_type_descs[type].flags & RC_TF_MAXLEN) != 0; }

/* How a character column's charset reads, for its SQL name. */
enum { RC_TS_TEXT = 0, RC_TS_BINARY, RC_TS_EITHER };

/* The SQL name rowcast prints for a column (Avro's rowcast.sql_type, error messages): a BLOB
 * type takes its name from its length-prefix size `length` (TINYBLOB ... LONGBLOB, TEXT
 * likewise); `flavour` (RC_TS_*) picks text, binary or both for character types. "UNKNOWN"
 * for a code rowcast has no name for. The string is static. */
const char *rc_type_sql_name(uint8_t type, int flavour, uint32_t length);

#endif
