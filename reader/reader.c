/*
 * reader.c: rowcast-reader, the one sequential stage. Reads the binlog — captured files in
 * order (rowcast replay), or a live server through the replication protocol (rowcast run,
 * reader/source_server.c) — from the checkpoint when there is one, checks framing and
 * checksums, keeps the table maps (completed from the schema history, schema/, when the
 * binlog carries no column names; from information_schema with schema.tracker=off),
 * and cuts the stream into batches of raw events for the serializers: a batch closes at
 * batch.max_changes changes (at the end of the event that reaches it), after batch.max_ms, when
 * the next event would not fit in pipe.max_message_bytes, and when the source has nothing more.
 * It does not format values. Every batch is self-contained (file name, FORMAT_DESCRIPTION and
 * the table maps its rows need), so any serializer can take it.
 *
 * Batch records (their layout is in common/pipeline/frame.h), in stream order: the file name
 * (rc_rec_file) and its FORMAT_DESCRIPTION (rc_rec_fde) at the start of each batch and file,
 * the TABLE_MAP each ROWS event needs (rc_rec_tmap) once per batch, the ROWS events
 * (rc_rec_rows), and a transaction end (rc_rec_txn_end) after each transaction.
 *
 * Table filters (filter.include, filter.exclude: pipeline/filter.h) are applied here, at the
 * TABLE_MAP: the ROWS events of a filtered table id are dropped unread (neither decoded nor
 * forwarded, counted as "filtered"); the transaction ends still go out, so a transaction whose
 * changes are all filtered moves the checkpoint on like any other.
 *
 * With publisher.transactions_topic set, the reader also says what it alone knows of each
 * transaction that changes rows (txn_*): its BEGIN (rc_rec_txn, before its first ROWS record),
 * the transaction and order of each ROWS record's first change (rc_rec_txn_order, before it),
 * and its END with the changes per table (rc_rec_txn, before its rc_rec_txn_end). The id is the
 * transaction's GTID, else FILE:POS of its first event, so a resume gives it the same id.
 *
 * The snapshot merge (snapshot.mode: the chunks held until the stream reaches their position,
 * the spool, the request) is in reader_snap.c; the reader's state, which both files share, is in
 * reader_int.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binlog.h"
#include "checkpoint.h"
#include "filter.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "source_config.h"
#include "schema_client.h"
#include "snapshot.h"
#include "snapshot_spool.h"
#include "reader_int.h"
#include "source_server.h"
#include "stage.h"


static void metrics(rc_stage *st, rc_buf *b) {
  reader *r = st->ctx;
  rc_metric_put(b, "events", r->events);
  rc_metric_put(b, "changes", r->changes);
  rc_metric_put(b, "filtered", r->filtered);
  rc_metric_put(b, "batches", r->batches);
  rc_metric_put(b, "bytes", r->bytes_sent);
  rc_metric_put(b, "send_wait_ms", r->send_wait_ns / 1000000);
  rc_metric_put(b, "position", r->cur_pos);
  rc_buf_lit(b, "file ");
  rc_buf_puts(b, r->cur_file);
  rc_buf_putc(b, '\n');
  const char *gtid = r->bl ? rc_binlog_gtid(r->bl) : "";
  if (gtid[0]) {
    rc_buf_lit(b, "gtid ");
    rc_buf_puts(b, gtid);
    rc_buf_putc(b, '\n');
  }
  if (r->srv) {
    rc_server_status ss;
    rc_server_get_status(r->srv, &ss);
    rc_metric_put(b, "connected", (uint64_t)ss.connected);
    rc_metric_put(b, "seconds_behind", ss.seconds_behind);
    rc_metric_put(b, "reconnects", ss.reconnects);
    rc_metric_put(b, "lookup_failures", r->lookup_failures);
  }
  if (r->sc) rc_metric_put(b, "schema_mismatches", r->schema_mismatches);
  if (r->snap) {
    rc_metric_put(b, "snapshot_rows_sent", r->snap_rows);
    rc_metric_put(b, "snapshot_rows_dropped", r->snap_dropped);
    rc_metric_put(b, "snapshot_events_dropped", r->snap_events_dropped);
    rc_metric_put(b, "snapshot_chunks", r->snap_sent);
    rc_snap_metrics(r->snap, b);
  }
}

/* Send a whole frame, blocking while the pipe is full (backpressure), still serving metrics.
 * Returns 0, or RC_STAGE_STOP when the stage must stop now. */
static int send_frame(reader *r) {
  if (rc_stage_send(&r->st, r->sock, r->batch.p, r->batch.len, "serializers", &r->send_wait_ns) < 0)
    return RC_STAGE_STOP;
  r->bytes_sent += r->batch.len;
  return 0;
}

static void batch_open(reader *r) {
  rc_frame_begin(&r->batch, RC_FRAME_EVENTS, r->seq);
  r->batch_changes = 0;
  r->batch_ends = 0;
  r->batch_open_ns = rc_now_ns();
  r->batch_has_file = 0;
}

int rd_batch_close(reader *r) {
  if (r->batch.len == RC_FRAME_HDR_LEN) return 0; /* nothing in it */
  rc_frame_finish(&r->batch, r->batch_changes, 0);
  if (send_frame(r) < 0) return RC_STAGE_STOP;
  r->batches++;
  r->seq++;
  batch_open(r);
  return 0;
}

void rd_put_file_header(reader *r) {
  if (r->batch_has_file) return;
  rc_frame_put_file(&r->batch, &(rc_rec_file){r->file, strlen(r->file)});
  rc_frame_put_fde(&r->batch, &(rc_rec_fde){r->fde, r->fde_len});
  r->batch_has_file = 1;
}

