/*
 * deliver.c: the publisher's held frames and delivery reports (publisher_int.h). Payloads are not
 * copied: a serializer frame stays held until every message in it has its report. Reports come
 * as events, an array at a time; what they carry is applied per run of equal values (the
 * latency histograms, the frame references), so the cost per acknowledged message is a ring
 * entry and a comparison.
 */
#include <stdio.h>

#include "clock.h"
#include "log.h"
#include "pipe.h"
#include "publisher_int.h"
#include "stage.h"

/* ---- held frames --------------------------------------------------------------------------- */

void pub_frames_init(publisher *p) {
  for (uint32_t i = 0; i < MAX_FRAMES; i++) p->frames[i].next_free = i + 1;
  p->free_frame = 0;
}

/* Hold a frame (one reference: the reader's); MAX_FRAMES when every slot is taken. */
uint32_t pub_frame_hold(publisher *p, void *msg) {
  uint32_t i = p->free_frame;
  if (i == MAX_FRAMES) return i;
  p->free_frame = p->frames[i].next_free;
  p->frames[i].msg = msg;
  p->frames[i].refs = 1;
  p->frames[i].shm_worker = -1;
  p->frames_held++;
  return i;
}

/* Held frame f of worker wi's shared ring: held until it is done (release order: arrival). */
void pub_frame_shared(publisher *p, uint32_t i, int wi, uint64_t end) {
  worker_in *w = &p->w[wi];
  held_frame *f = &p->frames[i];
  f->shm_worker = wi;
  f->fifo_at = w->fifo_tail++;
  w->fifo_end[f->fifo_at % MAX_FRAMES] = end;
  w->fifo_done[f->fifo_at % MAX_FRAMES] = 0;
}

/* A frame of a shared ring is done: give the ring back up to the oldest frame still held. */
static void shared_done(publisher *p, const held_frame *f) {
  worker_in *w = &p->w[f->shm_worker];
  w->fifo_done[f->fifo_at % MAX_FRAMES] = 1;
  uint64_t end = 0; /* a frame's end is never 0: it holds at least its header */
  while (w->fifo_head != w->fifo_tail && w->fifo_done[w->fifo_head % MAX_FRAMES])
    end = w->fifo_end[w->fifo_head++ % MAX_FRAMES];
  if (end) rc_shared_release(&w->shm, end);
}

void pub_frame_unref(publisher *p, uint32_t i) {
  held_frame *f = &p->frames[i];
  if (--f->refs) return;
  if (f->shm_worker >= 0) shared_done(p, f);
  else rc_pipe_msg_free(f->msg);
  f->msg = NULL;
  f->next_free = p->free_frame;
  p->free_frame = i;
  p->frames_held--;
}

/* ---- delivery reports, in bulk -------------------------------------------------------------- */

/* Acknowledged changes of equal latency, added to the histograms at once: the changes of one
 * rows event share their receipt and commit times, and a delivery report shares its clock
 * reading, so a report of a thousand changes costs a few histogram adds, not four thousand. */
typedef struct {
  uint64_t recv_ns, commit_us, n;
} ack_run;

static void ack_run_flush(publisher *p, ack_run *r, uint64_t now, uint64_t wall) {
  if (!r->n) return;
  uint64_t lat_us = now > r->recv_ns ? (now - r->recv_ns) / 1000 : 0;
  rc_hist_add_n(&p->lat, lat_us, r->n);
  rc_phist_add_n(&p->lat_buckets, lat_us, r->n);
  if (r->commit_us) {
    uint64_t commit_us = wall > r->commit_us ? wall - r->commit_us : 0;
    rc_hist_add_n(&p->commit_lat, commit_us, r->n);
    rc_phist_add_n(&p->commit_lat_buckets, commit_us, r->n);
    p->ack_commit_us = r->commit_us;
  }
  r->n = 0;
}

