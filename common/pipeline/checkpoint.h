/*
 * checkpoint.h: the durable position a restarted group resumes from: the binlog file and the
 * offset of the first event of the first transaction not yet fully acknowledged by Kafka.
 * Written by the publisher (atomic replace, fsync of file and directory), read by the reader.
 * The file is text, `<state.dir>/checkpoint`:
 *
 *   file=mariadb-bin.000042
 *   pos=1234
 *   changes=5000
 *   gtid=0-1-4711,1-2-99
 *   snapshot=17
 *
 * snapshot= (absent: 0) is the snapshot progress at the checkpoint: the number of the last
 * snapshot chunk whose rows Kafka acknowledged (frame.h rc_rec_progress; reader/snapshot.h).
 *
 * gtid= (absent when the stream had no GTID) is the GTID state at the checkpoint, as far as the
 * acknowledged changes give it: the last GTID per MariaDB domain ("domain-server-seq", comma
 * separated: the form of @@gtid_binlog_pos, which @slave_connect_state takes), or the last GTID
 * per MySQL source uuid and tag ("uuid:gno", "uuid:tag:gno"). Only transactions that produced
 * changes are in it; a transaction without changes after them is read again on a GTID resume,
 * which sends nothing.
 */
#ifndef RC_CHECKPOINT_H
#define RC_CHECKPOINT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define RC_GTID_STATE_MAX 2048

typedef struct rc_checkpoint {
  char file[256];
  uint64_t pos;
  uint64_t changes; /* changes acknowledged in total, for reports */
  char gtid[RC_GTID_STATE_MAX]; /* the GTID state ("" none): see above */
  uint64_t snapshot; /* snapshot chunks acknowledged (0: none) */
} rc_checkpoint;

/* Fold one GTID (text, len bytes) into a GTID state: it replaces the entry of its MariaDB
 * domain, or of its MySQL uuid (and tag), else it is appended. 0, or RC_ERR_ARG when the state
 * would not fit (it is left as it was) or the GTID is neither form. */
int rc_gtid_state_add(char *state, size_t size, const char *gtid, size_t len);

/* 1 and *cp filled, 0 when there is no checkpoint yet, or an error: RC_ERR_IO (unreadable) or
 * RC_ERR_CORRUPT (truncated or garbled: errstr names the file and the line). Every line must
 * end with a newline, so a file cut anywhere is an error, never a shorter checkpoint. */
int rc_checkpoint_read(const char *state_dir, rc_checkpoint *cp, char *errstr, size_t errstr_size);
/* Write file, fsync, rename over the old one, fsync the directory: 0, or RC_ERR_IO naming the
 * step that failed (the old checkpoint then still stands). */
int rc_checkpoint_write(const char *state_dir, const rc_checkpoint *cp, char *errstr,
                        size_t errstr_size);
/* mkdir -p: the directories on the way with mode 0755 (less the umask), the last one private
 * (0700: the state and run directories hold the checkpoint and the stages' configuration). A
 * directory that exists already keeps its mode. */
int rc_mkdirs(const char *path, char *errstr, size_t errstr_size);
/* Open a file of the state or run directory for reading: 1 and *f (the caller's to fclose), 0
 * when there is no such file (nothing recorded yet), or RC_ERR_IO naming it (what, e.g.
 * "checkpoint", leads the message). */
int rc_state_open(const char *path, const char *what, FILE **f, char *errstr, size_t errstr_size);

#endif
