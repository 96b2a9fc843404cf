/*
 * snapshot_spool.h: the snapshot chunks the reader has sent, kept in <state.dir>/snapshot/ until
 * Kafka acknowledged them, so that a group restarted after a crash sends each of them again
 * exactly as before (same rows, same positions: the publisher's skip table then drops what
 * Kafka already holds), and reads on after the last one (docs/snapshots.md).
 *
 * One file per chunk, chunk-<number>, written (temporary file, rename) before the chunk's
 * first batch leaves the reader: its number (the checkpoint's snapshot= progress), the table,
 * the position it was sent at and the number of its first row there, its TABLE_MAP, the row
 * images sent, and the table's last key read. Written without fsync: it survives a crash of
 * rowcast, not of the machine (then the chunk is read again: its rows may come twice, none is
 * lost). Binary, native byte order: read back by the same build on the same machine. Used by
 * reader.c and reader_snap.c only.
 */
#ifndef RC_SNAPSHOT_SPOOL_H
#define RC_SNAPSHOT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* RC_SPOOL_KEYLESS: a piece of a table without a primary key, read whole in one snapshot and
 * spooled piece by piece before any of it is sent (docs/snapshots.md); its last piece has
 * RC_SPOOL_TABLE_DONE, so a set without it was cut short by a crash and none of it was sent. */
enum { RC_SPOOL_TABLE_DONE = 1, RC_SPOOL_FINAL = 2, RC_SPOOL_KEYLESS = 4 };

typedef struct rc_spool_chunk {
  uint64_t seq;
  uint32_t flags;          /* RC_SPOOL_* */
  char db[256], name[256];
  char file[256];          /* where it was sent: file:pos, its first row numbered row_base */
  uint64_t pos;
  uint32_t row_base;
  uint64_t table_id;
  uint32_t ncols, nrows;
  rc_buf tmap, images, key;
  size_t *off;             /* [nrows + 1] into images */
  uint8_t *dropped;        /* [nrows], all 0 (what was dropped is not in the file) */
} rc_spool_chunk;

/* Write chunk c to dir/chunk-<seq> (dir created). 0, or RC_ERR_IO with errstr. */
int rc_spool_write(const char *dir, const rc_spool_chunk *c, char *errstr, size_t errstr_size);
/* Read dir/chunk-<seq> into c (its buffers reused). 1, 0 when there is no such file, or
 * RC_ERR_CORRUPT / RC_ERR_IO naming the file. */
int rc_spool_read(const char *dir, uint64_t seq, rc_spool_chunk *c, char *errstr, size_t errstr_size);
/* The chunk numbers in dir, ascending, in *seqs (malloc'd, the caller's) and *n. 0 or RC_ERR_IO. */
int rc_spool_list(const char *dir, uint64_t **seqs, size_t *n, char *errstr, size_t errstr_size);
/* Remove dir/chunk-<seq>. */
void rc_spool_remove(const char *dir, uint64_t seq);
void rc_spool_chunk_free(rc_spool_chunk *c);

#endif
