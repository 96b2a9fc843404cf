/*
 * publisher.c: rowcast-publisher. Restores batch order across serializer workers, produces every
 * message to Kafka with librdkafka (idempotent, acks=all), and writes the checkpoint only when
 * every message up to a transaction boundary is acknowledged.
 *
 * The producer itself is configured in kafka.c (with the position headers of a message); the held
 * frames and the delivery reports are in deliver.c, the state both share in publisher_int.h.
 *
 * Order: each worker has its own pipe (publisher-<i>.ipc) and sends its batches in increasing
 * sequence; the publisher holds at most one frame per worker and takes the one whose sequence is
 * next, so batch N is produced only after N-1, whichever worker did it, with memory bounded by
 * the workers, their pipes and librdkafka's queue.
 *
 * Backpressure: when librdkafka's queue is full (Kafka slow or down), the publisher stops
 * pulling; the pipes fill; the serializers block; the reader stops reading.
 *
 * Checkpoint: messages get increasing numbers; a transaction boundary from the stream is a
 * checkpoint candidate once every message numbered before it is acknowledged. Written at most
 * every publisher.checkpoint_interval_ms and at the end. After a crash the group resumes there.
 *
 * Partitions and recovery (topics.c): rowcast chooses every change's partition itself (Kafka's
 * murmur2 of the key, the topic name for a keyless change), so a change re-read after a crash
 * maps where it went before; changes Kafka already holds (the supervisor's skip table) are
 * dropped and still count as acknowledged for the checkpoint.
 *
 * Tombstones (publisher.tombstones; rc_rec_tombstone from the serializer): the delete's key with
 * a null value, to the delete's partition right after it, the delete's position in headers (the
 * recovery reads it there: a tombstone has no value). Transaction messages
 * (publisher.transactions_topic) are produced like changes, to their own topic. Neither counts
 * as a change (produced, acked, the checkpoint's count); both are acknowledged before the
 * checkpoint passes the transaction they belong to, and skipped like changes after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "frame.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "stage.h"
#include "topics.h"

#include "publisher_int.h"


static void metrics(rc_stage *st, rc_buf *b) {
  publisher *p = st->ctx;
  rc_metric_put(b, "batches", p->batches);
  rc_metric_put(b, "produced", p->produced);
  rc_metric_put(b, "acked", p->acked);
  rc_metric_put(b, "schemas", p->schema_msgs);
  rc_metric_put(b, "in_flight", p->next_msg - p->acked_below);
  rc_metric_put(b, "queue_full_waits", p->queue_full_waits);
  rc_metric_put(b, "skipped", p->tp.skipped);
  if (p->meta_produced) {
    rc_metric_put(b, "tombstones", p->tombstones);
    rc_metric_put(b, "transaction_messages", p->meta_produced - p->tombstones);
  }
  rc_metric_put(b, "frames_held", p->frames_held);
  rc_metric_put(b, "latency_p50_us", rc_hist_quantile(&p->lat, 0.50));
  rc_metric_put(b, "latency_p99_us", rc_hist_quantile(&p->lat, 0.99));
  rc_metric_put(b, "latency_max_us", p->lat.max);
  rc_metric_put(b, "commit_latency_p50_us", rc_hist_quantile(&p->commit_lat, 0.50));
  rc_metric_put(b, "commit_latency_p99_us", rc_hist_quantile(&p->commit_lat, 0.99));
  rc_metric_put(b, "commit_latency_max_us", p->commit_lat.max);
  rc_metric_put(b, "checkpoint_changes", p->cp.changes);
  rc_metric_put(b, "key_bytes", p->key_bytes);
  rc_metric_put(b, "value_bytes", p->value_bytes);
  rc_phist_put(b, "receipt_to_ack", &p->lat_buckets);
  rc_phist_put(b, "commit_to_ack", &p->commit_lat_buckets);
  uint64_t now = rc_now_ns();
  rc_metric_put(b, "kafka_waiting_ms", p->watch_since_ns && now > p->watch_since_ns ? (now - p->watch_since_ns) / 1000000 : 0);
  rc_metric_put(b, "queue_max", p->queue_max);
  rc_metric_put(b, "ack_commit_ms", p->ack_commit_us / 1000);
}

#define KAFKA_REPORT_NS (10ull * 1000000000ull)

/* Kafka unreachable (or not acknowledging): messages in flight and no acknowledgement for 10 s
 * is said every 10 s, and in the metrics (kafka_waiting_ms, which the supervisor's watchdog
 * reads: this is not a stalled stage). */
static void watch_kafka(publisher *p) {
  uint64_t now = rc_now_ns(), waiting = p->next_msg - p->acked_below;
  if (!waiting || p->acked != p->watch_acked) {
    if (p->watch_logged_ns && waiting)
      rc_info("Kafka acknowledges again after %.0f s", (double)(now - p->watch_since_ns) / 1e9);
    p->watch_acked = p->acked;
    p->watch_since_ns = waiting ? now : 0;
    p->watch_logged_ns = 0;
    return;
  }
  if (!p->watch_since_ns) p->watch_since_ns = now;
  uint64_t last = p->watch_logged_ns ? p->watch_logged_ns : p->watch_since_ns;
  if (now - last < KAFKA_REPORT_NS) return;
  p->watch_logged_ns = now;
  rc_warn("Kafka at %s unreachable for %.0f s (no acknowledgement); %llu changes waiting; the pipeline waits "
          "for it (SIGTERM stops rowcast, keeping the checkpoint at what Kafka acknowledged)",
          pub_bootstrap_of(p->st.cfg), (double)(now - p->watch_since_ns) / 1e9,
          (unsigned long long)waiting);
}


