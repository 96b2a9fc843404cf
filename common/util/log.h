/*
 * log.h: one log macro for every process. The level is checked before the arguments are
 * evaluated, so a debug line costs one branch when debug is off. Every line carries the process
 * name and pid: "rowcast-reader[1234]: error: ...".
 */
#ifndef RC_LOG_H
#define RC_LOG_H

enum { RC_LOG_ERROR = 0, RC_LOG_WARN, RC_LOG_INFO, RC_LOG_DEBUG };

extern int rc_log_level;
/* Set the name printed before every line (default "rowcast"); the level from ROWCAST_LOG
 * (error, warn, info, debug; default info). */
void rc_log_init(const char *process_name);
void rc_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rc_log(level, ...)                                                                   \
  do {                                                                                       \
    if ((level) <= rc_log_level) rc_log_write((level), __VA_ARGS__);                         \
  } while (0)
#define rc_error(...) rc_log(RC_LOG_ERROR, __VA_ARGS__)
#define rc_warn(...) rc_log(RC_LOG_WARN, __VA_ARGS__)
#define rc_info(...) rc_log(RC_LOG_INFO, __VA_ARGS__)
#define rc_debug(...) rc_log(RC_LOG_DEBUG, __VA_ARGS__)

#endif
