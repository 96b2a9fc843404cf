/*
 * test_avro_encode.c: the fast path (rc_avro_encode_value/key) against the reference encoder
 * (avro_view.c: avro-c's avro_value_write over rowcast's value view, the serializer's encoder
 * before the plan), through the round trip of avro_test.c.
 *
 * - Every datum (value and key) the round trips write is written again by the reference
 *   encoder and must be the same bytes; both are read back with avro-c's own reader
 *   (avro_value_read into generic values of the parsed writer schema), which must consume every
 *   byte, and compared field by field, column by column, naming the first that differs.
 * - Edges: lengths near the one-byte varint limit, values both encoders refuse with the same
 *   message, and the check itself: a datum with one byte changed must fail it.
 * - When the fixtures folder is there, every row change of every public binlog fixture goes
 *   through the round trip, and python3-avro reads the datums (as in test_avro_row.c).
 */
#include "avro_row.h"
#include "avro_int.h" /* the reference encoder, avro_view.c */
#include "avro_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "rc_test.h"

static char err[512];

/* ---- every row change of the public fixtures ------------------------------------------------ */

typedef struct cache_ent {
  uint64_t sig;
  rc_avro_table *at;
} cache_ent;

static unsigned long n_compared, n_refused, n_mismatch;

typedef struct sweep {
  cache_ent *cache;
  size_t *ncache;
  rc_rows rows;
  rc_value *before, *after;
  uint32_t cap;
  const char *path;
} sweep;

/* Every row change of one ROWS event through the round trip. */
static void sweep_event(sweep *sw, rc_binlog *bl, const rc_event *ev, uint32_t *row_index) {
  if (!rc_event_is_rows(ev->type) || rc_rows_begin(bl, ev, &sw->rows, err, sizeof err) < 0) return;
  const rc_table *t = sw->rows.table;
  if (t->ncols > sw->cap) {
    free(sw->before);
    free(sw->after);
    sw->cap = t->ncols;
    sw->before = calloc(sw->cap, sizeof *sw->before);
    sw->after = calloc(sw->cap, sizeof *sw->after);
  }
  uint64_t sig = rc_table_signature(t);
  rc_avro_table *at = NULL;
  for (size_t i = 0; i < *sw->ncache && !at; i++)
    if (sw->cache[i].sig == sig) at = sw->cache[i].at;
  if (!at) {
    if (*sw->ncache == 64 || rc_avro_table_new(t, &at, err, sizeof err) < 0) {
      fprintf(stderr, "%s: %s\n", sw->path, *sw->ncache == 64 ? "too many table versions" : err);
      n_mismatch++;
      return;
    }
    sw->cache[(*sw->ncache)++] = (cache_ent){sig, at};
  }
  rc_change_pos pos = {rc_binlog_file(bl), ev->offset, 0, rc_binlog_gtid(bl), ev->ts, NULL};
  while (rc_rows_next_image(&sw->rows, sw->before, 0, err, sizeof err) > 0) {
    const rc_value *b = NULL, *a = NULL;
    if (sw->rows.op == 'u') {
      if (rc_rows_next_image(&sw->rows, sw->after, 1, err, sizeof err) <= 0) break;
      b = sw->before, a = sw->after;
    } else if (sw->rows.op == 'c') {
      a = sw->before;
    } else {
      b = sw->before;
    }
    pos.row = (*row_index)++;
    int r = roundtrip_ex(at, t, sw->rows.op, b, a, &pos, n_exported < 400);
    if (r > 0) {
      n_compared++;
    } else if (r == 0) {
      n_refused++;
    } else {
      n_mismatch++;
      fprintf(stderr, "  in %s at offset %llu\n", sw->path, (unsigned long long)ev->offset);
    }
  }
}

