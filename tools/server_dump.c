/*
 * server_dump.c: a test driver for the live source (source_server.h). Opens a replication
 * stream and prints one line per event, "file offset type size changes[ flag]", feeding every
 * event to the decoder (which checks framing and CRCs and counts the changes of ROWS events).
 * Flags: "artificial" (the fake ROTATE, other events the server makes up), "resent" (the
 * FORMAT_DESCRIPTION the server re-sends when the dump starts inside a file).
 *
 * Lines are printed when a transaction completes (events outside a transaction at once), so
 * that in --reconnect-test mode, where a lost connection is resumed with rc_server_reconnect at
 * the end of the last complete transaction, the output has every event exactly once.
 *
 *   server_dump --host H --port P --user U --password W --server-id N --start X
 *               [--socket S] [--count N] [--timeout-ms T] [--idle-exit MS] [--heartbeat-ms H]
 *               [--checkpoint FILE:POS] [--reconnect-test] [--max-backoff-ms MS] [--lookup]
 *
 * Exit status: 0; 2 when the source says the user must fix something (RC_ERR_ARG) or the
 * stream is corrupt; 1 for a transient failure (RC_ERR_IO) outside --reconnect-test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "source_server.h"

static volatile int stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

typedef struct {
  rc_server_opts o;
  long long count;
  int timeout_ms, idle_exit, reconnect_test, lookup;
  unsigned max_backoff;
  const char *checkpoint;
} dump_opts;

/* The state of one dump: the stream, its decoder, and the lines of the open transaction. */
typedef struct {
  rc_server *s;
  rc_binlog *bl;
  rc_row_iter it;
  rc_buf txn;          /* lines of the open transaction */
  rc_txn_state tx;
  char bfile[256];     /* the end of the last complete transaction: where a reconnect resumes */
  uint64_t bpos;
  uint64_t resume_pos; /* where the dump (re)started inside a file: its FDE comes again */
} dump;

static void usage(void) {
  fprintf(stderr,
          "usage: server_dump --host H --port P --user U --password W --server-id N --start X\n"
          "       [--socket S] [--count N] [--timeout-ms T] [--idle-exit MS] [--heartbeat-ms H]\n"
          "       [--checkpoint FILE:POS] [--reconnect-test] [--max-backoff-ms MS] [--lookup]\n");
  exit(2);
}

static void parse_args(int argc, char **argv, dump_opts *d) {
  rc_server_opts o = {.host = "127.0.0.1", .port = 3306, .user = "root", .password = "",
                      .start = "earliest", .heartbeat_ms = 200, .connect_timeout_ms = 3000};
  *d = (dump_opts){.o = o, .count = -1, .timeout_ms = 200, .max_backoff = 2000};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--reconnect-test")) {
      d->reconnect_test = 1;
      continue;
    }
    if (!strcmp(a, "--lookup")) {
      d->lookup = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) d->o.host = v;
    else if (!strcmp(a, "--port")) d->o.port = (unsigned)atoi(v);
    else if (!strcmp(a, "--socket")) d->o.socket = v;
    else if (!strcmp(a, "--user")) d->o.user = v;
    else if (!strcmp(a, "--password")) d->o.password = v;
    else if (!strcmp(a, "--server-id")) d->o.server_id = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--start")) d->o.start = v;
    else if (!strcmp(a, "--heartbeat-ms")) d->o.heartbeat_ms = (unsigned)atoi(v);
    else if (!strcmp(a, "--count")) d->count = atoll(v);
    else if (!strcmp(a, "--timeout-ms")) d->timeout_ms = atoi(v);
    else if (!strcmp(a, "--idle-exit")) d->idle_exit = atoi(v);
    else if (!strcmp(a, "--checkpoint")) d->checkpoint = v;
    else if (!strcmp(a, "--max-backoff-ms")) d->max_backoff = (unsigned)atoi(v);
    else usage();
  }
}

/* The flag of an event's line, from its header (before the decoder sees it): the fake ROTATE
 * starts the decoder on its file and marks where the dump resumed; the FDE after it is resent. */
