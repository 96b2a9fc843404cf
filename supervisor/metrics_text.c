/*
 * metrics_text.c: the two renderings of metrics_http.h, from an rc_http_view: the Prometheus
 * text exposition of /metrics and the JSON of /healthz. Called by rc_http_publish on the
 * supervisor's own thread; pure functions of the view (plus the checkpoint file, read here).
 *
 * Names (docs/metrics.md lists them): rowcast_stage_* for what every stage process has
 * (labels stage, worker), rowcast_<stage>_* for what one stage counts (label worker; tables:
 * table), counters end in _total, times are seconds, sizes bytes. A metric whose stage has not
 * reported yet has no sample, and then no HELP/TYPE lines either.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint.h"
#include "metrics.h"
#include "metrics_http.h"

static const char *const state_names[RC_GROUP_NSTATES] = {"starting", "running", "restarting",
                                                          "draining", "finished", "stopped"};

/* The value of "name value" in a snapshot: 1 and *v, or 0 when it has no such line. */
static int snap_get(const rc_http_stage *s, const char *name, uint64_t *v) {
  if (!s->snapshot) return 0;
  size_t n = strlen(name);
  const char *p = s->snapshot, *end = s->snapshot + s->snapshot_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    if ((size_t)(nl - p) > n + 1 && !memcmp(p, name, n) && p[n] == ' ' && p[n + 1] >= '0' && p[n + 1] <= '9') {
      *v = strtoull(p + n + 1, NULL, 10);
      return 1;
    }
    p = nl + 1;
  }
  return 0;
}

/* The text after "key " on the line that starts with it (up to the newline), or NULL. */
static const char *snap_line(const rc_http_stage *s, const char *key, size_t *len) {
  if (!s->snapshot) return NULL;
  size_t n = strlen(key);
  const char *p = s->snapshot, *end = s->snapshot + s->snapshot_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    if ((size_t)(nl - p) >= n && !memcmp(p, key, n)) {
      *len = (size_t)(nl - p) - n;
      return p + n;
    }
    p = nl + 1;
  }
  return NULL;
}

/* A label value, escaped as the text format wants (backslash, quote, newline). */
static void put_label(rc_buf *out, const char *name, const char *v, size_t n) {
  rc_buf_puts(out, name);
  rc_buf_lit(out, "=\"");
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '\\' || v[i] == '"') rc_buf_putc(out, '\\');
    if (v[i] == '\n') {
      rc_buf_lit(out, "\\n");
      continue;
    }
    rc_buf_putc(out, v[i]);
  }
  rc_buf_putc(out, '"');
}

/* A metric family: its HELP and TYPE lines are written with its first sample. */
typedef struct {
  const char *name, *type, *help;
  int started;
} family;

static void sample_begin(rc_buf *out, family *f, const char *suffix) {
  if (!f->started) {
    rc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
    f->started = 1;
  }
  rc_buf_puts(out, f->name);
  rc_buf_puts(out, suffix);
}

static void stage_labels(rc_buf *out, const rc_http_stage *s, int with_stage) {
  rc_buf_putc(out, '{');
  if (with_stage) {
    put_label(out, "stage", s->stage, strlen(s->stage));
    rc_buf_putc(out, ',');
  }
  char w[16];
  int n = snprintf(w, sizeof w, "%d", s->worker);
  put_label(out, "worker", w, (size_t)n);
  rc_buf_putc(out, '}');
}

/* How a snapshot figure becomes a sample: divided by `div` (ms or us to seconds) or multiplied
 * by `mul` (KiB to bytes). */
typedef struct {
  const char *stage; /* NULL: every stage, with a stage label */
  const char *key;   /* in the snapshot */
  const char *name, *type, *help;
  unsigned div, mul;
  int live_only;
} stage_metric;

