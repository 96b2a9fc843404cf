/* Unit tests for frame.h/frame.c: every record kind written and read back, the exact bytes of
 * the layouts the stages share, and strict parsing (short records, wrong tags, lengths that do
 * not add up, unknown flags, nulls where the layout has none). */
#include <stdint.h>
#include <string.h>

#include "frame.h"
#include "rc_test.h"

static rc_buf b;

/* A finished frame of `kind` in b, parsed back: a reader over its payload. */
static const uint8_t *parsed(int kind, uint64_t seq, uint32_t count, rc_frame_rd *rd) {
  rc_frame_finish(&b, count, 0);
  rc_frame_hdr h;
  const uint8_t *payload = NULL;
  char err[256];
  RC_CHECK(rc_frame_parse(b.p, b.len, &h, &payload, err, sizeof err) == 0);
  RC_CHECK(h.kind == kind && h.seq == seq && h.count == count && h.payload_len == b.len - RC_FRAME_HDR_LEN);
  rc_frame_rd_init(rd, payload, b.len - RC_FRAME_HDR_LEN);
  return payload;
}

static int same(const void *p, size_t n, const char *s) { return p && n == strlen(s) && !memcmp(p, s, n); }

static void test_events_round_trip(void) {
  rc_frame_begin(&b, RC_FRAME_EVENTS, 7);
  rc_frame_put_file(&b, &(rc_rec_file){"binlog.000002", 13});
  rc_frame_put_fde(&b, &(rc_rec_fde){(const uint8_t *)"FDE-bytes", 9});
  rc_frame_put_tmap(&b, &(rc_rec_tmap){RC_REC_EV_NOCRC, (const uint8_t *)"tmap", 4});
  rc_rec_rows w = {0x0102030405060708ull, 99, 1700000000000001ull, 3, 2, RC_REC_EV_NOCRC, "0-1-5", 5,
                   (const uint8_t *)"rows-event", 10};
  size_t before = b.len;
  rc_frame_put_rows(&b, &w);
  RC_CHECK(b.len - before == rc_frame_size_rows(&w));
  rc_frame_put_txn_end(&b, &(rc_rec_txn_end){12345});
  rc_frame_rd rd;
  parsed(RC_FRAME_EVENTS, 7, 3, &rd);
  rc_rec_file f = {0};
  rc_rec_fde d = {0};
  rc_rec_tmap t = {0};
  rc_rec_rows g = {0};
  rc_rec_txn_end c = {0};
  RC_CHECK(rc_frame_peek_tag(&rd) == RC_REC_FILE);
  RC_CHECK(rc_frame_get_file(&rd, &f) == 0 && same(f.name, f.len, "binlog.000002"));
  RC_CHECK(rc_frame_get_fde(&rd, &d) == 0 && same(d.raw, d.len, "FDE-bytes"));
  RC_CHECK(rc_frame_get_tmap(&rd, &t) == 0 && t.flags == RC_REC_EV_NOCRC && same(t.raw, t.len, "tmap"));
  RC_CHECK(rc_frame_get_rows(&rd, &g) == 0);
  RC_CHECK(g.offset == w.offset && g.recv_ns == 99 && g.commit_us == w.commit_us && g.rows == 3 &&
           g.first_row == 2 && g.flags == RC_REC_EV_NOCRC);
  RC_CHECK(same(g.gtid, g.gtid_len, "0-1-5") && same(g.raw, g.raw_len, "rows-event"));
  RC_CHECK(rc_frame_get_txn_end(&rd, &c) == 0 && c.pos == 12345);
  RC_CHECK(!rc_frame_rd_more(&rd) && !rd.bad && rc_frame_peek_tag(&rd) == -1);
}

