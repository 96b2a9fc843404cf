/*
 * binlog_info_int.h: what the files of `decode --events` share (binlog_info.c: the dispatcher,
 * QUERY and the other control events; binlog_info_gtid.c: the GTID events of MySQL and
 * MariaDB): the call's context, its error helper and the JSON writers. Private to the binlog
 * layer.
 */
#ifndef RC_BINLOG_INFO_INT_H
#define RC_BINLOG_INFO_INT_H

#include "binlog_info.h"
#include "binlog_int.h"

/* The largest text a QUERY_COMPRESSED event may unpack to (events are capped at 1 GiB). */
#define RC_MAX_QUERY_INFLATE ((size_t)1 << 30)

typedef struct {
  const rc_binlog *bl;
  const rc_event *ev;
  rc_buf *b;
  size_t mark; /* b->len on entry: restored on error */
  int nkeys;   /* keys written in the innermost open object */
  char *errstr;
  size_t es;
} info_ctx;

int rc_info_fail(info_ctx *x, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CORRUPT(...) return rc_info_fail(x, RC_ERR_CORRUPT, __VA_ARGS__)

/* ---- JSON helpers --------------------------------------------------------------------------- */

static inline void obj_open(info_ctx *x) {
  rc_buf_putc(x->b, '{');
  x->nkeys = 0;
}
/* Close an object; `outer_keys` restores the key count of the enclosing object. */
static inline void obj_close(info_ctx *x, int outer_keys) {
  rc_buf_putc(x->b, '}');
  x->nkeys = outer_keys;
}
static inline void key(info_ctx *x, const char *k) {
  if (x->nkeys++) rc_buf_putc(x->b, ',');
  rc_buf_putc(x->b, '"');
  rc_buf_puts(x->b, k);
  rc_buf_lit(x->b, "\":");
}
static inline void kv_u64(info_ctx *x, const char *k, uint64_t v) {
  key(x, k);
  rc_buf_u64(x->b, v);
}
static inline void kv_i64(info_ctx *x, const char *k, int64_t v) {
  key(x, k);
  rc_buf_i64(x->b, v);
}
static inline void kv_str(info_ctx *x, const char *k, const void *s, size_t n) {
  key(x, k);
  rc_buf_json_str(x->b, (const char *)s, n);
}
/* A byte string as a JSON string of hex digits. */
static inline void kv_hex(info_ctx *x, const char *k, const void *p, size_t n) {
  key(x, k);
  rc_buf_putc(x->b, '"');
  rc_buf_hex(x->b, p, n);
  rc_buf_putc(x->b, '"');
}
static inline void kv_bool(info_ctx *x, const char *k, int v) {
  key(x, k);
  if (v) rc_buf_lit(x->b, "true");
  else rc_buf_lit(x->b, "false");
}

static inline void put_uuid(rc_buf *b, const uint8_t *u) {
  static const char hx[] = "0123456789abcdef";
  char s[36];
  char *o = s;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hx[u[i] >> 4];
    *o++ = hx[u[i] & 15];
  }
  rc_buf_put(b, s, sizeof s);
}

/* Post-header length from the FORMAT_DESCRIPTION, or `dflt` when none is known (an event
 * before any FDE, or a type beyond the FDE's array). */
static inline int post_header(const info_ctx *x, int dflt) {
  int phl = rc_binlog_post_header_len(x->bl, x->ev->type);
  return phl < 0 ? dflt : phl;
}

/* The GTID events (binlog_info_gtid.c). */
int rc_info_previous_gtids(info_ctx *x);
int rc_info_gtid(info_ctx *x);
int rc_info_gtid_tagged(info_ctx *x);
int rc_info_maria_gtid(info_ctx *x);
int rc_info_gtid_list(info_ctx *x);

#endif
