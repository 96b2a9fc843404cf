/*
 * row_change.c: the changes of a ROWS event, one after another (see binlog.h, "row changes"):
 * what the reader counts, the serializer encodes and `rowcast decode` prints. Built on rows.c;
 * owns the two image arrays it hands out, grown to the widest table seen, and freed by
 * rc_row_iter_free. rc_row_iter_next itself is inline in binlog.h.
 */
#include <stdlib.h>

#include "binlog_int.h"

int rc_row_iter_begin(rc_row_iter *it, rc_binlog *bl, const rc_event *ev, uint32_t first_row,
                      char *errstr, size_t es) {
  int r = rc_rows_begin(bl, ev, &it->rows, errstr, es);
  if (r < 0) return r;
  uint32_t ncols = it->rows.table->ncols;
  if (ncols > it->img_cap) {
    free(it->img[0]);
    free(it->img[1]);
    it->img[0] = calloc(ncols, sizeof *it->img[0]);
    it->img[1] = calloc(ncols, sizeof *it->img[1]);
    if (!it->img[0] || !it->img[1]) {
      free(it->img[0]);
      free(it->img[1]);
      it->img[0] = it->img[1] = NULL;
      it->img_cap = 0;
      return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    }
    it->img_cap = ncols;
  }
  it->row = first_row;
  return 0;
}

void rc_row_iter_free(rc_row_iter *it) {
  rc_rows_free(&it->rows);
  free(it->img[0]);
  free(it->img[1]);
  it->img[0] = it->img[1] = NULL;
  it->img_cap = 0;
}
