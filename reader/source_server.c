/*
 * source_server.c: the live source (see source_server.h).
 *
 * Built on MariaDB Connector/C's replication API: mariadb_rpl_init / mariadb_rpl_optionsv /
 * mariadb_rpl_open send COM_BINLOG_DUMP, mariadb_rpl_fetch reads one packet. What the API does,
 * as read in libmariadb/mariadb_rpl.c (3.3) and checked against MariaDB 10.11:
 *  - MARIADB_RPL_EVENT.raw_data is the whole protocol packet: the leading 0x00 OK byte (and,
 *    with semi-sync, 0xEF + the ack flag) comes first; raw_data_ofs is where the event starts.
 *    raw_data + raw_data_ofs .. raw_data + raw_data_size is the event as stored in the file,
 *    CRC included when the stream carries checksums.
 *  - Packets of 16 MiB and more are reassembled below the API (ma_net_read joins the
 *    continuation packets); the client side accepts up to MYSQL_OPT_MAX_ALLOWED_PACKET (set to
 *    1 GiB here), the server side up to its max_allowed_packet.
 *  - mariadb_rpl_fetch also parses each event; on a parse error (an event type it does not
 *    know and that is not flagged IGNORABLE, a malformed packet) it frees the event it was given
 *    and returns NULL. The error is then in mariadb_rpl_errno, a server error (0xFF packet:
 *    1236...) in mysql_errno.
 *  - The GTID options (MARIADB_RPL_GTID_CALLBACK/DATA) are declared but not implemented, and
 *    there is no COM_BINLOG_DUMP_GTID: a MariaDB GTID start is done the way MariaDB replicas
 *    do it, @slave_connect_state plus an ordinary dump with an empty file name; MySQL GTID sets
 *    are refused with a message.
 *  - Checksum negotiation and the capability flag are ours to send (SET @master_binlog_checksum,
 *    SET @mariadb_slave_capability); mariadb_rpl_init only reads @@binlog_checksum.
 * Waiting: rc_server_next polls the socket when Connector/C's read-ahead cache is empty, so a
 * timeout shorter than the heartbeat works; heartbeats (and the read timeout, 3 heartbeats)
 * detect a dead connection.
 */
#include "source_server.h"

#include <ctype.h>
#include <errno.h>
#include <mysql.h>
#include <mariadb_rpl.h>
/* ma_pvio.h declares the TLS handle of a connection (ma_tls.h, which uses my_global.h's uchar)
 * only with HAVE_TLS; otherwise as void */
#define HAVE_TLS
typedef unsigned char uchar;
#include <ma_pvio.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "buf.h"
#include "clock.h"
#include "connect_tls.h"
#include "log.h"
#include "source_config.h"

#include "source_server_int.h"

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- errors ------------------------------------------------------------------------------- */

/* source.tls and its files as the connection helper takes them (connect_tls.h) */
_Static_assert(RC_TLS_VERIFY_IDENTITY == 4 && RC_CONNECT_TLS_MODES == 5, "connect_tls.h numbers source.tls as rc_tls_mode");
static rc_connect_tls tls_of(const rc_server *s) {
  return (rc_connect_tls){s->tls, s->tls_ca, s->tls_cert, s->tls_key, s->where, s->socket && s->socket[0]};
}

/* Is this MySQL error something the user must fix (RC_ERR_ARG) or transient (RC_ERR_IO)? */
static int classify(unsigned e) {
  switch (e) {
  case ER_ACCESS_DENIED_ERROR:          /* 1045 */
  case ER_DBACCESS_DENIED_ERROR:        /* 1044 */
  case ER_SPECIFIC_ACCESS_DENIED_ERROR: /* 1227 */
  case ER_TABLEACCESS_DENIED_ERROR:     /* 1142 */
  case ER_HOST_NOT_PRIVILEGED:          /* 1130 */
  case ER_HOST_IS_BLOCKED:              /* 1129 */
  case ER_NOT_SUPPORTED_AUTH_MODE:      /* 1251 */
  case ER_MASTER_FATAL_ERROR_READING_BINLOG: /* 1236 */
  case 1698:                            /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
  case 1820:                            /* ER_MUST_CHANGE_PASSWORD */
  case 1862:                            /* ER_MUST_CHANGE_PASSWORD_LOGIN */
  case 4151:                            /* ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB) */
  case CR_AUTH_PLUGIN_CANNOT_LOAD:      /* 2059 */
    return RC_ERR_ARG;
  case CR_SSL_CONNECTION_ERROR:         /* 2026: see rc_connect_tls_refused */
    return RC_ERR_IO;
  default:
    return RC_ERR_IO; /* CR_* network errors, 1040 too many connections, 1053 shutdown, ... */
  }
}