static const stage_metric stage_metrics[] = {
    {NULL, "cpu_ms", "rowcast_stage_cpu_seconds_total", "counter", "CPU time the stage process used (user and system).", 1000, 1, 0},
    {NULL, "max_rss_kb", "rowcast_stage_max_resident_memory_bytes", "gauge", "Peak resident memory of the stage process.", 1, 1024, 0},
    {"reader", "events", "rowcast_reader_events_total", "counter", "Binlog events the reader read.", 1, 1, 0},
    {"reader", "changes", "rowcast_reader_changes_total", "counter", "Row changes the reader read and sent on.", 1, 1, 0},
    {"reader", "batches", "rowcast_reader_batches_total", "counter", "Batches the reader sent to the serializers.", 1, 1, 0},
    {"reader", "bytes", "rowcast_reader_bytes_total", "counter", "Bytes of the batches the reader sent.", 1, 1, 0},
    {"reader", "send_wait_ms", "rowcast_reader_send_wait_seconds_total", "counter", "Time the reader waited for room in the pipes to the serializers (backpressure).", 1000, 1, 0},
    {"reader", "reconnects", "rowcast_source_reconnects_total", "counter", "Times the reader connected to the source server again after losing it.", 1, 1, 1},
    {"reader", "lookup_failures", "rowcast_reader_lookup_failures_total", "counter", "information_schema lookups of a table that failed.", 1, 1, 1},
    {"reader", "snapshot_rows_sent", "rowcast_snapshot_rows_total", "counter", "Rows the snapshot sent as r changes.", 1, 1, 0},
    {"reader", "snapshot_rows_dropped", "rowcast_snapshot_rows_left_to_stream_total", "counter", "Rows a snapshot chunk read but left to the stream, which carried their state.", 1, 1, 0},
    {"reader", "snapshot_events_dropped", "rowcast_snapshot_stream_events_dropped_total", "counter", "Row events of a table without a key not sent because its snapshot holds their effect.", 1, 1, 0},
    {"reader", "snapshot_chunks", "rowcast_snapshot_chunks_total", "counter", "Snapshot chunks sent.", 1, 1, 0},
    {"reader", "snapshot_rows_estimate", "rowcast_snapshot_rows_estimate", "gauge", "Rows the snapshot is expected to send (information_schema's estimates, or the rows sent when more).", 1, 1, 0},
    {"reader", "snapshot_tables", "rowcast_snapshot_tables", "gauge", "Tables in the snapshot's plan.", 1, 1, 0},
    {"reader", "snapshot_tables_done", "rowcast_snapshot_tables_done", "gauge", "Tables whose snapshot is sent.", 1, 1, 0},
    {"reader", "snapshot_locks", "rowcast_snapshot_locks_total", "counter", "snapshot.position=read_lock: locks taken to read a chunk's position.", 1, 1, 0},
    {"reader", "snapshot_lock_us", "rowcast_snapshot_lock_seconds_total", "counter", "snapshot.position=read_lock: time those locks were held.", 1000000, 1, 0},
    {"reader", "snapshot_lock_max_us", "rowcast_snapshot_lock_max_seconds", "gauge", "snapshot.position=read_lock: the longest a lock was held.", 1000000, 1, 0},
    {"serializer", "changes", "rowcast_serializer_changes_total", "counter", "Row changes the serializer encoded into messages.", 1, 1, 0},
    {"serializer", "batches", "rowcast_serializer_batches_total", "counter", "Batches the serializer encoded.", 1, 1, 0},
    {"serializer", "bytes", "rowcast_serializer_bytes_total", "counter", "Bytes of the frames the serializer sent to the publisher.", 1, 1, 0},
    {"serializer", "busy_ms", "rowcast_serializer_busy_seconds_total", "counter", "Time the serializer spent encoding.", 1000, 1, 0},
    {"serializer", "send_wait_ms", "rowcast_serializer_send_wait_seconds_total", "counter", "Time the serializer waited for room in its pipe or shared ring to the publisher (backpressure).", 1000, 1, 0},
    {"serializer", "shared_batches", "rowcast_serializer_shared_batches_total", "counter", "Batches handed to the publisher through the serializer's shared memory ring (pipe.shared_bytes).", 1, 1, 0},
    {"serializer", "shared_too_large", "rowcast_serializer_shared_too_large_total", "counter", "Batches over a quarter of the shared ring, sent whole through the pipe instead.", 1, 1, 0},
    {"serializer", "shared_used_bytes", "rowcast_serializer_shared_used_bytes", "gauge", "Bytes of the shared ring the publisher still holds (batches not yet acknowledged by Kafka).", 1, 1, 0},
    {"publisher", "acked", "rowcast_publisher_changes_total", "counter", "Row changes Kafka acknowledged.", 1, 1, 0},
    {"publisher", "produced", "rowcast_publisher_produced_total", "counter", "Row changes handed to Kafka (librdkafka).", 1, 1, 0},
    {"publisher", "batches", "rowcast_publisher_batches_total", "counter", "Batches the publisher took from the serializers.", 1, 1, 0},
    {"publisher", "schemas", "rowcast_publisher_schema_messages_total", "counter", "Messages written to the schema topic.", 1, 1, 0},
    {"publisher", "skipped", "rowcast_publisher_skipped_total", "counter", "Changes not sent again after a restart because Kafka already held them.", 1, 1, 0},
    {"publisher", "queue_full_waits", "rowcast_publisher_queue_full_waits_total", "counter", "Times librdkafka's queue was full and the publisher waited.", 1, 1, 0},
    {"publisher", "in_flight", "rowcast_publisher_in_flight_messages", "gauge", "Messages handed to Kafka and not acknowledged yet.", 1, 1, 0},
    {"publisher", "frames_held", "rowcast_publisher_frames_held", "gauge", "Serializer frames held until Kafka acknowledges their messages.", 1, 1, 0},
    {"publisher", "kafka_waiting_ms", "rowcast_publisher_kafka_waiting_seconds", "gauge", "How long messages have been waiting with no acknowledgement from Kafka (0: none waits).", 1000, 1, 0},
};

