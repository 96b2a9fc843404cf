/*
 * main.c: `rowcast`, the command users run. Dispatches to its subcommands.
 * Exit status: 0 success, 1 an operating-system failure (output closed, out of memory),
 * 2 bad input or bad usage (do not retry without changing something).
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "decode.h"
#include "group.h"
#include "tail.h"

static void usage(FILE *out) {
  fputs("usage: rowcast COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  replay [--config F] [-o key=value]... FILE...\n"
        "                              replay captured binlog files through the pipeline into\n"
        "                              Kafka (the local broker when none is configured)\n"
        "  stats [--config F]          the live figures of a running replay\n"
        "  config --help               every configuration key, its default and bounds\n"
        "  decode [--events] FILE...   decode captured binlog files to JSON lines on stdout\n"
        "                              (one line per row change, or per event with --events)\n"
        "  tail [--config F] [-o key=value]... [--from-beginning] [--topic REGEX] [--exit-at-end]\n"
        "                              print rowcast's Kafka messages (Avro or JSON) as canonical\n"
        "                              JSON lines, like decode\n"
        "  broker [--brokers N] [--topic NAME]... [--partitions N] [--exit-on-stdin-eof]\n"
        "                              run a local in-memory Kafka broker (tests, development);\n"
        "                              prints its bootstrap address first\n"
        "  help                        this text\n"
        "\n"
        "See docs/json-mapping.md for the JSON form of every column type.\n",
        out);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "decode")) return rc_cmd_decode(argc - 1, argv + 1);
  if (!strcmp(cmd, "broker")) return rc_cmd_broker(argc - 1, argv + 1);
  if (!strcmp(cmd, "replay")) return rc_cmd_replay(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return rc_cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "tail")) return rc_cmd_tail(argc - 1, argv + 1);
  if (!strcmp(cmd, "stats")) return rc_cmd_stats(argc - 1, argv + 1);
  if (!strcmp(cmd, "config")) return rc_cmd_config(argc - 1, argv + 1);
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "rowcast: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
