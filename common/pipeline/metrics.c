/* metrics.c: the histograms and snapshot lines of metrics.h. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_err.h"


static unsigned bucket_of(uint64_t v) {
  if (v < RC_HIST_SUB) return (unsigned)v;
  unsigned p = 63u - (unsigned)__builtin_clzll(v); /* v >= 8: p >= 3 */
  unsigned sub = (unsigned)(v >> (p - 3)) & (RC_HIST_SUB - 1);
  unsigned b = (p - 2) * RC_HIST_SUB + sub;
  return b < RC_HIST_BUCKETS ? b : RC_HIST_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned b) {
  if (b < RC_HIST_SUB) return b;
  unsigned p = b / RC_HIST_SUB + 2, sub = b % RC_HIST_SUB;
  return ((uint64_t)(RC_HIST_SUB + sub + 1) << (p - 3)) - 1;
}

void rc_hist_add(rc_hist *h, uint64_t us) { rc_hist_add_n(h, us, 1); }

void rc_hist_add_n(rc_hist *h, uint64_t us, uint64_t n) {
  h->n[bucket_of(us)] += n;
  h->count += n;
  if (us > h->max) h->max = us;
}

uint64_t rc_hist_quantile(const rc_hist *h, double q) {
  if (!h->count) return 0;
  uint64_t want = (uint64_t)(q * (double)h->count + 0.5);
  if (want < 1) want = 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < RC_HIST_BUCKETS; b++) {
    seen += h->n[b];
    if (seen >= want) {
      uint64_t u = bucket_upper(b);
      return u < h->max ? u : h->max;
    }
  }
  return h->max;
}

/* 1 ms to 5 min: what a change's way from the binlog to Kafka's acknowledgement spans, from a
 * quiet server (milliseconds) to a backlog after a restart (minutes). */
const uint64_t rc_phist_bounds_us[RC_PHIST_NB] = {
    1000,    2500,    5000,     10000,    25000,    50000,     100000,    250000,   500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000, 300000000};

void rc_phist_add(rc_phist *h, uint64_t us) { rc_phist_add_n(h, us, 1); }

void rc_phist_add_n(rc_phist *h, uint64_t us, uint64_t n) {
  unsigned i = h->hint;
  if (i > RC_PHIST_NB || (i < RC_PHIST_NB && us > rc_phist_bounds_us[i]) || (i > 0 && us <= rc_phist_bounds_us[i - 1])) {
    i = 0;
    while (i < RC_PHIST_NB && us > rc_phist_bounds_us[i]) i++;
    h->hint = i;
  }
  h->n[i] += n;
  h->count += n;
  h->sum_us += us * n;
}

void rc_phist_put(rc_buf *b, const char *name, const rc_phist *h) {
  rc_buf_lit(b, "hist ");
  rc_buf_puts(b, name);
  rc_buf_putc(b, ' ');
  rc_buf_u64(b, h->count);
  rc_buf_putc(b, ' ');
  rc_buf_u64(b, h->sum_us);
  for (unsigned i = 0; i <= RC_PHIST_NB; i++) {
    rc_buf_putc(b, ' ');
    rc_buf_u64(b, h->n[i]);
  }
  rc_buf_putc(b, '\n');
}

/* The unsigned decimal at *p, which must be followed by a space, a newline or the end. */
static int parse_u64(const char **p, uint64_t *v) {
  const char *s = *p;
  if (*s < '0' || *s > '9') return -1;
  char *end;
  unsigned long long x = strtoull(s, &end, 10);
  if (*end && *end != ' ' && *end != '\n') return -1;
  *v = x;
  *p = *end == ' ' ? end + 1 : end;
  return 0;
}

int rc_phist_parse(const char *line, char *name, size_t name_size, rc_phist *h) {
  if (strncmp(line, "hist ", 5)) return RC_ERR_CORRUPT;
  const char *p = line + 5;
  size_t n = strcspn(p, " \n");
  if (!n || n >= name_size || p[n] != ' ') return RC_ERR_CORRUPT;
  memcpy(name, p, n);
  name[n] = 0;
  p += n + 1;
  memset(h, 0, sizeof *h);
  if (parse_u64(&p, &h->count) < 0 || parse_u64(&p, &h->sum_us) < 0) return RC_ERR_CORRUPT;
  uint64_t total = 0;
  for (unsigned i = 0; i <= RC_PHIST_NB; i++) {
    if (parse_u64(&p, &h->n[i]) < 0) return RC_ERR_CORRUPT;
    total += h->n[i];
  }
  return total == h->count && (*p == 0 || *p == '\n') ? 0 : RC_ERR_CORRUPT;
}

void rc_metric_put_table(rc_buf *b, const char *name, uint64_t changes, uint64_t bytes) {
  rc_buf_lit(b, "table ");
  rc_buf_u64(b, changes);
  rc_buf_putc(b, ' ');
  rc_buf_u64(b, bytes);
  rc_buf_putc(b, ' ');
  for (const char *s = name; *s; s++) rc_buf_putc(b, *s == '\n' ? '?' : *s);
  rc_buf_putc(b, '\n');
}