/* The slot of a table id. Looked up for every ROWS event (the filter, the batch's table map),
 * whose table is nearly always the one of the last hit: that one is tried first. */
static tmap_slot *tmap_find(reader *r, uint64_t id) {
  if (r->tmap_hint < r->n_tmaps && r->tmaps[r->tmap_hint].table_id == id) return &r->tmaps[r->tmap_hint];
  for (size_t i = 0; i < r->n_tmaps; i++)
    if (r->tmaps[i].table_id == id) {
      r->tmap_hint = i;
      return &r->tmaps[i];
    }
  return NULL;
}

/* Forget every information_schema lookup (after a DDL: the next table map looks again). */
static void lookups_clear(reader *r) {
  for (size_t i = 0; i < r->nlookups; i++) {
    free(r->lookups[i].name);
    rc_table_free(r->lookups[i].t);
  }
  r->nlookups = 0;
}

/* Warn once per table that the schema history has no version of it. */
static void schema_warn_once(reader *r, const rc_table *t, const char *msg) {
  char name[600];
  snprintf(name, sizeof name, "%s.%s", t->db, t->name);
  for (size_t i = 0; i < r->n_schema_warned; i++)
    if (!strcmp(r->schema_warned[i], name)) return;
  char **n = realloc(r->schema_warned, (r->n_schema_warned + 1) * sizeof *n);
  if (!n) return;
  r->schema_warned = n;
  if ((n[r->n_schema_warned] = strdup(name))) r->n_schema_warned++;
  rc_warn("%s; its columns stay \"@1\", \"@2\", ...", msg);
}

/* The table map completed by the schema history: the event to keep (the completed copy, no
 * checksum, or the original), or NULL to fall back to information_schema (run, no version).
 * A version that does not describe the event stops a replay (r->fatal, exit 2); in run the
 * history has read the server's schema again, and what still differs is counted and warned. */
static const rc_event *schema_tmap(reader *r, const rc_event *ev, rc_event *tmp, int *nocrc, int *stop) {
  const uint8_t *out;
  size_t len;
  const char *msg;
  char err[1024];
  const rc_table *orig = rc_binlog_table(r->bl, rc_table_map_id(r->bl, ev));
  int st = rc_schema_tmap(r->sc, r->bl, ev, &out, &len, &msg, err, sizeof err);
  if (st < 0) {
    rc_error("schema history: %s", err);
    r->fatal = st == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
    *stop = 1;
    return ev;
  }
  if (st == RC_SC_MISMATCH) {
    r->schema_mismatches++;
    if (!r->srv) {
      rc_error("%s", msg);
      r->fatal = RC_EXIT_CONFIG;
      *stop = 1;
      return ev;
    }
    rc_warn("%s (the server's schema, read again, does not match either)", msg);
    return ev;
  }
  if (st == RC_SC_NONE) {
    if (r->srv) return NULL;
    if (orig) schema_warn_once(r, orig, msg);
    return ev;
  }
  if (st == RC_SC_RESYNCED) {
    r->schema_mismatches++;
    rc_warn("%s; the server's schema was read again and matches: changes from here on use it", msg);
  }
  if (st != RC_SC_ENRICHED && st != RC_SC_RESYNCED) return ev;
  *tmp = *ev;
  tmp->raw = out;
  tmp->raw_len = len;
  *nocrc = 1;
  return tmp;
}

/* When the server logs no column names (binlog_row_metadata MINIMAL or NO_LOG), complete the
 * table map from information_schema, looked up once per table and again after DDL. Returns the
 * event to keep: the enriched copy (no checksum), or the original. */
static const rc_event *enrich_tmap(reader *r, const rc_event *ev, rc_event *tmp, int *nocrc) {
  const rc_table *orig = rc_binlog_table(r->bl, rc_table_map_id(r->bl, ev));
  if (!r->srv || !orig || (orig->has_names && orig->has_pk && orig->has_charsets)) return ev;
  char name[600];
  snprintf(name, sizeof name, "%s.%s", orig->db, orig->name);
  rc_table *full = NULL;
  int known = 0;
  for (size_t i = 0; i < r->nlookups && !known; i++)
    if (!strcmp(r->lookups[i].name, name)) {
      full = r->lookups[i].t; /* NULL: the lookup failed; not again before the next DDL */
      known = 1;
    }
  if (known && !full) return ev;
  if (!full) {
    char err[512];
    if (rc_table_map_parse(ev->body, ev->body_len, 8, rc_binlog_is_mariadb(r->bl), &full, err, sizeof err) < 0)
      return ev;
    if (rc_server_lookup(r->srv, full, err, sizeof err) < 0) {
      r->lookup_failures++;
      rc_warn("no column names for %s from information_schema (%s): its columns stay \"@1\", \"@2\", ... "
              "until a DDL in the stream makes rowcast look again", name, err);
      rc_table_free(full);
      full = NULL;
    }
    struct lookup *n = realloc(r->lookups, (r->nlookups + 1) * sizeof *n);
    if (!n) {
      rc_table_free(full);
      return ev;
    }
    r->lookups = n;
    r->lookups[r->nlookups].name = strdup(name);
    r->lookups[r->nlookups++].t = full;
    if (!full) return ev;
  }
  if (rc_table_map_enrich(ev, orig, full, rc_binlog_is_mariadb(r->bl), &r->enriched) < 0) return ev;
  *tmp = *ev;
  tmp->raw = (const uint8_t *)r->enriched.p;
  tmp->raw_len = r->enriched.len;
  *nocrc = 1;
  return tmp;
}

