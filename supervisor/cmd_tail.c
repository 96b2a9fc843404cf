/*
 * cmd_tail.c: `rowcast tail [--config F] [-o key=value]... [--from-beginning] [--topic REGEX]
 * [--exit-at-end]`: reads the command line and the configuration, then runs tail.c's consumer.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "tail.h"

static void usage(FILE *out) {
  fputs("usage: rowcast tail [--config F] [-o key=value]... [--from-beginning] [--topic REGEX] [--exit-at-end]\n"
        "\n"
        "Print rowcast's Kafka messages as canonical JSON lines (docs/json-mapping.md), one per\n"
        "message: Avro values are decoded with their writer schema, from the topic\n"
        "<publisher.topic_prefix>._schemas or from schema_registry.url; JSON values are printed\n"
        "as they are. Needs kafka.bootstrap.servers; other kafka.* keys go to librdkafka.\n"
        "\n"
        "  --from-beginning   read every partition from its start (default: only new messages)\n"
        "  --topic REGEX      the topics to read (POSIX extended regex; default ^<prefix>\\.)\n"
        "  --exit-at-end      stop once every partition has been read to its end\n",
        out);
}

enum { OPT_TOPIC = 0x200, OPT_FROM_BEGINNING, OPT_EXIT_AT_END };

/* The command line into opts and cc: 0, the exit status after --help (-1: 0) or a bad one (2). */
static int parse(int argc, char **argv, rc_tail_opts *opts, rc_cli_config *cc) {
  static const struct option longopts[] = {RC_CLI_OPTS_CONFIG,
                                           {"topic", required_argument, NULL, OPT_TOPIC},
                                           {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
                                           {"exit-at-end", no_argument, NULL, OPT_EXIT_AT_END},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c;
  while ((c = rc_cli_getopt(argc, argv, "tail", "o:h", longopts)) != -1) {
    if (rc_cli_config_take(cc, c, optarg)) continue;
    switch (c) {
    case OPT_TOPIC:
      opts->topic_pattern = optarg;
      break;
    case OPT_FROM_BEGINNING:
      opts->from_beginning = 1;
      break;
    case OPT_EXIT_AT_END:
      opts->exit_at_end = 1;
      break;
    case 'h':
      usage(stdout);
      return -1;
    default:
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rowcast tail: unexpected argument '%s' (try rowcast tail --help)\n", argv[optind]);
    return 2;
  }
  return 0;
}

int rc_cmd_tail(int argc, char **argv) {
  rc_log_init("rowcast tail");
  rc_tail_opts opts = {0};
  rc_cli_config cc;
  if (!(opts.cfg = rc_config_new())) return 1;
  if (rc_cli_config_init(&cc, argc) < 0) {
    rc_config_free(opts.cfg);
    return 1;
  }
  int status = parse(argc, argv, &opts, &cc);
  if (status == 0) status = rc_cli_config_apply(&cc, opts.cfg, "rowcast tail") < 0 ? 2 : rc_tail_run(&opts);
  else rc_cli_config_free(&cc);
  rc_config_free(opts.cfg);
  return status < 0 ? 0 : status;
}
