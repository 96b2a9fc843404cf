/*
 * stage.h: the one skeleton every pipeline process (reader, serializer, publisher) runs on:
 * command-line parsing (--config FILE, --worker N), configuration, signals through a self-pipe,
 * watching the supervisor (a pipe whose other end it holds: when it dies, the stage exits),
 * and the periodic metrics snapshot. A stage's main() calls rc_stage_init, then loops on
 * rc_stage_wait, which polls the stage's own descriptors together with the skeleton's.
 *
 * Signals: SIGTERM (and SIGINT when not ignored) mean "stop now", in every state: a stage blocked
 * sending into a full pipe, waiting for Kafka or for the registry returns within one poll
 * (rc_stage_stopping). SIGUSR1 means "drain" (rc_stage_draining): only the reader acts on it, by
 * reading on to the end of the open transaction and sending the END of the stream; the supervisor
 * drains the group that way and stops a group it restarts with SIGTERM.
 *
 * Exit status of a stage: 0 done, 2 configuration or data error (the supervisor does not
 * restart it), anything else a failure worth a restart.
 */
#ifndef RC_STAGE_H
#define RC_STAGE_H

#include <poll.h>
#include <signal.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "pipe.h"
#include "rc_err.h"

#define RC_EXIT_OK 0
#define RC_EXIT_FAILURE 1
#define RC_EXIT_CONFIG 2

/* "Stop now, nothing more to say": what rc_stage_send, rc_stage_wait and a stage's own steps
 * return when the stage must stop: asked to (SIGTERM), the supervisor gone, or a pipe that
 * failed (logged where it failed). It is not an rc_err_t and lies below all of them
 * (RC_ERR_FLOOR), so `r < 0` still means "give up" all the way up, and `r == RC_STAGE_STOP`
 * tells a stop from an error whose message is in errstr and still has to be logged. */
#define RC_STAGE_STOP (-100)
_Static_assert(RC_STAGE_STOP < RC_ERR_FLOOR, "RC_STAGE_STOP must not be an rc_err_t");

typedef struct rc_stage rc_stage;
#define RC_STAGE_MAX_SHARED 64
/* Append this stage's counters (rc_metric_put) to a snapshot. */
typedef void (*rc_stage_metrics_fn)(rc_stage *st, rc_buf *out);

struct rc_stage {
  const char *name;     /* "reader", "serializer", "publisher" */
  int worker;           /* --worker N, 0 by default */
  rc_config *cfg;
  char run_dir[4096];
  rc_pipe_opts pipe;
  int metrics_sock;
  int parent_fd;        /* -1 when not started by a supervisor */
  int sig_fd;           /* read end of the self-pipe */
  volatile sig_atomic_t stop; /* the last signal caught: SIGTERM/SIGINT stop, SIGUSR1 drain */
  int parent_gone;      /* rc_stage_wait saw the supervisor's pipe close */
  uint64_t next_metrics_ns;
  uint64_t metrics_interval_ns;
  rc_stage_metrics_fn metrics_fn;
  void *ctx;
  rc_buf snap;
  int shared_fd[RC_STAGE_MAX_SHARED]; /* --shared-fds: shared frame rings (-1: none for that worker) */
  int nshared;
  char **args;          /* arguments after the options (files for the reader) */
  int nargs;
};

/* Asked to stop now (SIGTERM, SIGINT)? */
static inline int rc_stage_stopping(const rc_stage *st) { return st->stop && st->stop != SIGUSR1; }
/* Asked to drain (SIGUSR1, and no stop since)? */
static inline int rc_stage_draining(const rc_stage *st) { return st->stop == SIGUSR1; }

/* Parse argv, load the config, install signal handlers, connect the metrics pipe. On error,
 * logs and returns RC_EXIT_CONFIG (the caller exits with it). */
int rc_stage_init(rc_stage *st, const char *name, int argc, char **argv);
/* Path of a socket of the run directory: "<run.dir>/<name>.ipc". */
void rc_stage_path(const rc_stage *st, char *out, size_t n, const char *name);
/* Poll the caller's descriptors (may be none) and the skeleton's, up to timeout_ms (-1: until
 * something happens or the next metrics snapshot is due). Sends the snapshot when due. Returns
 * how many of the caller's fds are ready (their revents are set), or RC_STAGE_STOP when the
 * stage must stop now (supervisor gone, poll failed). Check st->stop for a drain request. */
int rc_stage_wait(rc_stage *st, struct pollfd *fds, int nfds, int timeout_ms);
void rc_stage_send_metrics(rc_stage *st);
/* Send one message down a pipe, blocking while it is full (backpressure) but still serving
 * signals, the supervisor watch and metrics. Adds the time spent waiting to *wait_ns. Returns 0,
 * or RC_STAGE_STOP when the stage must stop (SIGTERM, supervisor gone, or the pipe failed:
 * logged here, naming `to`). */
int rc_stage_send(rc_stage *st, int sock, const void *buf, size_t len, const char *to, uint64_t *wait_ns);
void rc_stage_close(rc_stage *st);

#endif
