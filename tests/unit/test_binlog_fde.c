/*
 * test_binlog_fde.c: the decoder's trust in a file's first event and its GTIDs (binlog.c):
 * a single corrupted byte of the FORMAT_DESCRIPTION (its checksum-algorithm byte, its type
 * code, its server version) must be refused instead of switching CRC32 verification off; a
 * file that does not start with one is refused by rc_binfile_next, which `decode` and `replay`
 * share; every GTID form (MariaDB, MySQL, MySQL 8.4 tagged) reaches rc_binlog_gtid.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binlog.h"
#include "rc_test.h"
#include "test_bytes.h"
#include "test_fixtures.h"

static char err[512];


/* A whole event: header (server id 7), body, CRC32. */
static void event(bytes *e, int type, const uint8_t *body, size_t len) {
  e->n = 0;
  le(e, 1700000000, 4), u8(e, (unsigned)type), le(e, 7, 4);
  le(e, RC_EVENT_HEADER_LEN + len + 4, 4), le(e, 0, 4), le(e, 0, 2);
  raw(e, body, len);
  le(e, crc32(0L, e->p, (uInt)e->n), 4);
}

static int feed_fde(const uint8_t *fde, size_t len) {
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "binlog.000001");
  rc_event ev;
  err[0] = 0;
  int r = rc_binlog_feed(bl, fde, len, 4, &ev, err, sizeof err);
  rc_binlog_free(bl);
  return r;
}

static void check_refused(int line, int r, const char *want) {
  if (r >= 0 || !strstr(err, "binlog.000001") || !strstr(err, "offset 4") || !strstr(err, want)) {
    fprintf(stderr, "%s:%d: rc %d, error \"%s\"; expected a refusal naming the file, offset 4 and \"%s\"\n",
            __FILE__, line, r, err, want);
    rc_test_failed_checks++;
  }
}
#define CHECK_REFUSED(r, want) check_refused(__LINE__, (r), (want))

/* The algorithm byte: flipped to "off" (the CRC then matches the event as written with CRC32
 * on), to an unknown value, to 255 (undefined). */
static void test_fde_algorithm_byte(void) {
  uint8_t f[sizeof FDE_MYSQL];
  RC_CHECK(feed_fde(FDE_MYSQL, sizeof FDE_MYSQL) == 0);
  memcpy(f, FDE_MYSQL, sizeof f);
  f[sizeof f - 5] = 0;
  CHECK_REFUSED(feed_fde(f, sizeof f), "says checksums are off");
  f[sizeof f - 5] = 2;
  CHECK_REFUSED(feed_fde(f, sizeof f), "checksum algorithm 2");
  f[sizeof f - 5] = 255;
  CHECK_REFUSED(feed_fde(f, sizeof f), "checksum algorithm 255");
  /* a genuine checksums-off FDE (algorithm 0, its CRC computed so) is accepted */
  memcpy(f, FDE_MYSQL, sizeof f);
  f[sizeof f - 5] = 0;
  uint32_t c = (uint32_t)crc32(0L, f, (uInt)(sizeof f - 4));
  for (int i = 0; i < 4; i++) f[sizeof f - 4 + i] = (uint8_t)(c >> (8 * i));
  RC_CHECK(feed_fde(f, sizeof f) == 0);
}

/* The server version: its first digit corrupted ("8.2.0" no longer a version), or made to look
 * older than 5.6.1 (a version without checksum fields): the checksum is still verified. */
static void test_fde_server_version(void) {
  uint8_t f[sizeof FDE_MYSQL];
  memcpy(f, FDE_MYSQL, sizeof f);
  f[RC_EVENT_HEADER_LEN + 2] = 'x';
  CHECK_REFUSED(feed_fde(f, sizeof f), "checksum mismatch in FORMAT_DESCRIPTION");
  f[RC_EVENT_HEADER_LEN + 2] = '4';
  CHECK_REFUSED(feed_fde(f, sizeof f), "checksum mismatch in FORMAT_DESCRIPTION");
  /* "x.2.0" with a CRC that matches: not a version, but a consistent checksummed FDE */
  f[RC_EVENT_HEADER_LEN + 2] = 'x';
  uint32_t c = (uint32_t)crc32(0L, f, (uInt)(sizeof f - 4));
  for (int i = 0; i < 4; i++) f[sizeof f - 4 + i] = (uint8_t)(c >> (8 * i));
  RC_CHECK(feed_fde(f, sizeof f) == 0);
}

/* The type code of the first event: a file whose first event is not a FORMAT_DESCRIPTION is
 * refused by rc_binfile_next, naming the file and the offset. */
