/*
 * broker.c: `rowcast broker`, the local in-memory Kafka-protocol broker, and rc_broker_spawn().
 *
 * A dummy producer handle owns a librdkafka mock cluster (rd_kafka_mock_cluster_new); the mock
 * brokers run in librdkafka's own thread and speak the Kafka protocol over TCP, so any client
 * (kcat, librdkafka, Java) can use them. This file only creates the topics asked for, prints the
 * bootstrap list, and turns signals into cluster commands from one poll() loop (self-pipe: the
 * handlers only write a byte); cmd_broker.c reads the command line.
 *
 * What the mock cluster of librdkafka 2.0.2 does (read in src/rdkafka_mock.c and
 * src/rdkafka_mock_handlers.c at tag v2.0.2):
 *  - Topics: created automatically when a client asks for an unknown topic in a Metadata
 *    request with AllowAutoTopicCreation (producers do; consumers with
 *    allow.auto.create.topics=true do), always with 4 partitions (mcluster->defaults.
 *    partition_cnt, hard-coded, no setter in the public API) and replication factor
 *    min(3, brokers). A Produce request to an unknown topic fails with UNKNOWN_TOPIC_OR_PART
 *    (it does not create). There is no CreateTopics handler: the Admin API cannot create
 *    topics. The only way to choose a partition count is rd_kafka_mock_topic_create() before
 *    any client touches the topic: hence `--topic NAME --partitions N` here; `--partitions`
 *    does not (cannot) change the count of auto-created topics.
 *  - Idempotence and acks: InitProducerId is implemented, so enable.idempotence=true works.
 *    The Acks field of a Produce request is read and ignored: every produce is appended and
 *    answered at once (acks=all behaves like acks=1; there is no real replication). The
 *    per-partition sequence check (window of the last 5 requests per PID, duplicates acked but
 *    not appended, OUT_OF_ORDER_SEQUENCE_NUMBER on gaps) only runs for *transactional*
 *    producers (non-empty TransactionalId): a plain idempotent producer is not deduplicated by
 *    the mock. Transactions (AddPartitionsToTxn, EndTxn, TxnOffsetCommit) are handled; Fetch
 *    ignores isolation.level.
 *  - Retention: per partition at most 5 MiB of message sets (max_size = 5 * 1024 * 1024,
 *    counted in batch bytes as produced, compressed if compressed) and at most 100,000 message
 *    sets (max_cnt); on each append the oldest sets are evicted until both hold, moving the log
 *    start offset forward. A consumer that falls further behind gets OFFSET_OUT_OF_RANGE.
 *    Nothing is logged when it happens: broker_watch.c watches for it from this process and
 *    warns once per partition (the log, and stats.json through --status-file).
 *  - Ports: every mock broker binds 127.0.0.1 with port 0 (a kernel-chosen port). librdkafka
 *    2.0.2 offers no way to choose it (rd_kafka_mock_broker_set_host_port, which only changes
 *    the advertised address, came in 2.9.0), so there is no --port option.
 *  - Down/up: rd_kafka_mock_broker_set_down() closes the broker's connections and its
 *    listening socket, and re-binds the same port without listening (connects are refused);
 *    set_up() listens again on the same port. Clients see transport errors and reconnect;
 *    producers keep messages queued and retry until message.timeout.ms.
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "broker_watch.h"
#include "clock.h"
#include "rc_err.h"

#define SPAWN_TIMEOUT_MS 5000
#define WATCH_INTERVAL_MS 2000 /* how often the broker looks for evicted messages */

static int sig_pipe[2] = {-1, -1};

/* Async-signal-safe: write the signal number as one byte, keep errno. */
static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(sig_pipe[1], &b, 1) < 0) {
    /* pipe full: signals already pending, nothing to do */
  }
  errno = saved;
}

void rc_broker_log(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "rowcast broker[%ld]: %s\n", (long)getpid(), msg);
}

static int set_brokers_up(rd_kafka_mock_cluster_t *mcluster, int n_brokers, int up) {
  int failed = 0;
  for (int id = 1; id <= n_brokers; id++) {
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, id)
                                 : rd_kafka_mock_broker_set_down(mcluster, id);
    if (err) {
      rc_broker_log("cannot set broker %d %s: %s", id, up ? "up" : "down", rd_kafka_err2str(err));
      failed = 1;
    }
  }
  return failed ? -1 : 0;
}

