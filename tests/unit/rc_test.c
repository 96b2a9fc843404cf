/* rc_test.c: runner for rc_test.h. */
#include "rc_test.h"

#include <stdlib.h>

int rc_test_failed_checks;
static int passed, failed;

void rc_test_run(const char *name, void (*fn)(void)) {
  int before = rc_test_failed_checks;
  fn();
  if (rc_test_failed_checks == before) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "FAIL %s\n", name);
  }
}

int main(void) {
  rc_tests();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