/* The error of the last call on m, as an rc_err_t with a message that says what to do. */
int rc_server_fail(rc_server *s, MYSQL *m, const char *doing, char *es, size_t esz) {
  unsigned e = mysql_errno(m);
  const char *msg = mysql_error(m);
  rc_connect_tls t = tls_of(s);
  int refused = rc_connect_tls_refused(m, &t, es, esz);
  if (refused) return refused;
  switch (e) {
  case ER_ACCESS_DENIED_ERROR:
  case 1698:
    return rc_errf(RC_ERR_ARG, es, esz,
                   "cannot log in to %s as user '%s': %s (error %u): check source.user and "
                   "source.password, and that the user may connect from this host",
                   s->where, s->user, msg, e);
  case ER_HOST_NOT_PRIVILEGED:
  case ER_HOST_IS_BLOCKED:
    return rc_errf(RC_ERR_ARG, es, esz, "%s refuses this host for user '%s': %s (error %u)", s->where,
                   s->user, msg, e);
  case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    return rc_errf(RC_ERR_ARG, es, esz,
                   "%s on %s: user %s lacks a privilege: %s (error %u). rowcast needs REPLICATION "
                   "SLAVE and %s: GRANT REPLICATION SLAVE, %s ON *.* TO %s",
                   doing, s->where, s->who[0] ? s->who : s->user, msg, e,
                   s->is_mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT",
                   s->is_mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT", s->who[0] ? s->who : s->user);
  default:
    if (e == 0) return rc_errf(RC_ERR_IO, es, esz, "%s on %s failed", doing, s->where);
    return rc_errf(classify(e), es, esz, "%s on %s: %s (error %u)", doing, s->where, msg, e);
  }
}

/* ---- connections -------------------------------------------------------------------------- */

MYSQL *rc_server_connect(rc_server *s, int replication, char *es, size_t esz, int *rc) {
  char *pw = NULL;
  if (s->password_fn && !(pw = s->password_fn(s->password_arg, es, esz))) {
    *rc = RC_ERR_ARG;
    return NULL;
  }
  MYSQL *m = mysql_init(NULL);
  if (!m) {
    free(pw);
    *rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    return NULL;
  }
  unsigned ct = (s->connect_timeout_ms + 999) / 1000;
  if (ct < 1) ct = 1;
  /* a dead replication connection shows as 3 heartbeats without a byte */
  unsigned rt = replication ? (3 * s->heartbeat_ms + 999) / 1000 : 60;
  if (rt < 2) rt = 2;
  size_t max_packet = (size_t)1 << 30;
  my_bool no = 0;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rt);
  mysql_optionsv(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  rc_connect_tls t = tls_of(s);
  rc_connect_tls_options(m, &t);
  int use_sock = s->socket && s->socket[0];
  MYSQL *ok = mysql_real_connect(m, use_sock ? "localhost" : s->host, s->user, pw ? pw : s->password, NULL,
                                 use_sock ? 0 : s->port, use_sock ? s->socket : NULL, 0);
  if (pw) {
    explicit_bzero(pw, strlen(pw));
    free(pw);
  }
  if (!ok || (*rc = rc_connect_tls_check(m, &t, &s->tls_st, NULL, es, esz)) != 0) {
    if (!ok) *rc = rc_server_fail(s, m, "connecting", es, esz);
    mysql_close(m);
    return NULL;
  }
  *rc = 0;
  return m;
}

static void disconnect(rc_server *s) {
  if (s->ev) {
    mariadb_free_rpl_event(s->ev);
    s->ev = NULL;
  }
  if (s->rpl) {
    mariadb_rpl_close(s->rpl);
    s->rpl = NULL;
  }
  if (s->my) {
    mysql_close(s->my);
    s->my = NULL;
  }
  s->connected = 0;
  s->pending = 0;
}

static int run(rc_server *s, const char *sql, const char *doing, char *es, size_t esz) {
  if (mysql_real_query(s->my, sql, strlen(sql))) return rc_server_fail(s, s->my, doing, es, esz);
  MYSQL_RES *r = mysql_store_result(s->my);
  if (r) mysql_free_result(r);
  return 0;
}

/* ---- pre-flight --------------------------------------------------------------------------- */

typedef struct {
  char name[256];
  uint64_t size;
} binlog_file;

/* SHOW BINARY LOGS: the files the server has, oldest first. *out is malloc'd. */
static int list_binlogs(rc_server *s, binlog_file **out, size_t *n, char *es, size_t esz) {
  *out = NULL;
  *n = 0;
  if (mysql_query(s->my, "SHOW BINARY LOGS"))
    return rc_server_fail(s, s->my, "SHOW BINARY LOGS (to find the binlog files)", es, esz);
  MYSQL_RES *r = mysql_store_result(s->my);
  if (!r) return rc_server_fail(s, s->my, "SHOW BINARY LOGS", es, esz);
  size_t rows = (size_t)mysql_num_rows(r);
  binlog_file *f = calloc(rows ? rows : 1, sizeof *f);
  if (!f) {
    mysql_free_result(r);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(r)) && *n < rows) {
    snprintf(f[*n].name, sizeof f[*n].name, "%s", row[0] ? row[0] : "");
    f[*n].size = row[1] ? strtoull(row[1], NULL, 10) : 0;
    (*n)++;
  }
  mysql_free_result(r);
  *out = f;
  return 0;
}

static int is_digits(const char *p, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)p[i])) return 0;
  return 1;
}

/* "d-s-n[,d-s-n]...": a MariaDB GTID position */
static int is_maria_gtid(const char *g) {
  const char *p = g;
  if (!*p) return 0;
  for (;;) {
    for (int part = 0; part < 3; part++) {
      if (!isdigit((unsigned char)*p)) return 0;
      while (isdigit((unsigned char)*p)) p++;
      if (part < 2 && *p++ != '-') return 0;
    }
    while (*p == ' ') p++;
    if (!*p) return 1;
    if (*p++ != ',') return 0;
    while (*p == ' ') p++;
  }
}