static int install_signals(void) {
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    /* a SIGINT its parent ignores stays ignored: under `rowcast run` or `replay` a Ctrl-C
     * reaches the whole process group, and the supervisor, which drains into this broker,
     * stops it when the drain is done */
    struct sigaction old;
    if (sigs[i] == SIGINT && sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    if (sigaction(sigs[i], &sa, NULL) != 0) return -1;
  }
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

/* Turn the signals queued in the self-pipe into cluster commands; 1 when asked to stop. */
static int take_signals(rd_kafka_mock_cluster_t *mcluster, int n_brokers, int *up) {
  unsigned char sigs[64];
  int stop = 0;
  ssize_t n = read(sig_pipe[0], sigs, sizeof sigs);
  for (ssize_t k = 0; k < n; k++) {
    int sig = sigs[k];
    if (sig == SIGTERM || sig == SIGINT) {
      rc_broker_log("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stop = 1;
    } else if (sig == SIGUSR1 || sig == SIGUSR2) {
      int want = sig == SIGUSR2;
      if (want == *up) {
        rc_broker_log("%s: brokers already %s", want ? "SIGUSR2" : "SIGUSR1", *up ? "up" : "down");
        continue;
      }
      if (set_brokers_up(mcluster, n_brokers, want) == 0)
        rc_broker_log("%s: all %d broker%s %s", want ? "SIGUSR2" : "SIGUSR1", n_brokers,
             n_brokers > 1 ? "s" : "", want ? "UP (accepting connections)"
                                            : "DOWN (connections closed and refused)");
      *up = want;
    }
  }
  return stop;
}

/* Serve until a stop signal (or EOF on stdin when asked), looking for evicted messages every
 * WATCH_INTERVAL_MS (when w is not NULL); *brokers_up says at the end whether the brokers are
 * up (SIGUSR1 takes them down). Returns 0, or 1 when poll() fails. */
static int serve(rd_kafka_mock_cluster_t *mcluster, int n_brokers, int watch_stdin, rc_broker_watch *w, int *brokers_up) {
  int up = 1, stop = 0;
  uint64_t next_watch = rc_now_ms() + WATCH_INTERVAL_MS;
  while (!stop) {
    struct pollfd pfd[2] = {{.fd = sig_pipe[0], .events = POLLIN},
                            {.fd = STDIN_FILENO, .events = POLLIN}};
    uint64_t now = rc_now_ms();
    if (w && now >= next_watch) {
      if (up) rc_broker_watch_tick(w); /* a broker taken down on purpose answers nothing */
      next_watch = rc_now_ms() + WATCH_INTERVAL_MS;
      now = rc_now_ms();
    }
    int r = poll(pfd, watch_stdin ? 2 : 1, w ? (int)(next_watch - now) : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      rc_broker_log("poll: %s", strerror(errno));
      return 1;
    }
    if (pfd[0].revents & POLLIN) stop = take_signals(mcluster, n_brokers, &up);
    *brokers_up = up;
    if (watch_stdin && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[512];
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        rc_broker_log("standard input closed: shutting down");
        stop = 1;
      }
      /* anything read is ignored */
    }
  }
  return 0;
}

int rc_broker_run(const rc_broker_opts *opts) {
  int n_brokers = opts->brokers;
  if (install_signals() != 0) {
    rc_broker_log("cannot set up signal handling: %s", strerror(errno));
    return 1;
  }
  /* librdkafka's threads (the mock cluster's, the watch client's) inherit the mask of the thread
   * that creates them: blocked there, the signals reach only this thread, once unblocked below.
   * A signal taken by the mock cluster's thread interrupts its poll, and the cluster stops
   * serving. */
  sigset_t ours;
  sigemptyset(&ours);
  const int stop_sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof stop_sigs / sizeof stop_sigs[0]; i++) sigaddset(&ours, stop_sigs[i]);
  pthread_sigmask(SIG_BLOCK, &ours, NULL);

  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* log_level 4: no "No bootstrap.servers configured" notice for the hosting handle; the
   * mock cluster's own failures are logged at LOG_ERR and above. */
  if (rd_kafka_conf_set(conf, "client.id", "rowcast-broker", errstr, sizeof errstr) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rc_broker_log("%s", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  /* The handle only hosts the mock cluster; it has no bootstrap servers and produces nothing.
   * On success rd_kafka_new() owns conf. */
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rc_broker_log("cannot create the librdkafka handle: %s", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, n_brokers);
  if (!mcluster) {
    rc_broker_log("cannot create the mock cluster (see librdkafka's messages above)");
    rd_kafka_destroy(rk);
    return 1;
  }

  int status = 0;
  for (int t = 0; t < opts->ntopics; t++) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, opts->topics[t], opts->partitions,
                                                         n_brokers < 3 ? n_brokers : 3);
    if (err) {
      rc_broker_log("cannot create topic '%s': %s", opts->topics[t], rd_kafka_err2str(err));
      status = 1;
      goto out;
    }
  }

  const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
  if (printf("%s\n", bootstraps) < 0 || fflush(stdout) != 0) {
    rc_broker_log("cannot write the bootstrap address to standard output: %s", strerror(errno));
    status = 1;
    goto out;
  }
  rc_broker_log("%d broker%s listening at %s (librdkafka %s)", n_brokers, n_brokers > 1 ? "s" : "",
       bootstraps, rd_kafka_version_str());

  /* the watch is how the broker stays honest about what it evicts: without it, say so */
  rc_broker_watch *w = rc_broker_watch_new(bootstraps, opts->status_path, errstr, sizeof errstr);
  if (!w) rc_broker_log("warning: evicted messages will not be reported: %s", errstr);
  int up = 1;
  pthread_sigmask(SIG_UNBLOCK, &ours, NULL); /* every librdkafka thread exists now */
  status = serve(mcluster, n_brokers, opts->exit_on_stdin_eof, w, &up);
  /* a last look before the data is gone: a replay shorter than a tick is reported too, and
   * the supervisor, which waits for this process, reads the status file after it */
  if (w && up) rc_broker_watch_tick(w);
  rc_broker_watch_free(w);
  /* Stopping here, not through rd_kafka_mock_cluster_destroy: in librdkafka 2.0 that call waits
   * for the cluster's internal broker thread, which looks at its queue about once a second, so
   * every stop took 0 to 1 s (uniformly: measured 1.0 s idle), and `rowcast run` and every
   * replay into the local broker with it. The cluster keeps its messages in memory only:
   * nothing is lost by not taking it apart; the kernel closes its sockets. */
  if (fflush(stdout) != 0 || fflush(stderr) != 0) status = 1;
  _exit(status);

out:
  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return status;
}

