/*
 * stats_watch.c: `rowcast stats --watch` (stats_watch.h).
 *
 * Each refresh reads stats.json whole and turns it into one row per stage process:
 *   RATE     changes per second over the last interval: changes read (reader), serialized
 *            (each serializer), acknowledged by Kafka (publisher), messages appended (local
 *            broker); the counter's change divided by the time between the two snapshots it
 *            comes from (each snapshot carries its own time), so the once-a-second rewrite of
 *            stats.json does not make the figure jump;
 *   CPU, RSS from /proc/<pid>/stat and /proc/<pid>/statm: CPU over the refresh interval (100%
 *            is one core), resident memory now;
 *   QUEUE    changes waiting for the stage: for the serializers (all workers together, nanomsg
 *            does not tell one pipe from another) those read and not serialized yet; for the
 *            publisher those serialized and not acknowledged yet, with the fill of its
 *            producer queue (messages in flight / queue.buffering.max.messages);
 *   BLOCKED  the share of the interval the stage spent waiting on a full pipe downstream;
 *   LAG      seconds behind the source, for `rowcast run` (a replay reads files: no "now" of
 *            the source to be behind): the reader's, from the last event it read; the
 *            publisher's, from the commit time of the last change Kafka acknowledged (the
 *            reader's when nothing is waiting);
 *   AT       the reader's binlog file:position and GTID.
 * A group restarted after a crash has new pids: their rates start again.
 */
#include "stats_watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "signals.h"
#include "stats_read.h"

#define FRESH_MS 5000 /* where /proc cannot tell: stats.json older than this (and the interval): gone */
#define MAX_WARNINGS 256

typedef struct {
  char stage[16];
  int worker;
  pid_t pid;
  uint64_t count, wait_ms, snap_ns; /* the counter and send-wait time at the last snapshot */
  double rate, blocked;
  int have_rate;
  uint64_t ticks, ticks_ns; /* CPU ticks from /proc, and when (our clock) */
  double cpu;
  int have_cpu;
} track;

typedef struct {
  track t[RC_STATS_MAX_STAGES + 1];
  int n;
  int tty;
  long clk_tck, page_kb;
  char *warned[MAX_WARNINGS]; /* warnings already printed (plain output says each once) */
  int nwarned;
} watch;

typedef struct {
  char name[24];
  pid_t pid;
  char rate[24], cpu[16], rss[24], queue[48], blocked[16], lag[24], at[320];
} row;

static volatile sig_atomic_t stop_flag;

/* CPU ticks (user + system) and resident KiB of pid from /proc: 0, or -1 when it is gone. */
static int proc_sample(pid_t pid, const watch *w, uint64_t *ticks, uint64_t *rss_kb) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  *ticks = ut + st;
  snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
  unsigned long long size, res;
  if (!(f = fopen(path, "r"))) return -1;
  int ok = fscanf(f, "%llu %llu", &size, &res) == 2;
  fclose(f);
  *rss_kb = ok ? res * (uint64_t)w->page_kb : 0;
  return ok ? 0 : -1;
}

static track *track_of(watch *w, const char *stage, int worker, pid_t pid) {
  track *t = NULL;
  for (int i = 0; i < w->n && !t; i++)
    if (w->t[i].worker == worker && !strcmp(w->t[i].stage, stage)) t = &w->t[i];
  if (!t) {
    if (w->n == (int)(sizeof w->t / sizeof w->t[0])) return &w->t[w->n - 1];
    t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->stage, sizeof t->stage, "%s", stage);
    t->worker = worker;
  }
  if (t->pid != pid) { /* a new process in this slot (restart): its counters start again */
    memset(t, 0, sizeof *t);
    snprintf(t->stage, sizeof t->stage, "%s", stage);
    t->worker = worker;
    t->pid = pid;
  }
  return t;
}

/* Take a snapshot's counter, send-wait time and time; the rate moves only with a new one. */
static void track_counts(track *t, uint64_t count, uint64_t wait_ms, uint64_t snap_ns) {
  if (snap_ns == t->snap_ns) return;
  if (t->snap_ns && snap_ns > t->snap_ns && count >= t->count) {
    double dt = (double)(snap_ns - t->snap_ns) / 1e9;
    t->rate = (double)(count - t->count) / dt;
    t->blocked = wait_ms >= t->wait_ms ? (double)(wait_ms - t->wait_ms) / 10.0 / dt : 0;
    if (t->blocked > 100) t->blocked = 100;
    t->have_rate = 1;
  }
  t->count = count;
  t->wait_ms = wait_ms;
  t->snap_ns = snap_ns;
}