static int write_checkpoint(publisher *p) {
  char err[512];
  if (rc_checkpoint_write(p->state_dir, &p->cp, err, sizeof err) < 0) {
    rc_error("%s", err);
    return -1;
  }
  p->cp_dirty = 0;
  p->cp_written_ns = rc_now_ns();
  return 0;
}

/* Advance the acknowledged watermark and the checkpoint candidate; write it when due. */
static int advance(publisher *p, int force) {
  while (p->acked_below < p->next_msg && p->ring[p->acked_below & p->ring_mask].recv_ns == 0) p->acked_below++;
  while (p->m_head != p->m_tail && p->markers[p->m_head % p->m_cap].msg_no <= p->acked_below) {
    marker *m = &p->markers[p->m_head % p->m_cap];
    snprintf(p->cp.file, sizeof p->cp.file, "%s", m->file);
    p->cp.pos = m->pos;
    p->cp.changes = p->base_changes + m->changes;
    if (m->snapshot) p->cp.snapshot = m->snapshot;
    if (m->gtid[0] && rc_gtid_state_add(p->cp.gtid, sizeof p->cp.gtid, m->gtid, strlen(m->gtid)) < 0)
      rc_warn("the GTID state of the checkpoint is full (%zu bytes): %s not recorded", sizeof p->cp.gtid, m->gtid);
    p->cp_dirty = 1;
    p->m_head++;
  }
  if (p->cp_dirty && (force || rc_now_ns() - p->cp_written_ns >= p->cp_interval_ns)) return write_checkpoint(p);
  return 0;
}

static void gtid_keep(publisher *p);

static int push_marker(publisher *p, const char *file, size_t flen, uint64_t pos) {
  gtid_keep(p);
  if (p->m_tail - p->m_head == p->m_cap) {
    size_t ncap = p->m_cap ? p->m_cap * 2 : 1024;
    marker *n = malloc(ncap * sizeof *n);
    if (!n) return -1;
    for (size_t i = 0; i < p->m_cap; i++) n[i] = p->markers[(p->m_head + i) % p->m_cap];
    free(p->markers);
    p->markers = n;
    p->m_tail = p->m_cap;
    p->m_head = 0;
    p->m_cap = ncap;
  }
  marker *m = &p->markers[p->m_tail % p->m_cap];
  m->msg_no = p->next_msg;
  m->changes = p->produced + p->tp.skipped; /* a skipped change is one Kafka holds */
  snprintf(m->file, sizeof m->file, "%.*s", (int)(flen < 255 ? flen : 255), file);
  m->pos = pos;
  snprintf(m->gtid, sizeof m->gtid, "%s", p->last_gtid);
  m->snapshot = 0;
  p->m_tail++;
  return 0;
}

/* A topic handle for librdkafka. The first use asks the cluster for the topic's metadata at once
 * (a blocking round trip, once per topic and run): without it librdkafka 2.0 learns of a topic
 * first produced to after startup only at its next one-second topic scan, and every table's
 * first change would wait for it. */
static rd_kafka_topic_t *new_topic(publisher *p, const char *name) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, name, NULL);
  if (!rkt) {
    rc_error("cannot use Kafka topic %s: %s", name, rd_kafka_err2str(rd_kafka_last_error()));
    return NULL;
  }
  const struct rd_kafka_metadata *md;
  rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, rkt, &md, 1000);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
  else rc_debug("metadata of topic %s not fetched ahead (%s): librdkafka fetches it itself", name, rd_kafka_err2str(e));
  return rkt;
}

static void serve_kafka(publisher *p) {
  char c[64];
  while (read(p->kafka_fd[0], c, sizeof c) > 0) {
  }
  pub_serve_events(p, 0);
}

/* A schema for the schema topic (key: fingerprint in hex, value: the schema JSON), produced
 * before the messages that use it, once per run. 1 done, 0 librdkafka full, -1 error. */
static int produce_schema(publisher *p, rc_frame_rd *rd, const uint8_t *rec) {
  rc_rec_schema sc;
  if (rc_frame_get_schema(rd, &sc) < 0) return 1; /* rd->bad: reported by the caller */
  const char *hex = sc.fingerprint;
  size_t hlen = RC_REC_FINGERPRINT_LEN;
  for (size_t i = 0; i < p->nschemas; i++)
    if (!memcmp(p->schemas[i], hex, 16)) return 1;
  uint64_t no = p->next_msg;
  if (!p->schema_rkt && !(p->schema_rkt = new_topic(p, p->schema_topic))) {
    p->fatal = RC_EXIT_FAILURE;
    return -1;
  }
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_RKT(p->schema_rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(hex, hlen), RD_KAFKA_V_VALUE((void *)sc.json, sc.json_len),
      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(no | SCHEMA_MSG)), RD_KAFKA_V_END);
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd->p = rec;
    p->queue_full_waits++;
    return 0;
  }
  if (e) {
    rc_error("cannot produce schema %.16s to %s: %s", hex, p->schema_topic, rd_kafka_err2str(e));
    p->fatal = RC_EXIT_FAILURE;
    return -1;
  }
  char(*n)[17] = realloc(p->schemas, (p->nschemas + 1) * sizeof *n);
  if (n) {
    p->schemas = n;
    memcpy(p->schemas[p->nschemas], hex, 16);
    p->schemas[p->nschemas++][16] = 0;
  }
  p->ring[no & p->ring_mask] = (flight){.recv_ns = 1, .frame = UINT32_MAX};
  p->next_msg++;
  p->schema_msgs++;
  return 1;
}

