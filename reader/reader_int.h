/*
 * reader_int.h: what rowcast-reader's two files share (reader.c: files and the server, batching,
 * table maps, filters, transactions, main; reader_snap.c: the snapshot merge): the reader's
 * state and the batching helpers the snapshot's rows go out through. Private to reader.c and
 * reader_snap.c.
 */
#ifndef RC_READER_INT_H
#define RC_READER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "buf.h"
#include "checkpoint.h"
#include "filter.h"
#include "schema_client.h"
#include "snapshot.h"
#include "snapshot_spool.h"
#include "source_server.h"
#include "stage.h"

typedef struct {
  uint64_t table_id;
  uint8_t *raw;
  size_t len, cap;
  uint8_t flags; /* RC_REC_EV_* of its 'T' record */
  uint8_t filtered; /* the table is filtered out: its rows are dropped, raw is not kept */
  uint64_t sent_seq; /* batch it was last put in */
} tmap_slot;

/* Changes of one table in the open transaction. */
typedef struct {
  char *db, *table;
  uint32_t count;
} txn_table;

typedef struct {
  rc_stage st;
  int sock;
  rc_binlog *bl;
  rc_row_iter it;
  /* the batch being built */
  rc_buf batch;
  uint64_t seq;
  uint32_t batch_changes;
  uint32_t batch_ends; /* transaction ends in it: a batch of filtered transactions closes too */
  uint64_t batch_open_ns;
  int batch_has_file; /* N and F records written for the current file */
  char file[256];          /* the file the current events come from */
  uint8_t *fde;             /* its FORMAT_DESCRIPTION (a copy: server events do not last) */
  size_t fde_len, fde_cap;
  tmap_slot *tmaps;
  size_t n_tmaps;
  size_t tmap_hint; /* the slot tmap_find found last */
  rc_txn_state txn;
  /* limits */
  uint32_t max_changes;
  uint64_t max_ns;
  size_t max_bytes;
  /* metrics */
  uint64_t events, changes, batches, bytes_sent, send_wait_ns;
  uint64_t filtered; /* ROWS events of filtered tables, dropped unread */
  rc_filter *filter;
  int filter_tables; /* filter.include or filter.exclude is set */
  uint64_t cur_pos;
  char cur_file[256];
  int fatal; /* an exit status decided deep inside (an event too big for the pipe) */
  uint32_t row_base; /* rows already numbered at this offset (inside a payload) */
  /* live source */
  rc_server *srv;
  char boundary_file[256]; /* the last transaction boundary read: where a reconnect resumes */
  uint64_t boundary_pos;
  char sent_file[256];     /* events before sent_file:sent_pos are already in batches: after a */
  uint64_t sent_pos;       /* reconnect they are decoded again but not sent twice */
  char sent_end_file[256]; /* the last transaction end put in a batch (its position after the */
  uint64_t sent_end_pos;   /* event that ends it): after a reconnect, one at or before it is not sent again */
  rc_buf enriched;
  /* information_schema lookups, by "db.table", forgotten after any DDL */
  struct lookup { char *name; rc_table *t; } *lookups;
  size_t nlookups;
  uint64_t lookup_failures;
  /* transaction boundaries (publisher.transactions_topic): the open transaction */
  int txn_on;
  int txn_active, txn_begin_sent;
  char txn_id[300], txn_gtid[128];
  uint64_t txn_begin_off, txn_commit_us;
  uint32_t txn_count;
  txn_table *txn_tables;
  size_t txn_ntables, txn_cap;
  rc_buf txn_buf; /* the END's table list */
  /* the schema history (schema.tracker=auto), NULL when off */
  rc_schema *sc;
  uint64_t schema_mismatches; /* table maps the history did not describe (run: re-read from the server) */
  char **schema_warned;       /* "db.table" without a version, warned once */
  size_t n_schema_warned;
  /* snapshot (reader/snapshot.h): the chunk held until the stream reaches its position */
  rc_snap *snap;
  int snap_only;            /* snapshot.mode=initial_only: end once the snapshot is sent */
  int snap_finished;
  char snap_file[256];      /* where the last chunk was sent: its rows are numbered on from */
  uint64_t snap_pos;        /* snap_row at the same position (a quiet server: every chunk */
  uint32_t snap_row;        /* at one position) */
  uint64_t snap_sent;       /* chunks sent in this run */
  uint64_t snap_next;       /* the number the next chunk gets (the checkpoint's snapshot progress) */
  uint64_t snap_final;      /* the number of the plan's last chunk, once sent */
  char spool_dir[4200];     /* <state.dir>/snapshot: the chunks sent (snapshot_spool.h) */
  rc_spool_chunk spool;
  uint64_t *replay;         /* chunks to send again after a restart, and how far */
  size_t nreplay, ireplay;
  int replay_loaded;
  uint64_t snap_poll_ns;
  uint64_t snap_tmap_seq;   /* batch that carries the chunk's TABLE_MAP (+1) */
  uint64_t snap_tmap_id;    /* ... of this table id */
  uint64_t snap_rows, snap_dropped, snap_events_dropped;
  /* a table without a key: its pieces spooled, waiting for the stream to reach their position */
  int kl_pending;
  char kl_db[256], kl_name[256], kl_file[256];
  uint64_t kl_pos, kl_next, kl_last;
  uint32_t kl_table, kl_row;
  uint64_t snap_started_ns;
  int snap_poke;            /* a snapshot just opened: look at it without waiting for the stream first */
  rc_buf snapev;
} reader;

/* reader.c: batching */
/* Close the batch being built and send it (nothing when empty), then open the next. Returns 0,
 * or RC_STAGE_STOP. */
int rd_batch_close(reader *r);
/* The current file's name and FORMAT_DESCRIPTION, once per batch. */
void rd_put_file_header(reader *r);
/* Room for `need` more bytes in the batch (closing it when full), or RC_STAGE_STOP. */
int rd_make_room(reader *r, size_t need, const rc_event *ev);

/* reader_snap.c: the snapshot merge */
/* At start, or when a request appears while streaming: the snapshot to run or resume. Returns
 * 0 or an exit status. */
int rd_snap_open(reader *r, const rc_checkpoint *cp);
/* Between two transactions, at file:pos of the stream: send what the snapshot has due there.
 * Returns 0, 1 when the reader is to end (snapshot.mode=initial_only), or an exit status. */
int rd_snap_at(reader *r, const char *file, uint64_t pos);

#endif
