/*
 * test_row_change.c: the row-change iterator (common/binlog/row_change.c): inserts, updates
 * and deletes of a two-column table come out as changes with the right images paired and
 * numbered from first_row, across events, with the iterator reused. The decoder state comes
 * from a real MySQL 8.2.0 FORMAT_DESCRIPTION; TABLE_MAP and ROWS events are built byte by byte
 * and fed without checksums.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "binlog.h"
#include "rc_test.h"
#include "test_fixtures.h"


static char err[512];

/* An event: header (type, size) and body, no checksum. */
static size_t make_event(uint8_t *raw, uint8_t type, const uint8_t *body, size_t n) {
  memset(raw, 0, RC_EVENT_HEADER_LEN);
  raw[4] = type;
  uint32_t size = (uint32_t)(RC_EVENT_HEADER_LEN + n);
  for (int k = 0; k < 4; k++) raw[9 + k] = (uint8_t)(size >> (8 * k));
  memcpy(raw + RC_EVENT_HEADER_LEN, body, n);
  return size;
}

/* TABLE_MAP of test.t (id 42): two INT columns, nullable. */
static const uint8_t TMAP[] = {42, 0, 0, 0, 0, 0, 1, 0, 4, 't', 'e', 's', 't', 0, 1, 't', 0,
                               2, 3, 3, 0, 0x03};

/* A ROWS v2 post-header for table 42 (STMT_END), extra_len 2, width 2, all columns present. */
#define ROWS_HEAD 42, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2, 0x03
#define IMG(a, b) 0x00, (a), 0, 0, 0, (b), 0, 0, 0

static const uint8_t WRITE[] = {ROWS_HEAD, IMG(1, 10), IMG(2, 20)};
static const uint8_t UPDATE[] = {ROWS_HEAD, 0x03, IMG(1, 10), IMG(1, 11), IMG(2, 20), IMG(2, 21)};
static const uint8_t DELETE[] = {ROWS_HEAD, IMG(2, 21)};
/* an update whose last after image is missing */
static const uint8_t UPDATE_SHORT[] = {ROWS_HEAD, 0x03, IMG(1, 10), IMG(1, 11), IMG(2, 20)};

static int img_is(const rc_value *v, int64_t a, int64_t b) {
  return v && v[0].kind == RC_V_INT && v[0].v.i == a && v[1].kind == RC_V_INT && v[1].v.i == b;
}

static rc_binlog *bl;
static uint8_t raw[256];
static rc_event ev;

static void feed(uint8_t type, const uint8_t *body, size_t n) {
  size_t len = make_event(raw, type, body, n);
  int r = rc_binlog_feed_nocrc(bl, raw, len, 1000, &ev, err, sizeof err);
  if (r) fprintf(stderr, "feed: %s\n", err);
  RC_CHECK(r == 0);
}

static void test_changes(void) {
  bl = rc_binlog_new();
  rc_binlog_start_file(bl, "binlog.000001");
  rc_event fde;
  RC_CHECK(rc_binlog_feed(bl, FDE_MYSQL, sizeof FDE_MYSQL, 4, &fde, err, sizeof err) == 0);
  feed(RC_EV_TABLE_MAP, TMAP, sizeof TMAP);
  rc_row_iter it;
  memset(&it, 0, sizeof it);
  rc_row_change ch = {0};

  feed(RC_EV_WRITE_ROWS_V2, WRITE, sizeof WRITE);
  RC_CHECK(rc_row_iter_begin(&it, bl, &ev, 0, err, sizeof err) == 0);
  RC_CHECK(it.rows.table && !strcmp(it.rows.table->name, "t"));
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  RC_CHECK(ch.op == 'c' && ch.before == NULL && img_is(ch.after, 1, 10) && ch.row == 0);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  RC_CHECK(ch.op == 'c' && ch.before == NULL && img_is(ch.after, 2, 20) && ch.row == 1);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 0);

  /* updates: before and after paired; numbered from first_row (a payload's later event) */
  feed(RC_EV_UPDATE_ROWS_V2, UPDATE, sizeof UPDATE);
  RC_CHECK(rc_row_iter_begin(&it, bl, &ev, 5, err, sizeof err) == 0);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  RC_CHECK(ch.op == 'u' && img_is(ch.before, 1, 10) && img_is(ch.after, 1, 11) && ch.row == 5);
  RC_CHECK(ch.before != ch.after);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  RC_CHECK(ch.op == 'u' && img_is(ch.before, 2, 20) && img_is(ch.after, 2, 21) && ch.row == 6);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 0);

  feed(RC_EV_DELETE_ROWS_V2, DELETE, sizeof DELETE);
  RC_CHECK(rc_row_iter_begin(&it, bl, &ev, 0, err, sizeof err) == 0);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  RC_CHECK(ch.op == 'd' && img_is(ch.before, 2, 21) && ch.after == NULL && ch.row == 0);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 0);

  /* an update cut after a before image is an error, not a change */
  feed(RC_EV_UPDATE_ROWS_V2, UPDATE_SHORT, sizeof UPDATE_SHORT);
  RC_CHECK(rc_row_iter_begin(&it, bl, &ev, 0, err, sizeof err) == 0);
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) == 1);
  err[0] = 0;
  RC_CHECK(rc_row_iter_next(&it, &ch, err, sizeof err) < 0);
  RC_CHECK(strstr(err, "before the after image") != NULL);

  /* not a ROWS event */
  feed(RC_EV_TABLE_MAP, TMAP, sizeof TMAP);
  RC_CHECK(rc_row_iter_begin(&it, bl, &ev, 0, err, sizeof err) < 0);
  rc_row_iter_free(&it);
  RC_CHECK(it.img[0] == NULL && it.img_cap == 0);
  rc_binlog_free(bl);
}

void rc_tests(void) { RC_RUN(test_changes); }
