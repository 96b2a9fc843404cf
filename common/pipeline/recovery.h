/*
 * recovery.h: what the exactly-once recovery keeps between the processes of a group.
 *
 * The topic list, `<state.dir>/topics`: every topic the group has written changes to, with the
 * partition count rowcast mapped its changes with. The publisher adds a topic (written and
 * fsynced) before it produces the topic's first change, so after any crash the list names every
 * partition that can hold a change written since the checkpoint. Text, a line per topic:
 *
 *   rowcast.shop.orders 12
 *
 * The skip table, `<run.dir>/skip`: for each partition of those topics, the position of the last
 * change Kafka holds there. The supervisor writes it before it starts the stages (reading each
 * partition's last message); the publisher reads it and drops every re-read change whose
 * position is at or before the last one of the partition it maps to, so a change Kafka already
 * has is never sent again. Text, a line per topic then a line per partition that holds changes:
 *
 *   t rowcast.shop.orders 12
 *   p rowcast.shop.orders 3 42 1234 7      (partition 3: file seq 42, offset 1234, row 7)
 *   p rowcast.shop.orders 5 42 1300 0 tombstone   (the last is the tombstone of that delete)
 *
 * Topic names are Kafka's (letters, digits, '.', '_', '-'): no spaces.
 */
#ifndef RC_RECOVERY_H
#define RC_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "position.h"

/* ---- the topic list (state dir) ------------------------------------------------------------ */

typedef struct rc_topic_entry {
  char *name;
  int32_t partitions;
} rc_topic_entry;

typedef struct rc_topic_list {
  rc_topic_entry *v;
  size_t n;
} rc_topic_list;

/* Read <state_dir>/topics into *out (empty when there is none). 0, or RC_ERR_CORRUPT naming the
 * file and line, RC_ERR_IO. On success the caller frees with rc_topic_list_free. */
int rc_topic_list_read(const char *state_dir, rc_topic_list *out, char *errstr, size_t errstr_size);
/* Append a topic with the partition count its changes are mapped with, durably (write, fsync). A
 * topic listed again (its count changed) supersedes the earlier line when read. */
int rc_topic_list_add(const char *state_dir, const char *name, size_t len, int32_t partitions, char *errstr,
                      size_t errstr_size);
/* The entry of a topic, or NULL. */
const rc_topic_entry *rc_topic_list_find(const rc_topic_list *l, const char *name, size_t len);
void rc_topic_list_free(rc_topic_list *l);

/* ---- the skip table (run dir) -------------------------------------------------------------- */

typedef struct rc_skip_topic {
  char *name;
  size_t len;
  int32_t partitions; /* the count the changes since the checkpoint were mapped with */
  rc_pos *last;       /* [partitions]: the last change Kafka holds in each */
  uint8_t *has;       /* [partitions]: 1 when that partition holds a change of the group */
} rc_skip_topic;

typedef struct rc_skip {
  rc_skip_topic *t;
  size_t n;
  rc_pos max; /* the latest of every last position: past it, nothing is skipped */
  int any;    /* some partition holds a change */
} rc_skip;

/* A topic of the table (partitions >= 1); returns it, or NULL when out of memory. */
rc_skip_topic *rc_skip_add_topic(rc_skip *s, const char *name, size_t len, int32_t partitions);
/* The last change Kafka holds in a partition of a topic added before. */
void rc_skip_set(rc_skip *s, rc_skip_topic *t, int32_t partition, const rc_pos *last);
/* Write the table to path atomically (write, fsync, rename). */
int rc_skip_write(const rc_skip *s, const char *path, char *errstr, size_t errstr_size);
/* Read a table: 1 read, 0 no file at path (*s empty), or RC_ERR_CORRUPT/RC_ERR_IO. */
int rc_skip_read(rc_skip *s, const char *path, char *errstr, size_t errstr_size);
const rc_skip_topic *rc_skip_find(const rc_skip *s, const char *name, size_t len);
/* 1 when the change at pos, mapped to partition of t, is at or before what Kafka holds there. */
static inline int rc_skip_holds(const rc_skip_topic *t, int32_t partition, const rc_pos *pos) {
  return partition >= 0 && partition < t->partitions && t->has[partition] &&
         rc_pos_cmp(pos, &t->last[partition]) <= 0;
}
void rc_skip_free(rc_skip *s);

#endif
