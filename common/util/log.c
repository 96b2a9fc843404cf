/* log.c: the log line writer behind log.h (one write(2) per line, so lines of several
 * processes sharing stderr do not interleave). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rc_log_level = RC_LOG_INFO;
static char log_name[64] = "rowcast";

void rc_log_init(const char *process_name) {
  snprintf(log_name, sizeof log_name, "%s", process_name);
  const char *lv = getenv("ROWCAST_LOG");
  if (lv) {
    if (!strcmp(lv, "error")) rc_log_level = RC_LOG_ERROR;
    else if (!strcmp(lv, "warn")) rc_log_level = RC_LOG_WARN;
    else if (!strcmp(lv, "info")) rc_log_level = RC_LOG_INFO;
    else if (!strcmp(lv, "debug")) rc_log_level = RC_LOG_DEBUG;
  }
}

void rc_log_write(int level, const char *fmt, ...) {
  static const char *names[] = {"error: ", "warning: ", "", "debug: "};
  char line[4096];
  int n = snprintf(line, sizeof line, "%s[%d]: %s", log_name, (int)getpid(),
                   names[level < 0 ? 0 : level > 3 ? 3 : level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