/* Keep a copy of a TABLE_MAP's bytes: a batch includes each table map its rows need. A
 * filtered table keeps only its id, marked: no copy, no information_schema lookup, no schema
 * history. Returns
 * 0, -1 out of memory, or RC_STAGE_STOP (r->fatal says why). */
static int remember_tmap(reader *r, const rc_event *ev) {
  uint64_t id = rc_table_map_id(r->bl, ev);
  const rc_table *tb = rc_binlog_table(r->bl, id);
  int filtered = r->filter_tables && tb && !rc_filter_table(r->filter, tb->db, tb->name);
  rc_event tmp;
  int nocrc = ev->in_payload, stop = 0;
  const rc_event *done = r->sc && !filtered ? schema_tmap(r, ev, &tmp, &nocrc, &stop) : NULL;
  if (stop) return RC_STAGE_STOP;
  if (!filtered) ev = done ? done : enrich_tmap(r, ev, &tmp, &nocrc);
  tmap_slot *t = tmap_find(r, id);
  if (!t) {
    if (r->n_tmaps >= RC_MAX_TABLES) { /* same bound as the decoder's: start over */
      for (size_t i = 0; i < r->n_tmaps; i++) free(r->tmaps[i].raw);
      r->n_tmaps = 0;
    }
    tmap_slot *n = realloc(r->tmaps, (r->n_tmaps + 1) * sizeof *n);
    if (!n) return -1;
    r->tmaps = n;
    t = &r->tmaps[r->n_tmaps++];
    memset(t, 0, sizeof *t);
    t->table_id = id;
  }
  t->sent_seq = 0;
  t->filtered = (uint8_t)filtered;
  if (filtered) return 0;
  if (t->cap < ev->raw_len) {
    uint8_t *p = realloc(t->raw, ev->raw_len);
    if (!p) return -1;
    t->raw = p;
    t->cap = ev->raw_len;
  }
  memcpy(t->raw, ev->raw, ev->raw_len);
  t->len = ev->raw_len;
  t->flags = nocrc ? RC_REC_EV_NOCRC : 0;
  return 0;
}

/* Room for `need` more bytes in this batch? If not, close it (and the caller re-adds headers).
 * Returns 0, or RC_STAGE_STOP (r->fatal says why when it is not a failure to send). */
int rd_make_room(reader *r, size_t need, const rc_event *ev) {
  size_t overhead = RC_FRAME_HDR_LEN + 64 + strlen(r->file) + r->fde_len;
  if (need + overhead > r->max_bytes) {
    r->fatal = RC_EXIT_CONFIG;
    rc_error("%s: event at offset %llu is %zu bytes; with the batch framing it cannot fit in one pipe "
             "message of pipe.max_message_bytes=%zu: raise pipe.max_message_bytes",
             r->file, (unsigned long long)ev->offset, need, r->max_bytes);
    return RC_STAGE_STOP;
  }
  if (r->batch.len + need > r->max_bytes && rd_batch_close(r) < 0) return RC_STAGE_STOP;
  return 0;
}

/* Is this event before what batches already carry (decoded again after a reconnect)? */
static int already_sent(const reader *r, const rc_event *ev) {
  return r->sent_file[0] && !strcmp(r->sent_file, r->file) && ev->offset < r->sent_pos;
}

/* ---- transaction boundaries (publisher.transactions_topic) ---------------------------------- */

static void txn_reset(reader *r) {
  for (size_t i = 0; i < r->txn_ntables; i++) {
    free(r->txn_tables[i].db);
    free(r->txn_tables[i].table);
  }
  r->txn_ntables = 0;
  r->txn_active = r->txn_begin_sent = 0;
  r->txn_count = 0;
}

/* A transaction begins at `off` of the current file (its GTID already fed to the decoder). */
static void txn_start(reader *r, uint64_t off) {
  txn_reset(r);
  r->txn_active = 1;
  r->txn_begin_off = off;
  r->txn_commit_us = 0;
  const char *g = rc_binlog_gtid(r->bl);
  snprintf(r->txn_gtid, sizeof r->txn_gtid, "%s", g);
  if (g[0])
    snprintf(r->txn_id, sizeof r->txn_id, "%s", g);
  else
    snprintf(r->txn_id, sizeof r->txn_id, "%s:%llu", r->file, (unsigned long long)off);
}

/* The open transaction's count of a table (added at 0); NULL without memory. */
static txn_table *txn_table_of(reader *r, const rc_table *t) {
  for (size_t i = 0; i < r->txn_ntables; i++)
    if (!strcmp(r->txn_tables[i].db, t->db) && !strcmp(r->txn_tables[i].table, t->name)) return &r->txn_tables[i];
  if (r->txn_ntables == r->txn_cap) {
    size_t ncap = r->txn_cap ? r->txn_cap * 2 : 8;
    txn_table *n = realloc(r->txn_tables, ncap * sizeof *n);
    if (!n) return NULL;
    r->txn_tables = n;
    r->txn_cap = ncap;
  }
  txn_table *e = &r->txn_tables[r->txn_ntables];
  e->db = strdup(t->db);
  e->table = strdup(t->name);
  e->count = 0;
  if (!e->db || !e->table) {
    free(e->db);
    free(e->table);
    return NULL;
  }
  r->txn_ntables++;
  return e;
}

static rc_rec_txn txn_record(const reader *r, int end) {
  return (rc_rec_txn){(uint8_t)end, r->txn_id, strlen(r->txn_id), r->txn_gtid, strlen(r->txn_gtid),
                      r->txn_begin_off, r->txn_commit_us, end ? r->txn_count : 0, NULL, 0};
}

/* The END of the open transaction, at the event at `off` that ends it, into the batch (the
 * caller made room for rc_frame_size_txn). */