/* The position in message headers (publisher.headers): NULL when they are off. */
static rd_kafka_headers_t *position_headers(const publisher *p, const rc_rec_message *m) {
  return p->headers ? pub_position_headers(m->file, m->file_len, m->offset, m->row, m->gtid, m->gtid_len, 0) : NULL;
}

/* The topic of a change, its partition count known: 1 ready, 0 not yet (rd rewound to rec: the
 * caller waits and asks again), -1 error (p->fatal set). */
static int change_topic(publisher *p, const rc_rec_message *m, rc_frame_rd *rd, const uint8_t *rec,
                        pub_topic **out) {
  char err[1024];
  pub_topic *t = pub_topic_of(&p->tp, m->topic, m->topic_len);
  if (!t) {
    p->fatal = RC_EXIT_FAILURE;
    return -1;
  }
  int r = t->parts > 0 ? 1 : pub_topic_ready(&p->tp, t, err, sizeof err);
  if (r < 0) {
    rc_error("%s", err);
    p->fatal = RC_EXIT_CONFIG;
    return -1;
  }
  if (r == 0) {
    rd->p = rec;
    return 0;
  }
  *out = t;
  return 1;
}

/* A produce error of a change: logged, p->fatal set; -1. */
static int produce_failed(publisher *p, const char *topic, const rc_rec_message *m, rd_kafka_resp_err_t e) {
  rc_error("cannot produce to %s (change at %.*s:%llu row %u, %zu bytes): %s", topic, (int)m->file_len, m->file,
           (unsigned long long)m->offset, m->row, m->value_len, rd_kafka_err2str(e));
  p->fatal = e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? RC_EXIT_CONFIG : RC_EXIT_FAILURE;
  if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
    rc_error("the change is larger than kafka.message.max.bytes: raise it (and the broker's "
             "message.max.bytes) to publish it; rowcast does not drop changes");
  return -1;
}

/* The GTID of the last change passed on, for the next transaction marker (the checkpoint's
 * GTID state): where it is in the frame being read, copied out by gtid_keep when a marker
 * needs it or the frame is let go (every change of a transaction has the same one: no copy
 * per change). */
static inline void note_gtid(publisher *p, const rc_rec_message *m) {
  if (m->gtid_len && m->gtid_len < sizeof p->last_gtid) {
    p->gtid_at = m->gtid;
    p->gtid_len = m->gtid_len;
  }
}

static void gtid_keep(publisher *p) {
  if (!p->gtid_at) return;
  memcpy(p->last_gtid, p->gtid_at, p->gtid_len);
  p->last_gtid[p->gtid_len] = 0;
  p->gtid_at = NULL;
}

/* A change numbered no is in flight from now on, its payload in frame fr. */
static void in_flight(publisher *p, uint64_t no, const rc_rec_message *m, uint32_t fr) {
  note_gtid(p, m);
  p->ring[no & p->ring_mask] = (flight){.recv_ns = m->recv_ns ? m->recv_ns : 1, .commit_us = m->commit_us, .frame = fr};
  p->frames[fr].refs++;
  p->next_msg++;
  p->produced++;
  p->key_bytes += m->key ? m->key_len : 0;
  p->value_bytes += m->value_len;
}

/* A tombstone or transaction message numbered no is in flight, its payload in frame fr (its
 * GTID, for a transaction message, noted like a change's). */
static void meta_in_flight(publisher *p, uint64_t no, const rc_rec_message *m, uint32_t fr) {
  note_gtid(p, m);
  p->ring[no & p->ring_mask] = (flight){.recv_ns = 1, .frame = fr};
  p->frames[fr].refs++;
  p->next_msg++;
  p->meta_produced++;
}

static int is_txn_topic(const publisher *p, const rc_rec_message *m) {
  return p->txn_topic_len && m->topic_len == p->txn_topic_len && !memcmp(m->topic, p->txn_topic, m->topic_len);
}

#define ROUTED 3 /* next_change's answer when the change is to be produced */

/* Read the change at rd and decide where it goes: ROUTED with *m, *t and *part filled; 1 when
 * there is nothing to produce (a malformed record, reported by the caller, or a change Kafka
 * already holds: its GTID still goes into the checkpoint's state); 0 wait (rd rewound: the
 * topic's partition count is not known yet); -1 error (p->fatal set). */
static int next_change(publisher *p, rc_frame_rd *rd, const uint8_t *rec, rc_rec_message *m, pub_topic **t,
                       int32_t *part) {
  if (rc_frame_get_message(rd, m) < 0) return 1; /* rd->bad: reported by the caller */
  int r = change_topic(p, m, rd, rec, t);
  if (r <= 0) return r;
  if ((*part = pub_route_steady(&p->tp, *t, m->key, m->key ? m->key_len : 0)) >= 0) return ROUTED;
  char err[1024];
  r = pub_route(&p->tp, *t, is_txn_topic(p, m) ? PUB_TXN : PUB_CHANGE, m->key, m->key_len, m->file, m->file_len,
                m->offset, m->row, part, err, sizeof err);
  if (r < 0) {
    rc_error("%s", err);
    p->fatal = r == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
    return -1;
  }
  if (r == 0) {
    note_gtid(p, m);
    return 1;
  }
  return ROUTED;
}

