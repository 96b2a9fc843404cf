/*
 * decode.c: the work of `rowcast decode [--events] FILE...` (cmd_decode.c reads its command
 * line).
 *
 * Reads the files in order (a rotation continues in the next file), decodes every event with
 * the binlog library and prints one JSON line per row change (or per event). Output is
 * buffered and written only for fully decoded events: on bad input the error names the file
 * and offset, nothing of the failing event is printed, and the exit status is 2.
 *
 * With filters (the filter.* keys, pipeline/filter.h), the ROWS events of a filtered table are
 * skipped undecoded, and each table version's columns are projected (codec/row_project.h) as
 * the serializer does, so decode prints what the Kafka messages of a replay hold.
 */
#include "decode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binlog.h"
#include "binlog_info.h"
#include "buf.h"
#include "filter.h"
#include "row_json.h"
#include "row_project.h"
#include "schema_client.h"

#define OUT_FLUSH (1u << 20)

typedef struct {
  rc_buf out;
  int events_mode;
  uint64_t unknown[256];
  uint64_t n_changes, n_events;
  char **warned; /* "db.table" of tables already warned about */
  size_t n_warned;
  rc_row_iter it;
  const rc_filter *filter;
  struct proj { uint64_t sig; rc_project *p; } *projs; /* by table signature; p NULL: as it is */
  size_t nprojs;
  rc_schema *sc;      /* the schema history (NULL: schema.tracker=off, or --events) */
  char *none_msg;     /* why the tracker has no version of the last table map's table */
} decode_ctx;

static int column_action(void *filter, const char *db, const char *table, const char *column) {
  return rc_filter_column(filter, db, table, column); /* RC_FILTER_* and RC_PROJECT_* agree */
}

#define MAX_PROJS 4096 /* table versions kept; past that, forgotten and built again */

/* The projection of a table version (*out NULL when the filters leave it as it is). */
static int project_of(decode_ctx *dc, const rc_table *t, rc_project **out, char *err, size_t esz) {
  uint64_t sig = rc_table_signature(t);
  for (size_t i = 0; i < dc->nprojs; i++)
    if (dc->projs[i].sig == sig) {
      *out = dc->projs[i].p;
      return 0;
    }
  size_t klen;
  const uint8_t *key = rc_filter_mask_key(dc->filter, &klen);
  int r = rc_project_for(t, column_action, (void *)dc->filter, key, klen, out, err, esz);
  if (r < 0) return r;
  if (dc->nprojs == MAX_PROJS) {
    for (size_t i = 0; i < dc->nprojs; i++) rc_project_free(dc->projs[i].p);
    dc->nprojs = 0;
  }
  struct proj *n = realloc(dc->projs, (dc->nprojs + 1) * sizeof *n);
  if (!n) {
    rc_project_free(*out);
    *out = NULL;
    return rc_errf(RC_ERR_NOMEM, err, esz, "out of memory");
  }
  dc->projs = n;
  dc->projs[dc->nprojs].sig = sig;
  dc->projs[dc->nprojs++].p = *out;
  return 0;
}

static int flush_out(decode_ctx *dc, size_t upto) {
  size_t off = 0;
  while (off < upto) {
    ssize_t w = write(STDOUT_FILENO, dc->out.p + off, upto - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "rowcast decode: cannot write to standard output: %s\n", strerror(errno));
      return -1;
    }
    off += (size_t)w;
  }
  if (dc->out.len > upto) memmove(dc->out.p, dc->out.p + upto, dc->out.len - upto);
  dc->out.len -= upto;
  return 0;
}

static void warn_no_names(decode_ctx *dc, const rc_table *t) {
  for (size_t i = 0; i < dc->n_warned; i++) {
    const char *w = dc->warned[i];
    size_t dl = strlen(t->db);
    if (!strncmp(w, t->db, dl) && w[dl] == '.' && !strcmp(w + dl + 1, t->name)) return;
  }
  size_t n = strlen(t->db) + strlen(t->name) + 2;
  char *s = malloc(n);
  char **nw = realloc(dc->warned, (dc->n_warned + 1) * sizeof *nw);
  if (!s || !nw) {
    free(s);
    if (nw) dc->warned = nw;
    return;
  }
  snprintf(s, n, "%s.%s", t->db, t->name);
  dc->warned = nw;
  dc->warned[dc->n_warned++] = s;
  if (dc->none_msg)
    fprintf(stderr,
            "rowcast decode: warning: the binlog carries no column names for %s.%s and %s; its columns are "
            "keyed \"@1\", \"@2\", ... (and ENUM/SET values, without labels, are numbers).\n",
            t->db, t->name, dc->none_msg);
  else
    fprintf(stderr,
            "rowcast decode: warning: the binlog carries no column names for %s.%s; columns are keyed "
            "\"@1\", \"@2\", ... (and ENUM/SET values, without labels, are numbers). To get names, let "
            "the schema history run (schema.tracker=auto) with schema.initial=FILE.sql (mariadb-dump "
            "--no-data) when the binlog starts after the table was created, or set "
            "binlog_row_metadata=FULL on the server (MySQL 8.0+, MariaDB 10.5+) for new binlogs.\n",
            t->db, t->name);
}

