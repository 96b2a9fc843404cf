/* Unit tests for shared.c: the serializer-to-publisher frame ring, written and read through two
 * mappings of one memfd as the two processes do: placement, wrap-around, a full ring, frames too
 * large for it, the order the space comes back in, and references that point outside. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "rc_test.h"
#include "shared.h"

#define RING 65536

static int open_pair(rc_shared *w, rc_shared *r) {
  char err[256];
  int fd = rc_shared_create(RING, "rowcast-test", err, sizeof err);
  RC_CHECK(fd >= 0);
  if (fd < 0) return -1;
  RC_CHECK(rc_shared_map(w, fd, err, sizeof err) == 0);
  RC_CHECK(rc_shared_map(r, fd, err, sizeof err) == 0);
  close(fd); /* the mappings keep the memory */
  RC_CHECK(w->size == RING && r->size == RING);
  return 0;
}

/* A frame of n bytes whose content says which it is. */
static void fill(uint8_t *b, size_t n, int which) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(which * 31 + i);
}

static void test_put_and_read(void) {
  rc_shared w, r;
  if (open_pair(&w, &r) < 0) return;
  uint8_t frame[10000], ref[RC_SHARED_REF_LEN];
  fill(frame, sizeof frame, 1);
  RC_CHECK(rc_shared_put(&w, frame, sizeof frame, ref) == 1);
  rc_shared_ref x;
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == 1);
  RC_CHECK(x.off == 0 && x.len == sizeof frame && x.end == sizeof frame);
  RC_CHECK(memcmp(rc_shared_at(&r, &x), frame, sizeof frame) == 0); /* seen through the other mapping */
  RC_CHECK(rc_shared_used(&w) == sizeof frame);
  rc_shared_release(&r, x.end);
  RC_CHECK(rc_shared_used(&w) == 0);
  /* a frame's own bytes are never taken for a reference, nor one of another length */
  RC_CHECK(rc_shared_ref_parse(&r, frame, sizeof frame, &x) == 0);
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref - 1, &x) == 0);
  rc_shared_unmap(&w);
  rc_shared_unmap(&r);
}

static void test_full_wrap_and_order(void) {
  rc_shared w, r;
  if (open_pair(&w, &r) < 0) return;
  uint8_t frame[16384], ref[4][RC_SHARED_REF_LEN];
  rc_shared_ref x[4];
  /* three frames of 15,000 bytes: 45,000 of 65,536 */
  for (int i = 0; i < 3; i++) {
    fill(frame, 15000, i);
    RC_CHECK(rc_shared_put(&w, frame, 15000, ref[i]) == 1);
    RC_CHECK(rc_shared_ref_parse(&r, ref[i], RC_SHARED_REF_LEN, &x[i]) == 1);
  }
  /* a fourth fits (60,000), a fifth does not: the writer must wait, nothing is overwritten */
  fill(frame, 15000, 3);
  RC_CHECK(rc_shared_put(&w, frame, 15000, ref[3]) == 1);
  RC_CHECK(rc_shared_ref_parse(&r, ref[3], RC_SHARED_REF_LEN, &x[3]) == 1);
  RC_CHECK(rc_shared_put(&w, frame, 15000, ref[0]) == 0);
  /* the reader is done with the first: the next does not fit at the end (5,536 left there), so
   * it starts over at 0, over the first frame's bytes, the skipped end counted as used */
  rc_shared_release(&r, x[0].end);
  fill(frame, 15000, 4);
  RC_CHECK(rc_shared_put(&w, frame, 15000, ref[0]) == 1);
  rc_shared_ref y;
  RC_CHECK(rc_shared_ref_parse(&r, ref[0], RC_SHARED_REF_LEN, &y) == 1);
  RC_CHECK(y.off == 0 && y.end == RING + 15000);
  RC_CHECK(rc_shared_used(&w) == RING + 15000 - x[0].end);
  /* frames 2 to 4 are intact under it */
  for (int i = 1; i < 4; i++) {
    fill(frame, 15000, i);
    RC_CHECK(memcmp(rc_shared_at(&r, &x[i]), frame, 15000) == 0);
  }
  fill(frame, 15000, 4);
  RC_CHECK(memcmp(rc_shared_at(&r, &y), frame, 15000) == 0);
  /* still full until more comes back */
  RC_CHECK(rc_shared_put(&w, frame, 15000, ref[1]) == 0);
  rc_shared_release(&r, x[3].end);
  RC_CHECK(rc_shared_put(&w, frame, 15000, ref[1]) == 1);
  rc_shared_unmap(&w);
  rc_shared_unmap(&r);
}