/* a MySQL GTID set starts with a UUID: 8-4-4-4-12 hex digits */
static int is_mysql_gtid(const char *g) {
  static const int groups[] = {8, 4, 4, 4, 12};
  const char *p = g;
  while (isspace((unsigned char)*p)) p++;
  for (int i = 0; i < 5; i++) {
    for (int k = 0; k < groups[i]; k++, p++)
      if (!isxdigit((unsigned char)*p)) return 0;
    if (i < 4 && *p++ != '-') return 0;
  }
  return *p == ':' || *p == 0 || *p == ',';
}

static int fetch_one_row(rc_server *s, const char *sql, MYSQL_RES **res, MYSQL_ROW *row,
                         const char *doing, char *es, size_t esz) {
  if (mysql_query(s->my, sql)) return rc_server_fail(s, s->my, doing, es, esz);
  *res = mysql_store_result(s->my);
  if (!*res) return rc_server_fail(s, s->my, doing, es, esz);
  *row = mysql_fetch_row(*res);
  if (!*row) {
    mysql_free_result(*res);
    *res = NULL;
    return rc_errf(RC_ERR_IO, es, esz, "%s on %s returned no row", doing, s->where);
  }
  return 0;
}

/* The server's settings: binlog on, ROW format, our server_id not its own; warnings for the
 * row image and metadata. */
static int check_server(rc_server *s, char *es, size_t esz) {
  MYSQL_RES *r;
  MYSQL_ROW row;
  int rc = fetch_one_row(s,
                         "SELECT VERSION(), @@global.log_bin, @@global.binlog_format, "
                         "@@global.binlog_row_image, @@global.binlog_checksum, @@global.server_id, "
                         "CURRENT_USER()",
                         &r, &row, "reading the server's settings", es, esz);
  if (rc < 0) return rc;
  s->is_mariadb = row[0] && strstr(row[0], "MariaDB") != NULL;
  const char *cu = row[6] ? row[6] : s->user;
  const char *at = strrchr(cu, '@');
  if (at)
    snprintf(s->who, sizeof s->who, "'%.*s'@'%s'", (int)(at - cu), cu, at + 1);
  else
    snprintf(s->who, sizeof s->who, "'%s'", cu);
  int log_bin = row[1] && (!strcmp(row[1], "1") || !strcasecmp(row[1], "ON"));
  if (!log_bin) {
    rc = rc_errf(RC_ERR_ARG, es, esz,
                 "binary logging is disabled on %s (log_bin=OFF): rowcast reads changes from the "
                 "binary log; restart the server with log_bin enabled (e.g. --log-bin=mysql-bin) "
                 "and binlog_format=ROW",
                 s->where);
    goto out;
  }
  if (!row[2] || strcasecmp(row[2], "ROW")) {
    rc = rc_errf(RC_ERR_ARG, es, esz,
                 "binlog_format is %s on %s, not ROW: rowcast needs row events; set "
                 "binlog_format=ROW in the server's configuration and SET GLOBAL "
                 "binlog_format=ROW (sessions already open keep their format until they reconnect)",
                 row[2] ? row[2] : "NULL", s->where);
    goto out;
  }
  s->checksums = row[4] && !strcasecmp(row[4], "CRC32");
  if (row[5] && strtoul(row[5], NULL, 10) == s->server_id) {
    rc = rc_errf(RC_ERR_ARG, es, esz,
                 "source.server_id=%u is the server_id of %s itself: give rowcast an id no server "
                 "or replica of this topology uses",
                 s->server_id, s->where);
    goto out;
  }
  if (!s->warned && row[3] && strcasecmp(row[3], "FULL"))
    rc_warn("binlog_row_image is %s on %s, not FULL: updates and deletes carry only some columns "
            "(MINIMAL: the key in the before image and the changed columns in the after image; "
            "NOBLOB: no unchanged BLOB/TEXT), so the other columns come out absent, not with "
            "their values. Set binlog_row_image=FULL for complete rows",
            row[3], s->where);
  mysql_free_result(r);
  r = NULL;
  /* binlog_row_metadata: MariaDB 10.5+, MySQL 8.0.1+ */
  const char *meta = "unavailable (server too old)";
  char metabuf[32];
  if (!mysql_query(s->my, "SELECT @@global.binlog_row_metadata") && (r = mysql_store_result(s->my))) {
    if ((row = mysql_fetch_row(r)) && row[0]) {
      snprintf(metabuf, sizeof metabuf, "%s", row[0]);
      meta = metabuf;
    }
  }
  s->meta_full = !strcasecmp(meta, "FULL");
  if (!s->warned && strcasecmp(meta, "FULL"))
    rc_warn("binlog_row_metadata is %s on %s, not FULL: table maps carry no column names (nor "
            "ENUM/SET labels, primary keys, and with NO_LOG signedness), so rowcast takes them from "
            "its schema history (schema.tracker=auto, docs/schema-history.md), or with "
            "schema.tracker=off from information_schema, where after a DDL the schema is the new "
            "one while the events read may still be older. Set binlog_row_metadata=FULL to have "
            "them in every event",
            meta, s->where);
  s->warned = 1;
  rc = 0;
out:
  if (r) mysql_free_result(r);
  return rc;
}

