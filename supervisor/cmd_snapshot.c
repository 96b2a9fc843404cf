/*
 * cmd_snapshot.c: `rowcast snapshot [--config FILE] [-o section.key=value]... TABLE...`: asks for
 * a snapshot of the tables (db.table patterns, as snapshot.tables) by leaving the request
 * <state.dir>/snapshot.request, which the reader of a running `rowcast run` picks up within a
 * second (without stopping the stream), or the next `rowcast run` at its start. The request
 * and the snapshot's progress survive a crash (docs/snapshots.md). Also the request writer
 * `rowcast run` uses for snapshot.mode (cmd_run.c).
 */
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "config.h"

int rc_snapshot_request(const char *state, const char *tables, char *err, size_t esz) {
  char path[4200], tmp[4210];
  snprintf(path, sizeof path, "%s/snapshot.request", state);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *old = fopen(path, "r");
  if (old) { /* a snapshot not finished yet: it goes on as it is */
    fclose(old);
    return 1;
  }
  rc_checkpoint cp;
  int have = rc_checkpoint_read(state, &cp, err, esz);
  if (have < 0) return have;
  if (rc_mkdirs(state, err, esz) < 0) return -1;
  /* its chunks are numbered on from those the checkpoint counts (checkpoint.h snapshot=) */
  FILE *f = fopen(tmp, "w");
  int ok = f && fprintf(f, "tables=%s\nfirst=%llu\n", tables, (unsigned long long)(have ? cp.snapshot + 1 : 1)) > 0;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    snprintf(err, esz, "cannot write the snapshot request %s", path);
    return -1;
  }
  return 0;
}

static void usage(FILE *out) {
  fputs("usage: rowcast snapshot [--config FILE] [-o section.key=value]... TABLE...\n"
        "Asks for a snapshot of the tables (db.table patterns with * ? [...]): every row they hold\n"
        "is sent as an op r change, merged with the stream. A running `rowcast run` on the same\n"
        "state.dir starts it within a second, without stopping the stream; otherwise the next\n"
        "`rowcast run` does. One snapshot at a time.\n",
        out);
}

int rc_cmd_snapshot(int argc, char **argv) {
  rc_config *cfg;
  int first;
  int status = rc_cli_config_only(argc, argv, "snapshot", usage, &cfg, &first);
  if (status != RC_CLI_GO) return status;
  status = 2;
  char tables[4096] = "", err[1024];
  size_t n = 0;
  for (int i = first; i < argc; i++) {
    size_t l = strlen(argv[i]);
    if (!l || strchr(argv[i], ',') || !strchr(argv[i], '.') || n + l + 2 > sizeof tables) {
      fprintf(stderr, "rowcast snapshot: '%s' is not a db.table pattern\n", argv[i]);
      rc_config_free(cfg);
      return 2;
    }
    n += (size_t)snprintf(tables + n, sizeof tables - n, "%s%s", n ? "," : "", argv[i]);
  }
  if (!n) {
    usage(stderr);
  } else {
    int rc = rc_snapshot_request(rc_config_str(cfg, "state.dir"), tables, err, sizeof err);
    if (rc < 0)
      fprintf(stderr, "rowcast snapshot: %s\n", err);
    else if (rc == 1)
      fprintf(stderr, "rowcast snapshot: a snapshot is still in progress in %s (snapshot.request): "
                      "ask again once it is done\n", rc_config_str(cfg, "state.dir"));
    else {
      printf("rowcast snapshot: requested %s in %s/snapshot.request\n", tables, rc_config_str(cfg, "state.dir"));
      status = 0;
    }
  }
  rc_config_free(cfg);
  return status;
}
