/*
 * test_binlog_info.c: control events to JSON (common/binlog/binlog_info.c). The decoder state comes from
 * real FORMAT_DESCRIPTION events (MySQL 8.2.0 and MariaDB 11.8.5, copied from the public
 * fixtures); event bodies are built byte by byte, each in its own exact-size allocation so that
 * an over-read trips ASan. Outputs are compared exactly; corrupt bodies must fail with a message
 * naming the event type, the field and the file/offset.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "binlog_info.h"
#include "buf.h"
#include "rc_err.h"
#include "rc_test.h"
#include "test_bytes.h"
#include "test_fixtures.h"


/* mariadb-poc/mariadb-repl-bin.000009 at offset 4: MariaDB 11.8.5, CRC32, 171 post-headers. */
static const uint8_t FDE_MARIA_HEAD[] = {
    0xd5, 0xed, 0x54, 0x69, 0x0f, 0x0a, 0x00, 0x00, 0x00, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x31, 0x31, 0x2e, 0x38, 0x2e, 0x35, 0x2d, 0x4d, 0x61, 0x72, 0x69,
    0x61, 0x44, 0x42, 0x2d, 0x75, 0x62, 0x75, 0x32, 0x34, 0x30, 0x34, 0x2d, 0x6c, 0x6f, 0x67, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd5, 0xed, 0x54, 0x69, 0x13, 0x38, 0x0d, 0x00, 0x08,
    0x00, 0x12, 0x00, 0x04, 0x04, 0x04, 0x04, 0x12, 0x00, 0x00, 0xe4, 0x00, 0x04, 0x1a, 0x08, 0x00,
    0x00, 0x00, 0x08, 0x08, 0x08, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x0a, 0x0a, 0x0a};
/* ... then zeros up to the last 11 post-header lengths (types 161..171), the algorithm, the CRC */
static const uint8_t FDE_MARIA_TAIL[] = {
    0x04, 0x13, 0x04, 0x00, 0x0d, 0x08, 0x08, 0x08, 0x0a, 0x0a, 0x0a, 0x01, 0x26, 0x43, 0x64, 0x3b};
#define FDE_MARIA_LEN 252

static rc_buf out;
static char err[512];
static int last_rc;

static rc_binlog *new_mysql(void) {
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "binlog.000001");
  rc_event ev;
  int r = rc_binlog_feed(bl, FDE_MYSQL, sizeof FDE_MYSQL, 4, &ev, err, sizeof err);
  RC_CHECK(r == 0);
  return bl;
}

static uint8_t fde_maria[FDE_MARIA_LEN];

static rc_binlog *new_maria(void) {
  memset(fde_maria, 0, sizeof fde_maria);
  memcpy(fde_maria, FDE_MARIA_HEAD, sizeof FDE_MARIA_HEAD);
  memcpy(fde_maria + FDE_MARIA_LEN - sizeof FDE_MARIA_TAIL, FDE_MARIA_TAIL, sizeof FDE_MARIA_TAIL);
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "mariadb-bin.000009");
  rc_event ev;
  int r = rc_binlog_feed(bl, fde_maria, sizeof fde_maria, 4, &ev, err, sizeof err);
  if (r) fprintf(stderr, "MariaDB FDE: %s\n", err);
  RC_CHECK(r == 0);
  return bl;
}

/* The info JSON of an event with this type and body (at offset 1234), "" when nothing is
 * appended, or NULL on error (err and last_rc say why). The body is copied into an allocation
 * of exactly its size. */
static const char *info_ev(const rc_binlog *bl, int type, const uint8_t *body, size_t len,
                           uint32_t log_pos) {
  uint8_t *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, body, len);
  rc_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = (uint8_t)type;
  ev.body = copy;
  ev.body_len = len;
  ev.offset = 1234;
  ev.server_id = 7;
  ev.log_pos = log_pos;
  out.len = 0;
  rc_buf_lit(&out, "<");
  err[0] = 0;
  last_rc = rc_event_info_json(bl, &ev, &out, err, sizeof err);
  free(copy);
  if (last_rc) {
    RC_CHECK(out.len == 1); /* left as it was */
    return NULL;
  }
  rc_buf_putc(&out, 0);
  return out.p + 1;
}
#define INFO(bl, type, body) info_ev((bl), (type), (body), sizeof(body), 0)