static void put_scaled(rc_buf *out, uint64_t v, unsigned div, unsigned mul) {
  if (div == 1) rc_buf_printf(out, " %llu\n", (unsigned long long)(v * mul));
  else rc_buf_printf(out, " %.*f\n", div == 1000 ? 3 : 6, (double)v / div);
}

static void render_stage_metrics(const rc_http_view *v, rc_buf *out) {
  family up = {"rowcast_stage_up", "gauge", "1 when the stage process runs and reports, else 0.", 0};
  family age = {"rowcast_stage_last_report_age_seconds", "gauge", "Time since the stage's last metrics snapshot.", 0};
  for (int i = 0; i < v->nstages; i++) {
    const rc_http_stage *s = &v->stages[i];
    sample_begin(out, &up, "");
    stage_labels(out, s, 1);
    rc_buf_printf(out, " %d\n", s->pid > 0 && s->snapshot && s->report_age_ms <= v->report_limit_ms);
  }
  for (int i = 0; i < v->nstages; i++) {
    sample_begin(out, &age, "");
    stage_labels(out, &v->stages[i], 1);
    rc_buf_printf(out, " %.3f\n", (double)v->stages[i].report_age_ms / 1000);
  }
  for (size_t k = 0; k < sizeof stage_metrics / sizeof stage_metrics[0]; k++) {
    const stage_metric *m = &stage_metrics[k];
    if (m->live_only && !v->live) continue;
    family f = {m->name, m->type, m->help, 0};
    for (int i = 0; i < v->nstages; i++) {
      const rc_http_stage *s = &v->stages[i];
      uint64_t x;
      if ((m->stage && strcmp(m->stage, s->stage)) || !snap_get(s, m->key, &x)) continue;
      sample_begin(out, &f, "");
      stage_labels(out, s, !m->stage);
      put_scaled(out, x, m->div, m->mul);
    }
  }
}

/* The publisher's key and value bytes, as one figure. */
static void render_publisher_bytes(const rc_http_view *v, rc_buf *out) {
  family f = {"rowcast_publisher_bytes_total", "counter", "Bytes of the keys and values of the changes handed to Kafka.", 0};
  for (int i = 0; i < v->nstages; i++) {
    const rc_http_stage *s = &v->stages[i];
    uint64_t k, val;
    if (strcmp(s->stage, "publisher") || !snap_get(s, "key_bytes", &k) || !snap_get(s, "value_bytes", &val)) continue;
    sample_begin(out, &f, "");
    stage_labels(out, s, 0);
    rc_buf_printf(out, " %llu\n", (unsigned long long)(k + val));
  }
}