/* The group of a topic-partition (created empty); NULL when MAX_GROUPS are in use. Found by
 * a slot of (topic, partition) that remembers its group: consecutive changes of a table go to
 * different partitions, so "the group of the change before" mostly misses. A slot is checked,
 * not trusted: after a hand-over (ngroups back to 0) or a collision it names another group. */
static pend_group *group_of(publisher *p, const pub_topic *t, int32_t part) {
  rd_kafka_topic_t *rkt = t->rkt;
  unsigned h = ((unsigned)(t - p->tp.v) * 37u + (unsigned)part) & (GROUP_SLOTS - 1);
  int i = p->group_slot[h];
  if (i < p->ngroups && p->groups[i].rkt == rkt && p->groups[i].part == part) return &p->groups[i];
  for (i = 0; i < p->ngroups; i++)
    if (p->groups[i].rkt == rkt && p->groups[i].part == part) {
      p->group_slot[h] = (uint16_t)i;
      return &p->groups[i];
    }
  if (p->ngroups == MAX_GROUPS) return NULL;
  pend_group *g = &p->groups[p->ngroups];
  g->rkt = rkt;
  g->part = part;
  g->n = g->sent = 0;
  p->group_slot[h] = (uint16_t)p->ngroups++;
  return g;
}

/* Hand every pending change to librdkafka, a batch per topic-partition, payloads not copied.
 * 1 all handed over, 0 librdkafka full (the rest stays pending, in order), -1 error. */
static int flush_pending(publisher *p) {
  int full = 0;
  for (int i = 0; i < p->ngroups; i++) {
    pend_group *g = &p->groups[i];
    if (full || g->sent == g->n) continue;
    int cnt = g->n - g->sent;
    int good = rd_kafka_produce_batch(g->rkt, g->part, RD_KAFKA_MSG_F_PARTITION, g->m + g->sent, cnt);
    if (good < cnt) {
      for (int k = g->sent; k < g->n; k++) {
        rd_kafka_resp_err_t e = g->m[k].err;
        if (!e) continue;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          /* the record is gone with the frame's reader position: name what is known */
          rc_error("cannot produce to %s partition %d (%zu bytes): %s", rd_kafka_topic_name(g->rkt), g->part,
                   g->m[k].len, rd_kafka_err2str(e));
          p->fatal = e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? RC_EXIT_CONFIG : RC_EXIT_FAILURE;
          if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
            rc_error("the change is larger than kafka.message.max.bytes: raise it (and the broker's "
                     "message.max.bytes) to publish it; rowcast does not drop changes");
          return -1;
        }
        /* a full queue refuses this message and every one after it (librdkafka's produce_batch) */
        g->sent = k;
        break;
      }
      p->queue_full_waits++;
      full = 1;
      continue;
    }
    g->sent = g->n;
  }
  if (full) return 0;
  p->ngroups = 0;
  p->npend = 0;
  return 1;
}

/* A change for produce_batch: 1 queued (or dropped: Kafka holds it), 0 wait (rd rewound), 2 hand
 * the pending changes over first (rd rewound), -1 error. */
static int queue_message(publisher *p, rc_frame_rd *rd, const uint8_t *rec, uint32_t fr) {
  rc_rec_message m;
  pub_topic *t;
  int32_t part;
  int r = next_change(p, rd, rec, &m, &t, &part);
  if (r != ROUTED) return r;
  pend_group *g = group_of(p, t, part);
  if (!g) {
    rd->p = rec; /* every group in use: hand them over first */
    return 2;
  }
  if (g->n == g->cap) {
    int ncap = g->cap ? g->cap * 2 : 256;
    rd_kafka_message_t *nm = realloc(g->m, (size_t)ncap * sizeof *nm); /* grows once, kept */
    if (!nm) return -1;
    g->m = nm;
    g->cap = ncap;
  }
  uint64_t no = p->next_msg;
  int meta = is_txn_topic(p, &m);
  g->m[g->n++] = (rd_kafka_message_t){.partition = part, .payload = (void *)m.value, .len = m.value_len,
                                      .key = (void *)m.key, .key_len = m.key ? m.key_len : 0,
                                      ._private = (void *)(uintptr_t)(no | (meta ? META_MSG : 0))};
  (meta ? meta_in_flight : in_flight)(p, no, &m, fr);
  p->npend++;
  return 1;
}

/* A change with its position in headers (publisher.headers; produce_batch cannot carry
 * headers): one producev, payload not copied. 1 done, 0 librdkafka full (rd rewound), -1 error. */
static int produce_with_headers(publisher *p, rc_frame_rd *rd, const uint8_t *rec, uint32_t fr) {
  rc_rec_message m;
  pub_topic *t;
  int32_t part;
  int r = next_change(p, rd, rec, &m, &t, &part);
  if (r != ROUTED) return r;
  rd_kafka_headers_t *hdrs = position_headers(p, &m);
  uint64_t no = p->next_msg;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_MSGFLAGS(0),
      RD_KAFKA_V_KEY(m.key, m.key ? m.key_len : 0), RD_KAFKA_V_VALUE((void *)m.value, m.value_len),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(no | (is_txn_topic(p, &m) ? META_MSG : 0))),
      RD_KAFKA_V_END);
  if (e) rd_kafka_headers_destroy(hdrs); /* on success librdkafka owns them */
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd->p = rec;
    p->queue_full_waits++;
    return 0;
  }
  if (e) return produce_failed(p, t->name, &m, e);
  (is_txn_topic(p, &m) ? meta_in_flight : in_flight)(p, no, &m, fr);
  return 1;
}