static void test_messages_round_trip(void) {
  rc_frame_begin(&b, RC_FRAME_MESSAGES, 9);
  rc_frame_put_schema(&b, &(rc_rec_schema){"0123456789abcdef", "{\"type\":\"long\"}", 15});
  rc_rec_message m = {11, 22, "rowcast.db.t", 12, (const uint8_t *)"K", 1, (const uint8_t *)"value", 5,
                      "binlog.000001", 13, 4, 1, "", 0};
  rc_frame_put_message(&b, &m);
  m.key = NULL;
  m.key_len = 0;
  m.value = (const uint8_t *)"";
  m.value_len = 0;
  rc_frame_put_message(&b, &m);
  rc_frame_put_boundary(&b, &(rc_rec_boundary){"binlog.000001", 13, 777});
  rc_frame_rd rd;
  parsed(RC_FRAME_MESSAGES, 9, 2, &rd);
  rc_rec_schema sc = {0};
  rc_rec_message g = {0};
  rc_rec_boundary c = {0};
  RC_CHECK(rc_frame_get_schema(&rd, &sc) == 0 && !memcmp(sc.fingerprint, "0123456789abcdef", 16) &&
           same(sc.json, sc.json_len, "{\"type\":\"long\"}"));
  RC_CHECK(rc_frame_get_message(&rd, &g) == 0);
  RC_CHECK(g.recv_ns == 11 && g.commit_us == 22 && same(g.topic, g.topic_len, "rowcast.db.t"));
  RC_CHECK(same(g.key, g.key_len, "K") && same(g.value, g.value_len, "value"));
  RC_CHECK(same(g.file, g.file_len, "binlog.000001") && g.offset == 4 && g.row == 1 && g.gtid_len == 0);
  RC_CHECK(rc_frame_get_message(&rd, &g) == 0 && g.key == NULL && g.key_len == 0);
  RC_CHECK(g.value != NULL && g.value_len == 0); /* an empty value is not a null one */
  RC_CHECK(rc_frame_get_boundary(&rd, &c) == 0 && same(c.file, c.file_len, "binlog.000001") && c.pos == 777);
  RC_CHECK(!rc_frame_rd_more(&rd) && !rd.bad);
}

/* The bytes the stages exchange: these layouts are what reader, serializer and publisher of
 * one rowcast version agree on (RC_FRAME_VERSION 1). */
/* The records of publisher.transactions_topic and publisher.tombstones. */
static void test_txn_records(void) {
  rc_buf tables = {0};
  rc_frame_put_txn_table(&tables, "shop", 4, "users", 5, 3);
  rc_frame_put_txn_table(&tables, "shop", 4, "orders", 6, 1);
  rc_frame_begin(&b, RC_FRAME_EVENTS, 3);
  rc_rec_txn x = {1, "0-1-9", 5, "0-1-9", 5, 4000, 1700000000000001ull, 4, (const uint8_t *)tables.p, tables.len};
  rc_frame_put_txn(&b, &x);
  size_t n = b.len - RC_FRAME_HDR_LEN;
  RC_CHECK(n == rc_frame_size_txn(&x));
  rc_frame_put_txn_order(&b, &(rc_rec_txn_order){"0-1-9", 5, 2, 1});
  rc_frame_rd rd;
  parsed(RC_FRAME_EVENTS, 3, 0, &rd);
  rc_rec_txn g;
  RC_CHECK(rc_frame_get_txn(&rd, &g) == 0 && g.end == 1 && same(g.id, g.id_len, "0-1-9") && g.offset == 4000 &&
           g.count == 4 && g.tables_len == tables.len);
  rc_frame_rd tr;
  rc_frame_rd_init(&tr, g.tables, g.tables_len);
  const char *db, *t;
  size_t dl, tl;
  uint32_t c;
  RC_CHECK(rc_frame_get_txn_table(&tr, &db, &dl, &t, &tl, &c) == 1 && same(t, tl, "users") && c == 3);
  RC_CHECK(rc_frame_get_txn_table(&tr, &db, &dl, &t, &tl, &c) == 1 && same(t, tl, "orders") && c == 1);
  RC_CHECK(rc_frame_get_txn_table(&tr, &db, &dl, &t, &tl, &c) == 0);
  rc_rec_txn_order o;
  RC_CHECK(rc_frame_get_txn_order(&rd, &o) == 0 && o.order == 2 && o.table_order == 1 && !rc_frame_rd_more(&rd));
  /* a table list cut short, an order of 0: refused */
  rc_frame_begin(&b, RC_FRAME_EVENTS, 4);
  x.tables_len = tables.len - 1;
  rc_frame_put_txn(&b, &x);
  parsed(RC_FRAME_EVENTS, 4, 0, &rd);
  RC_CHECK(rc_frame_get_txn(&rd, &g) == RC_ERR_CORRUPT);
  rc_frame_begin(&b, RC_FRAME_EVENTS, 5);
  rc_frame_put_txn_order(&b, &(rc_rec_txn_order){"0-1-9", 5, 0, 1});
  parsed(RC_FRAME_EVENTS, 5, 0, &rd);
  RC_CHECK(rc_frame_get_txn_order(&rd, &o) == RC_ERR_CORRUPT);
  /* a tombstone, and one with a null key (refused: compaction needs a key) */
  rc_frame_begin(&b, RC_FRAME_MESSAGES, 6);
  rc_frame_put_tombstone(&b, &(rc_rec_tombstone){"t.d.a", 5, (const uint8_t *)"K", 1, "f.000001", 8, 77, 2});
  parsed(RC_FRAME_MESSAGES, 6, 0, &rd);
  rc_rec_tombstone z;
  RC_CHECK(rc_frame_get_tombstone(&rd, &z) == 0 && same(z.key, z.key_len, "K") && z.offset == 77 && z.row == 2);
  rc_frame_begin(&b, RC_FRAME_MESSAGES, 7);
  rc_frame_put_u8(&b, RC_REC_TOMBSTONE);
  rc_frame_put_str16(&b, "t", 1);
  rc_frame_put_null32(&b);
  rc_frame_put_str16(&b, "f", 1);
  rc_frame_put_u64(&b, 1);
  rc_frame_put_u32(&b, 0);
  parsed(RC_FRAME_MESSAGES, 7, 0, &rd);
  RC_CHECK(rc_frame_get_tombstone(&rd, &z) == RC_ERR_CORRUPT);
  rc_buf_free(&tables);
}

