/*
 * source_server.h: the live source. Streams the binary log of a running MySQL/MariaDB server
 * over a replication connection (MariaDB Connector/C's mariadb_rpl_* API: COM_BINLOG_DUMP as a
 * replica with its own server_id) and hands out raw events exactly as they are stored in the
 * binlog files, so the decoder (binlog.h) treats them like events cut from a captured file.
 *
 * Called by rowcast-reader (one rc_server per process, used from one thread). It owns two
 * connections: the replication stream, and a second, ordinary one opened lazily for
 * information_schema lookups (rc_server_lookup).
 *
 * What it does for the caller:
 *  - pre-flight checks with messages that say what to fix: credentials, log_bin, binlog_format,
 *    privileges (REPLICATION SLAVE, and BINLOG MONITOR / REPLICATION CLIENT), purged start
 *    files; warnings when binlog_row_image or binlog_row_metadata is not FULL;
 *  - the session a replica needs: checksum negotiation (@master_binlog_checksum), MariaDB's
 *    capability (@mariadb_slave_capability=4, so GTID and ANNOTATE_ROWS events are not replaced by
 *    dummies), a heartbeat period, and the GTID start (@slave_connect_state);
 *  - positions: the file each event belongs to and its offset in that file, also when the
 *    server leaves log_pos at 0, across real and fake ROTATEs;
 *  - heartbeats (consumed here), dead-connection detection, reconnection with capped
 *    exponential backoff at a position the caller chose;
 *  - TLS on both connections as source.tls says (Connector/C's MYSQL_OPT_SSL_* options, and a
 *    check after the login that the connection is encrypted when the mode requires it): a
 *    certificate refused, or no TLS where it is required, is RC_ERR_ARG.
 *
 * Errors follow rc_err.h. RC_ERR_ARG means the user must fix something (the caller exits 2);
 * RC_ERR_IO means a transient failure (the caller retries or reconnects).
 */
#ifndef RC_SOURCE_SERVER_H
#define RC_SOURCE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "checkpoint.h"
#include "rc_err.h"

typedef struct rc_server rc_server;

typedef struct rc_server_opts {
  const char *host;       /* ignored when socket is set */
  unsigned port;
  const char *socket;     /* NULL or "": TCP */
  const char *user;
  const char *password;
  uint32_t server_id;     /* this replica's id: non-zero, unique among the server's replicas */
  const char *start;      /* "earliest" | "latest" | "FILE:POS" | MariaDB GTID list "d-s-n[,d-s-n]" */
  unsigned heartbeat_ms;  /* 0: 500 */
  unsigned connect_timeout_ms; /* 0: 5000 */
  int gtid_resume;        /* resume a checkpoint by its GTID state (MariaDB), not by file:pos */
  /* TLS (source.tls and its files, checked by rc_source_check): an rc_tls_mode
   * (pipeline/source_config.h; 0, disabled, when not set); the files NULL or "" when not set */
  int tls;
  const char *tls_ca, *tls_cert, *tls_key;
  /* the password when it is NULL: a function that gives it at each connection (malloc'd, or
   * NULL with errstr set; source.password_file is read again each time) */
  char *(*password_fn)(void *arg, char *errstr, size_t errstr_size);
  void *password_arg;
} rc_server_opts;

/* Connect, run the pre-flight checks, and start the dump at the checkpoint (cp != NULL: it wins
 * over opts->start, and the log says which was used) or at opts->start. The strings of o are
 * copied. On success *out is the caller's (rc_server_close). Returns 0; RC_ERR_ARG for a
 * problem the user must fix (bad credentials, binlog off, not ROW, privileges, purged position,
 * a MySQL GTID set: errstr says what and how to fix; the caller exits 2); RC_ERR_IO for a
 * transient failure (server unreachable: the caller retries). */
int rc_server_open(rc_server **out, const rc_server_opts *o, const rc_checkpoint *cp, char *errstr,
                   size_t errstr_size);