/* The tombstone of the delete before it: the delete's key, a null value, the partition the
 * delete went to (same key, same routing), the delete's position in headers, which the
 * recovery reads when a partition ends with a tombstone. Produced after the delete has been
 * handed to librdkafka (pending changes first), so it follows it in the partition. 1 done, 0
 * librdkafka full (rd rewound), 2 hand the pending changes over first (rd rewound), -1 error. */
static int produce_tombstone(publisher *p, rc_frame_rd *rd, const uint8_t *rec, uint32_t fr) {
  if (p->npend) {
    rd->p = rec;
    return 2;
  }
  rc_rec_tombstone z;
  if (rc_frame_get_tombstone(rd, &z) < 0) return 1; /* rd->bad: reported by the caller */
  rc_rec_message m = {0, 0, z.topic, z.topic_len, z.key, z.key_len, NULL, 0, z.file, z.file_len, z.offset, z.row,
                      NULL, 0};
  pub_topic *t;
  int r = change_topic(p, &m, rd, rec, &t);
  if (r <= 0) return r;
  char err[1024];
  int32_t part;
  r = pub_route(&p->tp, t, PUB_TOMBSTONE, z.key, z.key_len, z.file, z.file_len, z.offset, z.row, &part, err,
                sizeof err);
  if (r < 0) {
    rc_error("%s", err);
    p->fatal = r == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
    return -1;
  }
  if (r == 0) return 1; /* Kafka holds it */
  rd_kafka_headers_t *hdrs = pub_position_headers(z.file, z.file_len, z.offset, z.row, NULL, 0, 1);
  uint64_t no = p->next_msg;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_MSGFLAGS(0),
      RD_KAFKA_V_KEY(z.key, z.key_len), RD_KAFKA_V_VALUE(NULL, 0), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(no | META_MSG)), RD_KAFKA_V_END);
  if (e) rd_kafka_headers_destroy(hdrs);
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd->p = rec;
    p->queue_full_waits++;
    return 0;
  }
  if (e) return produce_failed(p, t->name, &m, e);
  meta_in_flight(p, no, &m, fr);
  p->tombstones++;
  return 1;
}

/* At the transaction boundary c, every change before it acknowledged: write the checkpoint
 * there, then switch the topics whose partition count changed (topics.h). 0 or -1. */
static int switch_counts(publisher *p, const rc_rec_boundary *c) {
  if (advance(p, 1) < 0) return -1;
  char at[300], err[1024];
  snprintf(at, sizeof at, "%.*s:%llu", (int)c->file_len, c->file, (unsigned long long)c->pos);
  if (pub_switch_counts(&p->tp, at, err, sizeof err) < 0) {
    rc_error("%s", err);
    p->fatal = RC_EXIT_FAILURE;
    return -1;
  }
  return 0;
}

/* Produce the records of the current frame until it is done (1), librdkafka is full (0), or an
 * error (-1). */
static int produce_frame(publisher *p, worker_in *w) {
  rc_frame_rd *rd = &w->rd;
  if (p->npend) { /* what librdkafka refused when it was full goes first */
    int f = flush_pending(p);
    if (f <= 0) return f;
  }
  while (rc_frame_rd_more(rd)) {
    const uint8_t *rec = rd->p;
    int tag = rc_frame_peek_tag(rd);
    if (tag == RC_REC_BOUNDARY) {
      if (p->tp.switch_pending) { /* a partition count to switch: everything before acknowledged first */
        int f = flush_pending(p);
        if (f <= 0) return f;
        if (p->acked_below != p->next_msg) return 0; /* wait for the deliveries (rd still at the boundary) */
      }
      rc_rec_boundary c;
      if (rc_frame_get_boundary(rd, &c) < 0) break;
      if (push_marker(p, c.file, c.file_len, c.pos) < 0) return -1;
      if (p->tp.switch_pending && switch_counts(p, &c) < 0) return -1;
      continue;
    }
    if (tag == RC_REC_PROGRESS) { /* snapshot progress: the boundary just before records it */
      rc_rec_progress g;
      if (rc_frame_get_progress(rd, &g) < 0) break;
      if (p->m_tail != p->m_head) {
        p->markers[(p->m_tail - 1) % p->m_cap].snapshot = g.value;
      } else { /* its boundary is checkpointed already (a frame part ended between them) */
        p->cp.snapshot = g.value;
        p->cp_dirty = 1;
      }
      continue;
    }
    if (tag != RC_REC_MESSAGE && tag != RC_REC_SCHEMA && tag != RC_REC_TOMBSTONE) {
      rd->rec = rec;
      rc_frame_rec_bad(rd, "unknown tag in a messages frame");
      break;
    }
    int r = 0;
    if (p->next_msg - p->acked_below > p->ring_mask) /* every slot in flight */
      r = 0;
    else if (tag == RC_REC_SCHEMA)
      r = produce_schema(p, rd, rec);
    else if (tag == RC_REC_TOMBSTONE)
      r = produce_tombstone(p, rd, rec, w->frame);
    else
      r = p->headers ? produce_with_headers(p, rd, rec, w->frame) : queue_message(p, rd, rec, w->frame);
    if (r < 0) return r;
    if (r == 2 || (r == 1 && p->npend >= PEND_MAX)) {
      int f = flush_pending(p);
      if (f <= 0) return f;
      continue;
    }
    if (r == 0) {
      int f = flush_pending(p); /* hand over what is queued, then wait if need be */
      return f < 0 ? f : 0;
    }
  }
  if (rd->bad) {
    char why[256];
    rc_frame_rd_describe(rd, w->payload, why, sizeof why);
    rc_error("batch %llu from a serializer is malformed: %s", (unsigned long long)w->h.seq, why);
    return -1;
  }
  return flush_pending(p);
}

