/*
 * reader_snap.c: rowcast-reader's snapshot merge (reader/snapshot.h has the rule). A chunk read
 * at position P is held until the stream reaches P, then its rows the stream did not carry go
 * out as WRITE_ROWS events flagged SNAPSHOT, with a transaction end there and the chunk's number
 * (the checkpoint's snapshot progress); a table without a key is spooled piece by piece and sent
 * once whole and reached. Every chunk goes into the spool (snapshot_spool.h) before it leaves;
 * after a crash the unacknowledged ones are sent again as before. Also the snapshot request
 * (<state.dir>/snapshot.request, left by `rowcast run` or `rowcast snapshot`) and forgetting it
 * once Kafka has the whole snapshot. Called by reader.c between transactions (rd_snap_at);
 * the reader's state is in reader_int.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "position.h"
#include "reader_int.h"

/* ---- snapshots: the held chunk goes out when the stream reaches its position ------------- */

/* Is file:pos at or after cfile:cpos? */
static int reached(const char *file, uint64_t pos, const char *cfile, uint64_t cpos) {
  int64_t a = rc_pos_file_seq(file, strlen(file)), b = rc_pos_file_seq(cfile, strlen(cfile));
  if (a < 0 || b < 0) return !strcmp(file, cfile) && pos >= cpos;
  return a > b || (a == b && pos >= cpos);
}

/* Put the chunk's TABLE_MAP in the current batch once. */
static void put_snap_tmap(reader *r, const rc_spool_chunk *sp) {
  rd_put_file_header(r);
  if (r->snap_tmap_seq == r->seq + 1 && r->snap_tmap_id == sp->table_id) return;
  rc_frame_put_tmap(&r->batch, &(rc_rec_tmap){RC_REC_EV_NOCRC, (const uint8_t *)sp->tmap.p, sp->tmap.len});
  r->snap_tmap_seq = r->seq + 1;
  r->snap_tmap_id = sp->table_id;
}

/* Send a chunk's rows as WRITE_ROWS events flagged SNAPSHOT, numbered from sp->row_base at
 * position `at` of the current file (a transaction boundary: the next event starts there), then
 * a transaction end there (a checkpoint candidate) and the chunk's number (the checkpoint's
 * snapshot progress). Returns 0, or RC_STAGE_STOP. */
static int send_spool(reader *r, const rc_spool_chunk *sp, uint64_t at) {
  uint32_t ts = (uint32_t)(rc_wall_ns() / 1000000000ull);
  size_t limit = r->max_bytes / 2;
  rc_event fake = {.offset = at};
  uint32_t i = 0, row = sp->row_base;
  while (i < sp->nrows) {
    uint32_t room = r->max_changes > r->batch_changes ? r->max_changes - r->batch_changes : 1;
    rc_rows_build_begin(&r->snapev, sp->table_id, sp->ncols, ts);
    uint32_t n = 0;
    for (; i < sp->nrows && n < room; i++, n++) {
      size_t len = sp->off[i + 1] - sp->off[i];
      if (n && r->snapev.len + len > limit) break;
      rc_buf_put(&r->snapev, sp->images.p + sp->off[i], len);
    }
    rc_rows_build_finish(&r->snapev);
    rc_rec_rows rec = {at, rc_now_ns(), 0, n, row, RC_REC_EV_NOCRC | RC_REC_EV_SNAPSHOT, "", 0,
                       (const uint8_t *)r->snapev.p, r->snapev.len};
    rc_rec_tmap trec = {RC_REC_EV_NOCRC, (const uint8_t *)sp->tmap.p, sp->tmap.len};
    if (rd_make_room(r, rc_frame_size_rows(&rec) + rc_frame_size_tmap(&trec), &fake) < 0) return RC_STAGE_STOP;
    if (r->batch_changes == 0) r->batch_open_ns = rc_now_ns();
    put_snap_tmap(r, sp);
    rc_frame_put_rows(&r->batch, &rec);
    row += n;
    r->batch_changes += n;
    r->changes += n;
    if (r->batch_changes >= r->max_changes && rd_batch_close(r) < 0) return RC_STAGE_STOP;
  }
  if (rd_make_room(r, 32, &fake) < 0) return RC_STAGE_STOP;
  rd_put_file_header(r);
  rc_frame_put_txn_end(&r->batch, &(rc_rec_txn_end){at});
  rc_frame_put_progress(&r->batch, &(rc_rec_progress){sp->seq});
  snprintf(r->snap_file, sizeof r->snap_file, "%s", r->file);
  r->snap_pos = at;
  r->snap_row = row;
  r->snap_sent++;
  r->snap_rows += sp->nrows;
  if (sp->flags & RC_SPOOL_FINAL) r->snap_final = sp->seq;
  return 0;
}

