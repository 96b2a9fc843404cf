/*
 * cmd_decode.c: `rowcast decode [--events] FILE...`: reads the command line and hands the
 * files to decode.c (rc_decode_files), which prints them as JSON lines.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "decode.h"

static void usage(FILE *out) {
  fputs("usage: rowcast decode [--events] [--config FILE] [-o section.key=value]... FILE...\n"
        "Decode captured binlog files, in the order given, to JSON lines on stdout: one line\n"
        "per row change (see docs/json-mapping.md), or with --events one line per event.\n"
        "Without names in the binlog, the schema history gives them (schema.tracker,\n"
        "schema.initial=FILE.sql; docs/schema-history.md).\n"
        "Exit status 2 on bad input, with the file and offset of the problem on stderr.\n",
        out);
}

int rc_cmd_decode(int argc, char **argv) {
  static const struct option longopts[] = {
      {"events", no_argument, NULL, 'e'}, RC_CLI_OPTS_CONFIG, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int events_mode = 0, c;
  rc_cli_config cc;
  if (rc_cli_config_init(&cc, argc) < 0) return 1;
  while ((c = rc_cli_getopt(argc, argv, "decode", "o:h", longopts)) != -1) {
    if (rc_cli_config_take(&cc, c, optarg)) {
      continue;
    } else if (c == 'e') {
      events_mode = 1;
    } else if (c == 'h') {
      rc_cli_config_free(&cc);
      usage(stdout);
      return 0;
    } else {
      rc_cli_config_free(&cc);
      return 2;
    }
  }
  if (optind >= argc) {
    rc_cli_config_free(&cc);
    fprintf(stderr, "usage: rowcast decode [--events] [--config FILE] [-o section.key=value]... FILE...\n");
    return 2;
  }
  rc_config *cfg = rc_config_new();
  if (!cfg) {
    rc_cli_config_free(&cc);
    return 1;
  }
  int status = 2;
  if (rc_cli_config_apply(&cc, cfg, "rowcast decode") == 0)
    status = rc_decode_files(argv + optind, argc - optind, events_mode, cfg);
  rc_config_free(cfg);
  return status;
}