/* Resolve where to start: file:pos, or a GTID position (file empty). */
static int resolve_start(rc_server *s, const rc_checkpoint *cp, const char *start, char *file,
                         size_t file_size, uint64_t *pos, char *gtid, size_t gtid_size,
                         int quiet, char *es, size_t esz) {
  binlog_file *f;
  size_t n;
  gtid[0] = 0;
  int rc = list_binlogs(s, &f, &n, es, esz);
  if (rc < 0) return rc;
  snprintf(s->oldest, sizeof s->oldest, "%s", n ? f[0].name : "");
  if (n == 0) {
    free(f);
    return rc_errf(RC_ERR_ARG, es, esz, "%s has no binary log files (SHOW BINARY LOGS is empty)", s->where);
  }
  const char *what;
  if (cp && s->gtid_resume && cp->gtid[0]) {
    free(f);
    if (!s->is_mariadb)
      return rc_errf(RC_ERR_ARG, es, esz,
                     "source.gtid_resume=true, but %s is MySQL: MariaDB Connector/C's replication API cannot "
                     "send COM_BINLOG_DUMP_GTID, so rowcast resumes a MySQL source by file:pos only (the "
                     "checkpoint's %s:%llu); set source.gtid_resume=false", s->where, cp->file,
                     (unsigned long long)cp->pos);
    if (!is_maria_gtid(cp->gtid) || strlen(cp->gtid) >= gtid_size)
      return rc_errf(RC_ERR_ARG, es, esz,
                     "source.gtid_resume=true, but the checkpoint's GTID state \"%.200s\" is not a MariaDB GTID "
                     "position (domain-server-seq, comma separated)", cp->gtid);
    snprintf(gtid, gtid_size, "%s", cp->gtid);
    file[0] = 0;
    *pos = 4;
    if (!quiet)
      rc_info("resuming from the checkpoint by its GTID state %s (source.gtid_resume; the checkpoint's "
              "file position %s:%llu is not used)", gtid, cp->file, (unsigned long long)cp->pos);
    return 0;
  }
  if (cp) {
    snprintf(file, file_size, "%s", cp->file);
    *pos = cp->pos;
    what = "the checkpoint";
  } else if (!strcasecmp(start, "earliest")) {
    snprintf(file, file_size, "%s", f[0].name);
    *pos = 4;
    what = "source.start=earliest";
  } else if (!strcasecmp(start, "latest")) {
    MYSQL_RES *r;
    MYSQL_ROW row;
    rc = fetch_one_row(s, "SHOW MASTER STATUS", &r, &row, "SHOW MASTER STATUS (to find the latest position)",
                       es, esz);
    if (rc < 0) {
      free(f);
      return rc;
    }
    snprintf(file, file_size, "%s", row[0] ? row[0] : "");
    *pos = row[1] ? strtoull(row[1], NULL, 10) : 4;
    mysql_free_result(r);
    what = "source.start=latest";
  } else if (is_maria_gtid(start)) {
    free(f);
    if (!s->is_mariadb)
      return rc_errf(RC_ERR_ARG, es, esz,
                     "source.start=%s is a MariaDB GTID position but %s is not MariaDB: give "
                     "FILE:POS, earliest or latest", start, s->where);
    snprintf(gtid, gtid_size, "%s", start);
    file[0] = 0;
    *pos = 4;
    if (!quiet) rc_info("starting at the MariaDB GTID position %s (source.start)", gtid);
    return 0;
  } else if (is_mysql_gtid(start)) {
    free(f);
    return rc_errf(RC_ERR_ARG, es, esz,
                   "source.start=%s is a MySQL GTID set: MariaDB Connector/C's replication API "
                   "cannot send COM_BINLOG_DUMP_GTID, so rowcast cannot start from it; give the "
                   "FILE:POS of a transaction's first event (SHOW BINLOG EVENTS / mysqlbinlog), "
                   "earliest or latest", start);
  } else {
    const char *colon = strrchr(start, ':');
    if (!colon || colon == start || !is_digits(colon + 1, strlen(colon + 1))) {
      free(f);
      return rc_errf(RC_ERR_ARG, es, esz,
                     "source.start=%s: expected earliest, latest, FILE:POS (e.g. mysql-bin.000042:4) "
                     "or a MariaDB GTID position (e.g. 0-1-100)", start);
    }
    snprintf(file, file_size, "%.*s", (int)(colon - start), start);
    *pos = strtoull(colon + 1, NULL, 10);
    what = "source.start";
  }
  /* the file must still be on the server, and the position inside it */
  size_t i;
  for (i = 0; i < n && strcmp(f[i].name, file); i++) {
  }
  if (i == n) {
    int older = strcmp(file, f[0].name) < 0;
    rc = rc_errf(RC_ERR_ARG, es, esz,
                 "%s is at %s:%llu, but %s %s on %s (its oldest binlog is %s, the newest %s)%s: %s",
                 what, file, (unsigned long long)*pos, file,
                 older ? "has been purged and is no longer" : "is not", s->where, f[0].name, f[n - 1].name,
                 older ? "" : " (a typo, or a different server?)",
                 cp ? "remove the checkpoint file (in state.dir) to start over from source.start, "
                      "e.g. source.start=earliest; the changes in between are lost to rowcast"
                    : "start from source.start=earliest (the changes in between are lost to rowcast)");
    free(f);
    return rc;
  }
  if (*pos < 4 || (i < n - 1 && *pos > f[i].size)) {
    rc = rc_errf(RC_ERR_ARG, es, esz, "%s is at %s:%llu, outside the file (%llu bytes)", what, file,
                 (unsigned long long)*pos, (unsigned long long)f[i].size);
    free(f);
    return rc;
  }
  free(f);
  if (!quiet) {
    if (cp)
      rc_info("starting at the checkpoint %s:%llu (source.start=%s applies only without a checkpoint)",
              file, (unsigned long long)*pos, start);
    else
      rc_info("no checkpoint: starting at %s:%llu (%s)", file, (unsigned long long)*pos, what);
  }
  return 0;
}

