/* buf.c: growable buffer and the number/string formatters every JSON writer shares. */
#include "buf.h"

#include "dtoa.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rc_buf_grow(rc_buf *b, size_t need) {
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < need) cap *= 2;
  char *p = b->borrowed ? malloc(cap) : realloc(b->p, cap);
  if (p && b->borrowed) {
    if (b->len) memcpy(p, b->p, b->len);
    b->borrowed = 0;
  }
  if (!p) {
    fprintf(stderr, "rowcast: out of memory growing a buffer to %zu bytes\n", cap);
    abort();
  }
  b->p = p;
  b->cap = cap;
}

void rc_buf_free(rc_buf *b) {
  if (!b->borrowed) free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->borrowed = 0;
}

void rc_buf_printf(rc_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(rc_buf_reserve(b, 64), 64, fmt, ap);
  va_end(ap);
  if (n >= 64) {
    va_start(ap, fmt);
    vsnprintf(rc_buf_reserve(b, (size_t)n + 1), (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  if (n > 0) b->len += (size_t)n;
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

void rc_buf_u64(rc_buf *b, uint64_t v) {
  if (v < 10) {
    rc_buf_putc(b, (char)('0' + v));
    return;
  }
  char tmp[20];
  int i = 20;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    tmp[--i] = digits2[r * 2 + 1];
    tmp[--i] = digits2[r * 2];
  }
  if (v >= 10) {
    tmp[--i] = digits2[v * 2 + 1];
    tmp[--i] = digits2[v * 2];
  } else {
    tmp[--i] = (char)('0' + v);
  }
  rc_buf_put(b, tmp + i, (size_t)(20 - i));
}

void rc_buf_i64(rc_buf *b, int64_t v) {
  if (v < 0) {
    rc_buf_putc(b, '-');
    rc_buf_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    rc_buf_u64(b, (uint64_t)v);
  }
}

void rc_buf_uint_pad(rc_buf *b, uint64_t v, int width) {
  char tmp[24];
  int i = 24;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  while (24 - i < width && i > 0) tmp[--i] = '0';
  rc_buf_put(b, tmp + i, (size_t)(24 - i));
}

void rc_buf_base64(rc_buf *b, const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *o = rc_buf_reserve(b, (n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = tab[(v >> 6) & 63];
    *o++ = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  b->len = (size_t)(o - b->p);
}

void rc_buf_hex(rc_buf *b, const uint8_t *p, size_t n) {
  static const char hx[] = "0123456789abcdef";
  char *o = rc_buf_reserve(b, n * 2);
  for (size_t i = 0; i < n; i++) {
    *o++ = hx[p[i] >> 4];
    *o++ = hx[p[i] & 15];
  }
  b->len += n * 2;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/* Copy the UTF-8 sequence at s[*i] to o, or U+FFFD (3 bytes) for one byte that starts none;
 * advance *i past what was read and return the new end of o. */
static inline char *utf8_copy_one(char *o, const uint8_t *s, size_t *i, size_t n) {
  size_t l = utf8_seq(s + *i, n - *i);
  if (l == 0) {
    *o++ = (char)0xEF, *o++ = (char)0xBF, *o++ = (char)0xBD;
    (*i)++;
    return o;
  }
  memcpy(o, s + *i, l);
  *i += l;
  return o + l;
}

int rc_utf8_valid(const char *str, size_t n) {
  const uint8_t *s = (const uint8_t *)str;
  size_t i = 0;
  while (i < n) {
    uint64_t w; /* eight ASCII bytes at a time: most text is */
    if (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) {
      i += 8;
      continue;
    }
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t l = utf8_seq(s + i, n - i);
    if (!l) return 0;
    i += l;
  }
  return 1;
}

void rc_buf_json_str(rc_buf *b, const char *str, size_t n) {
  static const char hx[] = "0123456789abcdef";
  const uint8_t *s = (const uint8_t *)str;
  /* worst case: every byte becomes \u00XX (6) or U+FFFD (3 bytes) */
  char *o = rc_buf_reserve(b, n * 6 + 2);
  *o++ = '"';
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *o++ = (char)c;
      i++;
      continue;
    }
    if (c >= 0x80) {
      o = utf8_copy_one(o, s, &i, n);
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    default:
      *o++ = 'u', *o++ = '0', *o++ = '0';
      *o++ = hx[c >> 4];
      *o++ = hx[c & 15];
    }
    i++;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->p);
}

void rc_buf_utf8_clean(rc_buf *b, const char *str, size_t n) {
  const uint8_t *s = (const uint8_t *)str;
  char *o = rc_buf_reserve(b, n * 3); /* worst case: every byte becomes U+FFFD */
  size_t i = 0;
  while (i < n) {
    size_t run = i; /* copy runs of ASCII at once */
    while (run < n && s[run] < 0x80) run++;
    if (run > i) {
      memcpy(o, s + i, run - i);
      o += run - i;
      i = run;
      continue;
    }
    o = utf8_copy_one(o, s, &i, n);
  }
  b->len = (size_t)(o - b->p);
}

void rc_buf_json_float(rc_buf *b, float f) {
  if (!isfinite(f)) { /* MySQL cannot store these; JSON has no form for them */
    rc_buf_lit(b, "null");
    return;
  }
  char tmp[RC_DTOA_BUF];
  rc_buf_put(b, tmp, (size_t)rc_dtoa_float(f, tmp));
}

void rc_buf_json_double(rc_buf *b, double d) {
  if (!isfinite(d)) {
    rc_buf_lit(b, "null");
    return;
  }
  char tmp[RC_DTOA_BUF];
  rc_buf_put(b, tmp, (size_t)rc_dtoa_double(d, tmp));
}

void rc_url_redact(const char *url, char *out, size_t size) {
  const char *scheme = strstr(url, "://");
  const char *start = scheme ? scheme + 3 : url;
  size_t auth = strcspn(start, "/?#"); /* the authority: [user[:password]@]host[:port] */
  const char *at = memrchr(start, '@', auth), *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
  if (colon)
    snprintf(out, size, "%.*s(redacted)%s", (int)(colon + 1 - url), url, at);
  else
    snprintf(out, size, "%s", url);
}