static int do_rows(decode_ctx *dc, rc_binlog *bl, const rc_event *ev, uint32_t *row_index, char *err,
                   size_t esz) {
  int r = rc_row_iter_begin(&dc->it, bl, ev, *row_index, err, esz);
  if (r < 0) return r;
  const rc_table *t = dc->it.rows.table;
  if (!t->has_names) warn_no_names(dc, t);
  rc_project *pj = NULL;
  if (rc_filter_has_columns(dc->filter) && (r = project_of(dc, t, &pj, err, esz)) < 0) return r;
  if (pj) t = rc_project_table(pj);
  rc_change_pos pos = {rc_binlog_file(bl), ev->offset, 0, rc_binlog_gtid(bl), ev->ts, NULL};
  rc_row_change ch;
  while ((r = rc_row_iter_next(&dc->it, &ch, err, esz)) > 0) {
    pos.row = ch.row;
    *row_index = ch.row + 1;
    size_t mark = dc->out.len;
    const rc_value *before = ch.before, *after = ch.after;
    if (pj && ((r = rc_project_image(pj, 0, before, &before, err, esz)) < 0 ||
               (r = rc_project_image(pj, 1, after, &after, err, esz)) < 0))
      return r;
    r = rc_json_change(&dc->out, t, ch.op, before, after, &pos, err, esz);
    if (r < 0) {
      char inner[512];
      snprintf(inner, sizeof inner, "%s", err);
      dc->out.len = mark;
      return rc_errf(r, err, esz, "%s: %s at offset %llu, row %u: %s", rc_binlog_file(bl),
                     rc_event_type_name(ev->type), (unsigned long long)ev->offset, pos.row, inner);
    }
    dc->n_changes++;
  }
  return r;
}

static int print_event(decode_ctx *dc, const rc_binlog *bl, const rc_event *ev, char *err,
                       size_t esz) {
  rc_buf *b = &dc->out;
  const char *name = rc_event_type_name(ev->type);
  rc_buf_lit(b, "{\"type\":\"");
  rc_buf_puts(b, name ? name : "UNKNOWN_EVENT");
  rc_buf_lit(b, "\",\"type_code\":");
  rc_buf_u64(b, ev->type);
  rc_buf_lit(b, ",\"file\":");
  rc_buf_json_str(b, rc_binlog_file(bl), strlen(rc_binlog_file(bl)));
  rc_buf_lit(b, ",\"offset\":");
  rc_buf_u64(b, ev->offset);
  rc_buf_lit(b, ",\"size\":");
  rc_buf_u64(b, ev->size);
  rc_buf_lit(b, ",\"server_id\":");
  rc_buf_u64(b, ev->server_id);
  rc_buf_lit(b, ",\"ts\":");
  rc_buf_u64(b, ev->ts);
  if (ev->in_payload) rc_buf_lit(b, ",\"in_payload\":true");
  size_t info_at = b->len;
  rc_buf_lit(b, ",\"info\":");
  size_t info_body = b->len;
  int r = rc_event_info_json(bl, ev, b, err, esz);
  if (r < 0) return r; /* the caller drops the partial line */
  if (b->len == info_body) b->len = info_at; /* nothing to show */
  rc_buf_lit(b, "}\n");
  return 0;
}

/* A TABLE_MAP without names: the schema history's version for its position, fed to bl in its
 * place. A version that does not match stops the decode (exit 2, the message says how to give
 * the schema); no version at all leaves the columns keyed @1, @2 with a warning saying why. */
static int schema_tmap(decode_ctx *dc, rc_binlog *bl, const rc_event *ev, char *err, size_t esz) {
  const uint8_t *out;
  size_t len;
  const char *msg;
  int st = rc_schema_tmap(dc->sc, bl, ev, &out, &len, &msg, err, esz);
  if (st < 0) return st;
  free(dc->none_msg);
  dc->none_msg = st == RC_SC_NONE && msg ? strdup(msg) : NULL;
  if (st == RC_SC_MISMATCH) return rc_errf(RC_ERR_ARG, err, esz, "%s", msg);
  if (st != RC_SC_ENRICHED && st != RC_SC_RESYNCED) return 0;
  rc_event done;
  return rc_binlog_feed_nocrc(bl, out, len, ev->offset, &done, err, esz);
}

