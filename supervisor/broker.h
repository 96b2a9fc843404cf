/*
 * broker.h: `rowcast broker`, a local in-memory Kafka-protocol broker (librdkafka's mock
 * cluster) for development and tests, and rc_broker_spawn() to run one in a child process.
 *
 * Not a production broker: data lives in memory only, each partition keeps at most ~5 MiB
 * (older message sets are evicted), ports are chosen by the kernel. See broker.c for what the
 * mock cluster of librdkafka 2.0.2 does and does not do.
 */
#ifndef RC_BROKER_H
#define RC_BROKER_H

#include <stddef.h>
#include <sys/types.h>

/*
 * `rowcast broker [--brokers N] [--topic NAME]... [--partitions N] [--exit-on-stdin-eof]`.
 * argv[0] is "broker". Prints the bootstrap address list ("127.0.0.1:PORT[,...]") as the first
 * line of stdout, then runs until SIGTERM/SIGINT (or EOF on stdin with --exit-on-stdin-eof).
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back up. Returns the exit status:
 * 0 clean shutdown, 1 operating-system or librdkafka failure, 2 bad usage.
 */
int rc_cmd_broker(int argc, char **argv);

/*
 * Start `ROWCAST_EXE broker --exit-on-stdin-eof` in a child process and read its bootstrap
 * address (first stdout line, waiting at most a few seconds) into `bootstrap`.
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
int rc_broker_spawn(const char *rowcast_exe, pid_t *pid, char *bootstrap, size_t bootstrap_size,
                    char *errstr, size_t errstr_size);

#endif
