/*
 * metrics.h: counters and latency histograms kept in each process's own memory, and the
 * snapshot a stage sends to the supervisor once per metrics.interval_ms (never a message per
 * event). A snapshot is text, one "name value" per line, first line "stage NAME"; besides
 * those, "hist NAME ..." lines carry a fixed-bucket histogram (rc_phist_put) and "table ..."
 * lines the figures of one table (rc_metric_put_table). The supervisor serves them to
 * Prometheus (supervisor/metrics_text.c).
 */
#ifndef RC_METRICS_H
#define RC_METRICS_H

#include <stddef.h>
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
/* n samples of the same value at once (what a batch of equal latencies costs one add). */
void rc_hist_add_n(rc_hist *h, uint64_t us, uint64_t n);
/* The value below which a fraction q of the samples lie (upper bound of its bucket). */
uint64_t rc_hist_quantile(const rc_hist *h, double q);

/* Fixed-bucket histogram of microseconds, the form Prometheus histograms take: a count per
 * bucket (upper bounds rc_phist_bounds_us[], then +Inf), the sum and the count. Cheap to add
 * to (a few comparisons), and the same bounds on both sides of the snapshot. */
#define RC_PHIST_NB 17
extern const uint64_t rc_phist_bounds_us[RC_PHIST_NB];

typedef struct rc_phist {
  uint64_t n[RC_PHIST_NB + 1]; /* per bucket, not cumulative; n[RC_PHIST_NB]: above the last bound */
  uint64_t count, sum_us;
  unsigned hint; /* the bucket of the last value added, tried first (latencies move slowly) */
} rc_phist;

void rc_phist_add(rc_phist *h, uint64_t us);
void rc_phist_add_n(rc_phist *h, uint64_t us, uint64_t n);
/* One snapshot line: "hist NAME COUNT SUM_US N0 ... N17". */
void rc_phist_put(rc_buf *b, const char *name, const rc_phist *h);
/* Parse a "hist ..." line (up to its newline or end) into *name (up to name_size - 1 bytes)
 * and *h: 0, or RC_ERR_CORRUPT when it is not one. */
int rc_phist_parse(const char *line, char *name, size_t name_size, rc_phist *h);

/* The most snapshot bytes a supervisor takes from a stage (a larger one is dropped, logged). */
#define RC_SNAPSHOT_MAX (256 * 1024)

/* One table's figures: "table CHANGES BYTES NAME" (NAME last, "db.table"; a newline in it is
 * written as '?'). */
void rc_metric_put_table(rc_buf *b, const char *name, uint64_t changes, uint64_t bytes);

static inline void rc_metric_put(rc_buf *b, const char *name, uint64_t v) {
  rc_buf_puts(b, name);
  rc_buf_putc(b, ' ');
  rc_buf_u64(b, v);
  rc_buf_putc(b, '\n');
}

#endif
