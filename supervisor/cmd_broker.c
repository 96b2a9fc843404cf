/*
 * cmd_broker.c: `rowcast broker [--brokers N] [--topic NAME]... [--partitions N]
 * [--exit-on-stdin-eof] [--status-file PATH]`: reads the command line and runs broker.c's local
 * Kafka broker.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "cli.h"
#include "commands.h"

static void usage(FILE *out) {
  fputs("usage: rowcast broker [--brokers N] [--topic NAME]... [--partitions N]\n"
        "                      [--exit-on-stdin-eof] [--status-file PATH]\n"
        "\n"
        "Runs an in-memory Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1 and\n"
        "prints its bootstrap address list as the first line of standard output.\n"
        "\n"
        "  --brokers N           number of brokers in the cluster (default 1, at most 16)\n"
        "  --topic NAME          create topic NAME at start with --partitions partitions\n"
        "                        (repeatable); other topics are created on first use with 4\n"
        "                        partitions, which librdkafka 2.0.2 does not let us change\n"
        "  --partitions N        partitions of each --topic (default 4). Each partition keeps\n"
        "                        about 5 MiB: older messages are evicted (a warning names the\n"
        "                        topic and partition). To keep more of a topic, create it here\n"
        "                        with more partitions and point replay at this broker with\n"
        "                        -o kafka.bootstrap.servers=ADDRESS; for big replays, a real Kafka\n"
        "  --exit-on-stdin-eof   exit when standard input reaches end of file\n"
        "  --status-file PATH    record the partitions that lost messages in PATH (rowcast\n"
        "                        replay and run use it for `rowcast stats`)\n"
        "\n"
        "SIGTERM/SIGINT: shut down (exit 0). SIGUSR1: take every broker down (connections\n"
        "closed, connects refused). SIGUSR2: bring them back up on the same ports.\n"
        "Ports are chosen by the kernel; data is kept in memory, at most ~5 MiB per partition;\n"
        "every 2 s the broker looks for partitions whose oldest messages it evicted and warns\n"
        "once for each.\n",
        out);
}

/* Parse a decimal int in [lo, hi]; 0 or -1. */
static int parse_int(const char *s, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

enum { OPT_BROKERS = 0x100, OPT_PARTITIONS, OPT_TOPIC, OPT_EXIT_ON_EOF, OPT_PORT, OPT_STATUS_FILE };

/* One option into opts: 0, or the exit status (2) after saying what is wrong. */
static int take_option(int c, const char *arg, rc_broker_opts *opts) {
  switch (c) {
  case OPT_EXIT_ON_EOF:
    opts->exit_on_stdin_eof = 1;
    return 0;
  case OPT_STATUS_FILE:
    if (*arg) {
      opts->status_path = arg;
      return 0;
    }
    fprintf(stderr, "rowcast broker: --status-file: empty path\n");
    return 2;
  case OPT_BROKERS:
    if (parse_int(arg, 1, RC_BROKER_MAX_BROKERS, &opts->brokers) == 0) return 0;
    fprintf(stderr, "rowcast broker: --brokers: expected 1..%d, got '%s'\n", RC_BROKER_MAX_BROKERS, arg);
    return 2;
  case OPT_PARTITIONS:
    if (parse_int(arg, 1, RC_BROKER_MAX_PARTITIONS, &opts->partitions) == 0) return 0;
    fprintf(stderr, "rowcast broker: --partitions: expected 1..%d, got '%s'\n", RC_BROKER_MAX_PARTITIONS, arg);
    return 2;
  case OPT_TOPIC:
    if (opts->ntopics < RC_BROKER_MAX_TOPICS && *arg) {
      opts->topics[opts->ntopics++] = arg;
      return 0;
    }
    fprintf(stderr, "rowcast broker: --topic: empty name or more than %d topics\n", RC_BROKER_MAX_TOPICS);
    return 2;
  case OPT_PORT:
    fprintf(stderr, "rowcast broker: --port is not supported: librdkafka %s's mock cluster "
                    "binds kernel-chosen ports; read the address from the first output line\n",
            rd_kafka_version_str());
    return 2;
  default:
    return 2; /* reported by rc_cli_getopt */
  }
}

int rc_cmd_broker(int argc, char **argv) {
  static const struct option longopts[] = {
      {"brokers", required_argument, NULL, OPT_BROKERS},
      {"partitions", required_argument, NULL, OPT_PARTITIONS},
      {"topic", required_argument, NULL, OPT_TOPIC},
      {"exit-on-stdin-eof", no_argument, NULL, OPT_EXIT_ON_EOF},
      {"status-file", required_argument, NULL, OPT_STATUS_FILE},
      {"port", optional_argument, NULL, OPT_PORT}, /* only to say why there is none */
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *topics[RC_BROKER_MAX_TOPICS];
  rc_broker_opts opts = {.brokers = 1, .partitions = 4, .topics = topics};
  int c;
  while ((c = rc_cli_getopt(argc, argv, "broker", "h", longopts)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return 0;
    }
    int status = take_option(c, optarg, &opts);
    if (status) return status;
  }
  if (optind < argc) {
    fprintf(stderr, "rowcast broker: unexpected argument '%s' (try rowcast broker --help)\n", argv[optind]);
    return 2;
  }
  return rc_broker_run(&opts);
}
