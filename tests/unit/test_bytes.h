/*
 * test_bytes.h: a tiny byte builder for unit tests that write binlog events byte by byte
 * (test_binlog_info.c, test_binlog_fde.c).
 */
#ifndef RC_TEST_BYTES_H
#define RC_TEST_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  uint8_t p[2048];
  size_t n;
} bytes;
static inline void u8(bytes *b, unsigned v) { b->p[b->n++] = (uint8_t)v; }
static inline void le(bytes *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) u8(b, (unsigned)(v >> (8 * i)) & 0xFF);
}
static inline void raw(bytes *b, const void *s, size_t n) {
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static inline void str(bytes *b, const char *s) { raw(b, s, strlen(s)); }
/* MySQL serialization library varlen integers (MySQL 8.4's GTID_TAGGED) */
static inline void varlen(bytes *b, uint64_t v) {
  int bits = 0;
  for (uint64_t t = v; t; t >>= 1) bits++;
  int n = bits <= 7 ? 1 : bits <= 14 ? 2 : bits <= 21 ? 3 : bits <= 28 ? 4 : bits <= 35 ? 5
        : bits <= 42 ? 6 : bits <= 49 ? 7 : bits <= 56 ? 8 : 9;
  if (n == 9) {
    u8(b, 0xFF);
    le(b, v, 8);
    return;
  }
  le(b, (v << n) | ((1ull << (n - 1)) - 1), n);
}
static inline void varlen_signed(bytes *b, int64_t v) {
  varlen(b, v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1);
}

/* A GTID_TAGGED body as MySQL 8.4 writes it (fields 0..11: uuid, gno, the tag when not NULL,
 * commit times, sizes, versions), with its size field off by size_delta (0: right). */
static inline void tagged_gtid_body(bytes *b, const uint8_t uuid[16], int64_t gno, const char *tag, int size_delta) {
  bytes f = {{0}, 0};
  varlen(&f, 0), varlen(&f, 1);
  varlen(&f, 1);
  for (int i = 0; i < 16; i++) varlen(&f, uuid[i]);
  varlen(&f, 2), varlen_signed(&f, gno);
  if (tag) varlen(&f, 3), varlen(&f, strlen(tag)), str(&f, tag);
  varlen(&f, 4), varlen_signed(&f, 10);
  varlen(&f, 5), varlen_signed(&f, 11);
  varlen(&f, 6), varlen(&f, 1700000000123456ull);
  varlen(&f, 8), varlen(&f, 999);
  varlen(&f, 9), varlen(&f, 80400);
  varlen(&f, 11), varlen(&f, 0);
  b->n = 0;
  u8(b, 2); /* serialization version */
  /* the size counts the version byte, its own encoding, the last non-ignorable id, the fields */
  size_t size = 0;
  for (size_t k = 1; k <= 9; k++) {
    size = 1 + k + 1 + f.n;
    bytes t = {{0}, 0};
    varlen(&t, size);
    if (t.n == k) break;
  }
  varlen(b, size + (size_t)size_delta);
  varlen(b, 5); /* last non-ignorable field */
  raw(b, f.p, f.n);
}

#endif