/* ---- rc_broker_spawn ---------------------------------------------------------------------- */

/* Kill and reap a child that failed to start (killing a zombie is harmless: its pid is not
 * reused before we reap it); describe how it ended into `how`. */
static void reap_failed(pid_t pid, char *how, size_t how_size) {
  int st = 0;
  kill(pid, SIGKILL);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st))
    snprintf(how, how_size, "exit status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(how, how_size, "killed by signal %d", WTERMSIG(st));
  else
    snprintf(how, how_size, "status 0x%x", st);
}

int rc_broker_spawn(const char *rowcast_exe, const char *status_path, pid_t *pid, char *bootstrap,
                    size_t bootstrap_size, char *errstr, size_t errstr_size) {
  if (errstr_size) errstr[0] = '\0';
  if (!rowcast_exe || !pid || !bootstrap || bootstrap_size < 2)
    return rc_errf(RC_ERR_ARG, errstr, errstr_size, "rc_broker_spawn: bad arguments");

  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "broker: pipe: %s", strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    close(in[0]);
    close(in[1]);
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "broker: pipe: %s", strerror(e));
  }

  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "broker: fork: %s", strerror(e));
  }
  if (child == 0) {
    /* dup2 clears close-on-exec on 0 and 1; everything else of ours closes at exec. */
    if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0) _exit(127);
    /* a Ctrl-C or a hang-up of the terminal is the supervisor's to act on: it drains into this
     * broker first (install_signals keeps an ignored SIGINT ignored) */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    char *args[] = {(char *)rowcast_exe, "broker", "--exit-on-stdin-eof", NULL, NULL, NULL};
    if (status_path) {
      args[3] = "--status-file";
      args[4] = (char *)status_path;
    }
    execv(rowcast_exe, args);
    dprintf(STDERR_FILENO, "rowcast: cannot execute %s: %s\n", rowcast_exe, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);

  /* Read the first line; the broker prints it within milliseconds. */
  char line[1024];
  size_t len = 0;
  int done = 0;
  const char *fail = NULL;
  uint64_t deadline = rc_now_ms() + SPAWN_TIMEOUT_MS;
  while (!done && !fail) {
    uint64_t now = rc_now_ms();
    int left = now < deadline ? (int)(deadline - now) : 0;
    if (left <= 0) {
      fail = "no address within the timeout";
      break;
    }
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    int r = poll(&pfd, 1, left);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail = "poll failed";
      break;
    }
    if (r == 0) continue;
    ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail = "cannot read its standard output";
    } else if (n == 0) {
      fail = "it exited before printing its address";
    } else {
      len += (size_t)n;
      char *nl = memchr(line, '\n', len);
      if (nl) {
        *nl = '\0';
        len = (size_t)(nl - line);
        done = 1;
      } else if (len == sizeof line - 1) {
        fail = "its first output line is too long";
      }
    }
  }
  close(out[0]);

  if (done && (len == 0 || len >= bootstrap_size)) fail = len ? "address too long" : "empty address";
  if (fail) {
    char how[64];
    reap_failed(child, how, sizeof how);
    close(in[1]);
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "broker (%s broker --exit-on-stdin-eof): %s (%s)",
                   rowcast_exe, fail, how);
  }
  memcpy(bootstrap, line, len + 1);
  *pid = child;
  /* in[1] stays open (close-on-exec) for this process's lifetime: its closing is the
   * broker's signal to exit. */
  return 0;
}
