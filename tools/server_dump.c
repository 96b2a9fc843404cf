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
#include <strings.h>
#include <time.h>

#include "binlog.h"
#include "buf.h"
#include "log.h"
#include "source_server.h"

static volatile int stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int is_query(const rc_event *ev, const char *text) {
  if (ev->type != RC_EV_QUERY || ev->body_len < 13) return 0;
  size_t dbl = ev->body[8], svl = (size_t)ev->body[11] | (size_t)ev->body[12] << 8;
  size_t at = 13 + svl + dbl + 1;
  if (at > ev->body_len) return 0;
  size_t n = ev->body_len - at, tl = strlen(text);
  return n == tl && !strncasecmp((const char *)ev->body + at, text, tl);
}

static void usage(void) {
  fprintf(stderr,
          "usage: server_dump --host H --port P --user U --password W --server-id N --start X\n"
          "       [--socket S] [--count N] [--timeout-ms T] [--idle-exit MS] [--heartbeat-ms H]\n"
          "       [--checkpoint FILE:POS] [--reconnect-test] [--max-backoff-ms MS] [--lookup]\n");
  exit(2);
}

int main(int argc, char **argv) {
  rc_server_opts o = {.host = "127.0.0.1", .port = 3306, .user = "root", .password = "",
                      .start = "earliest", .heartbeat_ms = 200, .connect_timeout_ms = 3000};
  long long count = -1;
  int timeout_ms = 200, idle_exit = 0, reconnect_test = 0, lookup = 0;
  unsigned max_backoff = 2000;
  const char *checkpoint = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--reconnect-test")) {
      reconnect_test = 1;
      continue;
    }
    if (!strcmp(a, "--lookup")) {
      lookup = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) o.host = v;
    else if (!strcmp(a, "--port")) o.port = (unsigned)atoi(v);
    else if (!strcmp(a, "--socket")) o.socket = v;
    else if (!strcmp(a, "--user")) o.user = v;
    else if (!strcmp(a, "--password")) o.password = v;
    else if (!strcmp(a, "--server-id")) o.server_id = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--start")) o.start = v;
    else if (!strcmp(a, "--heartbeat-ms")) o.heartbeat_ms = (unsigned)atoi(v);
    else if (!strcmp(a, "--count")) count = atoll(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(a, "--idle-exit")) idle_exit = atoi(v);
    else if (!strcmp(a, "--checkpoint")) checkpoint = v;
    else if (!strcmp(a, "--max-backoff-ms")) max_backoff = (unsigned)atoi(v);
    else usage();
  }
  rc_log_init("server_dump");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);

  rc_checkpoint cp, *cpp = NULL;
  if (checkpoint) {
    const char *c = strrchr(checkpoint, ':');
    if (!c) usage();
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "%.*s", (int)(c - checkpoint), checkpoint);
    cp.pos = strtoull(c + 1, NULL, 10);
    cpp = &cp;
  }
  char err[2048];
  rc_server *s;
  int rc = rc_server_open(&s, &o, cpp, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "server_dump: %s\n", err);
    return rc == RC_ERR_IO ? 1 : 2;
  }
  rc_binlog *bl = rc_binlog_new();
  rc_rows rows;
  memset(&rows, 0, sizeof rows);
  rc_value *vals = NULL;
  uint32_t vals_cap = 0;
  rc_buf txn = {0}; /* lines of the open transaction */
  int in_txn = 0;
  char bfile[256] = "";
  uint64_t bpos = 0, resume_pos = 0;
  long long n = 0;
  uint64_t last_event = mono_ms();
  int status = 0;
  while (!stop_flag && (count < 0 || n < count)) {
    const uint8_t *raw;
    size_t len;
    const char *file;
    uint64_t off;
    rc = rc_server_next(s, &raw, &len, &file, &off, timeout_ms, err, sizeof err);
    if (rc == 0) {
      if (idle_exit && mono_ms() - last_event >= (uint64_t)idle_exit) break;
      continue;
    }
    if (rc == RC_ERR_IO && reconnect_test) {
      fprintf(stderr, "server_dump: %s; reconnecting at %s:%llu\n", err, bfile, (unsigned long long)bpos);
      txn.len = 0;
      in_txn = 0;
      rc = rc_server_reconnect(s, bfile, bpos, max_backoff, &stop_flag, err, sizeof err);
      if (rc < 0) {
        fprintf(stderr, "server_dump: %s\n", err);
        status = rc == RC_ERR_IO ? 1 : 2;
        break;
      }
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "server_dump: %s\n", err);
      status = rc == RC_ERR_IO ? 1 : 2;
      break;
    }
    last_event = mono_ms();
    n++;
    uint8_t type = raw[4];
    uint16_t flags = (uint16_t)(raw[17] | raw[18] << 8);
    uint32_t ts = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 24;
    const char *flag = "";
    if (type == RC_EV_ROTATE && ((flags & 0x20) || ts == 0)) {
      flag = " artificial";
      rc_binlog_start_file(bl, file);
      resume_pos = off;
    } else if (type == RC_EV_FORMAT_DESCRIPTION && resume_pos > 4) {
      flag = " resent";
      resume_pos = 0;
    } else if (flags & 0x20) {
      flag = " artificial";
    }
    if (type == RC_EV_FORMAT_DESCRIPTION && !flag[0]) resume_pos = 0;
    if (strcmp(rc_binlog_file(bl), file)) rc_binlog_start_file(bl, file); /* a real ROTATE moved on */
    rc_event ev;
    rc = rc_binlog_feed(bl, raw, len, off, &ev, err, sizeof err);
    if (rc < 0) {
      fprintf(stderr, "server_dump: %s\n", err);
      status = 2;
      break;
    }
    unsigned changes = 0;
    if (rc_event_is_rows(ev.type)) {
      rc = rc_rows_begin(bl, &ev, &rows, err, sizeof err);
      if (rc == 0 && rows.table->ncols > vals_cap) {
        free(vals);
        vals_cap = rows.table->ncols;
        vals = calloc(vals_cap, sizeof *vals);
      }
      while (rc == 0 && (rc = rc_rows_next_image(&rows, vals, 0, err, sizeof err)) > 0) {
        if (rows.op == 'u' && (rc = rc_rows_next_image(&rows, vals, 1, err, sizeof err)) < 0) break;
        changes++;
        rc = 0;
      }
      if (rc < 0) {
        fprintf(stderr, "server_dump: %s\n", err);
        status = 2;
        break;
      }
    }
    const char *name = rc_event_type_name(type);
    char unk[32];
    if (!name) {
      snprintf(unk, sizeof unk, "UNKNOWN_%u", type);
      name = unk;
    }
    rc_buf_printf(&txn, "%s %llu %s %zu %u%s\n", file, (unsigned long long)off, name, len, changes, flag);
    if (lookup && type == RC_EV_TABLE_MAP) {
      rc_table *t = (rc_table *)rc_binlog_table(bl, rc_table_map_id(bl, &ev));
      if (t && !t->has_names) {
        if (rc_server_lookup(s, t, err, sizeof err) < 0) {
          rc_buf_printf(&txn, "# lookup %s.%s failed: %s\n", t->db, t->name, err);
        } else {
          rc_buf_printf(&txn, "# lookup %s.%s:", t->db, t->name);
          for (uint32_t i = 0; i < t->ncols; i++) {
            rc_column *c = &t->cols[i];
            rc_buf_printf(&txn, "%s%s%s%s", i ? "," : " ", c->name, c->pk ? "(pk)" : "",
                          rc_type_is_numeric(c->type) && c->is_signed == 0 ? "(unsigned)" : "");
            for (uint32_t k = 0; k < c->n_labels; k++) rc_buf_printf(&txn, "%s%s", k ? "|" : "[", c->labels[k]);
            if (c->n_labels) rc_buf_putc(&txn, ']');
          }
          rc_buf_putc(&txn, '\n');
        }
      }
    }
    /* transaction bounds, as in reader.c */
    int ends = 0;
    if (type == RC_EV_MARIA_GTID) {
      in_txn = ev.body_len > 12 && !(ev.body[12] & 0x01);
    } else if (type == RC_EV_QUERY) {
      if (is_query(&ev, "BEGIN")) in_txn = 1;
      else if (is_query(&ev, "COMMIT") || is_query(&ev, "ROLLBACK") || !in_txn) ends = 1, in_txn = 0;
    } else if (type == RC_EV_XID) {
      ends = 1;
      in_txn = 0;
    } else if (!in_txn) {
      ends = 1;
    }
    if (ends && !flag[0]) {
      snprintf(bfile, sizeof bfile, "%s", file);
      bpos = off + len;
    } else if (!bfile[0] && flag[0] && type == RC_EV_ROTATE) {
      snprintf(bfile, sizeof bfile, "%s", file);
      bpos = off;
    }
    if (!in_txn) {
      fwrite(txn.p, 1, txn.len, stdout);
      fflush(stdout);
      txn.len = 0;
    }
  }
  if (txn.len) fwrite(txn.p, 1, txn.len, stdout);
  rc_server_status st;
  rc_server_get_status(s, &st);
  printf("# status connected=%d file=%s pos=%llu behind=%u reconnects=%llu last_ts_us=%llu\n", st.connected,
         st.file, (unsigned long long)st.pos, st.seconds_behind, (unsigned long long)st.reconnects,
         (unsigned long long)st.last_event_ts_us);
  fflush(stdout);
  rc_server_close(s);
  rc_rows_free(&rows);
  rc_binlog_free(bl);
  free(vals);
  rc_buf_free(&txn);
  return status;
}