static void txn_put_end(reader *r, uint64_t off) {
  rc_buf *tb = &r->txn_buf;
  tb->len = 0;
  for (size_t i = 0; i < r->txn_ntables; i++) {
    const txn_table *e = &r->txn_tables[i];
    rc_frame_put_txn_table(tb, e->db, strlen(e->db), e->table, strlen(e->table), e->count);
  }
  rc_rec_txn rec = txn_record(r, 1);
  rec.offset = off;
  rec.tables = (const uint8_t *)(tb->p ? tb->p : "");
  rec.tables_len = tb->len;
  rc_frame_put_txn(&r->batch, &rec);
}

static size_t txn_end_size(reader *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->txn_ntables; i++)
    n += 2 + strlen(r->txn_tables[i].db) + 2 + strlen(r->txn_tables[i].table) + 4;
  rc_rec_txn rec = txn_record(r, 1);
  rec.tables_len = n;
  return rc_frame_size_txn(&rec);
}

/* Is t a table without a key whose snapshot pieces wait for the stream to reach their position
 * (spooled in this run, or spooled before a crash and to be sent again)? Its events until then
 * are not sent: the pieces hold the table as it is at that position. */
static int keyless_covers(const reader *r, const rc_table *t) {
  if (!t->db || !t->name) return 0;
  if (r->kl_pending) return !strcmp(t->db, r->kl_db) && !strcmp(t->name, r->kl_name);
  const rc_spool_chunk *sp = &r->spool;
  return r->ireplay < r->nreplay && r->replay_loaded && (sp->flags & RC_SPOOL_KEYLESS) && !strcmp(t->db, sp->db) &&
         !strcmp(t->name, sp->name);
}

static int add_rows(reader *r, const rc_event *ev, char *err, size_t esz) {
  const tmap_slot *ft = r->filter_tables ? tmap_find(r, rc_rows_table_id(r->bl, ev)) : NULL;
  if (ft && ft->filtered) { /* a filtered table: dropped before any decoding, in no transaction count */
    r->filtered++;
    return 0;
  }
  int sent = already_sent(r, ev);
  if (sent && !r->txn_on) return 0;
  int rc = rc_row_iter_begin(&r->it, r->bl, ev, 0, err, esz);
  if (rc < 0) return rc;
  /* a change of the table whose snapshot chunk is held: the merge rule (snapshot.h) */
  int track = r->snap && rc_snap_covers(r->snap, r->it.rows.table);
  if (r->snap && keyless_covers(r, r->it.rows.table)) { /* the spooled table holds its effect: not sent */
    r->snap_events_dropped++;
    return 0;
  }
  /* count the changes: walk the row images (sizes depend on the values) */
  uint32_t n = 0;
  rc_row_change ch;
  while ((rc = rc_row_iter_next(&r->it, &ch, err, esz)) > 0) {
    n++;
    if (track) {
      rc_snap_track(r->snap, r->it.rows.table, ch.before);
      rc_snap_track(r->snap, r->it.rows.table, ch.after);
    }
  }
  if (rc < 0) return rc;
  /* the transaction's order of this event's first change, in it and in its table */
  rc_rec_txn_order ord = {0};
  size_t txn_need = 0;
  if (r->txn_on) {
    if (!r->txn_active) txn_start(r, ev->offset); /* rows outside BEGIN..COMMIT: a transaction of their own */
    txn_table *tt = txn_table_of(r, r->it.rows.table);
    if (!tt) return rc_errf(RC_ERR_NOMEM, err, esz, "out of memory");
    ord = (rc_rec_txn_order){r->txn_id, strlen(r->txn_id), r->txn_count + 1, tt->count + 1};
    r->txn_count += n;
    tt->count += n;
    if (sent) { /* decoded again after a reconnect: its BEGIN went out with it */
      r->txn_begin_sent = 1;
      return 0;
    }
    if (!r->txn_begin_sent) r->txn_commit_us = rc_binlog_commit_us(r->bl, ev);
    rc_rec_txn b = txn_record(r, 0);
    txn_need = (r->txn_begin_sent ? 0 : rc_frame_size_txn(&b)) + 1 + 2 + ord.id_len + 8;
  }
  tmap_slot *tm = tmap_find(r, r->it.rows.table_id);
  const char *gtid = rc_binlog_gtid(r->bl);
  /* an event unpacked from a TRANSACTION_PAYLOAD has no checksum of its own */
  rc_rec_rows rec = {ev->offset, 0, rc_binlog_commit_us(r->bl, ev), n, r->row_base,
                     ev->in_payload ? RC_REC_EV_NOCRC : 0, gtid, strlen(gtid), ev->raw, ev->raw_len};
  rc_rec_tmap trec = {tm ? tm->flags : 0, tm ? tm->raw : NULL, tm ? tm->len : 0};
  size_t need = rc_frame_size_rows(&rec) + (tm ? rc_frame_size_tmap(&trec) : 0) + txn_need;
  if (rd_make_room(r, need, ev) < 0) return RC_STAGE_STOP;
  if (r->batch_changes == 0) r->batch_open_ns = rc_now_ns(); /* batch.max_ms counts from the first change */
  rd_put_file_header(r);
  if (tm && tm->sent_seq != r->seq + 1) { /* +1: seq 0 is a valid batch number */
    rc_frame_put_tmap(&r->batch, &trec);
    tm->sent_seq = r->seq + 1;
  }
  if (r->txn_on) {
    if (!r->txn_begin_sent) {
      rc_rec_txn b = txn_record(r, 0);
      rc_frame_put_txn(&r->batch, &b);
      r->txn_begin_sent = 1;
    }
    rc_frame_put_txn_order(&r->batch, &ord);
  }
  rec.recv_ns = rc_now_ns();
  rc_frame_put_rows(&r->batch, &rec);
  r->row_base += n;
  r->batch_changes += n;
  r->changes += n;
  snprintf(r->sent_file, sizeof r->sent_file, "%s", r->file);
  r->sent_pos = ev->offset + 1;
  return 0;
}

