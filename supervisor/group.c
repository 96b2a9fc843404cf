/*
 * group.c: the supervisor, rc_group_run(), which `rowcast replay` and `rowcast run` call
 * (cmd_replay.c, cmd_run.c) once their command line is read: it starts the process group —
 * publisher, serializer workers, reader — watches it, restarts it after a crash, drains it on
 * SIGTERM/SIGINT, and reports. Once a second it writes the live figures to
 * <state.dir>/stats.json, with what the local broker records of partitions that lost messages
 * (broker_watch.h), which `rowcast stats` (cmd_stats.c) prints and `stats --watch` shows.
 *
 * The steps, in order: open_dirs, open_kafka (the local broker when no Kafka is configured),
 * open_channels, the schema history rebuilt from Kafka when its file is gone (schema_topic.h);
 * then supervise (which also publishes what the schema history file gained, once a second): start_group/spawn_stage, and per wake-up on_stop_signal,
 * drain_metrics, progress_line and on_child_exit (reaping), whose restart policy is
 * restart_after_crash; at the end print_done and print_resources (the summary).
 *
 * Children are kept in a table and reaped with wait4(WNOHANG), which also gives their CPU
 * time and peak RSS for the summary. A crash of any stage loses what was in flight in its
 * pipes (nanomsg PUSH/PULL is not reliable delivery), so the whole group restarts from the
 * checkpoint, which never passes what Kafka acknowledged: nothing is lost, and what was
 * acknowledged after the checkpoint is sent again (at-least-once). Restarts
 * are at least supervisor.restart_delay_ms apart, the delay doubles while stages die at
 * start-up, and the supervisor gives up after supervisor.max_restarts restarts without
 * progress. A stage that exits with status 2 (configuration or data error) is not restarted.
 * Children watch a pipe whose write end only the supervisor holds, and exit when it closes.
 * The supervisor locks <state.dir>/lock (state_lock.c) and its stages inherit the lock, so no
 * second rowcast starts on the state dir until all of them are gone; a run directory a killed
 * supervisor left behind is removed at the next start. The state and run directories are
 * created private (0700; a wider existing one is warned of): the stages' config file in the run
 * directory (0600) holds source.password when one is set, and no secret goes on their command
 * line. A drain sends SIGUSR1 to the reader
 * (it reads on to the end of the open transaction, then sends END); stopping the group is
 * SIGTERM (and SIGCONT, for a stopped stage). The watchdog restarts a group that makes no
 * progress for supervisor.stall_timeout_ms while work is queued, naming the stage it blames.
 */
#include "group.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "broker_watch.h"
#include "checkpoint.h"
#include "clock.h"
#include "config.h"
#include "filter.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "pipe.h"
#include "recovery_prepare.h"
#include "schema_topic.h"
#include "shared.h"
#include "signals.h"
#include "source_config.h"
#include "state_lock.h"

#define MAX_CHILDREN 66
#define MAX_METRICS 64 /* a snapshot's counters kept per stage (the reader sends up to ~40) */

typedef struct {
  char name[32];
  uint64_t value;
} metric;

typedef struct {
  const char *stage;
  int worker;
  pid_t pid;
  uint64_t started_ns;
  metric m[MAX_METRICS];
  int nm;
  char file[256]; /* reader: current file */
  char gtid[128]; /* reader: the GTID of the transaction it reads */
  char *snap;      /* its last snapshot as it came (snap_len bytes), for /metrics */
  size_t snap_len;
  char snap_table[300]; /* reader: the table a snapshot is reading ("" none) */
  /* from the kernel when reaped (wait4), summed over the slot's restarts: exact, unlike the
   * stages' own snapshots, which stop up to metrics.interval_ms before they exit */
  uint64_t cpu_us, max_rss_kb;
  /* the watchdog: when its last snapshot came, and when its progress counter last moved */
  uint64_t snap_ns, progress, moved_ns;
} child;

typedef struct {
  rc_config *cfg;
  char exe_dir[PATH_MAX];
  char run_dir[PATH_MAX];
  char config_path[PATH_MAX + 16];
  const char *state_dir;
  char **files;
  int nfiles;
  child c[MAX_CHILDREN];
  int nc;
  int watch_pipe[2];
  int metrics_sock;
  pid_t broker_pid;
  char broker_status[PATH_MAX + 16]; /* what the local broker records of evicted partitions */
  pid_t broker_last_pid;             /* its pid, still shown once it is stopped */
  int draining;
  uint64_t start_ns;
  int restarts;
  uint64_t last_progress_changes;
  /* progress line */
  uint64_t last_line_ns, last_line_read, last_line_acked;
  int tty;
  int lock_fd;       /* <state.dir>/lock, flocked; inherited by the stages */
  /* the serializers' shared frame rings of this group start (shared.h; -1: none), one per
   * worker: the serializer and the publisher inherit them, the supervisor closes its copies once
   * they are started */
  int shared_fd[MAX_CHILDREN];
  int nshared;
  uint64_t drain_ns; /* when the drain began */
  /* the watchdog: the group's counters (read, serialized, acknowledged) and when they last moved
   * while work was queued; what it found (stalled: the stage blamed, shown in stats.json) */
  uint64_t flow[3], flow_moved_ns, stall_timeout_ns;
  char stalled[160];
  /* the HTTP endpoint (metrics.listen; NULL: off), what it shows of the group, and when */
  rc_http *http;
  rc_group_state state;
  rc_schema_topic *schema_topic; /* the schema history published to Kafka (schema_topic.h); NULL off */
  char state_reason[256];
  uint64_t restarts_total, http_ns;
  double start_wall_s;
} group;

static volatile sig_atomic_t got_signal;
static int sig_fd = -1;

static uint64_t metric_of(const child *c, const char *name) {
  for (int i = 0; i < c->nm; i++)
    if (!strcmp(c->m[i].name, name)) return c->m[i].value;
  return 0;
}

static uint64_t stage_sum(const group *g, const char *stage, const char *name) {
  uint64_t s = 0;
  for (int i = 0; i < g->nc; i++)
    if (!strcmp(g->c[i].stage, stage)) s += metric_of(&g->c[i], name);
  return s;
}