/* CPU and RSS of the row's process into r (and t's CPU sample). */
static void fill_proc(const watch *w, track *t, row *r) {
  uint64_t ticks, rss_kb, now = rc_now_ns();
  if (r->pid <= 0 || proc_sample(r->pid, w, &ticks, &rss_kb) < 0) {
    snprintf(r->cpu, sizeof r->cpu, "-");
    snprintf(r->rss, sizeof r->rss, "-");
    return;
  }
  if (t->ticks_ns && now > t->ticks_ns && ticks >= t->ticks) {
    t->cpu = (double)(ticks - t->ticks) / (double)w->clk_tck / ((double)(now - t->ticks_ns) / 1e9) * 100;
    t->have_cpu = 1;
  }
  t->ticks = ticks;
  t->ticks_ns = now;
  if (t->have_cpu) snprintf(r->cpu, sizeof r->cpu, "%.1f%%", t->cpu);
  else snprintf(r->cpu, sizeof r->cpu, "-");
  snprintf(r->rss, sizeof r->rss, "%.1fMiB", (double)rss_kb / 1024);
}

static void fmt_rate(const track *t, char *out, size_t size) {
  if (!t->have_rate) snprintf(out, size, "-");
  else snprintf(out, size, "%.0f/s", t->rate);
}

static uint64_t sum_of(const rc_stats *s, const char *stage, const char *name) {
  uint64_t v = 0;
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->st[i].stage, stage)) v += rc_stats_u64(s->st[i].o, name);
  return v;
}

static const json_t *first_of(const rc_stats *s, const char *stage) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->st[i].stage, stage)) return s->st[i].o;
  return NULL;
}

/* The rows of one refresh: reader, serializers, publisher, then the broker. */
static int make_rows(watch *w, const rc_stats *s, row *rows, int max) {
  uint64_t read = sum_of(s, "reader", "changes"), ser = sum_of(s, "serializer", "changes");
  uint64_t done = sum_of(s, "publisher", "acked") + sum_of(s, "publisher", "skipped");
  const json_t *rd = first_of(s, "reader");
  int live = rd && rc_stats_has(rd, "connected");
  uint64_t reader_lag = rd ? rc_stats_u64(rd, "seconds_behind") : 0;
  int n = 0, order[RC_STATS_MAX_STAGES], no = 0;
  static const char *const pipeline[3] = {"reader", "serializer", "publisher"}; /* the data's way */
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < s->n; i++)
      if (!strcmp(s->st[i].stage, pipeline[k])) order[no++] = i;
  for (int j = 0; j < no && n < max - 1; j++) {
    const rc_stats_stage *st = &s->st[order[j]];
    row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    int is_reader = !strcmp(st->stage, "reader"), is_pub = !strcmp(st->stage, "publisher");
    if (!strcmp(st->stage, "serializer")) snprintf(r->name, sizeof r->name, "serializer %d", st->worker);
    else snprintf(r->name, sizeof r->name, "%s", st->stage);
    r->pid = st->pid;
    track *t = track_of(w, st->stage, st->worker, st->pid);
    track_counts(t, rc_stats_u64(st->o, is_pub ? "acked" : "changes"), rc_stats_u64(st->o, "send_wait_ms"),
                 rc_stats_u64(st->o, "time_ns"));
    fmt_rate(t, r->rate, sizeof r->rate);
    fill_proc(w, t, r);
    snprintf(r->blocked, sizeof r->blocked, is_pub || !t->have_rate ? "-" : "%.0f%%", t->blocked);
    snprintf(r->lag, sizeof r->lag, "-");
    snprintf(r->queue, sizeof r->queue, "-");
    if (is_reader) {
      const char *gtid = rc_stats_str(st->o, "gtid");
      snprintf(r->at, sizeof r->at, "%s:%llu%s%s", rc_stats_str(st->o, "file"),
               (unsigned long long)rc_stats_u64(st->o, "position"), gtid[0] ? " gtid=" : "", gtid);
      if (live && !rc_stats_u64(st->o, "connected")) snprintf(r->lag, sizeof r->lag, "down");
      else if (live) snprintf(r->lag, sizeof r->lag, "%llus", (unsigned long long)reader_lag);
    } else if (is_pub) {
      uint64_t qmax = rc_stats_u64(st->o, "queue_max"), inflight = rc_stats_u64(st->o, "in_flight");
      uint64_t q = ser > done ? ser - done : 0;
      if (qmax) snprintf(r->queue, sizeof r->queue, "%llu(%.0f%%)", (unsigned long long)q, (double)inflight * 100 / (double)qmax);
      else snprintf(r->queue, sizeof r->queue, "%llu", (unsigned long long)q);
      uint64_t ack_ms = rc_stats_u64(st->o, "ack_commit_ms"), wall_ms = rc_wall_ns() / 1000000ull;
      if (live && (read <= done || !ack_ms)) snprintf(r->lag, sizeof r->lag, "%llus", (unsigned long long)reader_lag);
      else if (live) snprintf(r->lag, sizeof r->lag, "%llus", (unsigned long long)(wall_ms > ack_ms ? (wall_ms - ack_ms) / 1000 : 0));
    } else {
      snprintf(r->queue, sizeof r->queue, "%llu", (unsigned long long)(read > ser ? read - ser : 0));
    }
  }
  if (s->broker && n < max) {
    row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "broker");
    r->pid = (pid_t)rc_stats_u64(s->broker, "pid");
    if (!rc_stats_u64(s->broker, "running")) r->pid = 0;
    track *t = track_of(w, "broker", 0, r->pid);
    track_counts(t, rc_stats_u64(s->broker, "messages"), 0, rc_stats_u64(s->broker, "time_ns"));
    fmt_rate(t, r->rate, sizeof r->rate);
    fill_proc(w, t, r);
    snprintf(r->blocked, sizeof r->blocked, "-");
    snprintf(r->lag, sizeof r->lag, "-");
    snprintf(r->queue, sizeof r->queue, "-");
    size_t ev = json_array_size(json_object_get(s->broker, "evicted"));
    unsigned long long msgs = (unsigned long long)rc_stats_u64(s->broker, "messages");
    if (ev) snprintf(r->at, sizeof r->at, "%llu messages, EVICTED in %zu partition%s", msgs, ev, ev > 1 ? "s" : "");
    else snprintf(r->at, sizeof r->at, "%llu messages", msgs);
  }
  return n;
}