static void test_too_large_and_corrupt(void) {
  rc_shared w, r, none;
  memset(&none, 0, sizeof none);
  if (open_pair(&w, &r) < 0) return;
  static uint8_t frame[RING / 4 + 1], ref[RC_SHARED_REF_LEN];
  /* over a quarter of the ring: sent whole through the pipe, counted */
  RC_CHECK(rc_shared_put(&w, frame, RING / 4 + 1, ref) == -1);
  RC_CHECK(w.too_large == 1);
  RC_CHECK(rc_shared_put(&w, frame, RING / 4, ref) == 1);
  /* no ring (pipe.shared_bytes = 0): every frame whole, nothing counted */
  RC_CHECK(rc_shared_put(&none, frame, 100, ref) == -1);
  RC_CHECK(none.too_large == 0);
  /* a reference past the ring's end, or with no ring to point into, is an error */
  rc_shared_ref x;
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == 1);
  ref[8 + 2] = 0x7f; /* offset far past the end */
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == -1);
  RC_CHECK(rc_shared_put(&w, frame, 100, ref) == 1);
  RC_CHECK(rc_shared_ref_parse(&none, ref, sizeof ref, &x) == -1);
  ref[4] = 0, ref[5] = 0; /* length 0 */
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == -1);
  rc_shared_unmap(&w);
  rc_shared_unmap(&r);
}

/* A frame built in place: the window where the next frame goes, then commit. */
static void test_window(void) {
  rc_shared w, r;
  if (open_pair(&w, &r) < 0) return;
  size_t avail = 0;
  uint8_t *at = rc_shared_window(&w, 1000, &avail), ref[RC_SHARED_REF_LEN];
  RC_CHECK(at == w.data && avail == RING / 4); /* at most a quarter */
  fill(at, 10000, 7);
  rc_shared_commit(&w, 10000, ref);
  rc_shared_ref x;
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == 1);
  RC_CHECK(x.off == 0 && x.len == 10000 && x.end == 10000);
  uint8_t want[10000];
  fill(want, sizeof want, 7);
  RC_CHECK(memcmp(rc_shared_at(&r, &x), want, sizeof want) == 0);
  /* up to 58,000 used: 7,536 left before the end; asking for 8,000 starts over at 0, which is
   * free once the first frames are given back, the end's bytes counted as used */
  static uint8_t frame[16384];
  for (int i = 0; i < 3; i++) RC_CHECK(rc_shared_put(&w, frame, 16000, ref) == 1);
  RC_CHECK(w.head == 58000);
  RC_CHECK(rc_shared_window(&w, 8000, &avail) == NULL); /* nothing given back yet */
  rc_shared_release(&r, 26000);                          /* the first two given back */
  at = rc_shared_window(&w, 8000, &avail);
  RC_CHECK(at == w.data && avail == RING / 4 && w.pad == RING - 58000);
  fill(at, 8000, 9);
  rc_shared_commit(&w, 8000, ref);
  RC_CHECK(rc_shared_ref_parse(&r, ref, sizeof ref, &x) == 1);
  RC_CHECK(x.off == 0 && x.len == 8000 && x.end == RING + 8000);
  RC_CHECK(rc_shared_used(&w) == RING + 8000 - 26000);
  /* a small request fits before the end when it can: no wrap */
  rc_shared_release(&r, RING + 8000);
  at = rc_shared_window(&w, 100, &avail);
  RC_CHECK(at == w.data + 8000 && w.pad == 0);
  /* no ring: no window */
  rc_shared none;
  memset(&none, 0, sizeof none);
  RC_CHECK(rc_shared_window(&none, 1, &avail) == NULL);
  rc_shared_unmap(&w);
  rc_shared_unmap(&r);
}

static void test_bad_fd(void) {
  rc_shared r;
  char err[256];
  RC_CHECK(rc_shared_map(&r, -1, err, sizeof err) == -1);
  RC_CHECK(strstr(err, "shared frame ring") != NULL);
}

void rc_tests(void) {
  RC_RUN(test_put_and_read);
  RC_RUN(test_full_wrap_and_order);
  RC_RUN(test_too_large_and_corrupt);
  RC_RUN(test_window);
  RC_RUN(test_bad_fd);
}