/* The next raw event, exactly as it appears in the binlog file (19-byte header, body, CRC when
 * the server sends checksums), the name of the file it belongs to, and its offset in that file:
 * returns 1. Returns 0 when no event arrived within timeout_ms (caught up; timeout_ms < 0
 * waits without limit; a signal also returns 0). RC_ERR_IO: the connection is lost (the caller
 * calls rc_server_reconnect). RC_ERR_ARG / RC_ERR_CORRUPT: fatal, with errstr. raw and file
 * stay valid until the next call on s.
 * Heartbeats are consumed here (they update the server's position for the lag). The fake
 * ROTATE the server sends first (and when it moves to a file that did not end in a ROTATE)
 * sets the current file and is returned, with the offset the stream continues at; it is
 * recognised by the RC_EVF_ARTIFICIAL flag or timestamp 0. The FORMAT_DESCRIPTION is returned
 * (the decoder needs it); when the dump starts inside a file the server re-sends it, and its
 * offset is then 4 while the stream goes on from the start position. Other events flagged
 * ARTIFICIAL (MariaDB sends a GTID_LIST after skipping to a GTID start) are returned with the
 * offset of the next real event and do not advance the position: they are no transaction
 * boundary. */
int rc_server_next(rc_server *s, const uint8_t **raw, size_t *len, const char **file,
                   uint64_t *offset, int timeout_ms, char *errstr, size_t errstr_size);

/* Reconnect (capped exponential backoff between attempts, from 100 ms up to max_backoff_ms,
 * logging each attempt) and resume the dump at file:pos (a transaction boundary the caller
 * chose). Returns 0 once streaming again; RC_ERR_ARG if resuming is impossible (purged file,
 * credentials or privileges revoked); keeps trying on transient failures until *stop becomes
 * non-zero (then RC_ERR_IO). */
int rc_server_reconnect(rc_server *s, const char *file, uint64_t pos, unsigned max_backoff_ms,
                        volatile int *stop, char *errstr, size_t errstr_size);
/* fn(ctx) is called every 50 ms while rc_server_reconnect waits between attempts (the reader
 * keeps sending its metrics snapshots then, so the supervisor sees it disconnected). */
void rc_server_set_idle(rc_server *s, void (*fn)(void *ctx), void *ctx);

/* Look a table up in information_schema on a second, ordinary connection (opened lazily,
 * reopened once when it was lost): column names in ordinal order, signedness of numeric
 * columns, ENUM/SET labels, primary-key columns. Fills the columns of t (from a TABLE_MAP)
 * where the table map lacked them: name (malloc'd, owned by t), key/key_len (the JSON key
 * "\"name\":", replacing "@N"), is_signed, labels/label_lens/n_labels, pk, and t->has_names /
 * t->has_pk. Returns 0; RC_ERR_ARG if the table is gone or its column count differs from the
 * table map (t is then unchanged; the caller keeps "@N" names and warns); RC_ERR_IO if the
 * server cannot be reached. */
int rc_server_lookup(rc_server *s, rc_table *t, char *errstr, size_t errstr_size);

/* For rowcast stats: connection state, position (the file and the offset of the next event),
 * seconds behind the server (the last event's timestamp against now; 0 when caught up),
 * reconnect count, the last event's timestamp in microseconds. */
typedef struct rc_server_status {
  int connected;
  char file[256];
  uint64_t pos;
  uint32_t seconds_behind;
  uint64_t reconnects;
  uint64_t last_event_ts_us;
} rc_server_status;

void rc_server_get_status(const rc_server *s, rc_server_status *st);
/* The concrete file and *pos the first dump started at (source.start or the checkpoint,
 * resolved: `latest` and `earliest` become a file:pos once); "" for a GTID start. */
const char *rc_server_started_at(const rc_server *s, uint64_t *pos);
/* Did the server log binlog_row_metadata=FULL at the last pre-flight (names in every table map)? */
int rc_server_meta_full(const rc_server *s);
void rc_server_close(rc_server *s);

#endif