/* Print a warning of stats.json on stderr the first time it is seen (plain output). */
static void warn_once(watch *w, const char *text) {
  for (int i = 0; i < w->nwarned; i++)
    if (!strcmp(w->warned[i], text)) return;
  if (w->nwarned < MAX_WARNINGS) w->warned[w->nwarned++] = strdup(text);
  fprintf(stderr, "rowcast stats: warning: %s\n", text);
}

static void draw_tty(const rc_stats *s, const char *state_dir, const row *rows, int n) {
  printf("\033[H\033[2J"); /* cursor home, clear the screen */
  uint64_t read = sum_of(s, "reader", "changes"), ser = sum_of(s, "serializer", "changes");
  const json_t *pub = first_of(s, "publisher");
  printf("rowcast stats --watch  state.dir %s  supervisor pid %d, up %.0f s, restarts %llu  (Ctrl-C quits)\n",
         state_dir, (int)s->pid, s->uptime_s, (unsigned long long)rc_stats_u64(s->root, "restarts"));
  uint64_t age_s = rc_wall_ns() > s->mtime_ns ? (rc_wall_ns() - s->mtime_ns) / 1000000000ull : 0;
  if (age_s >= 3) /* the supervisor writes every second, except while it recovers before a start */
    printf("(these figures are %llu s old: the group is not running its stages now, e.g. recovering after a crash)\n",
           (unsigned long long)age_s);
  printf("changes: read %llu, serialized %llu, acknowledged %llu; latency receipt to ack p50 %.1f ms, p99 %.1f ms\n\n",
         (unsigned long long)read, (unsigned long long)ser, (unsigned long long)sum_of(s, "publisher", "acked"),
         pub ? (double)rc_stats_u64(pub, "latency_p50_us") / 1000 : 0, pub ? (double)rc_stats_u64(pub, "latency_p99_us") / 1000 : 0);
  printf("%-13s %8s %10s %7s %9s %13s %7s %5s  %s\n", "STAGE", "PID", "RATE", "CPU", "RSS", "QUEUE", "BLOCKED", "LAG", "AT");
  for (int i = 0; i < n; i++) {
    const row *r = &rows[i];
    char pid[16];
    snprintf(pid, sizeof pid, r->pid > 0 ? "%d" : "-", (int)r->pid);
    printf("%-13s %8s %10s %7s %9s %13s %7s %5s  %s\n", r->name, pid, r->rate, r->cpu, r->rss, r->queue, r->blocked,
           r->lag, r->at);
  }
  const char *stalled = rc_stats_str(s->root, "stalled");
  if (stalled[0]) printf("\nstalled: %s\n", stalled);
  size_t i;
  json_t *wv;
  json_array_foreach(s->warnings, i, wv) printf("%swarning: %s\n", i ? "" : "\n", json_string_value(wv) ? json_string_value(wv) : "");
}

