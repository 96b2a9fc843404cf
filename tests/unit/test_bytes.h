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

#endif
