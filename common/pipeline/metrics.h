/*
 * metrics.h: counters and latency histograms kept in each process's own memory, and the
 * snapshot a stage sends to the supervisor once per metrics.interval_ms (never a message per
 * event). A snapshot is text, one "name value" per line, first line "stage NAME".
 */
#ifndef RC_METRICS_H
#define RC_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "clock.h"

/* Log-linear histogram of microseconds: 8 sub-buckets per power of two, up to ~2^40 us. */
#define RC_HIST_SUB 8
#define RC_HIST_BUCKETS (41 * RC_HIST_SUB)

typedef struct rc_hist {
  uint64_t n[RC_HIST_BUCKETS];
  uint64_t count;
  uint64_t max;
} rc_hist;

void rc_hist_add(rc_hist *h, uint64_t us);
/* The value below which a fraction q of the samples lie (upper bound of its bucket). */
uint64_t rc_hist_quantile(const rc_hist *h, double q);


static inline void rc_metric_put(rc_buf *b, const char *name, uint64_t v) {
  rc_buf_puts(b, name);
  rc_buf_putc(b, ' ');
  rc_buf_u64(b, v);
  rc_buf_putc(b, '\n');
}

#endif
