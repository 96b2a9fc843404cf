/*
 * test_txn.c: transaction bounds (common/binlog/txn.c): rc_event_query_kind and rc_txn_step
 * over the event sequences MariaDB and MySQL write: InnoDB transactions (GTID or BEGIN ... XID),
 * non-transactional ones (... COMMIT), DDL (a standalone GTID, or none, then the statement),
 * MySQL's TRANSACTION_PAYLOAD, and MariaDB's compressed QUERY events (log_bin_compress), whose
 * statement text must be inflated before it can be told from BEGIN or COMMIT. Event bodies are
 * built byte by byte; only the fields the rules read are filled.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binlog.h"
#include "rc_test.h"

typedef struct {
  uint8_t body[512];
  rc_event ev;
} test_ev;

static rc_event *plain(test_ev *t, uint8_t type) {
  memset(t, 0, sizeof *t);
  t->ev.type = type;
  t->ev.body = t->body;
  t->ev.body_len = 8;
  return &t->ev;
}

/* A QUERY body: post-header (db_len 4, no status vars), "test", NUL, then the text. */
static size_t query_head(uint8_t *b) {
  memset(b, 0, 13);
  b[8] = 4;
  memcpy(b + 13, "test", 5);
  return 13 + 5;
}

static rc_event *query(test_ev *t, const char *sql) {
  plain(t, RC_EV_QUERY);
  size_t at = query_head(t->body);
  memcpy(t->body + at, sql, strlen(sql));
  t->ev.body_len = at + strlen(sql);
  return &t->ev;
}

/* MariaDB QUERY_COMPRESSED: header 0x80 | zlib<<4 | 1 length byte, the length, zlib data. */
static rc_event *query_z(test_ev *t, const char *sql) {
  plain(t, RC_EV_MARIA_QUERY_COMPRESSED);
  size_t at = query_head(t->body);
  size_t n = strlen(sql);
  t->body[at] = 0x81;
  t->body[at + 1] = (uint8_t)n;
  uLongf zl = (uLongf)(sizeof t->body - at - 2);
  RC_CHECK(compress(t->body + at + 2, &zl, (const Bytef *)sql, (uLong)n) == Z_OK);
  t->ev.body_len = at + 2 + zl;
  return &t->ev;
}

/* MariaDB GTID: seq_no u64, domain_id u32, flags2 u8, zero padding to 19. */
static rc_event *maria_gtid(test_ev *t, uint8_t flags2) {
  plain(t, RC_EV_MARIA_GTID);
  t->body[RC_MARIA_GTID_FLAGS2_AT] = flags2;
  t->ev.body_len = 19;
  return &t->ev;
}

static void test_query_kind(void) {
  test_ev t;
  RC_CHECK(rc_event_query_kind(query(&t, "BEGIN")) == RC_QUERY_BEGIN);
  RC_CHECK(rc_event_query_kind(query(&t, "commit")) == RC_QUERY_COMMIT);
  RC_CHECK(rc_event_query_kind(query(&t, "ROLLBACK")) == RC_QUERY_ROLLBACK);
  RC_CHECK(rc_event_query_kind(query(&t, "BEGIN WORK")) == RC_QUERY_STATEMENT);
  RC_CHECK(rc_event_query_kind(query(&t, "CREATE TABLE t (a INT)")) == RC_QUERY_STATEMENT);
  RC_CHECK(rc_event_query_kind(plain(&t, RC_EV_XID)) == RC_QUERY_NONE);
  RC_CHECK(rc_event_query_kind(query_z(&t, "BEGIN")) == RC_QUERY_BEGIN);
  RC_CHECK(rc_event_query_kind(query_z(&t, "COMMIT")) == RC_QUERY_COMMIT);
  RC_CHECK(rc_event_query_kind(query_z(&t, "ROLLBACK")) == RC_QUERY_ROLLBACK);
  RC_CHECK(rc_event_query_kind(query_z(&t, "COMMITS")) == RC_QUERY_STATEMENT);
  RC_CHECK(rc_event_query_kind(query_z(&t, "ALTER TABLE t ADD COLUMN b INT")) == RC_QUERY_STATEMENT);
  /* damaged: a query too short for its post-header, a compressed text that does not inflate */
  query(&t, "COMMIT");
  t.ev.body_len = 10;
  RC_CHECK(rc_event_query_kind(&t.ev) == RC_QUERY_STATEMENT);
  query_z(&t, "COMMIT");
  t.body[20] ^= 0xFF;
  RC_CHECK(rc_event_query_kind(&t.ev) == RC_QUERY_STATEMENT);
}