static void test_exact_bytes(void) {
  rc_buf o = {0};
  rc_frame_put_rows(&o, &(rc_rec_rows){0x0807060504030201ull, 0x11, 0x22, 5, 1, RC_REC_EV_NOCRC, "g", 1,
                                       (const uint8_t *)"EV", 2});
  static const uint8_t want_rows[] = {'R', 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0,
                                      0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 'g', 2, 0, 0, 0, 'E', 'V'};
  RC_CHECK(o.len == sizeof want_rows && !memcmp(o.p, want_rows, sizeof want_rows));
  o.len = 0;
  rc_frame_put_tmap(&o, &(rc_rec_tmap){0, (const uint8_t *)"TM", 2});
  RC_CHECK(o.len == 8 && !memcmp(o.p, "T\0\2\0\0\0TM", 8) && o.len == rc_frame_size_tmap(&(rc_rec_tmap){0, NULL, 2}));
  o.len = 0;
  rc_frame_put_message(&o, &(rc_rec_message){1, 2, "t", 1, NULL, 0, (const uint8_t *)"v", 1, "f", 1, 3, 4, "", 0});
  static const uint8_t want_msg[] = {'M', 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 't',
                                     0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 'v', 1, 0, 'f', 3, 0, 0, 0, 0, 0,
                                     0, 0, 4, 0, 0, 0, 0, 0};
  RC_CHECK(o.len == sizeof want_msg && !memcmp(o.p, want_msg, sizeof want_msg));
  /* written in place (key and value encoded straight into the frame): the same bytes */
  rc_buf q = {0};
  rc_rec_message m = {1, 2, "t", 1, NULL, 0, NULL, 0, "f", 1, 3, 4, "", 0};
  rc_frame_put_message_head(&q, &m);
  rc_frame_put_null32(&q);
  size_t at = rc_frame_open_bytes32(&q);
  rc_buf_putc(&q, 'v');
  rc_frame_close_bytes32(&q, at);
  rc_frame_put_message_tail(&q, &m);
  RC_CHECK(q.len == o.len && !memcmp(q.p, o.p, o.len));
  o.len = 0;
  rc_frame_put_txn_end(&o, &(rc_rec_txn_end){0x0102});
  RC_CHECK(o.len == 9 && !memcmp(o.p, "C\2\1\0\0\0\0\0\0", 9));
  o.len = 0;
  rc_frame_put_boundary(&o, &(rc_rec_boundary){"f", 1, 0x0102});
  RC_CHECK(o.len == 12 && !memcmp(o.p, "C\1\0f\2\1\0\0\0\0\0\0", 12));
  rc_buf_free(&o);
  rc_buf_free(&q);
}