/* Rejected as corrupt with a message naming each of the strings. */
static void check_err(int line, const char *got, const char *a, const char *b) {
  if (got) {
    fprintf(stderr, "%s:%d: expected an error, got %s\n", __FILE__, line, got);
    rc_test_failed_checks++;
    return;
  }
  const char *want[] = {a, b, "offset 1234"};
  if (last_rc != RC_ERR_CORRUPT) {
    fprintf(stderr, "%s:%d: error code %d, expected RC_ERR_CORRUPT\n", __FILE__, line, last_rc);
    rc_test_failed_checks++;
  }
  for (int i = 0; i < 3; i++)
    if (want[i] && !strstr(err, want[i])) {
      fprintf(stderr, "%s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, line, err, want[i]);
      rc_test_failed_checks++;
    }
}
#define CHECK_ERR(got, a, b) check_err(__LINE__, (got), (a), (b))

#define INFOB(bl, type, bb) info_ev((bl), (type), (bb).p, (bb).n, 0)

static const uint8_t UUID1[16] = {0x93, 0xe9, 0x50, 0x66, 0xa2, 0xf4, 0x11, 0xec,
                                  0x9b, 0x69, 0x96, 0x57, 0xf0, 0xae, 0x95, 0xe2};
static const uint8_t UUID2[16] = {0x35, 0x7d, 0xf5, 0x24, 0x41, 0x39, 0x11, 0xee,
                                  0x99, 0x79, 0xb0, 0x33, 0xee, 0x13, 0x91, 0x9e};

/* ---- FORMAT_DESCRIPTION ---- */

static void test_fde(void) {
  rc_binlog *bl = new_mysql();
  RC_CHECK_STR(info_ev(bl, 15, FDE_MYSQL + 19, sizeof FDE_MYSQL - 19 - 4, 0),
               "{\"binlog_version\":4,\"server_version\":\"8.2.0\",\"created\":1701928525,"
               "\"header_len\":19,\"post_header_lengths\":41,\"checksum\":\"CRC32\"}");
  CHECK_ERR(info_ev(bl, 15, FDE_MYSQL + 19, 40, 0), "FORMAT_DESCRIPTION_EVENT", "need at least 57");
  rc_binlog_free(bl);
  bl = new_maria();
  RC_CHECK_STR(info_ev(bl, 15, fde_maria + 19, sizeof fde_maria - 19 - 4, 0),
               "{\"binlog_version\":4,\"server_version\":\"11.8.5-MariaDB-ubu2404-log\","
               "\"created\":1767173589,\"header_len\":19,\"post_header_lengths\":171,"
               "\"checksum\":\"CRC32\"}");
  rc_binlog_free(bl);
}

/* ---- QUERY ---- */

static void query_head(bytes *b, size_t db_len, size_t sv_len) {
  le(b, 5, 4);    /* thread_id */
  le(b, 2, 4);    /* exec_time */
  u8(b, (unsigned)db_len);
  le(b, 0, 2);    /* error_code */
  le(b, sv_len, 2);
}

static void test_query_all_status_vars(void) {
  rc_binlog *bl = new_mysql();
  bytes sv = {{0}, 0};
  u8(&sv, 0), le(&sv, 0x01000000, 4);                                 /* FLAGS2 */
  u8(&sv, 1), le(&sv, 1168113696, 8);                                 /* SQL_MODE */
  u8(&sv, 2), u8(&sv, 3), str(&sv, "std"), u8(&sv, 0);                /* CATALOG (old) */
  u8(&sv, 3), le(&sv, 2, 2), le(&sv, 1, 2);                           /* AUTO_INCREMENT */
  u8(&sv, 4), le(&sv, 255, 2), le(&sv, 255, 2), le(&sv, 33, 2);       /* CHARSET */
  u8(&sv, 5), u8(&sv, 6), str(&sv, "SYSTEM");                         /* TIME_ZONE */
  u8(&sv, 7), le(&sv, 1, 2);                                          /* LC_TIME_NAMES */
  u8(&sv, 8), le(&sv, 45, 2);                                         /* CHARSET_DATABASE */
  u8(&sv, 9), le(&sv, 3, 8);                                          /* TABLE_MAP_FOR_UPDATE */
  u8(&sv, 10), le(&sv, 77, 4);                                        /* MASTER_DATA_WRITTEN */
  u8(&sv, 11), u8(&sv, 4), str(&sv, "root"), u8(&sv, 9), str(&sv, "localhost"); /* INVOKER */
  u8(&sv, 12), u8(&sv, 2), str(&sv, "test"), u8(&sv, 0), str(&sv, "mysql"), u8(&sv, 0);
  u8(&sv, 13), le(&sv, 669125, 3);                                    /* MICROSECONDS */
  u8(&sv, 16), u8(&sv, 1);                                            /* EXPLICIT_DEFAULTS_TS */
  u8(&sv, 17), le(&sv, 8, 8);                                         /* DDL_LOGGED_WITH_XID */
  u8(&sv, 18), le(&sv, 255, 2);                                       /* DEFAULT_COLLATION */
  u8(&sv, 19), u8(&sv, 0);                                            /* SQL_REQUIRE_PK */
  u8(&sv, 20), u8(&sv, 1);                                            /* DEFAULT_TABLE_ENCRYPTION */
  bytes b = {{0}, 0};
  query_head(&b, 4, sv.n);
  raw(&b, sv.p, sv.n);
  str(&b, "test"), u8(&b, 0);
  str(&b, "DROP TABLE `t` /* \"x\" */");
  RC_CHECK_STR(INFOB(bl, 2, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"test\","
               "\"query\":\"DROP TABLE `t` /* \\\"x\\\" */\",\"status\":{\"flags2\":16777216,"
               "\"sql_mode\":1168113696,\"catalog\":\"std\",\"auto_increment\":{\"increment\":2,"
               "\"offset\":1},\"charset\":{\"client\":255,\"connection\":255,\"server\":33},"
               "\"time_zone\":\"SYSTEM\",\"lc_time_names\":1,\"charset_database\":45,"
               "\"table_map_for_update\":3,\"master_data_written\":77,\"invoker\":{\"user\":\"root\","
               "\"host\":\"localhost\"},\"updated_db_names\":[\"test\",\"mysql\"],"
               "\"microseconds\":669125,\"explicit_defaults_for_timestamp\":1,\"ddl_xid\":8,"
               "\"default_collation_for_utf8mb4\":255,\"sql_require_primary_key\":0,"
               "\"default_table_encryption\":1}}");
  rc_binlog_free(bl);
}

static void test_query_mariadb_codes_any_order(void) {
  rc_binlog *bl = new_maria();
  bytes sv = {{0}, 0};
  u8(&sv, 131), u8(&sv, 2), le(&sv, 33, 2), le(&sv, 2304, 2), le(&sv, 8, 2), le(&sv, 8, 2);
  u8(&sv, 6), u8(&sv, 3), str(&sv, "std");
  u8(&sv, 4), le(&sv, 33, 2), le(&sv, 33, 2), le(&sv, 2304, 2);       /* after 131 (11.5+) */
  u8(&sv, 128), le(&sv, 123456, 3);                                   /* HRNOW */
  u8(&sv, 129), le(&sv, 99, 8);                                       /* XID */
  u8(&sv, 130), u8(&sv, 0x04), le(&sv, 41, 8);                        /* GTID_FLAGS3 + sa_seq */
  u8(&sv, 12), u8(&sv, 254);                                          /* too many db names */
  u8(&sv, 0), le(&sv, 0, 4);
  bytes b = {{0}, 0};
  query_head(&b, 0, sv.n);
  raw(&b, sv.p, sv.n);
  u8(&b, 0);
  str(&b, "ALTER TABLE t ADD c INT");
  RC_CHECK_STR(INFOB(bl, 2, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"\","
               "\"query\":\"ALTER TABLE t ADD c INT\",\"status\":{\"character_set_collations\":"
               "[[33,2304],[8,8]],\"catalog\":\"std\",\"charset\":{\"client\":33,\"connection\":33,"
               "\"server\":2304},\"hrnow\":123456,\"xid\":99,\"gtid_flags3\":4,\"sa_seq_no\":41,"
               "\"updated_db_names\":null,\"flags2\":0}}");
  rc_binlog_free(bl);
}

static void test_query_unknown_code_skips(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  /* FLAGS2, then unknown code 99 with 5 bytes the decoder cannot frame */
  query_head(&b, 2, 5 + 6);
  u8(&b, 0), le(&b, 0, 4);
  u8(&b, 99), str(&b, "?????");
  str(&b, "db"), u8(&b, 0);
  str(&b, "COMMIT");
  RC_CHECK_STR(INFOB(bl, 2, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"db\",\"query\":\"COMMIT\","
               "\"status\":{\"flags2\":0,\"unknown_code\":99}}");
  /* a repeated code is shown once */
  b.n = 0;
  query_head(&b, 0, 10);
  u8(&b, 0), le(&b, 1, 4);
  u8(&b, 0), le(&b, 2, 4);
  u8(&b, 0);
  str(&b, "BEGIN");
  RC_CHECK_STR(INFOB(bl, 2, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"\",\"query\":\"BEGIN\","
               "\"status\":{\"flags2\":1}}");
  rc_binlog_free(bl);
}

static void test_query_invalid_utf8(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  query_head(&b, 0, 0);
  u8(&b, 0);
  str(&b, "SELECT '"), u8(&b, 0xE9), str(&b, "'\n");
  RC_CHECK_STR(INFOB(bl, 2, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"\","
               "\"query\":\"SELECT '\xEF\xBF\xBD'\\n\",\"status\":{}}");
  rc_binlog_free(bl);
}

static void test_query_corrupt(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  query_head(&b, 0, 0);
  CHECK_ERR(info_ev(bl, 2, b.p, 12, 0), "QUERY_EVENT", "post-header");
  /* status_vars_len past the end */
  b.n = 0;
  query_head(&b, 0, 200);
  u8(&b, 0);
  CHECK_ERR(INFOB(bl, 2, b), "QUERY_EVENT", "status_vars_len 200");
  /* a status variable longer than the block: CHARSET needs 6 bytes, the block has 3 */
  b.n = 0;
  query_head(&b, 0, 4);
  u8(&b, 4), le(&b, 33, 2), u8(&b, 33);
  u8(&b, 0), le(&b, 0, 4); /* bytes after the block must not be read as the CHARSET */
  CHECK_ERR(INFOB(bl, 2, b), "status variable 4 (CHARSET)", "status_vars_len");
  /* time zone length past the block */
  b.n = 0;
  query_head(&b, 0, 3);
  u8(&b, 5), u8(&b, 10), u8(&b, 'U');
  u8(&b, 0);
  CHECK_ERR(INFOB(bl, 2, b), "TIME_ZONE", "binlog.000001");
  /* updated db names without their NUL */
  b.n = 0;
  query_head(&b, 0, 6);
  u8(&b, 12), u8(&b, 1), str(&b, "test");
  u8(&b, 0);
  CHECK_ERR(INFOB(bl, 2, b), "UPDATED_DB_NAMES", "NUL-terminated");
  /* database name past the end */
  b.n = 0;
  query_head(&b, 10, 0);
  str(&b, "abc");
  CHECK_ERR(INFOB(bl, 2, b), "QUERY_EVENT", "db_len 10");
  /* database name not followed by NUL */
  b.n = 0;
  query_head(&b, 2, 0);
  str(&b, "abcSELECT 1");
  CHECK_ERR(INFOB(bl, 2, b), "QUERY_EVENT", "not followed by a NUL");
  rc_binlog_free(bl);
}

static void test_query_compressed(void) {
  rc_binlog *bl = new_maria();
  const char *q = "INSERT INTO t VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9)";
  uint8_t z[256];
  uLongf zl = sizeof z;
  RC_CHECK(compress(z, &zl, (const Bytef *)q, (uLong)strlen(q)) == Z_OK);
  bytes b = {{0}, 0};
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  u8(&b, 0x81), u8(&b, (unsigned)strlen(q));
  raw(&b, z, zl);
  RC_CHECK_STR(INFOB(bl, 165, b),
               "{\"thread_id\":5,\"exec_time\":2,\"error_code\":0,\"db\":\"test\","
               "\"query\":\"INSERT INTO t VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9)\","
               "\"status\":{}}");
  /* a 2-byte big-endian length */
  b.n = 0;
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  u8(&b, 0x82), u8(&b, 0), u8(&b, (unsigned)strlen(q));
  raw(&b, z, zl);
  RC_CHECK(INFOB(bl, 165, b) != NULL);
  /* wrong length */
  b.n = 0;
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  u8(&b, 0x81), u8(&b, 10);
  raw(&b, z, zl);
  CHECK_ERR(INFOB(bl, 165, b), "QUERY_COMPRESSED_EVENT", "does not unpack");
  /* not a compression header */
  b.n = 0;
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  str(&b, "SELECT 1");
  CHECK_ERR(INFOB(bl, 165, b), "QUERY_COMPRESSED_EVENT", "header byte 0x53");
  /* truncated stream */
  b.n = 0;
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  u8(&b, 0x81), u8(&b, (unsigned)strlen(q));
  raw(&b, z, zl / 2);
  CHECK_ERR(INFOB(bl, 165, b), "QUERY_COMPRESSED_EVENT", "does not unpack");
  /* length bytes missing */
  b.n = 0;
  query_head(&b, 4, 0);
  str(&b, "test"), u8(&b, 0);
  u8(&b, 0x83), u8(&b, 0);
  CHECK_ERR(INFOB(bl, 165, b), "QUERY_COMPRESSED_EVENT", "compressed query's length");
  rc_binlog_free(bl);
}

/* ---- ROTATE, XID, INTVAR, RAND, USER_VAR, INCIDENT, STOP ---- */

static void test_rotate_xid(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  le(&b, 4, 8), str(&b, "binlog.000002");
  RC_CHECK_STR(INFOB(bl, 4, b), "{\"next_file\":\"binlog.000002\",\"next_pos\":4}");
  CHECK_ERR(info_ev(bl, 4, b.p, 7, 0), "ROTATE_EVENT", "binlog.000001");
  /* before any FORMAT_DESCRIPTION (a stream's fake rotate) */
  rc_binlog *fresh = rc_binlog_new();
  rc_binlog_start_file(fresh, "");
  RC_CHECK_STR(INFOB(fresh, 4, b), "{\"next_file\":\"binlog.000002\",\"next_pos\":4}");
  rc_binlog_free(fresh);
  b.n = 0;
  le(&b, 18446744073709551615ull, 8);
  RC_CHECK_STR(INFOB(bl, 16, b), "{\"xid\":18446744073709551615}");
  CHECK_ERR(info_ev(bl, 16, b.p, 7, 0), "XID_EVENT", "xid needs 8");
  RC_CHECK_STR(info_ev(bl, 3, NULL, 0, 0), ""); /* STOP: nothing */
  RC_CHECK_STR(info_ev(bl, 100, b.p, 8, 0), ""); /* unknown type: nothing */
  rc_binlog_free(bl);
}

static void test_intvar_rand_incident(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  u8(&b, 2), le(&b, 1001, 8);
  RC_CHECK_STR(INFOB(bl, 5, b), "{\"type\":\"INSERT_ID\",\"value\":1001}");
  CHECK_ERR(info_ev(bl, 5, b.p, 8, 0), "INTVAR_EVENT", "need 9");
  b.n = 0;
  le(&b, 11, 8), le(&b, 22, 8);
  RC_CHECK_STR(INFOB(bl, 13, b), "{\"seed1\":11,\"seed2\":22}");
  CHECK_ERR(info_ev(bl, 13, b.p, 15, 0), "RAND_EVENT", "seeds need 16");
  b.n = 0;
  le(&b, 1, 2), u8(&b, 4), str(&b, "lost");
  RC_CHECK_STR(INFOB(bl, 26, b), "{\"incident\":1,\"message\":\"lost\"}");
  CHECK_ERR(info_ev(bl, 26, b.p, 5, 0), "INCIDENT_EVENT", "message");
  CHECK_ERR(info_ev(bl, 26, b.p, 1, 0), "INCIDENT_EVENT", "incident number");
  rc_binlog_free(bl);
}

static void test_user_var(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  le(&b, 1, 4), str(&b, "a"), u8(&b, 0), u8(&b, 0), le(&b, 33, 4), le(&b, 2, 4), str(&b, "hi");
  RC_CHECK_STR(INFOB(bl, 14, b), "{\"name\":\"a\",\"type\":\"STRING\",\"charset\":33,\"value\":\"hi\"}");
  b.n = 0;
  le(&b, 1, 4), str(&b, "n"), u8(&b, 0), u8(&b, 2), le(&b, 63, 4), le(&b, 8, 4);
  le(&b, (uint64_t)-5, 8);
  RC_CHECK_STR(INFOB(bl, 14, b), "{\"name\":\"n\",\"type\":\"INT\",\"charset\":63,\"value\":-5}");
  u8(&b, 1); /* unsigned flag */
  RC_CHECK_STR(INFOB(bl, 14, b),
               "{\"name\":\"n\",\"type\":\"INT\",\"charset\":63,\"value\":18446744073709551611,"
               "\"flags\":1}");
  b.n = 0;
  le(&b, 1, 4), str(&b, "d"), u8(&b, 0), u8(&b, 4), le(&b, 63, 4), le(&b, 5, 4);
  u8(&b, 5), u8(&b, 2), u8(&b, 0x80), u8(&b, 0x7B), u8(&b, 0x2D); /* DECIMAL(5,2) 123.45 */
  RC_CHECK_STR(INFOB(bl, 14, b), "{\"name\":\"d\",\"type\":\"DECIMAL\",\"charset\":63,\"value\":\"123.45\"}");
  b.n = 0;
  le(&b, 1, 4), str(&b, "z"), u8(&b, 1);
  RC_CHECK_STR(INFOB(bl, 14, b), "{\"name\":\"z\",\"value\":null}");
  /* corrupt: name length past the end; value length past the end; short INT */
  b.n = 0;
  le(&b, 100, 4), str(&b, "abc");
  CHECK_ERR(INFOB(bl, 14, b), "USER_VAR_EVENT", "variable name");
  b.n = 0;
  le(&b, 1, 4), str(&b, "a"), u8(&b, 0), u8(&b, 0), le(&b, 33, 4), le(&b, 50, 4), str(&b, "hi");
  CHECK_ERR(INFOB(bl, 14, b), "USER_VAR_EVENT", "runs past the end");
  b.n = 0;
  le(&b, 1, 4), str(&b, "a"), u8(&b, 0), u8(&b, 2), le(&b, 33, 4), le(&b, 2, 4), str(&b, "hi");
  CHECK_ERR(INFOB(bl, 14, b), "USER_VAR_EVENT", "expected 8");
  b.n = 0;
  le(&b, 1, 4), str(&b, "d"), u8(&b, 0), u8(&b, 4), le(&b, 63, 4), le(&b, 3, 4);
  u8(&b, 30), u8(&b, 2), u8(&b, 0x80);
  CHECK_ERR(INFOB(bl, 14, b), "USER_VAR_EVENT", "DECIMAL(30,2)");
  rc_binlog_free(bl);
}

/* ---- MySQL GTIDs ---- */

static void gtid_head(bytes *b, const uint8_t *sid, int64_t gno) {
  u8(b, 1);
  raw(b, sid, 16);
  le(b, (uint64_t)gno, 8);
  u8(b, 2);
  le(b, 6, 8);
  le(b, 7, 8);
}

static void test_gtid(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  gtid_head(&b, UUID1, 42);
  le(&b, 1647193191638429ull | (1ull << 55), 7);
  le(&b, 1647193191000000ull, 7);
  u8(&b, 0xfc), le(&b, 451, 2);
  le(&b, 80400u | (1u << 31), 4);
  le(&b, 80028, 4);
  le(&b, 9, 8);
  RC_CHECK_STR(INFOB(bl, 33, b),
               "{\"gtid\":\"93e95066-a2f4-11ec-9b69-9657f0ae95e2:42\",\"flags\":1,"
               "\"last_committed\":6,\"sequence_number\":7,\"immediate_commit_ts\":1647193191638429,"
               "\"original_commit_ts\":1647193191000000,\"transaction_length\":451,"
               "\"immediate_server_version\":80400,\"original_server_version\":80028,"
               "\"commit_group_ticket\":9}");
  /* 5.7: only the post-header; anonymous */
  b.n = 0;
  gtid_head(&b, UUID1, 0);
  RC_CHECK_STR(INFOB(bl, 34, b),
               "{\"gtid\":null,\"flags\":1,\"last_committed\":6,\"sequence_number\":7}");
  /* 8.0 without the original fields */
  le(&b, 1000, 7);
  u8(&b, 200);
  le(&b, 80031, 4);
  RC_CHECK_STR(INFOB(bl, 34, b),
               "{\"gtid\":null,\"flags\":1,\"last_committed\":6,\"sequence_number\":7,"
               "\"immediate_commit_ts\":1000,\"original_commit_ts\":1000,\"transaction_length\":200,"
               "\"immediate_server_version\":80031,\"original_server_version\":80031}");
  /* corrupt */
  CHECK_ERR(info_ev(bl, 33, b.p, 30, 0), "GTID_LOG_EVENT", "42-byte post-header");
  b.n = 0;
  gtid_head(&b, UUID1, 1);
  le(&b, 1000 | (1ull << 55), 7);
  le(&b, 1, 3);
  CHECK_ERR(INFOB(bl, 33, b), "GTID_LOG_EVENT", "original_commit_ts is missing");
  b.n = 0;
  gtid_head(&b, UUID1, 1);
  le(&b, 1000, 7);
  u8(&b, 0xfe), le(&b, 1, 3);
  CHECK_ERR(INFOB(bl, 33, b), "GTID_LOG_EVENT", "transaction_length");
  b.n = 0;
  gtid_head(&b, UUID1, 1);
  le(&b, 1000, 7);
  u8(&b, 10);
  le(&b, 80031u | (1u << 31), 4);
  le(&b, 1, 2);
  CHECK_ERR(INFOB(bl, 33, b), "GTID_LOG_EVENT", "original_server_version is missing");
  rc_binlog_free(bl);
}

static void tagged_body(bytes *b, int with_tag, int size_delta) {
  tagged_gtid_body(b, UUID1, 12345, with_tag ? "blue" : NULL, size_delta);
}

static void test_gtid_tagged(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  tagged_body(&b, 1, 0);
  RC_CHECK_STR(INFOB(bl, 42, b),
               "{\"gtid\":\"93e95066-a2f4-11ec-9b69-9657f0ae95e2:blue:12345\",\"tag\":\"blue\","
               "\"flags\":1,\"last_committed\":10,\"sequence_number\":11,"
               "\"immediate_commit_ts\":1700000000123456,\"original_commit_ts\":1700000000123456,"
               "\"transaction_length\":999,\"immediate_server_version\":80400,"
               "\"original_server_version\":80400,\"commit_group_ticket\":0,"
               "\"serialization_version\":2}");
  tagged_body(&b, 1, 1);
  CHECK_ERR(INFOB(bl, 42, b), "GTID_TAGGED_LOG_EVENT", "message size");
  tagged_body(&b, 1, 0);
  CHECK_ERR(info_ev(bl, 42, b.p, 2, 0), "GTID_TAGGED_LOG_EVENT", "message header");
  CHECK_ERR(info_ev(bl, 42, b.p, 0, 0), "GTID_TAGGED_LOG_EVENT", "serialization version");
  rc_binlog_free(bl);
}

static void test_previous_gtids(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  le(&b, 0, 8);
  RC_CHECK_STR(INFOB(bl, 35, b), "{\"gtid_set\":\"\"}");
  b.n = 0;
  le(&b, 2, 8);
  raw(&b, UUID1, 16), le(&b, 2, 8), le(&b, 1, 8), le(&b, 6, 8), le(&b, 7, 8), le(&b, 10, 8);
  raw(&b, UUID2, 16), le(&b, 1, 8), le(&b, 1, 8), le(&b, 2, 8);
  RC_CHECK_STR(INFOB(bl, 35, b),
               "{\"gtid_set\":\"93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-5:7-9,"
               "357df524-4139-11ee-9979-b033ee13919e:1\"}");
  CHECK_ERR(info_ev(bl, 35, b.p, b.n - 1, 0), "PREVIOUS_GTIDS_LOG_EVENT", "SID 2 of 2");
  /* an interval count far beyond the event */
  b.n = 0;
  le(&b, 1, 8);
  raw(&b, UUID1, 16), le(&b, 1ull << 62, 8), le(&b, 1, 8), le(&b, 2, 8);
  CHECK_ERR(INFOB(bl, 35, b), "PREVIOUS_GTIDS_LOG_EVENT", "intervals");
  /* a SID count far beyond the event */
  b.n = 0;
  le(&b, (1ull << 56) - 1, 8);
  CHECK_ERR(INFOB(bl, 35, b), "PREVIOUS_GTIDS_LOG_EVENT", "runs past the end");
  CHECK_ERR(info_ev(bl, 35, b.p, 4, 0), "PREVIOUS_GTIDS_LOG_EVENT", "SID count");
  /* 8.4 tagged format: uuid1 untagged 1-5, uuid1:aa 1-3, uuid2:b 4 */
  b.n = 0;
  le(&b, (1ull << 56) | (3ull << 8) | 1, 8);
  raw(&b, UUID1, 16), varlen(&b, 0), le(&b, 1, 8), le(&b, 1, 8), le(&b, 6, 8);
  raw(&b, UUID1, 16), varlen(&b, 2), str(&b, "aa"), le(&b, 1, 8), le(&b, 1, 8), le(&b, 4, 8);
  raw(&b, UUID2, 16), varlen(&b, 1), str(&b, "b"), le(&b, 1, 8), le(&b, 4, 8), le(&b, 5, 8);
  RC_CHECK_STR(INFOB(bl, 35, b),
               "{\"gtid_set\":\"93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-5:aa:1-3,"
               "357df524-4139-11ee-9979-b033ee13919e:b:4\",\"tagged\":true}");
  b.n = 0;
  le(&b, (1ull << 56) | (1ull << 8) | 1, 8);
  raw(&b, UUID1, 16), varlen(&b, 100), str(&b, "aa");
  CHECK_ERR(INFOB(bl, 35, b), "PREVIOUS_GTIDS_LOG_EVENT", "tag");
  b.n = 0;
  le(&b, 7ull << 56, 8);
  CHECK_ERR(INFOB(bl, 35, b), "PREVIOUS_GTIDS_LOG_EVENT", "unknown GTID set format 7");
  rc_binlog_free(bl);
}

/* ---- ROWS_QUERY, HEARTBEAT(_V2), TRANSACTION_PAYLOAD, XA_PREPARE ---- */

static void test_rows_query_heartbeats(void) {
  rc_binlog *bl = new_mysql();
  static const uint8_t rq[] = {5, 'h', 'e', 'l', 'l', 'o'};
  RC_CHECK_STR(INFO(bl, 29, rq), "{\"query\":\"hello\"}");
  CHECK_ERR(info_ev(bl, 29, rq, 0, 0), "ROWS_QUERY_LOG_EVENT", "length byte");
  static const uint8_t hb[] = {'b', 'i', 'n', 'l', 'o', 'g', '.', '0', '0', '0', '0', '0', '3'};
  RC_CHECK_STR(info_ev(bl, 27, hb, sizeof hb, 4567), "{\"file\":\"binlog.000003\",\"pos\":4567}");
  bytes b = {{0}, 0};
  u8(&b, 1), u8(&b, 13), raw(&b, hb, sizeof hb);
  u8(&b, 9), u8(&b, 1), u8(&b, 0);           /* unknown field: skipped */
  u8(&b, 2), u8(&b, 3), u8(&b, 0xfc), le(&b, 10000, 2);
  u8(&b, 0);
  RC_CHECK_STR(INFOB(bl, 41, b), "{\"file\":\"binlog.000003\",\"pos\":10000}");
  b.n = 0;
  u8(&b, 1), u8(&b, 40), raw(&b, hb, sizeof hb);
  CHECK_ERR(INFOB(bl, 41, b), "HEARTBEAT_LOG_EVENT_V2", "field 1 has length 40");
  b.n = 0;
  u8(&b, 2), u8(&b, 1), u8(&b, 0xfc);
  CHECK_ERR(INFOB(bl, 41, b), "HEARTBEAT_LOG_EVENT_V2", "log position");
  rc_binlog_free(bl);
}

static void test_transaction_payload(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  u8(&b, 2), u8(&b, 1), u8(&b, 0);                   /* compression ZSTD */
  u8(&b, 3), u8(&b, 3), u8(&b, 0xfc), le(&b, 451, 2); /* uncompressed 451 */
  u8(&b, 1), u8(&b, 1), u8(&b, 4);                   /* payload 4 */
  u8(&b, 0);
  le(&b, 0xdeadbeef, 4);
  RC_CHECK_STR(INFOB(bl, 40, b), "{\"compression\":\"ZSTD\",\"payload_size\":4,\"uncompressed_size\":451}");
  b.n = 0;
  u8(&b, 1), u8(&b, 1), u8(&b, 4);
  u8(&b, 2), u8(&b, 1), u8(&b, 0xff);
  CHECK_ERR(INFOB(bl, 40, b), "TRANSACTION_PAYLOAD_EVENT", "valid length-encoded");
  b.n = 0;
  u8(&b, 1), u8(&b, 1), u8(&b, 4);
  CHECK_ERR(INFOB(bl, 40, b), "TRANSACTION_PAYLOAD_EVENT", "end marker");
  b.n = 0;
  u8(&b, 2), u8(&b, 3), u8(&b, 0xfc), le(&b, 255, 2), u8(&b, 0);
  CHECK_ERR(INFOB(bl, 40, b), "TRANSACTION_PAYLOAD_EVENT", "no payload_size");
  rc_binlog_free(bl);
}

static void test_xa_prepare(void) {
  rc_binlog *bl = new_mysql();
  bytes b = {{0}, 0};
  u8(&b, 0), le(&b, 1, 4), le(&b, 2, 4), le(&b, 1, 4), str(&b, "ab"), str(&b, "c");
  RC_CHECK_STR(INFOB(bl, 38, b),
               "{\"one_phase\":false,\"format_id\":1,\"gtrid\":\"6162\",\"bqual\":\"63\"}");
  CHECK_ERR(info_ev(bl, 38, b.p, b.n - 1, 0), "XA_PREPARE_LOG_EVENT", "runs past");
  rc_binlog_free(bl);
}

/* ---- TABLE_MAP and ROWS: the table map is fed so the decoder knows it ---- */

static void test_table_map_rows(void) {
  rc_binlog *bl = new_mysql();
  bytes e = {{0}, 0};
  le(&e, 0, 4), u8(&e, 19), le(&e, 1, 4), le(&e, 0, 4), le(&e, 0, 4), le(&e, 0, 2);
  le(&e, 42, 6), le(&e, 1, 2);
  u8(&e, 4), str(&e, "test"), u8(&e, 0);
  u8(&e, 2), str(&e, "t1"), u8(&e, 0);
  u8(&e, 2), u8(&e, 3), u8(&e, 15);   /* INT, VARCHAR */
  u8(&e, 2), le(&e, 255, 2);          /* VARCHAR(255) */
  u8(&e, 0x02);                       /* null bits */
  size_t len = e.n + 4;
  e.p[9] = (uint8_t)len;
  le(&e, crc32(0, e.p, (uInt)e.n), 4);
  rc_event ev;
  int r = rc_binlog_feed(bl, e.p, e.n, 500, &ev, err, sizeof err);
  if (r) fprintf(stderr, "TABLE_MAP feed: %s\n", err);
  RC_CHECK(r == 0);
  out.len = 0;
  RC_CHECK(rc_event_info_json(bl, &ev, &out, err, sizeof err) == 0);
  rc_buf_putc(&out, 0);
  RC_CHECK_STR(out.p, "{\"table_id\":42,\"db\":\"test\",\"table\":\"t1\",\"columns\":2,\"flags\":1}");
  /* the same table map again (the next transaction): the table parsed before is kept; a map
   * that differs (VARCHAR(255) -> VARCHAR(100)) under the same id replaces it */
  const rc_table *t1 = rc_binlog_table(bl, 42);
  RC_CHECK(t1 && t1->cols[1].meta == 255);
  rc_table_signature(t1); /* remembered in the table: a table parsed again would not have it */
  RC_CHECK(rc_binlog_feed(bl, e.p, e.n, 900, &ev, err, sizeof err) == 0);
  RC_CHECK(rc_binlog_table(bl, 42) && rc_binlog_table(bl, 42)->sig_known);
  e.p[e.n - 4 - 3] = 100; /* the VARCHAR's length, before the null bits and the CRC */
  e.n -= 4;
  le(&e, crc32(0, e.p, (uInt)e.n), 4);
  RC_CHECK(rc_binlog_feed(bl, e.p, e.n, 1300, &ev, err, sizeof err) == 0);
  const rc_table *t2 = rc_binlog_table(bl, 42);
  RC_CHECK(t2 && t2->cols[1].meta == 100 && t2->ncols == 2 && !t2->sig_known);
  /* an unknown table id: the id and flags only */
  bytes b = {{0}, 0};
  le(&b, 43, 6), le(&b, 0, 2);
  RC_CHECK_STR(INFOB(bl, 19, b), "{\"table_id\":43,\"flags\":0}");
  CHECK_ERR(info_ev(bl, 19, b.p, 5, 0), "TABLE_MAP_EVENT", "table id");
  b.n = 0;
  le(&b, 42, 6), le(&b, 1, 2), le(&b, 2, 2), u8(&b, 2), u8(&b, 0xff), u8(&b, 0), le(&b, 1, 4);
  RC_CHECK_STR(INFOB(bl, 30, b), "{\"table_id\":42,\"flags\":1}");
  RC_CHECK_STR(INFOB(bl, 23, b), "{\"table_id\":42,\"flags\":1}");
  CHECK_ERR(info_ev(bl, 31, b.p, 7, 0), "UPDATE_ROWS_EVENT", "table id and flags");
  rc_binlog_free(bl);
}

/* ---- MariaDB ---- */

static void test_maria_gtid(void) {
  rc_binlog *bl = new_maria();
  bytes b = {{0}, 0};
  le(&b, 292194, 8), le(&b, 0, 4), u8(&b, 0x29), u8(&b, 0x10), le(&b, 1423, 4), u8(&b, 0);
  RC_CHECK_STR(INFOB(bl, 162, b),
               "{\"gtid\":\"0-7-292194\",\"domain_id\":0,\"server_id\":7,\"seq_no\":292194,"
               "\"flags2\":41,\"flags_extra\":16,\"thread_id\":1423}");
  b.n = 0;
  le(&b, 5, 8), le(&b, 3, 4), u8(&b, 0x0e), le(&b, 77, 8);
  RC_CHECK_STR(INFOB(bl, 162, b),
               "{\"gtid\":\"3-7-5\",\"domain_id\":3,\"server_id\":7,\"seq_no\":5,\"flags2\":14,"
               "\"commit_id\":77}");
  b.n = 0;
  le(&b, 1, 8), le(&b, 0, 4), u8(&b, 0x0c), le(&b, 0, 6); /* zero padding to 19 */
  RC_CHECK_STR(INFOB(bl, 162, b),
               "{\"gtid\":\"0-7-1\",\"domain_id\":0,\"server_id\":7,\"seq_no\":1,\"flags2\":12}");
  b.n = 0;
  le(&b, 2, 8), le(&b, 0, 4), u8(&b, 0x40), le(&b, 1, 4), u8(&b, 2), u8(&b, 1), str(&b, "xyz");
  u8(&b, 0x05), u8(&b, 2), le(&b, 9, 8);
  RC_CHECK_STR(INFOB(bl, 162, b),
               "{\"gtid\":\"0-7-2\",\"domain_id\":0,\"server_id\":7,\"seq_no\":2,\"flags2\":64,"
               "\"xid\":{\"format_id\":1,\"gtrid\":\"7879\",\"bqual\":\"7a\"},\"flags_extra\":5,"
               "\"extra_engines\":2,\"sa_seq_no\":9}");
  CHECK_ERR(info_ev(bl, 162, b.p, 12, 0), "GTID_EVENT", "mariadb-bin.000009");
  CHECK_ERR(info_ev(bl, 162, b.p, 20, 0), "GTID_EVENT", "XA xid");
  CHECK_ERR(info_ev(bl, 162, b.p, 27, 0), "GTID_EVENT", "sa_seq_no");
  b.n = 0;
  le(&b, 5, 8), le(&b, 3, 4), u8(&b, 0x02), le(&b, 77, 4);
  CHECK_ERR(INFOB(bl, 162, b), "GTID_EVENT", "commit_id");
  rc_binlog_free(bl);
}

static void test_maria_misc(void) {
  rc_binlog *bl = new_maria();
  bytes b = {{0}, 0};
  le(&b, 2 | (1u << 28), 4);
  le(&b, 0, 4), le(&b, 10, 4), le(&b, 292193, 8);
  le(&b, 1, 4), le(&b, 2, 4), le(&b, 3, 8);
  RC_CHECK_STR(INFOB(bl, 163, b), "{\"gtids\":[\"0-10-292193\",\"1-2-3\"],\"flags\":1}");
  CHECK_ERR(info_ev(bl, 163, b.p, b.n - 1, 0), "GTID_LIST_EVENT", "2 GTIDs need 36 bytes");
  CHECK_ERR(info_ev(bl, 163, b.p, 3, 0), "GTID_LIST_EVENT", "count");
  b.n = 0;
  le(&b, 0x0FFFFFFF, 4);
  CHECK_ERR(INFOB(bl, 163, b), "GTID_LIST_EVENT", "GTIDs need");
  b.n = 0;
  le(&b, 18, 4), str(&b, "mariadb-bin.000009");
  RC_CHECK_STR(INFOB(bl, 161, b), "{\"file\":\"mariadb-bin.000009\"}");
  CHECK_ERR(info_ev(bl, 161, b.p, 10, 0), "BINLOG_CHECKPOINT_EVENT", "file name length 18");
  CHECK_ERR(info_ev(bl, 161, b.p, 2, 0), "BINLOG_CHECKPOINT_EVENT", "length needs 4");
  static const uint8_t ann[] = "insert into t values ('{\"a\":1}')";
  RC_CHECK_STR(info_ev(bl, 160, ann, sizeof ann - 1, 0),
               "{\"query\":\"insert into t values ('{\\\"a\\\":1}')\"}");
  b.n = 0;
  u8(&b, 1), le(&b, 3, 4), le(&b, 0, 8), le(&b, 0, 4);
  RC_CHECK_STR(INFOB(bl, 164, b), "{\"scheme\":1,\"key_version\":3}");
  CHECK_ERR(info_ev(bl, 164, b.p, 16, 0), "START_ENCRYPTION_EVENT", "need 17");
  rc_binlog_free(bl);
}

static void test_error_names_payload(void) {
  rc_binlog *bl = new_mysql();
  uint8_t x[7] = {0};
  rc_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = RC_EV_XID;
  ev.body = x;
  ev.body_len = sizeof x;
  ev.offset = 274;
  ev.in_payload = 1;
  out.len = 0;
  RC_CHECK(rc_event_info_json(bl, &ev, &out, err, sizeof err) == RC_ERR_CORRUPT);
  RC_CHECK(out.len == 0);
  RC_CHECK(strstr(err, "binlog.000001: corrupt XID_EVENT at offset 274 (inside its TRANSACTION_PAYLOAD)") != NULL);
  rc_binlog_free(bl);
}

/* Kilobytes of file-backed memory this process has resident (RssFile), or -1. */
static long rss_file_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "RssFile:", 8)) kb = strtol(line + 8, NULL, 10);
  if (f) fclose(f);
  return kb;
}

/* Reading a binlog file through does not keep it all resident: a 96 MiB file of 1 MiB events
 * leaves at most a few MiB of it in RSS, and an event read long ago still reads back right. */
static void test_binfile_gives_pages_back(void) {
  char path[] = "/tmp/rowcast-test-binfile-XXXXXX";
  int fd = mkstemp(path);
  RC_CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  const uint32_t ev = 1u << 20, n = 96;
  uint8_t *buf = malloc(ev);
  fwrite("\xfe" "bin", 1, 4, f);
  for (uint32_t i = 0; i < n; i++) {
    memset(buf, (int)(i + 1), ev);
    buf[9] = (uint8_t)ev, buf[10] = (uint8_t)(ev >> 8), buf[11] = (uint8_t)(ev >> 16), buf[12] = (uint8_t)(ev >> 24);
    fwrite(buf, 1, ev, f);
  }
  fclose(f);
  free(buf);
  rc_binfile *bf;
  char err[256];
  long before = rss_file_kb();
  RC_CHECK(rc_binfile_open(&bf, path, err, sizeof err) == 0);
  const uint8_t *raw, *first = NULL;
  size_t len;
  uint64_t off;
  uint32_t got = 0;
  unsigned long sum = 0;
  while (rc_binfile_next(bf, &raw, &len, &off, err, sizeof err) == 1) {
    if (!first) first = raw;
    for (size_t k = 0; k < len; k += 4096) sum += raw[k] != (uint8_t)(got + 1); /* touch every page */
    got++;
  }
  long after = rss_file_kb();
  RC_CHECK(got == n && sum == 0);
  RC_CHECK(before >= 0 && after - before < 16 * 1024);
  RC_CHECK(first[100] == 1 && first[len - 1] == 1); /* paged in again from the file */
  rc_binfile_close(bf);
  unlink(path);
}

void rc_tests(void) {
  RC_RUN(test_binfile_gives_pages_back);
  RC_RUN(test_fde);
  RC_RUN(test_query_all_status_vars);
  RC_RUN(test_query_mariadb_codes_any_order);
  RC_RUN(test_query_unknown_code_skips);
  RC_RUN(test_query_invalid_utf8);
  RC_RUN(test_query_corrupt);
  RC_RUN(test_query_compressed);
  RC_RUN(test_rotate_xid);
  RC_RUN(test_intvar_rand_incident);
  RC_RUN(test_user_var);
  RC_RUN(test_gtid);
  RC_RUN(test_gtid_tagged);
  RC_RUN(test_previous_gtids);
  RC_RUN(test_rows_query_heartbeats);
  RC_RUN(test_transaction_payload);
  RC_RUN(test_xa_prepare);
  RC_RUN(test_table_map_rows);
  RC_RUN(test_maria_gtid);
  RC_RUN(test_maria_misc);
  RC_RUN(test_error_names_payload);
  rc_buf_free(&out);
}
