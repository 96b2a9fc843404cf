/* test_pub_topics.c: the publisher's routing and recovery skip (publisher/topics.c), without Kafka:
 * pub_topic_set_parts stands for the metadata a broker would give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partition.h"
#include "rc_err.h"
#include "rc_test.h"
#include "recovery.h"
#include "topics.h"

#define ORDERS "rowcast.shop.orders"
#define LOG "rowcast.shop.log"

static char err[1024];

static void new_dir(char *dir) {
  strcpy(dir, "/tmp/rc_test_pub_XXXXXX");
  if (!mkdtemp(dir)) abort();
}

/* A key (as text) that maps to partition want of nparts. */
static void key_for(int32_t want, int32_t nparts, char *out) {
  for (int i = 0;; i++) {
    snprintf(out, 16, "key-%d", i);
    if (rc_partition_of(out, strlen(out), ORDERS, strlen(ORDERS), nparts) == want) return;
  }
}

static void rm_dir(const char *dir) {
  char path[128];
  snprintf(path, sizeof path, "%s/topics", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/skip", dir);
  unlink(path);
  rmdir(dir);
}

static int32_t listed(const char *dir, const char *topic) {
  rc_topic_list l;
  if (rc_topic_list_read(dir, &l, err, sizeof err) < 0) return -1;
  const rc_topic_entry *e = rc_topic_list_find(&l, topic, strlen(topic));
  int32_t n = e ? e->partitions : 0;
  rc_topic_list_free(&l);
  return n;
}

static void write_skip(const char *dir, int32_t parts, int32_t part, rc_pos last) {
  rc_skip s = {0};
  rc_skip_topic *t = rc_skip_add_topic(&s, ORDERS, strlen(ORDERS), parts);
  rc_skip_set(&s, t, part, &last);
  char path[128];
  snprintf(path, sizeof path, "%s/skip", dir);
  if (rc_skip_write(&s, path, err, sizeof err) < 0) abort();
  rc_skip_free(&s);
}

static int route(pub_topics *ts, const char *topic, const char *key, const char *file, uint64_t off, uint32_t row,
                 int32_t *part) {
  pub_topic *t = pub_topic_get(ts, topic, strlen(topic));
  if (!t) return -100;
  return pub_route(ts, t, PUB_CHANGE, key, key ? strlen(key) : 0, file, strlen(file), off, row, part, err, sizeof err);
}

/* No recovery: every change goes where Kafka's Java client puts its key; a keyless one by the topic
 * name; a topic is in the topic list before its first change. */
static void test_route_plain(void) {
  char dir[64];
  new_dir(dir);
  pub_topics ts;
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "the start", err, sizeof err) == 0);
  RC_CHECK(!ts.in_window);
  pub_topic *t = pub_topic_get(&ts, ORDERS, strlen(ORDERS));
  RC_CHECK(t && pub_topic_set_parts(&ts, t, 12, err, sizeof err) == 0);
  RC_CHECK(listed(dir, ORDERS) == 0);
  int32_t part = -1;
  RC_CHECK(route(&ts, ORDERS, "k1", "bin.000001", 4, 0, &part) == 1);
  RC_CHECK(part == rc_partition_of("k1", 2, ORDERS, strlen(ORDERS), 12));
  RC_CHECK(listed(dir, ORDERS) == 12);
  pub_topic *lg = pub_topic_get(&ts, LOG, strlen(LOG));
  RC_CHECK(lg && pub_topic_set_parts(&ts, lg, 6, err, sizeof err) == 0);
  int32_t p1 = -1, p2 = -2;
  RC_CHECK(route(&ts, LOG, NULL, "bin.000001", 8, 0, &p1) == 1 && route(&ts, LOG, NULL, "bin.000002", 4, 3, &p2) == 1);
  RC_CHECK(p1 == p2 && p1 == rc_partition_of(NULL, 0, LOG, strlen(LOG), 6));
  RC_CHECK(listed(dir, LOG) == 6 && ts.skipped == 0);
  pub_topics_close(&ts);
  rm_dir(dir);
}

/* Recovery: a change at or before the last one Kafka holds in its partition is dropped; one in a
 * partition Kafka holds nothing of, or after, is produced; the window ends past the latest one. */