static void sweep_file(const char *path, cache_ent *cache, size_t *ncache) {
  rc_binfile *f;
  if (rc_binfile_open(&f, path, err, sizeof err) < 0) return;
  rc_binlog *bl = rc_binlog_new();
  rc_binlog_start_file(bl, rc_binfile_name(f));
  sweep sw;
  memset(&sw, 0, sizeof sw);
  sw.cache = cache, sw.ncache = ncache, sw.path = path;
  const uint8_t *raw;
  size_t len;
  uint64_t off;
  while (rc_binfile_next(f, &raw, &len, &off, err, sizeof err) > 0) {
    rc_event ev, inner;
    uint32_t row_index = 0;
    if (rc_binlog_feed(bl, raw, len, off, &ev, err, sizeof err) < 0) break;
    sweep_event(&sw, bl, &ev, &row_index);
    if (ev.type == RC_EV_TRANSACTION_PAYLOAD)
      while (rc_binlog_next_inner(bl, &inner, err, sizeof err) > 0) sweep_event(&sw, bl, &inner, &row_index);
  }
  rc_rows_free(&sw.rows);
  free(sw.before);
  free(sw.after);
  rc_binlog_free(bl);
  rc_binfile_close(f);
}


static void test_fixture_rows(void) {
  const char *dir = getenv("ROWCAST_FIXTURES");
  char def[1024];
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!dir && src) {
    snprintf(def, sizeof def, "%s/../shared/fixtures/public-binlogs", src);
    dir = def;
  }
  char index[1100];
  snprintf(index, sizeof index, "%s/INDEX.tsv", dir ? dir : ".");
  FILE *ix = dir ? fopen(index, "r") : NULL;
  if (!ix) {
    fprintf(stderr, "test_fixture_rows: no public binlog fixtures (%s), skipped\n", dir ? index : "ROWCAST_SOURCE_DIR unset");
    return;
  }
  cache_ent cache[64];
  size_t ncache = 0;
  char line[4096];
  while (fgets(line, sizeof line, ix)) {
    char *tab = strchr(line, '\t');
    if (!tab || !strncmp(line, "path\t", 5) || strstr(line, "NOT A BINLOG")) continue;
    *tab = '\0';
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, line);
    sweep_file(path, cache, &ncache);
  }
  fclose(ix);
  fixtures_swept = 1;
  for (size_t i = 0; i < ncache; i++) rc_avro_table_free(cache[i].at);
  fprintf(stderr, "test_fixture_rows: %lu changes round-tripped, %lu refused by both, %lu mismatches, %zu table versions\n",
          n_compared, n_refused, n_mismatch, ncache);
  RC_CHECK(n_mismatch == 0);
  RC_CHECK(n_compared > 100);
}

/* ---- the fast path against the reference encoder, at its edges ---------------------------- */

/* Lengths near the one-byte varint limit (63 bytes) for what the fast path formats straight
 * into the datum behind a guessed length prefix (converted latin1 text, JSON documents), so
 * that both a too-short and a too-long guess are taken; and the check itself: one changed
 * byte, anywhere in a datum, one byte too many or too few, must fail it. */
/* The 64-bit two's complement writers (DECIMAL up to 18 digits, BIGINT UNSIGNED) against the
 * 32-byte one, over the edges of every byte length and a sweep of values. */
static void twos_check(uint64_t mag, int neg) {
  uint32_t limb[BIG / 4] = {(uint32_t)mag, (uint32_t)(mag >> 32)};
  uint8_t want[BIG + 1], got[BIG + 1];
  size_t nw = rc_avro_unscaled_twos(limb, neg, want), ng;
  if (neg || mag <= INT64_MAX)
    ng = rc_avro_i64_twos(neg ? (int64_t)(0 - mag) : (int64_t)mag, got);
  else
    ng = rc_avro_u64_twos(mag, got);
  RC_CHECK(ng == nw && !memcmp(got, want, nw));
  if (!neg) {
    ng = rc_avro_u64_twos(mag, got);
    RC_CHECK(ng == nw && !memcmp(got, want, nw));
  }
}

static void test_twos(void) {
  for (int b = 0; b < 64; b++)
    for (int d = -2; d <= 2; d++) {
      uint64_t m = (UINT64_C(1) << b) + (uint64_t)(int64_t)d;
      twos_check(m, 0);
      if (m <= (UINT64_C(1) << 63)) twos_check(m, 1);
    }
  twos_check(0, 0);
  twos_check(0, 1); /* a negative zero is 0 */
  twos_check(UINT64_MAX, 0);
  uint64_t x = 88172645463325252ull;
  for (int k = 0; k < 100000; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t m = x >> (k % 64);
    twos_check(m, 0);
    if (m <= (UINT64_C(1) << 63)) twos_check(m, 1);
  }
}