static void draw_plain(watch *w, const rc_stats *s, const row *rows, int n) {
  char clock[16];
  time_t now = time(NULL);
  struct tm tm;
  strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&now, &tm));
  for (int i = 0; i < n; i++) {
    const row *r = &rows[i];
    char name[sizeof r->name];
    memcpy(name, r->name, sizeof name);
    name[sizeof name - 1] = 0;
    for (char *c = name; *c; c++)
      if (*c == ' ') *c = '-';
    printf("%s %s pid=%d rate=%s cpu=%s rss=%s queue=%s blocked=%s lag=%s", clock, name, (int)r->pid, r->rate, r->cpu,
           r->rss, r->queue, r->blocked, r->lag);
    if (!strcmp(r->name, "reader")) printf(" at=%s", r->at);
    else if (!strcmp(r->name, "broker")) printf(" messages=%llu evicted=%zu", (unsigned long long)rc_stats_u64(s->broker, "messages"),
                                                json_array_size(json_object_get(s->broker, "evicted")));
    putchar('\n');
  }
  size_t i;
  json_t *wv;
  json_array_foreach(s->warnings, i, wv) if (json_string_value(wv)) warn_once(w, json_string_value(wv));
  const char *stalled = rc_stats_str(s->root, "stalled");
  if (stalled[0]) warn_once(w, stalled);
}

/* Why no group runs on state_dir, for the first refresh: "" when one does. */
static void not_running(const rc_stats *s, int r, const char *err, uint64_t fresh_ms, char *why, size_t size) {
  why[0] = 0;
  if (r == RC_STATS_NONE) snprintf(why, size, "no %s", err);
  else if (r < 0) snprintf(why, size, "%s", err);
  else if (s->pid <= 0 || (kill(s->pid, 0) != 0 && errno != EPERM))
    snprintf(why, size, "its stats.json was written by rowcast pid %d, which has ended", (int)s->pid);
  else if (!rc_stats_running(s, fresh_ms))
    snprintf(why, size, "its stats.json was written by pid %d, which is no longer that rowcast", (int)s->pid);
}

int rc_stats_watch(const char *state_dir, int interval_ms) {
  static watch w;
  memset(&w, 0, sizeof w);
  w.tty = isatty(STDOUT_FILENO);
  w.clk_tck = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  w.page_kb = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) / 1024 : 4;
  int sig_fd = rc_signals_catch(&stop_flag, 0);
  uint64_t fresh_ms = FRESH_MS + (uint64_t)interval_ms;
  int status = 0, refreshes = 0;
  pid_t group_pid = 0;
  for (;;) {
    rc_stats s;
    char err[512], why[700];
    int r = rc_stats_read(state_dir, &s, err, sizeof err);
    not_running(&s, r, err, fresh_ms, why, sizeof why);
    if (why[0]) {
      if (!refreshes) {
        fprintf(stderr, "rowcast stats: no rowcast group is running on state.dir %s: %s (give the same --config or "
                        "-o state.dir=... as the running rowcast replay or run)\n", state_dir, why);
        status = 1;
      } else {
        fprintf(stderr, "%srowcast stats: the group (rowcast pid %d) has ended\n", w.tty ? "\n" : "", (int)group_pid);
      }
      if (r == 0) rc_stats_free(&s);
      break;
    }
    group_pid = s.pid;
    row rows[RC_STATS_MAX_STAGES + 1];
    int n = make_rows(&w, &s, rows, RC_STATS_MAX_STAGES + 1);
    if (w.tty) draw_tty(&s, state_dir, rows, n);
    else draw_plain(&w, &s, rows, n);
    rc_stats_free(&s);
    refreshes++;
    if (fflush(stdout) != 0) {
      status = 1; /* output closed */
      break;
    }
    struct pollfd pfd = {.fd = sig_fd, .events = POLLIN};
    if (sig_fd >= 0) poll(&pfd, 1, interval_ms);
    else usleep((useconds_t)interval_ms * 1000);
    if (stop_flag) {
      if (w.tty) putchar('\n');
      break;
    }
  }
  for (int i = 0; i < w.nwarned; i++) free(w.warned[i]);
  fflush(stdout);
  return status;
}