/* Every truncation of a record is refused as ending early, never read past its end. */
static void test_short_records(void) {
  rc_buf o = {0};
  rc_frame_put_rows(&o, &(rc_rec_rows){1, 2, 3, 4, 0, 0, "0-1-2", 5, (const uint8_t *)"raw event", 9});
  for (size_t n = 0; n < o.len; n++) {
    rc_frame_rd rd;
    rc_frame_rd_init(&rd, (const uint8_t *)o.p, n);
    rc_rec_rows g = {0};
    RC_CHECK(rc_frame_get_rows(&rd, &g) == RC_ERR_CORRUPT && rd.bad && rd.why);
    RC_CHECK(rd.p <= rd.end);
  }
  o.len = 0;
  rc_frame_put_message(&o, &(rc_rec_message){1, 2, "topic", 5, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1,
                                             "file", 4, 3, 4, "gtid", 4});
  for (size_t n = 0; n < o.len; n++) {
    rc_frame_rd rd;
    rc_frame_rd_init(&rd, (const uint8_t *)o.p, n);
    rc_rec_message g = {0};
    RC_CHECK(rc_frame_get_message(&rd, &g) == RC_ERR_CORRUPT && rd.bad);
  }
  /* a whole record, then one cut short: the first reads, the second is refused, and so is
   * anything after it */
  o.len = 0;
  rc_frame_put_txn_end(&o, &(rc_rec_txn_end){5});
  rc_frame_put_txn_end(&o, &(rc_rec_txn_end){6});
  rc_frame_rd rd;
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len - 1);
  rc_rec_txn_end c = {0};
  RC_CHECK(rc_frame_get_txn_end(&rd, &c) == 0 && c.pos == 5);
  RC_CHECK(rc_frame_get_txn_end(&rd, &c) == RC_ERR_CORRUPT && rd.bad);
  RC_CHECK(rd.rec == (const uint8_t *)o.p + 9);
  char why[200];
  rc_frame_rd_describe(&rd, (const uint8_t *)o.p, why, sizeof why);
  RC_CHECK(strstr(why, "record 'C' at payload byte 9") && strstr(why, "ends early"));
  RC_CHECK(rc_frame_get_txn_end(&rd, &c) == RC_ERR_CORRUPT && !rc_frame_rd_more(&rd));
  /* nothing left at all */
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, 0);
  RC_CHECK(rc_frame_get_txn_end(&rd, &c) == RC_ERR_CORRUPT && rd.bad);
  rc_buf_free(&o);
}

static void test_bad_tags_and_fields(void) {
  rc_buf o = {0};
  rc_frame_put_tmap(&o, &(rc_rec_tmap){0, (const uint8_t *)"tm", 2});
  rc_frame_rd rd;
  rc_rec_rows g = {0};
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_rows(&rd, &g) == RC_ERR_CORRUPT && rd.bad && strstr(rd.why, "tag"));
  RC_CHECK(rd.p == (const uint8_t *)o.p); /* nothing taken */
  char why[200];
  rc_frame_rd_describe(&rd, (const uint8_t *)o.p, why, sizeof why);
  RC_CHECK(strstr(why, "record 'T' at payload byte 0"));
  /* a tag byte that is no record at all */
  o.p[0] = 0x07;
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  rc_rec_tmap t = {0};
  RC_CHECK(rc_frame_get_tmap(&rd, &t) == RC_ERR_CORRUPT);
  rc_frame_rd_describe(&rd, (const uint8_t *)o.p, why, sizeof why);
  RC_CHECK(strstr(why, "tag 0x07"));
  /* flag bits this version does not know */
  o.len = 0;
  rc_frame_put_tmap(&o, &(rc_rec_tmap){0x80, (const uint8_t *)"tm", 2});
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_tmap(&rd, &t) == RC_ERR_CORRUPT);
  o.len = 0;
  rc_frame_put_rows(&o, &(rc_rec_rows){1, 2, 3, 4, 0, 0x04, "", 0, (const uint8_t *)"r", 1});
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_rows(&rd, &g) == RC_ERR_CORRUPT);
  /* the snapshot flag is known; a progress record reads back; a short one is refused */
  o.len = 0;
  rc_frame_put_rows(&o, &(rc_rec_rows){1, 2, 3, 4, 0, RC_REC_EV_SNAPSHOT | RC_REC_EV_NOCRC, "", 0, (const uint8_t *)"r", 1});
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_rows(&rd, &g) == 0 && g.flags == (RC_REC_EV_SNAPSHOT | RC_REC_EV_NOCRC));
  o.len = 0;
  rc_frame_put_progress(&o, &(rc_rec_progress){0x0102030405060708ull});
  rc_rec_progress pg;
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_progress(&rd, &pg) == 0 && pg.value == 0x0102030405060708ull && !rc_frame_rd_more(&rd));
  o.len = 0;
  rc_frame_put_u8(&o, RC_REC_PROGRESS);
  rc_frame_put_u32(&o, 7);
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_progress(&rd, &pg) == RC_ERR_CORRUPT);
  /* a null where the layout allows none: a table map's event, a message's value */
  o.len = 0;
  rc_frame_put_u8(&o, RC_REC_TMAP);
  rc_frame_put_u8(&o, 0);
  rc_frame_put_null32(&o);
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  RC_CHECK(rc_frame_get_tmap(&rd, &t) == RC_ERR_CORRUPT);
  o.len = 0;
  rc_rec_message m = {1, 2, "t", 1, NULL, 0, NULL, 0, "f", 1, 3, 4, "", 0};
  rc_frame_put_message_head(&o, &m);
  rc_frame_put_null32(&o);
  rc_frame_put_null32(&o);
  rc_frame_put_message_tail(&o, &m);
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  rc_rec_message gm = {0};
  RC_CHECK(rc_frame_get_message(&rd, &gm) == RC_ERR_CORRUPT);
  /* a schema fingerprint that is not 16 hex digits */
  o.len = 0;
  rc_frame_put_u8(&o, RC_REC_SCHEMA);
  rc_frame_put_str16(&o, "abc", 3);
  rc_frame_put_bytes32(&o, "{}", 2);
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  rc_rec_schema sc = {0};
  RC_CHECK(rc_frame_get_schema(&rd, &sc) == RC_ERR_CORRUPT);
  rc_buf_free(&o);
}

