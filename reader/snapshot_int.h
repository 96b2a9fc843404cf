/*
 * snapshot_int.h: what the snapshot's files share (snapshot.c: chunks and the merge's keys;
 * snapshot_def.c: the plan and the table definitions from information_schema; snapshot_pos.c:
 * each chunk's binlog position, by snapshot.position). Private to reader/.
 */
#ifndef RC_SNAPSHOT_INT_H
#define RC_SNAPSHOT_INT_H

#include "snapshot.h"
#include "source_server_int.h"

#define SNAP_TABLE_ID_BASE 0xFFFF00000000ull /* far above the ids a server gives */

/* How a column is fetched and turned into a value. */
enum { F_INT, F_FLOAT, F_DOUBLE, F_DECIMAL, F_DATE, F_DATETIME, F_TIMESTAMP, F_TIME, F_BYTES };

typedef struct {
  int fetch;               /* F_* */
  char expr[300];          /* what the SELECT list reads */
  char *charset, *collation_name; /* of a character key column, for its parameter */
  int is_char;
  /* result buffer */
  MYSQL_BIND *b;
  unsigned long len;
  my_bool is_null, error;
  union { long long ll; float f; double d; MYSQL_TIME tm; } num;
  char *buf;
  size_t cap;
  uint8_t dec[32];         /* a DECIMAL's packed form */
} col_fetch;

typedef struct {
  char *db, *name;
  uint64_t estimate;       /* information_schema.TABLES.TABLE_ROWS */
  uint64_t rows_sent;
  int state;               /* 0 waiting, 1 reading, 2 done */
  uint64_t started_ms, ended_ms;
} plan_table;

struct rc_snap {
  rc_server *srv;
  MYSQL *my;
  uint32_t chunk_rows;
  plan_table *tables;
  uint32_t ntables, cur;  /* cur: the table being read */
  /* the current table */
  rc_table *t;             /* parsed from the TABLE_MAP built for it */
  rc_buf tmap;
  col_fetch *cf;
  uint32_t *pk;            /* column indexes of the primary key, in key order */
  uint32_t npk;
  MYSQL_STMT *first, *next;
  MYSQL_BIND *res, *par;
  col_fetch *parv;         /* the last key read, the next chunk's parameters */
  int started, table_done;
  int have_key;            /* parv holds the last key of the table read so far */
  int streaming;           /* a table without a key: its rows are being fetched in its snapshot */
  rc_buf def_sig;          /* SHOW CREATE TABLE of the table, to see an ALTER */
  uint32_t version;        /* of the current table's definition: a new TABLE_MAP id after an ALTER */
  uint64_t chunks_read;
  /* the chunk */
  rc_snap_chunk ch;
  int held;
  rc_buf images, keys;
  size_t *off, *koff;
  uint8_t *dropped;
  uint32_t *slots;         /* open addressing over key hashes: row index + 1, 0 empty */
  uint32_t nslots;
  size_t rows_cap;
  rc_value *vals;
  rc_buf kb;
  /* where each chunk's snapshot is in the binlog (snapshot_pos.c) */
  int position;            /* RC_SNAP_POS_BINLOG_SNAPSHOT or RC_SNAP_POS_READ_LOCK (resolved) */
  int lock_kind;           /* read_lock: 0 not tried yet, LOCK_GLOBAL (FTWRL), LOCK_TABLE */
  int status_stmt;         /* 0 SHOW MASTER STATUS, 1 SHOW BINARY LOG STATUS (MySQL 8.4) */
  int table_locked;        /* LOCK TABLES held while the chunk is read */
  uint64_t lock_t0;        /* rc_now_ns when the lock was taken */
  rc_snap_lock_stats lock;
};

enum { LOCK_GLOBAL = 1, LOCK_TABLE = 2 };

/* A statement on the snapshot's connection (*res: its result, the caller's; NULL: none kept). */
int rc_snap_query(rc_snap *sn, const char *sql, MYSQL_RES **res, const char *doing, char *es, size_t esz);
/* s escaped for a quoted SQL string (malloc'd, the caller's; NULL: out of memory). */
char *rc_snap_esc(rc_snap *sn, const char *s);
/* name as a quoted identifier into b. */
void rc_snap_put_ident(rc_buf *b, const char *name);
/* `db`.`name` into b. */
void rc_snap_put_table(rc_buf *b, const char *db, const char *name);
/* The plan: the tables matching patterns (snapshot_def.c). */
int rc_snap_plan(rc_snap *sn, const char *patterns, const rc_filter *filter, char *es, size_t esz);
/* A table's definition into *out (a table for rc_table_map_build), and the fetch plan of its
 * columns and its primary key into sn->cf, sn->pk, sn->npk, its signature into sn->def_sig
 * (snapshot_def.c). 1 when the table is gone (no columns: dropped or renamed). */
int rc_snap_load_table(rc_snap *sn, const plan_table *pt, rc_table **out, char *es, size_t esz);
/* Has the table's definition changed since rc_snap_load_table (compared by signature)? 1 yes,
 * 0 no, or an error. */
int rc_snap_def_changed(rc_snap *sn, const plan_table *pt, char *es, size_t esz);
/* Open the chunk's consistent snapshot and fill sn->ch.file/pos with the binlog position it
 * corresponds to, by sn->position (snapshot_pos.c). On success the caller reads the chunk,
 * then calls rc_snap_pos_end. */
int rc_snap_pos_begin(rc_snap *sn, char *es, size_t esz);
/* End the chunk's snapshot (COMMIT, or UNLOCK TABLES for a table lock). */
int rc_snap_pos_end(rc_snap *sn, char *es, size_t esz);

#endif