/* The reader's place in the binlog, and the live source's state. */
static void render_reader(const rc_http_view *v, rc_buf *out) {
  family pos = {"rowcast_reader_offset_bytes", "gauge", "Offset in the binlog file (label file) the reader has read to.", 0};
  family conn = {"rowcast_source_connected", "gauge", "1 while the reader is connected to the source server.", 0};
  family lag = {"rowcast_source_seconds_behind", "gauge", "How far the reader is behind the source server: its clock minus the timestamp of the last event read.", 0};
  for (int pass = 0; pass < 3; pass++)
    for (int i = 0; i < v->nstages; i++) {
      const rc_http_stage *s = &v->stages[i];
      uint64_t x;
      size_t flen;
      const char *file;
      if (strcmp(s->stage, "reader")) continue;
      if (pass == 0 && snap_get(s, "position", &x) && (file = snap_line(s, "file ", &flen))) {
        sample_begin(out, &pos, "{");
        put_label(out, "file", file, flen);
        rc_buf_printf(out, "} %llu\n", (unsigned long long)x);
      } else if (pass > 0 && v->live && snap_get(s, pass == 1 ? "connected" : "seconds_behind", &x)) {
        sample_begin(out, pass == 1 ? &conn : &lag, "");
        rc_buf_printf(out, " %llu\n", (unsigned long long)x);
      }
    }
}

/* The publisher's two latency histograms: cumulative buckets, sum and count, in seconds. */
static void render_histograms(const rc_http_view *v, rc_buf *out) {
  static const struct { const char *key, *name, *help; } hists[] = {
      {"receipt_to_ack", "rowcast_publisher_receipt_to_ack_seconds", "Time from the reader's receipt of a change to Kafka's acknowledgement (one clock)."},
      {"commit_to_ack", "rowcast_publisher_commit_to_ack_seconds", "Time from a change's commit on the source (its binlog timestamp) to Kafka's acknowledgement."},
  };
  for (size_t k = 0; k < 2; k++) {
    family f = {hists[k].name, "histogram", hists[k].help, 0};
    char want[40];
    snprintf(want, sizeof want, "hist %s ", hists[k].key);
    for (int i = 0; i < v->nstages; i++) {
      const rc_http_stage *s = &v->stages[i];
      size_t len;
      const char *line = strcmp(s->stage, "publisher") ? NULL : snap_line(s, want, &len);
      char name[40];
      rc_phist h;
      if (!line || rc_phist_parse(line - strlen(want), name, sizeof name, &h) < 0) continue;
      uint64_t cum = 0;
      char w[16];
      snprintf(w, sizeof w, "%d", s->worker);
      for (unsigned b = 0; b <= RC_PHIST_NB; b++) {
        cum += h.n[b];
        sample_begin(out, &f, "_bucket{");
        put_label(out, "worker", w, strlen(w));
        if (b < RC_PHIST_NB) rc_buf_printf(out, ",le=\"%g\"} %llu\n", (double)rc_phist_bounds_us[b] / 1e6, (unsigned long long)cum);
        else rc_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
      }
      sample_begin(out, &f, "_sum");
      stage_labels(out, s, 0);
      rc_buf_printf(out, " %.6f\n", (double)h.sum_us / 1e6);
      sample_begin(out, &f, "_count");
      stage_labels(out, s, 0);
      rc_buf_printf(out, " %llu\n", (unsigned long long)h.count);
    }
  }
}

