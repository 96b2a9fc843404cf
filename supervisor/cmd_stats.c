/*
 * cmd_stats.c: `rowcast stats [--config FILE] [-o section.key=value]... [--watch [--interval MS]]`:
 * prints the live figures a running `rowcast replay` or `rowcast run` writes once a second to
 * <state.dir>/stats.json (group.c), as they are, and its warnings on stderr; or, with --watch,
 * a live view of them (stats_watch.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "stats_read.h"
#include "stats_watch.h"

static void usage(FILE *out) {
  fputs("usage: rowcast stats [--config FILE] [-o section.key=value]... [--watch [--interval MS]]\n"
        "Prints the live figures of the rowcast replay or run whose state.dir the same --config\n"
        "and -o options name: <state.dir>/stats.json, one JSON object, rewritten once a second;\n"
        "its warnings (a local broker that evicted messages, a stalled stage) also on stderr.\n"
        "\n"
        "  --watch        a live view, refreshed every interval until Ctrl-C/SIGTERM or the end of\n"
        "                 the group: per stage process (reader, each serializer, publisher, local\n"
        "                 broker) the changes/s, CPU, RSS, changes queued for it, the time it was\n"
        "                 blocked on a full pipe, the lag behind the source (rowcast run), and the\n"
        "                 reader's binlog file:position and GTID. On a terminal the screen is\n"
        "                 redrawn; otherwise one plain line per stage per refresh. Exits 1 when no\n"
        "                 group is running on the state.dir, 0 when the group ends\n"
        "  --interval MS  the refresh interval of --watch (default 1000, 100 to 60000)\n",
        out);
}

/* Copy the file at path to stdout, its warnings to stderr: 0, or the exit status after
 * saying why not. */
static int print_stats(const char *state_dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/stats.json", state_dir);
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
  if (fflush(stdout) != 0) return 1;
  rc_stats s;
  char err[512];
  if (rc_stats_read(state_dir, &s, err, sizeof err) == 0) {
    size_t i;
    json_t *w;
    json_array_foreach(s.warnings, i, w) if (json_string_value(w)) fprintf(stderr, "rowcast stats: warning: %s\n", json_string_value(w));
    rc_stats_free(&s);
  }
  return 0;
}

enum { OPT_WATCH = 0x200, OPT_INTERVAL };

/* The command line into cc and the watch options: 0, -1 after --help, or 2 (reported). */
static int parse(int argc, char **argv, rc_cli_config *cc, int *watch, int *interval_ms) {
  static const struct option longopts[] = {RC_CLI_OPTS_CONFIG,
                                           {"watch", no_argument, NULL, OPT_WATCH},
                                           {"interval", required_argument, NULL, OPT_INTERVAL},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c, interval_given = 0;
  while ((c = rc_cli_getopt(argc, argv, "stats", "o:h", longopts)) != -1) {
    if (rc_cli_config_take(cc, c, optarg)) continue;
    if (c == OPT_WATCH) {
      *watch = 1;
    } else if (c == OPT_INTERVAL) {
      char *end;
      errno = 0;
      long v = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || v < 100 || v > 60000) {
        fprintf(stderr, "rowcast stats: --interval: expected milliseconds, 100 to 60000, got '%s'\n", optarg);
        return 2;
      }
      *interval_ms = (int)v;
      interval_given = 1;
    } else if (c == 'h') {
      usage(stdout);
      return -1;
    } else {
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rowcast stats: unexpected argument '%s' (try rowcast stats --help)\n", argv[optind]);
    return 2;
  }
  if (interval_given && !*watch) {
    fprintf(stderr, "rowcast stats: --interval is for --watch (try rowcast stats --help)\n");
    return 2;
  }
  return 0;
}

int rc_cmd_stats(int argc, char **argv) {
  rc_cli_config cc;
  if (rc_cli_config_init(&cc, argc) < 0) return 1;
  int watch = 0, interval_ms = 1000;
  int status = parse(argc, argv, &cc, &watch, &interval_ms);
  if (status) {
    rc_cli_config_free(&cc);
    return status < 0 ? 0 : status;
  }
  rc_config *cfg = rc_config_new();
  if (!cfg) {
    rc_cli_config_free(&cc);
    return 1;
  }
  if (rc_cli_config_apply(&cc, cfg, "rowcast stats") < 0) status = 2;
  else if (watch) status = rc_stats_watch(rc_config_str(cfg, "state.dir"), interval_ms);
  else status = print_stats(rc_config_str(cfg, "state.dir"));
  rc_config_free(cfg);
  return status;
}