/* Chunk ch into the spool, as sent at file:pos with its rows numbered from row_base: the rows
 * the stream did not carry, and the table's last key. */
static int spool_chunk(reader *r, const rc_snap_chunk *ch, const char *file, uint64_t pos, uint32_t row_base,
                       uint32_t *kept) {
  rc_spool_chunk *sp = &r->spool;
  sp->seq = r->snap_next;
  sp->flags = (ch->last ? RC_SPOOL_TABLE_DONE : 0) | (ch->keyless ? RC_SPOOL_KEYLESS : 0) |
              (ch->last && ch->table + 1 >= rc_snap_ntables(r->snap) ? RC_SPOOL_FINAL : 0);
  snprintf(sp->db, sizeof sp->db, "%s", ch->db);
  snprintf(sp->name, sizeof sp->name, "%s", ch->name);
  snprintf(sp->file, sizeof sp->file, "%s", file);
  sp->pos = pos;
  sp->row_base = row_base;
  sp->table_id = ch->table_id;
  sp->ncols = ch->ncols;
  sp->tmap.len = sp->images.len = sp->key.len = 0;
  rc_buf_put(&sp->tmap, ch->tmap, ch->tmap_len);
  free(sp->off);
  if (!(sp->off = malloc(((size_t)ch->nrows + 1) * sizeof *sp->off))) return RC_STAGE_STOP;
  uint32_t n = 0;
  for (uint32_t i = 0; i < ch->nrows; i++) {
    if (ch->dropped[i]) continue;
    sp->off[n++] = sp->images.len;
    rc_buf_put(&sp->images, ch->images + ch->off[i], ch->off[i + 1] - ch->off[i]);
  }
  sp->off[n] = sp->images.len;
  sp->nrows = n;
  rc_snap_key_save(r->snap, &sp->key);
  char err[1024];
  if (rc_spool_write(r->spool_dir, sp, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_STAGE_STOP;
  }
  r->snap_next++;
  *kept = n;
  return 0;
}

/* The held chunk, sent at `at`: its rows the stream did not carry go into the spool (written
 * before anything of it leaves), numbered on from the last chunk sent at the same position. */
static int send_chunk(reader *r, rc_snap_chunk *ch, uint64_t at) {
  if (strcmp(r->snap_file, r->file) || r->snap_pos != at) r->snap_row = 0;
  uint32_t n;
  if (spool_chunk(r, ch, r->file, at, r->snap_row, &n) < 0) return RC_STAGE_STOP;
  r->snap_dropped += ch->nrows - n;
  rc_snap_count(r->snap, ch->table, n, ch->last);
  rc_snap_release(r->snap);
  return send_spool(r, &r->spool, at);
}

/* A piece of a table without a key (snapshot.chunk_rows of its rows, all read in one snapshot at
 * ch's position P): into the spool at once, as to be sent at P; the pieces go out once the
 * whole table is spooled and the stream reaches P (send_pieces), so that the reader holds one
 * piece in memory, never the table. */
static int spool_piece(reader *r, rc_snap_chunk *ch) {
  if (ch->first || !r->kl_next) { /* numbered on from the last chunk sent at P, if any */
    r->kl_row = !strcmp(r->snap_file, ch->file) && r->snap_pos == ch->pos ? r->snap_row : 0;
    r->kl_next = r->snap_next;
    snprintf(r->kl_db, sizeof r->kl_db, "%s", ch->db);
    snprintf(r->kl_name, sizeof r->kl_name, "%s", ch->name);
    snprintf(r->kl_file, sizeof r->kl_file, "%s", ch->file);
    r->kl_pos = ch->pos;
    r->kl_table = ch->table;
  }
  uint32_t n;
  if (spool_chunk(r, ch, ch->file, ch->pos, r->kl_row, &n) < 0) return RC_STAGE_STOP;
  r->kl_row += n;
  r->kl_last = r->spool.seq;
  if (ch->last) r->kl_pending = 1;
  rc_snap_release(r->snap);
  return 0;
}

/* The stream reached the spooled pieces' position: send them, at `at` (when that is not the
 * position they were spooled at, each is spooled again with it before it is sent). */
static int send_pieces(reader *r, uint64_t at) {
  char err[1024];
  rc_spool_chunk *sp = &r->spool;
  for (; r->kl_next <= r->kl_last; r->kl_next++) {
    int rc = rc_spool_read(r->spool_dir, r->kl_next, sp, err, sizeof err);
    if (rc <= 0) {
      rc_error("%s", rc < 0 ? err : "a snapshot chunk file went away while rowcast runs");
      return RC_STAGE_STOP;
    }
    if (strcmp(sp->file, r->file) || sp->pos != at) {
      if (strcmp(r->snap_file, r->file) || r->snap_pos != at) r->snap_row = 0;
      snprintf(sp->file, sizeof sp->file, "%s", r->file);
      sp->pos = at;
      sp->row_base = r->snap_row;
      if (rc_spool_write(r->spool_dir, sp, err, sizeof err) < 0) {
        rc_error("%s", err);
        return RC_STAGE_STOP;
      }
    }
    rc_snap_count(r->snap, r->kl_table, sp->nrows, (sp->flags & RC_SPOOL_TABLE_DONE) != 0);
    if (send_spool(r, sp, at) < 0) return RC_STAGE_STOP;
  }
  r->kl_pending = 0;
  r->kl_next = 0;
  return 0;
}

/* Between two transactions, at file:pos of the stream (the next event's offset): first the
 * chunks a crash left unacknowledged, again, each at the position it was sent at; then read
 * the next chunk when none is held, and send the held one once the stream has reached its
 * position. Returns 0, 1 when the snapshot is complete, RC_STAGE_STOP, or an exit status > 1
 * after saying why (a table that cannot be read). */
static int snap_step(reader *r, const char *file, uint64_t pos) {
  if (!r->snap || !r->fde_len || strcmp(file, r->file)) return 0;
  /* after a reconnect, events already in batches are read again: no chunk goes out before them */
  if (r->sent_file[0] && !strcmp(r->sent_file, file) && pos < r->sent_pos) return 0;
  char err[1024];
  while (r->ireplay < r->nreplay) {
    rc_spool_chunk *sp = &r->spool;
    if (!r->replay_loaded) {
      int rc = rc_spool_read(r->spool_dir, r->replay[r->ireplay], sp, err, sizeof err);
      if (rc <= 0) {
        rc_error("%s", rc < 0 ? err : "a snapshot chunk file went away while rowcast runs");
        return RC_EXIT_CONFIG;
      }
      r->replay_loaded = 1;
    }
    if (!reached(file, pos, sp->file, sp->pos)) return 0;
    if (strcmp(file, sp->file) || pos != sp->pos)
      rc_warn("snapshot chunk %llu was sent at %s:%llu and is sent again at %s:%llu",
              (unsigned long long)sp->seq, sp->file, (unsigned long long)sp->pos, file, (unsigned long long)pos);
    rc_info("snapshot chunk %llu (%s.%s, %u rows at %s:%llu) sent again as before the restart",
            (unsigned long long)sp->seq, sp->db, sp->name, sp->nrows, sp->file, (unsigned long long)sp->pos);
    if (send_spool(r, sp, sp->pos) < 0) return RC_STAGE_STOP;
    r->replay_loaded = 0;
    r->ireplay++;
  }
  if (r->snap_final) return 1;
  for (;;) {
    if (r->kl_pending) {
      if (!reached(file, pos, r->kl_file, r->kl_pos)) return 0;
      if (send_pieces(r, pos) < 0) return RC_STAGE_STOP;
      if (r->snap_final) return 1;
      continue;
    }
    rc_snap_chunk *ch = rc_snap_held(r->snap);
    if (!ch) {
      int rc = rc_snap_read(r->snap, &ch, err, sizeof err);
      if (rc < 0) {
        rc_error("%s", err);
        return rc == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
      }
      if (rc == 0) return 1;
    }
    if (ch->keyless) {
      if (spool_piece(r, ch) < 0) return RC_STAGE_STOP;
      continue;
    }
    if (!reached(file, pos, ch->file, ch->pos)) return 0;
    if (send_chunk(r, ch, pos) < 0) return RC_STAGE_STOP;
    if (r->snap_final) return 1;
  }
}

#define SNAP_REQUEST "snapshot.request"

/* The snapshot request (`rowcast run` leaves <state.dir>/snapshot.request when snapshot.mode
 * asks for one: tables= the patterns, first= the number of its first chunk) and its spool: 0 when
 * there is nothing (more) to do, 1 with tables and *first set, or an exit status. */
static int snap_request(reader *r, char *tables, size_t tsize, uint64_t *first) {
  char path[4200], err[1024], line[4200];
  snprintf(path, sizeof path, "%s/%s", rc_config_str(r->st.cfg, "state.dir"), SNAP_REQUEST);
  FILE *f;
  int o = rc_state_open(path, "the snapshot request ", &f, err, sizeof err);
  if (o < 0) {
    rc_error("%s", err);
    return RC_EXIT_FAILURE;
  }
  if (o == 0) return 0;
  tables[0] = 0;
  *first = 1;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, "tables=", 7)) snprintf(tables, tsize, "%s", line + 7);
    if (!strncmp(line, "first=", 6)) *first = strtoull(line + 6, NULL, 10);
  }
  fclose(f);
  if (!tables[0]) {
    rc_error("%s has no tables= line: remove it, and give the tables with snapshot.tables", path);
    return RC_EXIT_CONFIG;
  }
  return 1;
}

