/*
 * fuzz_frame.c: libFuzzer target over the frame parser of common/pipeline/frame.h, what every
 * stage runs on each message it takes from a pipe. The input is one frame: its header is parsed
 * strictly (rc_frame_parse), then its payload walked with the record reader of each tag, as the
 * serializer (EVENTS) and the publisher (MESSAGES) walk them. Input whose header is refused is
 * also walked as a bare payload of each kind, so that mutations reach the record readers without
 * first having to make a valid header.
 *
 * Oracles, beyond the sanitizers: a reader never moves outside the payload; a record it accepts
 * points inside the payload; and writing an accepted record back with its writer gives exactly
 * the bytes it was read from (the layout is written once, so reader and writer must agree).
 * Seeds: tests/fuzz/frame-seeds (one frame of each kind, every record kind).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static rc_buf out;

static void check_inside(const rc_frame_rd *rd, const void *p, size_t n) {
  const uint8_t *q = p;
  if (n && (!q || q < rd->rec || q + n > rd->end)) abort();
}

/* The record just read, from rd->rec to rd->p, must be what its writer writes. */
static void check_same(const rc_frame_rd *rd) {
  if (rd->p < rd->rec || rd->p > rd->end) abort();
  size_t n = (size_t)(rd->p - rd->rec);
  if (out.len != n || memcmp(out.p, rd->rec, n)) abort();
}

static void walk_events(rc_frame_rd *rd) {
  while (rc_frame_rd_more(rd)) {
    out.len = 0;
    switch (rc_frame_peek_tag(rd)) {
    case RC_REC_FILE: {
      rc_rec_file f = {0};
      if (rc_frame_get_file(rd, &f) < 0) return;
      check_inside(rd, f.name, f.len);
      rc_frame_put_file(&out, &f);
      break;
    }
    case RC_REC_FDE: {
      rc_rec_fde f = {0};
      if (rc_frame_get_fde(rd, &f) < 0) return;
      check_inside(rd, f.raw, f.len);
      rc_frame_put_fde(&out, &f);
      break;
    }
    case RC_REC_TMAP: {
      rc_rec_tmap t = {0};
      if (rc_frame_get_tmap(rd, &t) < 0) return;
      check_inside(rd, t.raw, t.len);
      rc_frame_put_tmap(&out, &t);
      if (out.len != rc_frame_size_tmap(&t)) abort();
      break;
    }
    case RC_REC_ROWS: {
      rc_rec_rows w = {0};
      if (rc_frame_get_rows(rd, &w) < 0) return;
      check_inside(rd, w.gtid, w.gtid_len);
      check_inside(rd, w.raw, w.raw_len);
      rc_frame_put_rows(&out, &w);
      if (out.len != rc_frame_size_rows(&w)) abort();
      break;
    }
    case RC_REC_TXN_END: {
      rc_rec_txn_end c = {0};
      if (rc_frame_get_txn_end(rd, &c) < 0) return;
      rc_frame_put_txn_end(&out, &c);
      break;
    }
    case RC_REC_TXN: {
      rc_rec_txn x = {0};
      if (rc_frame_get_txn(rd, &x) < 0) return;
      check_inside(rd, x.id, x.id_len);
      check_inside(rd, x.gtid, x.gtid_len);
      check_inside(rd, x.tables, x.tables_len);
      rc_frame_put_txn(&out, &x);
      if (out.len != rc_frame_size_txn(&x)) abort();
      break;
    }
    case RC_REC_TXN_ORDER: {
      rc_rec_txn_order o = {0};
      if (rc_frame_get_txn_order(rd, &o) < 0) return;
      check_inside(rd, o.id, o.id_len);
      rc_frame_put_txn_order(&out, &o);
      break;
    }
    case RC_REC_PROGRESS: {
      rc_rec_progress g = {0};
      if (rc_frame_get_progress(rd, &g) < 0) return;
      rc_frame_put_progress(&out, &g);
      break;
    }
    default:
      return;
    }
    check_same(rd);
  }
}

static void walk_messages(rc_frame_rd *rd) {
  while (rc_frame_rd_more(rd)) {
    out.len = 0;
    switch (rc_frame_peek_tag(rd)) {
    case RC_REC_MESSAGE: {
      rc_rec_message m = {0};
      if (rc_frame_get_message(rd, &m) < 0) return;
      check_inside(rd, m.topic, m.topic_len);
      check_inside(rd, m.key, m.key_len);
      check_inside(rd, m.value, m.value_len);
      check_inside(rd, m.file, m.file_len);
      check_inside(rd, m.gtid, m.gtid_len);
      if (!m.value) abort();
      rc_frame_put_message(&out, &m);
      break;
    }
    case RC_REC_BOUNDARY: {
      rc_rec_boundary c = {0};
      if (rc_frame_get_boundary(rd, &c) < 0) return;
      check_inside(rd, c.file, c.file_len);
      rc_frame_put_boundary(&out, &c);
      break;
    }
    case RC_REC_PROGRESS: {
      rc_rec_progress g = {0};
      if (rc_frame_get_progress(rd, &g) < 0) return;
      rc_frame_put_progress(&out, &g);
      break;
    }
    case RC_REC_SCHEMA: {
      rc_rec_schema sc = {0};
      if (rc_frame_get_schema(rd, &sc) < 0) return;
      check_inside(rd, sc.fingerprint, RC_REC_FINGERPRINT_LEN);
      check_inside(rd, sc.json, sc.json_len);
      rc_frame_put_schema(&out, &sc);
      break;
    }
    case RC_REC_TOMBSTONE: {
      rc_rec_tombstone z = {0};
      if (rc_frame_get_tombstone(rd, &z) < 0) return;
      check_inside(rd, z.topic, z.topic_len);
      check_inside(rd, z.key, z.key_len);
      check_inside(rd, z.file, z.file_len);
      if (!z.key) abort();
      rc_frame_put_tombstone(&out, &z);
      break;
    }
    default:
      return;
    }
    check_same(rd);
  }
}

static void walk(int kind, const uint8_t *payload, size_t len) {
  rc_frame_rd rd;
  rc_frame_rd_init(&rd, payload, len);
  if (kind == RC_FRAME_EVENTS) walk_events(&rd);
  else if (kind == RC_FRAME_MESSAGES) walk_messages(&rd);
  if (rd.p < payload || rd.p > payload + len) abort();
  if (rd.bad) {
    char why[256];
    rc_frame_rd_describe(&rd, payload, why, sizeof why);
    if (!memchr(why, 0, sizeof why)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  rc_frame_hdr h;
  const uint8_t *payload;
  /* a copy of exactly `size` bytes, so that a read past the end is caught by ASan */
  uint8_t *msg = malloc(size ? size : 1);
  if (!msg) abort();
  memcpy(msg, data, size);
  if (rc_frame_parse(msg, size, &h, &payload, err, sizeof err) == 0) {
    if (payload != msg + RC_FRAME_HDR_LEN || h.payload_len != size - RC_FRAME_HDR_LEN) abort();
    walk(h.kind, payload, (size_t)h.payload_len);
  } else {
    walk(RC_FRAME_EVENTS, msg, size);
    walk(RC_FRAME_MESSAGES, msg, size);
  }
  free(msg);
  return 0;
}
