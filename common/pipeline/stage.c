/* stage.c: the skeleton of stage.h, which says who calls it; owns the stage's config, its
 * metrics pipe and snapshot buffer (released by rc_stage_close). */
#include "stage.h"

#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "signals.h"

void rc_stage_path(const rc_stage *st, char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s.ipc", st->run_dir, name);
}

/* Frames of a few hundred KiB (a batch) are allocated and freed all the time, by nanomsg and by
 * the stages: above glibc's mmap threshold each one is a fresh mmap, page faults on every first
 * touch and a munmap, and the publisher frees them out of order as Kafka acknowledges them.
 * Keep them in the heap (up to 32 MiB a block), and keep up to 64 MiB of freed heap for reuse. */
static void tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int rc_stage_init(rc_stage *st, const char *name, int argc, char **argv) {
  tune_malloc();
  memset(st, 0, sizeof *st);
  st->name = name;
  st->parent_fd = -1;
  st->metrics_sock = -1;
  char pname[64];
  snprintf(pname, sizeof pname, "rowcast-%s", name);
  rc_log_init(pname);
  const char *config_path = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (!strcmp(argv[i], "--worker") && i + 1 < argc) {
      st->worker = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--parent-fd") && i + 1 < argc) {
      st->parent_fd = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--shared-fds") && i + 1 < argc) {
      /* the shared frame rings (shared.h): a serializer's own, the publisher's one per worker */
      for (char *p = argv[++i], *e; *p && st->nshared < RC_STAGE_MAX_SHARED; p = *e ? e + 1 : e) {
        st->shared_fd[st->nshared++] = (int)strtol(p, &e, 10);
        if (*e && *e != ',') break;
      }
    } else if (!strcmp(argv[i], "--")) {
      i++;
      break;
    } else {
      rc_error("unknown argument '%s' (stages are started by the rowcast command)", argv[i]);
      return RC_EXIT_CONFIG;
    }
  }
  st->args = argv + i;
  st->nargs = argc - i;
  char err[1024];
  st->cfg = rc_config_new();
  if (!st->cfg) return RC_EXIT_FAILURE;
  if (config_path && rc_config_load_file(st->cfg, config_path, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_CONFIG;
  }
  snprintf(st->run_dir, sizeof st->run_dir, "%s", rc_config_str(st->cfg, "run.dir"));
  if (!st->run_dir[0]) {
    rc_error("run.dir is not set (stages are started by the rowcast command, which sets it)");
    return RC_EXIT_CONFIG;
  }
  st->pipe.buffer_bytes = (int)rc_config_int(st->cfg, "pipe.buffer_bytes");
  st->pipe.max_message_bytes = (int)rc_config_int(st->cfg, "pipe.max_message_bytes");
  st->metrics_interval_ns = (uint64_t)rc_config_int(st->cfg, "metrics.interval_ms") * 1000000ull;
  st->next_metrics_ns = rc_now_ns() + st->metrics_interval_ns;

  /* under a supervisor SIGINT is ignored (a Ctrl-C reaches the whole process group, and the
   * supervisor decides how the group drains): keep it so */
  st->sig_fd = rc_signals_catch(&st->stop, 1);
  if (st->sig_fd < 0 || rc_signals_also(SIGUSR1) < 0) return RC_EXIT_FAILURE;

  char path[4200];
  rc_stage_path(st, path, sizeof path, "metrics");
  rc_pipe_opts mo = {1 << 20, 1 << 20};
  st->metrics_sock = rc_pipe_open(1, path, 0, &mo, err, sizeof err);
  if (st->metrics_sock < 0) {
    rc_error("metrics pipe: %s", err);
    return RC_EXIT_FAILURE;
  }
  return RC_EXIT_OK;
}