/* Frame references released by a delivery report: consecutive messages of one frame at once. */
typedef struct {
  uint32_t frame, n;
} unref_run;

static void unref_run_flush(publisher *p, unref_run *u) {
  if (!u->n) return;
  held_frame *f = &p->frames[u->frame];
  f->refs -= u->n - 1; /* the last one through frame_unref, which frees at zero */
  u->n = 0;
  pub_frame_unref(p, u->frame);
}

static inline void unref_run_add(publisher *p, unref_run *u, uint32_t fr) {
  if (fr == UINT32_MAX) return;
  if (u->n && u->frame != fr) unref_run_flush(p, u);
  u->frame = fr;
  u->n++;
}

static void delivered(publisher *p, const rd_kafka_message_t *m, ack_run *r, unref_run *u, uint64_t now,
                      uint64_t wall) {
  uint64_t no = (uint64_t)(uintptr_t)m->_private;
  if (m->err) {
    if (!p->fatal) {
      /* a message over message.max.bytes will never fit: retrying cannot help */
      p->fatal = m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? RC_EXIT_CONFIG : RC_EXIT_FAILURE;
      snprintf(p->fatal_msg, sizeof p->fatal_msg, "Kafka did not take a message for %s (%zu bytes): %s",
               rd_kafka_topic_name(m->rkt), m->len, rd_kafka_err2str(m->err));
    }
    return; /* its frame stays held: the publisher exits */
  }
  flight *f = &p->ring[no & p->ring_mask];
  if (no & META_MSG) {
    unref_run_add(p, u, f->frame);
    p->meta_acked++;
  } else if (!(no & SCHEMA_MSG)) {
    if (r->n && (r->recv_ns != f->recv_ns || r->commit_us != f->commit_us)) ack_run_flush(p, r, now, wall);
    r->recv_ns = f->recv_ns;
    r->commit_us = f->commit_us;
    r->n++;
    unref_run_add(p, u, f->frame);
    p->acked++;
  }
  f->frame = UINT32_MAX;
  f->recv_ns = 0;
}

/* Every event waiting on librdkafka's main queue (up to timeout_ms for the first): delivery
 * reports an array at a time, one clock reading per event; errors logged, a fatal one fatal. */
void pub_serve_events(publisher *p, int timeout_ms) {
  rd_kafka_event_t *ev;
  while ((ev = rd_kafka_queue_poll(p->mainq, timeout_ms))) {
    timeout_ms = 0;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
      const rd_kafka_message_t *ms[512];
      uint64_t now = rc_now_ns(), wall = rc_wall_ns() / 1000;
      ack_run r = {0, 0, 0};
      unref_run u = {0, 0};
      size_t n;
      while ((n = rd_kafka_event_message_array(ev, ms, sizeof ms / sizeof ms[0])) > 0)
        for (size_t i = 0; i < n; i++) delivered(p, ms[i], &r, &u, now, wall);
      ack_run_flush(p, &r, now, wall);
      unref_run_flush(p, &u);
    } else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR) {
      rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
      if (rd_kafka_event_error_is_fatal(ev) && !p->fatal) {
        p->fatal = RC_EXIT_FAILURE;
        snprintf(p->fatal_msg, sizeof p->fatal_msg, "Kafka: fatal error (%s): %s", rd_kafka_err2name(e),
                 rd_kafka_event_error_string(ev));
      } else {
        rc_error("Kafka: ERROR: %s", rd_kafka_event_error_string(ev));
      }
    }
    rd_kafka_event_destroy(ev);
  }
}

/* Wait up to timeout_ms for librdkafka to report every message handed to it (rd_kafka_flush
 * cannot: with delivery reports as events it would wait for us to serve them). */
void pub_drain_kafka(publisher *p, int timeout_ms) {
  uint64_t until = rc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (rd_kafka_outq_len(p->rk) > 0 && rc_now_ns() < until) pub_serve_events(p, 100);
  pub_serve_events(p, 0);
}
