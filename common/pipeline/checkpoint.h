/*
 * checkpoint.h: the durable position a restarted group resumes from: the binlog file and the
 * offset of the first event of the first transaction not yet fully acknowledged by Kafka.
 * Written by the publisher (atomic replace, fsync of file and directory), read by the reader.
 * The file is text, `<state.dir>/checkpoint`:
 *
 *   file=mariadb-bin.000042
 *   pos=1234
 *   changes=5000
 */
#ifndef RC_CHECKPOINT_H
#define RC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rc_checkpoint {
  char file[256];
  uint64_t pos;
  uint64_t changes; /* changes acknowledged in total, for reports */
} rc_checkpoint;

/* 1 and *cp filled, 0 when there is no checkpoint yet, or an error: RC_ERR_IO (unreadable) or
 * RC_ERR_CORRUPT (truncated or garbled: errstr names the file and the line). Every line must
 * end with a newline, so a file cut anywhere is an error, never a shorter checkpoint. */
int rc_checkpoint_read(const char *state_dir, rc_checkpoint *cp, char *errstr, size_t errstr_size);
/* Write file, fsync, rename over the old one, fsync the directory: 0, or RC_ERR_IO naming the
 * step that failed (the old checkpoint then still stands). */
int rc_checkpoint_write(const char *state_dir, const rc_checkpoint *cp, char *errstr,
                        size_t errstr_size);
/* mkdir -p */
int rc_mkdirs(const char *path, char *errstr, size_t errstr_size);

#endif