static child *find_child(group *g, const char *stage, int worker) {
  for (int i = 0; i < g->nc; i++)
    if (!strcmp(g->c[i].stage, stage) && g->c[i].worker == worker) return &g->c[i];
  return NULL;
}

/* A snapshot: "stage NAME\nworker N\nkey value\n...". */
static void take_snapshot(group *g, const char *msg, size_t len) {
  if (len >= RC_SNAPSHOT_MAX) {
    rc_warn("a metrics snapshot of %zu bytes, more than the %d rowcast takes: dropped", len, RC_SNAPSHOT_MAX);
    return;
  }
  char *text = malloc(len + 1);
  if (!text) return;
  memcpy(text, msg, len);
  text[len] = 0;
  char stage[32] = "";
  int worker = 0;
  child *c = NULL;
  if (sscanf(text, "stage %31s\nworker %d", stage, &worker) != 2 || !(c = find_child(g, stage, worker))) {
    free(text);
    return;
  }
  char *raw = realloc(c->snap, len + 1);
  if (raw) {
    memcpy(raw, text, len + 1);
    c->snap = raw;
    c->snap_len = len;
  }
  c->nm = 0;
  c->snap_ns = rc_now_ns();
  c->snap_table[0] = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char name[32];
    unsigned long long v;
    if (!strncmp(line, "table ", 6) || !strncmp(line, "hist ", 5) || !strncmp(line, "snapshot_tab ", 13))
      continue; /* for /metrics only */
    if (!strncmp(line, "file ", 5)) {
      snprintf(c->file, sizeof c->file, "%s", line + 5);
      continue;
    }
    if (!strncmp(line, "gtid ", 5)) {
      snprintf(c->gtid, sizeof c->gtid, "%s", line + 5);
      continue;
    }
    if (!strncmp(line, "snapshot_table ", 15)) {
      snprintf(c->snap_table, sizeof c->snap_table, "%s", line + 15);
      continue;
    }
    if (sscanf(line, "%31s %llu", name, &v) == 2 && c->nm < MAX_METRICS) {
      snprintf(c->m[c->nm].name, sizeof c->m[c->nm].name, "%s", name);
      c->m[c->nm++].value = v;
    }
  }
  free(text);
  uint64_t progress = metric_of(c, "events") + metric_of(c, "changes") + metric_of(c, "batches") + metric_of(c, "acked");
  if (progress != c->progress || !c->moved_ns) c->moved_ns = c->snap_ns;
  c->progress = progress;
}

/* Show the group on the HTTP endpoint (metrics_http.h): at most every 200 ms unless forced (a
 * change of state), and before every step that blocks the loop. */
static void http_publish(group *g, rc_group_state state, const char *reason, int force) {
  if (!g->http) return;
  uint64_t now = rc_now_ns();
  if (!force && state == g->state && now - g->http_ns < 200000000ull) return;
  g->state = state;
  snprintf(g->state_reason, sizeof g->state_reason, "%s", reason ? reason : "");
  rc_http_stage st[MAX_CHILDREN];
  for (int i = 0; i < g->nc; i++) {
    const child *c = &g->c[i];
    uint64_t since = c->snap_ns ? c->snap_ns : c->started_ns;
    st[i] = (rc_http_stage){c->stage, c->worker, (int)c->pid, c->snap, c->snap_len,
                            now > since ? (now - since) / 1000000 : 0};
  }
  uint64_t interval_ms = (uint64_t)rc_config_int(g->cfg, "metrics.interval_ms");
  rc_http_view v = {state, g->state_reason, g->nfiles == 0, g->restarts_total, g->start_wall_s, g->state_dir, st, g->nc,
                    (uint64_t)rc_config_int(g->cfg, "health.max_lag_ms"), 3 * interval_ms + 2000};
  rc_http_publish(g->http, &v);
  g->http_ns = now;
}

