/*
 * cmd_config.c: `rowcast config [--help | --markdown]`: every configuration key, its default,
 * bounds and help, from the key table of common/pipeline/config_keys.c: as text (the default,
 * and --help), or as the Markdown of docs/CONFIGURATION.md (--markdown).
 * `rowcast config --show [--config FILE] [-o section.key=value]...`: the effective
 * configuration those options give, secrets redacted, where the source's password comes from,
 * and the checks `rowcast run` makes of source.* before it starts (exit 2 when one fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "source_config.h"

/* --show: check source.*, then print cfg. Returns the exit status. */
static int show(const rc_config *cfg) {
  char err[1024], *pw = NULL;
  const char *from = "none";
  int bad = rc_source_check(cfg, err, sizeof err) < 0 || rc_source_password(cfg, &pw, &from, err, sizeof err) < 0;
  if (pw) {
    explicit_bzero(pw, strlen(pw));
    free(pw);
  }
  if (bad) {
    fprintf(stderr, "rowcast config: %s\n", err);
    return 2;
  }
  rc_config_print(cfg, stdout);
  printf("\n; the source's password: %s\n",
         !strcmp(from, "none") ? "none (empty)" : !strcmp(from, RC_SOURCE_PASSWORD_ENV) ? "from the environment (" RC_SOURCE_PASSWORD_ENV ")"
                                                                                          : from);
  return 0;
}

int rc_cmd_config(int argc, char **argv) {
  static const struct option longopts[] = {{"markdown", no_argument, NULL, 'm'},
                                           {"show", no_argument, NULL, 's'},
                                           RC_CLI_OPTS_CONFIG,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int markdown = 0, do_show = 0, c;
  rc_cli_config cc;
  if (rc_cli_config_init(&cc, argc) < 0) return 1;
  while ((c = rc_cli_getopt(argc, argv, "config", "o:h", longopts)) != -1) {
    if (rc_cli_config_take(&cc, c, optarg)) continue;
    if (c == 'm') markdown = 1;
    else if (c == 's') do_show = 1;
    else if (c != 'h') {
      rc_cli_config_free(&cc);
      return 2;
    }
  }
  if (optind < argc || (!do_show && (cc.config || cc.nsets))) {
    if (optind < argc)
      fprintf(stderr, "rowcast config: unexpected argument '%s' (try rowcast config --help)\n", argv[optind]);
    else
      fprintf(stderr, "rowcast config: --config and -o go with --show (try rowcast config --help)\n");
    rc_cli_config_free(&cc);
    return 2;
  }
  if (!do_show) {
    rc_cli_config_free(&cc);
    if (markdown) rc_config_markdown(stdout);
    else rc_config_help(stdout);
    return 0;
  }
  rc_config *cfg = rc_config_new();
  if (!cfg) {
    rc_cli_config_free(&cc);
    return 1;
  }
  int status = rc_cli_config_apply(&cc, cfg, "rowcast config") < 0 ? 2 : show(cfg);
  rc_config_free(cfg);
  return status;
}
