/*
 * clock.h: the clocks every process reads. Monotonic time is comparable across the processes of
 * one machine (latencies between stages); wall time is for timestamps users see.
 */
#ifndef RC_CLOCK_H
#define RC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds of CLOCK_MONOTONIC. */
static inline uint64_t rc_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static inline uint64_t rc_now_ms(void) { return rc_now_ns() / 1000000u; }

/* Nanoseconds of CLOCK_REALTIME. */
static inline uint64_t rc_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
