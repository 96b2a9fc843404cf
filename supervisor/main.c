/*
 * main.c: `rowcast`, the command users run. Finds the subcommand in one table and hands it
 * the rest of the command line; `rowcast`, `rowcast help` and `rowcast --help` list the table.
 * Each subcommand lives in a cmd_<name>.c of its own (commands.h).
 * Exit status: 0 success, 1 an operating-system failure (output closed, out of memory),
 * 2 bad input or bad usage (do not retry without changing something).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the name */
  const char *synopsis;              /* the arguments, as `rowcast CMD --help` shows them */
  const char *summary;               /* what it does, in a line or two */
} command;

static const command commands[] = {
    {"replay", rc_cmd_replay, "[--config F] [-o key=value]... FILE...",
     "replay captured binlog files through the pipeline into\n"
     "Kafka (the local broker when none is configured)"},
    {"run", rc_cmd_run, "[--config F] [-o key=value]...",
     "stream every row change of the live MySQL/MariaDB server\n"
     "of source.* into Kafka until SIGTERM/SIGINT (which drains)"},
    {"snapshot", rc_cmd_snapshot, "[--config F] [-o key=value]... TABLE...",
     "ask a running (or the next) run to snapshot the tables:\n"
     "their rows as op r changes, merged with the stream"},
    {"stats", rc_cmd_stats, "[--config F] [-o key=value]... [--watch [--interval MS]]",
     "the live figures of a running replay or run (--watch:\n"
     "a live view, like top)"},
    {"config", rc_cmd_config, "[--show [--config F] [-o key=value]...]",
     "every configuration key, its default and bounds; with\n"
     "--show the effective configuration, secrets redacted"},
    {"decode", rc_cmd_decode, "[--events] FILE...",
     "decode captured binlog files to JSON lines on stdout\n"
     "(one line per row change, or per event with --events)"},
    {"tail", rc_cmd_tail, "[--config F] [-o key=value]... [--from-beginning] [--topic REGEX] [--exit-at-end]",
     "print rowcast's Kafka messages (Avro or JSON) as canonical\n"
     "JSON lines, like decode"},
    {"broker", rc_cmd_broker, "[--brokers N] [--topic NAME]... [--partitions N] [--exit-on-stdin-eof]",
     "run a local in-memory Kafka broker (tests, development);\n"
     "prints its bootstrap address first"},
};

#define SUMMARY_COLUMN 30

/* The summary's lines at their column; the first beside the synopsis when there is room. */
static void put_command(FILE *out, const command *c) {
  int col = fprintf(out, "  %s %s", c->name, c->synopsis);
  if (col + 1 > SUMMARY_COLUMN) { /* too long: the summary goes below */
    fputc('\n', out);
    col = 0;
  }
  for (const char *s = c->summary; *s;) {
    size_t n = strcspn(s, "\n");
    fprintf(out, "%*s%.*s\n", SUMMARY_COLUMN - col, "", (int)n, s);
    col = 0;
    s += n;
    if (*s) s++;
  }
}

static void usage(FILE *out) {
  fputs("usage: rowcast COMMAND [ARGS]\n"
        "\n"
        "commands:\n",
        out);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) put_command(out, &commands[i]);
  fprintf(out, "  %-*s%s\n", SUMMARY_COLUMN - 2, "help", "this text");
  fputs("\n"
        "`rowcast COMMAND --help` describes each command.\n"
        "See docs/json-mapping.md for the JSON form of every column type.\n",
        out);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "rowcast: unknown command '%s'\n", name);
  usage(stderr);
  return 2;
}