/* Lengths that do not add up: a field's length beyond the payload, a frame header whose
 * payload length is not what the message holds. */
static void test_lengths(void) {
  rc_buf o = {0};
  rc_frame_put_fde(&o, &(rc_rec_fde){(const uint8_t *)"abcd", 4});
  o.p[1] = 5; /* says 5 bytes, 4 follow */
  rc_frame_rd rd;
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  rc_rec_fde d = {0};
  RC_CHECK(rc_frame_get_fde(&rd, &d) == RC_ERR_CORRUPT && strstr(rd.why, "ends early"));
  o.len = 0;
  rc_frame_put_file(&o, &(rc_rec_file){"name", 4});
  o.p[2] = 0x80; /* a u16 length of 32772 */
  rc_frame_rd_init(&rd, (const uint8_t *)o.p, o.len);
  rc_rec_file f = {0};
  RC_CHECK(rc_frame_get_file(&rd, &f) == RC_ERR_CORRUPT);
  rc_buf_free(&o);

  char err[256];
  rc_frame_hdr h;
  const uint8_t *payload;
  rc_frame_begin(&b, RC_FRAME_EVENTS, 1);
  rc_frame_put_txn_end(&b, &(rc_rec_txn_end){4});
  rc_frame_finish(&b, 0, 0);
  RC_CHECK(rc_frame_parse(b.p, b.len, &h, &payload, err, sizeof err) == 0);
  RC_CHECK(rc_frame_parse(b.p, b.len - 1, &h, &payload, err, sizeof err) == RC_ERR_CORRUPT &&
           strstr(err, "says 9 payload bytes, it has 8"));
  RC_CHECK(rc_frame_parse(b.p, RC_FRAME_HDR_LEN - 1, &h, &payload, err, sizeof err) == RC_ERR_CORRUPT &&
           strstr(err, "short frame"));
  b.p[4] = 2; /* version 2 */
  RC_CHECK(rc_frame_parse(b.p, b.len, &h, &payload, err, sizeof err) == RC_ERR_UNSUPPORTED);
  b.p[4] = 1;
  b.p[6] = 9; /* kind 9 */
  RC_CHECK(rc_frame_parse(b.p, b.len, &h, &payload, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "kind"));
  b.p[0] = 'X';
  RC_CHECK(rc_frame_parse(b.p, b.len, &h, &payload, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "magic"));
}

void rc_tests(void) {
  RC_RUN(test_events_round_trip);
  RC_RUN(test_messages_round_trip);
  RC_RUN(test_txn_records);
  RC_RUN(test_exact_bytes);
  RC_RUN(test_short_records);
  RC_RUN(test_bad_tags_and_fields);
  RC_RUN(test_lengths);
  rc_buf_free(&b);
}