/* One event (outer or inner): print or decode it. */
static int handle_event(decode_ctx *dc, rc_binlog *bl, const rc_event *ev, uint32_t *row_index,
                        char *err, size_t esz) {
  dc->n_events++;
  if (!ev->in_payload && !rc_event_type_name(ev->type)) dc->unknown[ev->type]++;
  if (dc->events_mode) return print_event(dc, bl, ev, err, esz);
  if (rc_event_is_rows(ev->type)) {
    const rc_table *t = rc_filter_has_tables(dc->filter) ? rc_binlog_table(bl, rc_rows_table_id(bl, ev)) : NULL;
    if (t && !rc_filter_table(dc->filter, t->db, t->name)) return 0; /* filtered: not decoded */
    return do_rows(dc, bl, ev, row_index, err, esz);
  }
  if (dc->sc && ev->type == RC_EV_TABLE_MAP) return schema_tmap(dc, bl, ev, err, esz);
  if (dc->sc) return rc_schema_query(dc->sc, bl, ev, err, esz);
  return 0;
}

static int decode_file(decode_ctx *dc, rc_binlog *bl, const char *path, char *err, size_t esz) {
  rc_binfile *f;
  int r = rc_binfile_open(&f, path, err, esz);
  if (r < 0) return r;
  rc_binlog_start_file(bl, rc_binfile_name(f));
  const uint8_t *raw;
  size_t len;
  uint64_t off;
  while ((r = rc_binfile_next(f, &raw, &len, &off, err, esz)) > 0) {
    size_t mark = dc->out.len;
    rc_event ev;
    uint32_t row_index = 0;
    r = rc_binlog_feed(bl, raw, len, off, &ev, err, esz);
    if (r >= 0) r = handle_event(dc, bl, &ev, &row_index, err, esz);
    if (r >= 0 && ev.type == RC_EV_TRANSACTION_PAYLOAD) {
      rc_event inner;
      while (r >= 0 && (r = rc_binlog_next_inner(bl, &inner, err, esz)) > 0)
        r = handle_event(dc, bl, &inner, &row_index, err, esz);
    }
    if (r < 0) {
      dc->out.len = mark; /* nothing of a failing event is printed */
      break;
    }
    if (dc->out.len >= OUT_FLUSH && flush_out(dc, dc->out.len) < 0) {
      rc_binfile_close(f);
      return 1;
    }
  }
  rc_binfile_close(f);
  return r;
}

int rc_decode_files(char **files, int nfiles, int events_mode, const rc_filter *filter, const rc_config *cfg) {
  decode_ctx dc;
  memset(&dc, 0, sizeof dc);
  dc.events_mode = events_mode;
  dc.filter = filter;
  if (!events_mode && strcmp(rc_config_str(cfg, "schema.tracker"), "off")) {
    const char *initial = rc_config_str(cfg, "schema.initial");
    rc_schema_opts o = {.mode = "decode", .initial = *initial ? initial : NULL};
    char e[1024];
    int st;
    if (!(dc.sc = rc_schema_new(&o, &st, e, sizeof e))) {
      fprintf(stderr, "rowcast decode: %s\n", e);
      return st;
    }
  }
  rc_binlog *bl = rc_binlog_new();
  if (!bl) {
    fprintf(stderr, "rowcast decode: out of memory\n");
    return 1;
  }
  char err[1024] = "";
  int status = 0;
  for (int i = 0; i < nfiles; i++) {
    int r = decode_file(&dc, bl, files[i], err, sizeof err);
    if (r == 1) {
      status = 1;
      break;
    }
    if (r < 0) {
      if (flush_out(&dc, dc.out.len) < 0) {
        status = 1;
        break;
      }
      fprintf(stderr, "rowcast decode: %s\n", err);
      status = r == RC_ERR_IO ? 1 : 2;
      if (r == RC_ERR_NOMEM) status = 1;
      break;
    }
  }
  if (status == 0 && flush_out(&dc, dc.out.len) < 0) status = 1;
  uint64_t unknown = 0;
  for (int t = 0; t < 256; t++) unknown += dc.unknown[t];
  if (unknown) {
    fprintf(stderr, "rowcast decode: skipped %llu event(s) of types rowcast does not know:",
            (unsigned long long)unknown);
    for (int t = 0; t < 256; t++)
      if (dc.unknown[t]) fprintf(stderr, " type %d x%llu", t, (unsigned long long)dc.unknown[t]);
    fputc('\n', stderr);
  }
  rc_row_iter_free(&dc.it);
  for (size_t i = 0; i < dc.nprojs; i++) rc_project_free(dc.projs[i].p);
  free(dc.projs);
  rc_schema_free(dc.sc);
  free(dc.none_msg);
  for (size_t i = 0; i < dc.n_warned; i++) free(dc.warned[i]);
  free(dc.warned);
  rc_buf_free(&dc.out);
  rc_binlog_free(bl);
  return status;
}
