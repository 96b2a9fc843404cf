/*
 * tracker_int.h: what the files of rowcast-schema share (tracker.c, the protocol loop;
 * private_db.c, the private MariaDB; versions.c, table versions and their history file;
 * check.c, a TABLE_MAP against its version). Private to schema/.
 *
 * A version is a table's definition from the binlog position where it starts (the DDL that
 * made it, or the first version: schema.initial, the server at start) up to the next one.
 */
#ifndef RC_TRACKER_INT_H
#define RC_TRACKER_INT_H

#include <mysql.h>
#include <stdint.h>
#include <sys/types.h>

#include "binlog.h"
#include "buf.h"

/* A binlog position: file "" is before every file (the first versions). */
typedef struct {
  char file[256];
  uint64_t off;
} sc_pos;
int sc_pos_cmp(const sc_pos *a, const sc_pos *b);

typedef struct {
  char *name, *data_type, *column_type;
  uint16_t collation;   /* 0 when the column has none */
  int8_t is_signed;     /* 1, 0, -1 not numeric */
  uint8_t pk, invisible, generated;
  uint64_t octet_len;   /* CHARACTER_OCTET_LENGTH */
  uint32_t precision, scale, dt_precision;
  char **labels;
  uint32_t *label_lens, n_labels;
} sc_col;

typedef struct {
  char *db, *name;      /* a database record when name is NULL */
  sc_pos pos;
  char origin;          /* 'b' a DDL of the binlog, 'i' schema.initial, 's' the server at start,
                         * 'r' the server re-read after a mismatch */
  uint8_t dropped;
  char *create;         /* SHOW CREATE TABLE / DATABASE, to rebuild the private server */
  char *hash;           /* of the columns, to see what a DDL changed */
  uint32_t ncols;
  sc_col *cols;
} sc_version;

typedef struct {
  sc_version **v;       /* in the order they were made (so by position) */
  size_t n, cap;
  sc_pos applied;       /* the last DDL applied: at or before it, a DDL is not applied again */
  char *path;           /* <state.dir>/schema_history, or NULL (decode: nothing kept) */
  FILE *out;
} sc_store;

/* The private MariaDB: a mariadbd child on a socket of a temporary directory. */
typedef struct {
  pid_t pid;
  char dir[256];        /* its data directory and socket live here; removed at the end */
  char sock[300];
  MYSQL *my;
  uint64_t ddl_ns, ddl_count; /* time spent applying DDL and reading back */
} sc_db;

/* private_db.c */
int sc_db_start(sc_db *db, char *es, size_t esz);
void sc_db_stop(sc_db *db);
/* Run one statement; 0, or the server's error number (message in es). */
int sc_db_exec(sc_db *db, const char *sql, size_t len, char *es, size_t esz);
/* Run a file of statements (mariadb-dump output) through the mariadb client. */
int sc_db_source_file(sc_db *db, const char *path, char *es, size_t esz);

/* versions.c */
int sc_store_open(sc_store *s, const char *state_dir, char *es, size_t esz);
void sc_store_close(sc_store *s);
/* The version of db.name current at pos (NULL: none, or dropped before pos). */
const sc_version *sc_store_find(const sc_store *s, const char *db, const char *name, const sc_pos *pos);
/* Read back what changed on the private server since the last versions; record a version at pos
 * for each table created, changed or dropped (and each database). With stmt (the statement just
 * applied), only the tables it names are read again besides those created or dropped; NULL: all.
 * *changed counts them. */
int sc_store_sync(sc_store *s, sc_db *db, const sc_pos *pos, char origin, const char *stmt, size_t stmt_len,
                  int *changed, char *es, size_t esz);
/* Record that the DDL at pos was applied (when it changed nothing it has no version). */
int sc_store_mark_applied(sc_store *s, const sc_pos *pos, char *es, size_t esz);
/* Create on the private server what the latest versions hold (a restart with a history). */
int sc_store_rebuild(sc_store *s, sc_db *db, char *es, size_t esz);
void sc_version_free(sc_version *v);

/* check.c: compare a TABLE_MAP with its version. 0 when they agree; else 1 with a description of
 * the first difference in why. */
int sc_check(const rc_table *t, const sc_version *v, char *why, size_t n);
/* The TABLE_MAP event `ev` (parsed as `t`) completed with what v knows, into out. */
int sc_enrich(const rc_event *ev, const rc_table *t, const sc_version *v, int is_mariadb, rc_buf *out);

#endif
