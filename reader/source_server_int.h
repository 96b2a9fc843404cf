/*
 * source_server_int.h: what the live source's two files share (source_server.c, the replication
 * connection; source_lookup.c, the information_schema lookup): the connection's state and the
 * helpers that open a connection and turn a Connector/C error into rowcast's. Private to
 * reader/.
 */
#ifndef RC_SOURCE_SERVER_INT_H
#define RC_SOURCE_SERVER_INT_H

#include <mysql.h>
#include <mariadb_rpl.h>
#include <signal.h>

#include "connect_tls.h"
#include "source_server.h"

#define DEFAULT_HEARTBEAT_MS 500
#define DEFAULT_CONNECT_TIMEOUT_MS 5000

struct rc_server {
  int gtid_resume;        /* rc_server_opts.gtid_resume */
  /* options (copies) */
  char *host, *socket, *user, *password, *start;
  int tls;                  /* rc_tls_mode */
  char *tls_ca, *tls_cert, *tls_key; /* NULL when not set */
  char *(*password_fn)(void *arg, char *es, size_t esz);
  void *password_arg;
  rc_connect_tls_state tls_st; /* the last connection's TLS (on, by OpenSSL), said once */
  unsigned port;
  uint32_t server_id;
  unsigned heartbeat_ms, connect_timeout_ms;
  char where[300];          /* "host:port" or the socket, for messages */

  /* the replication connection */
  MYSQL *my;
  MARIADB_RPL *rpl;
  MARIADB_RPL_EVENT *ev;    /* reused by mariadb_rpl_fetch */
  int connected;
  int pending;              /* the first event, fetched by the open, not yet returned */
  int is_mariadb;
  int checksums;            /* the negotiated stream carries CRC32 */
  int file_alg;             /* checksum alg of the current file's FDE: -1 unknown */
  int warned;               /* row image / metadata warnings given once */
  int meta_full;            /* binlog_row_metadata=FULL at the last pre-flight */
  char who[300];            /* CURRENT_USER(), quoted, for messages */
  char started_file[256];    /* where the first dump of this run started (resolved source.start) */
  uint64_t started_pos;
  char oldest[256];         /* the oldest binlog the server had at the last pre-flight */
  char dump_gtid[4096];     /* the GTID position the last dump started at ("" by file:pos) */
  int dump_gtid_cp;         /* ... taken from the checkpoint (source.gtid_resume), not source.start */

  /* the lookup connection */
  MYSQL *meta;

  /* the stream position: the file and the offset of the next event */
  char file[256];
  uint64_t pos;
  char ret_file[256];       /* the file of the event last returned */

  /* status */
  char srv_file[256];
  uint64_t srv_pos;
  uint64_t last_rx_ms;      /* anything received (event or heartbeat) */
  uint64_t last_ts_us;
  int caught_up;
  uint64_t reconnects;
  void (*idle_fn)(void *ctx); /* rc_server_set_idle: called while waiting to reconnect */
  void *idle_ctx;
};

/* Open a connection to the source (replication: with the settings a dump needs). NULL on
 * failure, with *rc and es set. */
MYSQL *rc_server_connect(rc_server *s, int replication, char *es, size_t esz, int *rc);
/* Over TLS, a signal that interrupts Connector/C in SSL_read breaks the connection (its TLS
 * layer reads a blocking socket and gives up on EINTR, where the plain one retries). So while a
 * call may wait on a TLS connection the stage's signals (SIGTERM, SIGINT, SIGUSR1) are held:
 * they are delivered when released, and the stage's loop sees them then. hold holds them when
 * `tls` (the connection is encrypted) and says whether it did; release undoes it. A signal
 * during the TLS handshake itself can still fail a connection attempt: it is then retried, or
 * the stage stops, as the signal asked. */
int rc_server_hold_signals(int tls, sigset_t *old);
void rc_server_release_signals(const sigset_t *old, int held);
/* The error of the last call on m, as an rc_err_t with a message that says what to do. */
int rc_server_fail(rc_server *s, MYSQL *m, const char *doing, char *es, size_t esz);

#endif
