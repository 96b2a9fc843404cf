/* state_lock.c: the state directory's lock of state_lock.h. The lock file's text is
 * "pid=N\nrun_dir=PATH\n" (run_dir only when rowcast created that directory itself). */
#include "state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "clock.h"

/* The pid and run_dir recorded in the lock file fd (0 and "" when unreadable). */
static long read_holder(int fd, char *run_dir, size_t n) {
  char text[4400];
  ssize_t r = pread(fd, text, sizeof text - 1, 0);
  text[r > 0 ? r : 0] = 0;
  long pid = 0;
  const char *p = strstr(text, "pid=");
  if (p) pid = strtol(p + 4, NULL, 10);
  if (run_dir && n) {
    run_dir[0] = 0;
    const char *d = strstr(text, "run_dir=");
    if (d) snprintf(run_dir, n, "%.*s", (int)strcspn(d + 8, "\n"), d + 8);
  }
  return pid;
}

static int alive(long pid) { return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM); }

int rc_state_lock(const char *state_dir, int wait_ms, char *prev_run_dir, size_t prev_size, char *es, size_t esz) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lock", state_dir);
  prev_run_dir[0] = 0;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(es, esz, "cannot open the lock %s: %s", path, strerror(errno));
    return -1;
  }
  uint64_t deadline = rc_now_ms() + (uint64_t)wait_ms;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      snprintf(es, esz, "cannot lock %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    long pid = read_holder(fd, NULL, 0);
    if (alive(pid) || rc_now_ms() >= deadline) {
      snprintf(es, esz,
               "state.dir %s is in use: the lock %s is held by rowcast pid %ld%s; one rowcast per "
               "state.dir (stop it first, or give this one another state.dir)",
               state_dir, path, pid, alive(pid) ? "" : ", which is gone, but whose stages have not exited yet");
      close(fd);
      return -1;
    }
    usleep(50000); /* the holder died: its stages exit within a second or so */
  }
  read_holder(fd, prev_run_dir, prev_size);
  return fd;
}

int rc_state_lock_record(int fd, const char *run_dir, int own) {
  char text[4400];
  int n = snprintf(text, sizeof text, "pid=%ld\n%s%s%s", (long)getpid(), own ? "run_dir=" : "", own ? run_dir : "",
                   own ? "\n" : "");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) return -1;
  return 0;
}