/* Take the next messages off the workers' pipes: returns the worker holding the frame numbered
 * expect_seq, or -1 if it has not arrived yet. */
static int find_next(publisher *p, int *status) {
  char err[512];
  for (int i = 0; i < p->nworkers; i++) {
    worker_in *w = &p->w[i];
    if (!w->msg && p->free_frame != MAX_FRAMES) { /* else: every frame slot held, wait for reports */
      void *m;
      size_t len;
      int got = rc_pipe_recv(w->sock, &m, &len, err, sizeof err);
      if (got < 0) {
        rc_error("%s", err);
        *status = RC_EXIT_FAILURE;
        return -1;
      }
      if (!got) continue;
      /* a batch in the worker's shared ring: read where it lies */
      rc_shared_ref ref;
      int shared = rc_shared_ref_parse(&w->shm, m, len, &ref);
      if (shared) {
        rc_pipe_msg_free(m);
        if (shared < 0) {
          rc_error("from serializer %d: a reference to bytes outside its shared ring (offset %llu, %llu bytes)", i,
                   (unsigned long long)ref.off, (unsigned long long)ref.len);
          *status = RC_EXIT_FAILURE;
          return -1;
        }
        m = (void *)rc_shared_at(&w->shm, &ref);
        len = ref.len;
      }
      const uint8_t *payload;
      if (rc_frame_parse(m, len, &w->h, &payload, err, sizeof err) < 0 ||
          (w->h.kind != RC_FRAME_MESSAGES && (shared || w->h.kind != RC_FRAME_END))) {
        rc_error("from serializer %d: %s", i, w->h.kind == RC_FRAME_MESSAGES ? err : "unexpected frame");
        if (!shared) rc_pipe_msg_free(m);
        *status = RC_EXIT_FAILURE;
        return -1;
      }
      if (w->h.seq < p->expect_seq) {
        rc_error("serializer %d sent batch %llu after batch %llu was published", i,
                 (unsigned long long)w->h.seq, (unsigned long long)p->expect_seq - 1);
        if (!shared) rc_pipe_msg_free(m);
        *status = RC_EXIT_FAILURE;
        return -1;
      }
      w->msg = m;
      if (w->h.kind == RC_FRAME_MESSAGES) {
        w->frame = pub_frame_hold(p, m);
        if (shared) pub_frame_shared(p, w->frame, i, ref.end);
      }
      w->payload = payload;
      rc_frame_rd_init(&w->rd, payload, w->h.payload_len);
    }
    if (w->h.seq == p->expect_seq) return i;
  }
  return -1;
}

/* The producer, and the ring of in-flight messages sized by what it may hold. */
static int kafka_setup(publisher *p) {
  uint64_t max_msgs = 0;
  int status = pub_kafka_new(p->st.cfg, p, &p->rk, &max_msgs);
  if (status != RC_EXIT_OK) return status;
  p->queue_max = max_msgs;
  uint64_t ring = 1024;
  while (ring < max_msgs && ring < (1u << 22)) ring <<= 1;
  if (!(p->ring = calloc(ring, sizeof *p->ring))) return RC_EXIT_FAILURE;
  for (uint64_t i = 0; i < ring; i++) p->ring[i].frame = UINT32_MAX;
  pub_frames_init(p);
  p->ring_mask = ring - 1;
  if (pipe2(p->kafka_fd, O_CLOEXEC | O_NONBLOCK) != 0) return RC_EXIT_FAILURE;
  p->mainq = rd_kafka_queue_get_main(p->rk);
  rd_kafka_queue_io_event_enable(p->mainq, p->kafka_fd[1], "1", 1);
  return RC_EXIT_OK;
}