/* Per table, per serializer worker: "table CHANGES BYTES NAME" lines. */
static void render_tables(const rc_http_view *v, rc_buf *out) {
  family fam[2] = {{"rowcast_serializer_table_changes_total", "counter", "Row changes of the table (label table, db.table) the serializer encoded.", 0},
                   {"rowcast_serializer_table_bytes_total", "counter", "Bytes of the messages of the table the serializer encoded.", 0}};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < v->nstages; i++) {
      const rc_http_stage *s = &v->stages[i];
      if (strcmp(s->stage, "serializer") || !s->snapshot) continue;
      const char *p = s->snapshot, *end = s->snapshot + s->snapshot_len;
      while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        unsigned long long changes, bytes;
        int name_at = 0;
        if (!strncmp(p, "table ", 6) && sscanf(p, "table %llu %llu %n", &changes, &bytes, &name_at) == 2 && name_at &&
            p + name_at < nl) {
          char w[16];
          snprintf(w, sizeof w, "%d", s->worker);
          sample_begin(out, &fam[k], "{");
          put_label(out, "worker", w, strlen(w));
          rc_buf_putc(out, ',');
          put_label(out, "table", p + name_at, (size_t)(nl - p - name_at));
          rc_buf_printf(out, "} %llu\n", k ? bytes : changes);
        }
        p = nl + 1;
      }
    }
}

/* The snapshot's tables (the reader's "snapshot_tab ROWS ESTIMATE DONE db.name" lines). */
static void render_snapshot_tables(const rc_http_view *v, rc_buf *out) {
  family fam[3] = {{"rowcast_snapshot_table_rows", "gauge", "Rows of the table (label table, db.table) the snapshot sent.", 0},
                   {"rowcast_snapshot_table_rows_estimate", "gauge", "The table's rows as information_schema estimated them when its snapshot was planned.", 0},
                   {"rowcast_snapshot_table_done", "gauge", "1 once the table's snapshot is sent, 0 while it is read.", 0}};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < v->nstages; i++) {
      const rc_http_stage *s = &v->stages[i];
      if (strcmp(s->stage, "reader") || !s->snapshot) continue;
      const char *p = s->snapshot, *end = s->snapshot + s->snapshot_len;
      while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        unsigned long long rows, est;
        int done, name_at = 0;
        if (!strncmp(p, "snapshot_tab ", 13) && sscanf(p, "snapshot_tab %llu %llu %d %n", &rows, &est, &done, &name_at) == 3 &&
            name_at && p + name_at < nl) {
          sample_begin(out, &fam[k], "{");
          put_label(out, "table", p + name_at, (size_t)(nl - p - name_at));
          rc_buf_printf(out, "} %llu\n", k == 0 ? rows : k == 1 ? est : (unsigned long long)done);
        }
        p = nl + 1;
      }
    }
}

