/* test_recovery.c: the topic list and the skip table of common/pipeline/recovery.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rc_err.h"
#include "rc_test.h"
#include "recovery.h"

static char dir[64];

static void write_file(const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void test_topic_list(void) {
  char err[512];
  rc_topic_list l;
  RC_CHECK(rc_topic_list_read(dir, &l, err, sizeof err) == 0 && l.n == 0); /* none yet */
  RC_CHECK(rc_topic_list_add(dir, "rowcast.shop.orders", 19, 12, err, sizeof err) == 0);
  RC_CHECK(rc_topic_list_add(dir, "rowcast.shop.users", 18, 4, err, sizeof err) == 0);
  RC_CHECK(rc_topic_list_add(dir, "rowcast.shop.orders", 19, 24, err, sizeof err) == 0); /* grown */
  RC_CHECK(rc_topic_list_add(dir, "bad topic", 9, 4, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_topic_list_read(dir, &l, err, sizeof err) == 0 && l.n == 2);
  const rc_topic_entry *e = rc_topic_list_find(&l, "rowcast.shop.orders", 19);
  RC_CHECK(e && e->partitions == 24);
  e = rc_topic_list_find(&l, "rowcast.shop.users", 18);
  RC_CHECK(e && e->partitions == 4);
  RC_CHECK(!rc_topic_list_find(&l, "rowcast.shop", 12));
  rc_topic_list_free(&l);
  /* a torn last line (a crash while appending) is an error naming the file and line */
  write_file("topics", "rowcast.a 4\nrowcast.b 1");
  RC_CHECK(rc_topic_list_read(dir, &l, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "topics line 2"));
  write_file("topics", "rowcast.a four\n");
  RC_CHECK(rc_topic_list_read(dir, &l, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "line 1"));
}

static void test_skip_table(void) {
  char err[512], path[128];
  snprintf(path, sizeof path, "%s/skip", dir);
  rc_skip s = {0}, r;
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == 0 && r.n == 0 && !r.any);
  rc_skip_topic *a = rc_skip_add_topic(&s, "rowcast.d.a", 11, 3);
  rc_skip_topic *b = rc_skip_add_topic(&s, "rowcast.d.b", 11, 1);
  RC_CHECK(a && b);
  a = &s.t[0]; /* the array may have moved */
  rc_skip_set(&s, a, 0, &(rc_pos){7, 1000, 2, 0});
  rc_skip_set(&s, a, 2, &(rc_pos){8, 4, 0, 0});
  rc_skip_set(&s, &s.t[1], 0, &(rc_pos){7, 500, 0, 0});
  RC_CHECK(rc_skip_write(&s, path, err, sizeof err) == 0);
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == 1 && r.n == 2 && r.any);
  RC_CHECK(r.max.seq == 8 && r.max.offset == 4);
  const rc_skip_topic *t = rc_skip_find(&r, "rowcast.d.a", 11);
  RC_CHECK(t && t->partitions == 3);
  if (t) {
    RC_CHECK(rc_skip_holds(t, 0, &(rc_pos){7, 1000, 2, 0}));  /* the last one held: skipped */
    RC_CHECK(rc_skip_holds(t, 0, &(rc_pos){6, 99999, 0, 0})); /* an earlier file */
    RC_CHECK(!rc_skip_holds(t, 0, &(rc_pos){7, 1000, 3, 0})); /* the next row: sent */
    RC_CHECK(!rc_skip_holds(t, 1, &(rc_pos){1, 4, 0, 0}));    /* partition 1 holds nothing */
    RC_CHECK(rc_skip_holds(t, 2, &(rc_pos){7, 999999, 0, 0}));
    RC_CHECK(!rc_skip_holds(t, 3, &(rc_pos){1, 4, 0, 0}));    /* no such partition */
  }
  RC_CHECK(!rc_skip_find(&r, "rowcast.d.c", 11));
  rc_skip_free(&r);
  rc_skip_free(&s);
  write_file("skip", "t rowcast.a 2\np rowcast.a 5 1 1 1\n");
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "line 2"));
  write_file("skip", "p rowcast.a 0 1 1 1\n");
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == RC_ERR_CORRUPT);
  write_file("skip", "t rowcast.a 2\nx\n");
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "unexpected"));
}

/* publisher.tombstones: a tombstone has its delete's position and comes right after it (sub 1).
 * A partition whose last message is the delete (a crash between the two) skips the re-read
 * delete but not its tombstone; one that ends with the tombstone skips both; the skip table
 * keeps the difference across its file. */
static void test_skip_tombstone(void) {
  char err[512], path[128];
  snprintf(path, sizeof path, "%s/skip", dir);
  rc_skip s = {0}, r;
  RC_CHECK(rc_skip_add_topic(&s, "rowcast.d.t", 11, 2));
  rc_skip_set(&s, &s.t[0], 0, &(rc_pos){7, 1000, 2, 0}); /* ends with a delete */
  rc_skip_set(&s, &s.t[0], 1, &(rc_pos){7, 2000, 0, 1}); /* ends with a tombstone */
  RC_CHECK(rc_skip_write(&s, path, err, sizeof err) == 0);
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == 1);
  RC_CHECK(r.max.offset == 2000 && r.max.sub == 1);
  const rc_skip_topic *t = rc_skip_find(&r, "rowcast.d.t", 11);
  RC_CHECK(t != NULL);
  if (t) {
    RC_CHECK(rc_skip_holds(t, 0, &(rc_pos){7, 1000, 2, 0}));  /* the delete: Kafka holds it */
    RC_CHECK(!rc_skip_holds(t, 0, &(rc_pos){7, 1000, 2, 1})); /* its tombstone: not yet, sent */
    RC_CHECK(rc_skip_holds(t, 1, &(rc_pos){7, 2000, 0, 0}));
    RC_CHECK(rc_skip_holds(t, 1, &(rc_pos){7, 2000, 0, 1}));  /* both held: neither sent again */
    RC_CHECK(!rc_skip_holds(t, 1, &(rc_pos){7, 2000, 1, 0})); /* the next row is after the tombstone */
  }
  rc_skip_free(&r);
  rc_skip_free(&s);
  write_file("skip", "t rowcast.a 2\np rowcast.a 1 1 1 1 tomb\n");
  RC_CHECK(rc_skip_read(&r, path, err, sizeof err) == RC_ERR_CORRUPT);
}

void rc_tests(void) {
  snprintf(dir, sizeof dir, "/tmp/rowcast-test-recovery-XXXXXX");
  if (!mkdtemp(dir)) return;
  RC_RUN(test_topic_list);
  RC_RUN(test_skip_table);
  RC_RUN(test_skip_tombstone);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}