static int finish(publisher *p) {
  pub_recovery_end(&p->tp); /* the stream ended inside the recovery window */
  if (advance(p, 1) < 0) return RC_EXIT_FAILURE;
  double secs = (double)(rc_now_ns() - p->start_ns) / 1e9;
  char path[4200];
  snprintf(path, sizeof path, "%s/publisher.done", p->st.run_dir);
  size_t tables = p->tp.n; /* table topics: the transactions topic is not one */
  for (size_t i = 0; i < p->tp.n && p->txn_topic_len; i++)
    if (p->tp.v[i].len == p->txn_topic_len && !memcmp(p->tp.v[i].name, p->txn_topic, p->txn_topic_len)) tables--;
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "changes=%llu\ntables=%zu\nseconds=%.3f\ndone_ns=%llu\nkey_bytes=%llu\nvalue_bytes=%llu\nlatency_p50_us=%llu\nlatency_p99_us=%llu\nlatency_max_us=%llu\n"
               "commit_latency_p50_us=%llu\ncommit_latency_p99_us=%llu\ncommit_latency_max_us=%llu\n"
               "checkpoint=%s:%llu\nskipped=%llu\ntombstones=%llu\ntransaction_messages=%llu\nskipped_other=%llu\n",
            (unsigned long long)p->acked, tables, secs, (unsigned long long)rc_now_ns(),
            (unsigned long long)p->key_bytes, (unsigned long long)p->value_bytes,
            (unsigned long long)rc_hist_quantile(&p->lat, 0.5),
            (unsigned long long)rc_hist_quantile(&p->lat, 0.99), (unsigned long long)p->lat.max,
            (unsigned long long)rc_hist_quantile(&p->commit_lat, 0.5),
            (unsigned long long)rc_hist_quantile(&p->commit_lat, 0.99), (unsigned long long)p->commit_lat.max, p->cp.file,
            (unsigned long long)p->cp.pos, (unsigned long long)p->tp.skipped, (unsigned long long)p->tombstones,
            (unsigned long long)(p->meta_produced - p->tombstones), (unsigned long long)p->tp.skipped_other);
    fclose(f);
  }
  rc_info("all %llu changes acknowledged by Kafka; checkpoint %s:%llu", (unsigned long long)p->acked,
          p->cp.file, (unsigned long long)p->cp.pos);
  return RC_EXIT_OK;
}

/* Configuration, the checkpoint, the Kafka producer and the workers' pipes. Returns an exit
 * status. */