static void test_first_event_not_fde(void) {
  bytes file = {{0}, 0};
  raw(&file, "\xfe" "bin", 4);
  raw(&file, FDE_MYSQL, sizeof FDE_MYSQL);
  file.p[4 + 4] = RC_EV_XID;
  rc_binfile *bf;
  RC_CHECK(rc_binfile_open_mem(&bf, "binlog.000001", file.p, file.n, err, sizeof err) == 0);
  const uint8_t *r;
  size_t len;
  uint64_t off;
  err[0] = 0;
  int rc = rc_binfile_next(bf, &r, &len, &off, err, sizeof err);
  CHECK_REFUSED(rc, "not a FORMAT_DESCRIPTION_EVENT");
  RC_CHECK(strstr(err, "XID_EVENT (type 16)") != NULL);
  rc_binfile_close(bf);
  /* intact: the FDE comes out */
  file.p[4 + 4] = RC_EV_FORMAT_DESCRIPTION;
  RC_CHECK(rc_binfile_open_mem(&bf, "binlog.000001", file.p, file.n, err, sizeof err) == 0);
  RC_CHECK(rc_binfile_next(bf, &r, &len, &off, err, sizeof err) == 1 && off == 4 && len == sizeof FDE_MYSQL);
  RC_CHECK(rc_binfile_next(bf, &r, &len, &off, err, sizeof err) == 0);
  rc_binfile_close(bf);
}

static const uint8_t UUID1[16] = {0x93, 0xe9, 0x50, 0x66, 0xa2, 0xf4, 0x11, 0xec,
                                  0x9b, 0x69, 0x96, 0x57, 0xf0, 0xae, 0x95, 0xe2};

/* A GTID_TAGGED body as MySQL 8.4 writes it (fields 0..11), with or without a tag. */
static void tagged_body(bytes *b, const char *tag, int64_t gno) { tagged_gtid_body(b, UUID1, gno, tag, 0); }

static const char *gtid_after(rc_binlog *bl, int type, const bytes *body) {
  bytes e;
  event(&e, type, body->p, body->n);
  rc_event ev;
  int r = rc_binlog_feed(bl, e.p, e.n, 1000, &ev, err, sizeof err);
  if (r < 0) fprintf(stderr, "feed: %s\n", err);
  RC_CHECK(r == 0);
  return rc_binlog_gtid(bl);
}

static void test_gtids(void) {
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "binlog.000001");
  rc_event ev;
  RC_CHECK(rc_binlog_feed(bl, FDE_MYSQL, sizeof FDE_MYSQL, 4, &ev, err, sizeof err) == 0);
  bytes b = {{0}, 0};
  tagged_body(&b, "blue", 12345);
  RC_CHECK_STR(gtid_after(bl, RC_EV_GTID_TAGGED, &b), "93e95066-a2f4-11ec-9b69-9657f0ae95e2:blue:12345");
  bytes e;
  event(&e, RC_EV_GTID_TAGGED, b.p, b.n);
  RC_CHECK(rc_binlog_feed(bl, e.p, e.n, 1000, &ev, err, sizeof err) == 0);
  RC_CHECK(rc_binlog_commit_us(bl, &ev) == 1700000000123456ull);
  tagged_body(&b, NULL, 7);
  RC_CHECK_STR(gtid_after(bl, RC_EV_GTID_TAGGED, &b), "93e95066-a2f4-11ec-9b69-9657f0ae95e2:7");
  /* the classic MySQL GTID: flags, sid, gno, ts_type 2, last_committed, sequence_number */
  b.n = 0;
  u8(&b, 1), raw(&b, UUID1, 16), le(&b, 42, 8), u8(&b, 2), le(&b, 1, 8), le(&b, 2, 8);
  RC_CHECK_STR(gtid_after(bl, RC_EV_GTID, &b), "93e95066-a2f4-11ec-9b69-9657f0ae95e2:42");
  b.n = 0;
  u8(&b, 1), raw(&b, (uint8_t[16]){0}, 16), le(&b, 0, 8), u8(&b, 2), le(&b, 1, 8), le(&b, 2, 8);
  RC_CHECK_STR(gtid_after(bl, RC_EV_ANONYMOUS_GTID, &b), "");
  /* a damaged tagged event gives no GTID rather than a wrong one */
  tagged_body(&b, "blue", 1);
  b.n -= 20; /* the message size now overruns the body */
  RC_CHECK_STR(gtid_after(bl, RC_EV_GTID_TAGGED, &b), "");
  rc_binlog_free(bl);
}

void rc_tests(void) {
  RC_RUN(test_fde_algorithm_byte);
  RC_RUN(test_fde_server_version);
  RC_RUN(test_first_event_not_fde);
  RC_RUN(test_gtids);
}
