/*
 * cmd_replay.c: `rowcast replay [--config FILE] [-o section.key=value]... BINLOG_FILE...`:
 * reads the command line and the configuration, checks the files, and runs the group over them
 * (group.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "group.h"
#include "log.h"

static void usage(FILE *out) {
  fputs("usage: rowcast replay [--config FILE] [-o section.key=value]... BINLOG_FILE...\n"
        "Replays captured binlog files, in the order given, through the pipeline into Kafka and\n"
        "exits when every change is acknowledged. Without kafka.bootstrap.servers, rowcast starts\n"
        "its local in-memory broker. `rowcast config --help` lists every key.\n",
        out);
}

/* Every file a regular file: 0, or -1 after naming the one that is not. */
static int check_files(char **files, int nfiles) {
  for (int i = 0; i < nfiles; i++) {
    struct stat st;
    errno = 0;
    if (stat(files[i], &st) != 0 || !S_ISREG(st.st_mode)) {
      fprintf(stderr, "rowcast replay: %s: %s\n", files[i], errno ? strerror(errno) : "not a regular file");
      return -1;
    }
  }
  return 0;
}

int rc_cmd_replay(int argc, char **argv) {
  rc_log_init("rowcast");
  rc_config *cfg;
  int first;
  int status = rc_cli_config_only(argc, argv, "replay", usage, &cfg, &first);
  if (status != RC_CLI_GO) return status;
  status = 2;
  if (first >= argc) usage(stderr);
  else if (check_files(argv + first, argc - first) == 0) status = rc_group_run(cfg, argv + first, argc - first);
  rc_config_free(cfg);
  return status;
}
