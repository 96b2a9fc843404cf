/*
 * cmd_decode.c: `rowcast decode [--events] FILE...`: reads the command line and hands the
 * files to decode.c (rc_decode_files), which prints them as JSON lines.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "decode.h"

static void usage(FILE *out) {
  fputs("usage: rowcast decode [--events] FILE...\n"
        "Decode captured binlog files, in the order given, to JSON lines on stdout: one line\n"
        "per row change (see docs/json-mapping.md), or with --events one line per event.\n"
        "Exit status 2 on bad input, with the file and offset of the problem on stderr.\n",
        out);
}

int rc_cmd_decode(int argc, char **argv) {
  static const struct option longopts[] = {
      {"events", no_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int events_mode = 0, c;
  while ((c = rc_cli_getopt(argc, argv, "decode", "h", longopts)) != -1) {
    if (c == 'e') {
      events_mode = 1;
    } else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "usage: rowcast decode [--events] FILE...\n");
    return 2;
  }
  return rc_decode_files(argv + optind, argc - optind, events_mode);
}
