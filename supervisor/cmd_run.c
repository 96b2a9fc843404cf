/*
 * cmd_run.c: `rowcast run [--config FILE] [-o section.key=value]...`: reads the command line
 * and the configuration, checks what can be checked of source.* without connecting (TLS files,
 * the password's source: exit 2 before anything starts), and runs the group over the live
 * server of source.* (group.c) until SIGTERM/SIGINT.
 */
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "group.h"
#include "log.h"
#include "source_config.h"

static void usage(FILE *out) {
  fputs("usage: rowcast run [--config FILE] [-o section.key=value]...\n"
        "Streams every row change of the MySQL/MariaDB server of the source.* keys into Kafka,\n"
        "from the checkpoint (or source.start), until SIGTERM/SIGINT, which drains: what was read\n"
        "is published and checkpointed. `rowcast config --help` lists every key.\n",
        out);
}

/* What can be checked of source.* before anything starts: the TLS keys and files, the
 * password's source (the reader reads it again at each connection). 0, or -1 after saying
 * what is wrong (exit 2). */
static int check_source(const rc_config *cfg) {
  char err[1024];
  if (rc_source_check(cfg, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast run: %s\n", err);
    return -1;
  }
  const char *file = rc_config_str(cfg, "source.password_file");
  if (file[0] && rc_private_mode_check(file, "source.password_file", err, sizeof err)) rc_warn("%s", err);
  return 0;
}

/* snapshot.mode: leave <state.dir>/snapshot.request (the tables to read) for the reader, which
 * runs the snapshot and removes the request once it is sent: initial, without a checkpoint (a
 * first run); always and initial_only, at every start. A request left by a run that did not
 * finish its snapshot stays as it is: the snapshot resumes. Returns 0, or 2 after saying why. */
static int snapshot_request(rc_config *cfg) {
  const char *mode = rc_config_str(cfg, "snapshot.mode");
  if (!strcmp(mode, "never")) return 0;
  const char *state = rc_config_str(cfg, "state.dir");
  rc_checkpoint cp;
  char err[1024];
  int have = rc_checkpoint_read(state, &cp, err, sizeof err);
  if (have < 0) return 0; /* the reader says what is wrong with it, and stops */
  if (have && !strcmp(mode, "initial")) return 0;
  if (rc_snapshot_request(state, rc_config_str(cfg, "snapshot.tables"), err, sizeof err) < 0) {
    fprintf(stderr, "rowcast run: %s\n", err);
    return 2;
  }
  return 0;
}

int rc_cmd_run(int argc, char **argv) {
  rc_log_init("rowcast");
  rc_config *cfg;
  int first;
  int status = rc_cli_config_only(argc, argv, "run", usage, &cfg, &first);
  if (status != RC_CLI_GO) return status;
  status = 2;
  if (first < argc) {
    usage(stderr); /* no files: the source is the server */
  } else if (rc_config_int(cfg, "source.server_id") == 0) {
    fprintf(stderr, "rowcast run: set source.server_id to a replica id no other replica of %s uses "
                    "(e.g. -o source.server_id=4242)\n",
            rc_config_str(cfg, "source.host"));
  } else if (check_source(cfg) == 0 && (status = snapshot_request(cfg)) == 0) {
    status = rc_group_run(cfg, argv + first, 0);
  }
  rc_config_free(cfg);
  return status;
}