/* The snapshot is sent and acknowledged: the request and the spool go. */
static void snap_forget(reader *r, uint64_t upto) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", rc_config_str(r->st.cfg, "state.dir"), SNAP_REQUEST);
  unlink(path);
  uint64_t *seqs;
  size_t n;
  char err[1024];
  if (rc_spool_list(r->spool_dir, &seqs, &n, err, sizeof err) == 0) {
    for (size_t i = 0; i < n; i++)
      if (seqs[i] <= upto) rc_spool_remove(r->spool_dir, seqs[i]);
    free(seqs);
  }
}

/* At start: a snapshot to run, or to resume after a crash (checkpoint.h snapshot= says which
 * chunks Kafka acknowledged; the spooled ones after it are sent again, then the plan reads on
 * after the last one). Returns 0 or an exit status. */
int rd_snap_open(reader *r, const rc_checkpoint *cp) {
  char tables[4200], err[1024];
  uint64_t first = 1;
  int rc = snap_request(r, tables, sizeof tables, &first);
  if (rc != 1) return rc;
  snprintf(r->spool_dir, sizeof r->spool_dir, "%s/snapshot", rc_config_str(r->st.cfg, "state.dir"));
  uint64_t acked = cp ? cp->snapshot : 0, *seqs = NULL;
  size_t n = 0, keep = 0;
  if (rc_spool_list(r->spool_dir, &seqs, &n, err, sizeof err) < 0) {
    rc_error("%s", err);
    return RC_EXIT_FAILURE;
  }
  for (size_t i = 0; i < n; i++) /* older requests' chunks, and chunks before the acknowledged one */
    if (seqs[i] < first || seqs[i] < acked) rc_spool_remove(r->spool_dir, seqs[i]);
    else seqs[keep++] = seqs[i];
  rc_spool_chunk *sp = &r->spool;
  r->snap_next = first > acked + 1 ? first : acked + 1;
  /* the pieces of a table without a key that a crash cut short (no piece with TABLE_DONE):
   * none of them was sent (they go out once the table is whole); the table is read again */
  while (keep && (rc = rc_spool_read(r->spool_dir, seqs[keep - 1], sp, err, sizeof err)) > 0 &&
         (sp->flags & RC_SPOOL_KEYLESS) && !(sp->flags & RC_SPOOL_TABLE_DONE) && seqs[keep - 1] > acked) {
    rc_info("snapshot chunk %llu (%s.%s) is a piece of a table read whole that a crash cut short: the table is "
            "read again", (unsigned long long)seqs[keep - 1], sp->db, sp->name);
    rc_spool_remove(r->spool_dir, seqs[--keep]);
  }
  if (keep && rc <= 0) {
    rc_error("%s", rc < 0 ? err : "a snapshot chunk file went away while rowcast starts");
    free(seqs);
    return RC_EXIT_CONFIG;
  }
  if (keep && (sp->flags & RC_SPOOL_FINAL) && acked >= sp->seq) { /* sent and acknowledged */
    rc_info("the snapshot was sent and Kafka has all of it: nothing to resume");
    snap_forget(r, sp->seq);
    free(seqs);
    return 0;
  }
  const char *how = rc_config_str(r->st.cfg, "snapshot.position");
  int position = !strcmp(how, "read_lock") ? RC_SNAP_POS_READ_LOCK
                 : !strcmp(how, "binlog_snapshot") ? RC_SNAP_POS_BINLOG_SNAPSHOT : RC_SNAP_POS_AUTO;
  rc = rc_snap_new(&r->snap, r->srv, tables, r->filter_tables ? r->filter : NULL,
                   (uint32_t)rc_config_int(r->st.cfg, "snapshot.chunk_rows"), position, err, sizeof err);
  if (rc == 0 && keep) {
    r->snap_next = sp->seq + 1;
    snprintf(r->snap_file, sizeof r->snap_file, "%s", sp->file);
    r->snap_pos = sp->pos;
    r->snap_row = sp->row_base + sp->nrows;
    rc = rc_snap_resume(r->snap, sp->db, sp->name, (sp->flags & RC_SPOOL_TABLE_DONE) != 0,
                        (const uint8_t *)sp->key.p, sp->key.len, err, sizeof err);
    size_t from = 0;
    while (from < keep && seqs[from] <= acked) from++;
    memmove(seqs, seqs + from, (keep - from) * sizeof *seqs);
    r->replay = seqs;
    r->nreplay = keep - from;
    seqs = NULL;
    rc_info("resuming the snapshot: %llu chunks acknowledged, %zu to send again, then on after %s.%s",
            (unsigned long long)acked, r->nreplay, sp->db, sp->name);
  }
  free(seqs);
  if (rc < 0) {
    rc_error("%s (the snapshot request stays in %s/%s: fix the cause, or remove that file to run without it)",
             err, rc_config_str(r->st.cfg, "state.dir"), SNAP_REQUEST);
    return rc == RC_ERR_IO ? RC_EXIT_FAILURE : RC_EXIT_CONFIG;
  }
  r->snap_only = !strcmp(rc_config_str(r->st.cfg, "snapshot.mode"), "initial_only");
  r->snap_started_ns = rc_now_ns();
  r->snap_poke = 1;
  return 0;
}

