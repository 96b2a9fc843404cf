/*
 * cmd_config.c: `rowcast config [--help | --markdown]`: every configuration key, its default,
 * bounds and help, from the key table of common/pipeline/config_keys.c: as text (the default,
 * and --help), or as the Markdown of docs/CONFIGURATION.md (--markdown).
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "config.h"

int rc_cmd_config(int argc, char **argv) {
  static const struct option longopts[] = {
      {"markdown", no_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int markdown = 0, c;
  while ((c = rc_cli_getopt(argc, argv, "config", "h", longopts)) != -1) {
    if (c == 'm') markdown = 1;
    else if (c != 'h') return 2;
  }
  if (optind < argc) {
    fprintf(stderr, "rowcast config: unexpected argument '%s' (try rowcast config --help)\n", argv[optind]);
    return 2;
  }
  if (markdown) rc_config_markdown(stdout);
  else rc_config_help(stdout);
  return 0;
}
