/* frame.c: writing and strictly parsing the frames of frame.h. */
#include "frame.h"

#include <stdio.h>

#include "rc_err.h"

static void put_le(rc_buf *b, uint64_t v, int n) {
  char *o = rc_buf_reserve(b, (size_t)n);
  for (int i = 0; i < n; i++) o[i] = (char)(v >> (8 * i));
  b->len += (size_t)n;
}

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

void rc_frame_put_u16(rc_buf *b, uint16_t v) { put_le(b, v, 2); }
void rc_frame_put_u32(rc_buf *b, uint32_t v) { put_le(b, v, 4); }
void rc_frame_put_u64(rc_buf *b, uint64_t v) { put_le(b, v, 8); }

void rc_frame_put_str16(rc_buf *b, const char *s, size_t n) {
  if (n > 0xFFFF) n = 0xFFFF; /* names (files, topics, GTIDs) are far shorter */
  put_le(b, n, 2);
  rc_buf_put(b, s, n);
}

void rc_frame_put_bytes32(rc_buf *b, const void *p, size_t n) {
  put_le(b, n, 4);
  rc_buf_put(b, p, n);
}

void rc_frame_begin(rc_buf *b, int kind, uint64_t seq) {
  b->len = 0;
  put_le(b, RC_FRAME_MAGIC, 4);
  put_le(b, RC_FRAME_VERSION, 2);
  put_le(b, (uint64_t)kind, 2);
  put_le(b, seq, 8);
  put_le(b, 0, 4);
  put_le(b, 0, 4);
  put_le(b, 0, 8);
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

static const uint8_t *take(rc_frame_rd *r, size_t n) {
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *q = r->p;
  r->p += n;
  return q;
}

uint8_t rc_frame_get_u8(rc_frame_rd *r) {
  const uint8_t *q = take(r, 1);
  return q ? q[0] : 0;
}
uint16_t rc_frame_get_u16(rc_frame_rd *r) {
  const uint8_t *q = take(r, 2);
  return q ? (uint16_t)get_le(q, 2) : 0;
}
uint32_t rc_frame_get_u32(rc_frame_rd *r) {
  const uint8_t *q = take(r, 4);
  return q ? (uint32_t)get_le(q, 4) : 0;
}
uint64_t rc_frame_get_u64(rc_frame_rd *r) {
  const uint8_t *q = take(r, 8);
  return q ? get_le(q, 8) : 0;
}
const uint8_t *rc_frame_get_str16(rc_frame_rd *r, size_t *n) {
  *n = rc_frame_get_u16(r);
  return take(r, *n);
}
const uint8_t *rc_frame_get_bytes32(rc_frame_rd *r, size_t *n) {
  uint32_t l = rc_frame_get_u32(r);
  if (l == RC_FRAME_NULL32) {
    *n = 0;
    return NULL;
  }
  *n = l;
  return take(r, l);
}
