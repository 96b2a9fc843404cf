/*
 * topics.h: the publisher's table topics and where each change goes (private to the publisher).
 *
 * Every change topic gets a librdkafka handle and its partition count, from Kafka's metadata at
 * its first use (asked again while the topic is not known yet, with a log line every 10 s). Each
 * change is routed by rowcast itself with rc_partition_of() (partition.h): the key bytes as the
 * serializer made them, the topic name for a keyless change.
 *
 * Exactly-once recovery lives here too: at start the publisher reads the topic list
 * (<state.dir>/topics) and the skip table (<run.dir>/skip, written by the supervisor; recovery.h).
 * While a change's position is at or before the latest position of the table (the recovery
 * window), it is mapped with the partition count the table records for its topic, and dropped when
 * Kafka already holds it there. Before the first change produced to a topic with a count, that
 * count is in the topic list (appended, fsynced). A count that changed while rowcast was down is
 * warned about once; the recorded count still maps the recovery window and what follows up to the
 * next transaction boundary at which everything before is acknowledged and checkpointed; the new
 * count maps what comes after it (pub_switch_counts), so a change is always mapped, on every
 * recovery, with the count it was written with.
 *
 * Owns: the handles, the topic list and the skip table; freed with pub_topics_close.
 */
#ifndef RC_PUB_TOPICS_H
#define RC_PUB_TOPICS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "partition.h"
#include "recovery.h"

typedef struct pub_topic {
  char *name;
  size_t len;
  rd_kafka_topic_t *rkt;
  int32_t parts;        /* the count Kafka's metadata gives; 0 until known */
  int32_t listed;       /* the count the topic list holds for it (0: not listed) */
  int32_t window_parts; /* the count that maps changes of the recovery window */
  const rc_skip_topic *skip; /* its partitions in the skip table, or NULL */
  uint64_t md_since_ns, md_logged_ns; /* metadata asked since / last logged about */
} pub_topic;

typedef struct pub_topics {
  rd_kafka_t *rk;    /* NULL in unit tests: pub_topic_set_parts stands for the metadata */
  char state_dir[4096];
  pub_topic *v;
  size_t n, last;
  rc_topic_list list;
  rc_skip skip;
  int have_skip;     /* a skip table was read: recovery, its line is logged at the end */
  int in_window;     /* changes may still be ones Kafka holds */
  int switch_pending; /* a listed topic's count changed: pub_switch_counts at the next boundary */
  char from[300];    /* the checkpoint recovery starts from, for the log line */
  uint64_t skipped;  /* changes dropped because Kafka held them */
  uint64_t skipped_other; /* tombstones and transaction messages dropped the same way */
  char seq_file[256]; /* the last file name whose sequence number was computed */
  size_t seq_file_len;
  int64_t seq;
} pub_topics;

/* Read the topic list of state_dir and the skip table run_dir/skip (absent: nothing to skip).
 * from names the checkpoint for the recovery log line. 0, or a negative rc_err_t with errstr
 * naming the file (a garbled list or table is a data error). */
int pub_topics_open(pub_topics *ts, rd_kafka_t *rk, const char *state_dir, const char *run_dir, const char *from,
                    char *errstr, size_t errstr_size);
void pub_topics_close(pub_topics *ts);

/* The topic named name[0..len), created at its first use (its count still unknown); NULL when
 * out of memory or librdkafka refuses the name (logged). */
pub_topic *pub_topic_get(pub_topics *ts, const char *name, size_t len);
/* 1 when the topic's partition count is known, 0 when Kafka has not given it yet (ask again
 * later; logged every 10 s), or a negative rc_err_t with errstr (RC_ERR_CONFIG-like data error:
 * the topic has fewer partitions than the changes since the checkpoint were mapped to). */
int pub_topic_ready(pub_topics *ts, pub_topic *t, char *errstr, size_t errstr_size);
/* What metadata tells: the topic's count is parts. Compares it with the recorded count (the
 * warning), fixes the recovery window's count. Returns 0 or RC_ERR_CORRUPT (errstr). */
int pub_topic_set_parts(pub_topics *ts, pub_topic *t, int32_t parts, char *errstr, size_t errstr_size);

/* pub_topic_get for the topic of the message before, without a call (consecutive changes are
 * mostly of one table). */
static inline pub_topic *pub_topic_of(pub_topics *ts, const char *name, size_t len) {
  if (ts->n) {
    pub_topic *t = &ts->v[ts->last];
    if (t->len == len && !memcmp(t->name, name, len)) return t;
  }
  return pub_topic_get(ts, name, len);
}

/* What a message is, for pub_route. */
enum { PUB_CHANGE = 0, PUB_TOMBSTONE = 1, PUB_TXN = 2 };
/* Where a message goes: 1 produce it to *partition, 0 drop it (Kafka holds it: counted in
 * ts->skipped for a change, ts->skipped_other for the rest), or a negative rc_err_t with errstr
 * (the topic list cannot be written; a position that cannot be compared). kind PUB_TOMBSTONE:
 * the tombstone of the delete at that position, which comes right after it (rc_pos.sub 1).
 * The topic must be ready. */
int pub_route(pub_topics *ts, pub_topic *t, int kind, const void *key, size_t klen, const char *file, size_t flen,
              uint64_t offset, uint32_t row, int32_t *partition, char *errstr, size_t errstr_size);
/* pub_route in the steady state, without a call: past the recovery window, the topic listed
 * with the count Kafka gives, where every message goes to the partition of its key. The
 * partition, or -1 when pub_route has to decide. */
static inline int32_t pub_route_steady(const pub_topics *ts, const pub_topic *t, const void *key, size_t klen) {
  if (ts->in_window || !t->listed || t->listed != t->parts) return -1;
  return rc_partition_of(key, klen, t->name, t->len, t->parts);
}

/* Switch every topic whose partition count changed while rowcast was down to its new count, and
 * record it in the topic list. The publisher calls it at a transaction boundary `at`, once every
 * change before it is acknowledged and the checkpoint is written there: every change a later
 * recovery re-reads is then mapped with the new count, as it was written. 0, or RC_ERR_IO. */
int pub_switch_counts(pub_topics *ts, const char *at, char *errstr, size_t errstr_size);

/* The recovery is over (first change past the window, or the end of the stream): logs the
 * skipped line once. */
void pub_recovery_end(pub_topics *ts);

#endif