/* ---- the dump ----------------------------------------------------------------------------- */

static int fetch_fail(rc_server *s, char *es, size_t esz) {
  unsigned e = mysql_errno(s->my);
  const char *msg = mysql_error(s->my);
  const char *at = s->file[0] ? s->file : "(GTID start)";
  s->connected = 0;
  if (e == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
    if (strstr(msg, "first log file") || strstr(msg, "purged") || strstr(msg, "find log file"))
      return rc_errf(RC_ERR_ARG, es, esz,
                     "the server cannot stream from %s:%llu: %s (error 1236): the file has been "
                     "purged (the oldest binlog is %s): start from source.start=earliest (the "
                     "changes in between are lost to rowcast), removing the checkpoint file if "
                     "there is one to start over",
                     at, (unsigned long long)s->pos, msg, s->oldest[0] ? s->oldest : "unknown");
    if (strstr(msg, "max_allowed_packet"))
      return rc_errf(RC_ERR_ARG, es, esz,
                     "the server cannot send the event at %s:%llu: %s (error 1236): raise "
                     "max_allowed_packet (and slave_max_allowed_packet) on the server",
                     at, (unsigned long long)s->pos, msg);
    if ((strstr(msg, "GTID") || strstr(msg, "gtid")) && s->dump_gtid_cp)
      return rc_errf(RC_ERR_ARG, es, esz,
                     "the server cannot stream from the checkpoint's GTID state %.2000s (source.gtid_resume): %s "
                     "(error 1236): %s does not have those transactions in its binlogs (not a server of the "
                     "topology rowcast streamed from, not caught up with it, or purged). Point source.host at a "
                     "server that has them, or remove the checkpoint (in state.dir) to start over from "
                     "source.start (the changes in between are lost to rowcast)",
                     s->dump_gtid, msg, s->where);
    if (strstr(msg, "GTID") || strstr(msg, "gtid"))
      return rc_errf(RC_ERR_ARG, es, esz,
                     "the server cannot stream from the GTID position %s: %s (error 1236): give a "
                     "position its binlogs still hold, FILE:POS, earliest or latest",
                     s->start, msg);
    return rc_errf(RC_ERR_ARG, es, esz, "the server cannot stream from %s:%llu: %s (error 1236)", at,
                   (unsigned long long)s->pos, msg);
  }
  if (e == ER_SPECIFIC_ACCESS_DENIED_ERROR || e == ER_ACCESS_DENIED_ERROR)
    return rc_server_fail(s, s->my, "starting the binlog dump", es, esz);
  if (e) return rc_errf(classify(e), es, esz, "binlog stream from %s after %s:%llu: %s (error %u)", s->where,
                        at, (unsigned long long)s->pos, msg, e);
  unsigned re = mariadb_rpl_errno(s->rpl);
  if (re)
    return rc_errf(RC_ERR_CORRUPT, es, esz,
                   "binlog stream from %s: Connector/C cannot read the event at %s:%llu: %s (error %u)",
                   s->where, at, (unsigned long long)s->pos, mariadb_rpl_error(s->rpl), re);
  return rc_errf(RC_ERR_IO, es, esz, "binlog stream from %s: the server ended the stream at %s:%llu",
                 s->where, at, (unsigned long long)s->pos);
}

/* Read one packet. 1: s->ev holds an event; < 0: error (connection marked lost). */
static int fetch(rc_server *s, char *es, size_t esz) {
  MARIADB_RPL_EVENT *e = mariadb_rpl_fetch(s->rpl, s->ev);
  if (!e) {
    s->ev = NULL; /* mariadb_rpl_fetch freed it */
    return fetch_fail(s, es, esz);
  }
  s->ev = e;
  s->last_rx_ms = rc_now_ms();
  if (e->raw_data_size < e->raw_data_ofs + RC_EVENT_HEADER_LEN ||
      rd32(e->raw_data + e->raw_data_ofs + 9) != e->raw_data_size - e->raw_data_ofs)
    return rc_errf(RC_ERR_CORRUPT, es, esz,
                   "binlog stream from %s: a packet of %zu bytes after %s:%llu does not frame one event",
                   s->where, e->raw_data_size, s->file, (unsigned long long)s->pos);
  return 1;
}

/* On the new connection s->my: check, set up the replica session and start the dump at
 * file:pos (or at the GTID position gtid when file is NULL), then fetch the first event (errors
 * of the dump, such as 1236 or missing privileges, come with it). */
