/*
 * rc_test.h: the unit-test harness. A test file defines `void rc_tests(void)` that calls
 * RC_RUN(fn) for each test; checks use RC_CHECK / RC_CHECK_STR. The runner prints
 * "N passed, M failed" and exits non-zero on any failure.
 */
#ifndef RC_TEST_H
#define RC_TEST_H

#include <stdio.h>
#include <string.h>

extern int rc_test_failed_checks;
void rc_test_run(const char *name, void (*fn)(void));
void rc_tests(void);

#define RC_RUN(fn) rc_test_run(#fn, fn)
#define RC_CHECK(cond)                                                                   \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
      rc_test_failed_checks++;                                                           \
    }                                                                                    \
  } while (0)
#define RC_CHECK_STR(got, want)                                                          \
  do {                                                                                   \
    const char *g_ = (got), *w_ = (want);                                                \
    if (!g_ || strcmp(g_, w_) != 0) {                                                    \
      fprintf(stderr, "%s:%d: got  %s\n%*s want %s\n", __FILE__, __LINE__,               \
              g_ ? g_ : "(null)", (int)strlen(__FILE__) + 6, "", w_);                    \
      rc_test_failed_checks++;                                                           \
    }                                                                                    \
  } while (0)

#endif
