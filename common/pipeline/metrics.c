/* metrics.c: the histogram and clocks of metrics.h. */
#include "metrics.h"


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

void rc_hist_add(rc_hist *h, uint64_t us) {
  h->n[bucket_of(us)]++;
  h->count++;
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