/* Write the live figures to <state.dir>/stats.json for `rowcast stats` (atomic replace). */
static void write_stats(group *g) {
  char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
  snprintf(path, sizeof path, "%s/stats.json", g->state_dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  double secs = (double)(rc_now_ns() - g->start_ns) / 1e9;
  uint64_t now = rc_now_ns();
  fprintf(f, "{\"pid\":%d,\"uptime_s\":%.1f,\"restarts\":%d,\"no_progress_ms\":%llu", (int)getpid(), secs,
          g->restarts, (unsigned long long)(g->flow_moved_ns && now > g->flow_moved_ns ? (now - g->flow_moved_ns) / 1000000 : 0));
  if (g->stalled[0]) fprintf(f, ",\"stalled\":\"%s\"", g->stalled);
  fprintf(f, ",\"stages\":[");
  for (int i = 0; i < g->nc; i++) {
    const child *c = &g->c[i];
    fprintf(f, "%s{\"stage\":\"%s\",\"worker\":%d,\"pid\":%d", i ? "," : "", c->stage, c->worker, (int)c->pid);
    if (c->snap_ns) fprintf(f, ",\"last_report_ms\":%llu", (unsigned long long)(now > c->snap_ns ? (now - c->snap_ns) / 1000000 : 0));
    for (int k = 0; k < c->nm; k++)
      if (strcmp(c->m[k].name, "worker") && strcmp(c->m[k].name, "pid"))
        fprintf(f, ",\"%s\":%llu", c->m[k].name, (unsigned long long)c->m[k].value);
    if (c->file[0]) fprintf(f, ",\"file\":\"%s\"", c->file);
    if (c->gtid[0]) fprintf(f, ",\"gtid\":\"%s\"", c->gtid);
    if (c->snap_table[0]) { /* the table a snapshot reads, its pace and what is left */
      double ms = (double)metric_of(c, "snapshot_table_ms"), rows = (double)metric_of(c, "snapshot_table_rows");
      double est = (double)metric_of(c, "snapshot_table_estimate"), rate = ms > 0 ? rows * 1000 / ms : 0;
      fprintf(f, ",\"snapshot_table\":\"%s\",\"snapshot_table_rows_per_s\":%.0f,\"snapshot_table_eta_s\":%.0f",
              c->snap_table, rate, rate > 0 && est > rows ? (est - rows) / rate : 0);
    }
    fputc('}', f);
  }
  fputc(']', f);
  if (g->broker_status[0]) rc_broker_status_json(f, g->broker_status, g->broker_last_pid, g->broker_pid > 0);
  fprintf(f, "}\n");
  fclose(f);
  rename(tmp, path);
}

static void progress_line(group *g, int final) {
  uint64_t now = rc_now_ns();
  if (!final && now - g->last_line_ns < 1000000000ull) return;
  double dt = g->last_line_ns ? (double)(now - g->last_line_ns) / 1e9 : 1;
  uint64_t read = stage_sum(g, "reader", "changes"), ser = stage_sum(g, "serializer", "changes");
  uint64_t acked = stage_sum(g, "publisher", "acked");
  child *pub = find_child(g, "publisher", 0);
  write_stats(g);
  if (g->tty && !final) {
    fprintf(stderr,
            "\rrowcast: read %llu (%.0f/s)  serialized %llu  acked %llu (%.0f/s)  not yet acked %llu  latency p50 %.1f ms p99 %.1f ms   ",
            (unsigned long long)read, (double)(read - g->last_line_read) / dt, (unsigned long long)ser,
            (unsigned long long)acked, (double)(acked - g->last_line_acked) / dt,
            (unsigned long long)(read > acked ? read - acked : 0),
            pub ? (double)metric_of(pub, "latency_p50_us") / 1000 : 0,
            pub ? (double)metric_of(pub, "latency_p99_us") / 1000 : 0);
    child *rd = find_child(g, "reader", 0);
    if (rd && rd->snap_table[0])
      fprintf(stderr, "\rrowcast: snapshot %s %llu/~%llu rows (tables %llu/%llu done)   ", rd->snap_table,
              (unsigned long long)metric_of(rd, "snapshot_table_rows"), (unsigned long long)metric_of(rd, "snapshot_table_estimate"),
              (unsigned long long)metric_of(rd, "snapshot_tables_done"), (unsigned long long)metric_of(rd, "snapshot_tables"));
    fflush(stderr);
  }
  g->last_line_ns = now;
  g->last_line_read = read;
  g->last_line_acked = acked;
}

static void drain_metrics(group *g) {
  char err[256];
  void *msg;
  size_t len;
  while (rc_pipe_recv(g->metrics_sock, &msg, &len, err, sizeof err) > 0) {
    take_snapshot(g, msg, len);
    rc_pipe_msg_free(msg);
  }
}

static pid_t spawn_stage(group *g, const char *stage, int worker) {
  char exe[PATH_MAX + 32], wbuf[16], fdbuf[16], shared[16 * MAX_CHILDREN];
  snprintf(exe, sizeof exe, "%s/rowcast-%s", g->exe_dir, stage);
  snprintf(wbuf, sizeof wbuf, "%d", worker);
  snprintf(fdbuf, sizeof fdbuf, "%d", g->watch_pipe[0]);
  /* no signal may run the supervisor's handler in the child between fork and exec */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid != 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
  }
  {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN); /* the supervisor decides how a Ctrl-C drains the group */
    signal(SIGHUP, SIG_IGN); /* ... and a hang-up of the terminal */
    rc_signals_close();
    if (g->lock_fd >= 0) fcntl(g->lock_fd, F_SETFD, 0); /* the stage holds the state.dir lock too */
    /* the shared frame rings: a serializer its own, the publisher every worker's */
    size_t sl = 0;
    shared[0] = 0;
    int pub = !strcmp(stage, "publisher"), ser = !strcmp(stage, "serializer");
    for (int i = 0; i < g->nshared && (pub || ser); i++) {
      if (ser && i != worker) continue;
      if (g->shared_fd[i] >= 0) fcntl(g->shared_fd[i], F_SETFD, 0);
      sl += (size_t)snprintf(shared + sl, sizeof shared - sl, "%s%d", sl ? "," : "", g->shared_fd[i]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    char *argv[16 + 4096];
    int n = 0;
    argv[n++] = exe;
    argv[n++] = "--config";
    argv[n++] = g->config_path;
    argv[n++] = "--worker";
    argv[n++] = wbuf;
    argv[n++] = "--parent-fd";
    argv[n++] = fdbuf;
    if (shared[0]) {
      argv[n++] = "--shared-fds";
      argv[n++] = shared;
    }
    if (!strcmp(stage, "reader")) {
      argv[n++] = "--";
      for (int i = 0; i < g->nfiles && n < 16 + 4090; i++) argv[n++] = g->files[i];
    }
    argv[n] = NULL;
    execv(exe, argv);
    fprintf(stderr, "rowcast: cannot run %s: %s\n", exe, strerror(errno));
    _exit(1);
  }
}

#define KEEP_GOING (-1) /* a step's answer when the group runs on */

static void shared_close(group *g) {
  for (int i = 0; i < g->nshared; i++)
    if (g->shared_fd[i] >= 0) close(g->shared_fd[i]);
  g->nshared = 0;
}

/* A fresh shared frame ring per serializer worker (pipe.shared_bytes among them). One that
 * cannot be made is said, and that worker's batches go through its pipe: slower, not wrong. */
static void shared_open(group *g, int workers) {
  shared_close(g);
  uint64_t total = (uint64_t)rc_config_int(g->cfg, "pipe.shared_bytes");
  if (!total || workers < 1) return;
  if (total < 4u << 20)
    rc_warn("pipe.shared_bytes (%llu bytes) is under 4 MiB: it bounds the batches between the serializers and "
            "Kafka's acknowledgements, and a busy pipeline will wait on it (16m is the default; 0 turns it off)",
            (unsigned long long)total);
  uint64_t each = total / (uint64_t)workers / 4096 * 4096;
  if (each < 65536) {
    rc_warn("pipe.shared_bytes (%llu bytes) leaves less than 64 KiB to each of the %d serializer workers: their "
            "batches go through the pipes",
            (unsigned long long)total, workers);
    return;
  }
  g->nshared = workers < MAX_CHILDREN ? workers : MAX_CHILDREN;
  for (int w = 0; w < g->nshared; w++) {
    char err[256], name[32];
    snprintf(name, sizeof name, "rowcast-frames-%d", w);
    g->shared_fd[w] = rc_shared_create(each, name, err, sizeof err);
    if (g->shared_fd[w] < 0)
      rc_warn("serializer %d: no shared memory for its batches (%s); they go through its pipe", w, err);
  }
}

/* Start the stages, after the recovery has written what Kafka holds (the skip table). Returns
 * KEEP_GOING, or the exit status (0 when a stop signal came during the recovery). */
static int start_group(group *g) {
  http_publish(g, RC_GROUP_STARTING, "reading what Kafka holds before the stages start", 1);
  /* the local broker is empty at the first start of a run (g->nc is 0 only then) */
  int r = rc_recovery_prepare(g->cfg, g->state_dir, g->run_dir, g->broker_pid > 0 && g->nc == 0, &got_signal);
  if (r == RC_RECOVERY_STOPPED) rc_info("stopped by a signal before the stages started; nothing was sent");
  if (r) return r == RC_RECOVERY_STOPPED ? 0 : r;
  int workers = (int)rc_config_int(g->cfg, "serializer.workers");
  shared_open(g, workers);
  g->nc = 0;
  const char *order[3] = {"publisher", "serializer", "reader"};
  for (int s = 0; s < 3; s++) {
    int n = s == 1 ? workers : 1;
    for (int w = 0; w < n; w++) {
      child *c = &g->c[g->nc];
      free(c->snap);
      memset(c, 0, sizeof *c);
      c->stage = order[s];
      c->worker = w;
      c->started_ns = rc_now_ns();
      c->pid = spawn_stage(g, order[s], w);
      if (c->pid < 0) {
        rc_error("cannot start rowcast-%s: %s", order[s], strerror(errno));
        return 1;
      }
      g->nc++;
    }
  }
  shared_close(g); /* the stages hold them now: a group restart makes new ones */
  http_publish(g, RC_GROUP_RUNNING, NULL, 1);
  return KEEP_GOING;
}

static uint64_t cpu_us_of(const struct rusage *ru) {
  return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
         (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

/* A child was reaped (wait4) with this rusage: its slot is free, its figures counted, and its
 * last snapshot taken from <run.dir>/<stage>-<worker>.final when it wrote one (stage.c). */
static void reaped(group *g, child *c, const struct rusage *ru) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s-%d.final", g->run_dir, c->stage, c->worker);
  FILE *f = fopen(path, "r");
  if (f) {
    char *text = malloc(RC_SNAPSHOT_MAX);
    size_t n = text ? fread(text, 1, RC_SNAPSHOT_MAX, f) : 0;
    fclose(f);
    unlink(path);
    if (n && n < RC_SNAPSHOT_MAX) take_snapshot(g, text, n);
    free(text);
  }
  c->pid = 0;
  c->cpu_us += cpu_us_of(ru);
  if ((uint64_t)ru->ru_maxrss > c->max_rss_kb) c->max_rss_kb = (uint64_t)ru->ru_maxrss;
}

/* Stop the local broker, if one runs; 1 with its rusage in *ru when it was reaped. */
static int stop_broker(group *g, struct rusage *ru) {
  if (g->broker_pid <= 0) return 0;
  kill(g->broker_pid, SIGTERM);
  struct rusage r;
  int ok = wait4(g->broker_pid, NULL, 0, &r) == g->broker_pid;
  g->broker_pid = 0;
  if (ok && ru) *ru = r;
  return ok;
}

/* Stop every live child: SIGTERM, then SIGKILL after a grace period. */
static void stop_group(group *g, int grace_ms) {
  for (int i = 0; i < g->nc; i++)
    if (g->c[i].pid > 0) {
      kill(g->c[i].pid, SIGTERM);
      kill(g->c[i].pid, SIGCONT); /* a stopped stage (SIGSTOP) handles it at once */
    }
  uint64_t deadline = rc_now_ns() + (uint64_t)grace_ms * 1000000ull;
  for (;;) {
    int alive = 0;
    for (int i = 0; i < g->nc; i++) {
      if (g->c[i].pid <= 0) continue;
      struct rusage ru;
      if (wait4(g->c[i].pid, NULL, WNOHANG, &ru) == g->c[i].pid) reaped(g, &g->c[i], &ru);
      else alive++;
    }
    if (!alive) return;
    if (rc_now_ns() > deadline) break;
    usleep(20000);
  }
  for (int i = 0; i < g->nc; i++)
    if (g->c[i].pid > 0) {
      kill(g->c[i].pid, SIGKILL);
      struct rusage ru;
      if (wait4(g->c[i].pid, NULL, 0, &ru) == g->c[i].pid) reaped(g, &g->c[i], &ru);
      g->c[i].pid = 0;
    }
}

static void describe_exit(int status, char *out, size_t n) {
  if (WIFEXITED(status)) snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(out, n, "stopped");
}

static int read_done(group *g, char *summary, size_t n) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/publisher.done", g->run_dir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t r = fread(summary, 1, n - 1, f);
  summary[r] = 0;
  fclose(f);
  return 0;
}

static uint64_t done_value(const char *summary, const char *key) {
  const char *p = strstr(summary, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The checkpoint as the stages left it (read after they stopped: the publisher writes one last
 * time when it stops), into *cp; logged when it cannot be read. */
static void read_checkpoint(group *g, rc_checkpoint *cp) {
  char err[1024];
  memset(cp, 0, sizeof *cp);
  if (rc_checkpoint_read(g->state_dir, cp, err, sizeof err) < 0) {
    rc_error("%s", err);
    memset(cp, 0, sizeof *cp);
  }
}

/* The last line of a stop before the end: where the next start resumes. */
static void say_checkpoint(group *g, const char *what) {
  rc_checkpoint cp;
  read_checkpoint(g, &cp);
  rc_info("%s with the checkpoint at %s:%llu (%llu changes acknowledged by Kafka); the next start resumes there "
          "and sends the rest", what, cp.file[0] ? cp.file : "(start)", (unsigned long long)cp.pos,
          (unsigned long long)cp.changes);
}

/* SIGTERM or SIGINT: the first drains (the reader stops, the rest is published), the second
 * stops at once. Returns KEEP_GOING, or the exit status. */
static int on_stop_signal(group *g) {
  if (!g->draining) {
    g->draining = 1;
    if (got_signal == SIGHUP) rc_info("SIGHUP (the terminal went away): stopping as for SIGTERM");
    rc_info("stopping: the reader stops reading, and what it read is published and checkpointed "
            "(signal again to stop at once)");
    g->drain_ns = rc_now_ns();
    http_publish(g, RC_GROUP_DRAINING, "stopping on request", 1);
    child *r = find_child(g, "reader", 0);
    if (r && r->pid > 0) kill(r->pid, SIGUSR1); /* drain: on to the end of the open transaction, then END */
    return KEEP_GOING;
  }
  rc_warn("stopping at once; the checkpoint stays where Kafka acknowledged");
  stop_group(g, 2000);
  say_checkpoint(g, "stopped");
  return 1;
}

/*
 * The restart policy, after stage c crashed (`how` says how): the whole group restarts from
 * the checkpoint, at least supervisor.restart_delay_ms later, the delay doubling while stages
 * die at start-up; after supervisor.max_restarts restarts without progress it gives up.
 * Returns KEEP_GOING once the group runs again, or the exit status.
 */
static int restart_after_crash(group *g, const child *c, const char *how) {
  uint64_t delay_ms = (uint64_t)rc_config_int(g->cfg, "supervisor.restart_delay_ms");
  int max_restarts = (int)rc_config_int(g->cfg, "supervisor.max_restarts");
  /* what was in flight is gone; the checkpoint is where the group (or a next run) resumes, as
   * the stopped stages leave it */
  char stage[32];
  snprintf(stage, sizeof stage, "%s", c->stage);
  int worker = c->worker, early = rc_now_ns() - c->started_ns < 1000000000ull;
  stop_group(g, 2000);
  rc_checkpoint cp;
  read_checkpoint(g, &cp);
  if (g->draining) { /* asked to stop anyway */
    rc_warn("rowcast-%s %s while stopping; stopped with the checkpoint at %s:%llu", stage, how,
            cp.file[0] ? cp.file : "(start)", (unsigned long long)cp.pos);
    return 1;
  }
  if (cp.changes > g->last_progress_changes) {
    g->last_progress_changes = cp.changes;
    g->restarts = 0;
  }
  if (++g->restarts > max_restarts) {
    rc_error("rowcast-%s %s; %d restarts without progress: giving up", stage, how, g->restarts - 1);
    return 1;
  }
  uint64_t wait_ms = delay_ms;
  if (early) /* dying at start-up: throttle */
    for (int i = 1; i < g->restarts && wait_ms < 60000; i++) wait_ms *= 2;
  rc_warn("rowcast-%s (worker %d) %s; restarting the group from the checkpoint %s:%llu in %llu ms",
          stage, worker, how, cp.file[0] ? cp.file : "(start)", (unsigned long long)cp.pos,
          (unsigned long long)wait_ms);
  char why[200];
  snprintf(why, sizeof why, "rowcast-%s (worker %d) %s; restarting from the checkpoint", stage, worker, how);
  g->restarts_total++;
  http_publish(g, RC_GROUP_RESTARTING, why, 1);
  usleep((useconds_t)(wait_ms * 1000));
  g->stalled[0] = 0;
  g->flow_moved_ns = 0;
  return start_group(g);
}

/* The stage to blame for a stall: one whose snapshots stopped coming (stopped, hung), else the
 * first stage downstream whose input is ahead of what it did. */
static child *stall_culprit(group *g, uint64_t now) {
  child *oldest = NULL;
  for (int i = 0; i < g->nc; i++)
    if (g->c[i].pid > 0 && (!oldest || g->c[i].snap_ns < oldest->snap_ns)) oldest = &g->c[i];
  uint64_t interval = (uint64_t)rc_config_int(g->cfg, "metrics.interval_ms") * 1000000ull;
  if (oldest && now - oldest->snap_ns > 3 * interval + 1000000000ull) return oldest;
  const char *stage = g->flow[0] > g->flow[1] ? "serializer" : "publisher";
  child *least = NULL;
  for (int i = 0; i < g->nc; i++)
    if (g->c[i].pid > 0 && !strcmp(g->c[i].stage, stage) && (!least || g->c[i].moved_ns < least->moved_ns))
      least = &g->c[i];
  return least;
}

/* The watchdog, once per wake-up: while work is queued (read but not yet acknowledged), the
 * group's counters must move within supervisor.stall_timeout_ms. If they do not, and the
 * publisher does not say it is waiting for Kafka (which it logs itself, and a restart would not
 * cure), the stalled stage is named (log, stats.json) and the group restarted. Returns
 * KEEP_GOING, or the exit status. */
static int watchdog(group *g) {
  uint64_t now = rc_now_ns();
  uint64_t flow[3] = {stage_sum(g, "reader", "changes"), stage_sum(g, "serializer", "changes"),
                      stage_sum(g, "publisher", "acked")};
  child *pub = find_child(g, "publisher", 0);
  int kafka_waits = pub && metric_of(pub, "kafka_waiting_ms") >= 5000; /* no ack for 5 s with messages out */
  if (!g->flow_moved_ns || memcmp(flow, g->flow, sizeof flow) || flow[0] <= flow[2] || kafka_waits || g->draining) {
    memcpy(g->flow, flow, sizeof flow);
    g->flow_moved_ns = now;
    return KEEP_GOING;
  }
  if (now - g->flow_moved_ns < g->stall_timeout_ns) return KEEP_GOING;
  child *c = stall_culprit(g, now);
  if (!c) return KEEP_GOING;
  char how[160];
  snprintf(how, sizeof how, "made no progress for %.1f s while work is queued (read %llu, serialized %llu, "
           "acknowledged %llu; its last report %.1f s ago)", (double)(now - g->flow_moved_ns) / 1e9,
           (unsigned long long)flow[0], (unsigned long long)flow[1], (unsigned long long)flow[2],
           (double)(now - c->snap_ns) / 1e9);
  snprintf(g->stalled, sizeof g->stalled, "rowcast-%s worker %d pid %d", c->stage, c->worker, (int)c->pid);
  rc_error("watchdog: rowcast-%s (worker %d, pid %d) %s: supervisor.stall_timeout_ms=%llu", c->stage, c->worker,
           (int)c->pid, how, (unsigned long long)(g->stall_timeout_ns / 1000000));
  write_stats(g);
  return restart_after_crash(g, c, "stalled");
}

/* kafka.bootstrap.servers, as configured (or set by the supervisor for its local broker). */
static const char *bootstrap_of(rc_config *cfg) {
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++)
    if (!strcmp(rc_config_kafka_key(cfg, i), "bootstrap.servers")) return rc_config_kafka_value(cfg, i);
  return "(no kafka.bootstrap.servers)";
}

/* Draining with Kafka unreachable: what is left cannot be acknowledged, so the drain would never
 * end. After 2 s of it, stop the group (the publisher checkpoints what Kafka acknowledged).
 * Returns KEEP_GOING, or the exit status. */
static int drain_bound(group *g) {
  child *pub = find_child(g, "publisher", 0);
  if (!g->draining || !pub || pub->pid <= 0 || rc_now_ns() - g->drain_ns < 2000000000ull) return KEEP_GOING;
  uint64_t waiting_ms = metric_of(pub, "kafka_waiting_ms");
  if (waiting_ms < 2000) return KEEP_GOING;
  rc_warn("stopping: Kafka at %s has acknowledged nothing for %.0f s, so what is left cannot be published now",
          bootstrap_of(g->cfg), (double)waiting_ms / 1e3);
  stop_group(g, 3000);
  say_checkpoint(g, "stopped before the end");
  return 1;
}

/* Process pid was reaped with this status. Returns KEEP_GOING, or the exit status. */
static int on_child_exit(group *g, pid_t pid, int status, const struct rusage *ru) {
  char how[128];
  if (pid == g->broker_pid) {
    describe_exit(status, how, sizeof how);
    rc_error("the local Kafka broker %s; stopping", how);
    g->broker_pid = 0;
    stop_group(g, 2000);
    return 1;
  }
  child *c = NULL;
  for (int i = 0; i < g->nc; i++)
    if (g->c[i].pid == pid) c = &g->c[i];
  if (!c) return KEEP_GOING;
  reaped(g, c, ru);
  int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean && !strcmp(c->stage, "publisher")) {
    stop_group(g, 2000);
    usleep(50000);
    drain_metrics(g); /* the stages' last snapshots */
    return 0;         /* all published */
  }
  if (clean && !strcmp(c->stage, "reader"))
    return KEEP_GOING; /* it sent the END of the stream: the publisher finishes the rest */
  describe_exit(status, how, sizeof how);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    rc_error("rowcast-%s %s: a configuration or data error (see above); not restarting", c->stage, how);
    stop_group(g, 2000);
    return 2;
  }
  return restart_after_crash(g, c, how);
}

