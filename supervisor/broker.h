/*
 * broker.h: the local in-memory Kafka-protocol broker (librdkafka's mock cluster) for
 * development and tests: rc_broker_run() is `rowcast broker` (cmd_broker.c), and
 * rc_broker_spawn() runs one in a child process (group.c, when no Kafka is configured).
 *
 * Not a production broker: data lives in memory only, each partition keeps at most ~5 MiB
 * (older message sets are evicted), ports are chosen by the kernel. See broker.c for what the
 * mock cluster of librdkafka 2.0.2 does and does not do.
 */
#ifndef RC_BROKER_H
#define RC_BROKER_H

#include <stddef.h>
#include <sys/types.h>

#define RC_BROKER_MAX_BROKERS 16
#define RC_BROKER_MAX_TOPICS 64
#define RC_BROKER_MAX_PARTITIONS 1000

/* What `rowcast broker` was asked for (cmd_broker.c fills it from the command line). */
typedef struct {
  int brokers;           /* 1..RC_BROKER_MAX_BROKERS */
  int partitions;        /* of each topic below, 1..RC_BROKER_MAX_PARTITIONS */
  const char **topics;   /* created at start (borrowed: the caller keeps them alive) */
  int ntopics;           /* at most RC_BROKER_MAX_TOPICS */
  int exit_on_stdin_eof; /* also stop at EOF on stdin */
  const char *status_path; /* NULL, or where to record evicted partitions (broker_watch.h) */
} rc_broker_opts;

/*
 * Run the cluster of `rowcast broker`: prints the bootstrap address list ("127.0.0.1:PORT[,...]")
 * as the first line of stdout, then runs until SIGTERM/SIGINT (or EOF on stdin with
 * exit_on_stdin_eof). SIGUSR1 takes every broker down, SIGUSR2 brings them back up. Every two
 * seconds it looks for partitions whose oldest messages were evicted and warns once for each
 * (broker_watch.h). Returns
 * the exit status: 0 clean shutdown, 1 operating-system or librdkafka failure.
 */
int rc_broker_run(const rc_broker_opts *opts);

/* A line of the broker process's log on stderr ("rowcast broker[PID]: ..."). */
void rc_broker_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Start `ROWCAST_EXE broker --exit-on-stdin-eof [--status-file STATUS_PATH]` in a child process
 * and read its bootstrap address (first stdout line, waiting at most a few seconds) into
 * `bootstrap`. status_path may be NULL.
 *
 * The child's stdin is a pipe whose write end this process keeps open (close-on-exec) for the
 * rest of its life and never writes to: when this process exits, for any reason, the broker
 * sees EOF and exits too. To stop it earlier, kill(*pid, SIGTERM) and reap it with waitpid().
 * The child inherits stderr.
 *
 * Returns 0 with *pid set and the child left running (the caller reaps it), or a negative
 * rc_err_t with errstr filled; on failure no child is left behind (it is killed and reaped)
 * and no descriptor is leaked.
 */
int rc_broker_spawn(const char *rowcast_exe, const char *status_path, pid_t *pid, char *bootstrap,
                    size_t bootstrap_size, char *errstr, size_t errstr_size);

#endif
