/*
 * buf.h: a growable byte buffer, the output type of every formatter (JSON, Avro later).
 *
 * Appends never fail: on out-of-memory the process aborts (a formatter cannot do anything
 * useful without memory, and checking every append would cost a branch per byte on the hot
 * path). The buffer owns its memory; rc_buf_free releases it; `len` may be reset to reuse it.
 */
#ifndef RC_BUF_H
#define RC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rc_buf {
  char *p;
  size_t len;
  size_t cap;
  int borrowed; /* p is memory the buffer does not own (rc_buf_borrow): never realloc'd nor freed */
} rc_buf;

void rc_buf_grow(rc_buf *b, size_t need); /* make room for `need` more bytes */
void rc_buf_free(rc_buf *b);
/* Write into cap bytes at p that the caller owns; growing past them moves what was written into
 * memory of the buffer's own (b->borrowed is then 0). */
static inline void rc_buf_borrow(rc_buf *b, void *p, size_t cap) {
  b->p = p;
  b->len = 0;
  b->cap = cap;
  b->borrowed = 1;
}

static inline char *rc_buf_reserve(rc_buf *b, size_t n) {
  if (b->cap - b->len < n || !b->p) rc_buf_grow(b, n); /* never hand out NULL, even for 0 bytes */
  return b->p + b->len;
}
static inline void rc_buf_put(rc_buf *b, const void *p, size_t n) {
  if (!n) return; /* p may be NULL then */
  memcpy(rc_buf_reserve(b, n), p, n);
  b->len += n;
}
static inline void rc_buf_putc(rc_buf *b, char c) {
  *rc_buf_reserve(b, 1) = c;
  b->len++;
}
#define rc_buf_lit(b, s) rc_buf_put((b), (s), sizeof(s) - 1)
static inline void rc_buf_puts(rc_buf *b, const char *s) { rc_buf_put(b, s, strlen(s)); }

void rc_buf_printf(rc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_buf_u64(rc_buf *b, uint64_t v);          /* decimal */
void rc_buf_i64(rc_buf *b, int64_t v);           /* decimal, with '-' */
void rc_buf_uint_pad(rc_buf *b, uint64_t v, int width); /* decimal, zero-padded to width */
void rc_buf_base64(rc_buf *b, const uint8_t *p, size_t n);
void rc_buf_hex(rc_buf *b, const uint8_t *p, size_t n);
/* A JSON string literal (quotes included) of UTF-8 text; invalid UTF-8 becomes U+FFFD. */
void rc_buf_json_str(rc_buf *b, const char *s, size_t n);
/* Append s as valid UTF-8: each byte that does not start a valid sequence becomes U+FFFD (the
 * same text rc_buf_json_str quotes). */
void rc_buf_utf8_clean(rc_buf *b, const char *s, size_t n);
/* 1 when s is valid UTF-8 (what rc_buf_utf8_clean would copy unchanged), else 0. */
int rc_utf8_valid(const char *s, size_t n);
/* A URL as messages may show it: the password of its userinfo (scheme://user:password@host/...)
 * replaced by "(redacted)"; anything else copied. Truncated to out_size. */
void rc_url_redact(const char *url, char *out, size_t out_size);
/* Shortest JSON number that reads back as the same float / double. */
void rc_buf_json_float(rc_buf *b, float f);
void rc_buf_json_double(rc_buf *b, double d);

#endif
