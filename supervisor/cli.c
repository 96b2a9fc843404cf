/*
 * cli.c: the command-line reading every `rowcast` subcommand shares (see cli.h): getopt_long
 * with rowcast's error messages, and the --config / -o pair applied to a configuration.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "source_config.h"

/* The option as the user typed it, without any "=value", for an error message. */
static void option_text(const char *arg, int optopt_c, char *out, size_t size) {
  if (arg && !strncmp(arg, "--", 2)) {
    snprintf(out, size, "%.*s", (int)strcspn(arg, "="), arg);
    return;
  }
  snprintf(out, size, "-%c", optopt_c ? optopt_c : '?');
}

int rc_cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts) {
  static char **parsing;
  char spec[64];
  if (argv != parsing) { /* a command's first call: getopt starts over (glibc: optind 0) */
    parsing = argv;
    optind = 0;
  }
  opterr = 0;
  snprintf(spec, sizeof spec, "+:%s", shortopts);
  int c = getopt_long(argc, argv, spec, longopts, NULL);
  if (c != '?' && c != ':') return c;
  /* getopt has moved past a bad long option; a bad short one may sit in a cluster (-xo) */
  const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
  if (c == '?' && optopt && (!arg || strncmp(arg, "--", 2))) arg = NULL;
  char name[128];
  option_text(arg, optopt, name, sizeof name);
  if (c == ':')
    fprintf(stderr, "rowcast %s: option '%s' needs an argument", cmd, name);
  else if (optopt && arg && strchr(arg, '='))
    fprintf(stderr, "rowcast %s: option '%s' takes no argument", cmd, name);
  else
    fprintf(stderr, "rowcast %s: unknown option '%s'", cmd, name);
  fprintf(stderr, " (try rowcast %s --help)\n", cmd);
  return RC_CLI_BAD;
}

int rc_cli_config_init(rc_cli_config *cc, int argc) {
  memset(cc, 0, sizeof *cc);
  cc->sets = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *cc->sets);
  if (!cc->sets) {
    fprintf(stderr, "rowcast: out of memory\n");
    return -1;
  }
  return 0;
}

int rc_cli_config_take(rc_cli_config *cc, int opt, char *arg) {
  if (opt == RC_CLI_OPT_CONFIG) {
    cc->config = arg; /* the last one wins, as it always has */
    return 1;
  }
  if (opt == 'o') {
    cc->sets[cc->nsets++] = arg; /* at most argc of them: sets has argc slots */
    return 1;
  }
  return 0;
}

void rc_cli_config_free(rc_cli_config *cc) {
  free(cc->sets);
  cc->sets = NULL;
  cc->nsets = 0;
}

/* Does cfg hold a secret (source.password, a kafka.* password)? Its key, or NULL. */
static const char *secret_held(const rc_config *cfg) {
  if (rc_config_str(cfg, "source.password")[0]) return "source.password";
  for (size_t i = 0; i < rc_config_kafka_count(cfg); i++) {
    static char name[300];
    snprintf(name, sizeof name, "kafka.%s", rc_config_kafka_key(cfg, i));
    if (rc_config_is_secret(name)) return name;
  }
  return NULL;
}

/* A -o KEY=SECRET argument, once applied: warn, and blank the value in place, in the memory
 * /proc/PID/cmdline shows (as mysql does with -pPASSWORD). */
static void blank_secret(char *assignment) {
  char *eq = strchr(assignment, '=');
  char key[256];
  snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - assignment) : 0, assignment);
  char *k = key;
  while (*k == ' ' || *k == '\t') k++;
  for (size_t n = strlen(k); n && (k[n - 1] == ' ' || k[n - 1] == '\t');) k[--n] = 0;
  if (!eq || !rc_config_is_secret(k)) return;
  for (char *p = eq + 1; *p; p++) *p = 'x';
  rc_warn("%s was given on the command line, which other users of this machine can read (ps) until rowcast "
          "blanks it, as it just did: prefer %s", k,
          !strcmp(k, "source.password") ? "source.password_file or " RC_SOURCE_PASSWORD_ENV
                                        : "a config file readable by rowcast's user only");
}

int rc_cli_config_apply(rc_cli_config *cc, rc_config *cfg, const char *prefix) {
  char err[1024];
  int r = 0;
  if (cc->config && rc_config_load_file(cfg, cc->config, err, sizeof err) < 0) r = -1;
  const char *secret = r == 0 && cc->config ? secret_held(cfg) : NULL;
  if (secret && rc_private_mode_check(cc->config, "the config file", err, sizeof err))
    rc_warn("%s holds %s: %s", cc->config, secret, err);
  for (int i = 0; r == 0 && i < cc->nsets; i++) {
    if (rc_config_set_arg(cfg, cc->sets[i], err, sizeof err) < 0) r = -1; /* the message names the -o argument */
    blank_secret(cc->sets[i]);
  }
  if (r < 0) fprintf(stderr, "%s: %s\n", prefix, err);
  rc_cli_config_free(cc);
  return r;
}

int rc_cli_config_only(int argc, char **argv, const char *cmd, void (*usage)(FILE *), rc_config **cfg, int *first) {
  static const struct option longopts[] = {RC_CLI_OPTS_CONFIG, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  *cfg = NULL;
  rc_cli_config cc;
  if (rc_cli_config_init(&cc, argc) < 0) return 1;
  int c;
  while ((c = rc_cli_getopt(argc, argv, cmd, "o:h", longopts)) != -1) {
    if (rc_cli_config_take(&cc, c, optarg)) continue;
    rc_cli_config_free(&cc);
    if (c != 'h') return 2;
    usage(stdout);
    return 0;
  }
  *first = optind;
  if (!(*cfg = rc_config_new())) {
    rc_cli_config_free(&cc);
    return 1;
  }
  if (rc_cli_config_apply(&cc, *cfg, "rowcast") < 0) {
    rc_config_free(*cfg);
    *cfg = NULL;
    return 2;
  }
  return RC_CLI_GO;
}