static const char *event_flag(dump *d, const rc_event *h, const char *file, uint64_t off) {
  const char *flag = "";
  if (h->type == RC_EV_ROTATE && ((h->flags & RC_EVF_ARTIFICIAL) || h->ts == 0)) {
    flag = " artificial";
    rc_binlog_start_file(d->bl, file);
    d->resume_pos = off;
  } else if (h->type == RC_EV_FORMAT_DESCRIPTION && d->resume_pos > 4) {
    flag = " resent";
    d->resume_pos = 0;
  } else if (h->flags & RC_EVF_ARTIFICIAL) {
    flag = " artificial";
  }
  if (h->type == RC_EV_FORMAT_DESCRIPTION && !flag[0]) d->resume_pos = 0;
  return flag;
}

/* The number of changes a ROWS event holds (0 for other events), decoding every image. */
static int count_changes(dump *d, const rc_event *ev, unsigned *changes, char *err, size_t esz) {
  *changes = 0;
  if (!rc_event_is_rows(ev->type)) return 0;
  int rc = rc_row_iter_begin(&d->it, d->bl, ev, 0, err, esz);
  rc_row_change ch;
  while (rc == 0 && (rc = rc_row_iter_next(&d->it, &ch, err, esz)) > 0) {
    (*changes)++;
    rc = 0;
  }
  return rc;
}

/* With --lookup: what information_schema says of a TABLE_MAP's table that carries no names. */
static void print_lookup(dump *d, const rc_event *ev) {
  rc_table *t = (rc_table *)rc_binlog_table(d->bl, rc_table_map_id(d->bl, ev));
  if (!t || t->has_names) return;
  char err[2048];
  if (rc_server_lookup(d->s, t, err, sizeof err) < 0) {
    rc_buf_printf(&d->txn, "# lookup %s.%s failed: %s\n", t->db, t->name, err);
    return;
  }
  rc_buf_printf(&d->txn, "# lookup %s.%s:", t->db, t->name);
  for (uint32_t i = 0; i < t->ncols; i++) {
    rc_column *c = &t->cols[i];
    rc_buf_printf(&d->txn, "%s%s%s%s", i ? "," : " ", c->name, c->pk ? "(pk)" : "",
                  rc_type_is_numeric(c->type) && c->is_signed == 0 ? "(unsigned)" : "");
    for (uint32_t k = 0; k < c->n_labels; k++) rc_buf_printf(&d->txn, "%s%s", k ? "|" : "[", c->labels[k]);
    if (c->n_labels) rc_buf_putc(&d->txn, ']');
  }
  rc_buf_putc(&d->txn, '\n');
}

/* Transaction bounds (rc_txn_step, as the reader): after an event that ends a transaction or
 * stands outside one, a reconnect may resume at its end, and the lines held are printed. */
static void mark_boundary(dump *d, const rc_event *ev, const char *flag, const char *file) {
  int step = rc_txn_step(&d->tx, ev);
  int ends = (step & RC_TXN_ENDS) || step == RC_TXN_OUTSIDE;
  if (ends && !flag[0]) {
    snprintf(d->bfile, sizeof d->bfile, "%s", file);
    d->bpos = ev->offset + ev->raw_len;
  } else if (!d->bfile[0] && flag[0] && ev->type == RC_EV_ROTATE) {
    snprintf(d->bfile, sizeof d->bfile, "%s", file);
    d->bpos = ev->offset;
  }
  if (!rc_txn_open(&d->tx)) {
    fwrite(d->txn.p, 1, d->txn.len, stdout);
    fflush(stdout);
    d->txn.len = 0;
  }
}