static int start_dump_on(rc_server *s, const rc_checkpoint *cp, const char *start, int quiet,
                         char *es, size_t esz) {
  int rc;
  if ((rc = check_server(s, es, esz)) < 0) goto fail;
  char file[256], gtid[4096];
  uint64_t pos = 4;
  if ((rc = resolve_start(s, cp, start, file, sizeof file, &pos, gtid, sizeof gtid, quiet, es, esz)) < 0)
    goto fail;
  char sql[4300];
  if ((rc = run(s, "SET @master_binlog_checksum = @@global.binlog_checksum", "negotiating checksums", es, esz)) < 0 ||
      (rc = run(s, "SET @mariadb_slave_capability = 4", "declaring the replica's capabilities", es, esz)) < 0)
    goto fail;
  snprintf(sql, sizeof sql, "SET @master_heartbeat_period = %llu", (unsigned long long)s->heartbeat_ms * 1000000ull);
  if ((rc = run(s, sql, "setting the heartbeat period", es, esz)) < 0) goto fail;
  if (gtid[0]) {
    snprintf(sql, sizeof sql, "SET @slave_connect_state = '%s'", gtid); /* digits, '-', ',' only */
    if ((rc = run(s, sql, "setting the GTID start position", es, esz)) < 0 ||
        (rc = run(s, "SET @slave_gtid_strict_mode = 1", "setting GTID strict mode", es, esz)) < 0 ||
        (rc = run(s, "SET @slave_gtid_ignore_duplicates = 0", "setting GTID options", es, esz)) < 0)
      goto fail;
  }
  s->rpl = mariadb_rpl_init(s->my);
  if (!s->rpl) {
    rc = rc_server_fail(s, s->my, "initialising replication", es, esz);
    goto fail;
  }
  mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_SERVER_ID, (unsigned int)s->server_id);
  mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FILENAME, file, strlen(file));
  mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_START, (unsigned long)pos);
  /* blocking dump; ANNOTATE_ROWS events wanted (the SQL of row events, for those who log it) */
  mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FLAGS, (unsigned int)MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS);
  snprintf(s->dump_gtid, sizeof s->dump_gtid, "%s", gtid);
  s->dump_gtid_cp = gtid[0] && cp && s->gtid_resume && cp->gtid[0];
  snprintf(s->file, sizeof s->file, "%s", file);
  s->pos = pos;
  if (!s->started_file[0]) {
    snprintf(s->started_file, sizeof s->started_file, "%s", file);
    s->started_pos = pos;
  }
  s->file_alg = -1;
  if (mariadb_rpl_open(s->rpl)) {
    rc = rc_server_fail(s, s->my, "starting the binlog dump", es, esz);
    goto fail;
  }
  s->connected = 1;
  /* the first packet: the fake ROTATE, or the error of the dump */
  for (;;) {
    if ((rc = fetch(s, es, esz)) < 0) goto fail;
    if (s->ev->event_type != HEARTBEAT_LOG_EVENT) break;
  }
  s->pending = 1;
  s->caught_up = 0;
  return 0;
fail:
  disconnect(s);
  return rc;
}

/* Connect, then start_dump_on with the stage's signals held when the connection is encrypted
 * (see rc_server_hold_signals): a stop or drain asked for meanwhile is seen once it returns. */
static int start_dump(rc_server *s, const rc_checkpoint *cp, const char *start, int quiet,
                      char *es, size_t esz) {
  int rc;
  disconnect(s);
  s->my = rc_server_connect(s, 1, es, esz, &rc);
  if (!s->my) return rc;
  sigset_t old;
  int held = rc_server_hold_signals(s->tls_st.on, &old);
  rc = start_dump_on(s, cp, start, quiet, es, esz);
  rc_server_release_signals(&old, held);
  return rc;
}

