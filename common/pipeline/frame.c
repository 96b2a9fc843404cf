/*
 * frame.c: the frame header of frame.h, written and strictly parsed, and the description of a
 * malformed record. The record writers and readers are static inline in frame.h. Called by
 * every stage; owns no memory (frames are built in the caller's rc_buf).
 */
#include "frame.h"

#include <stdio.h>

#include "rc_err.h"

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

void rc_frame_begin(rc_buf *b, int kind, uint64_t seq) {
  b->len = 0;
  rc_frame_put_le(b, RC_FRAME_MAGIC, 4);
  rc_frame_put_le(b, RC_FRAME_VERSION, 2);
  rc_frame_put_le(b, (uint64_t)kind, 2);
  rc_frame_put_le(b, seq, 8);
  rc_frame_put_le(b, 0, 4);
  rc_frame_put_le(b, 0, 4);
  rc_frame_put_le(b, 0, 8);
}

void rc_frame_finish(rc_buf *b, uint32_t count, uint32_t flags) {
  uint8_t *h = (uint8_t *)b->p;
  uint64_t plen = b->len - RC_FRAME_HDR_LEN;
  for (int i = 0; i < 4; i++) h[16 + i] = (uint8_t)(count >> (8 * i));
  for (int i = 0; i < 4; i++) h[20 + i] = (uint8_t)(flags >> (8 * i));
  for (int i = 0; i < 8; i++) h[24 + i] = (uint8_t)(plen >> (8 * i));
}

const char *rc_frame_kind_name(int kind) {
  switch (kind) {
  case RC_FRAME_EVENTS: return "events";
  case RC_FRAME_MESSAGES: return "messages";
  case RC_FRAME_END: return "end";
  case RC_FRAME_METRICS: return "metrics";
  default: return "unknown";
  }
}

int rc_frame_parse(const void *msg, size_t len, rc_frame_hdr *h, const uint8_t **payload,
                   char *errstr, size_t es) {
  const uint8_t *p = msg;
  if (len < RC_FRAME_HDR_LEN)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "short frame: %zu bytes, the header alone is %d", len,
                   RC_FRAME_HDR_LEN);
  uint32_t magic = (uint32_t)get_le(p, 4);
  if (magic != RC_FRAME_MAGIC)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "not a rowcast frame: magic %08x, expected %08x", magic,
                   RC_FRAME_MAGIC);
  h->version = (uint16_t)get_le(p + 4, 2);
  if (h->version != RC_FRAME_VERSION)
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "frame format version %u, this rowcast speaks version %d (mixed rowcast versions in one group?)",
                   h->version, RC_FRAME_VERSION);
  h->kind = (uint16_t)get_le(p + 6, 2);
  h->seq = get_le(p + 8, 8);
  h->count = (uint32_t)get_le(p + 16, 4);
  h->flags = (uint32_t)get_le(p + 20, 4);
  h->payload_len = get_le(p + 24, 8);
  if (h->kind < RC_FRAME_EVENTS || h->kind > RC_FRAME_METRICS)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "unknown frame kind %u", h->kind);
  if (h->payload_len != len - RC_FRAME_HDR_LEN)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "frame %s #%llu says %llu payload bytes, it has %zu",
                   rc_frame_kind_name(h->kind), (unsigned long long)h->seq,
                   (unsigned long long)h->payload_len, len - RC_FRAME_HDR_LEN);
  *payload = p + RC_FRAME_HDR_LEN;
  return 0;
}

void rc_frame_rd_describe(const rc_frame_rd *r, const uint8_t *payload, char *out, size_t out_size) {
  const uint8_t *rec = r->rec ? r->rec : r->p;
  size_t at = (size_t)(rec - payload);
  if (rec >= r->end) {
    snprintf(out, out_size, "at payload byte %zu: %s", at, r->why ? r->why : "ends early");
    return;
  }
  int tag = rec[0];
  if (tag >= 0x21 && tag < 0x7f)
    snprintf(out, out_size, "record '%c' at payload byte %zu: %s", tag, at, r->why ? r->why : "ends early");
  else
    snprintf(out, out_size, "record with tag 0x%02x at payload byte %zu: %s", tag, at,
             r->why ? r->why : "ends early");
}
