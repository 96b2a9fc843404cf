/*
 * position.h: a change's position in the binlog as rowcast compares positions: the file's
 * sequence number (the digits after the last '.' of its name: mariadb-bin.000042 is 42), the
 * event's offset in it, and the row's index in the event. Positions compare totally across file
 * rotations, by number and not by name as text (binlog.999999 is followed by binlog.1000000).
 * A delete's tombstone has the delete's position and comes right after it (sub 1).
 */
#ifndef RC_POSITION_H
#define RC_POSITION_H

#include <stddef.h>
#include <stdint.h>

typedef struct rc_pos {
  uint64_t seq;    /* the file's sequence number */
  uint64_t offset; /* of the ROWS event */
  uint32_t row;    /* in the event */
  uint32_t sub;    /* 0 the change, 1 the tombstone that follows a delete (publisher.tombstones) */
} rc_pos;

/* The sequence number of a binlog file's name (n bytes, no NUL needed): the digits after its
 * last '.'. -1 when the name does not end in .DIGITS (at most 18 of them). */
int64_t rc_pos_file_seq(const char *name, size_t n);

/* <0, 0, >0 as a is before, the same as, or after b. */
static inline int rc_pos_cmp(const rc_pos *a, const rc_pos *b) {
  if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
  if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
  if (a->row != b->row) return a->row < b->row ? -1 : 1;
  if (a->sub != b->sub) return a->sub < b->sub ? -1 : 1;
  return 0;
}

#endif