static int setup(publisher *p) {
  p->start_ns = rc_now_ns();
  p->current = -1;
  p->expect_seq = 1;
  p->nworkers = (int)rc_config_int(p->st.cfg, "serializer.workers");
  if (p->nworkers > MAX_WORKERS) p->nworkers = MAX_WORKERS;
  p->cp_interval_ns = (uint64_t)rc_config_int(p->st.cfg, "publisher.checkpoint_interval_ms") * 1000000ull;
  p->state_dir = rc_config_str(p->st.cfg, "state.dir");
  p->headers = (int)rc_config_int(p->st.cfg, "publisher.headers");
  p->txn_topic = rc_config_str(p->st.cfg, "publisher.transactions_topic");
  p->txn_topic_len = strlen(p->txn_topic);
  snprintf(p->schema_topic, sizeof p->schema_topic, "%s._schemas", rc_config_str(p->st.cfg, "publisher.topic_prefix"));
  char err[1024];
  if (rc_mkdirs(p->state_dir, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_CONFIG;
  }
  if (rc_checkpoint_read(p->state_dir, &p->cp, err, sizeof err) > 0) p->base_changes = p->cp.changes;
  int status = kafka_setup(p);
  if (status != RC_EXIT_OK) return status;
  char from[300];
  snprintf(from, sizeof from, "%s:%llu", p->cp.file[0] ? p->cp.file : "the start", (unsigned long long)p->cp.pos);
  int r = pub_topics_open(&p->tp, p->rk, p->state_dir, p->st.run_dir, from, err, sizeof err);
  if (r < 0) {
    rc_error("%s", err); /* a garbled topic list or skip table is a data error */
    return r == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
  }
  p->topics_open = 1;
  for (int i = 0; i < p->nworkers; i++) {
    char name[32], path[4200];
    snprintf(name, sizeof name, "publisher-%d", i);
    rc_stage_path(&p->st, path, sizeof path, name);
    p->w[i].sock = rc_pipe_open(0, path, 1, &p->st.pipe, err, sizeof err);
    if (p->w[i].sock < 0) {
      rc_error("%s", err);
      return RC_EXIT_FAILURE;
    }
    p->w[i].fd = rc_pipe_fd(p->w[i].sock, 1);
    if (i < p->st.nshared && p->st.shared_fd[i] >= 0) {
      worker_in *w = &p->w[i];
      if (rc_shared_map(&w->shm, p->st.shared_fd[i], err, sizeof err) < 0) {
        rc_error("serializer %d: %s", i, err);
        return RC_EXIT_FAILURE;
      }
      close(p->st.shared_fd[i]); /* the mapping keeps it */
      if (!(w->fifo_end = calloc(MAX_FRAMES, sizeof *w->fifo_end)) || !(w->fifo_done = calloc(MAX_FRAMES, 1)))
        return RC_EXIT_FAILURE;
    }
  }
  return RC_EXIT_OK;
}

enum { STEP_WAIT, STEP_AGAIN, STEP_DONE };

/* One turn of the loop, Kafka served: produce the frame in hand, or take the next frame in
 * order, or finish once the END was seen and every message is acknowledged. Returns STEP_AGAIN
 * (turn again at once), STEP_WAIT (poll fds[0 .. *nf) for up to *wait_ms), or STEP_DONE
 * (*status is how the run ends). */
static int step(publisher *p, struct pollfd *fds, int *nf, int *wait_ms, int *status) {
  if (p->current >= 0) {
    worker_in *w = &p->w[p->current];
    int r = produce_frame(p, w);
    if (r < 0) {
      *status = p->fatal ? p->fatal : RC_EXIT_FAILURE;
      return STEP_DONE;
    }
    if (r == 0) { /* librdkafka is full: wait for deliveries */
      *wait_ms = 100;
      return STEP_WAIT;
    }
    if (!(w->h.flags & RC_FRAME_MORE)) {
      p->expect_seq++;
      p->batches++;
    }
    gtid_keep(p); /* it points into the frame */
    pub_frame_unref(p, w->frame); /* freed when its last message is reported */
    w->msg = NULL;
    p->current = -1;
    return STEP_AGAIN;
  }
  if (p->ended) {
    if (p->acked_below == p->next_msg) {
      *status = finish(p);
      return STEP_DONE;
    }
    *wait_ms = 100;
    return STEP_WAIT;
  }
  int i = find_next(p, status);
  if (*status != RC_EXIT_OK) return STEP_DONE;
  if (i >= 0) {
    if (p->w[i].h.kind == RC_FRAME_END) {
      p->ended = 1;
      rc_pipe_msg_free(p->w[i].msg);
      p->w[i].msg = NULL;
    } else {
      p->current = i;
    }
    return STEP_AGAIN;
  }
  if (p->free_frame == MAX_FRAMES) { /* every frame held: only a delivery report frees one */
    *wait_ms = 100;
    return STEP_WAIT;
  }
  for (int k = 0; k < p->nworkers; k++)
    if (!p->w[k].msg) fds[(*nf)++] = (struct pollfd){.fd = p->w[k].fd, .events = POLLIN};
  return STEP_WAIT;
}

/* Stopping without the reader's END (SIGTERM, the supervisor gone, a failure): give what was
 * produced up to timeout_ms to be acknowledged (bounded: Kafka may be down), checkpoint what
 * was, and say what is left for the next start. */
static void stop_flush(publisher *p, int timeout_ms, const char *why) {
  if (!p->rk) return;
  pub_drain_kafka(p, timeout_ms); /* event-mode delivery reports: rd_kafka_flush would not serve them */
  advance(p, 1);
  uint64_t left = p->next_msg - p->acked_below;
  char rest[128] = "";
  if (left) snprintf(rest, sizeof rest, "; %llu produced but not acknowledged are sent again on the next start",
                     (unsigned long long)left);
  rc_info("%s: checkpoint at %s:%llu (%llu changes acknowledged by Kafka in all)%s", why,
          p->cp.file[0] ? p->cp.file : "(start)", (unsigned long long)p->cp.pos, (unsigned long long)p->cp.changes, rest);
}

/* The event loop: Kafka's deliveries, the checkpoint, the frames in order. Returns an exit
 * status. */
static int run(publisher *p) {
  struct pollfd fds[MAX_WORKERS + 1];
  int status = RC_EXIT_OK;
  for (;;) {
    serve_kafka(p);
    if (p->fatal) {
      rc_error("%s", p->fatal_msg);
      return p->fatal;
    }
    if (advance(p, 0) < 0) return RC_EXIT_FAILURE;
    watch_kafka(p);
    if (rc_stage_stopping(&p->st)) {
      stop_flush(p, 1000, "asked to stop");
      return RC_EXIT_FAILURE;
    }
    int nf = 0, wait_ms = -1;
    fds[nf++] = (struct pollfd){.fd = p->kafka_fd[0], .events = POLLIN};
    int s = step(p, fds, &nf, &wait_ms, &status);
    if (s == STEP_DONE) return status;
    if (s == STEP_WAIT && rc_stage_wait(&p->st, fds, nf, wait_ms) < 0) return RC_EXIT_FAILURE;
  }
}

int main(int argc, char **argv) {
  static publisher pub;
  publisher *p = &pub;
  int status = rc_stage_init(&p->st, "publisher", argc, argv);
  if (status != RC_EXIT_OK) return status;
  p->st.ctx = p;
  p->st.metrics_fn = metrics;
  if ((status = setup(p)) != RC_EXIT_OK) return status;
  status = run(p);
  if (status != RC_EXIT_OK && !rc_stage_stopping(&p->st))
    /* what was produced before the failure may still be acknowledged: let the checkpoint
     * follow it, so a restart repeats less (it never passes the failed message); with the
     * supervisor gone, briefly: a new rowcast may be waiting for this one to exit */
    stop_flush(p, p->st.parent_gone ? 500 : 5000, p->st.parent_gone ? "the supervisor is gone" : "stopping after an error");
  rc_stage_close(&p->st);
  if (p->topics_open) pub_topics_close(&p->tp);
  if (p->schema_rkt) rd_kafka_topic_destroy(p->schema_rkt);
  if (p->mainq) rd_kafka_queue_destroy(p->mainq);
  if (p->rk) rd_kafka_destroy(p->rk); /* before the frames: librdkafka points into them */
  for (int i = 0; i < p->nworkers; i++) {
    if (p->w[i].msg && p->w[i].h.kind != RC_FRAME_MESSAGES) rc_pipe_msg_free(p->w[i].msg);
    rc_pipe_close(p->w[i].sock);
  }
  for (int i = 0; i < MAX_FRAMES; i++)
    if (p->frames[i].msg && p->frames[i].shm_worker < 0) rc_pipe_msg_free(p->frames[i].msg);
  for (int i = 0; i < p->nworkers; i++) {
    rc_shared_unmap(&p->w[i].shm);
    free(p->w[i].fifo_end);
    free(p->w[i].fifo_done);
  }
  for (int i = 0; i < MAX_GROUPS; i++) free(p->groups[i].m);
  free(p->ring);
  free(p->markers);
  free(p->schemas);
  return status;
}