static void test_maria_innodb(void) {
  rc_txn_state st = {0};
  test_ev t;
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_FORMAT_DESCRIPTION)) == RC_TXN_OUTSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_MARIA_GTID_LIST)) == RC_TXN_OUTSIDE);
  RC_CHECK(!rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, maria_gtid(&t, RC_GTID_FL_TRANSACTIONAL)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_MARIA_ANNOTATE_ROWS)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_TABLE_MAP)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_WRITE_ROWS_V1)) == RC_TXN_INSIDE);
  /* a statement inside the transaction (a compressed one: longer than log_bin_compress_min_len) */
  RC_CHECK(rc_txn_step(&st, query_z(&t, "INSERT INTO t_myisam SELECT * FROM t_big")) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_XID)) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_MARIA_BINLOG_CHECKPOINT)) == RC_TXN_OUTSIDE);
}

static void test_maria_ddl_and_myisam(void) {
  rc_txn_state st = {0};
  test_ev t;
  /* DDL: a standalone GTID, then the statement ends the group */
  RC_CHECK(rc_txn_step(&st, maria_gtid(&t, RC_GTID_FL_STANDALONE | RC_GTID_FL_DDL)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, query(&t, "CREATE TABLE t (a INT)")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* the same, compressed */
  RC_CHECK(rc_txn_step(&st, maria_gtid(&t, RC_GTID_FL_STANDALONE)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, query_z(&t, "ALTER TABLE t ADD COLUMN b INT, ADD COLUMN c INT")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* a non-transactional table: GTID, rows, a COMMIT query */
  RC_CHECK(rc_txn_step(&st, maria_gtid(&t, 0)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_WRITE_ROWS_V1)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, query(&t, "COMMIT")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* a GTID too short to hold flags2 is taken as standalone */
  maria_gtid(&t, 0);
  t.ev.body_len = 12;
  RC_CHECK(rc_txn_step(&st, &t.ev) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, query(&t, "DROP TABLE t")) == RC_TXN_ENDS);
}

/* Compressed BEGIN/COMMIT/ROLLBACK are keywords too: tools/server_dump used to look only at
 * plain QUERY events, so a compressed COMMIT left its transaction open there. */
static void test_compressed_bounds(void) {
  rc_txn_state st = {0};
  test_ev t;
  RC_CHECK(rc_txn_step(&st, query_z(&t, "BEGIN")) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, query_z(&t, "COMMIT")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, maria_gtid(&t, 0)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, query_z(&t, "ROLLBACK")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* a compressed statement outside any transaction is one of its own */
  RC_CHECK(rc_txn_step(&st, query_z(&t, "CREATE TABLE t2 (a INT PRIMARY KEY)")) == (RC_TXN_BEGINS | RC_TXN_ENDS));
  RC_CHECK(!rc_txn_open(&st));
}

static void test_mysql(void) {
  rc_txn_state st = {0};
  test_ev t;
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_PREVIOUS_GTIDS)) == RC_TXN_OUTSIDE);
  /* GTID, BEGIN, rows, XID */
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_GTID)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, query(&t, "BEGIN")) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_TABLE_MAP)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_UPDATE_ROWS_V2)) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_XID)) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* DDL: an anonymous GTID, the statement */
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_ANONYMOUS_GTID)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, query(&t, "CREATE TABLE t (a INT)")) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  /* binlog_transaction_compression: GTID, then one TRANSACTION_PAYLOAD holding it all */
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_GTID)) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_TRANSACTION_PAYLOAD)) == RC_TXN_ENDS);
  RC_CHECK(!rc_txn_open(&st));
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_TRANSACTION_PAYLOAD)) == (RC_TXN_BEGINS | RC_TXN_ENDS));
  /* without GTIDs (5.x): BEGIN ... XID, and a statement alone */
  RC_CHECK(rc_txn_step(&st, query(&t, "BEGIN")) == RC_TXN_BEGINS);
  RC_CHECK(rc_txn_step(&st, query(&t, "INSERT INTO t VALUES (1)")) == RC_TXN_INSIDE);
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_XID)) == RC_TXN_ENDS);
  RC_CHECK(rc_txn_step(&st, query(&t, "DROP TABLE t")) == (RC_TXN_BEGINS | RC_TXN_ENDS));
  RC_CHECK(rc_txn_step(&st, plain(&t, RC_EV_ROTATE)) == RC_TXN_OUTSIDE);
}

void rc_tests(void) {
  RC_RUN(test_query_kind);
  RC_RUN(test_maria_innodb);
  RC_RUN(test_maria_ddl_and_myisam);
  RC_RUN(test_compressed_bounds);
  RC_RUN(test_mysql);
}
