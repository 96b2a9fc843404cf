/*
 * snapshot.h: the rows the tables already hold, read from the live server for `r` changes
 * (docs/snapshots.md). Called by rowcast-reader (reader.c), which merges the chunks with the
 * stream and puts them in batches; this module does the server side.
 *
 * A snapshot plan is the list of tables matching snapshot.tables, in name order. Each table
 * with a primary key is read in chunks of snapshot.chunk_rows rows in key order (keyset
 * pagination: the next chunk starts after the last key of the previous one), each chunk in its
 * own START TRANSACTION WITH CONSISTENT SNAPSHOT, whose binlog position (MariaDB's
 * binlog_snapshot_file / binlog_snapshot_position, or read under a brief lock: snapshot_pos.c)
 * the chunk carries: its rows are the table's rows at exactly that position. A table without a
 * primary key is read whole in one snapshot, streamed from the server and returned in pieces
 * of chunk_rows rows at the same position (chunk.keyless), which the reader spools to disk.
 * Each chunk checks the table under its metadata lock first: dropped since the last chunk, an
 * empty last chunk (a warning); altered, read again with the new definition (a new table id).
 * Rows are read with the binary protocol (prepared statements), values in the column's own
 * charset (character_set_results NULL) and TIMESTAMPs in UTC, and written as binlog row images
 * (binlog.h, rc_row_image_put) against a TABLE_MAP built from information_schema: the
 * serializer decodes them as it decodes the stream.
 *
 * The merge rule the reader applies (reader_snap.c): a chunk read at position P is held until the
 * stream reaches P; meanwhile every change the stream carries for the chunk's table marks the
 * chunk's row of the same key (before and after images) as dropped (rc_snap_track), since the
 * stream already carries that row's state at P; for a table without a key, the stream's events
 * of that table up to P are dropped instead (the spooled pieces hold their effect).
 *
 * Owns a connection of its own (the snapshot's transactions), the held chunk and the plan.
 * Errors follow rc_err.h; RC_ERR_ARG is for the user to fix (a table without SELECT, a pattern
 * that matches nothing, an unsupported column type): the reader exits 2.
 */
#ifndef RC_SNAPSHOT_H
#define RC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "buf.h"
#include "source_server.h"

typedef struct rc_snap rc_snap;

/* One chunk read (owned by rc_snap: valid until the next rc_snap_read). */
typedef struct rc_snap_chunk {
  uint32_t table;          /* index in the plan */
  const char *db, *name;
  const uint8_t *tmap;     /* the TABLE_MAP event (no checksum) its rows decode against */
  size_t tmap_len;
  uint64_t table_id;       /* the id that TABLE_MAP defines */
  uint32_t ncols;
  char file[256];          /* P: the binlog position the chunk's snapshot corresponds to */
  uint64_t pos;
  uint32_t nrows;          /* rows read */
  const uint8_t *images;   /* row image i is images[off[i] .. off[i+1]) */
  const size_t *off;
  const uint8_t *dropped;  /* [nrows]: 1 when the stream carried the row's state (not sent) */
  uint32_t ndropped;
  int keyless;             /* the table has no primary key: read whole */
  int first, last;         /* the table's first / last chunk */
} rc_snap_chunk;

/* Plan a snapshot of the tables matching `patterns` (the DB.TABLE pattern syntax of the filters,
 * pipeline/filter.h) that `filter` keeps (NULL: all), on a connection of its own to the server of
 * srv. A pattern without wildcards that names no table the user can see, or one the filter
 * leaves out, is an error (RC_ERR_ARG naming it). *out is the caller's (rc_snap_free).
 * chunk_rows: rows per chunk. */
typedef struct rc_filter rc_filter;
/* How a chunk's binlog position is found (snapshot.position): binlog_snapshot (MariaDB's
 * binlog_snapshot_file/_position, no lock), read_lock (a brief FLUSH TABLES WITH READ LOCK
 * around START TRANSACTION WITH CONSISTENT SNAPSHOT and SHOW MASTER STATUS, or LOCK TABLES t
 * READ for the chunk's read when FTWRL is refused), auto (binlog_snapshot on MariaDB,
 * read_lock on MySQL). */
enum { RC_SNAP_POS_AUTO, RC_SNAP_POS_BINLOG_SNAPSHOT, RC_SNAP_POS_READ_LOCK };
int rc_snap_new(rc_snap **out, rc_server *srv, const char *patterns, const rc_filter *filter, uint32_t chunk_rows,
                int position, char *errstr, size_t errstr_size);
/* How long read_lock held its lock per chunk (all zero with binlog_snapshot). */
typedef struct {
  uint64_t count, total_ns, max_ns, last_ns;
} rc_snap_lock_stats;
const rc_snap_lock_stats *rc_snap_lock(const rc_snap *sn);
/* Read the next chunk: 1 with *ch, 0 when every table is done, or an error (a table that cannot
 * be read: RC_ERR_ARG, naming it and what the server said; RC_ERR_IO: the server went away). */
int rc_snap_read(rc_snap *sn, rc_snap_chunk **ch, char *errstr, size_t errstr_size);
/* The held chunk, or NULL (between rc_snap_read and rc_snap_release). */
rc_snap_chunk *rc_snap_held(rc_snap *sn);
/* The chunk was sent: let it go (the next rc_snap_read reads on). */
void rc_snap_release(rc_snap *sn);
/* A change of the stream in table t (its table map): is it in the held chunk's table? 1 when
 * so: then call rc_snap_track with each image of the change (keyed tables), or drop the event
 * (keyless tables). */
int rc_snap_covers(const rc_snap *sn, const rc_table *t);
/* Mark the held chunk's row whose key the image img (of the stream's table map t) has as
 * dropped. An image without every key column marks nothing. */
void rc_snap_track(rc_snap *sn, const rc_table *t, const rc_value *img);
/* Progress, for the metrics: the table being read ("snapshot_table db.name", its rows sent,
 * its estimate from information_schema, milliseconds since it started), and the totals (rows
 * sent, estimated, tables done, tables). */
void rc_snap_metrics(const rc_snap *sn, rc_buf *b);
/* The rows sent of the plan's table i, counted by the caller at emission. */
void rc_snap_count(rc_snap *sn, uint32_t table, uint32_t rows, int last);
int rc_snap_done(const rc_snap *sn);
uint32_t rc_snap_ntables(const rc_snap *sn);
/* The last key read of the current table (for the chunk spool, reader_snap.c), appended to b:
 * nothing for a keyless table or before the table's first row. */
void rc_snap_key_save(const rc_snap *sn, rc_buf *b);
/* Resume the plan after a restart: the table db.name was sent up to the key saved by
 * rc_snap_key_save (klen 0: from its start), or whole (done). The next rc_snap_read reads on
 * from there. A table no longer in the plan: on with the tables after it by name. */
int rc_snap_resume(rc_snap *sn, const char *db, const char *name, int done, const uint8_t *key, size_t klen,
                   char *errstr, size_t errstr_size);
void rc_snap_free(rc_snap *sn);

#endif
