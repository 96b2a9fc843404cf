/*
 * cmd_stats.c: `rowcast stats [--config FILE] [-o section.key=value]...`: prints the live
 * figures a running `rowcast replay` or `rowcast run` writes once a second to
 * <state.dir>/stats.json (group.c), as they are.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"

static void usage(FILE *out) {
  fputs("usage: rowcast stats [--config FILE] [-o section.key=value]...\n"
        "Prints the live figures of the rowcast replay or run whose state.dir the same --config\n"
        "and -o options name: <state.dir>/stats.json, one JSON object, rewritten once a second.\n",
        out);
}

/* Copy the file at path to stdout: 0, or the exit status after saying why not. */
static int print_stats(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "rowcast stats: no running group writes %s (%s); give the same --config or "
                    "-o state.dir=... as the running rowcast\n", path, strerror(errno));
    return 2;
  }
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}

int rc_cmd_stats(int argc, char **argv) {
  rc_config *cfg;
  int first;
  int status = rc_cli_config_only(argc, argv, "stats", usage, &cfg, &first);
  if (status != RC_CLI_GO) return status;
  status = 2;
  if (first < argc) {
    fprintf(stderr, "rowcast stats: unexpected argument '%s' (try rowcast stats --help)\n", argv[first]);
  } else {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stats.json", rc_config_str(cfg, "state.dir"));
    status = print_stats(path);
  }
  rc_config_free(cfg);
  return status;
}
