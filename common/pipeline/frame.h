/*
 * frame.h: the messages between stages. Every nanomsg message is one frame: a fixed 32-byte
 * little-endian header, then the payload.
 *
 *   magic u32 "RCF1" | version u16 | kind u16 | seq u64 | count u32 | flags u32 | payload_len u64
 *
 * `seq` is the batch sequence number the reader stamped; `count` the changes (or messages) the
 * frame holds; flags RC_FRAME_MORE means more parts of the same batch follow (a serializer cuts
 * a batch whose messages would not fit in one pipe message). Frames are parsed strictly: an
 * unknown magic or version, a short frame or a length that does not add up is an error.
 *
 * Payloads are sequences of records (a tag byte, then fixed fields and length-prefixed bytes),
 * written with rc_frame_put_* and read with a bounds-checked rc_frame_rd.
 */
#ifndef RC_FRAME_H
#define RC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RC_FRAME_MAGIC 0x31464352u /* "RCF1" little-endian */
#define RC_FRAME_VERSION 1
#define RC_FRAME_HDR_LEN 32

enum {
  RC_FRAME_EVENTS = 1,   /* reader -> serializer: raw binlog events of one batch */
  RC_FRAME_MESSAGES = 2, /* serializer -> publisher: Kafka messages of one batch */
  RC_FRAME_END = 3,      /* reader -> serializer -> publisher: no batch after this one */
  RC_FRAME_METRICS = 4,  /* any stage -> supervisor: one metrics snapshot (text) */
};

enum { RC_FRAME_MORE = 1 };

typedef struct rc_frame_hdr {
  uint16_t version;
  uint16_t kind;
  uint64_t seq;
  uint32_t count;
  uint32_t flags;
  uint64_t payload_len;
} rc_frame_hdr;

/* Start a frame in b (b->len is reset): the header is written by rc_frame_finish. */
void rc_frame_begin(rc_buf *b, int kind, uint64_t seq);
void rc_frame_finish(rc_buf *b, uint32_t count, uint32_t flags);
/* Check and read a frame's header; *payload points into msg. */
int rc_frame_parse(const void *msg, size_t len, rc_frame_hdr *h, const uint8_t **payload,
                   char *errstr, size_t errstr_size);
const char *rc_frame_kind_name(int kind);

/* Record writers (little-endian). */
static inline void rc_frame_put_u8(rc_buf *b, uint8_t v) { rc_buf_putc(b, (char)v); }
void rc_frame_put_u16(rc_buf *b, uint16_t v);
void rc_frame_put_u32(rc_buf *b, uint32_t v);
void rc_frame_put_u64(rc_buf *b, uint64_t v);
void rc_frame_put_str16(rc_buf *b, const char *s, size_t n); /* u16 length + bytes */
void rc_frame_put_bytes32(rc_buf *b, const void *p, size_t n); /* u32 length + bytes */

/* A bounds-checked reader over a payload: every get sets `bad` on a short read. */
typedef struct rc_frame_rd {
  const uint8_t *p, *end;
  int bad;
} rc_frame_rd;

uint8_t rc_frame_get_u8(rc_frame_rd *r);
uint16_t rc_frame_get_u16(rc_frame_rd *r);
uint32_t rc_frame_get_u32(rc_frame_rd *r);
uint64_t rc_frame_get_u64(rc_frame_rd *r);
/* Length-prefixed bytes: returns a pointer into the payload and sets *n. */
const uint8_t *rc_frame_get_str16(rc_frame_rd *r, size_t *n);
const uint8_t *rc_frame_get_bytes32(rc_frame_rd *r, size_t *n);
#define RC_FRAME_NULL32 0xFFFFFFFFu /* a bytes32 length meaning NULL (a null Kafka key) */

#endif
