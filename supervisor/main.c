/*
 * main.c: `rowcast`, the command users run. Dispatches to subcommands; today: decode.
 * Exit status: 0 success, 1 an operating-system failure (output closed, out of memory),
 * 2 bad input or bad usage (do not retry without changing something).
 */
#include <stdio.h>
#include <string.h>

#include "decode.h"

static void usage(FILE *out) {
  fputs("usage: rowcast COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  decode [--events] FILE...   decode captured binlog files to JSON lines on stdout\n"
        "                              (one line per row change, or per event with --events)\n"
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
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "rowcast: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