/* Is the transaction end at file:end_pos already in a batch (read again after a reconnect)? Not
 * "before sent_pos": the rows inside a MySQL TRANSACTION_PAYLOAD share its offset, so its end
 * would look sent as soon as its rows are. */
static int end_sent(const reader *r, uint64_t end_pos) {
  return r->sent_end_file[0] && !strcmp(r->sent_end_file, r->file) && end_pos <= r->sent_end_pos;
}

/* A statement other than BEGIN/COMMIT/ROLLBACK (DDL among them): table shapes may have changed. */
static int is_ddl(const rc_event *ev) { return rc_event_query_kind(ev) == RC_QUERY_STATEMENT; }

static int handle(reader *r, const rc_event *ev, char *err, size_t esz) {
  r->events++;
  if (r->nlookups && is_ddl(ev)) lookups_clear(r);
  if (r->sc && is_ddl(ev)) {
    int rc = rc_schema_query(r->sc, r->bl, ev, err, esz);
    if (rc < 0) {
      r->fatal = rc == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
      rc_error("schema history: %s", err);
      return RC_STAGE_STOP;
    }
  }
  if (ev->type == RC_EV_TABLE_MAP) {
    int rc = remember_tmap(r, ev);
    return rc == RC_STAGE_STOP ? rc : rc < 0 ? rc_errf(RC_ERR_NOMEM, err, esz, "out of memory") : 0;
  }
  if (rc_event_is_rows(ev->type)) return add_rows(r, ev, err, esz);
  return 0;
}

/* One raw event of the stream at `off` in the current file: decode it, put what it carries into
 * the batch, mark transaction boundaries, close the batch when full or old. Returns 0,
 * RC_STAGE_STOP (see r->fatal), or a decoder error (bad input, message in err). */
static int process_event(reader *r, const uint8_t *raw, size_t len, uint64_t off, char *err, size_t esz) {
  rc_event ev;
  int rc = rc_binlog_feed(r->bl, raw, len, off, &ev, err, esz);
  if (rc < 0) return rc;
  r->row_base = 0;
  r->cur_pos = off + len;
  if (ev.type == RC_EV_FORMAT_DESCRIPTION) {
    if (r->fde_cap < len) {
      uint8_t *p = realloc(r->fde, len);
      if (!p) return rc_errf(RC_ERR_NOMEM, err, esz, "out of memory");
      r->fde = p;
      r->fde_cap = len;
    }
    memcpy(r->fde, raw, len);
    r->fde_len = len;
    r->batch_has_file = 0;
    return 0;
  }
  if (!r->fde_len)
    return rc_errf(RC_ERR_CORRUPT, err, esz, "%s: event at offset %llu comes before any FORMAT_DESCRIPTION",
                   r->file, (unsigned long long)off);
  if ((rc = handle(r, &ev, err, esz)) < 0) return rc;
  if (ev.type == RC_EV_TRANSACTION_PAYLOAD) {
    rc_event inner;
    while ((rc = rc_binlog_next_inner(r->bl, &inner, err, esz)) > 0)
      if ((rc = handle(r, &inner, err, esz)) < 0) return rc;
    if (rc < 0) return rc;
  }
  int step = rc_txn_step(&r->txn, &ev);
  /* a transaction's first event (or the rows that began one of their own, already counted) */
  if (r->txn_on && (step & RC_TXN_BEGINS) && !(r->txn_active && r->txn_begin_off == off)) txn_start(r, off);
  if (step & RC_TXN_ENDS) {
    snprintf(r->boundary_file, sizeof r->boundary_file, "%s", r->file);
    r->boundary_pos = off + len;
    int end = r->txn_on && r->txn_active && r->txn_count > 0;
    if (!end_sent(r, off + len)) {
      if (rd_make_room(r, 16 + (end ? txn_end_size(r) : 0), &ev) < 0) return RC_STAGE_STOP;
      rd_put_file_header(r);
      if (end) txn_put_end(r, off);
      rc_frame_put_txn_end(&r->batch, &(rc_rec_txn_end){off + len});
      r->batch_ends++;
      snprintf(r->sent_end_file, sizeof r->sent_end_file, "%s", r->file);
      r->sent_end_pos = off + len;
    }
    if (r->txn_on) txn_reset(r);
  }
  if (r->batch_changes >= r->max_changes || r->batch_ends >= r->max_changes ||
      ((r->batch_changes || r->batch_ends) && rc_now_ns() - r->batch_open_ns >= r->max_ns))
    if (rd_batch_close(r) < 0) return RC_STAGE_STOP;
  return 0;
}


/* An exit status for what process_event returned. */
static int status_of(reader *r, int rc, const char *err) {
  if (rc >= 0) return 0;
  if (r->fatal) return r->fatal;
  if (rc == RC_STAGE_STOP) return RC_EXIT_FAILURE; /* could not send: stopping, or the pipe failed (logged) */
  rc_error("%s", err);
  if (rc == RC_ERR_IO) return RC_EXIT_FAILURE; /* the OS refused: worth a restart */
  return RC_EXIT_CONFIG; /* bad input: restarting would meet it again */
}