/* The checkpoint as the publisher last wrote it: where a restart resumes, and how old it is. */
static void render_checkpoint(const rc_http_view *v, rc_buf *out) {
  rc_checkpoint cp;
  char err[512], path[PATH_MAX];
  if (rc_checkpoint_read(v->state_dir, &cp, err, sizeof err) != 1) return;
  family off = {"rowcast_checkpoint_offset_bytes", "gauge", "Where a restart resumes: the offset in the binlog file (label file) of the checkpoint.", 0};
  sample_begin(out, &off, "{");
  put_label(out, "file", cp.file, strlen(cp.file));
  rc_buf_printf(out, "} %llu\n", (unsigned long long)cp.pos);
  family ch = {"rowcast_checkpoint_changes", "gauge", "Changes acknowledged by Kafka up to the checkpoint, over every run on this state.dir.", 0};
  sample_begin(out, &ch, "");
  rc_buf_printf(out, " %llu\n", (unsigned long long)cp.changes);
  struct stat st;
  struct timespec now;
  snprintf(path, sizeof path, "%s/checkpoint", v->state_dir);
  if (stat(path, &st) == 0 && clock_gettime(CLOCK_REALTIME, &now) == 0) {
    double age = (double)(now.tv_sec - st.st_mtim.tv_sec) + (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
    family a = {"rowcast_checkpoint_age_seconds", "gauge", "Time since the checkpoint was last written.", 0};
    sample_begin(out, &a, "");
    rc_buf_printf(out, " %.3f\n", age > 0 ? age : 0);
  }
}

void rc_metrics_text(const rc_http_view *v, rc_buf *out) {
  family st = {"rowcast_group_state", "gauge", "1 for the state the process group is in (label state), 0 for the others.", 0};
  for (int k = 0; k < RC_GROUP_NSTATES; k++) {
    sample_begin(out, &st, "{");
    put_label(out, "state", state_names[k], strlen(state_names[k]));
    rc_buf_printf(out, "} %d\n", (int)v->state == k);
  }
  family info = {"rowcast_info", "gauge", "Always 1; the label mode says whether rowcast replays files or runs on a live server.", 0};
  sample_begin(out, &info, v->live ? "{mode=\"run\"} 1\n" : "{mode=\"replay\"} 1\n");
  family start = {"rowcast_start_time_seconds", "gauge", "When the supervisor started, in seconds since 1970.", 0};
  sample_begin(out, &start, "");
  rc_buf_printf(out, " %.3f\n", v->start_time_s);
  family rs = {"rowcast_supervisor_restarts_total", "counter", "Times the supervisor restarted the group after a stage died or stalled.", 0};
  sample_begin(out, &rs, "");
  rc_buf_printf(out, " %llu\n", (unsigned long long)v->restarts_total);
  render_stage_metrics(v, out);
  render_publisher_bytes(v, out);
  render_reader(v, out);
  render_histograms(v, out);
  render_tables(v, out);
  render_snapshot_tables(v, out);
  render_checkpoint(v, out);
}

/* Why the group is not healthy, into why (empty: it is). *lag_ms: the source lag, if known. */
static void unhealthy(const rc_http_view *v, char *why, size_t n, int64_t *lag_ms) {
  why[0] = 0;
  *lag_ms = -1;
  if (v->state != RC_GROUP_RUNNING) {
    snprintf(why, n, "the group is %s%s%s", state_names[v->state], v->reason && v->reason[0] ? ": " : "",
             v->reason ? v->reason : "");
    return;
  }
  for (int i = 0; i < v->nstages; i++) {
    const rc_http_stage *s = &v->stages[i];
    uint64_t x;
    /* a replay's reader ends on its own at the end of its input while the rest publish what it
     * read (a crash would have made the group restart) */
    if (s->pid <= 0 && !v->live && !strcmp(s->stage, "reader")) continue;
    if (s->pid <= 0) {
      snprintf(why, n, "rowcast-%s worker %d is not running", s->stage, s->worker);
      return;
    }
    if (!s->snapshot || s->report_age_ms > v->report_limit_ms) {
      snprintf(why, n, "rowcast-%s worker %d has not reported for %.1f s%s", s->stage, s->worker,
               (double)s->report_age_ms / 1000, s->snapshot ? "" : " (starting)");
      return;
    }
    if (!strcmp(s->stage, "publisher") && snap_get(s, "kafka_waiting_ms", &x) && x >= 10000) {
      snprintf(why, n, "Kafka has acknowledged nothing for %.0f s", (double)x / 1000);
      return;
    }
    if (!strcmp(s->stage, "reader") && v->live) {
      if (snap_get(s, "connected", &x) && !x) {
        uint64_t rec = 0;
        snap_get(s, "reconnects", &rec);
        snprintf(why, n, "the source server is disconnected (the reader reconnects; %llu reconnections so far)",
                 (unsigned long long)rec);
        return;
      }
      if (snap_get(s, "seconds_behind", &x)) {
        *lag_ms = (int64_t)(x * 1000);
        if (x * 1000 > v->max_lag_ms) {
          snprintf(why, n, "the reader is %llu s behind the source server, over health.max_lag_ms=%llu",
                   (unsigned long long)x, (unsigned long long)v->max_lag_ms);
          return;
        }
      }
    }
  }
}

int rc_health_json(const rc_http_view *v, rc_buf *out) {
  char why[512];
  int64_t lag_ms;
  unhealthy(v, why, sizeof why, &lag_ms);
  rc_buf_printf(out, "{\"status\":\"%s\",\"state\":\"%s\"", why[0] ? "unavailable" : "ok", state_names[v->state]);
  if (why[0]) {
    rc_buf_lit(out, ",\"reason\":");
    rc_buf_json_str(out, why, strlen(why));
  }
  if (lag_ms >= 0) rc_buf_printf(out, ",\"lag_seconds\":%lld", (long long)(lag_ms / 1000));
  rc_buf_printf(out, ",\"stages\":%d,\"restarts\":%llu}\n", v->nstages, (unsigned long long)v->restarts_total);
  return why[0] ? 503 : 200;
}
