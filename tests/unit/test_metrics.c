/*
 * test_metrics.c: the snapshot lines of common/pipeline/metrics.c that the supervisor turns into
 * Prometheus histograms and per-table samples: which bucket a value falls in (a value equal to a
 * bound is in that bound's bucket, as Prometheus' "le" says), the line read back as written, and
 * lines that do not add up refused.
 */
#include <string.h>

#include "metrics.h"
#include "rc_err.h"
#include "rc_test.h"

static void test_buckets(void) {
  rc_phist h;
  memset(&h, 0, sizeof h);
  rc_phist_add(&h, 0);
  rc_phist_add(&h, 1000);              /* on the first bound: le="0.001" */
  rc_phist_add(&h, 1001);              /* just past it */
  rc_phist_add(&h, 300000000);         /* on the last bound */
  rc_phist_add(&h, 300000001);         /* +Inf */
  RC_CHECK(h.n[0] == 2);
  RC_CHECK(h.n[1] == 1);
  RC_CHECK(h.n[RC_PHIST_NB - 1] == 1);
  RC_CHECK(h.n[RC_PHIST_NB] == 1);
  RC_CHECK(h.count == 5);
  RC_CHECK(h.sum_us == 0 + 1000 + 1001 + 300000000ull + 300000001ull);
  for (unsigned i = 1; i < RC_PHIST_NB; i++) RC_CHECK(rc_phist_bounds_us[i] > rc_phist_bounds_us[i - 1]);
}

/* The bucket tried first (the last value's) never takes a value of another bucket: values on,
 * just above and just below every bound, in an order that jumps up and down. */
static void test_bucket_hint(void) {
  rc_phist h, want;
  memset(&h, 0, sizeof h);
  memset(&want, 0, sizeof want);
  uint64_t v[3 * RC_PHIST_NB];
  size_t n = 0;
  for (unsigned i = 0; i < RC_PHIST_NB; i++) {
    v[n++] = rc_phist_bounds_us[i];
    v[n++] = rc_phist_bounds_us[i] + 1;
    v[n++] = rc_phist_bounds_us[i] - 1;
  }
  for (size_t k = 0; k < n; k++) {
    uint64_t us = v[(k * 7) % n]; /* 7 and 51 share no factor: every value once, out of order */
    rc_phist_add_n(&h, us, 2);
    unsigned b = 0;
    while (b < RC_PHIST_NB && us > rc_phist_bounds_us[b]) b++;
    want.n[b] += 2;
  }
  for (unsigned b = 0; b <= RC_PHIST_NB; b++) RC_CHECK(h.n[b] == want.n[b]);
  RC_CHECK(h.count == 2 * n);
}

static void test_round_trip(void) {
  rc_phist h, back;
  memset(&h, 0, sizeof h);
  for (uint64_t us = 1; us < 500000000ull; us = us * 3 + 7) rc_phist_add(&h, us);
  rc_buf b = {0};
  rc_phist_put(&b, "receipt_to_ack", &h);
  rc_buf_putc(&b, 0);
  char name[40];
  RC_CHECK(rc_phist_parse(b.p, name, sizeof name, &back) == 0);
  RC_CHECK_STR(name, "receipt_to_ack");
  RC_CHECK(!memcmp(h.n, back.n, sizeof h.n)); /* the counts; the hint is this process's own */
  RC_CHECK(h.count == back.count && h.sum_us == back.sum_us);
  rc_buf_free(&b);
}

static void test_refused(void) {
  rc_phist h;
  char name[40];
  RC_CHECK(rc_phist_parse("hist x 1 5 1", name, sizeof name, &h) == RC_ERR_CORRUPT); /* too few buckets */
  RC_CHECK(rc_phist_parse("hist x 2 5 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", name, sizeof name, &h) ==
           RC_ERR_CORRUPT); /* count is not the sum of the buckets */
  RC_CHECK(rc_phist_parse("hist x 1 5 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", name, sizeof name, &h) == 0);
  RC_CHECK(rc_phist_parse("hist x 1 5 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 9", name, sizeof name, &h) ==
           RC_ERR_CORRUPT); /* one too many */
  RC_CHECK(rc_phist_parse("hist x 1 5 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -1", name, sizeof name, &h) == RC_ERR_CORRUPT);
  RC_CHECK(rc_phist_parse("table 1 2 db.t", name, sizeof name, &h) == RC_ERR_CORRUPT);
  RC_CHECK(rc_phist_parse("hist averyveryveryveryveryveryverylongname 1 5 1", name, 8, &h) == RC_ERR_CORRUPT);
}

static void test_table_line(void) {
  rc_buf b = {0};
  rc_metric_put_table(&b, "shop.odd\nname", 3, 40);
  rc_buf_putc(&b, 0);
  RC_CHECK_STR(b.p, "table 3 40 shop.odd?name\n");
  rc_buf_free(&b);
}

void rc_tests(void) {
  RC_RUN(test_buckets);
  RC_RUN(test_bucket_hint);
  RC_RUN(test_round_trip);
  RC_RUN(test_refused);
  RC_RUN(test_table_line);
}