static void test_reference_edges(void) {
  rc_table *t = alltypes_table();
  rc_avro_table *at;
  RC_CHECK(rc_avro_table_new(t, &at, err, sizeof err) == 0);
  rc_value a[C_NCOLS];
  fill_row_a(a);
  static uint8_t latin[300], js[300];
  memset(latin, 0xE9, sizeof latin);
  const uint32_t lens[] = {0, 1, 31, 32, 42, 50, 61, 62, 63, 64, 65, 100, 127, 128, 200};
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    uint32_t n = lens[k];
    a[C_LATIN1] = vs(RC_V_STRING, latin, n, 0);
    js[0] = 0x0c; /* a JSON string of n 'x' (n < 128: a one-byte length) */
    js[1] = (uint8_t)(n < 128 ? n : 127);
    memset(js + 2, 'x', js[1]);
    a[C_JSON] = vs(RC_V_JSON, js, 2u + js[1], 0);
    RC_CHECK(roundtrip(at, t, 'c', NULL, a) == 1);
  }
  /* values both encoders refuse, with the same message */
  static const uint8_t bad_json[] = {0x0c, 0x7f, 'x'};
  static const uint8_t vec5[] = {0, 0, 0x80, 0x3f, 0};
  const rc_value bad[][2] = {{vi(INT64_C(1) << 40), V(C_SMALL)}, {vstr("text"), V(C_INT)},
                             {vs(RC_V_JSON, bad_json, sizeof bad_json, 0), V(C_JSON)},
                             {vs(RC_V_VECTOR, vec5, sizeof vec5, 0), V(C_VECTOR)},
                             {vu(RC_V_BIT, 2), V(C_BIT1)}, {vu(RC_V_UINT, 1), V(C_DATE)}};
  rc_avro_source bsrc = {7, "mariadb-bin.000042", 4, 0, NULL, 1700000000999ULL, NULL};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    fill_row_a(a);
    a[bad[k][1].kind] = bad[k][0];
    unsigned long refused = n_same_err;
    RC_CHECK(check_encoders(at, 'c', NULL, a, &bsrc) == 0);
    RC_CHECK(n_same_err == refused + 1);
  }
  /* the check checks itself */
  rc_avro_source src = {7, "mariadb-bin.000042", 4, 0, "0-1-42", 1700000000999ULL, NULL};
  rc_buf f = {0}, v = {0};
  fill_row_a(a);
  RC_CHECK(rc_avro_encode_value(at, &f, 'c', NULL, a, &src, 1, err, sizeof err) == 0);
  RC_CHECK(rc_avro_view_encode_value(at, &v, 'c', NULL, a, &src, 1, err, sizeof err) == 0);
  unsigned long before = n_differ;
  RC_CHECK(same_as_reference("self-check", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) == 0);
  int caught = 0;
  quiet = 1;
  for (size_t k = 0; k < f.len; k++) {
    f.p[k] ^= 0x01;
    caught += same_as_reference("changed byte", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0;
    f.p[k] ^= 0x01;
  }
  RC_CHECK(caught == (int)f.len);
  rc_buf_putc(&f, 0);
  RC_CHECK(same_as_reference("byte too many", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0);
  f.len -= 2;
  RC_CHECK(same_as_reference("byte too few", rc_avro_value_fingerprint(at), rc_avro_value_schema(at), &f, 0, &v, 0) < 0);
  quiet = 0;
  n_differ = before; /* those were meant to differ */
  rc_buf_free(&f);
  rc_buf_free(&v);
  rc_avro_table_free(at);
  rc_table_free(t);
}

void rc_tests(void) {
  python_start();
  RC_RUN(test_twos);
  RC_RUN(test_reference_edges);
  RC_RUN(test_fixture_rows);
  RC_RUN(test_python_avro);
  RC_RUN(test_fast_matches_reference);
  rc_avro_decoder_cache_free();
}