void rc_stage_send_metrics(rc_stage *st) {
  rc_buf *b = &st->snap;
  b->len = 0;
  rc_buf_lit(b, "stage ");
  rc_buf_puts(b, st->name);
  rc_buf_putc(b, '\n');
  rc_metric_put(b, "worker", (uint64_t)st->worker);
  rc_metric_put(b, "pid", (uint64_t)getpid());
  rc_metric_put(b, "time_ns", rc_now_ns());
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    rc_metric_put(b, "max_rss_kb", (uint64_t)ru.ru_maxrss);
    rc_metric_put(b, "cpu_ms", (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
  }
  if (st->metrics_fn) st->metrics_fn(st, b);
  /* a snapshot that does not fit right now is dropped: the next one carries the totals */
  rc_pipe_send(st->metrics_sock, b->p, b->len, 1);
}

int rc_stage_wait(rc_stage *st, struct pollfd *fds, int nfds, int timeout_ms) {
  struct pollfd all[16];
  int n = 0;
  for (int i = 0; i < nfds && n < 14; i++) all[n++] = fds[i];
  int sig_i = n;
  all[n++] = (struct pollfd){.fd = st->sig_fd, .events = POLLIN};
  int parent_i = -1;
  if (st->parent_fd >= 0) {
    parent_i = n;
    all[n++] = (struct pollfd){.fd = st->parent_fd, .events = POLLIN};
  }
  uint64_t now = rc_now_ns();
  int until_metrics = now >= st->next_metrics_ns ? 0 : (int)((st->next_metrics_ns - now) / 1000000) + 1;
  if (timeout_ms < 0 || timeout_ms > until_metrics) timeout_ms = until_metrics;
  int r = poll(all, (nfds_t)n, timeout_ms);
  if (r < 0 && errno != EINTR) {
    rc_error("poll: %s", strerror(errno));
    return RC_STAGE_STOP;
  }
  if (r > 0 && (all[sig_i].revents & POLLIN)) {
    rc_signals_drain();
  }
  if (parent_i >= 0 && r > 0 && all[parent_i].revents) {
    if (!st->parent_gone) rc_warn("the supervisor is gone; stopping");
    st->parent_gone = 1;
    return RC_STAGE_STOP;
  }
  if (rc_now_ns() >= st->next_metrics_ns) {
    rc_stage_send_metrics(st);
    st->next_metrics_ns = rc_now_ns() + st->metrics_interval_ns;
  }
  int ready = 0;
  for (int i = 0; i < nfds; i++) {
    fds[i].revents = r > 0 ? all[i].revents : 0;
    if (fds[i].revents) ready++;
  }
  return ready;
}

int rc_stage_send(rc_stage *st, int sock, const void *buf, size_t len, const char *to, uint64_t *wait_ns) {
  uint64_t t0 = rc_now_ns();
  for (;;) {
    if (rc_pipe_send(sock, buf, len, 1) == 0) break;
    if (rc_stage_stopping(st)) return RC_STAGE_STOP;
    if (errno != EAGAIN && errno != EINTR) {
      rc_error("cannot send to the %s: %s", to, strerror(errno));
      return RC_STAGE_STOP;
    }
    struct pollfd pfd = {.fd = rc_pipe_fd(sock, 0), .events = POLLIN};
    if (rc_stage_wait(st, &pfd, 1, 100) == RC_STAGE_STOP) return RC_STAGE_STOP;
  }
  *wait_ns += rc_now_ns() - t0;
  return 0;
}

/* The last snapshot, also as <run.dir>/<stage>-<worker>.final (written whole, then renamed):
 * nanomsg may drop what is still queued when the socket closes, and the supervisor's final
 * figures (the end of a replay on /metrics) must not depend on it. It reads the file when it
 * reaps the stage. */
static void write_final(rc_stage *st) {
  char path[4200], tmp[4210];
  snprintf(path, sizeof path, "%s/%s-%d.final", st->run_dir, st->name, st->worker);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  int ok = fwrite(st->snap.p, 1, st->snap.len, f) == st->snap.len;
  if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) unlink(tmp);
}

void rc_stage_close(rc_stage *st) {
  rc_stage_send_metrics(st);
  write_final(st);
  rc_pipe_close(st->metrics_sock);
  rc_config_free(st->cfg);
  rc_buf_free(&st->snap);
}