/* Run the group until the end of the input (replay) or a stop. Returns the exit status. */
static int supervise(group *g) {
  int r0 = start_group(g);
  if (r0 != KEEP_GOING) return r0;
  struct pollfd fds[2] = {{.fd = rc_pipe_fd(g->metrics_sock, 1), .events = POLLIN},
                          {.fd = sig_fd, .events = POLLIN}};
  for (;;) {
    poll(fds, 2, 200);
    int r = KEEP_GOING;
    if (fds[1].revents && rc_signals_drain()) /* SIGTERM or SIGINT (a child's exit only wakes us) */
      r = on_stop_signal(g);
    if (r != KEEP_GOING) return r;
    drain_metrics(g);
    rc_schema_topic_tick(g->schema_topic);
    progress_line(g, 0);
    http_publish(g, g->draining ? RC_GROUP_DRAINING : RC_GROUP_RUNNING, g->draining ? "stopping on request" : NULL, 0);
    int status;
    pid_t pid;
    struct rusage ru;
    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
      if ((r = on_child_exit(g, pid, status, &ru)) != KEEP_GOING) return r;
    if ((r = watchdog(g)) != KEEP_GOING || (r = drain_bound(g)) != KEEP_GOING) return r;
  }
}

static int exe_dir(char *out, size_t n) {
  char buf[PATH_MAX];
  ssize_t r = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (r < 0) return -1;
  buf[r] = 0;
  char *slash = strrchr(buf, '/');
  if (slash) *slash = 0;
  snprintf(out, n, "%s", buf);
  return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* The temporary run directory a killed rowcast left behind (recorded in the lock file: its
 * holder and all its stages are gone, since we hold the lock now). Only rowcast's own
 * /tmp/rowcast-run-* directories, never a configured run.dir. */
static void remove_stale_run_dir(const char *dir) {
  struct stat sb;
  if (!dir[0] || strncmp(dir, "/tmp/rowcast-run-", 17) || strstr(dir, "/..") || stat(dir, &sb) != 0) return;
  if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
    rc_info("removed the run directory %s, left behind by a rowcast that was killed", dir);
  else
    rc_warn("cannot remove the run directory %s, left behind by a rowcast that was killed: %s", dir, strerror(errno));
}

/* The state directory, the stages' directory, and the run directory (run.dir, or a fresh one
 * under /tmp that *own_run_dir says to remove at the end). Returns 0 or the exit status. */
static int open_dirs(group *g, int *own_run_dir) {
  char err[1024];
  g->state_dir = rc_config_str(g->cfg, "state.dir");
  if (rc_mkdirs(g->state_dir, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return 2;
  }
  if (rc_private_mode_check(g->state_dir, "state.dir", err, sizeof err)) rc_warn("%s", err);
  if (exe_dir(g->exe_dir, sizeof g->exe_dir) < 0) return 1;
  char prev_run[PATH_MAX];
  g->lock_fd = rc_state_lock(g->state_dir, 5000, prev_run, sizeof prev_run, err, sizeof err);
  if (g->lock_fd < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return 2;
  }
  remove_stale_run_dir(prev_run);
  /* a checkpoint that cannot be read is an error now, never a silent start from the beginning */
  rc_checkpoint cp;
  if (rc_checkpoint_read(g->state_dir, &cp, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return 2;
  }
  const char *rd = rc_config_str(g->cfg, "run.dir");
  if (!rd[0]) {
    snprintf(g->run_dir, sizeof g->run_dir, "/tmp/rowcast-run-XXXXXX");
    if (!mkdtemp(g->run_dir)) {
      fprintf(stderr, "rowcast: cannot create a run directory: %s\n", strerror(errno));
      return 1;
    }
    *own_run_dir = 1;
  } else {
    snprintf(g->run_dir, sizeof g->run_dir, "%s", rd);
    if (rc_mkdirs(g->run_dir, err, sizeof err) < 0) {
      fprintf(stderr, "rowcast: %s\n", err);
      return 2;
    }
    if (rc_private_mode_check(g->run_dir, "run.dir", err, sizeof err)) rc_warn("%s", err);
  }
  if (rc_state_lock_record(g->lock_fd, g->run_dir, *own_run_dir) < 0)
    rc_warn("cannot record pid and run directory in %s/lock: %s", g->state_dir, strerror(errno));
  if (rc_config_set(g->cfg, "run.dir", g->run_dir, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: run directory %s: %s\n", g->run_dir, err);
    return 1;
  }
  return 0;
}

/* Kafka: the configured cluster, or rowcast's local broker when none is. Returns 0 or -1. */
static int open_kafka(group *g) {
  char err[1024];
  for (size_t i = 0; i < rc_config_kafka_count(g->cfg); i++)
    if (!strcmp(rc_config_kafka_key(g->cfg, i), "bootstrap.servers")) return 0;
  char exe[PATH_MAX + 16], boot[256];
  snprintf(exe, sizeof exe, "%s/rowcast", g->exe_dir);
  snprintf(g->broker_status, sizeof g->broker_status, "%s/broker.status", g->run_dir);
  if (rc_broker_spawn(exe, g->broker_status, &g->broker_pid, boot, sizeof boot, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: cannot start the local Kafka broker: %s\n", err);
    return -1;
  }
  g->broker_last_pid = g->broker_pid;
  rc_config_set(g->cfg, "kafka.bootstrap.servers", boot, err, sizeof err);
  rc_info("no kafka.bootstrap.servers configured: started rowcast's local broker at %s "
          "(in memory, for development: see `rowcast broker --help`)",
          boot);
  return 0;
}

/* What the stages get from the supervisor: the configuration file they all read, the pipe
 * they watch, the metrics socket they report to; and the signals. Returns 0 or -1. */
static int open_channels(group *g) {
  char err[1024];
  snprintf(g->config_path, sizeof g->config_path, "%s/config.ini", g->run_dir);
  if (rc_config_write(g->cfg, g->config_path, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return -1;
  }
  if (pipe2(g->watch_pipe, 0) != 0) return -1;
  fcntl(g->watch_pipe[1], F_SETFD, FD_CLOEXEC);
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/metrics.ipc", g->run_dir);
  rc_pipe_opts mo = {4 << 20, 1 << 20};
  g->metrics_sock = rc_pipe_open(0, path, 1, &mo, err, sizeof err);
  if (g->metrics_sock < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return -1;
  }
  if ((sig_fd = rc_signals_catch(&got_signal, 0)) < 0 || rc_signals_wake_on_child() < 0) return -1;
  /* the terminal rowcast runs in went away: a stop like SIGTERM's, said as such, not the default
   * death that leaves the stages to notice they are alone (under nohup it stays ignored) */
  struct sigaction hup;
  if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN && rc_signals_also(SIGHUP) < 0) return -1;
  return 0;
}

/* The first summary line: what was published, how fast, the latencies and the checkpoint,
 * from the publisher's done file. */
static void print_done(const group *g, const char *summary) {
  /* from the start of the group to the publisher's last acknowledgement (one clock:
   * CLOCK_MONOTONIC), not counting the stages' shutdown */
  uint64_t done_ns = done_value(summary, "done_ns=");
  double secs = (double)((done_ns > g->start_ns ? done_ns : rc_now_ns()) - g->start_ns) / 1e9;
  uint64_t changes = done_value(summary, "changes=");
  const char *cp = strstr(summary, "checkpoint=");
  printf("rowcast: %s %llu changes of %llu tables in %.2f s (%.0f changes/s, messages: keys %.3f MB, "
         "values %.3f MB); latency p50 %.1f ms, "
         "p99 %.1f ms, max %.1f ms (receipt to Kafka ack; from commit: p50 %.1f ms, p99 %.1f ms); "
         "checkpoint %.*s\n",
         g->draining ? "stopped on request after publishing" : g->nfiles ? "replayed" : "published", (unsigned long long)changes,
         (unsigned long long)done_value(summary, "tables="), secs, secs > 0 ? (double)changes / secs : 0,
         (double)done_value(summary, "key_bytes=") / 1e6, (double)done_value(summary, "value_bytes=") / 1e6,
         (double)done_value(summary, "latency_p50_us=") / 1000, (double)done_value(summary, "latency_p99_us=") / 1000,
         (double)done_value(summary, "latency_max_us=") / 1000,
         (double)done_value(summary, "commit_latency_p50_us=") / 1000,
         (double)done_value(summary, "commit_latency_p99_us=") / 1000, cp ? (int)strcspn(cp + 11, "\n") : 0,
         cp ? cp + 11 : "");
  uint64_t chunks = stage_sum(g, "reader", "snapshot_chunks");
  if (chunks) /* the reader's last report: this run's snapshot */
    printf("rowcast: snapshot: %llu rows sent as r in %llu chunks (%llu left to the stream), %llu of %llu tables done\n",
           (unsigned long long)stage_sum(g, "reader", "snapshot_rows_sent"), (unsigned long long)chunks,
           (unsigned long long)stage_sum(g, "reader", "snapshot_rows_dropped"),
           (unsigned long long)stage_sum(g, "reader", "snapshot_tables_done"),
           (unsigned long long)stage_sum(g, "reader", "snapshot_tables"));
}

/* The last two summary lines: peak memory and CPU time of each stage (from the kernel, summed
 * over restarts), the supervisor and the local broker, which is stopped here. */
static void print_resources(group *g) {
  uint64_t rss[3] = {0}, cpu[3] = {0};
  static const char *const stages[3] = {"reader", "serializer", "publisher"};
  for (int i = 0; i < g->nc; i++)
    for (int k = 0; k < 3; k++)
      if (!strcmp(g->c[i].stage, stages[k])) {
        cpu[k] += g->c[i].cpu_us;
        if (g->c[i].max_rss_kb > rss[k]) rss[k] = g->c[i].max_rss_kb;
      }
  long long workers = (long long)rc_config_int(g->cfg, "serializer.workers");
  printf("rowcast: peak memory (RSS): reader %.1f MiB, serializer %.1f MiB (largest of %lld), publisher %.1f MiB",
         (double)rss[0] / 1024, (double)rss[1] / 1024, workers, (double)rss[2] / 1024);
  struct rusage self, broker;
  int have_broker = stop_broker(g, &broker); /* its work is done: every change is acknowledged */
  if (getrusage(RUSAGE_SELF, &self) == 0) printf(", supervisor %.1f MiB", (double)self.ru_maxrss / 1024);
  if (have_broker) printf(", local broker %.1f MiB", (double)broker.ru_maxrss / 1024);
  printf("\n");
  printf("rowcast: CPU time: reader %.2f s, serializers %.2f s (all %lld), publisher %.2f s", (double)cpu[0] / 1e6,
         (double)cpu[1] / 1e6, workers, (double)cpu[2] / 1e6);
  if (have_broker) printf(", local broker %.2f s", (double)cpu_us_of(&broker) / 1e6);
  printf("\n");
  fflush(stdout);
}

/* The HTTP endpoint, when metrics.listen is set. Returns 0, or 2 (a bad or taken address). */
static int open_http(group *g) {
  const char *listen = rc_config_str(g->cfg, "metrics.listen");
  if (!listen[0]) return 0;
  char err[1024];
  uint64_t interval_ms = (uint64_t)rc_config_int(g->cfg, "metrics.interval_ms");
  if (rc_http_open(listen, 3 * interval_ms + 10000, &g->http, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast: %s\n", err);
    return 2;
  }
  rc_info("serving metrics at %s/metrics and health at %s/healthz", rc_http_url(g->http), rc_http_url(g->http));
  return 0;
}

/* The end, on the HTTP endpoint: the final figures, served for metrics.linger_ms more (so that a
 * scraper gets them after a replay), or until a signal. */
static void http_final(group *g, int status) {
  if (!g->http) return;
  rc_group_state st = status == 0 && !g->draining ? RC_GROUP_FINISHED : RC_GROUP_STOPPED;
  char why[64] = "";
  if (st != RC_GROUP_FINISHED) snprintf(why, sizeof why, "exit status %d", status);
  http_publish(g, st, why, 1);
  uint64_t ms = (uint64_t)rc_config_int(g->cfg, "metrics.linger_ms");
  if (!ms) return;
  rc_info("serving the final figures at %s/metrics for %.1f s more (metrics.linger_ms); a signal ends it",
          rc_http_url(g->http), (double)ms / 1e3);
  uint64_t end = rc_now_ns() + ms * 1000000ull;
  for (uint64_t now; (now = rc_now_ns()) < end;) {
    struct pollfd fd = {.fd = sig_fd, .events = POLLIN};
    if (poll(&fd, 1, (int)((end - now) / 1000000) + 1) > 0 && rc_signals_drain()) break;
    http_publish(g, st, why, 1); /* the ages in it move on */
  }
}

/* The filter.* keys make a filter (a key file to read, a mask without one...): 0, or 2 after
 * saying why, before anything starts. The stages build the same filter again. */
static int check_filter(const rc_config *cfg) {
  rc_filter *f;
  char err[1024];
  if (rc_filter_from_config(&f, cfg, err, sizeof err) < 0) {
    rc_error("%s", err);
    return 2;
  }
  rc_filter_free(f);
  return 0;
}

int rc_group_run(rc_config *cfg, char **files, int nfiles) {
  if (check_filter(cfg) != 0) return 2;
  group g;
  memset(&g, 0, sizeof g);
  g.lock_fd = -1;
  g.cfg = cfg;
  g.stall_timeout_ns = (uint64_t)rc_config_int(cfg, "supervisor.stall_timeout_ms") * 1000000ull;
  g.files = files;
  g.nfiles = nfiles;
  int own_run_dir = 0;
  g.start_wall_s = (double)rc_wall_ns() / 1e9;
  int status = open_dirs(&g, &own_run_dir);
  if (status == 0) status = open_http(&g);
  if (status == 0) status = open_kafka(&g) < 0 || open_channels(&g) < 0 ? 1 : 0;
  /* a schema history lost from the state dir, rebuilt from Kafka before the tracker starts */
  int stopped = 0;
  if (status == 0 && (status = rc_schema_topic_rebuild(cfg, g.state_dir, g.broker_pid > 0, &got_signal)) < 0) {
    rc_info("stopped by a signal before the stages started; nothing was sent");
    status = 0, stopped = 1;
  }
  if (status == 0 && !stopped) {
    g.tty = isatty(STDERR_FILENO);
    g.start_ns = rc_now_ns();
    g.schema_topic = rc_schema_topic_new(cfg, g.state_dir, g.broker_pid > 0);
    status = supervise(&g);
    rc_schema_topic_close(g.schema_topic); /* what the tracker added last, before the broker stops */
    if (g.tty) fputc('\n', stderr);
    char summary[2048];
    if (status == 0 && read_done(&g, summary, sizeof summary) == 0) {
      print_done(&g, summary);
      print_resources(&g);
    }
    progress_line(&g, 1);
    http_final(&g, status);
  }
  rc_http_close(g.http);
  for (int i = 0; i < MAX_CHILDREN; i++) free(g.c[i].snap);
  stop_broker(&g, NULL);
  if (g.metrics_sock > 0) rc_pipe_close(g.metrics_sock);
  if (own_run_dir && nftw(g.run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    rc_warn("cannot remove the run directory %s: %s", g.run_dir, strerror(errno));
  if (g.lock_fd >= 0) close(g.lock_fd);
  return status;
}
