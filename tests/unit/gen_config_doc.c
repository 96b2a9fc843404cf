/*
 * gen_config_doc.c: prints docs/CONFIGURATION.md, generated from the key table of
 * common/pipeline/config_keys.c. After changing the table: gen_config_doc > docs/CONFIGURATION.md
 * (test_config fails while the committed file differs).
 */
#include "config.h"

#include <stdio.h>

int main(void) {
  rc_config_markdown(stdout);
  return fflush(stdout) == 0 ? 0 : 1;
}