/* One event of the stream: decode it, add its line. Returns 0, or an exit status. */
static int dump_event(dump *d, const dump_opts *o, const uint8_t *raw, size_t len, const char *file,
                      uint64_t off) {
  char err[2048];
  rc_event h;
  rc_event_parse_header(&h, raw, len, off);
  const char *flag = event_flag(d, &h, file, off);
  if (strcmp(rc_binlog_file(d->bl), file)) rc_binlog_start_file(d->bl, file); /* a real ROTATE moved on */
  rc_event ev;
  unsigned changes = 0;
  if (rc_binlog_feed(d->bl, raw, len, off, &ev, err, sizeof err) < 0 ||
      count_changes(d, &ev, &changes, err, sizeof err) < 0) {
    fprintf(stderr, "server_dump: %s\n", err);
    return 2;
  }
  const char *name = rc_event_type_name(ev.type);
  char unk[32];
  if (!name) {
    snprintf(unk, sizeof unk, "UNKNOWN_%u", ev.type);
    name = unk;
  }
  rc_buf_printf(&d->txn, "%s %llu %s %zu %u%s\n", file, (unsigned long long)off, name, len, changes, flag);
  if (o->lookup && ev.type == RC_EV_TABLE_MAP) print_lookup(d, &ev);
  mark_boundary(d, &ev, flag, file);
  return 0;
}

/* Read the stream until --count events, --idle-exit, a signal or an error. Returns an exit status. */
static int run(dump *d, const dump_opts *o) {
  char err[2048];
  long long n = 0;
  uint64_t last_event = rc_now_ms();
  while (!stop_flag && (o->count < 0 || n < o->count)) {
    const uint8_t *raw;
    size_t len;
    const char *file;
    uint64_t off;
    int rc = rc_server_next(d->s, &raw, &len, &file, &off, o->timeout_ms, err, sizeof err);
    if (rc == 0) {
      if (o->idle_exit && rc_now_ms() - last_event >= (uint64_t)o->idle_exit) break;
      continue;
    }
    if (rc == RC_ERR_IO && o->reconnect_test) {
      fprintf(stderr, "server_dump: %s; reconnecting at %s:%llu\n", err, d->bfile, (unsigned long long)d->bpos);
      d->txn.len = 0;
      memset(&d->tx, 0, sizeof d->tx);
      rc = rc_server_reconnect(d->s, d->bfile, d->bpos, o->max_backoff, &stop_flag, err, sizeof err);
      if (rc < 0) {
        fprintf(stderr, "server_dump: %s\n", err);
        return rc == RC_ERR_IO ? 1 : 2;
      }
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "server_dump: %s\n", err);
      return rc == RC_ERR_IO ? 1 : 2;
    }
    last_event = rc_now_ms();
    n++;
    int status = dump_event(d, o, raw, len, file, off);
    if (status) return status;
  }
  return 0;
}

int main(int argc, char **argv) {
  dump_opts o;
  parse_args(argc, argv, &o);
  rc_log_init("server_dump");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);

  rc_checkpoint cp, *cpp = NULL;
  if (o.checkpoint) {
    const char *c = strrchr(o.checkpoint, ':');
    if (!c) usage();
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "%.*s", (int)(c - o.checkpoint), o.checkpoint);
    cp.pos = strtoull(c + 1, NULL, 10);
    cpp = &cp;
  }
  char err[2048];
  dump d;
  memset(&d, 0, sizeof d);
  int rc = rc_server_open(&d.s, &o.o, cpp, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "server_dump: %s\n", err);
    return rc == RC_ERR_IO ? 1 : 2;
  }
  d.bl = rc_binlog_new();
  int status = run(&d, &o);
  if (d.txn.len) fwrite(d.txn.p, 1, d.txn.len, stdout);
  rc_server_status st;
  rc_server_get_status(d.s, &st);
  printf("# status connected=%d file=%s pos=%llu behind=%u reconnects=%llu last_ts_us=%llu\n", st.connected,
         st.file, (unsigned long long)st.pos, st.seconds_behind, (unsigned long long)st.reconnects,
         (unsigned long long)st.last_event_ts_us);
  fflush(stdout);
  rc_server_close(d.s);
  rc_row_iter_free(&d.it);
  rc_binlog_free(d.bl);
  rc_buf_free(&d.txn);
  return status;
}
