/* topics.c: the publisher's table topics, their partition counts, and the recovery skip (topics.h). */
#include "topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "partition.h"
#include "rc_err.h"

#define MD_TIMEOUT_MS 500
#define MD_LOG_EVERY_NS (10ull * 1000000000ull)

int pub_topics_open(pub_topics *ts, rd_kafka_t *rk, const char *state_dir, const char *run_dir, const char *from,
                    char *errstr, size_t es) {
  memset(ts, 0, sizeof *ts);
  ts->rk = rk;
  snprintf(ts->state_dir, sizeof ts->state_dir, "%s", state_dir);
  snprintf(ts->from, sizeof ts->from, "%s", from);
  ts->seq = -1;
  int r = rc_topic_list_read(state_dir, &ts->list, errstr, es);
  if (r < 0) return r;
  char path[4200];
  snprintf(path, sizeof path, "%s/skip", run_dir);
  r = rc_skip_read(&ts->skip, path, errstr, es);
  if (r < 0) {
    rc_topic_list_free(&ts->list);
    return r;
  }
  ts->have_skip = r > 0;
  ts->in_window = ts->have_skip && ts->skip.any;
  if (ts->have_skip && !ts->in_window) pub_recovery_end(ts); /* Kafka holds nothing since the checkpoint */
  return 0;
}

void pub_topics_close(pub_topics *ts) {
  for (size_t i = 0; i < ts->n; i++) {
    if (ts->v[i].rkt) rd_kafka_topic_destroy(ts->v[i].rkt);
    free(ts->v[i].name);
  }
  free(ts->v);
  rc_topic_list_free(&ts->list);
  rc_skip_free(&ts->skip);
  memset(ts, 0, sizeof *ts);
}

pub_topic *pub_topic_get(pub_topics *ts, const char *name, size_t len) {
  pub_topic *t = ts->n ? &ts->v[ts->last] : NULL;
  if (t && t->len == len && !memcmp(t->name, name, len)) return t;
  for (size_t i = 0; i < ts->n; i++)
    if (ts->v[i].len == len && !memcmp(ts->v[i].name, name, len)) {
      ts->last = i;
      return &ts->v[i];
    }
  pub_topic *v = realloc(ts->v, (ts->n + 1) * sizeof *v);
  if (!v) return NULL;
  ts->v = v;
  t = &v[ts->n];
  memset(t, 0, sizeof *t);
  if (!(t->name = strndup(name, len))) return NULL;
  t->len = len;
  if (ts->rk && !(t->rkt = rd_kafka_topic_new(ts->rk, t->name, NULL))) {
    rc_error("cannot use Kafka topic %s: %s", t->name, rd_kafka_err2str(rd_kafka_last_error()));
    free(t->name);
    return NULL;
  }
  const rc_topic_entry *e = rc_topic_list_find(&ts->list, name, len);
  t->listed = e ? e->partitions : 0;
  t->skip = rc_skip_find(&ts->skip, name, len);
  ts->last = ts->n++;
  return t;
}

int pub_topic_set_parts(pub_topics *ts, pub_topic *t, int32_t parts, char *errstr, size_t es) {
  (void)ts;
  t->parts = parts;
  /* the count the changes since the checkpoint were mapped with: the skip table's (it is the
   * topic list's as the supervisor read it), else the topic list's, else today's */
  int32_t recorded = t->skip ? t->skip->partitions : t->listed;
  t->window_parts = recorded ? recorded : parts;
  if (recorded && recorded != parts) {
    rc_warn("Kafka topic %s now has %d partitions; rowcast mapped its changes to %d: keys move partitions: "
            "per-key order across the change is not kept. The changes since the checkpoint keep the %d-partition "
            "mapping; the %d-partition one starts at the first transaction boundary after them with everything "
            "before it acknowledged (then recorded in %s/topics)",
            t->name, parts, recorded, recorded, parts, ts->state_dir);
    if (ts->in_window && recorded > parts)
      return rc_errf(RC_ERR_CORRUPT, errstr, es,
                     "Kafka topic %s has %d partitions, fewer than the %d its changes since the checkpoint were "
                     "written to (was it deleted and created again?): rowcast cannot tell what Kafka holds; "
                     "remove the checkpoint in %s to start over, or restore the topic",
                     t->name, parts, recorded, ts->state_dir);
  }
  return 0;
}

int pub_topic_ready(pub_topics *ts, pub_topic *t, char *errstr, size_t es) {
  if (t->parts > 0) return 1;
  const struct rd_kafka_metadata *md = NULL;
  uint64_t now = rc_now_ns();
  if (!t->md_since_ns) t->md_since_ns = now;
  rd_kafka_resp_err_t e = rd_kafka_metadata(ts->rk, 0, t->rkt, &md, MD_TIMEOUT_MS);
  int32_t parts = 0;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && (e = md->topics[0].err) == RD_KAFKA_RESP_ERR_NO_ERROR)
      parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
  }
  if (parts > 0) return pub_topic_set_parts(ts, t, parts, errstr, es) < 0 ? RC_ERR_CORRUPT : 1;
  /* not known yet (being auto-created, or Kafka unreachable): the caller asks again */
  if (now - t->md_since_ns >= MD_LOG_EVERY_NS && now - t->md_logged_ns >= MD_LOG_EVERY_NS) {
    rc_warn("no partition count for Kafka topic %s after %llu s (%s): its changes wait until Kafka gives one",
            t->name, (unsigned long long)((now - t->md_since_ns) / 1000000000ull),
            e ? rd_kafka_err2str(e) : "no partitions");
    t->md_logged_ns = now;
  }
  return 0;
}

