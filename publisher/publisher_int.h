/*
 * publisher_int.h: the publisher's state, shared by its files (private to rowcast-publisher):
 * publisher.c (the loop: frames in order, routing, produce_batch, the checkpoint) and deliver.c
 * (the held frames and the delivery reports, in bulk).
 */
#ifndef RC_PUBLISHER_INT_H
#define RC_PUBLISHER_INT_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "checkpoint.h"
#include "frame.h"
#include "metrics.h"
#include "shared.h"
#include "stage.h"
#include "topics.h"

#define MAX_WORKERS 64
/* Frames held until every message in them has its delivery report (payloads are not copied):
 * at most this many, which with librdkafka's queue limits bounds the memory. */
#define MAX_FRAMES 1024
/* Changes routed but not yet handed to librdkafka: handed over per topic-partition, in batches. */
#define PEND_MAX 4096
#define MAX_GROUPS 256
#define GROUP_SLOTS 1024 /* (topic, partition) to group, a power of two */
/* Message numbers with this bit are schema-topic messages, not changes (the ring ignores it). */
#define SCHEMA_MSG (1ull << 62)
/* ... and with this bit, tombstones and transaction messages: in the ring, not changes. */
#define META_MSG (1ull << 61)

/* A serializer frame whose payload librdkafka still points into: a nanomsg message, or bytes
 * of a worker's shared ring (shared.h). */
typedef struct {
  void *msg;
  uint32_t refs; /* its messages not yet reported, plus one while it is being read */
  uint32_t next_free;
  int32_t shm_worker; /* the worker whose ring holds it, or -1 (a nanomsg message) */
  uint32_t fifo_at;   /* its place in that worker's release order */
} held_frame;

/* One in-flight message, in the ring indexed by message number: one cache line holds what its
 * delivery report needs (three arrays cost three misses per message, at produce and at report). */
typedef struct {
  uint64_t recv_ns;   /* reader receipt (CLOCK_MONOTONIC); 0: acknowledged */
  uint64_t commit_us; /* binlog commit time, microseconds since 1970 (0: none) */
  uint32_t frame;     /* the held frame of its payload (UINT32_MAX: none) */
} flight;

/* Changes of one topic-partition waiting for rd_kafka_produce_batch, in stream order. */
typedef struct {
  rd_kafka_topic_t *rkt;
  int32_t part;
  rd_kafka_message_t *m; /* [cap] */
  int n, sent, cap;
} pend_group;

typedef struct {
  int sock, fd;
  void *msg;            /* the frame being held or consumed (nanomsg message) */
  uint32_t frame;       /* its held_frame, while msg is a MESSAGES frame */
  rc_frame_hdr h;
  const uint8_t *payload;
  rc_frame_rd rd;       /* where we are in its payload */
  /* the worker's shared ring (unmapped: none), and its frames held, in the order they came:
   * the ring is given back up to the end of the oldest ones that are done */
  rc_shared shm;
  uint64_t *fifo_end; /* [MAX_FRAMES]: each frame's end in the ring */
  uint8_t *fifo_done; /* [MAX_FRAMES] */
  uint32_t fifo_head, fifo_tail;
} worker_in;

typedef struct {
  uint64_t msg_no;  /* messages numbered below this must be acknowledged */
  uint64_t changes; /* changes produced before it in this run */
  char file[256];
  uint64_t pos;
  char gtid[128]; /* GTID of the last change before it ("" none): folded into the checkpoint */
  uint64_t snapshot; /* snapshot progress recorded at it (0: none) */
} marker;

typedef struct {
  rc_stage st;
  rd_kafka_t *rk;
  int kafka_fd[2]; /* librdkafka's main queue wakes us through this pipe */
  worker_in w[MAX_WORKERS];
  int nworkers;
  int current; /* worker whose frame is being produced, or -1 */
  uint64_t expect_seq;
  flight *ring; /* in-flight messages, indexed by message number & ring_mask */
  held_frame frames[MAX_FRAMES];
  uint32_t free_frame, frames_held; /* free list head (MAX_FRAMES: empty) */
  pend_group groups[MAX_GROUPS];
  int ngroups;
  uint16_t group_slot[GROUP_SLOTS];
  size_t npend;
  rd_kafka_queue_t *mainq;
  uint64_t ring_mask;
  uint64_t next_msg, acked_below;
  marker *markers;
  char last_gtid[128]; /* GTID of the last change produced (for the next marker) */
  const char *gtid_at; /* ... when it is still in the frame being read (note_gtid), else NULL */
  size_t gtid_len;
  size_t m_head, m_tail, m_cap;
  rc_checkpoint cp;
  uint64_t base_changes; /* acknowledged before this run (from the checkpoint) */
  int cp_dirty;
  uint64_t cp_written_ns, cp_interval_ns;
  const char *state_dir;
  int ended;
  int fatal; /* set by a delivery report: exit status */
  char fatal_msg[1024];
  /* the table topics, their partition counts, the recovery skip (topics.h) */
  pub_topics tp;
  int topics_open;
  rd_kafka_topic_t *schema_rkt;
  int headers; /* publisher.headers: the position in message headers too */
  const char *txn_topic; /* publisher.transactions_topic ("" off) */
  size_t txn_topic_len;
  uint64_t meta_produced, meta_acked, tombstones; /* tombstones and transaction messages */
  /* schemas published to the schema topic (fingerprints, hex), each once per run */
  char (*schemas)[17];
  size_t nschemas;
  char schema_topic[300];
  uint64_t schema_msgs;
  /* metrics */
  uint64_t produced, acked, queue_full_waits, batches;
  uint64_t key_bytes, value_bytes; /* of the changes produced */
  rc_hist lat;        /* reader receipt to Kafka acknowledgement (one clock: CLOCK_MONOTONIC) */
  rc_hist commit_lat; /* binlog commit time to acknowledgement (server clock vs ours) */
  rc_phist lat_buckets, commit_lat_buckets; /* the same two, in Prometheus' fixed buckets */
  uint64_t start_ns;
  /* watch_kafka: since when messages wait with no acknowledgement, and the last report */
  uint64_t watch_acked, watch_since_ns, watch_logged_ns;
  uint64_t queue_max;     /* librdkafka's queue.buffering.max.messages, for stats */
  uint64_t ack_commit_us; /* commit time of the last change acknowledged (lag, in stats) */
} publisher;

/* ---- deliver.c ------------------------------------------------------------------------------ */

/* The held frames' free list, empty. */
void pub_frames_init(publisher *p);
/* Hold a frame (one reference: the reader's); MAX_FRAMES when every slot is taken. */
uint32_t pub_frame_hold(publisher *p, void *msg);
/* Drop one reference of held frame i: freed (the nanomsg message) at the last. */
void pub_frame_unref(publisher *p, uint32_t i);
/* Held frame i lies in worker wi's shared ring, up to byte position end. */
void pub_frame_shared(publisher *p, uint32_t i, int wi, uint64_t end);
/* Every event waiting on librdkafka's main queue (up to timeout_ms for the first): delivery
 * reports an array at a time, one clock reading per event; errors logged, a fatal one in
 * p->fatal. */
void pub_serve_events(publisher *p, int timeout_ms);
/* Wait up to timeout_ms for librdkafka to report every message handed to it (rd_kafka_flush
 * cannot: with delivery reports as events it would wait for us to serve them). */
void pub_drain_kafka(publisher *p, int timeout_ms);

#endif
