/*
 * cmd_decode.c: `rowcast decode [--events] [filter options] FILE...`: reads the command line
 * (the filter.* keys as -o, as --config, or as the long options below) and hands the files and
 * the filter to decode.c (rc_decode_files), which prints them as JSON lines.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "decode.h"
#include "filter.h"

static void usage(FILE *out) {
  fputs("usage: rowcast decode [--events] [OPTIONS] FILE...\n"
        "Decode captured binlog files, in the order given, to JSON lines on stdout: one line\n"
        "per row change (see docs/json-mapping.md), or with --events one line per event.\n"
        "Without names in the binlog, the schema history gives them (schema.tracker,\n"
        "schema.initial=FILE.sql; docs/schema-history.md).\n"
        "Exit status 2 on bad input, with the file and offset of the problem on stderr.\n"
        "\n"
        "Filters, the same keys as rowcast replay and run (README: Filters); they apply to the\n"
        "change lines (--events prints every event):\n"
        "  --include=PATTERNS          filter.include: DB.TABLE patterns (* ? [...]) to decode\n"
        "  --exclude=PATTERNS          filter.exclude: DB.TABLE patterns to leave out\n"
        "  --exclude-columns=PATTERNS  filter.exclude_columns: DB.TABLE.COLUMN patterns\n"
        "  --mask-columns=PATTERNS     filter.mask_columns: DB.TABLE.COLUMN patterns, masked\n"
        "                              with HMAC-SHA256 (hex) of the value's text\n"
        "  --mask-key-file=FILE        filter.mask_key_file: the key (needed to mask)\n"
        "  -o filter.KEY=VALUE         any of them as a config key; --config FILE reads them\n"
        "                              from a config file (other keys there are ignored)\n"
        "  -o schema.KEY=VALUE         schema.tracker=auto|off, schema.initial=FILE.sql\n",
        out);
}

enum { OPT_EVENTS = 0x200, OPT_INCLUDE, OPT_EXCLUDE, OPT_EXCLUDE_COLUMNS, OPT_MASK_COLUMNS, OPT_MASK_KEY_FILE };

/* The config key a long filter option sets, or NULL. */
static const char *filter_key(int opt) {
  switch (opt) {
  case OPT_INCLUDE: return "filter.include";
  case OPT_EXCLUDE: return "filter.exclude";
  case OPT_EXCLUDE_COLUMNS: return "filter.exclude_columns";
  case OPT_MASK_COLUMNS: return "filter.mask_columns";
  case OPT_MASK_KEY_FILE: return "filter.mask_key_file";
  default: return NULL;
  }
}

/* -o takes filter.* keys only: decode has no other use for the configuration. */
static int only_decode_keys(const rc_cli_config *cc) {
  for (int i = 0; i < cc->nsets; i++)
    if (strncmp(cc->sets[i], "filter.", 7) && strncmp(cc->sets[i], "schema.", 7)) {
      fprintf(stderr, "rowcast decode: -o %s: decode takes only filter.* and schema.* keys (try rowcast decode --help)\n",
              cc->sets[i]);
      return -1;
    }
  return 0;
}

int rc_cmd_decode(int argc, char **argv) {
  static const struct option longopts[] = {{"events", no_argument, NULL, OPT_EVENTS},
                                           {"include", required_argument, NULL, OPT_INCLUDE},
                                           {"exclude", required_argument, NULL, OPT_EXCLUDE},
                                           {"exclude-columns", required_argument, NULL, OPT_EXCLUDE_COLUMNS},
                                           {"mask-columns", required_argument, NULL, OPT_MASK_COLUMNS},
                                           {"mask-key-file", required_argument, NULL, OPT_MASK_KEY_FILE},
                                           RC_CLI_OPTS_CONFIG,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int events_mode = 0, c;
  rc_cli_config cc;
  if (rc_cli_config_init(&cc, argc) < 0) return 1;
  const char *longset[OPT_MASK_KEY_FILE - OPT_INCLUDE + 1] = {0};
  while ((c = rc_cli_getopt(argc, argv, "decode", "o:h", longopts)) != -1) {
    if (rc_cli_config_take(&cc, c, optarg)) continue;
    if (filter_key(c)) {
      longset[c - OPT_INCLUDE] = optarg;
    } else if (c == OPT_EVENTS) {
      events_mode = 1;
    } else {
      rc_cli_config_free(&cc);
      if (c != 'h') return 2;
      usage(stdout);
      return 0;
    }
  }
  if (optind >= argc) {
    rc_cli_config_free(&cc);
    fprintf(stderr, "usage: rowcast decode [--events] [OPTIONS] FILE...\n");
    return 2;
  }
  rc_config *cfg = rc_config_new();
  if (!cfg) {
    rc_cli_config_free(&cc);
    return 1;
  }
  int status = 2;
  char err[1024];
  rc_filter *f = NULL;
  if (only_decode_keys(&cc) < 0) {
    rc_cli_config_free(&cc);
    goto done;
  }
  if (rc_cli_config_apply(&cc, cfg, "rowcast decode") < 0) goto done;
  for (int k = 0; k <= OPT_MASK_KEY_FILE - OPT_INCLUDE; k++)
    if (longset[k] && rc_config_set(cfg, filter_key(OPT_INCLUDE + k), longset[k], err, sizeof err) < 0) {
      fprintf(stderr, "rowcast decode: %s\n", err);
      goto done;
    }
  if (rc_filter_from_config(&f, cfg, err, sizeof err) < 0) {
    fprintf(stderr, "rowcast decode: %s\n", err);
    goto done;
  }
  status = rc_decode_files(argv + optind, argc - optind, events_mode, f, cfg);
done:
  rc_filter_free(f);
  rc_config_free(cfg);
  return status;
}