/* snap_step at file:pos; once the snapshot is complete, wait for Kafka to acknowledge its last
 * chunk (the checkpoint's snapshot=, looked at once a second), then forget the request. Returns
 * 0, 1 when the reader is to end (snapshot.mode=initial_only), or an exit status. */
int rd_snap_at(reader *r, const char *file, uint64_t pos) {
  if (!r->snap || (r->snap_finished && !r->snap_final)) { /* a request left by `rowcast snapshot`? */
    if (rc_now_ns() < r->snap_poll_ns) return 0;
    r->snap_poll_ns = rc_now_ns() + 1000000000ull;
    char path[4200], err[1024];
    snprintf(path, sizeof path, "%s/%s", rc_config_str(r->st.cfg, "state.dir"), SNAP_REQUEST);
    if (access(path, F_OK) != 0) return 0;
    rc_checkpoint cp;
    int have = rc_checkpoint_read(rc_config_str(r->st.cfg, "state.dir"), &cp, err, sizeof err);
    rc_snap_free(r->snap);
    r->snap = NULL;
    r->snap_finished = 0;
    r->snap_final = 0;
    r->snap_sent = r->snap_rows = r->snap_dropped = 0;
    r->nreplay = r->ireplay = 0;
    r->replay_loaded = 0;
    r->kl_pending = 0;
    r->kl_next = 0;
    int rc = rd_snap_open(r, have > 0 ? &cp : NULL);
    if (rc != 0 || !r->snap) return rc;
    rc_info("snapshot requested while streaming: starting it");
  }
  if (r->snap_finished) {
    if (!r->snap_final || rc_now_ns() < r->snap_poll_ns) return 0;
    r->snap_poll_ns = rc_now_ns() + 1000000000ull;
    rc_checkpoint cp;
    char err[1024];
    if (rc_checkpoint_read(rc_config_str(r->st.cfg, "state.dir"), &cp, err, sizeof err) > 0 &&
        cp.snapshot >= r->snap_final) {
      rc_info("Kafka acknowledged the whole snapshot (chunk %llu)", (unsigned long long)r->snap_final);
      snap_forget(r, r->snap_final);
      r->snap_final = 0;
    }
    return 0;
  }
  int rc = snap_step(r, file, pos);
  if (rc == RC_STAGE_STOP) return RC_EXIT_FAILURE;
  if (rc != 1) return rc;
  double secs = (double)(rc_now_ns() - r->snap_started_ns) / 1e9;
  rc_info("snapshot complete: %llu rows sent in %llu chunks, %llu left to the stream, in %.1f s (%.0f rows/s)",
          (unsigned long long)r->snap_rows, (unsigned long long)r->snap_sent, (unsigned long long)r->snap_dropped,
          secs, secs > 0 ? (double)r->snap_rows / secs : 0.0);
  r->snap_finished = 1;
  if (!r->snap_final) snap_forget(r, UINT64_MAX); /* nothing was sent: nothing to wait for */
  return r->snap_only ? 1 : 0;
}
