/*
 * metrics_http.h: what the supervisor serves over HTTP when metrics.listen is set: /metrics (the
 * Prometheus text format) and /healthz (200 or 503 with a JSON reason), built from the stages'
 * own periodic snapshots (pipeline/metrics.h), never from anything sent per event.
 *
 * group.c fills an rc_http_view from its table of children and calls rc_http_publish at each
 * wake-up of its loop (and before each step that blocks it: the recovery, a restart's delay);
 * metrics_text.c renders the view; metrics_http.c serves the last rendering from
 * libmicrohttpd's own thread, which touches nothing but that copy, under a lock. So a scrape
 * never waits for the supervisor's loop, and the loop never waits for a scrape.
 */
#ifndef RC_METRICS_HTTP_H
#define RC_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
  RC_GROUP_STARTING,   /* the recovery reads what Kafka holds; the stages are not started yet */
  RC_GROUP_RUNNING,    /* the stages run */
  RC_GROUP_RESTARTING, /* a stage died or stalled: the group restarts from the checkpoint */
  RC_GROUP_DRAINING,   /* stopping on request: what was read is published, then the end */
  RC_GROUP_FINISHED,   /* a replay published all of its input */
  RC_GROUP_STOPPED,    /* stopped: on request, after an error, or giving up */
  RC_GROUP_NSTATES
} rc_group_state;

/* One stage process of the group, as the supervisor last saw it. */
typedef struct {
  const char *stage; /* "reader", "serializer", "publisher" */
  int worker;
  int pid;              /* 0: not running */
  const char *snapshot; /* its last snapshot (text, snapshot_len bytes), NULL: none yet */
  size_t snapshot_len;
  uint64_t report_age_ms; /* since its last snapshot (or its start, when none came yet) */
} rc_http_stage;

typedef struct {
  rc_group_state state;
  const char *reason; /* RESTARTING, STOPPED: what happened ("" none) */
  int live;           /* rowcast run: a source server (the source figures and checks apply) */
  uint64_t restarts_total;
  double start_time_s; /* when the supervisor started (seconds since 1970) */
  const char *state_dir; /* where the checkpoint is read from */
  const rc_http_stage *stages;
  int nstages;
  uint64_t max_lag_ms;      /* health.max_lag_ms */
  uint64_t report_limit_ms; /* a stage whose last snapshot is older than this is not up */
} rc_http_view;

/* The Prometheus text exposition (version 0.0.4) of the view, appended to out. */
void rc_metrics_text(const rc_http_view *v, rc_buf *out);
/* The health of the group as a small JSON object appended to out; returns the HTTP status:
 * 200 (every stage up, the source connected, the lag under health.max_lag_ms) or 503. */
int rc_health_json(const rc_http_view *v, rc_buf *out);

typedef struct rc_http rc_http;

/* Listen on metrics.listen (`listen`: HOST:PORT, [IPv6]:PORT, or :PORT / PORT for 127.0.0.1)
 * and serve. stale_ms: /healthz answers 503 when nothing was published for this long. Returns
 * 0 and *out (the caller's, rc_http_close), RC_ERR_ARG (a bad address or port) or RC_ERR_IO
 * (cannot listen: taken, not ours), errstr naming metrics.listen, its value and the cause. */
int rc_http_open(const char *listen, uint64_t stale_ms, rc_http **out, char *errstr, size_t errstr_size);
/* Render the view and make it what the next requests get. */
void rc_http_publish(rc_http *h, const rc_http_view *v);
/* "http://HOST:PORT" as it listens. */
const char *rc_http_url(const rc_http *h);
/* Stop serving (waits for the server thread) and free. NULL is a no-op. */
void rc_http_close(rc_http *h);

#endif
