/*
 * fuzz_binlog.c: libFuzzer target over the whole binlog decoder. The input is a binlog file
 * (magic, then events); checksums are not verified so that mutations reach the parsers behind
 * them: framing, FORMAT_DESCRIPTION, table maps, payload unpacking, every control event's
 * fields (binlog_info.c), every row image and value, and the canonical JSON of each change. Any crash or sanitizer report is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "binlog.h"
#include "binlog_info.h"
#include "buf.h"
#include "row_json.h"

static void decode_rows(rc_binlog *bl, const rc_event *ev, rc_rows *rows, rc_buf *out) {
  char err[512];
  if (rc_rows_begin(bl, ev, rows, err, sizeof err) < 0) return;
  const rc_table *t = rows->table;
  rc_value *before = calloc(t->ncols, sizeof *before), *after = calloc(t->ncols, sizeof *after);
  if (!before || !after) abort();
  rc_change_pos pos = {rc_binlog_file(bl), ev->offset, 0, rc_binlog_gtid(bl), ev->ts, NULL};
  while (rc_rows_next_image(rows, before, 0, err, sizeof err) > 0) {
    if (rows->op == 'u' && rc_rows_next_image(rows, after, 1, err, sizeof err) <= 0) break;
    out->len = 0;
    if (rc_json_change(out, t, rows->op, rows->op == 'c' ? NULL : before,
                       rows->op == 'u' ? after : rows->op == 'c' ? before : NULL, &pos, err,
                       sizeof err) < 0)
      break;
    pos.row++;
  }
  free(before);
  free(after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  rc_binfile *f;
  if (rc_binfile_open_mem(&f, "fuzz", data, size, err, sizeof err) < 0) return 0;
  rc_binlog *bl = rc_binlog_new();
  if (!bl) abort();
  rc_binlog_set_verify_checksums(bl, 0);
  rc_binlog_start_file(bl, "fuzz");
  rc_rows rows = {0};
  rc_buf out = {0};
  const uint8_t *raw;
  size_t len;
  uint64_t off;
  while (rc_binfile_next(f, &raw, &len, &off, err, sizeof err) > 0) {
    rc_event ev;
    if (rc_binlog_feed(bl, raw, len, off, &ev, err, sizeof err) < 0) continue;
    out.len = 0;
    rc_event_info_json(bl, &ev, &out, err, sizeof err);
    if (rc_event_is_rows(ev.type)) decode_rows(bl, &ev, &rows, &out);
    rc_event inner;
    while (rc_binlog_next_inner(bl, &inner, err, sizeof err) > 0) {
      out.len = 0;
      rc_event_info_json(bl, &inner, &out, err, sizeof err);
      if (rc_event_is_rows(inner.type)) decode_rows(bl, &inner, &rows, &out);
    }
  }
  rc_rows_free(&rows);
  rc_buf_free(&out);
  rc_binlog_free(bl);
  rc_binfile_close(f);
  return 0;
}
