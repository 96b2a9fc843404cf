/* Unit tests for table_map.c: parsing, and enriching a TABLE_MAP without metadata with what
 * information_schema says (names, signedness, labels, primary key). */
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "buf.h"
#include "rc_test.h"

/* TABLE_MAP for d.t (INT UNSIGNED id, VARCHAR(40) name, ENUM('x','y') kind), no optional
 * metadata, as MariaDB writes with binlog_row_metadata=NO_LOG. */
static void build_event(rc_buf *b) {
  static const uint8_t body[] = {
      1, 0, 0, 0, 0, 0, /* table id */
      1, 0,             /* flags */
      1, 'd', 0, 1, 't', 0,
      3,                /* ncols */
      3, 15, 254,       /* LONG, VARCHAR, STRING */
      4,                /* metadata length */
      40, 0, 247, 1,    /* VARCHAR max 40; ENUM, pack length 1 */
      0x06,             /* nullable: name, kind */
  };
  b->len = 0;
  uint8_t hdr[19] = {0};
  hdr[4] = RC_EV_TABLE_MAP;
  uint32_t size = 19 + sizeof body;
  for (int i = 0; i < 4; i++) hdr[9 + i] = (uint8_t)(size >> (8 * i));
  rc_buf_put(b, hdr, 19);
  rc_buf_put(b, body, sizeof body);
}

/* A decoder that has read build_event's TABLE_MAP (its bytes in raw, the event in ev). */
static rc_binlog *fed_binlog(rc_buf *raw, rc_event *ev) {
  build_event(raw);
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, "x");
  char err[256];
  RC_CHECK(rc_binlog_feed_nocrc(bl, (uint8_t *)raw->p, raw->len, 4, ev, err, sizeof err) == 0);
  return bl;
}

static void test_enrich(void) {
  rc_buf raw = {0}, out = {0};
  rc_event ev;
  char err[256];
  rc_binlog *bl = fed_binlog(&raw, &ev);
  const rc_table *orig = rc_binlog_table(bl, 1);
  RC_CHECK(orig && !orig->has_names && orig->cols[0].is_signed == -1 && !orig->cols[2].labels);
  if (!orig) return;
  /* what information_schema would say */
  rc_table *full;
  RC_CHECK(rc_table_map_parse(ev.body, ev.body_len, 8, 1, &full, err, sizeof err) == 0);
  const char *names[] = {"id", "name", "kind"};
  for (int i = 0; i < 3; i++) full->cols[i].name = strdup(names[i]);
  full->has_names = 1;
  full->cols[0].is_signed = 0;
  full->cols[0].pk = 1;
  full->has_pk = 1;
  full->cols[2].n_labels = 2;
  full->cols[2].labels = calloc(2, sizeof(char *));
  full->cols[2].label_lens = calloc(2, sizeof(uint32_t));
  full->cols[2].labels[0] = strdup("x");
  full->cols[2].labels[1] = strdup("y");
  full->cols[2].label_lens[0] = full->cols[2].label_lens[1] = 1;
  full->cols[1].collation = 8; /* latin1 */
  full->has_charsets = 1;
  RC_CHECK(rc_table_map_enrich(&ev, orig, full, 1, &out) == 0);
  rc_table_free(full);
  /* the enriched event decodes like one written with binlog_row_metadata=FULL */
  rc_binlog *bl2 = rc_binlog_new();
  rc_binlog_start_file(bl2, "x");
  rc_event ev2;
  RC_CHECK(rc_binlog_feed_nocrc(bl2, (uint8_t *)out.p, out.len, 4, &ev2, err, sizeof err) == 0);
  const rc_table *t = rc_binlog_table(bl2, 1);
  RC_CHECK(t && t->has_names && t->has_pk);
  if (t) {
    RC_CHECK_STR(t->cols[0].name, "id");
    RC_CHECK_STR(t->cols[2].name, "kind");
    RC_CHECK(t->cols[0].is_signed == 0 && t->cols[0].pk && !t->cols[1].pk);
    RC_CHECK(t->cols[2].n_labels == 2 && !strcmp(t->cols[2].labels[1], "y"));
    RC_CHECK(t->cols[1].length == 40);
    RC_CHECK(t->cols[1].collation == 8 && t->cols[1].cs_kind == RC_CS_LATIN1);
  }
  /* nothing to add when the event already has it all: enriching twice changes nothing */
  rc_buf again = {0};
  RC_CHECK(t && rc_table_map_enrich(&ev2, t, t, 1, &again) == 0 && again.len == out.len);
  rc_buf_free(&again);
  rc_binlog_free(bl);
  rc_binlog_free(bl2);
  rc_buf_free(&raw);
  rc_buf_free(&out);
}

static void test_column_count_mismatch(void) {
  rc_buf raw = {0}, out = {0};
  rc_event ev;
  rc_binlog *bl = fed_binlog(&raw, &ev);
  rc_table other = *rc_binlog_table(bl, 1);
  other.ncols = 2; /* information_schema disagrees (a DDL in between) */
  RC_CHECK(rc_table_map_enrich(&ev, rc_binlog_table(bl, 1), &other, 1, &out) == RC_ERR_ARG);
  rc_binlog_free(bl);
  rc_buf_free(&raw);
  rc_buf_free(&out);
}

/* A length-prefix size the row decoder cannot read is refused at the TABLE_MAP, for every type of
 * the BLOB family (servers write BLOB, 252, but TINY/MEDIUM/LONG_BLOB are valid codes too). */
static void test_blob_prefix_size(void) {
  static const uint8_t types[] = {249, 250, 251, 252, 255, 245};
  static const uint8_t sizes[] = {0, 5, 9, 255};
  for (size_t ti = 0; ti < sizeof types; ti++) {
    for (size_t si = 0; si < sizeof sizes + 1; si++) {
      uint8_t size = si < sizeof sizes ? sizes[si] : 2; /* the last one is valid */
      uint8_t body[] = {1, 0, 0, 0, 0, 0, 1, 0, 1, 'd', 0, 1, 't', 0, 1, types[ti], 1, size, 0x01};
      rc_table *t = NULL;
      char err[256] = "";
      int r = rc_table_map_parse(body, sizeof body, 8, 1, &t, err, sizeof err);
      if (si < sizeof sizes) {
        RC_CHECK(r == RC_ERR_CORRUPT && strstr(err, "length-prefix size"));
      } else {
        RC_CHECK(r == 0 && t && t->cols[0].length == 2);
      }
      rc_table_free(t);
    }
  }
}

void rc_tests(void) {
  RC_RUN(test_blob_prefix_size);
  RC_RUN(test_enrich);
  RC_RUN(test_column_count_mismatch);
}