static void test_route_skip(void) {
  char dir[64], ka[16], kb[16];
  new_dir(dir);
  key_for(1, 4, ka);
  key_for(3, 4, kb);
  RC_CHECK(rc_topic_list_add(dir, ORDERS, strlen(ORDERS), 4, err, sizeof err) == 0);
  write_skip(dir, 4, 1, (rc_pos){.seq = 9, .offset = 1000, .row = 2, 0});
  pub_topics ts;
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "bin.000009:400", err, sizeof err) == 0);
  RC_CHECK(ts.in_window);
  pub_topic *t = pub_topic_get(&ts, ORDERS, strlen(ORDERS));
  RC_CHECK(t && pub_topic_set_parts(&ts, t, 4, err, sizeof err) == 0);
  int32_t part = -1;
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000009", 500, 0, &part) == 0);  /* Kafka holds it */
  RC_CHECK(route(&ts, ORDERS, kb, "bin.000009", 600, 0, &part) == 1 && part == 3); /* partition 3 lost it */
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000009", 1000, 2, &part) == 0); /* the last one held: at, not before */
  RC_CHECK(ts.in_window && ts.skipped == 2);
  /* an earlier file sequence by number, not by name: bin.000008 < bin.000009, bin.10 > bin.9 */
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000008", 99999, 0, &part) == 0 && ts.skipped == 3);
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000009", 1000, 3, &part) == 1 && part == 1); /* past the latest */
  RC_CHECK(!ts.in_window);
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000009", 1000, 1, &part) == 1); /* after the window, nothing skipped */
  RC_CHECK(ts.skipped == 3 && listed(dir, ORDERS) == 4);
  pub_topics_close(&ts);
  /* a position that cannot be compared, inside the window, is an error naming it */
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "bin.000009:400", err, sizeof err) == 0);
  t = pub_topic_get(&ts, ORDERS, strlen(ORDERS));
  RC_CHECK(t && pub_topic_set_parts(&ts, t, 4, err, sizeof err) == 0);
  RC_CHECK(route(&ts, ORDERS, ka, "binlog", 500, 0, &part) == RC_ERR_CORRUPT && strstr(err, "binlog:500"));
  pub_topics_close(&ts);
  rm_dir(dir);
}

/* A partition count changed while rowcast was down: the window keeps the recorded count, and so does
 * what follows up to the switch at a checkpointed boundary; after it the new count, recorded in the
 * topic list first; fewer partitions than recorded is an error. */
static void test_count_changed(void) {
  char dir[64], ka[16], kc[16];
  new_dir(dir);
  key_for(2, 4, ka);
  for (int i = 0;; i++) { /* in partition 0 of 4, elsewhere of 8 */
    snprintf(kc, sizeof kc, "key-%d", i);
    if (rc_partition_of(kc, strlen(kc), ORDERS, strlen(ORDERS), 4) == 0 &&
        rc_partition_of(kc, strlen(kc), ORDERS, strlen(ORDERS), 8) != 0)
      break;
  }
  RC_CHECK(rc_topic_list_add(dir, ORDERS, strlen(ORDERS), 4, err, sizeof err) == 0);
  write_skip(dir, 4, 2, (rc_pos){.seq = 1, .offset = 1000, .row = 0, 0});
  pub_topics ts;
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "bin.000001:4", err, sizeof err) == 0);
  pub_topic *t = pub_topic_get(&ts, ORDERS, strlen(ORDERS));
  RC_CHECK(t && pub_topic_set_parts(&ts, t, 8, err, sizeof err) == 0);
  int32_t part = -1;
  RC_CHECK(route(&ts, ORDERS, ka, "bin.000001", 900, 0, &part) == 0); /* mapped with 4: Kafka holds it */
  RC_CHECK(route(&ts, ORDERS, kc, "bin.000001", 950, 0, &part) == 1 && part == 0);
  RC_CHECK(listed(dir, ORDERS) == 4);
  /* past the window, still the recorded count until a boundary with everything before it
   * acknowledged and checkpointed: a crash before it recovers with the count it was written with */
  RC_CHECK(route(&ts, ORDERS, kc, "bin.000001", 2000, 0, &part) == 1 && part == 0);
  RC_CHECK(ts.switch_pending && listed(dir, ORDERS) == 4);
  RC_CHECK(pub_switch_counts(&ts, "bin.000001:2100", err, sizeof err) == 0 && !ts.switch_pending);
  RC_CHECK(listed(dir, ORDERS) == 8);
  RC_CHECK(route(&ts, ORDERS, kc, "bin.000001", 2200, 0, &part) == 1);
  RC_CHECK(part == rc_partition_of(kc, strlen(kc), ORDERS, strlen(ORDERS), 8) && part != 0);
  pub_topics_close(&ts);
  write_skip(dir, 8, 2, (rc_pos){.seq = 1, .offset = 1000, .row = 0, 0});
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "bin.000001:4", err, sizeof err) == 0);
  t = pub_topic_get(&ts, ORDERS, strlen(ORDERS));
  RC_CHECK(t && pub_topic_set_parts(&ts, t, 4, err, sizeof err) == RC_ERR_CORRUPT && strstr(err, ORDERS) &&
           strstr(err, "fewer than the 8"));
  pub_topics_close(&ts);
  rm_dir(dir);
}

/* A skip table that is there but holds nothing: no window; a garbled one: an error. */
static void test_skip_files(void) {
  char dir[64], path[128];
  new_dir(dir);
  snprintf(path, sizeof path, "%s/skip", dir);
  rc_skip s = {0};
  rc_skip_add_topic(&s, ORDERS, strlen(ORDERS), 4);
  RC_CHECK(rc_skip_write(&s, path, err, sizeof err) == 0);
  rc_skip_free(&s);
  pub_topics ts;
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "x", err, sizeof err) == 0 && !ts.in_window);
  pub_topics_close(&ts);
  FILE *f = fopen(path, "w");
  fputs("q garbage\n", f);
  fclose(f);
  RC_CHECK(pub_topics_open(&ts, NULL, dir, dir, "x", err, sizeof err) == RC_ERR_CORRUPT && strstr(err, "skip"));
  rm_dir(dir);
}

void rc_tests(void) {
  RC_RUN(test_route_plain);
  RC_RUN(test_route_skip);
  RC_RUN(test_count_changed);
  RC_RUN(test_skip_files);
}