int rc_server_open(rc_server **out, const rc_server_opts *o, const rc_checkpoint *cp, char *es,
                   size_t esz) {
  *out = NULL;
  if (!o->user || !o->user[0]) return rc_errf(RC_ERR_ARG, es, esz, "source.user is empty");
  if (o->server_id == 0)
    return rc_errf(RC_ERR_ARG, es, esz,
                   "source.server_id is not set: give rowcast a replica server id (1 to 4294967295) "
                   "that no server or replica of this topology uses");
  rc_server *s = calloc(1, sizeof *s);
  if (!s) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  s->host = xstrdup(o->host && o->host[0] ? o->host : "127.0.0.1");
  s->socket = xstrdup(o->socket && o->socket[0] ? o->socket : NULL);
  s->user = xstrdup(o->user);
  s->password = xstrdup(o->password ? o->password : "");
  s->start = xstrdup(o->start && o->start[0] ? o->start : "earliest");
  s->port = o->port ? o->port : 3306;
  s->server_id = o->server_id;
  s->gtid_resume = o->gtid_resume;
  s->heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
  s->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  s->file_alg = -1;
  s->tls = o->tls;
  s->password_fn = o->password_fn;
  s->password_arg = o->password_arg;
  s->tls_ca = xstrdup(o->tls_ca && o->tls_ca[0] ? o->tls_ca : NULL);
  s->tls_cert = xstrdup(o->tls_cert && o->tls_cert[0] ? o->tls_cert : NULL);
  s->tls_key = xstrdup(o->tls_key && o->tls_key[0] ? o->tls_key : NULL);
  if ((o->tls_ca && o->tls_ca[0] && !s->tls_ca) || (o->tls_cert && o->tls_cert[0] && !s->tls_cert) ||
      (o->tls_key && o->tls_key[0] && !s->tls_key)) {
    rc_server_close(s);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  if (!s->host || !s->user || !s->password || !s->start || (o->socket && o->socket[0] && !s->socket)) {
    rc_server_close(s);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  if (s->socket)
    snprintf(s->where, sizeof s->where, "%s", s->socket);
  else
    snprintf(s->where, sizeof s->where, "%s:%u", s->host, s->port);
  int rc = start_dump(s, cp, s->start, 0, es, esz);
  if (rc < 0) {
    rc_server_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* The name a ROTATE or HEARTBEAT carries (after `skip` bytes of its body), without the CRC. */
static void event_name(rc_server *s, const uint8_t *raw, size_t len, size_t skip, int before_fde, char *out,
                       size_t out_size) {
  int crc = before_fde || s->file_alg < 0 ? s->checksums : s->file_alg == 1;
  if (!crc && len >= RC_EVENT_HEADER_LEN + skip + 4 &&
      (uint32_t)crc32(0L, raw, (uInt)(len - 4)) == rd32(raw + len - 4))
    crc = 1; /* the stream carries a CRC after all */
  size_t n = len - RC_EVENT_HEADER_LEN - skip - (crc ? 4 : 0);
  if (len < RC_EVENT_HEADER_LEN + skip + (crc ? 4 : 0)) n = 0;
  if (n >= out_size) n = out_size - 1;
  memcpy(out, raw + RC_EVENT_HEADER_LEN + skip, n);
  out[n] = 0;
}

/* Where an event of the stream is in its file (*off), and how it moves the stream position: a
 * fake ROTATE names the file the stream continues in, the FORMAT_DESCRIPTION is at 4, an
 * artificial event is nowhere, a real ROTATE ends the file. h: the event's header. */
static int place_event(rc_server *s, const rc_event *h, uint64_t *off, char *es, size_t esz) {
  const uint8_t *r = h->raw;
  size_t n = h->raw_len;
  if (h->type == RC_EV_ROTATE && ((h->flags & RC_EVF_ARTIFICIAL) || h->ts == 0)) {
    /* fake ROTATE: names the file the stream continues in */
    if (n < RC_EVENT_HEADER_LEN + 8)
      return rc_errf(RC_ERR_CORRUPT, es, esz, "binlog stream from %s: a ROTATE of %zu bytes", s->where, n);
    event_name(s, r, n, 8, 1, s->file, sizeof s->file);
    s->pos = rd64(r + RC_EVENT_HEADER_LEN);
    s->file_alg = -1;
    snprintf(s->ret_file, sizeof s->ret_file, "%s", s->file);
    *off = s->pos;
  } else if (h->type == RC_EV_FORMAT_DESCRIPTION) {
    *off = 4; /* the first event of every v4 binlog; re-sent when the dump starts further in */
    if (s->pos <= 4) s->pos = 4 + h->size;
    s->file_alg = n >= RC_EVENT_HEADER_LEN + 57 + 5 ? r[n - 5] : 0;
  } else if (h->flags & RC_EVF_ARTIFICIAL) {
    *off = s->pos; /* made up by the server: does not advance the position */
  } else {
    /* log_pos is the end of the event (32 bits); 0 on some MariaDB events: then our count */
    if (h->log_pos == 0 || ((s->pos + h->size) & 0xFFFFFFFFull) == h->log_pos)
      *off = s->pos;
    else if (h->log_pos >= h->size)
      *off = h->log_pos - h->size;
    else
      *off = s->pos;
    s->pos = *off + h->size;
    if (h->ts) s->last_ts_us = (uint64_t)h->ts * 1000000ull;
    s->caught_up = 0;
    if (h->type == RC_EV_ROTATE && n >= RC_EVENT_HEADER_LEN + 8) {
      /* the end of a file: the stream goes on in the next one */
      event_name(s, r, n, 8, 0, s->file, sizeof s->file);
      s->pos = rd64(r + RC_EVENT_HEADER_LEN);
      s->file_alg = -1;
    }
  }
  return 0;
}

/* Does the TLS layer hold bytes of the stream that the socket no longer shows (a record read,
 * not yet handed to Connector/C)? Then a poll of the socket would wait for nothing. Known for
 * OpenSSL (Debian's Connector/C); for another TLS library, always "yes": the fetch then waits
 * in Connector/C, up to the next heartbeat. */
static int tls_pending(const rc_server *s, const MARIADB_PVIO *pv) {
  if (!pv->ctls) return 0;
  if (!s->tls_st.openssl || !pv->ctls->ssl) return 1;
  SSL *ssl = pv->ctls->ssl;
  return SSL_pending(ssl) > 0 || SSL_has_pending(ssl);
}

int rc_server_hold_signals(int tls, sigset_t *old) {
  if (!tls) return 0;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  return sigprocmask(SIG_BLOCK, &set, old) == 0;
}

void rc_server_release_signals(const sigset_t *old, int held) {
  if (held) sigprocmask(SIG_SETMASK, old, NULL);
}

int rc_server_next(rc_server *s, const uint8_t **raw, size_t *len, const char **file,
                   uint64_t *offset, int timeout_ms, char *es, size_t esz) {
  uint64_t t0 = rc_now_ms();
  if (!s->connected || !s->rpl) return rc_errf(RC_ERR_IO, es, esz, "not connected to %s", s->where);
  uint64_t dead_ms = 3ull * s->heartbeat_ms + 1000;
  for (;;) {
    if (!s->pending) {
      /* wait on the socket when Connector/C has nothing buffered (not over TLS, where the
       * TLS layer may hold decrypted bytes the socket does not show) */
      MARIADB_PVIO *pv = s->my->net.pvio;
      int buffered = !pv || (pv->cache && pv->cache + pv->cache_size > pv->cache_pos) || tls_pending(s, pv);
      if (!buffered) {
        uint64_t el = rc_now_ms() - t0;
        int wait = timeout_ms < 0 ? (int)dead_ms : (el >= (uint64_t)timeout_ms ? 0 : (int)(timeout_ms - el));
        if ((uint64_t)wait > dead_ms) wait = (int)dead_ms;
        struct pollfd pfd = {.fd = mysql_get_socket(s->my), .events = POLLIN};
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR) return 0;
        if (pr < 0) {
          s->connected = 0;
          return rc_errf(RC_ERR_IO, es, esz, "binlog stream from %s: poll: %s", s->where, strerror(errno));
        }
        if (pr == 0) {
          if (rc_now_ms() - s->last_rx_ms >= dead_ms) {
            s->connected = 0;
            return rc_errf(RC_ERR_IO, es, esz,
                           "binlog stream from %s: nothing received for %llu ms (heartbeat every %u "
                           "ms): the connection is dead",
                           s->where, (unsigned long long)(rc_now_ms() - s->last_rx_ms), s->heartbeat_ms);
          }
          if (timeout_ms >= 0 && rc_now_ms() - t0 >= (uint64_t)timeout_ms) {
            s->caught_up = 1;
            return 0;
          }
          continue;
        }
      }
      sigset_t old;
      int held = rc_server_hold_signals(s->tls_st.on, &old);
      int rc = fetch(s, es, esz);
      rc_server_release_signals(&old, held);
      if (rc < 0) return rc;
    }
    s->pending = 0;
    const uint8_t *r = s->ev->raw_data + s->ev->raw_data_ofs;
    size_t n = s->ev->raw_data_size - s->ev->raw_data_ofs;
    rc_event h; /* fetch checked that n frames one event, header included */
    rc_event_parse_header(&h, r, n, 0);
    if (h.type == RC_EV_HEARTBEAT || h.type == RC_EV_HEARTBEAT_V2) {
      if (h.type == RC_EV_HEARTBEAT) {
        event_name(s, r, n, 0, 0, s->srv_file, sizeof s->srv_file);
        s->srv_pos = h.log_pos;
      }
      s->caught_up = 1;
      if (timeout_ms >= 0 && rc_now_ms() - t0 >= (uint64_t)timeout_ms) return 0;
      continue;
    }
    snprintf(s->ret_file, sizeof s->ret_file, "%s", s->file);
    int rc = place_event(s, &h, offset, es, esz);
    if (rc < 0) return rc;
    *raw = r;
    *len = n;
    *file = s->ret_file;
    return 1;
  }
}

void rc_server_set_idle(rc_server *s, void (*fn)(void *ctx), void *ctx) {
  s->idle_fn = fn;
  s->idle_ctx = ctx;
}

static void sleep_ms(rc_server *s, unsigned ms, volatile int *stop) {
  while (ms > 0 && !(stop && *stop)) {
    unsigned step = ms > 50 ? 50 : ms;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
    nanosleep(&ts, NULL);
    ms -= step;
    if (s->idle_fn) s->idle_fn(s->idle_ctx);
  }
}

int rc_server_reconnect(rc_server *s, const char *file, uint64_t pos, unsigned max_backoff_ms,
                        volatile int *stop, char *es, size_t esz) {
  unsigned backoff = 100;
  if (max_backoff_ms < 100) max_backoff_ms = 100;
  rc_checkpoint at;
  memset(&at, 0, sizeof at);
  snprintf(at.file, sizeof at.file, "%s", file);
  at.pos = pos;
  disconnect(s);
  for (unsigned attempt = 1;; attempt++) {
    if (stop && *stop) return rc_errf(RC_ERR_IO, es, esz, "stopped while reconnecting to %s", s->where);
    int rc = start_dump(s, &at, s->start, 1, es, esz);
    if (rc == 0) {
      s->reconnects++;
      rc_info("reconnected to %s (attempt %u); streaming again from %s:%llu", s->where, attempt, file,
              (unsigned long long)pos);
      return 0;
    }
    if (rc != RC_ERR_IO) {
      rc_error("cannot resume at %s:%llu: %s", file, (unsigned long long)pos, es);
      return rc;
    }
    rc_warn("reconnect attempt %u to %s failed: %s; next attempt in %u ms", attempt, s->where, es, backoff);
    sleep_ms(s, backoff, stop);
    backoff = backoff * 2 > max_backoff_ms ? max_backoff_ms : backoff * 2;
  }
}

int rc_server_meta_full(const rc_server *s) { return s->meta_full; }

const char *rc_server_started_at(const rc_server *s, uint64_t *pos) {
  *pos = s->started_pos;
  return s->started_file;
}

void rc_server_get_status(const rc_server *s, rc_server_status *st) {
  memset(st, 0, sizeof *st);
  st->connected = s->connected;
  snprintf(st->file, sizeof st->file, "%s", s->file);
  st->pos = s->pos;
  st->reconnects = s->reconnects;
  st->last_event_ts_us = s->last_ts_us;
  if (!s->caught_up && s->last_ts_us) {
    time_t now = time(NULL);
    uint64_t ts = s->last_ts_us / 1000000ull;
    st->seconds_behind = (uint64_t)now > ts ? (uint32_t)((uint64_t)now - ts) : 0;
  }
}

void rc_server_close(rc_server *s) {
  if (!s) return;
  disconnect(s);
  if (s->meta) mysql_close(s->meta);
  free(s->host);
  free(s->socket);
  free(s->user);
  if (s->password) explicit_bzero(s->password, strlen(s->password));
  free(s->password);
  free(s->start);
  free(s->tls_ca);
  free(s->tls_cert);
  free(s->tls_key);
  free(s);
}