void pub_recovery_end(pub_topics *ts) {
  if (!ts->have_skip) return;
  if (ts->skipped_other)
    rc_info("skipped %llu changes Kafka already held, and %llu tombstones or transaction messages (recovery from %s)",
            (unsigned long long)ts->skipped, (unsigned long long)ts->skipped_other, ts->from);
  else
    rc_info("skipped %llu changes Kafka already held (recovery from %s)", (unsigned long long)ts->skipped, ts->from);
  ts->have_skip = 0;
  ts->in_window = 0;
}

/* The topic list names the count before the first change mapped with it is produced. */
static int ensure_listed(pub_topics *ts, pub_topic *t, int32_t parts, char *errstr, size_t es) {
  if (t->listed == parts) return 0;
  int r = rc_topic_list_add(ts->state_dir, t->name, t->len, parts, errstr, es);
  if (r < 0) return r;
  t->listed = parts;
  return 0;
}

/* The file sequence number of a change's position, cached for the file of the last change. */
static int64_t file_seq(pub_topics *ts, const char *file, size_t flen) {
  if (ts->seq >= 0 && flen == ts->seq_file_len && !memcmp(file, ts->seq_file, flen)) return ts->seq;
  ts->seq = rc_pos_file_seq(file, flen);
  if (flen < sizeof ts->seq_file) {
    memcpy(ts->seq_file, file, flen);
    ts->seq_file_len = flen;
  } else {
    ts->seq_file_len = 0;
  }
  return ts->seq;
}

int pub_route(pub_topics *ts, pub_topic *t, int kind, const void *key, size_t klen, const char *file, size_t flen,
              uint64_t offset, uint32_t row, int32_t *partition, char *errstr, size_t es) {
  if (ts->in_window) {
    int64_t seq = file_seq(ts, file, flen);
    if (seq < 0)
      return rc_errf(RC_ERR_CORRUPT, errstr, es,
                     "change at %.*s:%llu row %u: the file name does not end in .NUMBER, so its position cannot "
                     "be compared with what Kafka holds",
                     (int)flen, file, (unsigned long long)offset, row);
    rc_pos pos = {.seq = (uint64_t)seq, .offset = offset, .row = row, .sub = kind == PUB_TOMBSTONE};
    if (rc_pos_cmp(&pos, &ts->skip.max) > 0) {
      pub_recovery_end(ts);
    } else {
      int32_t part = rc_partition_of(key, klen, t->name, t->len, t->window_parts);
      if (t->skip && rc_skip_holds(t->skip, part, &pos)) {
        if (kind == PUB_CHANGE) ts->skipped++;
        else ts->skipped_other++;
        return 0;
      }
      int r = ensure_listed(ts, t, t->window_parts, errstr, es);
      if (r < 0) return r;
      *partition = part;
      return 1;
    }
  }
  if (!t->listed) { /* the topic's first change: its count goes in the list first */
    int r = ensure_listed(ts, t, t->parts, errstr, es);
    if (r < 0) return r;
  } else if (t->listed != t->parts) {
    /* the count changed while rowcast was down: the changes since the checkpoint were mapped with
     * the listed count, and a recovery maps with it. Keep it until pub_switch_counts, at a
     * transaction boundary with every change before it acknowledged and checkpointed */
    if (t->listed > t->parts)
      return rc_errf(RC_ERR_CORRUPT, errstr, es,
                     "Kafka topic %s has %d partitions, fewer than the %d rowcast maps its changes to (was it "
                     "deleted and created again?): remove it from %s/topics (and the checkpoint) to start it over",
                     t->name, t->parts, t->listed, ts->state_dir);
    ts->switch_pending = 1;
    *partition = rc_partition_of(key, klen, t->name, t->len, t->listed);
    return 1;
  }
  *partition = rc_partition_of(key, klen, t->name, t->len, t->parts);
  return 1;
}

int pub_switch_counts(pub_topics *ts, const char *at, char *errstr, size_t es) {
  for (size_t i = 0; i < ts->n; i++) {
    pub_topic *t = &ts->v[i];
    if (!t->listed || !t->parts || t->listed == t->parts) continue;
    int32_t was = t->listed;
    int r = ensure_listed(ts, t, t->parts, errstr, es);
    if (r < 0) return r;
    rc_warn("Kafka topic %s: the changes after %s go to its %d partitions (they went to %d before): keys move "
            "partitions here",
            t->name, at, t->parts, was);
  }
  ts->switch_pending = 0;
  return 0;
}
