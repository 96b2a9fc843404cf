/*
 * cli.h: what the `rowcast` subcommands share to read their command line: one getopt_long
 * loop that names a bad option and tells the caller to exit 2, and the `--config FILE` /
 * `-o section.key=value` pair that replay, run, stats and tail all take.
 *
 * Called by the cmd_*.c files only (one subcommand each). Nothing here keeps state between
 * calls apart from getopt's own globals, which rc_cli_getopt() resets on a command's first
 * call (argv[0] is the subcommand's name, as main.c passes it).
 */
#ifndef RC_CLI_H
#define RC_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "config.h"

/* rc_cli_getopt's answer for a bad option, already reported on stderr: exit 2. */
#define RC_CLI_BAD (-2)

/*
 * getopt_long over argv[1..] of subcommand `cmd`, stopping at the first operand ("+": file
 * names that follow are never taken for options). Returns the option's value, -1 at the end
 * of the options (optind is then the first operand), or RC_CLI_BAD after printing
 * "rowcast CMD: unknown option '--x'" or "rowcast CMD: option '--x' needs an argument" and a
 * pointer to `rowcast CMD --help` on stderr. `shortopts` is given without the leading "+:".
 */
int rc_cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts);

/* --config FILE and every -o section.key=value, in the order given (pointers into argv). */
typedef struct {
  const char *config;
  char **sets;
  int nsets;
} rc_cli_config;

/* Long option values of the shared pair, for a command's own option table. */
#define RC_CLI_OPT_CONFIG 0x100
#define RC_CLI_OPTS_CONFIG {"config", required_argument, NULL, RC_CLI_OPT_CONFIG}

/* Ready `cc` for an argv of argc entries. Returns 0, or -1 when out of memory (reported). */
int rc_cli_config_init(rc_cli_config *cc, int argc);

/* Take option `opt` (RC_CLI_OPT_CONFIG or 'o', argument optarg) when it is one of the pair:
 * returns 1 when taken, 0 when it is some other option. */
int rc_cli_config_take(rc_cli_config *cc, int opt, char *arg);

/* Free cc's list without applying it (the command line was bad). */
void rc_cli_config_free(rc_cli_config *cc);

/*
 * Load the --config file into cfg, then apply each -o over it (the options win over the file,
 * whatever their order on the command line). Returns 0, or -1 after printing the error (which
 * names the file and line, or the -o argument) prefixed with `prefix`; the caller exits 2.
 * Frees cc's list either way.
 */
int rc_cli_config_apply(rc_cli_config *cc, rc_config *cfg, const char *prefix);

/* rc_cli_config_only's answer when the command goes on. */
#define RC_CLI_GO (-1)

/*
 * The whole command line of a command that takes only the shared pair and --help (replay,
 * run, stats). Returns RC_CLI_GO with *cfg filled (the caller's: rc_config_free) and *first the
 * index of the first operand; or the status the command exits with, *cfg NULL: 0 after
 * printing `usage` on stdout for --help, 2 for a bad command line or configuration (reported),
 * 1 out of memory.
 */
int rc_cli_config_only(int argc, char **argv, const char *cmd, void (*usage)(FILE *), rc_config **cfg, int *first);

#endif