/* Stop before the next event? Yes at once on SIGTERM; on a drain (SIGUSR1) once the open
 * transaction has ended, so that everything sent is covered by the checkpoint the publisher
 * writes at the END: a resume then repeats nothing. */
static int should_stop(const reader *r) {
  return rc_stage_stopping(&r->st) || (rc_stage_draining(&r->st) && !rc_txn_open(&r->txn));
}

static void set_file(reader *r, const char *name) {
  snprintf(r->file, sizeof r->file, "%s", name);
  snprintf(r->cur_file, sizeof r->cur_file, "%s", name);
  rc_binlog_start_file(r->bl, r->file);
  r->batch_has_file = 0;
  r->fde_len = 0;
  memset(&r->txn, 0, sizeof r->txn);
  txn_reset(r);
}

/* Read one file from `start` (0: from the beginning). Returns 0, or an exit status. */
static int read_file(reader *r, const char *path, uint64_t start) {
  char err[1024];
  rc_binfile *f;
  if (rc_binfile_open(&f, path, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_CONFIG;
  }
  set_file(r, rc_binfile_name(f));
  const uint8_t *raw;
  size_t len;
  uint64_t off;
  int rc = 1;
  while (!should_stop(r) && (rc = rc_binfile_next(f, &raw, &len, &off, err, sizeof err)) > 0) {
    if (off < start && raw[4] != RC_EV_FORMAT_DESCRIPTION) continue; /* before the checkpoint */
    if ((rc = process_event(r, raw, len, off, err, sizeof err)) < 0) break;
    /* the supervisor watch and the metrics, also while every send goes through at once */
    if (rc_now_ns() >= r->st.next_metrics_ns && rc_stage_wait(&r->st, NULL, 0, 0) == RC_STAGE_STOP) {
      rc = RC_STAGE_STOP;
      break;
    }
  }
  if (rc_stage_stopping(&r->st)) rc = RC_STAGE_STOP;
  int status = status_of(r, rc, err);
  if (status == 0 && rd_batch_close(r) < 0) status = RC_EXIT_FAILURE;
  rc_binfile_close(f);
  return status;
}

/* Without a checkpoint, source.start (latest, earliest, FILE:POS) was just resolved to a file:pos:
 * record it at once as the checkpoint (0 changes), so that a group restarted before the
 * publisher's first checkpoint resumes there instead of resolving `latest` again, which would
 * skip what was committed in between. A GTID start is a position already: nothing to record.
 * Returns 0, or an exit status. */
static int record_start(reader *r, const char *state) {
  uint64_t pos;
  const char *file = rc_server_started_at(r->srv, &pos);
  if (!file[0]) return 0;
  rc_checkpoint cp = {.pos = pos};
  snprintf(cp.file, sizeof cp.file, "%s", file);
  char err[1024];
  if (rc_checkpoint_write(state, &cp, err, sizeof err) < 0) {
    rc_error("cannot record the start position %s:%llu: %s", file, (unsigned long long)pos, err);
    return RC_EXIT_FAILURE;
  }
  rc_info("start position %s:%llu recorded in %s/checkpoint: a restart resumes there", file, (unsigned long long)pos,
          state);
  return 0;
}

/* The source's password at each connection (rc_server_opts.password_fn): source.password,
 * source.password_file (read again each time) or the environment. */
static char *source_password(void *arg, char *es, size_t esz) {
  char *pw;
  return rc_source_password(arg, &pw, NULL, es, esz) == 0 ? pw : NULL;
}

/* The schema history, unless schema.tracker=off: for a replay started at the first table map
 * without names, for run at once (where the stream starts, the server's schema is read) unless
 * the server logs FULL metadata. Returns 0, or an exit status. */
static int schema_start(reader *r, const rc_checkpoint *cp) {
  static const char *const password_env[] = {RC_SOURCE_PASSWORD_ENV, NULL}; /* it gets the password otherwise */
  rc_config *c = r->st.cfg;
  if (!strcmp(rc_config_str(c, "schema.tracker"), "off")) return 0;
  if (r->srv && rc_server_meta_full(r->srv)) return 0;
  char port[16], err[1024];
  snprintf(port, sizeof port, "%lld", (long long)rc_config_int(c, "source.port"));
  uint64_t pos = 0;
  const char *file = cp ? cp->file : r->srv ? rc_server_started_at(r->srv, &pos) : NULL;
  if (cp) pos = cp->pos;
  const char *initial = rc_config_str(c, "schema.initial");
  char *pw = r->srv ? source_password(c, err, sizeof err) : NULL;
  if (r->srv && !pw) {
    rc_error("schema history: %s", err);
    return RC_EXIT_CONFIG;
  }
  rc_schema_opts o = {.mode = r->srv ? "run" : "replay", .state_dir = rc_config_str(c, "state.dir"),
                      .initial = !r->srv && *initial ? initial : NULL, .eager = r->srv != NULL,
                      .start_file = file, .start_pos = pos, .source_host = rc_config_str(c, "source.host"),
                      .source_port = port, .source_socket = rc_config_str(c, "source.socket"),
                      .source_user = rc_config_str(c, "source.user"),
                      .source_password = pw, .source_tls = rc_config_str(c, "source.tls"),
                      .source_tls_ca = rc_config_str(c, "source.tls_ca"),
                      .source_tls_cert = rc_config_str(c, "source.tls_cert"),
                      .source_tls_key = rc_config_str(c, "source.tls_key"), .env_drop = password_env};
  int status;
  r->sc = rc_schema_new(&o, &status, err, sizeof err);
  if (pw) explicit_bzero(pw, strlen(pw));
  free(pw);
  if (!r->sc) {
    rc_error("schema history: %s", err);
    return status;
  }
  return 0;
}


/* Stream from a live server until stopped. Returns an exit status. */
/* While the source is away: keep reporting (the snapshot says it is disconnected) and keep
 * serving signals and the supervisor watch, which set st.stop and end the reconnection. */
static void reconnect_idle(void *ctx) {
  reader *r = ctx;
  if (rc_stage_wait(&r->st, NULL, 0, 0) == RC_STAGE_STOP) r->st.stop = SIGTERM; /* the supervisor is gone */
}

static int read_server(reader *r, const rc_checkpoint *cp) {
  char err[1024];
  rc_config *c = r->st.cfg;
  if (rc_source_check(c, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_CONFIG;
  }
  rc_server_opts o = {
      .host = rc_config_str(c, "source.host"),
      .port = (unsigned)rc_config_int(c, "source.port"),
      .socket = rc_config_str(c, "source.socket"),
      .user = rc_config_str(c, "source.user"),
      .password_fn = source_password,
      .password_arg = c,
      .tls = (int)rc_source_tls_mode(c),
      .tls_ca = rc_config_str(c, "source.tls_ca"),
      .tls_cert = rc_config_str(c, "source.tls_cert"),
      .tls_key = rc_config_str(c, "source.tls_key"),
      .server_id = (uint32_t)rc_config_int(c, "source.server_id"),
      .start = rc_config_str(c, "source.start"),
      .heartbeat_ms = (unsigned)rc_config_int(c, "source.heartbeat_ms"),
      .connect_timeout_ms = (unsigned)rc_config_int(c, "source.connect_timeout_ms"),
      .gtid_resume = (int)rc_config_int(c, "source.gtid_resume"),
  };
  int rc = rc_server_open(&r->srv, &o, cp, err, sizeof err);
  if (rc < 0) {
    rc_error("%s", err);
    return rc == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
  }
  if (!cp && (rc = record_start(r, rc_config_str(c, "state.dir"))) != 0) return rc;
  if ((rc = schema_start(r, cp)) != 0) return rc;
  if ((rc = rd_snap_open(r, cp)) != 0) return rc;
  unsigned max_backoff = (unsigned)rc_config_int(c, "source.reconnect_max_ms");
  int status = 0;
  while (!should_stop(r)) {
    const uint8_t *raw;
    size_t len;
    const char *file;
    uint64_t off;
    /* with changes in the batch, only look: nothing pending means caught up, and the batch goes
     * out now (a quiet server's change reaches Kafka in milliseconds); under load the next
     * event is always there and batches fill; a snapshot just opened does not wait for the
     * stream's first 100 ms either (its first chunk is usually at the position already) */
    int timeout = r->batch_changes || r->snap_poke ? 0 : 100;
    rc = rc_server_next(r->srv, &raw, &len, &file, &off, timeout, err, sizeof err);
    if (rc == 0) { /* caught up: what is read goes out now, not after batch.max_ms */
      r->snap_poke = 0;
      if (!rc_txn_open(&r->txn)) {
        rc_server_status ss;
        rc_server_get_status(r->srv, &ss);
        if ((rc = rd_snap_at(r, ss.file, ss.pos)) != 0) {
          if (rc == 1) break; /* snapshot.mode=initial_only: done */
          return rc;
        }
      }
      if (rd_batch_close(r) < 0) return RC_EXIT_FAILURE;
      if (rc_stage_wait(&r->st, NULL, 0, 0) < 0) return RC_EXIT_FAILURE;
      continue;
    }
    if (rc == RC_ERR_IO) {
      /* the connection is gone: resume at the last transaction boundary; what the open
       * transaction already put in batches is decoded again but not sent twice */
      rc_warn("%s; reconnecting, to resume at %s:%llu", err, r->boundary_file[0] ? r->boundary_file : "(start)",
              (unsigned long long)r->boundary_pos);
      if (!r->boundary_file[0]) {
        rc_error("the connection was lost before the first transaction ended; restarting");
        return RC_EXIT_FAILURE;
      }
      rc_server_set_idle(r->srv, reconnect_idle, r);
      rc = rc_server_reconnect(r->srv, r->boundary_file, r->boundary_pos, max_backoff, &r->st.stop, err, sizeof err);
      if (rc < 0) {
        rc_error("%s", err);
        return rc == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
      }
      memset(&r->txn, 0, sizeof r->txn);
      txn_reset(r);
      continue;
    }
    if (rc < 0) {
      rc_error("%s", err);
      return RC_EXIT_CONFIG;
    }
    if (strcmp(file, r->file)) set_file(r, file);
    if (raw[4] == RC_EV_ROTATE) continue; /* the new file's name is all it says */
    if (!rc_txn_open(&r->txn) && (rc = rd_snap_at(r, file, off)) != 0) {
      if (rc == 1) break;
      return rc;
    }
    if ((rc = process_event(r, raw, len, off, err, sizeof err)) < 0) {
      status = status_of(r, rc, err);
      break;
    }
    if (rc_now_ns() >= r->st.next_metrics_ns) rc_stage_wait(&r->st, NULL, 0, 0);
  }
  if (status == 0 && rd_batch_close(r) < 0) status = RC_EXIT_FAILURE;
  return status;
}

/* Where a replay of the files starts: the checkpoint's file and offset (*first, *start), or the
 * first file from its beginning when there is no checkpoint. RC_EXIT_OK, or RC_EXIT_CONFIG after
 * saying why (a checkpoint that cannot be read, or that is not in the files given). */
static int resume_point(reader *r, int live, rc_checkpoint *cp, int *have, int *first, uint64_t *start) {
  char err[1024];
  const char *state = rc_config_str(r->st.cfg, "state.dir");
  *have = rc_checkpoint_read(state, cp, err, sizeof err);
  if (*have < 0) {
    rc_error("%s", err);
    return RC_EXIT_CONFIG;
  }
  *first = 0;
  *start = 0;
  if (!*have || live) return RC_EXIT_OK;
  *first = -1;
  for (int i = 0; i < r->st.nargs; i++) {
    const char *b = strrchr(r->st.args[i], '/');
    if (!strcmp(b ? b + 1 : r->st.args[i], cp->file)) *first = i;
  }
  if (*first < 0) {
    rc_error("the checkpoint in %s/checkpoint is at %s:%llu, which is not among the files given; "
             "give the files from %s on, or remove the checkpoint to start over",
             state, cp->file, (unsigned long long)cp->pos, cp->file);
    return RC_EXIT_CONFIG;
  }
  struct stat sb;
  if (stat(r->st.args[*first], &sb) == 0 && cp->pos > (uint64_t)sb.st_size) {
    rc_error("the checkpoint in %s/checkpoint is at %s:%llu, past the end of %s (%lld bytes): the files "
             "given are not the ones it was written for; give the right files, or remove the checkpoint "
             "to start over", state, cp->file, (unsigned long long)cp->pos, r->st.args[*first], (long long)sb.st_size);
    return RC_EXIT_CONFIG;
  }
  *start = cp->pos;
  rc_info("resuming from the checkpoint at %s:%llu", cp->file, (unsigned long long)cp->pos);
  return RC_EXIT_OK;
}

int main(int argc, char **argv) {
  reader r;
  memset(&r, 0, sizeof r);
  r.sock = -1;
  int status = rc_stage_init(&r.st, "reader", argc, argv);
  if (status != RC_EXIT_OK) return status;
  r.st.ctx = &r;
  r.st.metrics_fn = metrics;
  r.max_changes = (uint32_t)rc_config_int(r.st.cfg, "batch.max_changes");
  r.max_ns = (uint64_t)rc_config_int(r.st.cfg, "batch.max_ms") * 1000000ull;
  r.max_bytes = (size_t)r.st.pipe.max_message_bytes;
  r.seq = 1;
  r.txn_on = rc_config_str(r.st.cfg, "publisher.transactions_topic")[0] != 0;
  char err[1024], path[4200];
  if (rc_filter_from_config(&r.filter, r.st.cfg, err, sizeof err) < 0) {
    rc_error("%s", err);
    rc_stage_close(&r.st);
    return RC_EXIT_CONFIG;
  }
  r.filter_tables = rc_filter_has_tables(r.filter);
  rc_stage_path(&r.st, path, sizeof path, "reader");
  int live = r.st.nargs == 0; /* no files: the server of source.* */
  rc_checkpoint cp;
  int have = 0, first = 0;
  uint64_t start = 0;
  r.sock = rc_pipe_open(1, path, 1, &r.st.pipe, err, sizeof err);
  if (r.sock < 0) {
    rc_error("%s", err);
    status = RC_EXIT_FAILURE;
  } else if (!(r.bl = rc_binlog_new())) {
    status = RC_EXIT_FAILURE;
  } else {
    /* resume from the checkpoint: skip the files before it, and the start of its file */
    status = resume_point(&r, live, &cp, &have, &first, &start);
  }
  if (status != RC_EXIT_OK) goto done; /* everything freed below, so a leak checker stays quiet */
  batch_open(&r);
  if (live) {
    status = read_server(&r, have ? &cp : NULL);
  } else if ((status = schema_start(&r, NULL)) == 0) {
    for (int i = first; i < r.st.nargs && status == 0 && !should_stop(&r); i++)
      status = read_file(&r, r.st.args[i], i == first ? start : 0);
  }
  if (status == 0 && rc_stage_stopping(&r.st)) status = RC_EXIT_FAILURE; /* stopped: no END */
  if (status == 0) {
    /* the end: tell the publisher which batch is the last, then wait to be stopped (exiting
     * now could drop what nanomsg still holds) */
    rc_frame_begin(&r.batch, RC_FRAME_END, r.seq);
    rc_frame_finish(&r.batch, 0, 0);
    if (send_frame(&r) < 0) status = RC_EXIT_FAILURE;
    rc_info("read %llu events, %llu changes in %llu batches; %llu ROWS events of filtered tables dropped",
            (unsigned long long)r.events, (unsigned long long)r.changes, (unsigned long long)r.batches,
            (unsigned long long)r.filtered);
    /* a drain request was served by the END; SIGTERM ends us */
    while (status == 0 && !rc_stage_stopping(&r.st) && rc_stage_wait(&r.st, NULL, 0, -1) >= 0) {
    }
  }
done:
  rc_stage_close(&r.st);
  rc_pipe_close(r.sock);
  rc_row_iter_free(&r.it);
  rc_binlog_free(r.bl);
  for (size_t i = 0; i < r.n_tmaps; i++) free(r.tmaps[i].raw);
  free(r.tmaps);
  rc_snap_free(r.snap);
  rc_buf_free(&r.snapev);
  rc_spool_chunk_free(&r.spool);
  free(r.replay);
  if (r.srv) rc_server_close(r.srv);
  rc_schema_free(r.sc);
  for (size_t i = 0; i < r.n_schema_warned; i++) free(r.schema_warned[i]);
  free(r.schema_warned);
  lookups_clear(&r);
  free(r.lookups);
  rc_filter_free(r.filter);
  free(r.fde);
  rc_buf_free(&r.enriched);
  rc_buf_free(&r.batch);
  txn_reset(&r);
  free(r.txn_tables);
  rc_buf_free(&r.txn_buf);
  return status;
}
